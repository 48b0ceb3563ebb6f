//! Read models built live equal the same read models rebuilt by replay.

use std::time::Duration;

use projections::Registry;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{ok, say, spawn_app, spawn_app_with_registry, view_reached, Answer};

async fn dump(pool: &PgPool) -> Vec<projections::fingerprint::TableFingerprint> {
    projections::fingerprint::all(pool, &Registry::standard())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replaying_every_view_rebuilds_what_was_built_live() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let room = app.create_room(&kim, &[&lee, &park]).await;
    for i in 0..15 {
        let sender = [&kim, &lee, &park][i % 3];
        let answer = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                sender,
                json!({ "client_msg_id": Uuid::now_v7(), "body": format!("m{i}") }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    // Everything a room goes through: renames, joins, roles, reads, edits, tombstones, kicks.
    let choi = app.register("Choi").await;
    let path = |rest: &str| format!("/chat/rooms/{room}{rest}");
    for (answer, what) in [
        (
            app.patch(&path(""), &kim, json!({ "name": "club" })).await,
            "rename",
        ),
        (
            app.post(&path("/members"), &kim, json!({ "user_ids": [choi.id] }))
                .await,
            "add",
        ),
        (
            app.patch(
                &path(&format!("/members/{}", lee.id)),
                &kim,
                json!({ "role": "admin" }),
            )
            .await,
            "role",
        ),
        (
            app.post(&path("/read"), &lee, json!({ "seq": 10 })).await,
            "read",
        ),
        (
            app.patch(&path("/messages/1"), &kim, json!({ "body": "m0, edited" }))
                .await,
            "edit",
        ),
        (app.delete(&path("/messages/2"), &lee).await, "delete"),
        (
            app.delete(&path(&format!("/members/{}", park.id)), &lee)
                .await,
            "kick",
        ),
        (
            app.delete(&path(&format!("/members/{}", kim.id)), &kim)
                .await,
            "leave",
        ),
    ] {
        assert_eq!(answer.status, StatusCode::OK, "{what}: {:?}", answer.body);
    }
    // Messages after system ones: a replay writes them as a run of their own, whose running
    // counts start from the count the room had.
    for body in ["m15", "m16"] {
        let sent = app
            .post(
                &path("/messages"),
                &lee,
                json!({ "client_msg_id": Uuid::now_v7(), "body": body }),
            )
            .await;
        ok(&sent, StatusCode::CREATED);
    }
    let public = app
        .post(
            "/chat/rooms",
            &park,
            json!({ "name": "모임", "kind": "public" }),
        )
        .await
        .body["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let joined = app
        .post(&format!("/chat/rooms/{public}/join"), &choi, json!({}))
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{:?}", joined.body);
    let code = app.post("/couples/invites", &kim, json!({})).await.body["code"].clone();
    assert_eq!(
        app.post("/couples/match", &lee, json!({ "code": code }))
            .await
            .status,
        StatusCode::CREATED
    );
    // A couple's life: a birthday, a date of their own, plans made, moved and deleted (one
    // reminder pending), and a second couple that unmatches (its room archived).
    for (method, path, user, body) in [
        (
            Method::PATCH,
            "/users/me".to_owned(),
            &lee,
            json!({ "birthday": "1999-03-01" }),
        ),
        (
            Method::PATCH,
            "/couples/me".to_owned(),
            &kim,
            json!({ "started_on": "2026-01-01" }),
        ),
        (
            Method::POST,
            "/couples/me/anniversaries".to_owned(),
            &kim,
            json!({ "title": "첫 여행", "date": "2026-05-05", "repeats": "yearly" }),
        ),
    ] {
        let answer = app
            .request(method, &path, Some(&user.token), Some(body), None)
            .await;
        assert!(answer.status.is_success(), "{path}: {:?}", answer.body);
    }
    let plan = |title: &str| json!({ "title": title, "starts_at": crate::helpers::next_week(), "place": "성수" });
    let kept = app
        .post("/couples/me/plans", &kim, plan("전시회"))
        .await
        .body["plan_id"]
        .clone();
    let dropped = app.post("/couples/me/plans", &lee, plan("영화")).await.body["plan_id"].clone();
    let moved = app
        .patch(
            &format!("/couples/me/plans/{}", kept.as_str().unwrap()),
            &lee,
            json!({ "memo": "표 예매함" }),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/couples/me/plans/{}", dropped.as_str().unwrap()),
            Some(&kim.token),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{:?}", deleted.body);
    let han = app.register("Han").await;
    let code = app.post("/couples/invites", &choi, json!({})).await.body["code"].clone();
    app.post("/couples/match", &han, json!({ "code": code }))
        .await;
    let unmatched = app
        .request(Method::DELETE, "/couples/me", Some(&han.token), None, None)
        .await;
    assert_eq!(unmatched.status, StatusCode::OK, "{:?}", unmatched.body);
    app.post("/couples/invites", &park, json!({})).await;
    let withdrawn = app.post("/couples/invites", &park, json!({})).await.body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = app
        .request(
            Method::DELETE,
            &format!("/couples/invites/{withdrawn}"),
            Some(&park.token),
            None,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
    let blocked = app
        .post(&format!("/users/me/blocks/{}", lee.id), &park, json!({}))
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{:?}", blocked.body);
    let game = app
        .post(
            "/games",
            &kim,
            json!({ "title": "g", "starts_at": crate::helpers::next_week(), "max_participants": 1 }),
        )
        .await
        .body["game_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for user in [&kim, &lee, &park] {
        app.post(&format!("/games/{game}/join"), user, json!({}))
            .await;
    }
    app.request(
        Method::DELETE,
        &format!("/games/{game}/join"),
        Some(&kim.token),
        None,
        None,
    )
    .await;
    // A club with a pending request, a game ahead (its reminder due) and one played and
    // scored, and a post with a like and a comment.
    let made = app
        .post(
            "/clubs",
            &kim,
            json!({ "name": "셔틀콕", "description": "d", "join_policy": "approval" }),
        )
        .await;
    let club = made.body["club_id"].as_str().unwrap().to_owned();
    app.post(&format!("/clubs/{club}/join"), &lee, json!({}))
        .await;
    app.post(&format!("/clubs/{club}/join"), &park, json!({}))
        .await;
    app.post(
        &format!("/clubs/{club}/requests/{}/approve", lee.id),
        &kim,
        json!({}),
    )
    .await;
    let club_game = |title: &str| json!({ "title": title, "starts_at": crate::helpers::next_week(), "max_participants": 4, "courts": 1 });
    app.post(&format!("/clubs/{club}/games"), &kim, club_game("ahead"))
        .await;
    let played = app
        .post(&format!("/clubs/{club}/games"), &kim, club_game("played"))
        .await
        .body["game_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for user in [&kim, &lee] {
        app.post(&format!("/games/{played}/join"), user, json!({}))
            .await;
    }
    app.post(
        &format!("/games/{played}/start"),
        &kim,
        json!({ "courts": [{ "court": 1, "team_a": [kim.id], "team_b": [lee.id] }] }),
    )
    .await;
    app.post(
        &format!("/games/{played}/courts/1/sets"),
        &kim,
        json!({ "set_no": 1, "team_a": 21, "team_b": 9 }),
    )
    .await;
    app.post(
        &format!("/games/{played}/complete"),
        &kim,
        json!({ "winner": [{ "court": 1, "winner": "team_a" }], "mvp_user_id": kim.id }),
    )
    .await;
    let post = app
        .post(
            &format!("/boards/club-{club}/posts"),
            &lee,
            json!({ "category": "후기", "title": "오늘", "body": "재밌었다" }),
        )
        .await
        .body["post_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.request(
        Method::PUT,
        &format!("/posts/{post}/like"),
        Some(&kim.token),
        None,
        None,
    )
    .await;
    let commented = app
        .post(
            &format!("/posts/{post}/comments"),
            &kim,
            json!({ "body": "수고했어" }),
        )
        .await;
    assert_eq!(
        commented.status,
        StatusCode::CREATED,
        "{:?}",
        commented.body
    );
    // Photos: one in the room, one deleted with its message (and removed by the scheduler),
    // one on the post's board, one avatar replaced by another, one never used, one deleted with
    // its post (and removed).
    let photo_room = app.create_room(&kim, &[&lee]).await;
    let mut uploaded = Vec::new();
    for side in 8..16 {
        let answer = app
            .upload(&kim, crate::helpers::png(side), "p.png", "image/png")
            .await;
        ok(&answer, StatusCode::CREATED);
        uploaded.push(answer.body["media_id"].clone());
    }
    for media_id in &uploaded[..2] {
        let sent = app
            .post(
                &format!("/chat/rooms/{photo_room}/messages"),
                &kim,
                json!({ "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": media_id }),
            )
            .await;
        ok(&sent, StatusCode::CREATED);
    }
    let gone = app
        .post(
            &format!("/chat/rooms/{photo_room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": uploaded[2] }),
        )
        .await;
    let seq = gone.body["seq"].as_i64().unwrap();
    ok(
        &app.delete(&format!("/chat/rooms/{photo_room}/messages/{seq}"), &kim)
            .await,
        StatusCode::OK,
    );
    ok(
        &app.post(
            "/boards/community/posts",
            &kim,
            json!({ "category": "잡담", "title": "사진", "body": "b", "media_ids": [uploaded[3]] }),
        )
        .await,
        StatusCode::CREATED,
    );
    let doomed = app
        .post(
            "/boards/community/posts",
            &kim,
            json!({ "category": "잡담", "title": "지울 사진", "body": "b", "media_ids": [uploaded[7]] }),
        )
        .await;
    ok(&doomed, StatusCode::CREATED);
    let doomed = doomed.body["post_id"].as_str().unwrap();
    ok(
        &app.delete(&format!("/posts/{doomed}"), &kim).await,
        StatusCode::OK,
    );
    for media_id in &uploaded[4..6] {
        ok(
            &app.patch("/users/me", &kim, json!({ "avatar_media_id": media_id }))
                .await,
            StatusCode::OK,
        );
    }
    // The deleted message's and post's photos and the first avatar are removed before the views
    // are compared.
    assert!(
        crate::helpers::eventually(Duration::from_secs(10), || async {
            let removed: i64 =
                sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'MediaRemoved'")
                    .fetch_one(&app.pool)
                    .await
                    .unwrap();
            removed == 3
        })
        .await
    );
    // Lee reads the feed: what is read must come back read.
    app.get_after("/notifications/unread-count", &lee, &commented.token())
        .await;
    let read = app.post("/notifications/read-all", &lee, json!({})).await;
    assert!(read.body["through"].is_string(), "{:?}", read.body);
    // Game characters as a connector links them: one kept, one replaced, one unlinked.
    let connector = commands::Commands::new(app.pool.clone());
    for (user, id, name) in [
        (&kim, "ocid-1", "단풍잎"),
        (&lee, "ocid-2", "버섯"),
        (&lee, "ocid-3", "슬라임"),
        (&park, "ocid-4", "주황버섯"),
    ] {
        connector
            .link_game_character(user.id, "maplestory", id, name)
            .await
            .unwrap();
    }
    connector
        .unlink_game_character(park.id, "maplestory")
        .await
        .unwrap();
    // Sessions and an admin's actions: a logout, a grant, a suspension and its end.
    ok(
        &app.post(
            "/auth/logout",
            &choi,
            json!({ "refresh_token": choi.refresh_token }),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    app.run_moim(&["admin", "grant", &kim.email]).await;
    let suspend = format!("/admin/users/{}/suspend", choi.id);
    ok(
        &app.post(&suspend, &kim, json!({ "reason": "spam" })).await,
        StatusCode::OK,
    );
    let reinstate = format!("/admin/users/{}/reinstate", choi.id);
    ok(&app.post(&reinstate, &kim, json!({})).await, StatusCode::OK);
    let last = app
        .request(
            Method::DELETE,
            &format!("/games/{game}/join"),
            Some(&lee.token),
            None,
            None,
        )
        .await;
    let token = last.token().parse().unwrap();
    for &view in Registry::standard().views() {
        assert!(
            crate::helpers::view_reached(&app.pool, view, token, Duration::from_secs(20)).await
        );
    }
    let live = dump(&app.pool).await;
    assert!(
        live.iter().all(|t| t.rows > 0),
        "every table has rows: {live:?}"
    );

    let mut conn = app.pool.acquire().await.unwrap();
    let mut before = Vec::new();
    for &view in Registry::standard().views() {
        before.push(
            projections::checkpoint::load(&mut conn, view.name())
                .await
                .unwrap(),
        );
    }
    drop(conn);
    // The operator's command, as a separate process, while Moim keeps running.
    app.run_moim(&["replay", "--all"]).await;
    let mut conn = app.pool.acquire().await.unwrap();
    for (view, live_checkpoint) in Registry::standard().views().iter().zip(before) {
        let after = projections::checkpoint::load(&mut conn, view.name())
            .await
            .unwrap();
        assert_eq!(
            after,
            live_checkpoint,
            "{}: stream sequence is the global ordinal",
            view.name()
        );
    }
    drop(conn);
    assert_eq!(dump(&app.pool).await, live);

    // The live views carry on after the replay.
    let after = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &lee,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "after" }),
        )
        .await;
    let history = app
        .get_after(
            &format!("/chat/rooms/{room}/messages?limit=1"),
            &lee,
            &after.token(),
        )
        .await;
    assert_eq!(history.body["messages"][0]["body"], "after");
}

/// Waits until the store's horizon has passed `said` (the live chat view has it), so that a
/// replay reads it: the horizon is cluster-wide, and other tests' open transactions hold it back.
async fn below_the_horizon(pool: &PgPool, said: &Answer) {
    let chat = Registry::standard().get("chat").unwrap();
    let token = said.token().parse().unwrap();
    assert!(view_reached(pool, chat, token, Duration::from_secs(20)).await);
}

/// Throw-away views that misbehave: one fails on its first event, one is slow on each.
mod faulty {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use projections::{Simple, View};

    pub const TABLES: &str = "CREATE TABLE broken_view (n int); CREATE TABLE slow_view (n int)";
    /// Events the slow view has started to apply.
    pub static SLOW_APPLIED: AtomicUsize = AtomicUsize::new(0);

    // Replayed only, which hands every event over whatever a view reads: they never run live.
    pub const BROKEN: View = View::of(&Simple {
        name: "broken",
        tables: &["broken_view"],
        apply_one: |tx, _| {
            Box::pin(async move {
                sqlx::query("SELECT 1 / 0").execute(&mut *tx).await?;
                Ok(())
            })
        },
        reads: &[],
    });
    pub const SLOW: View = View::of(&Simple {
        name: "slow",
        tables: &["slow_view"],
        apply_one: |_, _| {
            Box::pin(async {
                SLOW_APPLIED.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(())
            })
        },
        reads: &[],
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_with_a_failing_view_swaps_in_none_of_its_views() {
    let app = spawn_app_with_registry(Registry::standard(), faulty::TABLES).await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let room = app.create_room(&kim, &[&lee]).await;
    let said = say(&app, room, &kim, "hello").await;
    below_the_horizon(&app.pool, &said).await;
    let table = |pool: PgPool| async move {
        let (oid,): (i64,) = sqlx::query_as("SELECT 'public.chat_messages'::regclass::oid::bigint")
            .fetch_one(&pool)
            .await
            .unwrap();
        oid
    };
    let before = table(app.pool.clone()).await;

    // The chat view fills without fault; the broken one fails on its first event.
    let chat = Registry::standard().get("chat").unwrap();
    let replayed = projections::replay::replay_all(&app.pool, &[chat, faulty::BROKEN], false).await;
    assert!(replayed.is_err());
    assert_eq!(
        table(app.pool.clone()).await,
        before,
        "the chat view's tables were not swapped"
    );
}

/// Stores the room's one message again, as no command would: `seqs_on` seqs past it, under a new
/// message id when `new_id`; answers once every live view is past it (a test compares all their
/// tables before and after a replay). The room must hold one message, its last event.
async fn store_the_message_again(
    app: &crate::helpers::TestApp,
    room: Uuid,
    seqs_on: i64,
    new_id: bool,
) {
    let (tx, position): (i64, i64) = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, event_id)
         SELECT aggregate_type, aggregate_id, sequence + 1, event_type, event_version,
                jsonb_set(jsonb_set(payload, '{MessageSent,seq}',
                                    to_jsonb((payload #>> '{MessageSent,seq}')::bigint + $2)),
                          '{MessageSent,message_id}',
                          CASE WHEN $3 THEN to_jsonb(gen_random_uuid())
                               ELSE payload #> '{MessageSent,message_id}' END),
                metadata, gen_random_uuid()
         FROM events WHERE aggregate_id = $1 AND event_type = 'MessageSent'
         RETURNING tx_id::text::bigint, position",
    )
    .bind(room.to_string())
    .bind(seqs_on)
    .bind(new_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let stored = domain::Position {
        tx_id: tx,
        position,
    };
    for &view in Registry::standard().views() {
        assert!(view_reached(&app.pool, view, stored, Duration::from_secs(20)).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_whose_events_break_a_unique_index_built_after_filling_swaps_in_nothing() {
    let app = spawn_app().await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let room = app.create_room(&kim, &[&lee]).await;
    say(&app, room, &kim, "hello").await;
    // A message stored again under a new seq with the same message id, as no command writes:
    // live, the chat view keeps the first; a replay checks the id's uniqueness only once the
    // messages are in (`chat_messages_message_id_key` is built, partition by partition, after
    // filling).
    let chat = Registry::standard().get("chat").unwrap();
    store_the_message_again(&app, room, 1, false).await;
    let rows = |pool: PgPool| async move {
        let (oid, count): (i64, i64) = sqlx::query_as(
            "SELECT 'public.chat_messages'::regclass::oid::bigint,
                    (SELECT count(*) FROM chat_messages WHERE room_id = $1 AND kind = 'text')",
        )
        .bind(room)
        .fetch_one(&pool)
        .await
        .unwrap();
        (oid, count)
    };
    let before = rows(app.pool.clone()).await;
    assert_eq!(before.1, 1, "live, the second copy was refused");

    let replayed = projections::replay::replay(&app.pool, chat, false).await;
    let error = domain::error::chain(&replayed.unwrap_err());
    assert!(
        error.contains("could not create unique index") && error.contains("_message_id_room_id_"),
        "{error}"
    );
    assert_eq!(
        rows(app.pool.clone()).await,
        before,
        "the live tables stayed in place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_meeting_a_room_s_messages_out_of_order_fails_and_swaps_in_nothing() {
    let app = spawn_app().await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let room = app.create_room(&kim, &[&lee]).await;
    say(&app, room, &kim, "hello").await;
    // A message stored two seqs past the last, as no command writes: a replay writes a run of
    // messages with each one's running count taken from its seq, so it must refuse the gap
    // rather than count wrong.
    store_the_message_again(&app, room, 2, true).await;
    let chat = Registry::standard().get("chat").unwrap();
    let before = dump(&app.pool).await;

    let replayed = projections::replay::replay(&app.pool, chat, false).await;
    let error = domain::error::chain(&replayed.unwrap_err());
    assert!(error.contains("was due"), "{error}");
    assert_eq!(
        dump(&app.pool).await,
        before,
        "the live tables stayed in place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_dropped_midway_leaves_nothing_running() {
    use std::sync::atomic::Ordering;

    let app = spawn_app_with_registry(Registry::standard(), faulty::TABLES).await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let room = app.create_room(&kim, &[&lee]).await;
    let mut said = None;
    for i in 0..5 {
        said = Some(say(&app, room, &kim, &format!("m{i}")).await);
    }
    below_the_horizon(&app.pool, &said.unwrap()).await;

    // A caller gives up on the replay once the slow view has started (a timeout, say).
    let replay = projections::replay::replay_all(&app.pool, &[faulty::SLOW], false);
    tokio::select! {
        done = replay => panic!("the slow view takes longer than its first event: {done:?}"),
        () = async {
            while faulty::SLOW_APPLIED.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        } => {}
    }
    let applied = faulty::SLOW_APPLIED.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        faulty::SLOW_APPLIED.load(Ordering::SeqCst),
        applied,
        "the fill stopped with the replay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_s_swap_that_meets_a_deadlock_is_tried_again() {
    let app = spawn_app().await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let room = app.create_room(&kim, &[&lee]).await;
    let said = say(&app, room, &kim, "before the replay").await;
    below_the_horizon(&app.pool, &said).await;

    // A statement that holds one of the chat view's tables and then asks for another, the
    // other way round from the swap (as a reader may, or a batch written in one statement).
    // Its own check for a deadlock comes long after the swap's, so the swap is the one ended.
    let mut other = app.pool.begin().await.unwrap();
    sqlx::raw_sql(
        "SET LOCAL deadlock_timeout = '20s'; LOCK TABLE chat_messages IN ACCESS SHARE MODE",
    )
    .execute(&mut *other)
    .await
    .unwrap();
    let replay = projections::replay::replay(&app.pool, projections::chat::VIEW, false);
    let other_way_round = async {
        // The swap, holding the room tables, waits for the messages'.
        let mut waited = 0;
        loop {
            let swap_waits: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                                WHERE NOT l.granted AND c.relname = 'chat_messages'
                                  AND l.database = (SELECT oid FROM pg_database
                                                    WHERE datname = current_database()))",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            if swap_waits {
                break;
            }
            waited += 1;
            assert!(
                waited < 1_000,
                "the swap never waited for the messages' table"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The swap checks for a deadlock a second after it began to wait, and finds this.
        sqlx::query("LOCK TABLE chat_rooms IN ACCESS SHARE MODE")
            .execute(&mut *other)
            .await
            .unwrap();
        other.commit().await.unwrap();
    };
    let (replayed, ()) = tokio::join!(replay, other_way_round);

    let replayed = replayed.expect("the swap, tried again, went through");
    assert!(replayed.events > 0);
    let (bodies,): (Vec<String>,) = sqlx::query_as(
        "SELECT array_agg(body) FROM chat_messages WHERE room_id = $1 AND kind = 'text'",
    )
    .bind(room)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        bodies,
        ["before the replay"],
        "the rebuilt view is in place"
    );
}
