//! The notification feed: entries pushed as `notification.created`, pages of unread entries,
//! the unread count, reading one or all (another device of the user, on another API process,
//! hears of it), what is read surviving a resume, and nobody reading someone else's feed.

use std::time::Duration;

use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{ok, spawn_app, Answer, TestApp, User, Ws};

const LIVE: Duration = Duration::from_secs(10);

/// The next `notification.created`, checking the entry's own frame came just before it.
async fn next_entry(ws: &mut Ws) -> Value {
    let own = ws.next_of("comment.created", LIVE).await.expect("the news");
    let entry = ws.next_frame(LIVE).await.expect("its entry");
    assert_eq!(entry["type"], "notification.created", "{entry}");
    assert_eq!(entry["data"]["kind"], "comment.created");
    assert_eq!(
        entry["data"]["notification_id"],
        own["data"]["notification_id"]
    );
    assert_eq!(entry["data"]["data"], own["data"]);
    assert_eq!(entry["data"]["read_at"], Value::Null);
    assert_eq!(entry["data"]["cursor"], own["cursor"]);
    entry["data"].clone()
}

async fn comment(app: &TestApp, post: &str, by: &User, body: &str) -> Answer {
    let made = app
        .post(
            &format!("/posts/{post}/comments"),
            by,
            json!({ "body": body }),
        )
        .await;
    ok(&made, StatusCode::CREATED);
    made
}

fn ids(page: &Answer) -> Vec<Value> {
    page.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["notification_id"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_counts_pages_and_reads_in_step_across_devices() {
    let app = spawn_app().await;
    let other = app
        .instance(Roles {
            api: true,
            ..Roles::NONE
        })
        .await;
    let lee = app.register("Lee").await;
    let kim = app.register("Kim").await;
    let posted = app
        .post(
            "/boards/community/posts",
            &lee,
            json!({ "category": "데이트 코스", "title": "한강 자전거", "body": "여의도에서 출발" }),
        )
        .await;
    ok(&posted, StatusCode::CREATED);
    let post = posted.body["post_id"].as_str().unwrap().to_owned();
    // Lee's phone on this process, Lee's laptop on the other.
    let mut phone = app.ws(&lee).await;
    let mut laptop = other.ws(&lee).await;

    let mut last = None;
    for body in ["좋네요", "저도 가볼게요", "코스 공유 감사"] {
        last = Some(comment(&app, &post, &kim, body).await);
    }
    let mut entries = Vec::new();
    for _ in 0..3 {
        entries.push(next_entry(&mut phone).await);
        next_entry(&mut laptop).await;
    }
    let token = last.unwrap().token();
    let count = app
        .get_after("/notifications/unread-count", &lee, &token)
        .await;
    assert_eq!(count.body, json!({ "unread": 3 }));

    // Two pages of unread entries, newest first, agree with what was pushed.
    let first = app.get("/notifications?unread=true&limit=2", &lee).await;
    ok(&first, StatusCode::OK);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/notifications?unread=true&limit=2&cursor={cursor}"),
            &lee,
        )
        .await;
    assert_eq!(second.body["next_cursor"], Value::Null);
    let mut paged = ids(&first);
    paged.extend(ids(&second));
    let pushed: Vec<Value> = entries
        .iter()
        .rev()
        .map(|e| e["notification_id"].clone())
        .collect();
    assert_eq!(paged, pushed);

    // Kim cannot read Lee's entries, nor see them.
    let oldest = entries[0]["notification_id"].as_str().unwrap().to_owned();
    let path = format!("/notifications/{oldest}/read");
    let foreign = app.post(&path, &kim, json!({})).await;
    ok(&foreign, StatusCode::NOT_FOUND);
    assert_eq!(foreign.body["code"], "notification_not_found");
    assert!(ids(&app.get("/notifications", &kim).await).is_empty());
    let anonymous = app
        .request(Method::GET, "/notifications", None, None, None)
        .await;
    ok(&anonymous, StatusCode::UNAUTHORIZED);
    let bad = app.get("/notifications?cursor=yesterday", &lee).await;
    ok(&bad, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["code"], "bad_cursor");

    // The phone reads one; the laptop hears of it. Reading it again records nothing.
    let read = app.post(&path, &lee, json!({})).await;
    ok(&read, StatusCode::OK);
    let heard = laptop.next_of("notification.read", LIVE).await.unwrap();
    assert_eq!(
        heard["data"],
        json!({ "notification_id": oldest, "unread": 2 })
    );
    let again = app.post(&path, &lee, json!({})).await;
    ok(&again, StatusCode::OK);
    let unread = app
        .get_after("/notifications?unread=true", &lee, &again.token())
        .await;
    assert_eq!(ids(&unread), pushed[..2].to_vec());
    let all = app.get("/notifications", &lee).await;
    assert_eq!(ids(&all), pushed, "read entries stay in the feed");
    assert!(all.body["notifications"][2]["read_at"].is_string());
    let reads: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'inbox' AND aggregate_id = $1",
    )
    .bind(lee.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reads, 1, "the second read recorded nothing");

    // Read all: every entry up to the newest, on every device.
    let all_read = app.post("/notifications/read-all", &lee, json!({})).await;
    ok(&all_read, StatusCode::OK);
    assert_eq!(all_read.body["through"], entries[2]["cursor"]);
    let heard = laptop.next_of("notification.read", LIVE).await.unwrap();
    assert_eq!(
        heard["data"],
        json!({ "through": entries[2]["cursor"], "unread": 0 })
    );
    let count = app
        .get_after("/notifications/unread-count", &lee, &all_read.token())
        .await;
    assert_eq!(count.body, json!({ "unread": 0 }));

    // A fourth comment while the phone is away: a resume brings its news and its entry; the
    // entries replayed before it show as read.
    drop(phone);
    let fourth = comment(&app, &post, &kim, "다음엔 같이").await;
    let fresh = next_entry(&mut laptop).await;
    let count = app
        .get_after("/notifications/unread-count", &lee, &fourth.token())
        .await;
    assert_eq!(count.body, json!({ "unread": 1 }));
    let mut phone = app.ws(&lee).await;
    let after = entries[1]["cursor"].clone();
    phone
        .send(json!({ "type": "resume", "id": "r", "data": { "after": after } }))
        .await;
    let mut replayed = Vec::new();
    loop {
        let frame = phone.next_frame(LIVE).await.unwrap();
        if frame["type"] == "resumed" {
            break;
        }
        if frame["type"] == "notification.created" {
            replayed.push(frame["data"].clone());
        }
    }
    assert_eq!(replayed.len(), 2, "{replayed:?}");
    assert!(replayed[0]["read_at"].is_string());
    assert_eq!(replayed[1]["notification_id"], fresh["notification_id"]);
    assert_eq!(replayed[1]["read_at"], Value::Null);
}

async fn kinds(app: &TestApp, user: &User, token: &str) -> Vec<Value> {
    let feed = app.get_after("/notifications", user, token).await;
    feed.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].clone())
        .collect()
}

#[tokio::test]
async fn a_mention_tells_the_one_named_once_and_only_someone_who_can_read_it() {
    let app = spawn_app().await;
    let lee = app.register("Lee").await;
    let kim = app.register("Kim").await;
    let park = app.register("Park").await;
    let posted = app
        .post(
            "/boards/community/posts",
            &lee,
            json!({ "category": "데이트 코스", "title": "남산", "body": "케이블카" }),
        )
        .await;
    let post = posted.body["post_id"].as_str().unwrap().to_owned();
    let path = format!("/posts/{post}/comments");
    // Kim names Park, Lee (already told as the post's author) and Kim: Park hears once.
    let named = app
        .post(
            &path,
            &kim,
            json!({ "body": "@Park @Lee 여기 어때", "mentions": [park.id, lee.id, kim.id, park.id] }),
        )
        .await;
    ok(&named, StatusCode::CREATED);
    let token = named.token();
    assert_eq!(
        kinds(&app, &park, &token).await,
        [json!("comment.mentioned")]
    );
    assert_eq!(kinds(&app, &lee, &token).await, [json!("comment.created")]);
    assert!(kinds(&app, &kim, &token).await.is_empty());

    // Nobody is named who could not open the post; nor more than ten at once.
    let stranger = uuid::Uuid::now_v7();
    let unseen = app
        .post(&path, &kim, json!({ "body": "?", "mentions": [stranger] }))
        .await;
    ok(&unseen, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unseen.body["code"], "bad_mention");
    let crowd: Vec<_> = (0..11).map(|_| uuid::Uuid::now_v7()).collect();
    let crowded = app
        .post(&path, &kim, json!({ "body": "?", "mentions": crowd }))
        .await;
    ok(&crowded, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crowded.body["code"], "too_many_mentions");
}
