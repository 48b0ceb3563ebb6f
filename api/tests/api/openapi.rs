//! The OpenAPI document: served and browsable, OpenAPI 3.1, whole (every operation answers,
//! every reference resolves, every secured operation says how a stranger is refused), and the
//! same set of routes as the router.
//!
//! The router is built with `utoipa_axum::routes!`, which adds a handler to the router and to
//! the document together; what could still make them differ is a route added some other way,
//! so the router's source is read for one, and every documented path is asked with every method:
//! the documented ones must be routed, the others must be 405.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{refs_in, spawn_app};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The paths served beside the routes: the document itself and its UI.
const DOCUMENT_ROUTES: [&str; 2] = ["/api/v1/openapi.json", "/docs"];

/// A value for each `{param}` of `path` that the router can route (the handler may then refuse
/// it, which is fine: only 405 and `no_route` mean "not routed").
fn concrete(path: &str, operation: &Value) -> String {
    let mut path = path.to_owned();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] != "path" {
            continue;
        }
        let name = parameter["name"].as_str().expect("name");
        let value = match (
            parameter["schema"]["type"].as_str(),
            parameter["schema"]["format"].as_str(),
        ) {
            (_, Some("uuid")) => "00000000-0000-0000-0000-000000000000",
            (Some("integer"), _) => "1",
            _ => "x",
        };
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(
        !path.contains('{'),
        "{path}: a path parameter is not documented"
    );
    path
}

fn routed(status: StatusCode, body: &str) -> bool {
    status != StatusCode::METHOD_NOT_ALLOWED
        && !(status == StatusCode::NOT_FOUND && body.contains("\"no_route\""))
}

#[tokio::test]
async fn the_document_and_the_router_name_the_same_routes() {
    let source = include_str!("../../src/routes/mod.rs");
    for bypass in [".route(", ".route_service(", ".nest_service("] {
        assert!(
            !source.contains(bypass),
            "routes/mod.rs adds a route with `{bypass}`: use `.routes(routes!(..))` so the \
             document has it too"
        );
    }

    let app = spawn_app().await;
    let doc = app.json_at("/api/v1/openapi.json").await;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 50, "{} paths", paths.len());
    for (path, item) in paths {
        let documented: BTreeSet<&str> = METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect();
        assert!(!documented.is_empty(), "{path} has no operation");
        let first = &item[*documented.first().expect("one")];
        let url = format!("{}{}", app.address, concrete(path, first));
        for method in METHODS {
            let response = app
                .http
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                    &url,
                )
                .send()
                .await
                .expect("request");
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if documented.contains(method) {
                assert!(
                    routed(status, &body),
                    "{method} {path} is documented but not routed: {status} {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is routed but not documented: {body}"
                );
            }
        }
    }
    for path in DOCUMENT_ROUTES {
        assert!(!paths.contains_key(path), "{path} documents itself");
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_whole() {
    let app = spawn_app().await;
    let doc = app.json_at("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");

    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let at = format!("{method} {path}");
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "{at}: operationId {id} twice");
            assert!(operation["tags"][0].is_string(), "{at} has no tag");
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3') || s == "101"),
                "{at} has no success answer"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"]["schema"]["$ref"]
                            == "#/components/schemas/Problem",
                        "{at} {status} is not a problem+json Problem"
                    );
                }
            }
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            if secured {
                assert!(
                    responses.contains_key("401"),
                    "{at} is secured without a 401"
                );
            }
        }
    }

    let references = refs_in(&doc);
    for reference in references {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{reference} is not a schema reference"));
        assert!(schemas.contains_key(name), "{reference} names no schema");
    }
}

#[tokio::test]
async fn the_documents_can_be_browsed() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .expect("docs");
    assert_eq!(response.status(), StatusCode::OK);
    // A browser may run the page's own scripts and styles and fetch the document; the API's
    // answers keep refusing everything.
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let page = response.text().await.expect("page");
    assert!(page.contains("swagger"), "{page}");
    let config = app
        .http
        .get(format!("{}/docs/swagger-initializer.js", app.address))
        .send()
        .await
        .expect("initializer");
    assert_eq!(config.status(), StatusCode::OK);
    let api = app
        .http
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .expect("live");
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}
