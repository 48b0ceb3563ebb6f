//! The OpenAPI 3.1 document of the HTTP API, made from the code so that it cannot drift from it:
//! every route is registered through `utoipa_axum::routes!`, which adds a handler to the router
//! and its `#[utoipa::path]` to the document at once, and every body is the `ToSchema` of the
//! type the handler reads or answers with. Served at `/api/v1/openapi.json` and browsable at
//! `/docs`.
//!
//! What every route shares — the bearer scheme, the problem+json answers that the extractors
//! and the request limits give on any route, the consistency header — is written once here,
//! in [`Conventions`], after the routes have added their operations.

use axum::http::{header, HeaderValue};
use axum::routing::get;
use bytes::Bytes;
use std::collections::BTreeMap;
use tower_http::set_header::SetResponseHeaderLayer;

use projections::frames::Problem;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, ObjectBuilder, OpenApi, Ref, RefOr, Required, Response, ResponseBuilder, Type,
};
use utoipa::{IntoParams, OpenApi as _};
use utoipa_swagger_ui::SwaggerUi;

use crate::extract::{Consistency, CONSISTENCY_HEADER};

/// The name of the bearer scheme operations name in `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where it can be browsed.
pub const UI_PATH: &str = "/docs";

/// The document's fixed parts; the operations come from the router (`routes::router`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Moim",
        description = "One event-sourced backend for community apps: couples, clubs, chat, \
            boards. Every error is RFC 9457 `application/problem+json` with a stable `code`. \
            A command's answer carries a `consistency_token` (also the `X-Moim-Consistency` \
            header); sending it back on a query makes the query reflect the command.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "oauth", description = "Sign-in with Kakao, Naver and others"),
        (name = "users", description = "Profiles, blocks and game characters"),
        (name = "admin", description = "Platform administration"),
        (name = "chat", description = "Rooms, members, messages and read pointers"),
        (name = "couples", description = "Invites, matching, anniversaries, calendar and plans"),
        (name = "clubs", description = "Clubs, members, requests and Naver Band"),
        (name = "games", description = "Games, waitlists, courts and scores"),
        (name = "board", description = "Posts, pins, likes and comments"),
        (name = "notifications", description = "The caller's notifications"),
        (name = "media", description = "Photos"),
        (name = "live", description = "The WebSocket"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// The fixed parts, for the router to add its operations to.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// The routes serving the documents: this one, its UI, and the AsyncAPI document.
pub fn documents<S: Clone + Send + Sync + 'static>(document: OpenApi) -> axum::Router<S> {
    // Made once: it depends on nothing but the code.
    let asyncapi = Bytes::from(crate::asyncapi::document().to_string());
    // Swagger UI is a page: it loads its own scripts and styles (with inline styles) and
    // fetches the document, which the API's `default-src 'none'` would all refuse.
    let ui = axum::Router::new()
        .merge(SwaggerUi::new(UI_PATH).url(DOCUMENT_PATH, document))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 frame-ancestors 'none'",
            ),
        ));
    ui.route(
        crate::asyncapi::DOCUMENT_PATH,
        get(move || {
            let body = asyncapi.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

/// Writes what every operation shares into `document`, once every route is in it.
pub fn finish(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BEARER.to_owned(),
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    for item in document.paths.paths.values_mut() {
        for (operation, changes) in operations(item) {
            Conventions::apply(operation, changes);
        }
    }
}

/// A path's operations, each with whether it changes something (and so is a command).
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (&mut Operation, bool)> {
    [
        (item.get.as_mut(), false),
        (item.put.as_mut(), true),
        (item.post.as_mut(), true),
        (item.delete.as_mut(), true),
        (item.patch.as_mut(), true),
    ]
    .into_iter()
    .filter_map(|(operation, changes)| operation.map(|o| (o, changes)))
}

/// The answers any route may give whatever its handler does, and the media type of problems.
struct Conventions;

impl Conventions {
    fn apply(operation: &mut Operation, changes: bool) {
        let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
        let has_body = operation.request_body.is_some();
        let json_body = operation
            .request_body
            .as_ref()
            .is_some_and(|b| b.content.contains_key("application/json"));
        let has_path_params = operation
            .parameters
            .iter()
            .flatten()
            .any(|p| matches!(p.parameter_in, ParameterIn::Path));
        let responses = &mut operation.responses.responses;
        for response in responses.values_mut() {
            problem_media_type(response);
        }
        let mut shared: BTreeMap<&str, &str> = BTreeMap::new();
        shared.insert(
            "400",
            "`bad_path`, `bad_query`, `bad_consistency_token`, `invalid_consistency_token`, \
             `malformed_json`, `bad_body`: the request could not be read",
        );
        shared.insert(
            "408",
            "`request_timeout`: the request took too long to arrive",
        );
        shared.insert(
            "503",
            "`overloaded`, `contention`, `query_timeout`, `not_caught_up`, `database_busy`: try \
             again after `Retry-After`",
        );
        if secured {
            shared.insert(
                "401",
                "`missing_token`, `bad_token`, `token_expired`, `session_revoked`: sign in \
                 again (or refresh)",
            );
            shared.insert(
                "403",
                "`account_suspended`: the caller is suspended (`until`)",
            );
            if changes {
                shared.insert("429", "`rate_limited`: the caller's commands per minute");
            }
        }
        if has_path_params {
            // A value that is not one segment (say, with a `/`) makes it another path.
            shared.insert("404", "`no_route`: no such endpoint");
        }
        if has_body {
            shared.insert("413", "`body_too_large`: the body is over the limit");
        }
        if json_body {
            shared.insert(
                "415",
                "`json_expected`: send `Content-Type: application/json`",
            );
            shared.insert(
                "422",
                "`invalid_body`: a field is missing or of the wrong type",
            );
        }
        for (status, description) in shared {
            match responses.get_mut(status) {
                Some(RefOr::T(response)) if !response.description.contains(description) => {
                    response.description = format!("{}; {description}", response.description);
                }
                Some(_) => {}
                None => {
                    responses.insert(status.to_owned(), RefOr::T(problem(description)));
                }
            }
        }
    }
}

/// A problem answer described by `description`.
fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}

/// A response whose body is a `Problem` is `application/problem+json`, however it was written.
fn problem_media_type(response: &mut RefOr<Response>) {
    let RefOr::T(response) = response else { return };
    let Some(content) = response.content.shift_remove("application/json") else {
        return;
    };
    let is_problem =
        matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
    let media = if is_problem {
        "application/problem+json"
    } else {
        "application/json"
    };
    response.content.insert(media.to_owned(), content);
}

impl IntoParams for Consistency {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![ParameterBuilder::new()
            .name(CONSISTENCY_HEADER)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "A command's consistency token: the answer waits until it reflects that command.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[0-9]+\.[0-9]+$")),
            ))
            .build()]
    }
}
