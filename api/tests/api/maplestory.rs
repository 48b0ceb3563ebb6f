//! MapleStory characters on profiles, against a fake Nexon Open API speaking its real shapes
//! (`x-nxopen-api-key`, `/maplestory/v1/id`, `/character/basic`, `/character/stat`, its
//! `{"error": {"name": "OPENAPI…"}}` refusals) that can be told to be slow, fail or rate-limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::fakes::{Fake, Trouble};
use crate::helpers::{eventually, ok, spawn_app_custom, Answer, MoimChild, Sandbox, TestApp, User};

const KEY: &str = "test_nexon_key_5f1c0e";

/// What the fake game knows: name → (ocid, level).
#[derive(Default)]
struct Game {
    characters: Mutex<HashMap<String, (String, u32)>>,
}

struct Nexon {
    base: String,
    fake: Arc<Fake>,
    game: Arc<Game>,
}

impl Nexon {
    async fn start() -> Self {
        let game = Arc::new(Game::default());
        game.characters
            .lock()
            .unwrap()
            .insert("단풍잎".into(), ("ocid-maple-1".into(), 285));
        let router = Router::new()
            .route("/maplestory/v1/id", get(id))
            .route("/maplestory/v1/character/{kind}", get(character))
            .with_state(game.clone());
        let fake = Arc::new(Fake::default());
        let base = Fake::serve(router, fake.clone()).await;
        Self { base, fake, game }
    }

    fn level_up(&self, name: &str, level: u32) {
        let mut characters = self.game.characters.lock().unwrap();
        characters.get_mut(name).unwrap().1 = level;
    }
}

fn nexon_error(status: AxumStatus, name: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "name": name, "message": message } })),
    )
        .into_response()
}

/// Nexon's refusal of a request without the right key, if this one lacks it.
fn unkeyed(headers: &HeaderMap) -> Option<Response> {
    if headers
        .get("x-nxopen-api-key")
        .and_then(|v| v.to_str().ok())
        == Some(KEY)
    {
        return None;
    }
    Some(nexon_error(
        AxumStatus::BAD_REQUEST,
        "OPENAPI00005",
        "Please input valid parameter",
    ))
}

fn by_ocid(game: &Game, ocid: &str) -> Option<(String, u32)> {
    let characters = game.characters.lock().unwrap();
    characters
        .iter()
        .find(|(_, (id, _))| id == ocid)
        .map(|(name, (_, level))| (name.clone(), *level))
}

async fn id(
    State(game): State<Arc<Game>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = unkeyed(&headers) {
        return refused;
    }
    let name = query.get("character_name").cloned().unwrap_or_default();
    match game.characters.lock().unwrap().get(&name) {
        Some((ocid, _)) => axum::Json(json!({ "ocid": ocid })).into_response(),
        None => nexon_error(
            AxumStatus::BAD_REQUEST,
            "OPENAPI00004",
            "Please input valid parameter",
        ),
    }
}

/// `/character/basic` and `/character/stat` of the character an `ocid` names.
async fn character(
    State(game): State<Arc<Game>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = unkeyed(&headers) {
        return refused;
    }
    let Some((name, level)) = by_ocid(&game, query.get("ocid").map_or("", String::as_str)) else {
        return nexon_error(
            AxumStatus::BAD_REQUEST,
            "OPENAPI00003",
            "Please input valid id",
        );
    };
    let answer = if kind == "basic" {
        json!({
            "date": null,
            "character_name": name,
            "world_name": "스카니아",
            "character_gender": "여",
            "character_class": "아크메이지(썬,콜)",
            "character_class_level": "6",
            "character_level": level,
            "character_exp": 12_345_678,
            "character_exp_rate": "12.345",
            "character_guild_name": "단풍길드",
            "character_image": "https://open.api.nexon.com/static/maplestory/character/look/ABC",
            "character_date_create": "2019-07-18T00:00+09:00",
            "access_flag": "true",
            "liberation_quest_clear_flag": "true"
        })
    } else {
        json!({
            "date": null,
            "character_class": "아크메이지(썬,콜)",
            "final_stat": [
                { "stat_name": "최소 스탯공격력", "stat_value": "1234567" },
                { "stat_name": "STR", "stat_value": "1024" },
                { "stat_name": "DEX", "stat_value": "980" },
                { "stat_name": "INT", "stat_value": "65432" },
                { "stat_name": "LUK", "stat_value": "4321" },
                { "stat_name": "HP", "stat_value": "54321" },
                { "stat_name": "MP", "stat_value": "87654" },
                { "stat_name": "전투력", "stat_value": "43383492" }
            ],
            "remain_ap": 0
        })
    };
    axum::Json(answer).into_response()
}

async fn with_nexon(tweak: impl FnOnce(&mut moim_api::config::Settings)) -> (TestApp, Nexon) {
    let nexon = Nexon::start().await;
    let base = nexon.base.clone();
    let app = spawn_app_custom(Roles::ALL, move |s| {
        s.connectors.maplestory.base_url = base;
        s.connectors.maplestory.api_key = Some(KEY.to_owned().into());
        s.connectors.timeout = Duration::from_millis(800);
        s.connectors.first_backoff = Duration::from_millis(300);
        tweak(s);
    })
    .await;
    (app, nexon)
}

const LINK: &str = "/users/me/game-characters/maplestory";

/// `user` links the MapleStory character named `name`.
async fn link(app: &TestApp, user: &User, name: &str) -> Answer {
    app.request(
        Method::PUT,
        LINK,
        Some(&user.token),
        Some(json!({ "character_name": name })),
        None,
    )
    .await
}

#[tokio::test]
async fn a_character_is_linked_with_its_card_and_stats_fetched_at_once_then_read_from_cache() {
    let (app, nexon) = with_nexon(|s| s.rates.character_lookups_per_user.max = 3).await;
    // Each of basic and stat takes a while: asked one after the other, never two at once.
    nexon.fake.trouble(
        "/character/basic",
        None,
        Trouble::Slow(Duration::from_millis(300)),
        1,
    );
    nexon.fake.trouble(
        "/character/stat",
        None,
        Trouble::Slow(Duration::from_millis(300)),
        1,
    );
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;

    let linked = link(&app, &kim, "단풍잎").await;
    ok(&linked, StatusCode::OK);
    let card = &linked.body;
    assert_eq!(card["game"], "maplestory");
    assert_eq!(card["character_id"], "ocid-maple-1");
    assert_eq!(card["name"], "단풍잎");
    assert_eq!(card["world"], "스카니아");
    assert_eq!(card["class"], "아크메이지(썬,콜)");
    assert_eq!(card["level"], 285);
    assert_eq!(card["guild"], "단풍길드");
    assert!(card["image_url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(card["combat_power"], 43_383_492);
    assert_eq!(card["stats"]["INT"], "65432");
    assert_eq!(card["stale"], false);
    assert_eq!(
        nexon.fake.max_in_flight(),
        2,
        "basic and stat were asked for at the same time"
    );
    let upstream_calls =
        || ["/id", "/character/basic", "/character/stat"].map(|p| nexon.fake.calls(p).len());
    assert_eq!(upstream_calls(), [1, 1, 1]);

    // Anyone signed in reads it — from the cache, without a call upstream.
    let token = linked.body["consistency_token"].as_str().unwrap();
    for _ in 0..3 {
        let read = app
            .get_after(&format!("/users/{}/game-characters", kim.id), &lee, token)
            .await;
        ok(&read, StatusCode::OK);
        assert_eq!(read.body["items"][0]["name"], "단풍잎");
        assert_eq!(read.body["items"][0]["stale"], false);
    }
    assert_eq!(upstream_calls(), [1, 1, 1], "a fresh copy asks nobody");
    let none = app
        .get(&format!("/users/{}/game-characters", lee.id), &kim)
        .await;
    ok(&none, StatusCode::OK);
    assert_eq!(none.body["items"], json!([]));

    // A refresh asks again; with the link, three lookups an hour here.
    nexon.level_up("단풍잎", 286);
    let refreshed = app.post(&format!("{LINK}/refresh"), &kim, json!({})).await;
    ok(&refreshed, StatusCode::OK);
    assert_eq!(refreshed.body["level"], 286);
    ok(
        &app.post(&format!("{LINK}/refresh"), &kim, json!({})).await,
        StatusCode::OK,
    );
    let third = app.post(&format!("{LINK}/refresh"), &kim, json!({})).await;
    ok(&third, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.body["code"], "rate_limited");

    // Clear 4xx answers for what cannot be.
    let unknown = link(&app, &lee, "없는캐릭").await;
    ok(&unknown, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["code"], "character_not_found");
    let blank = link(&app, &lee, " ").await;
    ok(&blank, StatusCode::UNPROCESSABLE_ENTITY);
    let other_game = app
        .request(
            Method::PUT,
            "/users/me/game-characters/lol",
            Some(&lee.token),
            Some(json!({ "character_name": "Faker" })),
            None,
        )
        .await;
    ok(&other_game, StatusCode::NOT_FOUND);
    assert_eq!(other_game.body["code"], "game_not_supported");
    let nobody = app
        .get(
            &format!("/users/{}/game-characters", uuid::Uuid::new_v4()),
            &kim,
        )
        .await;
    ok(&nobody, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&format!("{LINK}/refresh"), &lee, json!({}))
            .await
            .body["code"],
        "character_not_linked"
    );

    // Unlinked, it is gone from the profile.
    let unlinked = app.delete(LINK, &kim).await;
    ok(&unlinked, StatusCode::OK);
    let token = unlinked.body["consistency_token"].as_str().unwrap();
    let read = app
        .get_after(&format!("/users/{}/game-characters", kim.id), &lee, token)
        .await;
    assert_eq!(read.body["items"], json!([]));
    ok(&app.delete(LINK, &kim).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn when_the_api_is_down_or_slow_the_stale_copy_is_served_and_without_one_a_503() {
    // Every copy is old at once: each read asks the API.
    let (app, nexon) = with_nexon(|s| s.connectors.maplestory.cache_ttl = Duration::ZERO).await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let linked = link(&app, &kim, "단풍잎").await;
    ok(&linked, StatusCode::OK);
    let token = linked.body["consistency_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = || async {
        app.get_after(&format!("/users/{}/game-characters", kim.id), &lee, &token)
            .await
    };

    // Down: the copy, marked stale.
    nexon.fake.trouble("/character/", None, Trouble::Fail, 2);
    let stale = read().await;
    ok(&stale, StatusCode::OK);
    assert_eq!(stale.body["items"][0]["stale"], true);
    assert_eq!(stale.body["items"][0]["level"], 285);
    // The failure closed the gate: the next read does not call at all.
    let calls = nexon.fake.calls("/character/basic").len();
    let again = read().await;
    assert_eq!(again.body["items"][0]["stale"], true);
    assert_eq!(nexon.fake.calls("/character/basic").len(), calls);

    // No copy to fall back on: linking while it is down is a clear 503.
    tokio::time::sleep(Duration::from_secs(1)).await;
    nexon.fake.trouble("/id", None, Trouble::Fail, 1);
    let refused = link(&app, &lee, "단풍잎").await;
    ok(&refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.body["code"], "upstream_unavailable");
    assert_eq!(refused.content_type, "application/problem+json");

    // Slower than the timeout (800 ms here) counts as down: the copy again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    nexon.fake.trouble(
        "/character/basic",
        None,
        Trouble::Slow(Duration::from_secs(5)),
        1,
    );
    let slow = read().await;
    ok(&slow, StatusCode::OK);
    assert_eq!(slow.body["items"][0]["stale"], true);

    // Back up: fresh again.
    assert!(
        eventually(Duration::from_secs(10), || async {
            read().await.body["items"][0]["stale"] == false
        })
        .await
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_its_retry_after_says() {
    let (app, nexon) = with_nexon(|s| s.rates.character_lookups_per_user.max = 1000).await;
    let kim = app.register("Kim").await;
    ok(&link(&app, &kim, "단풍잎").await, StatusCode::OK);
    nexon
        .fake
        .trouble("/character/", None, Trouble::RateLimit(2), 2);
    let limited = app.post(&format!("{LINK}/refresh"), &kim, json!({})).await;
    ok(&limited, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(limited.body["code"], "upstream_unavailable");

    // Asked again and again meanwhile, Moim sends nothing until the two seconds have passed.
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.post(&format!("{LINK}/refresh"), &kim, json!({}))
                .await
                .status
                == StatusCode::OK
        })
        .await
    );
    let calls = nexon.fake.calls("/character/basic");
    let told = calls.iter().find(|c| c.status == 429).expect("the 429").at;
    let next = calls
        .iter()
        .filter(|c| c.at > told)
        .map(|c| c.at)
        .min()
        .expect("a call after it");
    assert!(
        next - told >= Duration::from_secs(2),
        "the next call came {:?} after the 429",
        next - told
    );
    assert_eq!(
        calls.iter().filter(|c| c.at > told).count(),
        1,
        "only the call that succeeded"
    );
}

#[tokio::test]
async fn linked_characters_are_refreshed_in_the_background() {
    let (app, nexon) = with_nexon(|s| {
        s.connectors.maplestory.cache_ttl = Duration::from_secs(1);
        s.connectors.refresh_every = Duration::from_millis(200);
    })
    .await;
    let kim = app.register("Kim").await;
    let linked = link(&app, &kim, "단풍잎").await;
    ok(&linked, StatusCode::OK);
    nexon.level_up("단풍잎", 290);
    // Nobody reads; the scheduler asks the API once the copy is a second old.
    assert!(
        eventually(Duration::from_secs(10), || async {
            let level: Option<(i64,)> = sqlx::query_as(
                "SELECT (data->>'level')::bigint FROM game_character_cache WHERE character_id = 'ocid-maple-1'",
            )
            .fetch_optional(&app.pool)
            .await
            .unwrap();
            level == Some((290,))
        })
        .await,
        "the background refresh brought level 290"
    );
    assert!(nexon.fake.calls("/character/basic").len() >= 2);
}

#[tokio::test]
async fn the_api_key_is_never_logged() {
    let nexon = Nexon::start().await;
    let sandbox = Sandbox::new().await;
    let base = nexon.base.clone();
    let moim = MoimChild::start(
        sandbox.env(),
        &[
            ("MOIM_MAPLESTORY_BASE_URL", &base),
            ("MOIM_MAPLESTORY_API_KEY", KEY),
            ("RUST_LOG", "debug"),
        ],
    )
    .await;
    let (_, token) = moim.register("Kim", "correct horse").await;
    let http = reqwest::Client::new();
    let link = |name: &'static str| {
        http.put(moim.api(LINK))
            .bearer_auth(&token)
            .json(&json!({ "character_name": name }))
            .send()
    };
    assert_eq!(link("단풍잎").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        link("없는캐릭").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    nexon.fake.trouble("/id", None, Trouble::Fail, 1);
    assert_eq!(
        link("단풍잎").await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = moim.lines.lock().unwrap();
    assert!(lines.len() > 20, "debug logging ran: {} lines", lines.len());
    assert!(!lines.iter().any(|l| l.contains(KEY)), "the key was logged");
}
