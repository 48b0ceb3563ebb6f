//! Clubs, a club evening from sign-up to stats (live scores reaching a watcher on another API
//! process), the board's likes under races, comment notifications, pagination, and outsiders.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use commands::Commands;
use domain::testing::FixedServices;
use moim_api::scheduler::Scheduler;
use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{eventually, ok, spawn_app, Answer, TestApp, User, Ws};

const LIVE: Duration = Duration::from_secs(10);

fn id(answer: &Answer, field: &str) -> String {
    answer.body[field].as_str().unwrap().to_owned()
}

async fn club(app: &TestApp, owner: &User, name: &str, policy: &str) -> String {
    let made = app
        .post(
            "/clubs",
            owner,
            json!({ "name": name, "description": "토요일 배드민턴", "join_policy": policy }),
        )
        .await;
    ok(&made, StatusCode::CREATED);
    id(&made, "club_id")
}

async fn kept(app: &TestApp, user: &User, kind: &str) -> Vec<Value> {
    let feed = app.get("/notifications?limit=200", user).await;
    feed.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_club_evening_from_sign_up_to_stats() {
    let app = spawn_app().await;
    let other = app
        .instance(Roles {
            api: true,
            ..Roles::NONE
        })
        .await;
    let owner = app.register("Owner").await;
    let club_id = club(&app, &owner, "토요 셔틀콕", "open").await;
    let mut members = Vec::new();
    for n in 0..12 {
        let member = app.register(&format!("회원{n}")).await;
        let joined = app
            .post(&format!("/clubs/{club_id}/join"), &member, json!({}))
            .await;
        ok(&joined, StatusCode::OK);
        assert_eq!(joined.body["status"], "member");
        members.push(member);
    }
    let outsider = app.register("Outsider").await;
    let last = app
        .post(&format!("/clubs/{club_id}/join"), &members[11], json!({}))
        .await;
    let listed = app
        .get_after(
            &format!("/clubs/{club_id}/members?size=5&page=3"),
            &owner,
            &last.token(),
        )
        .await;
    ok(&listed, StatusCode::OK);
    assert_eq!(listed.body["total"], 13);
    assert_eq!(listed.body["members"].as_array().unwrap().len(), 3);
    let found = app
        .get(&format!("/clubs/{club_id}/members?query=회원1"), &owner)
        .await;
    // 회원1, 회원10, 회원11.
    assert_eq!(found.body["total"], 3, "{:?}", found.body);
    let searched = app.get("/clubs?query=셔틀", &outsider).await;
    assert_eq!(searched.body["clubs"][0]["club_id"], club_id.as_str());

    // The club's room follows its membership.
    let card = app.get(&format!("/clubs/{club_id}"), &members[0]).await;
    let room = card.body["room_id"].as_str().unwrap().to_owned();
    let in_room = app.get(&format!("/chat/rooms/{room}"), &members[0]).await;
    ok(&in_room, StatusCode::OK);
    assert_eq!(in_room.body["members"].as_array().unwrap().len(), 13);
    let leave_room = app
        .request(
            Method::DELETE,
            &format!("/chat/rooms/{room}/members/{}", members[0].id),
            Some(&members[0].token),
            None,
            None,
        )
        .await;
    ok(&leave_room, StatusCode::CONFLICT);
    assert_eq!(leave_room.body["code"], "club_room");

    // A game of 8 on two courts, two hours ahead: 12 sign up, 4 wait.
    let starts_at = (Utc::now() + Span::hours(2)).to_rfc3339();
    let denied = app
        .post(
            &format!("/clubs/{club_id}/games"),
            &members[0],
            json!({ "title": "x", "starts_at": starts_at, "max_participants": 8, "courts": 2 }),
        )
        .await;
    ok(&denied, StatusCode::FORBIDDEN);
    let made = app
        .post(
            &format!("/clubs/{club_id}/games"),
            &owner,
            json!({ "title": "토요 복식", "starts_at": starts_at, "max_participants": 8, "courts": 2 }),
        )
        .await;
    ok(&made, StatusCode::CREATED);
    let game = id(&made, "game_id");
    let outsider_join = app
        .post(&format!("/games/{game}/join"), &outsider, json!({}))
        .await;
    ok(&outsider_join, StatusCode::NOT_FOUND);
    let mut player_ws = app.ws(&members[0]).await;
    for member in &members {
        let joined = app
            .post(&format!("/games/{game}/join"), member, json!({}))
            .await;
        ok(&joined, StatusCode::OK);
    }
    let shown = app
        .get_after(
            &format!("/games/{game}"),
            &owner,
            &app.post(&format!("/games/{game}/join"), &members[11], json!({}))
                .await
                .token(),
        )
        .await;
    assert_eq!(shown.body["participants"].as_array().unwrap().len(), 8);
    assert_eq!(shown.body["waitlist_count"], 4);
    assert_eq!(
        app.get(&format!("/games/{game}"), &outsider).await.status,
        StatusCode::NOT_FOUND
    );

    // An hour before the start, the players are reminded, once.
    let due: DateTime<Utc> = starts_at.parse::<DateTime<Utc>>().unwrap() - Span::hours(1);
    assert!(
        eventually(LIVE, || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM game_jobs")
                .fetch_one(&app.pool)
                .await
                .unwrap()
                == 1
        })
        .await
    );
    let clock = Arc::new(FixedServices::at(due));
    let scheduler = Scheduler::new(
        app.pool.clone(),
        Commands::with_services(app.pool.clone(), clock.clone()),
        clock,
        Duration::from_secs(1),
    );
    assert_eq!(scheduler.tick(due).await.unwrap(), 1);
    assert_eq!(scheduler.tick(due).await.unwrap(), 0);
    let starting = player_ws
        .next_of("game.starting", LIVE)
        .await
        .expect("game.starting");
    assert_eq!(starting["data"]["game_id"], game.as_str());

    // A watcher on the other process: a waitlisted member with a socket there.
    let watcher = &members[10];
    let mut watcher_ws = Ws::connect(&other.address, &watcher.token).await;
    let outsider_watch = app
        .post(&format!("/games/{game}/watch"), &outsider, json!({}))
        .await;
    ok(&outsider_watch, StatusCode::NOT_FOUND);
    ok(
        &app.post(&format!("/games/{game}/watch"), watcher, json!({}))
            .await,
        StatusCode::OK,
    );
    watcher_ws
        .next_of("game.watching", LIVE)
        .await
        .expect("watching");

    // Start on two courts, 2 against 2 each.
    let ids: Vec<String> = members[..8].iter().map(|m| m.id.to_string()).collect();
    let courts = json!({ "courts": [
        { "court": 1, "team_a": [ids[0], ids[1]], "team_b": [ids[2], ids[3]] },
        { "court": 2, "team_a": [ids[4], ids[5]], "team_b": [ids[6], ids[7]] },
    ]});
    ok(
        &app.post(&format!("/games/{game}/start"), &members[0], courts.clone())
            .await,
        StatusCode::FORBIDDEN,
    );
    let bad = json!({ "courts": [
        { "court": 1, "team_a": [ids[0]], "team_b": [members[9].id] },
    ]});
    ok(
        &app.post(&format!("/games/{game}/start"), &owner, bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    ok(
        &app.post(&format!("/games/{game}/start"), &owner, courts)
            .await,
        StatusCode::OK,
    );
    let late = app
        .post(&format!("/games/{game}/join"), &outsider, json!({}))
        .await;
    ok(&late, StatusCode::NOT_FOUND);

    let set = |court: u32, set_no: u32, a: u32, b: u32, version: Option<u32>| {
        let mut body = json!({ "set_no": set_no, "team_a": a, "team_b": b });
        if let Some(v) = version {
            body["version"] = json!(v);
        }
        (format!("/games/{game}/courts/{court}/sets"), body)
    };
    let (path, body) = set(1, 1, 21, 18, None);
    let first = app.post(&path, &owner, body).await;
    ok(&first, StatusCode::CREATED);
    assert_eq!(first.body["version"], 1);
    let seen = watcher_ws.next_of("game.score", LIVE).await.expect("score");
    assert_eq!(
        (
            seen["data"]["team_a"].clone(),
            seen["data"]["version"].clone()
        ),
        (json!(21), json!(1))
    );
    let played = player_ws
        .next_of("game.score", LIVE)
        .await
        .expect("a player sees it too");
    assert_eq!(played["data"]["set_no"], 1);
    // A correction names the version it corrects; a stale one is refused.
    let (path, body) = set(1, 1, 21, 16, Some(1));
    let corrected = app.post(&path, &owner, body).await;
    assert_eq!(corrected.body["version"], 2);
    let (path, body) = set(1, 1, 10, 21, Some(1));
    let stale = app.post(&path, &owner, body).await;
    ok(&stale, StatusCode::CONFLICT);
    assert_eq!(stale.body["code"], "stale_score");
    let fixed = watcher_ws.next_of("game.score", LIVE).await.expect("fix");
    assert_eq!(fixed["data"]["version"], 2);
    for (court, a, b) in [(2, 19, 21), (1, 21, 10), (2, 15, 21)] {
        let (path, body) = set(court, 2 - u32::from(court == 2 && a == 19), a, b, None);
        ok(&app.post(&path, &owner, body).await, StatusCode::CREATED);
    }

    let completed = app
        .post(
            &format!("/games/{game}/complete"),
            &owner,
            json!({ "winner": [
                { "court": 1, "winner": "team_a" },
                { "court": 2, "winner": "team_b" },
            ], "mvp_user_id": ids[0] }),
        )
        .await;
    ok(&completed, StatusCode::OK);
    let stats = app
        .get_after(
            &format!("/clubs/{club_id}/members/{}/stats", members[0].id),
            &members[5],
            &completed.token(),
        )
        .await;
    assert_eq!(stats.body, json!({ "played": 1, "won": 1, "mvp": 1 }));
    let loser = app
        .get(
            &format!("/clubs/{club_id}/members/{}/stats", members[4].id),
            &members[5],
        )
        .await;
    assert_eq!(loser.body, json!({ "played": 1, "won": 0, "mvp": 0 }));
    let bench = app
        .get(
            &format!("/clubs/{club_id}/members/{}/stats", members[9].id),
            &members[5],
        )
        .await;
    assert_eq!(bench.body, json!({ "played": 0, "won": 0, "mvp": 0 }));
    let over = app.get(&format!("/games/{game}"), &members[3]).await;
    assert_eq!(over.body["status"], "completed");
    assert_eq!(over.body["lineups"][0]["sets"][0]["team_b"], 16);
    assert_eq!(over.body["lineups"][1]["winner"], "team_b");
    let listed = app
        .get(
            &format!("/clubs/{club_id}/games?status=completed"),
            &members[3],
        )
        .await;
    assert_eq!(listed.body["games"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(
            &format!("/clubs/{club_id}/members/{}/stats", members[0].id),
            &outsider
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    app.run_moim(&["replay", "--all"]).await;
    eprintln!(
        "club evening: {events} events in the store; `moim replay --all` took {} ms",
        started.elapsed().as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_tells_players_and_waitlist_and_managers_run_the_club() {
    let app = spawn_app().await;
    let owner = app.register("Owner").await;
    let club_id = club(&app, &owner, "승인 클럽", "approval").await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let asked = app
        .post(&format!("/clubs/{club_id}/join"), &kim, json!({}))
        .await;
    assert_eq!(asked.body["status"], "pending");
    // Not yet a member: the club's insides are not found.
    ok(
        &app.get(&format!("/clubs/{club_id}/members"), &kim).await,
        StatusCode::NOT_FOUND,
    );
    ok(
        &app.post(
            &format!("/clubs/{club_id}/requests/{}/approve", kim.id),
            &kim,
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
    );
    let approved = app
        .post(
            &format!("/clubs/{club_id}/requests/{}/approve", kim.id),
            &owner,
            json!({}),
        )
        .await;
    assert_eq!(approved.body["status"], "member");
    app.post(&format!("/clubs/{club_id}/join"), &lee, json!({}))
        .await;
    app.post(
        &format!("/clubs/{club_id}/requests/{}/approve", lee.id),
        &owner,
        json!({}),
    )
    .await;
    ok(
        &app.patch(
            &format!("/clubs/{club_id}/members/{}", kim.id),
            &owner,
            json!({ "role": "manager" }),
        )
        .await,
        StatusCode::OK,
    );
    // The owner hands over before leaving.
    let left = app
        .request(
            Method::DELETE,
            &format!("/clubs/{club_id}/members/{}", owner.id),
            Some(&owner.token),
            None,
            None,
        )
        .await;
    assert_eq!(left.body["code"], "owner_must_hand_over");

    let made = app
        .post(
            &format!("/clubs/{club_id}/games"),
            &kim,
            json!({ "title": "번개", "starts_at": crate::helpers::next_week(), "max_participants": 1, "courts": 1 }),
        )
        .await;
    ok(&made, StatusCode::CREATED);
    let game = id(&made, "game_id");
    let mut lee_ws = app.ws(&lee).await;
    app.post(&format!("/games/{game}/join"), &kim, json!({}))
        .await;
    app.post(&format!("/games/{game}/join"), &lee, json!({}))
        .await;
    ok(
        &app.post(
            &format!("/games/{game}/cancel"),
            &lee,
            json!({ "reason": "비" }),
        )
        .await,
        StatusCode::FORBIDDEN,
    );
    ok(
        &app.post(
            &format!("/games/{game}/cancel"),
            &kim,
            json!({ "reason": "비" }),
        )
        .await,
        StatusCode::OK,
    );
    let told = lee_ws
        .next_of("game.cancelled", LIVE)
        .await
        .expect("the waitlisted one is told");
    assert_eq!(told["data"]["reason"], "비");
    assert!(
        eventually(LIVE, || async {
            kept(&app, &kim, "game.cancelled").await.len() == 1
        })
        .await
    );
    ok(
        &app.post(&format!("/games/{game}/join"), &owner, json!({}))
            .await,
        StatusCode::CONFLICT,
    );
    // Kicking Lee takes Lee out of the room too.
    ok(
        &app.request(
            Method::DELETE,
            &format!("/clubs/{club_id}/members/{}", lee.id),
            Some(&kim.token),
            None,
            None,
        )
        .await,
        StatusCode::OK,
    );
    let room = app.get(&format!("/clubs/{club_id}"), &kim).await.body["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        eventually(LIVE, || async {
            app.get(&format!("/chat/rooms/{room}"), &lee).await.status != StatusCode::OK
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_likes_count_exactly_and_replies_notify_the_right_people_once() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let posted = app
        .post(
            "/boards/community/posts",
            &kim,
            json!({ "category": "데이트 코스", "title": "한강 자전거", "body": "여의도에서 출발" }),
        )
        .await;
    ok(&posted, StatusCode::CREATED);
    let post = id(&posted, "post_id");
    let mut users = Vec::new();
    for n in 0..10 {
        users.push(app.register(&format!("U{n}")).await);
    }
    // The five who will unlike have liked first.
    for user in &users[5..] {
        app.request(
            Method::PUT,
            &format!("/posts/{post}/like"),
            Some(&user.token),
            None,
            None,
        )
        .await;
    }
    let mut racing = Vec::new();
    for (n, user) in users.iter().enumerate() {
        for _ in 0..5 {
            let method = if n < 5 { Method::PUT } else { Method::DELETE };
            let (app, token, path) = (&app, user.token.clone(), format!("/posts/{post}/like"));
            racing.push(async move { app.request(method, &path, Some(&token), None, None).await });
        }
    }
    let answers = futures::future::join_all(racing).await;
    assert!(
        answers.iter().all(|a| a.status == StatusCode::OK),
        "{answers:?}"
    );
    // The answers came back in any order: wait for the latest of their writes.
    let last = answers
        .iter()
        .map(|a| a.token())
        .max_by_key(|t| {
            let (tx, at) = t.split_once('.').unwrap_or_default();
            (
                tx.parse::<i64>().unwrap_or(0),
                at.parse::<i64>().unwrap_or(0),
            )
        })
        .unwrap();
    let shown = app
        .get_after(&format!("/posts/{post}"), &users[0], &last)
        .await;
    assert_eq!(shown.body["like_count"], 5, "{:?}", shown.body);
    assert_eq!(shown.body["liked_by_me"], true);
    let other = app.get(&format!("/posts/{post}"), &users[7]).await;
    assert_eq!(other.body["liked_by_me"], false);
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type IN ('PostLiked', 'PostUnliked')",
    )
    .bind(&post)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // The five earlier likes, then one change per racing user: the repeats recorded nothing.
    assert_eq!(events, 15, "each user's change recorded once");

    // Lee comments, Park replies to Lee, Choi replies to Park's reply.
    let (lee, park, choi) = (&users[0], &users[1], &users[2]);
    let comment = |parent: Option<&str>, body: &str| json!({ "body": body, "parent_id": parent });
    let path = format!("/posts/{post}/comments");
    let top = id(
        &app.post(&path, lee, comment(None, "좋아요")).await,
        "comment_id",
    );
    let reply = id(
        &app.post(&path, park, comment(Some(&top), "저도요")).await,
        "comment_id",
    );
    let deeper = app
        .post(&path, choi, comment(Some(&reply), "같이 가요"))
        .await;
    ok(&deeper, StatusCode::CREATED);
    // Kim answers at the top: Kim, the post's author, is not told of their own comment.
    app.post(&path, &kim, comment(None, "감사합니다")).await;
    let strange = app
        .post(
            &path,
            choi,
            comment(Some(&uuid::Uuid::now_v7().to_string()), "?"),
        )
        .await;
    ok(&strange, StatusCode::NOT_FOUND);

    assert!(
        eventually(LIVE, || async {
            kept(&app, &kim, "comment.created").await.len() == 3
        })
        .await,
        "Kim: Lee's, Park's and Choi's comments, once each"
    );
    assert!(
        eventually(LIVE, || async {
            kept(&app, park, "comment.replied").await.len() == 1
        })
        .await
    );
    assert!(
        eventually(LIVE, || async {
            kept(&app, lee, "comment.replied").await.len() == 1
        })
        .await
    );
    assert!(kept(&app, choi, "comment.replied").await.is_empty());
    assert!(kept(&app, choi, "comment.created").await.is_empty());

    // Lee's comment is deleted: a tombstone, for it has replies.
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/comments/{top}"),
            Some(&lee.token),
            None,
            None,
        )
        .await;
    ok(&deleted, StatusCode::OK);
    let shown = app
        .get_after(&format!("/posts/{post}/comments"), &kim, &deleted.token())
        .await;
    let listed = shown.body["comments"].as_array().unwrap().clone();
    assert_eq!(listed[0]["deleted"], true, "{listed:?}");
    assert_eq!(listed[0]["body"], Value::Null);
    let depths: Vec<i64> = listed
        .iter()
        .map(|c| c["depth"].as_i64().unwrap())
        .collect();
    assert_eq!(
        depths,
        vec![0, 1, 2, 0],
        "threads under their parents: {listed:?}"
    );
    let after = app.get(&format!("/posts/{post}"), &kim).await;
    assert_eq!(after.body["comment_count"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_and_cursors_agree_pinned_first_and_outsiders_get_404() {
    let app = spawn_app().await;
    let owner = app.register("Owner").await;
    let member = app.register("Member").await;
    let outsider = app.register("Outsider").await;
    let club_id = club(&app, &owner, "게시판 클럽", "open").await;
    app.post(&format!("/clubs/{club_id}/join"), &member, json!({}))
        .await;
    let board = format!("/boards/club-{club_id}/posts");
    let mut ids = Vec::new();
    for n in 0..7 {
        let posted = app
            .post(
                &board,
                &member,
                json!({ "category": "공지", "title": format!("글 {n}"), "body": format!("본문 {n} 셔틀콕") }),
            )
            .await;
        ok(&posted, StatusCode::CREATED);
        ids.push(id(&posted, "post_id"));
    }
    ok(
        &app.post(&format!("/posts/{}/pin", ids[2]), &member, json!({}))
            .await,
        StatusCode::FORBIDDEN,
    );
    let pinned = app
        .post(&format!("/posts/{}/pin", ids[2]), &owner, json!({}))
        .await;
    ok(&pinned, StatusCode::OK);

    let mut by_page = Vec::new();
    for page in 1..=3 {
        let answer = app
            .get_after(
                &format!("{board}?page={page}&size=3"),
                &member,
                &pinned.token(),
            )
            .await;
        assert_eq!(answer.body["total"], 7);
        for post in answer.body["posts"].as_array().unwrap() {
            by_page.push(post["post_id"].as_str().unwrap().to_owned());
        }
    }
    let mut by_cursor = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{board}?limit=3&cursor={c}"),
            None => format!("{board}?limit=3"),
        };
        let answer = app.get(&path, &member).await;
        for post in answer.body["posts"].as_array().unwrap() {
            by_cursor.push(post["post_id"].as_str().unwrap().to_owned());
        }
        match answer.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(by_page, by_cursor);
    let mut expected: Vec<String> = ids.iter().rev().cloned().collect();
    expected.retain(|p| p != &ids[2]);
    expected.insert(0, ids[2].clone());
    assert_eq!(by_page, expected, "pinned first, then newest");
    let found = app.get(&format!("{board}?q=본문 3"), &member).await;
    assert_eq!(found.body["total"], 1, "{:?}", found.body);

    // Outsiders see the club's card and nothing inside it.
    ok(
        &app.get(&format!("/clubs/{club_id}"), &outsider).await,
        StatusCode::OK,
    );
    for path in [
        board.clone(),
        format!("/posts/{}", ids[0]),
        format!("/posts/{}/comments", ids[0]),
        format!("/clubs/{club_id}/members"),
        format!("/clubs/{club_id}/games"),
        format!("/clubs/{club_id}/members/{}/stats", member.id),
    ] {
        let answer = app.get(&path, &outsider).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {:?}",
            answer.body
        );
    }
    for (method, path) in [
        (Method::POST, board.clone()),
        (Method::PUT, format!("/posts/{}/like", ids[0])),
        (Method::POST, format!("/posts/{}/comments", ids[0])),
        (Method::DELETE, format!("/posts/{}", ids[0])),
        (Method::POST, format!("/clubs/{club_id}/games")),
    ] {
        let body = json!({ "category": "c", "title": "t", "body": "b", "starts_at": crate::helpers::next_week(), "max_participants": 2, "courts": 1 });
        let body = if path.ends_with("/comments") {
            json!({ "body": "b" })
        } else if path.ends_with("/posts") {
            json!({ "category": "c", "title": "t", "body": "b" })
        } else if path.ends_with("/games") {
            json!({ "title": "t", "starts_at": crate::helpers::next_week(), "max_participants": 2, "courts": 1 })
        } else {
            body
        };
        let answer = app
            .request(
                method.clone(),
                &path,
                Some(&outsider.token),
                Some(body),
                None,
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {:?}",
            answer.body
        );
    }
    let unauthenticated = app.request(Method::GET, &board, None, None, None).await;
    ok(&unauthenticated, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_platform_admin_made_by_the_operator_moderates_the_community_board() {
    let app = spawn_app().await;
    let admin = app.register("Admin").await;
    let lee = app.register("Lee").await;
    let kim = app.register("Kim").await;
    let posted = app
        .post(
            "/boards/community/posts",
            &lee,
            json!({ "category": "공지", "title": "모임 규칙", "body": "서로 존중해요" }),
        )
        .await;
    ok(&posted, StatusCode::CREATED);
    let post = id(&posted, "post_id");
    let pin = format!("/posts/{post}/pin");
    // Nobody but an admin pins on the community board, the author included.
    for user in [&lee, &admin] {
        let refused = app.post(&pin, user, json!({})).await;
        ok(&refused, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["code"], "not_allowed");
    }
    app.run_moim(&["admin", "grant", &admin.email]).await;
    let pinned = app.post(&pin, &admin, json!({})).await;
    ok(&pinned, StatusCode::OK);
    let listed = app
        .get_after("/boards/community/posts", &kim, &pinned.token())
        .await;
    assert_eq!(listed.body["posts"][0]["post_id"], post);
    assert_eq!(listed.body["posts"][0]["pinned"], true);
    // An admin also deletes someone else's community post; a plain user does not.
    let theirs = app
        .post(
            "/boards/community/posts",
            &kim,
            json!({ "category": "잡담", "title": "광고", "body": "스팸" }),
        )
        .await;
    let theirs = id(&theirs, "post_id");
    let by_lee = app.delete(&format!("/posts/{theirs}"), &lee).await;
    ok(&by_lee, StatusCode::FORBIDDEN);
    let by_admin = app.delete(&format!("/posts/{theirs}"), &admin).await;
    ok(&by_admin, StatusCode::OK);
    // Revoked, the admin is an ordinary user again.
    app.run_moim(&["admin", "revoke", &admin.email]).await;
    let unpin = app
        .request(Method::DELETE, &pin, Some(&admin.token), None, None)
        .await;
    ok(&unpin, StatusCode::FORBIDDEN);
}
