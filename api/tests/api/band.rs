//! Naver Band imports for clubs, against a fake Band Open API speaking its real shapes
//! (`/v2.1/bands`, `/v2/band/members`, `/v2/band/posts`, `{result_code, result_data}`,
//! `paging.next_params.after`) that can be told to rate-limit or hang, and a fake Naver login
//! through which club members link the identity their Band `user_key` is.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use moim_api::startup::Roles;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::{Fake, Trouble};
use crate::helpers::{eventually, ok, spawn_app_custom, spawn_moim, TestApp, User};
use crate::oauth::{person, Provider};

const TOKEN: &str = "band-access-token-7c2e";
const BAND_KEY: &str = "AADgiaZXPNVHhPl9cIGzPUz";
/// Items per page the fake hands out: five members and five posts are three pages each.
const PAGE: usize = 2;

fn members() -> Vec<Value> {
    [
        "band-kim",
        "band-lee",
        "band-park",
        "band-ghost-1",
        "band-ghost-2",
    ]
    .iter()
    .map(|key| {
        json!({
            "name": key.trim_start_matches("band-"), "description": "", "role": "member",
            "profile_image_url": "https://coresos.phinf.naver.net/a.jpg", "user_key": key
        })
    })
    .collect()
}

fn posts() -> Vec<Value> {
    let authors = [
        "band-lee",
        "band-ghost-1",
        "band-lee",
        "band-park",
        "band-ghost-2",
    ];
    authors
        .iter()
        .enumerate()
        .map(|(n, key)| {
            json!({
                "content": format!("토요일 {n}번째 모임 공지\n코트 {n}번, 셔틀콕은 각자"),
                "post_key": format!("AABd0-post-{n}"),
                "created_at": 1_733_000_000_000_i64 + n as i64,
                "photos": [],
                "comment_count": 0,
                "emotion_count": 1,
                "latest_comments": [],
                "author": {
                    "name": key.trim_start_matches("band-"), "description": "", "role": "member",
                    "profile_image_url": "https://coresos.phinf.naver.net/a.jpg", "user_key": key
                }
            })
        })
        .collect()
}

fn envelope(data: Value) -> Response {
    axum::Json(json!({ "result_code": 1, "result_data": data })).into_response()
}

fn refused() -> Response {
    axum::Json(
        json!({ "result_code": 10401, "result_data": { "message": "invalid access token" } }),
    )
    .into_response()
}

fn authorised(query: &HashMap<String, String>) -> bool {
    query.get("access_token").map(String::as_str) == Some(TOKEN)
}

/// One page of `all` from `after` (an offset), with Band's paging.
fn page(all: Vec<Value>, field: &str, query: &HashMap<String, String>) -> Response {
    let from: usize = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(from).take(PAGE).cloned().collect();
    let next = (from + PAGE < all.len()).then(|| {
        json!({ "after": (from + PAGE).to_string(), "limit": PAGE, "band_key": BAND_KEY,
                "access_token": TOKEN })
    });
    envelope(json!({
        field: items,
        "paging": { "previous_params": null, "next_params": next }
    }))
}

async fn bands(Query(query): Query<HashMap<String, String>>) -> Response {
    if !authorised(&query) {
        return refused();
    }
    envelope(json!({ "bands": [{
        "name": "토요 배드민턴", "band_key": BAND_KEY,
        "cover": "https://coresos.phinf.naver.net/cover.jpg", "member_count": 5
    }] }))
}

async fn band_members(Query(query): Query<HashMap<String, String>>) -> Response {
    if !authorised(&query) || query.get("band_key").map(String::as_str) != Some(BAND_KEY) {
        return refused();
    }
    page(members(), "members", &query)
}

async fn band_posts(Query(query): Query<HashMap<String, String>>) -> Response {
    if !authorised(&query) || query.get("band_key").map(String::as_str) != Some(BAND_KEY) {
        return refused();
    }
    page(posts(), "items", &query)
}

async fn fake_band() -> (String, Arc<Fake>) {
    let router = Router::new()
        .route("/v2.1/bands", get(bands))
        .route("/v2/band/members", get(band_members))
        .route("/v2/band/posts", get(band_posts));
    let fake = Arc::new(Fake::default());
    (Fake::serve(router, fake.clone()).await, fake)
}

async fn club(app: &TestApp, owner: &User) -> String {
    let made = app
        .post(
            "/clubs",
            owner,
            json!({ "name": "토요 배드민턴", "description": "밴드에서 옮겨 옴", "join_policy": "approval" }),
        )
        .await;
    ok(&made, StatusCode::CREATED);
    made.body["club_id"].as_str().unwrap().to_owned()
}

async fn count(app: &TestApp, event_type: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    n
}

/// Polls the job until it is done; answers it and every status seen on the way.
async fn until_done(
    app: &TestApp,
    owner: &User,
    club_id: &str,
    job_id: &str,
) -> (Value, Vec<String>) {
    let mut seen = Vec::new();
    let path = format!("/clubs/{club_id}/band/import/{job_id}");
    for _ in 0..600 {
        let job = app.get(&path, owner).await;
        ok(&job, StatusCode::OK);
        let status = job.body["status"].as_str().unwrap().to_owned();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "done" || status == "failed" {
            return (job.body, seen);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the import did not finish: {seen:?}");
}

#[tokio::test]
async fn an_import_pages_through_members_and_posts_waits_out_a_429_and_adds_nothing_twice() {
    let naver = Provider::start().await;
    let (band_base, band) = fake_band().await;
    let naver_config = naver.config("naver", "/oauth2.0/token", "/v1/nid/me");
    let app = spawn_app_custom(Roles::ALL, move |s| {
        s.oauth = vec![naver_config];
        s.connectors.band.base_url = band_base;
        s.connectors.band.access_token = Some(TOKEN.to_owned().into());
        s.limits.scheduler_poll = Duration::from_millis(100);
    })
    .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    // Lee and Park signed in with Naver: their Band user keys are known.
    for (user, key) in [(&lee, "band-lee"), (&park, "band-park")] {
        let token = naver.sdk_token(&person(key, key));
        ok(
            &app.post(
                "/users/me/identities/naver",
                user,
                json!({ "access_token": token }),
            )
            .await,
            StatusCode::OK,
        );
    }
    let club_id = club(&app, &kim).await;
    let band_path = format!("/clubs/{club_id}/band");
    let import_path = format!("{band_path}/import");

    // Outsiders are told there is no such club; nothing to import before a band is connected.
    let outsider = app
        .post(
            &band_path,
            &lee,
            json!({ "band_key": BAND_KEY, "access_token": TOKEN }),
        )
        .await;
    ok(&outsider, StatusCode::NOT_FOUND);
    assert_eq!(outsider.body["code"], "club_not_found");
    let early = app.post(&import_path, &kim, json!({})).await;
    ok(&early, StatusCode::CONFLICT);
    assert_eq!(early.body["code"], "band_not_connected");
    // Clear refusals for a band the token does not see, a bad token, and no token at all.
    let unknown = app
        .post(
            &band_path,
            &kim,
            json!({ "band_key": "nope", "access_token": TOKEN }),
        )
        .await;
    assert_eq!(unknown.body["code"], "band_not_found");
    let bad = app
        .post(
            &band_path,
            &kim,
            json!({ "band_key": BAND_KEY, "access_token": "wrong" }),
        )
        .await;
    ok(&bad, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["code"], "band_token_rejected");
    // The server's own token is for platform admins only.
    let tokenless = app
        .post(&band_path, &kim, json!({ "band_key": BAND_KEY }))
        .await;
    ok(&tokenless, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(tokenless.body["code"], "band_token_missing");
    app.run_moim(&["admin", "grant", &kim.email]).await;
    let connected = app
        .post(&band_path, &kim, json!({ "band_key": BAND_KEY }))
        .await;
    ok(&connected, StatusCode::OK);
    assert_eq!(connected.body["name"], "토요 배드민턴");

    // Band rate-limits the second page of members once, for a second, and fails the second
    // page of posts once with a 500.
    band.trouble("/v2/band/members", Some("2"), Trouble::RateLimit(1), 1);
    band.trouble("/v2/band/posts", Some("2"), Trouble::Fail, 1);
    let started = app.post(&import_path, &kim, json!({})).await;
    ok(&started, StatusCode::ACCEPTED);
    let job_id = started.body["job_id"].as_str().unwrap().to_owned();
    let again = app.post(&import_path, &kim, json!({})).await;
    if again.body["status"] != "done" {
        ok(&again, StatusCode::OK);
        assert_eq!(
            again.body["job_id"],
            job_id.as_str(),
            "one import at a time"
        );
    }
    let (job, seen) = until_done(&app, &kim, &club_id, &job_id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert!(
        seen.iter().any(|s| s == "waiting_for_rate_limit"),
        "the job said it waited: {seen:?}"
    );
    assert_eq!(job["pages"], 6);
    assert_eq!(job["members_added"], 2);
    assert_eq!(job["members_unmatched"], 3);
    assert_eq!(job["posts_added"], 5);
    assert_eq!(job["posts_existing"], 0);

    // The 429's Retry-After was respected to the second.
    let second_page = band
        .calls("/v2/band/members")
        .into_iter()
        .filter(|c| c.query.get("after").map(String::as_str) == Some("2"))
        .collect::<Vec<_>>();
    assert_eq!(
        second_page.len(),
        2,
        "asked once, refused, asked again: {:?}",
        band.calls("/v2/band/members")
    );
    assert_eq!(second_page[0].status, 429);
    assert!(second_page[1].at - second_page[0].at >= Duration::from_secs(1));

    // Lee and Park are members now; posts are on the club board, Lee's as Lee's.
    let members_after = app.get(&format!("/clubs/{club_id}/members"), &lee).await;
    ok(&members_after, StatusCode::OK);
    assert_eq!(count(&app, "ClubMemberJoined").await, 2);
    assert_eq!(count(&app, "PostCreated").await, 5);
    let (by_lee,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM events WHERE event_type = 'PostCreated' AND payload->'PostCreated'->>'author_id' = $1",
    )
    .bind(lee.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(by_lee, 2);
    let board = format!("/boards/club-{club_id}/posts");
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.get(&board, &park).await.body["posts"]
                .as_array()
                .map(Vec::len)
                == Some(5)
        })
        .await,
        "the club board shows the five posts"
    );

    let posts_second_page: Vec<_> = band
        .calls("/v2/band/posts")
        .into_iter()
        .filter(|c| c.query.get("after").map(String::as_str) == Some("2"))
        .collect();
    assert_eq!(
        posts_second_page.len(),
        2,
        "a 500, then the page after the backoff"
    );
    assert_eq!(posts_second_page[0].status, 500);

    let events_before: (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // A crash after the second page of posts was written but before it was saved: the job is
    // back where that page began, and doing it again stores nothing.
    sqlx::query(
        "UPDATE band_imports SET status = 'running', phase = 'posts', cursor = '2', pages = 4,
                posts_added = 2, finished_at = NULL
         WHERE job_id = $1::uuid",
    )
    .bind(&job_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let (job, _) = until_done(&app, &kim, &club_id, &job_id).await;
    assert_eq!(job["status"], "done");
    assert_eq!(job["posts_added"], 2, "as saved before the crash");
    assert_eq!(
        job["posts_existing"], 3,
        "the repeated pages' posts, found there"
    );
    assert_eq!(count(&app, "PostCreated").await, 5);

    // The same import again: everything is found there, nothing is stored twice.
    let rerun = app.post(&import_path, &kim, json!({})).await;
    ok(&rerun, StatusCode::ACCEPTED);
    let rerun_id = rerun.body["job_id"].as_str().unwrap().to_owned();
    assert_ne!(rerun_id, job_id);
    let (job, _) = until_done(&app, &kim, &club_id, &rerun_id).await;
    assert_eq!(job["members_added"], 0);
    assert_eq!(job["posts_added"], 0);
    assert_eq!(job["posts_existing"], 5);
    let events_after: (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        events_after, events_before,
        "a second import stores nothing"
    );
    // A member who does not run the club sees no job.
    ok(
        &app.get(&format!("{import_path}/{job_id}"), &lee).await,
        StatusCode::FORBIDDEN,
    );
}

#[tokio::test]
async fn an_import_killed_mid_way_resumes_from_its_last_page() {
    let (band_base, band) = fake_band().await;
    // This process serves the API; the imports run in scheduler processes of their own.
    let base = band_base.clone();
    let app = spawn_app_custom(
        Roles {
            scheduler: false,
            ..Roles::ALL
        },
        move |s| s.connectors.band.base_url = base,
    )
    .await;
    let kim = app.register("Kim").await;
    let club_id = club(&app, &kim).await;
    ok(
        &app.post(
            &format!("/clubs/{club_id}/band"),
            &kim,
            json!({ "band_key": BAND_KEY, "access_token": TOKEN }),
        )
        .await,
        StatusCode::OK,
    );
    // The second page of posts hangs the first time it is asked for.
    band.trouble(
        "/v2/band/posts",
        Some("2"),
        Trouble::Slow(Duration::from_secs(120)),
        1,
    );
    let started = app
        .post(&format!("/clubs/{club_id}/band/import"), &kim, json!({}))
        .await;
    ok(&started, StatusCode::ACCEPTED);
    let job_id = started.body["job_id"].as_str().unwrap().to_owned();

    let mut env = app.sandbox_env();
    env.push(("MOIM_BAND_BASE_URL", band_base));
    env.push(("MOIM_SCHEDULER_POLL_MS", "100".into()));
    let mut first = spawn_moim(env.clone(), "scheduler");
    let posts_page = |after: Option<&'static str>| {
        let band = band.clone();
        move || {
            band.calls("/v2/band/posts")
                .iter()
                .filter(|c| c.query.get("after").map(String::as_str) == after)
                .count()
        }
    };
    assert!(
        eventually(Duration::from_secs(30), || {
            let asked = posts_page(Some("2"));
            async move { asked() == 1 }
        })
        .await,
        "the scheduler reached the second page of posts"
    );
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let (pages, posts_added): (i32, i32) =
        sqlx::query_as("SELECT pages, posts_added FROM band_imports WHERE job_id = $1::uuid")
            .bind(&job_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (pages, posts_added),
        (4, 2),
        "three pages of members and one of posts saved"
    );

    let _second = spawn_moim(env, "scheduler");
    let (job, _) = until_done(&app, &kim, &club_id, &job_id).await;
    assert_eq!(job["status"], "done");
    assert_eq!(job["posts_added"], 5);
    assert_eq!(count(&app, "PostCreated").await, 5);
    assert_eq!(
        posts_page(None)(),
        1,
        "the first page was not asked for again"
    );
    assert_eq!(
        posts_page(Some("2"))(),
        2,
        "the page in flight was asked for again"
    );
    assert_eq!(band.calls("/v2/band/members").len(), 3);
}
