//! Health: readiness checks what serving needs; the details are an operator's, and true.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use moim_api::startup::Roles;

use crate::helpers::{
    eventually, moim_output, ok, say, spawn_app, spawn_app_with, MoimChild, TestApp, User,
};

async fn details(app: &TestApp, user: &User) -> Value {
    let answer = app
        .http
        .get(format!("{}/health/details", app.address))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

#[tokio::test]
async fn ready_checks_the_database_migrations_and_nats_and_details_are_for_admins() {
    let app = spawn_app().await;
    let ready: Value = app
        .http
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], true);
    assert_eq!(ready["migrations"], true);
    assert_eq!(ready["nats"], true);

    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let refused = app
        .http
        .get(format!("{}/health/details", app.address))
        .bearer_auth(&lee.token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let nobody = app
        .http
        .get(format!("{}/health/details", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    app.run_moim(&["admin", "grant", &kim.email]).await;

    // Work for every part: messages through relay and views, an unused upload the scheduler
    // will expire tomorrow, and an event one view could not apply.
    let room = app.create_room(&kim, &[&lee]).await;
    for i in 0..3 {
        crate::helpers::say(&app, room, &kim, &format!("m{i}")).await;
    }
    let png = crate::helpers::png(4);
    ok(
        &app.upload(&kim, png, "a.png", "image/png").await,
        StatusCode::CREATED,
    );
    sqlx::query(
        "INSERT INTO projection_dead_letters (view, stream_seq, event_id, event_type, error)
         VALUES ('board', 999999, $1, 'PostCreated', 'a test')",
    )
    .bind(Uuid::now_v7())
    .execute(&app.pool)
    .await
    .unwrap();

    assert!(
        eventually(Duration::from_secs(10), || async {
            let d = details(&app, &kim).await;
            d["relay"]["events_behind"] == 0
                && d["views"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|v| v["events_behind"] == 0)
        })
        .await,
        "the relay and every view catch up: {}",
        details(&app, &kim).await
    );
    let d = details(&app, &kim).await;
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        d["roles"],
        json!({ "api": true, "relay": true, "projections": true, "scheduler": true })
    );
    assert_eq!(
        (d["database"].clone(), d["nats"].clone()),
        (json!(true), json!(true))
    );
    assert!(d["relay"]["published_through"].as_i64().unwrap() > 0);
    let views = d["views"].as_array().unwrap();
    let names: Vec<&str> = views.iter().map(|v| v["name"].as_str().unwrap()).collect();
    let registry: Vec<&str> = projections::Registry::standard()
        .views()
        .iter()
        .map(|v| v.name())
        .collect();
    assert_eq!(names, registry);
    for view in views {
        let expected = i64::from(view["name"] == "board");
        assert_eq!(view["dead_letters"], expected, "{view}");
    }
    assert_eq!(d["scheduler"]["due"], 0);
    assert!(d["scheduler"]["pending"].as_i64().unwrap() >= 1, "{d}");
}

#[tokio::test]
async fn a_process_without_the_api_serves_metrics_and_health_on_the_operations_port() {
    let api = spawn_app_with(Roles {
        api: true,
        relay: true,
        ..Roles::NONE
    })
    .await;
    // Started, it answers `/health/ready` on MOIM_OPS_BIND (the helper waits for that).
    let views = MoimChild::start_as("projections", api.sandbox_env(), &[]).await;

    // The views it runs do their work: a message sent to the API reaches the history.
    let kim = api.register("Kim").await;
    let lee = api.register("Lee").await;
    let room = api.create_room(&kim, &[&lee]).await;
    let sent = say(&api, room, &kim, "from the API").await;
    let history = api
        .get_after(&format!("/chat/rooms/{room}/messages"), &lee, &sent.token())
        .await;
    ok(&history, StatusCode::OK);
    assert_eq!(history.body["messages"][0]["body"], "from the API");

    // Its own figures, from its own recorder: this test's process recorded none of its views'.
    let get = |path: &str| api.http.get(format!("{}{path}", views.address)).send();
    let metrics = get("/metrics").await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert_eq!(
        metrics.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = metrics.text().await.unwrap();
    for series in [
        "projection_events_applied_total{view=\"chat\"}",
        "projection_standing_aside{view=\"notifications\"} 0",
        "db_pool_connections{state=\"open\"}",
    ] {
        assert!(text.contains(series), "{series} in {text}");
    }
    let ready: Value = get("/health/ready").await.unwrap().json().await.unwrap();
    assert_eq!(
        ready,
        json!({ "database": true, "migrations": true, "nats": true, "sockets_open": 0 })
    );
    assert_eq!(get("/health/live").await.unwrap().status(), StatusCode::OK);
    // Only those: the API's routes are not there.
    let me = get("/api/v1/users/me").await.unwrap();
    assert_eq!(me.status(), StatusCode::NOT_FOUND);
    let problem: Value = me.json().await.unwrap();
    assert_eq!(problem["code"], "no_route");

    // A process with the API role has those on its own port, and refuses a second one.
    let mut env = api.sandbox_env();
    env.push(("MOIM_OPS_BIND", "127.0.0.1:0".to_owned()));
    let refused = moim_output(env, &["serve", "--role", "api"]).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("MOIM_OPS_BIND is for a process without the API role"),
        "{said}"
    );
}
