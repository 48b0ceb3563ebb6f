//! `GET /metrics`: Prometheus text from the `metrics` facade, with requests counted by route
//! template and every label bounded — a scrape after heavy use names no user, room or message.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{eventually, ok, say, spawn_app};

/// Most series a scrape may hold, whatever the traffic (each route template with its statuses
/// and latency buckets, each event type, each view).
const MAX_SERIES: usize = 5000;

fn has_uuid(line: &str) -> bool {
    line.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .any(|word| uuid::Uuid::parse_str(word).is_ok())
}

#[tokio::test]
async fn a_scrape_after_heavy_use_has_bounded_series_and_no_ids() {
    let app = spawn_app().await;
    let owner = app.register("Owner").await;
    let mut rooms = Vec::new();
    for n in 0..10 {
        let member = app.register(&format!("M{n}")).await;
        let room = app.create_room(&owner, &[&member]).await;
        ok(&say(&app, room, &member, "안녕").await, StatusCode::CREATED);
        rooms.push(room);
    }
    for room in &rooms {
        ok(
            &app.get(&format!("/chat/rooms/{room}/messages"), &owner)
                .await,
            StatusCode::OK,
        );
        ok(
            &app.get(&format!("/chat/rooms/{}", uuid::Uuid::now_v7()), &owner)
                .await,
            StatusCode::NOT_FOUND,
        );
    }
    ok(
        &app.post("/users/me/blocks/not-an-id", &owner, json!({}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    let _socket = app.ws(&owner).await;

    let scrape = || async {
        let answer = app
            .http
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        answer.text().await.unwrap()
    };
    // The chat view applies what was sent (its counter is per batch, after the commit).
    assert!(
        eventually(Duration::from_secs(10), || async {
            scrape()
                .await
                .contains("projection_events_applied_total{view=\"chat\"}")
        })
        .await
    );
    let text = scrape().await;
    for expected in [
        r#"route="/api/v1/chat/rooms/{room_id}/messages""#,
        r#"route="/api/v1/chat/rooms/{room_id}",status="404""#,
        "http_request_duration_seconds_bucket",
        r#"events_appended_total{aggregate="chat_room",event="MessageSent"}"#,
        "projection_batch_size",
        r#"commands_total{aggregate="chat_room",outcome="ok"}"#,
        "relay_events_published_total",
        r#"projection_lag_seconds{view="chat"}"#,
        "sockets_open",
        r#"db_pool_connections{state="open"}"#,
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let series: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .collect();
    assert!(series.len() < MAX_SERIES, "{} series", series.len());
    let with_ids: Vec<&&str> = series.iter().filter(|line| has_uuid(line)).collect();
    assert!(with_ids.is_empty(), "labels name things: {with_ids:?}");
}

/// The metric names a PromQL expression reads: what is left once label matchers, ranges,
/// `by (...)` groupings, functions and numbers are taken out.
fn metrics_in(expr: &str) -> Vec<String> {
    const FUNCTIONS: &[&str] = &[
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "rate",
        "irate",
        "increase",
        "histogram_quantile",
        "by",
        "without",
    ];
    let mut text = String::new();
    let mut depth = 0;
    for c in expr.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    // Drop `by (...)` groupings: their contents are label names.
    while let Some(at) = text.find("by (") {
        let end = text[at..].find(')').map_or(text.len(), |e| at + e + 1);
        text.replace_range(at..end, " ");
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty() && !t.starts_with(|c: char| c.is_ascii_digit()))
        .filter(|t| !FUNCTIONS.contains(t))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_metric_the_dashboard_asks_for_is_one_moim_exports() {
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../../deploy/grafana/dashboards/moim.json")).unwrap();
    let mut wanted = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            wanted.extend(metrics_in(target["expr"].as_str().unwrap()));
        }
    }
    assert!(wanted.len() >= 8, "{wanted:?}");

    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut socket = app.ws(&lee).await;
    ok(&say(&app, room, &kim, "안녕").await, StatusCode::CREATED);
    socket.next_of("message.sent", Duration::from_secs(5)).await;
    let exported = || async {
        app.metrics()
            .await
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next().map(str::to_owned))
            .collect::<std::collections::BTreeSet<String>>()
    };
    assert!(
        eventually(Duration::from_secs(10), || async {
            wanted.is_subset(&exported().await)
        })
        .await,
        "not exported: {:?}",
        wanted.difference(&exported().await).collect::<Vec<_>>()
    );
}
