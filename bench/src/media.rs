//! Photo uploads: a 3 MB phone photo (EXIF with a rotation, as phones write it, so the original
//! is re-encoded upright as well as thumbnailed) uploaded over HTTP closed loop at one client and
//! at as many as a process takes at once, its thumbnail fetched through its signed address, and
//! the decode-and-thumbnail step alone, in this process, one at a time.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::stream::{self, StreamExt};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use serde::Serialize;
use serde_json::Value;

use crate::client::{self, User};
use crate::stats::{Latencies, Percentiles};

/// The photo's size aimed at.
const PHOTO_BYTES: usize = 3_000_000;

/// Uploads at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct UploadLevel {
    pub concurrency: usize,
    pub uploads: usize,
    pub per_sec: f64,
    pub mb_per_sec: f64,
    pub latency: Percentiles,
}

/// The media figures.
#[derive(Debug, Clone, Serialize)]
pub struct MediaBench {
    /// The photo's size and pixels.
    pub photo_bytes: usize,
    pub width: u32,
    pub height: u32,
    /// Decoding, turning upright, thumbnailing and re-encoding it, in process, one at a time.
    pub process: Percentiles,
    /// `POST /media` closed loop.
    pub uploads: Vec<UploadLevel>,
    /// `GET` of its thumbnail by signed address, 8 at a time.
    pub thumbnails_per_sec: f64,
    pub thumbnail_latency: Percentiles,
}

/// A phone-like photo of about [`PHOTO_BYTES`]: a gradient with sensor-like noise, JPEG at the
/// quality that lands nearest, EXIF saying "rotate 90°".
fn photo() -> anyhow::Result<(Vec<u8>, u32, u32)> {
    let (width, height) = (3000, 2000);
    let mut seed = 0x2545_f491_u32;
    let image = RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed % 48) as u8;
        Rgb([
            ((x * 255 / width) as u8).saturating_add(noise),
            ((y * 255 / height) as u8).saturating_add(noise / 2),
            128u8.saturating_add(noise),
        ])
    });
    let exif = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let encode = |quality: u8| -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut bytes, quality);
        encoder
            .set_exif_metadata(exif.clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        encoder.write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )?;
        Ok(bytes)
    };
    let (mut low, mut high) = (40u8, 98u8);
    let mut best = encode(high)?;
    while high - low > 2 {
        let mid = (low + high) / 2;
        let bytes = encode(mid)?;
        if bytes.len() > PHOTO_BYTES {
            high = mid;
        } else {
            low = mid;
        }
        if bytes.len().abs_diff(PHOTO_BYTES) < best.len().abs_diff(PHOTO_BYTES) {
            best = bytes;
        }
    }
    Ok((best, width, height))
}

/// The same photo with `n` after its end: other bytes, so no upload is a repeat of another.
fn variant(photo: &[u8], n: usize) -> Vec<u8> {
    let mut bytes = photo.to_vec();
    bytes.extend_from_slice(format!("bench-{n}").as_bytes());
    bytes
}

async fn upload(
    http: &reqwest::Client,
    url: &str,
    user: &User,
    bytes: Vec<u8>,
) -> anyhow::Result<Value> {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("IMG_0001.JPG")
        .mime_str("image/jpeg")?;
    Ok(http
        .post(format!("{url}/api/v1/media"))
        .bearer_auth(&user.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

pub async fn run(url: &str, quick: bool, max_uploads: usize) -> anyhow::Result<MediaBench> {
    let (photo, width, height) = tokio::task::spawn_blocking(photo).await??;
    let settings = moim_api::config::MediaSettings::default();
    let mut process = Latencies::new();
    for _ in 0..if quick { 2 } else { 10 } {
        let bytes = photo.clone();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || {
            moim_api::media::picture::process(&bytes, settings.max_pixels, settings.thumbnail_px)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        process.record(started.elapsed());
    }

    let http = client::http();
    let user = client::register_many(&http, url, 1, 1)
        .await?
        .pop()
        .context("a user")?;
    let per_level = if quick { 4 } else { 40 };
    let mut levels = Vec::new();
    let mut n = 0;
    let mut last = Value::Null;
    for concurrency in [1, max_uploads] {
        let started = Instant::now();
        let answers: Vec<anyhow::Result<(Duration, Value)>> = stream::iter(n..n + per_level)
            .map(|i| {
                let (http, user, bytes) = (http.clone(), user.clone(), variant(&photo, i));
                async move {
                    let began = Instant::now();
                    let answer = upload(&http, url, &user, bytes).await?;
                    Ok((began.elapsed(), answer))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let seconds = started.elapsed().as_secs_f64();
        n += per_level;
        let mut latency = Latencies::new();
        for answer in answers {
            let (took, body) = answer?;
            latency.record(took);
            last = body;
        }
        levels.push(UploadLevel {
            concurrency,
            uploads: per_level,
            per_sec: per_level as f64 / seconds,
            mb_per_sec: (per_level * photo.len()) as f64 / seconds / 1_000_000.0,
            latency: latency.percentiles(),
        });
    }

    let thumbnail = last["thumbnail_url"]
        .as_str()
        .context("a thumbnail_url")?
        .to_owned();
    let gets = if quick { 40 } else { 2000 };
    let started = Instant::now();
    let times: Vec<anyhow::Result<Duration>> = stream::iter(0..gets)
        .map(|_| {
            let (http, address) = (http.clone(), format!("{url}{thumbnail}"));
            async move {
                let began = Instant::now();
                http.get(address)
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                Ok(began.elapsed())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut thumbnail_latency = Latencies::new();
    for took in times {
        thumbnail_latency.record(took?);
    }
    Ok(MediaBench {
        photo_bytes: photo.len(),
        width,
        height,
        process: process.percentiles(),
        uploads: levels,
        thumbnails_per_sec: gets as f64 / seconds,
        thumbnail_latency: thumbnail_latency.percentiles(),
    })
}
