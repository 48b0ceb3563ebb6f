//! Photo uploads: types decided from bytes, the bounds (size, pixels, rate), thumbnails without
//! EXIF, the object store, access by use, signed addresses, dedup and removal. Test images are
//! made here with the `image` crate; nothing large is committed.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use commands::Commands;
use domain::testing::FixedServices;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageEncoder, ImageFormat, Rgb, RgbImage};
use moim_api::media::MediaStore;
use moim_api::scheduler::Scheduler;
use moim_api::startup::Roles;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{eventually, ok, spawn_app, spawn_app_custom, TestApp, User};

fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// EXIF as a phone writes it: "rotate 90° clockwise to view" and a GPS position.
fn phone_exif() -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    // IFD0: two entries, Orientation = 6, GPSInfo -> offset 38; no next IFD.
    tiff.extend_from_slice(&[0, 2]);
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    // GPS IFD: GPSLatitudeRef = "N", GPSLongitudeRef = "E".
    tiff.extend_from_slice(&[0, 2]);
    tiff.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&[0, 3, 0, 2, 0, 0, 0, 2, b'E', 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff
}

fn phone_jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_pixel(width, height, Rgb([90, 140, 200]));
    let mut bytes = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut bytes, 90);
    encoder.set_exif_metadata(phone_exif()).unwrap();
    encoder
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    bytes
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A few dozen bytes claiming 50,000 × 50,000 pixels: 7.5 GB once decoded.
fn bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = 50_000_u32.to_be_bytes().to_vec();
    header.extend_from_slice(&50_000_u32.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend(chunk(b"IHDR", &header));
    png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0, 0, 0, 0, 1]));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn media_id(answer: &crate::helpers::Answer) -> Uuid {
    answer.body["media_id"].as_str().unwrap().parse().unwrap()
}

/// A GET of media bytes: with `user`'s token, or none (a signed `path` carries its own).
async fn fetch(app: &TestApp, path: &str, user: Option<&User>) -> reqwest::Response {
    let url = if path.starts_with("/api/") {
        format!("{}{path}", app.address)
    } else {
        format!("{}/api/v1{path}", app.address)
    };
    let mut request = app.http.get(url);
    if let Some(user) = user {
        request = request.bearer_auth(&user.token);
    }
    request.send().await.unwrap()
}

fn has_exif(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == b"Exif\0\0")
}

#[tokio::test]
async fn the_type_comes_from_the_bytes_and_every_bad_file_gets_a_clear_4xx() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    for (format, mime) in [
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::Png, "image/png"),
        (ImageFormat::WebP, "image/webp"),
        (ImageFormat::Gif, "image/gif"),
    ] {
        // Named and typed as something else: the bytes decide.
        let sent = app
            .upload(&kim, picture(640, 480, format), "notes.txt", "text/plain")
            .await;
        ok(&sent, StatusCode::CREATED);
        assert_eq!(sent.body["content_type"], mime);
        assert_eq!(
            (sent.body["width"].clone(), sent.body["height"].clone()),
            (json!(640), json!(480))
        );
        assert!(
            sent.body["thumbnail_url"].is_string(),
            "{mime}: {:?}",
            sent.body
        );
    }
    // HEIC is kept (no decoder: no size, no thumbnail).
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08mdat".to_vec();
    let kept = app.upload(&kim, heic, "IMG_0001.HEIC", "image/heic").await;
    ok(&kept, StatusCode::CREATED);
    assert_eq!(kept.body["content_type"], "image/heic");
    assert_eq!(kept.body["thumbnail_url"], Value::Null);

    let lie = app
        .upload(
            &kim,
            b"%PDF-1.7\n1 0 obj".to_vec(),
            "photo.jpg",
            "image/jpeg",
        )
        .await;
    ok(&lie, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(lie.body["code"], "unsupported_media_type");
    let boom = app.upload(&kim, bomb(), "tiny.png", "image/png").await;
    ok(&boom, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(boom.body["code"], "image_too_large");
    let mut truncated = picture(800, 600, ImageFormat::Jpeg);
    truncated.truncate(truncated.len() / 3);
    let cut = app.upload(&kim, truncated, "cut.jpg", "image/jpeg").await;
    ok(&cut, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(cut.body["code"], "corrupt_image");
    let empty = app
        .upload(&kim, Vec::new(), "empty.jpg", "image/jpeg")
        .await;
    ok(&empty, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty.body["code"], "empty_file");
    let huge = app
        .upload(
            &kim,
            vec![0xff; 10 * 1024 * 1024 + 1],
            "big.jpg",
            "image/jpeg",
        )
        .await;
    ok(&huge, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(huge.body["code"], "file_too_large");
    assert_eq!(huge.content_type, "application/problem+json");
    let no_form = app.post("/media", &kim, json!({ "file": "x" })).await;
    ok(&no_form, StatusCode::BAD_REQUEST);
    assert_eq!(no_form.body["code"], "bad_multipart");
    // Everyone else notices nothing.
    ok(&app.get("/users/me", &kim).await, StatusCode::OK);
}

#[tokio::test]
async fn what_is_served_is_upright_has_no_exif_and_the_thumbnail_fits_320() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let original = phone_jpeg(1200, 800);
    assert!(has_exif(&original));
    let sent = app
        .upload(&kim, original, "IMG_1234.JPG", "image/jpeg")
        .await;
    ok(&sent, StatusCode::CREATED);
    // Orientation 6: stored 1200 × 800, seen 800 × 1200.
    assert_eq!(
        (sent.body["width"].clone(), sent.body["height"].clone()),
        (json!(800), json!(1200))
    );
    let id = media_id(&sent);

    let served = fetch(&app, &format!("/media/{id}"), Some(&kim)).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    let bytes = served.bytes().await.unwrap();
    assert!(!has_exif(&bytes), "the original is served without EXIF");
    let image = image::load_from_memory(&bytes).unwrap();
    assert_eq!((image.width(), image.height()), (800, 1200));

    let thumb = fetch(&app, &format!("/media/{id}/thumbnail"), Some(&kim)).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let bytes = thumb.bytes().await.unwrap();
    assert!(!has_exif(&bytes));
    let small = image::load_from_memory(&bytes).unwrap();
    assert_eq!((small.width(), small.height()), (213, 320));
}

#[tokio::test]
async fn the_same_bytes_twice_are_one_upload_ranges_and_etags_work() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let bytes = picture(300, 200, ImageFormat::Png);
    let first = app.upload(&kim, bytes.clone(), "a.png", "image/png").await;
    ok(&first, StatusCode::CREATED);
    let again = app.upload(&kim, bytes.clone(), "b.png", "image/png").await;
    ok(&again, StatusCode::OK);
    assert_eq!(media_id(&first), media_id(&again));
    let theirs = app.upload(&lee, bytes.clone(), "a.png", "image/png").await;
    ok(&theirs, StatusCode::CREATED);
    assert_ne!(media_id(&first), media_id(&theirs));
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'MediaUploaded'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 2);

    let id = media_id(&first);
    let full = fetch(&app, &format!("/media/{id}"), Some(&kim)).await;
    let etag = full.headers()["etag"].to_str().unwrap().to_owned();
    assert!(full.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("private"));
    let full = full.bytes().await.unwrap();
    assert_eq!(full.as_ref(), bytes.as_slice());
    let part = app
        .http
        .get(format!("{}/api/v1/media/{id}", app.address))
        .bearer_auth(&kim.token)
        .header("range", "bytes=10-29")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-29/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[10..30]);
    let outside = app
        .http
        .get(format!("{}/api/v1/media/{id}", app.address))
        .bearer_auth(&kim.token)
        .header("range", format!("bytes={}-", bytes.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let cached = app
        .http
        .get(format!("{}/api/v1/media/{id}", app.address))
        .bearer_auth(&kim.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn who_sees_a_photo_follows_where_it_is_used() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let hana = app.register("Hana").await;
    let guess = |user: &User, id: Uuid| {
        let path = format!("/media/{id}");
        let user = user.clone();
        let app = &app;
        async move { fetch(app, &path, Some(&user)).await.status() }
    };

    // Unused: its owner only; a guessed id reveals nothing.
    let unused = media_id(
        &app.upload(
            &kim,
            picture(64, 64, ImageFormat::Png),
            "u.png",
            "image/png",
        )
        .await,
    );
    assert_eq!(guess(&kim, unused).await, StatusCode::OK);
    assert_eq!(guess(&lee, unused).await, StatusCode::NOT_FOUND);
    assert_eq!(guess(&lee, Uuid::now_v7()).await, StatusCode::NOT_FOUND);
    ok(
        &app.get(&format!("/media/{unused}/urls"), &lee).await,
        StatusCode::NOT_FOUND,
    );
    assert_eq!(
        fetch(&app, &format!("/media/{unused}"), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Someone else's upload cannot be used: not in a message, a post or a profile.
    let room = app.create_room(&kim, &[&lee]).await;
    let stolen = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &lee,
            json!({ "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": unused }),
        )
        .await;
    ok(&stolen, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stolen.body["code"], "media_not_found");
    let post = app
        .post(
            "/boards/community/posts",
            &lee,
            json!({ "category": "잡담", "title": "t", "body": "b", "media_ids": [unused] }),
        )
        .await;
    ok(&post, StatusCode::UNPROCESSABLE_ENTITY);
    let avatar = app
        .patch("/users/me", &lee, json!({ "avatar_media_id": unused }))
        .await;
    ok(&avatar, StatusCode::UNPROCESSABLE_ENTITY);

    // In a room: its members; a member of another room gets 404.
    let photo = media_id(
        &app.upload(
            &kim,
            picture(64, 48, ImageFormat::Jpeg),
            "r.jpg",
            "image/jpeg",
        )
        .await,
    );
    let sent = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": photo, "body": "우리" }),
        )
        .await;
    ok(&sent, StatusCode::CREATED);
    assert_eq!(sent.body["kind"], "image");
    assert_eq!(sent.body["media_id"], json!(photo));
    let other_room = app.create_room(&hana, &[]).await;
    assert!(other_room != room);
    assert_eq!(guess(&lee, photo).await, StatusCode::OK);
    assert_eq!(guess(&hana, photo).await, StatusCode::NOT_FOUND);
    let history = app
        .get_after(&format!("/chat/rooms/{room}/messages"), &lee, &sent.token())
        .await;
    assert_eq!(
        history.body["messages"][0]["kind"], "image",
        "{:?}",
        history.body
    );
    assert_eq!(history.body["messages"][0]["media_id"], json!(photo));
    let links = app.get(&format!("/media/{photo}/urls"), &lee).await;
    ok(&links, StatusCode::OK);
    // A signed address needs no bearer token.
    let signed = links.body["thumbnail_url"].as_str().unwrap();
    assert_eq!(fetch(&app, signed, None).await.status(), StatusCode::OK);

    // In a club's post: its members.
    let club: Uuid = app
        .post(
            "/clubs",
            &kim,
            json!({ "name": "셔틀콕", "description": "d", "join_policy": "open" }),
        )
        .await
        .body["club_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    ok(
        &app.post(&format!("/clubs/{club}/join"), &lee, json!({}))
            .await,
        StatusCode::OK,
    );
    let match_photo = media_id(
        &app.upload(
            &kim,
            picture(80, 60, ImageFormat::Png),
            "m.png",
            "image/png",
        )
        .await,
    );
    let posted = app
        .post(
            &format!("/boards/club-{club}/posts"),
            &kim,
            json!({ "category": "경기", "title": "결승", "body": "사진", "media_ids": [match_photo] }),
        )
        .await;
    ok(&posted, StatusCode::CREATED);
    assert_eq!(guess(&lee, match_photo).await, StatusCode::OK);
    assert_eq!(guess(&hana, match_photo).await, StatusCode::NOT_FOUND);

    // On the community board and as an avatar: everyone signed in.
    let board_photo = media_id(
        &app.upload(
            &lee,
            picture(90, 60, ImageFormat::Png),
            "b.png",
            "image/png",
        )
        .await,
    );
    ok(
        &app.post(
            "/boards/community/posts",
            &lee,
            json!({ "category": "잡담", "title": "t", "body": "b", "media_ids": [board_photo] }),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(guess(&hana, board_photo).await, StatusCode::OK);
    let face = media_id(
        &app.upload(
            &hana,
            picture(100, 100, ImageFormat::Jpeg),
            "me.jpg",
            "image/jpeg",
        )
        .await,
    );
    let set = app
        .patch("/users/me", &hana, json!({ "avatar_media_id": face }))
        .await;
    ok(&set, StatusCode::OK);
    assert_eq!(guess(&kim, face).await, StatusCode::OK);
    let profile = app
        .get_after(&format!("/users/{}", hana.id), &kim, &set.token())
        .await;
    let avatar_url = profile.body["avatar_url"].as_str().unwrap().to_owned();
    assert_eq!(
        fetch(&app, &avatar_url, None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_signed_address_expires_and_names_one_file() {
    let app = spawn_app_custom(Roles::ALL, |s| s.media.url_ttl = Duration::from_secs(1)).await;
    let kim = app.register("Kim").await;
    let sent = app
        .upload(
            &kim,
            picture(50, 50, ImageFormat::Png),
            "a.png",
            "image/png",
        )
        .await;
    let other = app
        .upload(
            &kim,
            picture(60, 50, ImageFormat::Png),
            "b.png",
            "image/png",
        )
        .await;
    let url = sent.body["url"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&app, &url, None).await.status(), StatusCode::OK);
    // The token of one file does not open another, nor the thumbnail of the same.
    let token = url.split("token=").nth(1).unwrap();
    let elsewhere = format!("/api/v1/media/{}?token={token}", media_id(&other));
    let refused = fetch(&app, &elsewhere, None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let thumb = format!("/api/v1/media/{}/thumbnail?token={token}", media_id(&sent));
    assert_eq!(
        fetch(&app, &thumb, None).await.status(),
        StatusCode::FORBIDDEN
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = fetch(&app, &url, None).await;
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["code"], "link_expired");
}

#[tokio::test]
async fn uploads_are_rate_limited_per_user_across_processes() {
    let app = spawn_app_custom(Roles::ALL, |s| s.rates.uploads_per_user.max = 2).await;
    let api_only = Roles {
        api: true,
        ..Roles::NONE
    };
    let other = app
        .instance_with(api_only, |s| s.rates.uploads_per_user.max = 2)
        .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    for (side, process) in [(10, &app), (11, &other)] {
        let sent = process
            .upload(
                &kim,
                picture(side, side, ImageFormat::Png),
                "a.png",
                "image/png",
            )
            .await;
        ok(&sent, StatusCode::CREATED);
    }
    let third = app
        .upload(
            &kim,
            picture(12, 12, ImageFormat::Png),
            "a.png",
            "image/png",
        )
        .await;
    ok(&third, StatusCode::TOO_MANY_REQUESTS);
    // Lee's own limit is untouched.
    let theirs = app
        .upload(
            &lee,
            picture(12, 12, ImageFormat::Png),
            "a.png",
            "image/png",
        )
        .await;
    ok(&theirs, StatusCode::CREATED);
}

#[tokio::test]
async fn unused_uploads_and_the_photos_of_deleted_messages_and_posts_are_removed() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let js = async_nats::jetstream::new(
        async_nats::connect(crate::helpers::nats_url())
            .await
            .unwrap(),
    );
    let store = MediaStore::open(&js, &app.subjects()).await.unwrap();
    let object_of = |answer: &crate::helpers::Answer| media_id(answer);
    let objects = |app: &TestApp, id: Uuid| {
        let pool = app.pool.clone();
        async move {
            let names: Vec<(String,)> = sqlx::query_as(
                "SELECT payload->'MediaUploaded'->>'object' FROM events
                 WHERE aggregate_type = 'media' AND aggregate_id = $1 AND event_type = 'MediaUploaded'",
            )
            .bind(id.to_string())
            .fetch_all(&pool)
            .await
            .unwrap();
            names.into_iter().map(|(n,)| n).collect::<Vec<_>>()
        }
    };

    // Unused for a day: removed by the scheduler, bytes and all.
    let unused = app
        .upload(
            &kim,
            picture(40, 40, ImageFormat::Png),
            "u.png",
            "image/png",
        )
        .await;
    let unused_id = object_of(&unused);
    let unused_object = objects(&app, unused_id).await.remove(0);
    assert!(store.get(&unused_object).await.unwrap().is_some());
    let later = Utc::now() + chrono::Duration::hours(25);
    let clock = Arc::new(FixedServices::at(later));
    let scheduler = Scheduler::new(
        app.pool.clone(),
        Commands::with_services(app.pool.clone(), clock.clone()),
        clock,
        Duration::from_secs(1),
    )
    .with_media(store.clone());
    assert!(
        eventually(Duration::from_secs(10), || async {
            scheduler.tick(later).await.unwrap();
            store.get(&unused_object).await.unwrap().is_none()
        })
        .await,
        "the unused upload's bytes are gone"
    );
    assert!(store
        .get(&format!("{unused_object}.thumb"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        fetch(&app, &format!("/media/{unused_id}"), Some(&kim))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // A deleted message's photo: removed at once.
    let room = app.create_room(&kim, &[&lee]).await;
    let photo = app
        .upload(
            &kim,
            picture(40, 30, ImageFormat::Jpeg),
            "p.jpg",
            "image/jpeg",
        )
        .await;
    let photo_id = object_of(&photo);
    let photo_object = objects(&app, photo_id).await.remove(0);
    let sent = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": photo_id }),
        )
        .await;
    ok(&sent, StatusCode::CREATED);
    let seq = sent.body["seq"].as_i64().unwrap();
    ok(
        &app.delete(&format!("/chat/rooms/{room}/messages/{seq}"), &kim)
            .await,
        StatusCode::OK,
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            store.get(&photo_object).await.unwrap().is_none()
        })
        .await,
        "the deleted message's photo is gone"
    );

    // A deleted post's photo, likewise.
    let shot = app
        .upload(
            &kim,
            picture(41, 30, ImageFormat::Png),
            "s.png",
            "image/png",
        )
        .await;
    let shot_id = object_of(&shot);
    let shot_object = objects(&app, shot_id).await.remove(0);
    let posted = app
        .post(
            "/boards/community/posts",
            &kim,
            json!({ "category": "잡담", "title": "t", "body": "b", "media_ids": [shot_id] }),
        )
        .await;
    ok(&posted, StatusCode::CREATED);
    let post_id = posted.body["post_id"].as_str().unwrap().to_owned();
    ok(
        &app.delete(&format!("/posts/{post_id}"), &kim).await,
        StatusCode::OK,
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            store.get(&shot_object).await.unwrap().is_none()
        })
        .await,
        "the deleted post's photo is gone"
    );
    let removed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'MediaRemoved'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(removed, 3);
}

#[tokio::test]
async fn a_photo_can_be_sent_over_the_socket_as_over_http() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mine = media_id(
        &app.upload(
            &kim,
            picture(30, 20, ImageFormat::Png),
            "a.png",
            "image/png",
        )
        .await,
    );
    let theirs = media_id(
        &app.upload(
            &lee,
            picture(31, 20, ImageFormat::Png),
            "b.png",
            "image/png",
        )
        .await,
    );
    let mut socket = app.ws(&kim).await;
    let ack = socket
        .ask(
            "message.send",
            "p1",
            json!({ "room_id": room, "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": mine, "body": "보여줄게" }),
        )
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["data"]["kind"], "image");
    assert_eq!(ack["data"]["media_id"], json!(mine));
    assert_eq!(ack["data"]["body"], "보여줄게");
    assert_eq!(
        fetch(&app, &format!("/media/{mine}"), Some(&lee))
            .await
            .status(),
        StatusCode::OK
    );
    let refused = socket
        .ask(
            "message.send",
            "p2",
            json!({ "room_id": room, "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": theirs }),
        )
        .await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["data"]["code"], "media_not_found");
}
