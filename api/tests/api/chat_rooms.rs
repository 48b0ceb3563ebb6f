//! Chat, complete: running rooms (names, members, roles, kicks, public rooms), system messages,
//! edits and tombstones, read receipts and unread counts, and search in Korean and English —
//! through HTTP and WebSocket, each refusal checked to write nothing.

use std::time::Duration;

use moim_api::startup::Roles;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use projections::bigrams::fold;
use sqlx::{Connection, PgConnection};

use crate::helpers::{
    eventually, say, spawn_app, spawn_app_custom, Answer, Sandbox, TestApp, User,
};

const LIVE: Duration = Duration::from_secs(10);

/// Opens a room; answers it and the consistency token of its creation.
async fn open(
    app: &TestApp,
    owner: &User,
    kind: &str,
    name: &str,
    members: &[&User],
) -> (Uuid, String) {
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let answer = app
        .post(
            "/chat/rooms",
            owner,
            json!({ "name": name, "kind": kind, "member_ids": ids }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    let room = answer.body["room_id"].as_str().unwrap().parse().unwrap();
    (room, answer.token())
}

fn messages(page: &Answer) -> Vec<Value> {
    page.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn field(messages: &[Value], name: &str) -> Vec<Value> {
    messages.iter().map(|m| m[name].clone()).collect()
}

fn refused(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.body["code"], code, "{:?}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json");
}

async fn events(app: &TestApp, room: Uuid) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events WHERE aggregate_id = $1")
        .bind(room.to_string())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn a_kicked_member_is_refused_and_their_history_stops_at_the_kick() {
    let app = spawn_app().await;
    let (kim, lee, park, choi) = (
        app.register("Kim").await,
        app.register("Lee").await,
        app.register("Park").await,
        app.register("Choi").await,
    );
    let (room, _) = open(&app, &kim, "group", "badminton", &[&lee, &park]).await;
    say(&app, room, &kim, "before the kick").await;
    let mut park_ws = app.ws(&park).await;
    let mut lee_ws = app.ws(&lee).await;

    // Members cannot kick; the owner can.
    let path = format!("/chat/rooms/{room}/members/{}", park.id);
    refused(
        &app.delete(&path, &lee).await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    );
    let kick = app.delete(&path, &kim).await;
    assert_eq!(kick.status, StatusCode::OK, "{:?}", kick.body);
    let frame = park_ws
        .next_of("room.member_left", LIVE)
        .await
        .expect("told");
    assert_eq!(frame["data"]["seq"], 2);
    assert_eq!(frame["data"]["kind"], "system");
    assert_eq!(frame["data"]["system"]["action"], "member_kicked");
    assert_eq!(frame["data"]["system"]["user_id"], park.id.to_string());
    assert_eq!(frame["data"]["sender_id"], kim.id.to_string());

    let after = say(&app, room, &kim, "after the kick").await;
    lee_ws
        .next_of("message.sent", LIVE)
        .await
        .expect("Lee gets it");
    assert!(
        park_ws
            .next_of("message.sent", Duration::from_secs(1))
            .await
            .is_none(),
        "nothing sent after the kick reaches Park"
    );

    // Park may no longer send or move a read pointer; an outsider is told nothing exists.
    let before = events(&app, room).await;
    let send = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &park,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "let me back" }),
        )
        .await;
    refused(&send, StatusCode::FORBIDDEN, "left_room");
    let read = app
        .post(
            &format!("/chat/rooms/{room}/read"),
            &park,
            json!({ "seq": 1 }),
        )
        .await;
    refused(&read, StatusCode::FORBIDDEN, "left_room");
    refused(
        &app.get(&format!("/chat/rooms/{room}"), &park).await,
        StatusCode::FORBIDDEN,
        "left_room",
    );
    for (answer, what) in [
        (
            app.get(&format!("/chat/rooms/{room}/messages"), &choi)
                .await,
            "history",
        ),
        (
            app.get(&format!("/chat/rooms/{room}"), &choi).await,
            "details",
        ),
        (
            app.patch(
                &format!("/chat/rooms/{room}"),
                &choi,
                json!({ "name": "mine" }),
            )
            .await,
            "rename",
        ),
        (
            app.post(
                &format!("/chat/rooms/{room}/members"),
                &choi,
                json!({ "user_ids": [choi.id] }),
            )
            .await,
            "add",
        ),
        (
            app.delete(&format!("/chat/rooms/{room}/members/{}", lee.id), &choi)
                .await,
            "kick",
        ),
        (
            app.post(&format!("/chat/rooms/{room}/join"), &choi, json!({}))
                .await,
            "join a group",
        ),
        (
            app.post(
                &format!("/chat/rooms/{room}/read"),
                &choi,
                json!({ "seq": 1 }),
            )
            .await,
            "read",
        ),
        (
            app.patch(
                &format!("/chat/rooms/{room}/messages/1"),
                &choi,
                json!({ "body": "x" }),
            )
            .await,
            "edit",
        ),
        (
            app.delete(&format!("/chat/rooms/{room}/messages/1"), &choi)
                .await,
            "delete",
        ),
        (
            app.get(
                &format!("/chat/rooms/{room}/messages/search?q=before"),
                &choi,
            )
            .await,
            "search",
        ),
    ] {
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{what}: {:?}",
            answer.body
        );
        assert_eq!(answer.body["code"], "room_not_found", "{what}");
    }
    assert_eq!(events(&app, room).await, before, "refusals wrote nothing");

    // Park's history and search stop at the kick; the room left their list.
    let history = app
        .get_after(
            &format!("/chat/rooms/{room}/messages?after=0"),
            &park,
            &after.token(),
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
    let seen = messages(&history);
    assert_eq!(field(&seen, "seq"), [json!(1), json!(2)]);
    assert_eq!(seen[1]["system"]["action"], "member_kicked");
    let lee_history = app
        .get(&format!("/chat/rooms/{room}/messages?after=0"), &lee)
        .await;
    assert_eq!(
        field(&messages(&lee_history), "seq"),
        [json!(1), json!(2), json!(3)]
    );
    assert_eq!(
        messages(&lee_history)[1],
        seen[1],
        "everyone's history tells the same story"
    );
    let found = app.get("/chat/search?q=kick", &park).await;
    assert_eq!(field(&messages(&found), "body"), [json!("before the kick")]);
    let rooms = app.get("/chat/rooms", &park).await;
    assert_eq!(rooms.body["rooms"], json!([]));
}

#[tokio::test]
async fn rooms_are_run_by_their_owner_and_admins_and_tell_everyone_in_system_messages() {
    let app = spawn_app().await;
    let (kim, lee, park, choi) = (
        app.register("Kim").await,
        app.register("Lee").await,
        app.register("Park").await,
        app.register("Choi").await,
    );
    let (room, _) = open(&app, &kim, "group", "club", &[&lee, &park]).await;
    say(&app, room, &lee, "before Choi").await;
    let mut lee_ws = app.ws(&lee).await;
    let path = |rest: &str| format!("/chat/rooms/{room}{rest}");

    refused(
        &app.patch(&path(""), &lee, json!({ "name": "mine" })).await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    );
    let renamed = app
        .patch(&path(""), &kim, json!({ "name": "배드민턴" }))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    let frame = lee_ws.next_of("room.updated", LIVE).await.expect("renamed");
    assert_eq!(
        frame["data"]["system"],
        json!({ "action": "room_renamed", "name": "배드민턴" })
    );

    refused(
        &app.post(&path("/members"), &lee, json!({ "user_ids": [choi.id] }))
            .await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    );
    refused(
        &app.post(
            &path("/members"),
            &kim,
            json!({ "user_ids": [Uuid::now_v7()] }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_member",
    );
    let added = app
        .post(&path("/members"), &kim, json!({ "user_ids": [choi.id] }))
        .await;
    assert_eq!(added.status, StatusCode::OK, "{:?}", added.body);
    let frame = lee_ws
        .next_of("room.member_joined", LIVE)
        .await
        .expect("joined");
    assert_eq!(frame["data"]["system"]["user_ids"], json!([choi.id]));

    // Choi reads from the join on, not what was said before.
    let choi_history = app
        .get_after(&path("/messages"), &choi, &added.token())
        .await;
    assert_eq!(field(&messages(&choi_history), "seq"), [json!(3)]);

    // Roles: only the owner gives them; an admin kicks members but not the owner.
    refused(
        &app.patch(
            &path(&format!("/members/{}", park.id)),
            &lee,
            json!({ "role": "admin" }),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    );
    let made = app
        .patch(
            &path(&format!("/members/{}", lee.id)),
            &kim,
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{:?}", made.body);
    let frame = lee_ws
        .next_of("room.role_changed", LIVE)
        .await
        .expect("role");
    assert_eq!(frame["data"]["role"], "admin");
    refused(
        &app.delete(&path(&format!("/members/{}", kim.id)), &lee)
            .await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    );
    let kicked = app
        .delete(&path(&format!("/members/{}", park.id)), &lee)
        .await;
    assert_eq!(kicked.status, StatusCode::OK, "{:?}", kicked.body);

    // The owner leaving hands the room to whoever has been in it longest: Lee.
    let left = app
        .delete(&path(&format!("/members/{}", kim.id)), &kim)
        .await;
    assert_eq!(left.status, StatusCode::OK, "{:?}", left.body);
    let details = app.get_after(&path(""), &lee, &left.token()).await;
    assert_eq!(details.status, StatusCode::OK, "{:?}", details.body);
    assert_eq!(details.body["name"], "배드민턴");
    let members: Vec<(Value, Value, Value)> = details.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].clone(),
                m["role"].clone(),
                m["display_name"].clone(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            (json!(lee.id), json!("owner"), json!("Lee")),
            (json!(choi.id), json!("member"), json!("Choi")),
        ]
    );
    let story: Vec<Value> = messages(&app.get(&path("/messages?after=0"), &lee).await)
        .iter()
        .map(|m| m["system"]["action"].clone())
        .collect();
    assert_eq!(
        story,
        [
            Value::Null,
            json!("room_renamed"),
            json!("members_joined"),
            json!("member_kicked"),
            json!("member_left"),
        ]
    );
    let rooms = app.get("/chat/rooms", &lee).await;
    assert_eq!(rooms.body["rooms"][0]["members_count"], 2);
    assert_eq!(
        rooms.body["rooms"][0]["last_message"]["system"]["action"],
        "member_left"
    );
}

#[tokio::test]
async fn public_rooms_are_found_by_name_and_joined_by_anyone() {
    let app = spawn_app().await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let (public, _) = open(&app, &kim, "public", "서울 배드민턴 모임", &[]).await;
    let (private, token) = open(&app, &kim, "group", "서울 배드민턴 운영진", &[]).await;
    let answer = app
        .get_after("/chat/rooms/public?query=배드민턴", &lee, &token)
        .await;
    let found: Vec<Value> = answer.body["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["room_id"].clone())
        .collect();
    assert_eq!(found, [json!(public)], "only public rooms are listed");
    assert!(
        app.get("/chat/rooms/public?query=tennis", &lee).await.body["rooms"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    refused(
        &app.post(&format!("/chat/rooms/{private}/join"), &lee, json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "room_not_found",
    );
    for _ in 0..2 {
        let joined = app
            .post(&format!("/chat/rooms/{public}/join"), &lee, json!({}))
            .await;
        assert_eq!(
            joined.status,
            StatusCode::OK,
            "joining again changes nothing"
        );
    }
    let said = say(&app, public, &lee, "안녕하세요").await;
    let rooms = app.get_after("/chat/rooms", &lee, &said.token()).await;
    assert_eq!(rooms.body["rooms"][0]["room_id"], json!(public));
    assert_eq!(rooms.body["rooms"][0]["kind"], "public");
    let joins = messages(
        &app.get(&format!("/chat/rooms/{public}/messages?after=0"), &kim)
            .await,
    );
    assert_eq!(
        field(&joins, "kind"),
        [json!("system"), json!("text")],
        "one join"
    );
}

#[tokio::test]
async fn read_receipts_and_unread_counts_follow_a_conversation() {
    let app = spawn_app().await;
    let (kim, lee, park) = (
        app.register("Kim").await,
        app.register("Lee").await,
        app.register("Park").await,
    );
    let (room, _) = open(&app, &kim, "direct", "us", &[&lee]).await;
    let mut kim_ws = app.ws(&kim).await;
    let mut token = String::new();
    for body in ["밥 먹었어?", "나는 아직", "같이 먹자"] {
        let sent = say(&app, room, &kim, body).await;
        assert_eq!(sent.body["unread_count"], 1, "the couple app's 1");
        token = sent.token();
    }
    let unread = |answer: &Answer| answer.body["rooms"][0]["unread_count"].clone();
    let lee_rooms = app.get_after("/chat/rooms", &lee, &token).await;
    assert_eq!(unread(&lee_rooms), 3);
    assert_eq!(
        lee_rooms.body["rooms"][0]["last_message"]["body"],
        "같이 먹자"
    );
    assert_eq!(
        unread(&app.get("/chat/rooms", &kim).await),
        0,
        "own messages are read"
    );

    let read = app
        .post(
            &format!("/chat/rooms/{room}/read"),
            &lee,
            json!({ "seq": 2 }),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    assert_eq!(read.body["seq"], 2);
    let frame = kim_ws
        .next_of("room.read", LIVE)
        .await
        .expect("Kim sees it");
    assert_eq!(
        frame["data"],
        json!({ "room_id": room, "user_id": lee.id, "seq": 2 })
    );
    let history = app
        .get_after(
            &format!("/chat/rooms/{room}/messages?after=0"),
            &kim,
            &read.token(),
        )
        .await;
    assert_eq!(
        field(&messages(&history), "unread_count"),
        [json!(0), json!(0), json!(1)]
    );
    assert_eq!(unread(&app.get("/chat/rooms", &lee).await), 1);

    // A pointer never moves back, and cannot point past the last message.
    let back = app
        .post(
            &format!("/chat/rooms/{room}/read"),
            &lee,
            json!({ "seq": 1 }),
        )
        .await;
    assert_eq!(
        (back.status, back.body["seq"].clone()),
        (StatusCode::OK, json!(2))
    );
    refused(
        &app.post(
            &format!("/chat/rooms/{room}/read"),
            &lee,
            json!({ "seq": 99 }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_seq",
    );

    // Answering moves Lee's own pointer: Lee has nothing unread, Kim has Lee's reply.
    let reply = say(&app, room, &lee, "응 좋아").await;
    assert_eq!(
        unread(&app.get_after("/chat/rooms", &lee, &reply.token()).await),
        0
    );
    assert_eq!(unread(&app.get("/chat/rooms", &kim).await), 1);
    let history = app
        .get(&format!("/chat/rooms/{room}/messages?after=0"), &kim)
        .await;
    assert_eq!(
        field(&messages(&history), "unread_count"),
        [json!(0), json!(0), json!(0), json!(1)],
        "Lee's reply read everything before it"
    );

    // In a group, the count is of the members who have not read yet.
    let (group, _) = open(&app, &kim, "group", "three", &[&lee, &park]).await;
    let sent = say(&app, group, &kim, "hi all").await;
    assert_eq!(sent.body["unread_count"], 2);
    let read = app
        .post(
            &format!("/chat/rooms/{group}/read"),
            &park,
            json!({ "seq": 1 }),
        )
        .await;
    let history = app
        .get_after(
            &format!("/chat/rooms/{group}/messages"),
            &lee,
            &read.token(),
        )
        .await;
    assert_eq!(messages(&history)[0]["unread_count"], 1);

    // Every pointer moved in place (HOT): no index names it, so a message sent leaves no row
    // version behind for a vacuum (docs/performance.md, "Read pointers updated in place").
    // PostgreSQL reports its counts a little after the views' commits.
    let counts = || async {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
             WHERE relname = 'chat_room_members'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            let (updated, in_place) = counts().await;
            updated >= 4 && in_place == updated
        })
        .await,
        "(updated, in place): {:?}",
        counts().await
    );
}

#[tokio::test]
async fn edits_and_deletions_reach_everyone_and_deleted_messages_are_tombstones() {
    let app = spawn_app().await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let (room, _) = open(&app, &kim, "direct", "us", &[&lee]).await;
    let mut lee_ws = app.ws(&lee).await;
    say(&app, room, &kim, "오늘 저녁 7시").await;
    say(&app, room, &kim, "비밀 메시지 secret").await;
    let path = |seq: &str| format!("/chat/rooms/{room}/messages/{seq}");

    let edited = app
        .patch(&path("1"), &kim, json!({ "body": "오늘 저녁 8시" }))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let frame = lee_ws.next_of("message.edited", LIVE).await.expect("edit");
    assert_eq!(frame["data"]["body"], "오늘 저녁 8시");
    assert_eq!(frame["data"]["edited_at"], edited.body["edited_at"]);
    refused(
        &app.patch(&path("1"), &lee, json!({ "body": "mine" })).await,
        StatusCode::FORBIDDEN,
        "not_your_message",
    );
    refused(
        &app.delete(&path("1"), &lee).await,
        StatusCode::FORBIDDEN,
        "not_your_message",
    );
    refused(
        &app.patch(&path("9"), &kim, json!({ "body": "x" })).await,
        StatusCode::NOT_FOUND,
        "message_not_found",
    );
    refused(
        &app.patch(&path("1"), &kim, json!({ "body": "" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
    );

    let deleted = app.delete(&path("2"), &kim).await;
    assert_eq!(deleted.status, StatusCode::OK, "{:?}", deleted.body);
    let frame = lee_ws
        .next_of("message.deleted", LIVE)
        .await
        .expect("deletion");
    assert_eq!(frame["data"], json!({ "room_id": room, "seq": 2 }));
    assert_eq!(
        app.delete(&path("2"), &kim).await.status,
        StatusCode::OK,
        "again: no change"
    );
    refused(
        &app.patch(&path("2"), &kim, json!({ "body": "back" })).await,
        StatusCode::CONFLICT,
        "message_deleted",
    );

    let history = app
        .get_after(
            &format!("/chat/rooms/{room}/messages?after=0"),
            &lee,
            &deleted.token(),
        )
        .await;
    let all = messages(&history);
    assert_eq!(all[0]["body"], "오늘 저녁 8시");
    assert!(all[0]["edited_at"].is_string());
    assert_eq!(
        (all[1]["deleted"].clone(), all[1]["body"].clone()),
        (json!(true), Value::Null)
    );
    let search = app.get("/chat/search?q=secret", &lee).await;
    assert_eq!(search.status, StatusCode::OK);
    assert!(messages(&search).is_empty(), "a tombstone is never found");
    let (stored,): (Option<String>,) =
        sqlx::query_as("SELECT body FROM chat_messages WHERE room_id = $1 AND seq = 2")
            .bind(room)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, None, "the read model keeps no body");

    for (body, code) in [
        (
            json!({ "client_msg_id": Uuid::now_v7(), "body": "x", "kind": "image" }),
            "media_required",
        ),
        (
            json!({ "client_msg_id": Uuid::now_v7(), "body": "x", "media_id": Uuid::now_v7() }),
            "bad_kind",
        ),
        (
            json!({ "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": Uuid::now_v7() }),
            "media_not_found",
        ),
        (
            json!({ "client_msg_id": Uuid::now_v7(), "body": "x", "kind": "system" }),
            "bad_kind",
        ),
    ] {
        let answer = app
            .post(&format!("/chat/rooms/{room}/messages"), &kim, body)
            .await;
        refused(&answer, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
}

#[tokio::test]
async fn search_finds_korean_and_english_in_the_callers_rooms_only() {
    let app = spawn_app().await;
    let (kim, lee, park) = (
        app.register("Kim").await,
        app.register("Lee").await,
        app.register("Park").await,
    );
    let (room, _) = open(&app, &kim, "direct", "us", &[&lee]).await;
    let (other, _) = open(&app, &park, "direct", "them", &[&kim]).await;
    say(&app, room, &kim, "안녕하세요 여러분").await;
    say(&app, room, &lee, "Hello World").await;
    say(&app, room, &kim, "잘 지내요?").await;
    say(&app, room, &lee, "ΟΣΑ").await;
    let last = say(&app, other, &park, "안녕 Kim").await;

    let bodies = |answer: &Answer| field(&messages(answer), "body");
    let lee_search = |q: &'static str| {
        let (app, lee, token) = (&app, &lee, last.token());
        async move {
            app.get_after(&format!("/chat/search?q={q}"), lee, &token)
                .await
        }
    };
    assert_eq!(
        bodies(&lee_search("안녕").await),
        [json!("안녕하세요 여러분")],
        "not Park's room"
    );
    assert_eq!(
        bodies(&lee_search("하세요").await),
        [json!("안녕하세요 여러분")]
    );
    assert_eq!(bodies(&lee_search("hello").await), [json!("Hello World")]);
    assert_eq!(bodies(&lee_search("WORLD").await), [json!("Hello World")]);
    assert_eq!(bodies(&lee_search("lo wo").await), [json!("Hello World")]);
    assert!(bodies(&lee_search("안녕히").await).is_empty());
    // A sigma ending the query is lower-cased as the one inside the word, as PostgreSQL does.
    assert_eq!(bodies(&lee_search("ΟΣ").await), [json!("ΟΣΑ")]);

    // Kim is in both rooms: newest first, one page at a time.
    let first = app.get("/chat/search?q=안녕&limit=1", &kim).await;
    assert_eq!(bodies(&first), [json!("안녕 Kim")]);
    let cursor = first.body["next_cursor"].as_str().expect("more").to_owned();
    let second = app
        .get(
            &format!("/chat/search?q=안녕&limit=1&cursor={cursor}"),
            &kim,
        )
        .await;
    assert_eq!(bodies(&second), [json!("안녕하세요 여러분")]);
    assert!(second.body["next_cursor"].is_null());

    let in_room = app
        .get(&format!("/chat/rooms/{room}/messages/search?q=지내"), &lee)
        .await;
    assert_eq!(bodies(&in_room), [json!("잘 지내요?")]);
    let not_there = app
        .get(&format!("/chat/rooms/{other}/messages/search?q=안녕"), &lee)
        .await;
    refused(&not_there, StatusCode::NOT_FOUND, "room_not_found");
    refused(
        &app.get("/chat/search?q=a", &lee).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "query_too_short",
    );
    refused(
        &app.get(&format!("/chat/search?q={}", "가".repeat(101)), &lee)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "query_too_long",
    );
    refused(
        &app.get("/chat/search?q=안녕&cursor=nope", &lee).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_cursor",
    );
}

/// The pairs may narrow a search only where PostgreSQL's own check would fail too: two
/// characters its `lower()` maps alike must be folded alike by the pairs.
#[tokio::test]
async fn search_pairs_fold_alike_what_postgresql_lower_cases_alike() {
    let sandbox = Sandbox::new().await;
    let mut db = PgConnection::connect(&sandbox.database_url).await.unwrap();
    let lowered: Vec<(i32, String)> = sqlx::query_as(
        "SELECT c, lower(chr(c)) FROM generate_series(1, 131071) c
         WHERE c NOT BETWEEN 55296 AND 57343",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let disagree: Vec<String> = lowered
        .into_iter()
        .filter_map(|(code, by_postgres)| {
            let c = char::from_u32(code as u32).expect("a scalar value");
            let mut chars = by_postgres.chars();
            match (chars.next(), chars.next()) {
                (Some(l), None) if fold(l) == fold(c) => None,
                _ => Some(format!("U+{code:04X} → {by_postgres:?}")),
            }
        })
        .collect();
    assert!(disagree.is_empty(), "{disagree:?}");
}

#[tokio::test]
async fn rows_an_older_moim_wrote_are_found_again_once_moim_has_started() {
    let app = spawn_app().await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    // A group room has system messages, and a deleted message is a tombstone: both have no body.
    let (room, _) = open(&app, &kim, "group", "us", &[&lee]).await;
    let secret = say(&app, room, &kim, "secret").await;
    let seq = secret.body["seq"].as_i64().expect("a seq");
    let deleted = app
        .delete(&format!("/chat/rooms/{room}/messages/{seq}"), &kim)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{:?}", deleted.body);
    let said = say(&app, room, &kim, "ÄRGER über alles").await;
    let found = app
        .get_after("/chat/search?q=ärger", &lee, &said.token())
        .await;
    assert_eq!(messages(&found).len(), 1, "{:?}", found.body);
    let posted = app
        .post(
            "/boards/community/posts",
            &kim,
            json!({ "category": "데이트 코스", "title": "ÄRGER", "body": "über alles" }),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{:?}", posted.body);
    let board = app
        .get_after("/boards/community/posts?q=ärger", &lee, &posted.token())
        .await;
    assert_eq!(board.body["total"], 1, "{:?}", board.body);

    // As a Moim before the views computed pairs left them on a database of character type C,
    // whose lower() keeps non-ASCII capitals, once a later migration made them integers: a
    // search no longer finds them.
    sqlx::raw_sql(
        "UPDATE chat_messages SET grams = ARRAY(
             SELECT (ascii(substr(g, 1, 1))::bigint << 21) | ascii(substr(g, 2, 1))
             FROM unnest('{Är,rg,ge,er,üb,be,al,ll,le,es}'::text[]) g);
         UPDATE posts SET grams = (SELECT grams FROM chat_messages WHERE body IS NOT NULL LIMIT 1);
         INSERT INTO search_pairs_backfill (target, until) VALUES
             ('chat_messages', (SELECT message_id FROM chat_messages ORDER BY message_id DESC LIMIT 1)),
             ('posts', (SELECT post_id FROM posts ORDER BY post_id DESC LIMIT 1))",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let search = || app.get("/chat/search?q=ärger", &lee);
    assert!(messages(&search().await).is_empty());

    app.run_moim(&["migrate"]).await;
    assert_eq!(
        field(&messages(&search().await), "body"),
        [json!("ÄRGER über alles")]
    );
    let board = app.get("/boards/community/posts?q=ärger", &lee).await;
    assert_eq!(board.body["total"], 1, "{:?}", board.body);
    let (left, bodiless, with_pairs): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM search_pairs_backfill),
                (SELECT count(*) FROM chat_messages WHERE body IS NULL),
                (SELECT count(*) FROM chat_messages WHERE body IS NULL AND grams <> '{}')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "done once");
    assert!(bodiless >= 1, "a tombstone at least");
    assert_eq!(with_pairs, 0, "no body, no pairs");
}

#[tokio::test]
async fn a_search_past_its_time_is_cancelled_with_a_503() {
    let app = spawn_app_custom(Roles::ALL, |s| {
        s.limits.search_timeout = Duration::from_millis(300);
    })
    .await;
    let (kim, lee) = (app.register("Kim").await, app.register("Lee").await);
    let (room, _) = open(&app, &kim, "direct", "us", &[&lee]).await;
    let said = say(&app, room, &kim, "안녕하세요").await;
    assert_eq!(
        app.get_after("/chat/search?q=안녕", &lee, &said.token())
            .await
            .status,
        StatusCode::OK
    );
    // Another transaction holds the messages table: the search waits, and is cut off.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE chat_messages IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let slow = app.get("/chat/search?q=안녕", &lee).await;
    refused(&slow, StatusCode::SERVICE_UNAVAILABLE, "query_timeout");
    blocker.rollback().await.unwrap();
    let again = app.get("/chat/search?q=안녕", &lee).await;
    assert_eq!(messages(&again).len(), 1);
}

#[tokio::test]
async fn a_direct_room_is_not_reopened_with_someone_who_blocks_you_and_bad_queries_are_422() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let left = app
        .delete(&format!("/chat/rooms/{room}/members/{}", kim.id), &kim)
        .await;
    assert!(left.status.is_success(), "{:?}", left.body);
    let blocked = app
        .post(&format!("/users/me/blocks/{}", kim.id), &lee, json!({}))
        .await;
    assert!(blocked.status.is_success(), "{:?}", blocked.body);
    let before = events(&app, room).await;
    let rejoin = app
        .post(&format!("/chat/rooms/{room}/join"), &kim, json!({}))
        .await;
    refused(&rejoin, StatusCode::FORBIDDEN, "blocked");
    assert_eq!(events(&app, room).await, before, "nothing written");

    // What PostgreSQL could not take is refused before it gets there.
    for path in [
        format!("/chat/rooms/{room}/messages/search?q=%00ab"),
        "/chat/search?q=ab%00cd".to_owned(),
        "/chat/rooms/public?query=%00".to_owned(),
    ] {
        refused(
            &app.get(&path, &lee).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_query",
        );
    }
    let far = format!("-1000000000000000000_{}", Uuid::nil());
    refused(
        &app.get(&format!("/chat/rooms?cursor={far}"), &lee).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_cursor",
    );
}
