//! Deleting an account: sign-in impossible, sessions ended, the e-mail free again, and the
//! user's personal data gone from every table — read models rebuilt by `moim replay --all`
//! included, and unreadable in the event store (crypto-shredding) — while everyone else's data
//! and the messages the user sent stay.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{eventually, ok, say, spawn_app};

/// Every text-like column of every table, with how many rows mention `needle`.
async fn mentions(pool: &PgPool, needle: &str) -> Vec<(String, String, i64)> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = 'public'
           AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for (table, column) in columns {
        let (count,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM \"{table}\" WHERE \"{column}\"::text ILIKE '%' || $1 || '%'"
        ))
        .bind(needle)
        .fetch_one(pool)
        .await
        .unwrap();
        if count > 0 {
            found.push((table, column, count));
        }
    }
    found
}

#[tokio::test]
async fn a_deleted_account_is_erased_everywhere_and_stays_erased_after_a_replay() {
    let app = spawn_app().await;
    let name = format!("Zelda{}", &Uuid::new_v4().simple().to_string()[..8]);
    let bio = format!("bio-{}", Uuid::new_v4().simple());
    let zelda = app.register(&name).await;
    let lee = app.register("Lee").await;
    ok(
        &app.patch(
            "/users/me",
            &zelda,
            json!({ "bio": bio, "birthday": "1999-09-09" }),
        )
        .await,
        StatusCode::OK,
    );
    let room = app.create_room(&zelda, &[&lee]).await;
    ok(
        &say(&app, room, &zelda, "see you on Saturday").await,
        StatusCode::CREATED,
    );
    ok(&say(&app, room, &lee, "see you").await, StatusCode::CREATED);
    let phone = app.login(&zelda).await;
    // A failed login is counted under the e-mail.
    let wrong = app.try_login(&zelda.email, "wrong password").await;
    ok(&wrong, StatusCode::UNAUTHORIZED);
    // Before: the name is in the read models and the e-mail in the credentials, never in plain
    // text in an event.
    let events_with_name: (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE payload::text ILIKE '%' || $1 || '%'")
            .bind(&name)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let leaks: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT aggregate_type, event_type, payload::text FROM events WHERE payload::text ILIKE '%' || $1 || '%'",
    )
    .bind(&name)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        events_with_name.0, 0,
        "the name is sealed in the events: {leaks:?}"
    );

    let refused = app
        .request(
            Method::DELETE,
            "/users/me",
            Some(&zelda.token),
            Some(json!({ "password": "not my password" })),
            None,
        )
        .await;
    ok(&refused, StatusCode::FORBIDDEN);
    let deleted = app
        .request(
            Method::DELETE,
            "/users/me",
            Some(&zelda.token),
            Some(json!({ "password": "correct horse" })),
            None,
        )
        .await;
    ok(&deleted, StatusCode::NO_CONTENT);

    // Signed out everywhere, and no way back in.
    for token in [&zelda.token, &phone.token] {
        let refused = eventually(Duration::from_secs(5), || async {
            let me = app
                .request(Method::GET, "/users/me", Some(token), None, None)
                .await;
            me.status == StatusCode::UNAUTHORIZED && me.body["code"] == "session_revoked"
        })
        .await;
        assert!(refused, "every session of hers ends");
    }
    let login = app.try_login(&zelda.email, "correct horse").await;
    ok(&login, StatusCode::UNAUTHORIZED);

    // Rebuilt from the events alone, the read models know nothing personal of her.
    let last_seen = app.get("/chat/rooms", &lee).await;
    ok(&last_seen, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.run_moim(&["replay", "--all"]).await;
    for needle in [zelda.email.to_lowercase(), name.clone(), bio.clone()] {
        let found = mentions(&app.pool, &needle).await;
        assert!(found.is_empty(), "{needle} is still in {found:?}");
    }

    // Everyone else's data is intact; her messages stay, from a deleted user.
    let shown = app.get(&format!("/chat/rooms/{room}"), &lee).await;
    ok(&shown, StatusCode::OK);
    let members = shown.body["members"].as_array().unwrap();
    let her = members
        .iter()
        .find(|m| m["user_id"] == zelda.id.to_string())
        .expect("still listed");
    assert_eq!(her["display_name"], "deleted user");
    let lee_shown = members
        .iter()
        .find(|m| m["user_id"] == lee.id.to_string())
        .unwrap();
    assert_eq!(lee_shown["display_name"], "Lee");
    let history = app.get(&format!("/chat/rooms/{room}/messages"), &lee).await;
    let bodies: Vec<&str> = history.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(bodies.contains(&"see you on Saturday"), "{bodies:?}");
    let profile = app.get(&format!("/users/{}", zelda.id), &lee).await;
    assert_eq!(profile.body["display_name"], "deleted user");
    assert!(profile.body["bio"].is_null());

    // The e-mail is free again.
    let again = app
        .request(
            Method::POST,
            "/auth/register",
            None,
            Some(
                json!({ "email": zelda.email, "password": "correct horse", "display_name": "New" }),
            ),
            None,
        )
        .await;
    ok(&again, StatusCode::CREATED);
    assert_ne!(again.body["user_id"], zelda.id.to_string());
}
