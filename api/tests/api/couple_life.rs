//! A couple's life after the match: their room, D-day, anniversaries, plans and their reminders
//! (across processes, with one killed), the calendar, live location and unmatching.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use commands::Commands;
use domain::testing::FixedServices;
use moim_api::scheduler::Scheduler;
use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, spawn_app_with, spawn_moim, TestApp, User};

const LIVE: Duration = Duration::from_secs(10);

/// Kim invites, Lee redeems: the match's answer.
async fn couple(app: &TestApp, kim: &User, lee: &User) -> Value {
    let code = app.post("/couples/invites", kim, json!({})).await.body["code"].clone();
    let matched = app
        .post("/couples/match", lee, json!({ "code": code }))
        .await;
    assert_eq!(matched.status, StatusCode::CREATED, "{:?}", matched.body);
    matched.body
}

fn seoul_today() -> NaiveDate {
    domain::couple::calendar::local_date(domain::values::TimeZoneName::SEOUL.tz(), Utc::now())
}

async fn reminders_of(app: &TestApp, event_type: &str, aggregate_id: &str) -> Vec<Value> {
    let rows: Vec<(Value,)> = sqlx::query_as(
        "SELECT payload FROM events WHERE event_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(event_type)
    .bind(aggregate_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    // Payloads are stored tagged with the event's name: `{"PlanReminded": {…}}`.
    rows.into_iter()
        .map(|(p,)| p.as_object().unwrap().values().next().unwrap().clone())
        .collect()
}

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_match_opens_one_couple_room_and_d_day_counts_from_day_one() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let mut lee_ws = app.ws(&lee).await;
    let matched = couple(&app, &kim, &lee).await;
    let room = matched["room_id"].as_str().unwrap().to_owned();

    let created = lee_ws
        .next_of("room.created", LIVE)
        .await
        .expect("room.created");
    assert_eq!(created["data"]["kind"], "couple");
    let details = app.get(&format!("/chat/rooms/{room}"), &kim).await;
    assert_eq!(details.status, StatusCode::OK, "{:?}", details.body);
    assert_eq!(details.body["kind"], "couple");
    assert_eq!(details.body["members"].as_array().unwrap().len(), 2);
    let grow = app
        .post(
            &format!("/chat/rooms/{room}/members"),
            &kim,
            json!({ "user_ids": [park.id] }),
        )
        .await;
    assert_eq!(
        grow.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        grow.body
    );
    // Nobody opens a couple room by hand.
    let by_hand = app
        .post(
            "/chat/rooms",
            &kim,
            json!({ "name": "us", "kind": "couple", "member_ids": [park.id] }),
        )
        .await;
    assert_eq!(
        by_hand.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        by_hand.body
    );
    let rooms: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'chat_room' AND event_type = 'RoomCreated'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(rooms, 1);

    let token = matched["consistency_token"].as_str().unwrap();
    let mine = app.get_after("/couples/me", &kim, token).await;
    assert_eq!(mine.body["d_day"], 1);
    assert_eq!(mine.body["started_on"], seoul_today().to_string());
    assert_eq!(mine.body["time_zone"], "Asia/Seoul");

    let day_100 = seoul_today() - Days::days(99);
    let moved = app
        .patch("/couples/me", &kim, json!({ "started_on": day_100 }))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["d_day"], 100);
    let told = lee_ws
        .next_of("couple.updated", LIVE)
        .await
        .expect("couple.updated");
    assert_eq!(told["data"]["started_on"], day_100.to_string());
    let mine = app.get_after("/couples/me", &lee, &moved.token()).await;
    assert_eq!(mine.body["d_day"], 100);
    assert_eq!(mine.body["partner"]["display_name"], "Kim");

    for (body, code) in [
        (
            json!({ "started_on": seoul_today() + Days::days(2) }),
            "started_on_in_future",
        ),
        (json!({ "time_zone": "Mars/Olympus" }), "invalid_value"),
        (json!({ "started_on": "yesterday" }), "invalid_body"),
    ] {
        let refused = app.patch("/couples/me", &kim, body.clone()).await;
        assert!(
            refused.status.is_client_error(),
            "{body}: {:?}",
            refused.body
        );
        assert_eq!(refused.body["code"], code, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anniversaries_come_from_day_one_birthdays_and_the_couples_own_dates() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let mut lee_ws = app.ws(&lee).await;
    couple(&app, &kim, &lee).await;
    let today = seoul_today();
    app.patch(
        "/couples/me",
        &kim,
        json!({ "started_on": today - Days::days(95) }),
    )
    .await;
    let birthday = app
        .patch("/users/me", &lee, json!({ "birthday": "1999-02-28" }))
        .await;
    assert_eq!(birthday.status, StatusCode::OK, "{:?}", birthday.body);
    assert_eq!(birthday.body["birthday"], "1999-02-28");
    let trip = today + Days::days(10);
    let added = app
        .post(
            "/couples/me/anniversaries",
            &kim,
            json!({ "title": "첫 여행", "date": trip, "repeats": "yearly" }),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(added.body["d_day_label"], "D-10");
    let id = added.body["id"].as_str().unwrap().to_owned();
    let told = lee_ws
        .next_of("anniversary.changed", LIVE)
        .await
        .expect("told");
    assert_eq!(told["data"]["change"], "added");
    assert_eq!(told["data"]["title"], "첫 여행");

    let listed = app
        .get_after("/couples/me/anniversaries", &lee, &added.token())
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let all = listed.body["anniversaries"].as_array().unwrap();
    let first = &all[0];
    assert_eq!(first["title"], "100일");
    assert_eq!(first["kind"], "auto");
    assert_eq!(first["d_day_label"], "D-4");
    assert_eq!(first["date"], (today + Days::days(4)).to_string());
    assert!(all
        .iter()
        .any(|a| a["kind"] == "custom" && a["id"] == id.as_str()));
    assert!(all
        .iter()
        .any(|a| a["kind"] == "birthday" && a["title"] == "Lee 생일"));
    assert!(all.iter().any(|a| a["title"] == "1주년"));

    let changed = app
        .patch(
            &format!("/couples/me/anniversaries/{id}"),
            &lee,
            json!({ "title": "여행" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["title"], "여행");
    assert_eq!(changed.body["repeats"], "yearly");
    let removed = app
        .request(
            Method::DELETE,
            &format!("/couples/me/anniversaries/{id}"),
            Some(&kim.token),
            None,
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    let listed = app
        .get_after("/couples/me/anniversaries", &lee, &removed.token())
        .await;
    assert!(listed.body["anniversaries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["kind"] != "custom"));
    let past = app
        .get(
            &format!(
                "/couples/me/anniversaries?from={}&to={}",
                today - Days::days(400),
                today
            ),
            &kim,
        )
        .await;
    assert!(past.body["anniversaries"]
        .as_array()
        .unwrap()
        .iter()
        .all(
            |a| a["d_day_label"].as_str().unwrap().starts_with("D+") || a["d_day_label"] == "D-Day"
        ));
    let wide = app
        .get(
            "/couples/me/anniversaries?from=2000-01-01&to=2099-01-01",
            &kim,
        )
        .await;
    assert_eq!(wide.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wide.body["code"], "bad_range");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outsiders_get_404_on_every_couple_route() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let choi = app.register("Choi").await;
    let han = app.register("Han").await;
    couple(&app, &kim, &lee).await;
    couple(&app, &choi, &han).await;
    let plan = app
        .post(
            "/couples/me/plans",
            &kim,
            json!({ "title": "영화", "starts_at": Utc::now() + Days::days(3) }),
        )
        .await;
    let plan_id = plan.body["plan_id"].as_str().unwrap().to_owned();
    let date = app
        .post(
            "/couples/me/anniversaries",
            &kim,
            json!({ "title": "첫 만남", "date": "2025-05-05" }),
        )
        .await;
    let date_id = date.body["id"].as_str().unwrap().to_owned();
    let consistency = date.token();
    // Park is in no couple; Choi is in another one.
    for outsider in [&park, &choi] {
        for (method, path, body) in [
            (Method::GET, format!("/couples/me/plans/{plan_id}"), None),
            (
                Method::PATCH,
                format!("/couples/me/plans/{plan_id}"),
                Some(json!({ "title": "mine now" })),
            ),
            (Method::DELETE, format!("/couples/me/plans/{plan_id}"), None),
            (
                Method::PATCH,
                format!("/couples/me/anniversaries/{date_id}"),
                Some(json!({ "title": "mine now" })),
            ),
            (
                Method::DELETE,
                format!("/couples/me/anniversaries/{date_id}"),
                None,
            ),
        ] {
            let answer = app
                .request(
                    method.clone(),
                    &path,
                    Some(&outsider.token),
                    body,
                    Some(&consistency),
                )
                .await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {:?}",
                answer.body
            );
        }
    }
    for (method, path, body) in [
        (Method::GET, "/couples/me", None),
        (
            Method::PATCH,
            "/couples/me",
            Some(json!({ "started_on": "2025-01-01" })),
        ),
        (Method::DELETE, "/couples/me", None),
        (Method::GET, "/couples/me/anniversaries", None),
        (
            Method::POST,
            "/couples/me/anniversaries",
            Some(json!({ "title": "x", "date": "2025-01-01" })),
        ),
        (Method::GET, "/couples/me/calendar?month=2026-12", None),
        (Method::GET, "/couples/me/plans", None),
        (
            Method::POST,
            "/couples/me/plans",
            Some(json!({ "title": "x", "starts_at": Utc::now() + Days::days(1) })),
        ),
    ] {
        let answer = app
            .request(
                method.clone(),
                path,
                Some(&park.token),
                body,
                Some(&consistency),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {:?}",
            answer.body
        );
        assert_eq!(answer.body["code"], "couple_not_found", "{method} {path}");
        let anonymous = app.request(method.clone(), path, None, None, None).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    for (method, path) in [
        (Method::PATCH, "/users/me"),
        (Method::GET, "/couples/invites"),
    ] {
        let anonymous = app
            .request(method.clone(), path, None, Some(json!({})), None)
            .await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    // Their plan stays theirs.
    let still = app
        .get_after(&format!("/couples/me/plans/{plan_id}"), &lee, &consistency)
        .await;
    assert_eq!(still.body["title"], "영화");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_calendar_of_a_month_holds_plans_anniversaries_and_birthdays() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    couple(&app, &kim, &lee).await;
    // Day 1 on 2026-09-03 makes 100일 fall on 2026-12-11; Kim was born on 14 December.
    app.patch("/couples/me", &kim, json!({ "started_on": "2026-09-03" }))
        .await;
    app.patch("/users/me", &kim, json!({ "birthday": "1998-12-14" }))
        .await;
    // 23:30 in Seoul on 24 December is 14:30 UTC: the plan is on the 24th, not elsewhere.
    let eve = app
        .post(
            "/couples/me/plans",
            &lee,
            json!({ "title": "이브", "starts_at": "2026-12-24T14:30:00Z", "place": "명동" }),
        )
        .await;
    assert_eq!(eve.status, StatusCode::CREATED, "{:?}", eve.body);
    let january = app
        .post(
            "/couples/me/plans",
            &lee,
            json!({ "title": "새해", "starts_at": "2026-12-31T15:30:00Z" }),
        )
        .await;
    let month = app
        .get_after("/couples/me/calendar?month=2026-12", &kim, &january.token())
        .await;
    assert_eq!(month.status, StatusCode::OK, "{:?}", month.body);
    let days: Vec<(String, Vec<String>)> = month.body["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut what: Vec<String> = d["plans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["title"].as_str().unwrap().to_owned())
                .collect();
            what.extend(
                d["anniversaries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["title"].as_str().unwrap().to_owned()),
            );
            (d["date"].as_str().unwrap().to_owned(), what)
        })
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-12-11".to_owned(), vec!["100일".to_owned()]),
            ("2026-12-14".to_owned(), vec!["Kim 생일".to_owned()]),
            ("2026-12-24".to_owned(), vec!["이브".to_owned()]),
        ]
    );
    let bad = app.get("/couples/me/calendar?month=2026-13", &kim).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["code"], "bad_month");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plan_reminder_fires_once_across_schedulers_with_the_due_one_killed() {
    // This process serves the API and builds the views; reminders are fired by children only.
    let app = spawn_app_with(Roles {
        scheduler: false,
        ..Roles::ALL
    })
    .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let choi = app.register("Choi").await;
    let han = app.register("Han").await;
    couple(&app, &kim, &lee).await;
    couple(&app, &choi, &han).await;
    let mut lee_ws = app.ws(&lee).await;
    let env = app.sandbox_env();
    let mut a = spawn_moim(env.clone(), "scheduler");

    // Reminders come due in 4 s: the plans start 2 h 4 s from now.
    let due = Utc::now() + Days::seconds(4);
    let starts = due + Days::hours(2);
    let plan = |user: &User, title: &str, starts_at: DateTime<Utc>| {
        let app = &app;
        let user = user.clone();
        let title = title.to_owned();
        async move {
            let made = app
                .post(
                    "/couples/me/plans",
                    &user,
                    json!({ "title": title, "starts_at": starts_at }),
                )
                .await;
            assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
            made.body["plan_id"].as_str().unwrap().to_owned()
        }
    };
    let mut ours = Vec::new();
    for i in 0..12 {
        ours.push(plan(&kim, &format!("데이트 {i}"), starts).await);
    }
    let moved = plan(&kim, "옮긴 약속", starts).await;
    let deleted = plan(&kim, "취소한 약속", starts).await;
    let soon = plan(&kim, "곧", Utc::now() + Days::minutes(30)).await;
    let dissolved = plan(&choi, "헤어진 뒤", starts).await;
    let later = starts + Days::days(1);
    let answer = app
        .patch(
            &format!("/couples/me/plans/{moved}"),
            &lee,
            json!({ "starts_at": later }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let answer = app
        .request(
            Method::DELETE,
            &format!("/couples/me/plans/{deleted}"),
            Some(&kim.token),
            None,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let answer = app
        .request(Method::DELETE, "/couples/me", Some(&han.token), None, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);

    // The scheduler is killed the moment its first reminder is stored: in the middle of its
    // batch, its claim uncommitted. Another one takes over.
    let fired = || async {
        let mut n = 0;
        for id in ours.iter().chain([&soon]) {
            n += reminders_of(&app, "PlanReminded", id).await.len();
        }
        n
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let of_the_batch: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'PlanReminded' AND aggregate_id <> $1",
        )
        .bind(&soon)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if of_the_batch > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batch never fired"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    a.start_kill().unwrap();
    let _ = a.wait().await;
    eprintln!("reminders stored before the kill: {} of 13", fired().await);
    let mut b = spawn_moim(env.clone(), "scheduler");
    let all_fired = eventually(Duration::from_secs(20), || async { fired().await >= 13 }).await;
    assert!(all_fired, "every due reminder fired");
    // Time for a second firing to show, if there were one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut late_ms = Vec::new();
    for id in &ours {
        let fired = reminders_of(&app, "PlanReminded", id).await;
        assert_eq!(fired.len(), 1, "plan {id} reminded once");
        late_ms.push((at(&fired[0]["reminded_at"]) - at(&fired[0]["due_at"])).num_milliseconds());
    }
    assert_eq!(reminders_of(&app, "PlanReminded", &soon).await.len(), 1);
    for id in [&moved, &deleted, &dissolved] {
        assert!(
            reminders_of(&app, "PlanReminded", id).await.is_empty(),
            "{id}"
        );
    }
    eprintln!("plan reminders, the first scheduler killed mid-batch: late by {late_ms:?} ms");
    let mut told = Vec::new();
    while let Some(frame) = lee_ws
        .next_of("plan.reminder", Duration::from_secs(3))
        .await
    {
        told.push(frame["data"]["plan_id"].as_str().unwrap().to_owned());
    }
    told.sort();
    let mut expected: Vec<String> = ours.iter().chain([&soon]).cloned().collect();
    expected.sort();
    assert_eq!(told, expected, "each reminder reached Lee's socket once");
    let feed = app.get("/notifications?limit=100", &kim).await;
    let in_feed = feed.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "plan.reminder")
        .count();
    assert_eq!(in_feed, 13);

    // Every scheduler down when a reminder comes due: it fires when one comes back, late, once.
    b.start_kill().unwrap();
    let _ = b.wait().await;
    let alone = plan(
        &kim,
        "혼자 남은 약속",
        Utc::now() + Days::hours(2) + Days::seconds(1),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _c = spawn_moim(env, "scheduler");
    assert!(
        eventually(Duration::from_secs(20), || async {
            !reminders_of(&app, "PlanReminded", &alone).await.is_empty()
        })
        .await
    );
    let fired = reminders_of(&app, "PlanReminded", &alone).await;
    assert_eq!(fired.len(), 1);
    eprintln!(
        "plan reminder due while every scheduler was down: late by {} ms",
        (at(&fired[0]["reminded_at"]) - at(&fired[0]["due_at"])).num_milliseconds()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reminders_follow_an_injected_clock_and_a_replay_sends_none_again() {
    let app = spawn_app_with(Roles {
        scheduler: false,
        ..Roles::ALL
    })
    .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    couple(&app, &kim, &lee).await;
    let mut lee_ws = app.ws(&lee).await;
    // 100일 is in four days: its one-day reminder is due at 09:00 Seoul in three days.
    let today = seoul_today();
    app.patch(
        "/couples/me",
        &kim,
        json!({ "started_on": today - Days::days(95) }),
    )
    .await;
    let day_before: DateTime<Utc> = format!("{}T00:00:00Z", today + Days::days(3))
        .parse()
        .unwrap();
    // The plan is reminded after the anniversary, whatever the hour the test runs at.
    let starts_at = day_before + Days::days(1) + Days::hours(5);
    let made = app
        .post(
            "/couples/me/plans",
            &kim,
            json!({ "title": "전시회", "starts_at": starts_at }),
        )
        .await;
    let plan_id = made.body["plan_id"].as_str().unwrap().to_owned();
    let couple_id = app.get_after("/couples/me", &kim, &made.token()).await.body["couple_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        eventually(LIVE, || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM couple_jobs")
                .fetch_one(&app.pool)
                .await
                .unwrap()
                == 2
        })
        .await
    );
    let scheduler_at = |now: DateTime<Utc>| {
        let clock = Arc::new(FixedServices::at(now));
        Scheduler::new(
            app.pool.clone(),
            Commands::with_services(app.pool.clone(), clock.clone()),
            clock,
            Duration::from_secs(1),
        )
    };
    // "It is 09:00 in Seoul, the day before 100일".
    let early = scheduler_at(day_before - Days::seconds(1));
    early.tick(day_before - Days::seconds(1)).await.unwrap();
    assert!(reminders_of(&app, "AnniversaryReminded", &couple_id)
        .await
        .is_empty());
    let nine = scheduler_at(day_before);
    nine.tick(day_before).await.unwrap();
    let sent = reminders_of(&app, "AnniversaryReminded", &couple_id).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["title"], "100일");
    assert_eq!(sent[0]["days_before"], 1);
    let frame = lee_ws
        .next_of("anniversary.upcoming", LIVE)
        .await
        .expect("anniversary.upcoming");
    assert_eq!(frame["data"]["title"], "100일");

    // "It is now 2 h before": the plan's reminder fires; a second tick fires nothing.
    let two_hours_before = starts_at - Days::hours(2);
    let before = scheduler_at(two_hours_before - Days::seconds(1));
    before
        .tick(two_hours_before - Days::seconds(1))
        .await
        .unwrap();
    assert!(reminders_of(&app, "PlanReminded", &plan_id)
        .await
        .is_empty());
    let then = scheduler_at(two_hours_before);
    then.tick(two_hours_before).await.unwrap();
    then.tick(two_hours_before).await.unwrap();
    assert_eq!(reminders_of(&app, "PlanReminded", &plan_id).await.len(), 1);
    let frame = lee_ws
        .next_of("plan.reminder", LIVE)
        .await
        .expect("plan.reminder");
    assert_eq!(frame["data"]["title"], "전시회");

    // Rebuilt from the events, the schedule holds nothing already sent.
    let before_replay: Vec<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT job_key, due_at FROM couple_jobs ORDER BY job_key")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    app.run_moim(&["replay", "--all"]).await;
    let after_replay: Vec<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT job_key, due_at FROM couple_jobs ORDER BY job_key")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(after_replay, before_replay);
    assert!(after_replay.iter().all(|(_, due)| *due > two_hours_before));
    let again = scheduler_at(two_hours_before + Days::minutes(1));
    again
        .tick(two_hours_before + Days::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        reminders_of(&app, "AnniversaryReminded", &couple_id)
            .await
            .len(),
        1
    );
    assert_eq!(reminders_of(&app, "PlanReminded", &plan_id).await.len(), 1);
    assert!(lee_ws
        .next_of("anniversary.upcoming", Duration::from_secs(2))
        .await
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partners_live_location_reaches_the_other_partner_only() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let mut kim_ws = app.ws(&kim).await;
    let mut lee_ws = app.ws(&lee).await;
    let mut park_ws = app.ws(&park).await;
    couple(&app, &kim, &lee).await;
    let _shared = app.create_room(&kim, &[&lee, &park]).await;
    // Positions are not kept: the partner's socket must follow the couple room first.
    lee_ws
        .next_of("room.created", LIVE)
        .await
        .expect("couple room");
    let answer = kim_ws
        .ask(
            "location.update",
            "l1",
            json!({ "lat": 37.5446, "lng": 127.0559, "accuracy": 12.0 }),
        )
        .await;
    assert_eq!(answer["type"], "ack", "{answer}");
    let seen = lee_ws
        .next_of("location.updated", LIVE)
        .await
        .expect("location");
    assert_eq!(seen["data"]["user_id"], kim.id.to_string());
    assert_eq!(seen["data"]["lat"], 37.5446);
    let bad = kim_ws
        .ask(
            "location.update",
            "l2",
            json!({ "lat": 91.0, "lng": 0.0, "accuracy": 1.0 }),
        )
        .await;
    assert_eq!(bad["data"]["code"], "bad_location", "{bad}");
    let single = park_ws
        .ask(
            "location.update",
            "l3",
            json!({ "lat": 1.0, "lng": 1.0, "accuracy": 1.0 }),
        )
        .await;
    assert_eq!(single["data"]["code"], "couple_not_found", "{single}");
    // A flood is cut to a few per second.
    for i in 0..20 {
        kim_ws
            .send(json!({ "type": "location.update", "id": format!("f{i}"),
                          "data": { "lat": 37.0, "lng": 127.0, "accuracy": 5.0 } }))
            .await;
    }
    let mut passed = 0;
    while lee_ws
        .next_of("location.updated", Duration::from_millis(500))
        .await
        .is_some()
    {
        passed += 1;
    }
    assert!((1..=6).contains(&passed), "{passed} of 20 passed");
    kim_ws
        .send(json!({ "type": "location.stop", "id": "s1" }))
        .await;
    // The flood's acks come first.
    loop {
        let ack = kim_ws.next_of("ack", LIVE).await.expect("ack");
        if ack["id"] == "s1" {
            break;
        }
    }
    let stopped = lee_ws
        .next_of("location.stopped", LIVE)
        .await
        .expect("stopped");
    assert_eq!(stopped["data"]["user_id"], kim.id.to_string());
    // Sharing again, then gone without a word: the partner is told it stopped.
    tokio::time::sleep(Duration::from_secs(1)).await;
    kim_ws
        .ask(
            "location.update",
            "l4",
            json!({ "lat": 37.0, "lng": 127.0, "accuracy": 5.0 }),
        )
        .await;
    lee_ws
        .next_of("location.updated", LIVE)
        .await
        .expect("again");
    drop(kim_ws);
    lee_ws
        .next_of("location.stopped", LIVE)
        .await
        .expect("stopped on close");
    assert!(park_ws
        .next_of("location.updated", Duration::from_secs(1))
        .await
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unmatching_keeps_the_history_readable_stops_writing_and_frees_both() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let matched = couple(&app, &kim, &lee).await;
    let room = matched["room_id"].as_str().unwrap().to_owned();
    let hello = crate::helpers::say(&app, room.parse().unwrap(), &lee, "안녕").await;
    assert_eq!(hello.status, StatusCode::CREATED, "{:?}", hello.body);
    let plan = app
        .post(
            "/couples/me/plans",
            &kim,
            json!({ "title": "여행", "starts_at": Utc::now() + Days::days(9) }),
        )
        .await;
    let plan_id = plan.body["plan_id"].as_str().unwrap().to_owned();
    let mut kim_ws = app.ws(&kim).await;
    let mut lee_ws = app.ws(&lee).await;

    let gone = app
        .request(Method::DELETE, "/couples/me", Some(&kim.token), None, None)
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
    // Own news and the room's come on different subjects: in either order.
    for ws in [&mut kim_ws, &mut lee_ws] {
        let (mut dissolved, mut archived) = (false, false);
        while !(dissolved && archived) {
            let frame = ws.next_frame(LIVE).await.expect("a frame");
            match frame["type"].as_str() {
                Some("couple.dissolved") => {
                    assert_eq!(frame["data"]["room_id"], room.as_str());
                    dissolved = true;
                }
                Some("room.archived") => archived = true,
                _ => {}
            }
        }
    }
    let token = gone.token();
    let send = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &lee,
            json!({ "client_msg_id": uuid::Uuid::now_v7(), "body": "아직 있어?" }),
        )
        .await;
    assert_eq!(send.status, StatusCode::CONFLICT, "{:?}", send.body);
    assert_eq!(send.body["code"], "room_read_only");
    let history = app
        .get_after(&format!("/chat/rooms/{room}/messages"), &kim, &token)
        .await;
    assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
    assert!(history.body.to_string().contains("안녕"));
    let rooms = app.get_after("/chat/rooms", &lee, &token).await;
    let listed = rooms.body["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room_id"] == room.as_str())
        .cloned()
        .unwrap();
    assert_eq!(listed["read_only"], true);
    for path in [
        "/couples/me",
        "/couples/me/plans",
        &format!("/couples/me/plans/{plan_id}"),
    ] {
        let answer = app.get_after(path, &lee, &token).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM couple_jobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "no reminder is pending for a dissolved couple");
    // Both may match again, with someone new.
    let again = couple(&app, &park, &lee).await;
    assert_ne!(again["room_id"], matched["room_id"]);
    let mine = app
        .get_after(
            "/couples/me",
            &lee,
            again["consistency_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(mine.body["partner"]["user_id"], park.id.to_string());
    let feed = app.get("/notifications", &kim).await;
    assert!(feed.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "couple.dissolved"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_partner_hears_of_each_plan_change_and_the_one_who_made_it_does_not() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    couple(&app, &kim, &lee).await;
    let mut kim_ws = app.ws(&kim).await;
    let mut lee_ws = app.ws(&lee).await;
    let starts_at = Utc::now() + Days::days(5);
    let made = app
        .post(
            "/couples/me/plans",
            &lee,
            json!({ "title": "전시회", "starts_at": starts_at, "place": "성수", "memo": "표" }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let plan_id = made.body["plan_id"].as_str().unwrap().to_owned();
    let created = kim_ws
        .next_of("plan.created", LIVE)
        .await
        .expect("plan.created");
    assert_eq!(created["data"]["plan_id"], plan_id.as_str());
    assert_eq!(created["data"]["place"], "성수");
    assert_eq!(created["data"]["updated_by"], lee.id.to_string());
    assert!(created["cursor"].is_string(), "kept in the feed: {created}");

    let moved = app
        .patch(
            &format!("/couples/me/plans/{plan_id}"),
            &kim,
            json!({ "starts_at": starts_at + Days::hours(1), "place": null }),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["place"], Value::Null);
    assert_eq!(moved.body["memo"], "표");
    let updated = lee_ws
        .next_of("plan.updated", LIVE)
        .await
        .expect("plan.updated");
    assert_eq!(updated["data"]["place"], Value::Null);
    let shown = app
        .get_after(
            &format!("/couples/me/plans/{plan_id}"),
            &lee,
            &moved.token(),
        )
        .await;
    assert_eq!(shown.body["starts_at"], moved.body["starts_at"]);
    let blank = app
        .patch(
            &format!("/couples/me/plans/{plan_id}"),
            &kim,
            json!({ "title": " " }),
        )
        .await;
    assert_eq!(
        blank.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        blank.body
    );
    let incomplete = app
        .post("/couples/me/plans", &kim, json!({ "title": "언제?" }))
        .await;
    assert_eq!(incomplete.body["code"], "plan_incomplete");

    let gone = app
        .request(
            Method::DELETE,
            &format!("/couples/me/plans/{plan_id}"),
            Some(&lee.token),
            None,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
    let deleted = kim_ws
        .next_of("plan.deleted", LIVE)
        .await
        .expect("plan.deleted");
    assert_eq!(deleted["data"]["plan_id"], plan_id.as_str());
    let listed = app
        .get_after("/couples/me/plans", &kim, &gone.token())
        .await;
    assert_eq!(listed.body["plans"], json!([]));
    // Lee made and deleted it: Lee was told only of Kim's change (the feed is what was pushed).
    let kinds = |feed: &Value| -> Vec<String> {
        feed["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .filter(|k| k.starts_with("plan."))
            .collect()
    };
    let lee_feed = app.get_after("/notifications", &lee, &gone.token()).await;
    assert_eq!(kinds(&lee_feed.body), ["plan.updated"]);
    let kim_feed = app.get_after("/notifications", &kim, &gone.token()).await;
    assert_eq!(kinds(&kim_feed.body), ["plan.deleted", "plan.created"]);
}
