//! Traces across NATS: one chat send, run by a `moim serve` exporting OTLP/HTTP to a small
//! receiver in this test, yields spans from the API, the relay, the chat view and the notifier
//! in one trace, each parented on the one before it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{eventually, MoimChild, Sandbox};

#[derive(Debug, Clone)]
struct Span {
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    name: String,
    view: Option<String>,
}

type Received = Arc<Mutex<Vec<Span>>>;

async fn receive(State(received): State<Received>, body: Bytes) -> StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut spans = received.lock().unwrap();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                let view = span
                    .attributes
                    .iter()
                    .find(|a| a.key == "view")
                    .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                        Any::StringValue(s) => Some(s.clone()),
                        _ => None,
                    });
                spans.push(Span {
                    trace: span.trace_id,
                    id: span.span_id,
                    parent: span.parent_span_id,
                    name: span.name,
                    view,
                });
            }
        }
    }
    StatusCode::OK
}

/// Whether `spans` hold the send's trace: its request span (with the command's span under it),
/// a relay span under the request, and the chat view's and the notifier's spans under that.
fn one_trace(spans: &[Span]) -> bool {
    spans
        .iter()
        .filter(|s| s.name == "relay.publish")
        .any(|relay| {
            let in_trace = |s: &&Span| s.trace == relay.trace;
            let api = spans
                .iter()
                .filter(in_trace)
                .find(|s| s.name == "request" && s.id == relay.parent);
            let send = api.is_some_and(|request| {
                spans
                    .iter()
                    .filter(in_trace)
                    .any(|s| s.name == "send_message" && s.parent == request.id)
            });
            let view = |name: &str| {
                spans.iter().filter(in_trace).any(|s| {
                    s.name == "view.apply"
                        && s.view.as_deref() == Some(name)
                        && s.parent == relay.id
                })
            };
            send && view("chat") && view("notifications")
        })
}

#[tokio::test]
async fn a_chat_send_is_one_trace_from_the_handler_through_the_relay_to_the_views() {
    let received: Received = Arc::default();
    let receiver = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let sandbox = Sandbox::new().await;
    let moim = MoimChild::start(
        sandbox.env(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let (_, token) = moim.register("Kim", "correct horse").await;
    let (lee, _) = moim.register("Lee", "correct horse").await;
    let http = reqwest::Client::new();
    let room: serde_json::Value = http
        .post(moim.api("/chat/rooms"))
        .bearer_auth(&token)
        .json(&json!({ "name": "traced", "kind": "group", "member_ids": [lee] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["room_id"].as_str().unwrap().to_owned();
    let sent = http
        .post(moim.api(&format!("/chat/rooms/{room}/messages")))
        .bearer_auth(&token)
        .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "추적" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    assert!(
        eventually(Duration::from_secs(20), || async {
            one_trace(&received.lock().unwrap())
        })
        .await,
        "spans received: {:?}",
        received
            .lock()
            .unwrap()
            .iter()
            .map(|s| (&s.name, &s.view))
            .collect::<Vec<_>>()
    );
}
