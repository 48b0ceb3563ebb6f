//! Games: places, the waitlist in order, promotion — under 100 concurrent joins.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use domain::game::Game;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, User};

async fn create_game(app: &TestApp, host: &User, max: u32) -> Uuid {
    let answer = app
        .post("/games", host, json!({ "title": "Sunday doubles", "starts_at": crate::helpers::next_week(), "max_participants": max }))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer.body["game_id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_joins_fill_ten_places_and_queue_ninety_in_order() {
    let app = Arc::new(spawn_app().await);
    let host = app.register("Host").await;
    let game = create_game(&app, &host, 10).await;
    let mut players = Vec::new();
    for i in 0..100 {
        players.push(app.register(&format!("P{i}")).await);
    }
    let barrier = Arc::new(Barrier::new(players.len()));
    let mut tasks = Vec::new();
    for player in players.clone() {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let answer = app
                .post(&format!("/games/{game}/join"), &player, json!({}))
                .await;
            (player.id, answer)
        }));
    }
    let (mut joined, mut positions, mut token) = (BTreeSet::new(), Vec::new(), String::new());
    for task in tasks {
        let (id, answer) = task.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        token = token.max(answer.token());
        match answer.body["status"].as_str().unwrap() {
            "joined" => assert!(joined.insert(id)),
            "waitlisted" => positions.push((answer.body["position"].as_u64().unwrap(), id)),
            other => panic!("{other}"),
        }
    }
    positions.sort();
    assert_eq!(joined.len(), 10);
    assert_eq!(
        positions.iter().map(|p| p.0).collect::<Vec<_>>(),
        (1..=90).collect::<Vec<_>>()
    );

    // The aggregate agrees…
    let commands = commands::Commands::new(app.pool.clone());
    let aggregate = commands
        .store()
        .load::<Game>(&game.to_string())
        .await
        .unwrap()
        .aggregate;
    assert_eq!(
        aggregate
            .participants()
            .iter()
            .copied()
            .collect::<BTreeSet<_>>(),
        joined
    );
    assert_eq!(
        aggregate.waitlist(),
        positions.iter().map(|p| p.1).collect::<Vec<_>>().as_slice()
    );
    // …and so does the read model.
    let view = app
        .get_after(&format!("/games/{game}"), &host, &token)
        .await;
    let ids = |v: &serde_json::Value| -> Vec<Uuid> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(ids(&view.body["participants"]), aggregate.participants());
    assert_eq!(ids(&view.body["waitlist"]), aggregate.waitlist());
}

#[tokio::test]
async fn leaving_promotes_the_first_in_line_and_joining_twice_changes_nothing() {
    let app = spawn_app().await;
    let host = app.register("Host").await;
    let game = create_game(&app, &host, 1).await;
    let (a, b, c) = (
        app.register("A").await,
        app.register("B").await,
        app.register("C").await,
    );
    let mut b_ws = app.ws(&b).await;
    let path = format!("/games/{game}/join");
    async fn join(app: &TestApp, path: &str, u: &User) -> crate::helpers::Answer {
        app.post(path, u, json!({})).await
    }
    assert_eq!(join(&app, &path, &a).await.body["status"], "joined");
    let b_join = join(&app, &path, &b).await;
    assert_eq!(
        (
            b_join.body["status"].clone(),
            b_join.body["position"].clone()
        ),
        (json!("waitlisted"), json!(1))
    );
    assert_eq!(join(&app, &path, &c).await.body["position"], 2);
    let again = join(&app, &path, &c).await;
    assert_eq!(
        (again.body["status"].clone(), again.body["position"].clone()),
        (json!("waitlisted"), json!(2))
    );
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM events WHERE aggregate_id = $1")
        .bind(game.to_string())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 4, "created + 3 joins; the repeat wrote nothing");
    assert_eq!(
        b_ws.next_of("game.waitlisted", Duration::from_secs(10))
            .await
            .expect("waitlisted")["data"]["position"],
        1
    );

    let left = app
        .request(Method::DELETE, &path, Some(&a.token), None, None)
        .await;
    assert_eq!(left.status, StatusCode::OK);
    let promoted = b_ws
        .next_of("game.promoted", Duration::from_secs(10))
        .await
        .expect("promoted");
    assert_eq!(promoted["data"]["game_id"], game.to_string());
    let view = app
        .get_after(&format!("/games/{game}"), &host, &left.token())
        .await;
    assert_eq!(view.body["participants"], json!([b.id]));
    assert_eq!(view.body["waitlist"], json!([c.id]));

    let not_in = app
        .request(Method::DELETE, &path, Some(&a.token), None, None)
        .await;
    assert_eq!(not_in.status, StatusCode::NOT_FOUND);
    assert_eq!(not_in.body["code"], "not_joined");
    let feed = app.get_after("/notifications", &b, &left.token()).await;
    let kinds: Vec<_> = feed.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![json!("game.promoted")],
        "being waitlisted is the user's own doing: kept for a resume, not in the feed"
    );
}
