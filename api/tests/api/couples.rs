//! Couple matching, including the races the invariants must survive.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Barrier;

use crate::helpers::{spawn_app, TestApp, User};

async fn invite(app: &TestApp, user: &User) -> String {
    let answer = app.post("/couples/invites", user, json!({})).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    assert!(answer.body["expires_at"].is_string());
    answer.body["code"].as_str().unwrap().to_owned()
}

async fn couples_in_store(app: &TestApp) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE event_type = 'InviteRedeemed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    n
}

#[tokio::test]
async fn an_invite_makes_a_couple_and_both_hear_of_it() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let mut kim_ws = app.ws(&kim).await;
    let mut lee_ws = app.ws(&lee).await;
    let code = invite(&app, &kim).await;

    let mine = app.get("/couples/me", &kim).await;
    assert_eq!(mine.status, StatusCode::NOT_FOUND);
    assert_eq!(mine.body["code"], "couple_not_found");

    let matched = app
        .post(
            "/couples/match",
            &lee,
            json!({ "code": code.to_lowercase() }),
        )
        .await;
    assert_eq!(matched.status, StatusCode::CREATED, "{:?}", matched.body);
    assert_eq!(matched.body["partner_id"], kim.id.to_string());
    let couple_id = matched.body["couple_id"].clone();

    for (ws, partner) in [(&mut kim_ws, &lee), (&mut lee_ws, &kim)] {
        let frame = ws
            .next_of("couple.matched", Duration::from_secs(10))
            .await
            .expect("couple.matched");
        assert_eq!(frame["data"]["couple_id"], couple_id);
        assert_eq!(frame["data"]["partner_id"], partner.id.to_string());
    }
    let token = matched.token();
    let kim_side = app.get_after("/couples/me", &kim, &token).await;
    assert_eq!(kim_side.body["partner"]["user_id"], lee.id.to_string());
    assert_eq!(kim_side.body["partner"]["display_name"], "Lee");
    assert_eq!(kim_side.body["d_day"], 1);
    assert_eq!(kim_side.body["room_id"], matched.body["room_id"]);
    let invites = app.get_after("/couples/invites", &kim, &token).await;
    assert_eq!(invites.body["open_invites"], json!([]));
    let lee_side = app.get_after("/couples/me", &lee, &token).await;
    assert_eq!(lee_side.body["couple_id"], couple_id);
    let feed = app.get_after("/notifications", &lee, &token).await;
    assert_eq!(feed.body["notifications"][0]["kind"], "couple.matched");
}

#[tokio::test]
async fn a_code_works_once_and_not_for_its_owner() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let code = invite(&app, &kim).await;
    let own = app
        .post("/couples/match", &kim, json!({ "code": code }))
        .await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(own.body["code"], "self_match");
    assert_eq!(
        app.post("/couples/match", &lee, json!({ "code": code }))
            .await
            .status,
        StatusCode::CREATED
    );
    let again = app
        .post("/couples/match", &park, json!({ "code": code }))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "invite_used");
    let coupled = app.post("/couples/invites", &lee, json!({})).await;
    assert_eq!(coupled.status, StatusCode::CONFLICT);
    assert_eq!(coupled.body["code"], "already_coupled");
    assert_eq!(couples_in_store(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_users_racing_for_one_code_make_exactly_one_couple() {
    let app = Arc::new(spawn_app().await);
    for round in 0..5 {
        let kim = app.register("Kim").await;
        let code = invite(&app, &kim).await;
        let racers = [
            app.register("Lee").await,
            app.register("Park").await,
            app.register("Choi").await,
        ];
        let barrier = Arc::new(Barrier::new(racers.len()));
        let mut tasks = Vec::new();
        for racer in racers {
            let (app, barrier, code) = (app.clone(), barrier.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.post("/couples/match", &racer, json!({ "code": code }))
                    .await
                    .status
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        let won = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        assert_eq!(won, 1, "round {round}: {statuses:?}");
        assert!(statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT));
        assert_eq!(couples_in_store(&app).await, round + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_user_redeeming_two_codes_at_once_makes_at_most_one_couple() {
    let app = Arc::new(spawn_app().await);
    for round in 0..5 {
        let inviters = [app.register("Kim").await, app.register("Lee").await];
        let mut codes = Vec::new();
        for inviter in &inviters {
            codes.push(invite(&app, inviter).await);
        }
        let park = app.register("Park").await;
        let barrier = Arc::new(Barrier::new(codes.len()));
        let mut tasks = Vec::new();
        for code in codes {
            let (app, barrier, park) = (app.clone(), barrier.clone(), park.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.post("/couples/match", &park, json!({ "code": code }))
                    .await
            }));
        }
        let mut won = 0;
        for task in tasks {
            let answer = task.await.unwrap();
            match answer.status {
                StatusCode::CREATED => won += 1,
                StatusCode::CONFLICT => assert_eq!(answer.body["code"], "already_coupled"),
                other => panic!("round {round}: unexpected {other}: {:?}", answer.body),
            }
        }
        assert_eq!(won, 1, "round {round}");
        let (park_couples,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM events WHERE event_type = 'UserCoupled' AND aggregate_id = $1",
        )
        .bind(park.id.to_string())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(park_couples, 1);
    }
}
