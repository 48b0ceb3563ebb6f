//! What an uploaded file is, decided from its bytes, and what is served of it: the type from
//! magic numbers (never the file name or the client's `Content-Type`), the size checked from the
//! header before any pixel is allocated, the orientation applied, EXIF (phones put GPS positions
//! in it) gone from both the served original and the thumbnail. CPU-bound: callers run it on a
//! blocking thread.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

/// JPEG quality of thumbnails.
const THUMBNAIL_QUALITY: u8 = 80;
/// JPEG quality of an original that had to be re-encoded (to drop its EXIF or turn it upright).
const ORIGINAL_QUALITY: u8 = 92;

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No bytes at all.
    #[error("the file is empty")]
    Empty,
    /// Not one of the image types Moim keeps.
    #[error("the file is {0}, not a JPEG, PNG, WebP, GIF or HEIC image")]
    Unsupported(String),
    /// More pixels than allowed (a decompression bomb claims billions).
    #[error("the image claims {width} × {height} pixels, more than {max} in all")]
    TooLarge {
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
        /// The limit.
        max: u64,
    },
    /// The bytes do not decode.
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

/// A thumbnail, JPEG.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    /// The JPEG.
    pub bytes: Vec<u8>,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// An accepted file.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Its type.
    pub content_type: &'static str,
    /// What is served as the original: the upload itself, or re-encoded without its EXIF and
    /// turned upright when it had either.
    pub served: Vec<u8>,
    /// Width upright, when decoded.
    pub width: Option<u32>,
    /// Height upright, when decoded.
    pub height: Option<u32>,
    /// Its thumbnail, when decoded.
    pub thumbnail: Option<Thumbnail>,
}

/// Looks at `bytes` and makes what is served of them; see the module documentation.
pub fn process(bytes: &[u8], max_pixels: u64, thumbnail_px: u32) -> Result<Picture, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    let mime = infer::get(bytes).map_or("application/octet-stream", |t| t.mime_type());
    let format = match mime {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/webp" => ImageFormat::WebP,
        "image/gif" => ImageFormat::Gif,
        // Kept as uploaded: no HEIC decoder is built in, so neither size nor thumbnail.
        "image/heif" | "image/heic" => {
            return Ok(Picture {
                content_type: "image/heic",
                served: bytes.to_vec(),
                width: None,
                height: None,
                thumbnail: None,
            })
        }
        other => return Err(Refusal::Unsupported(other.to_owned())),
    };
    let content_type = format.to_mime_type();
    if format == ImageFormat::Jpeg && !jpeg_ends(bytes) {
        // Decoders fill a cut-off scan with grey; a photo cut off in transit is refused instead.
        return Err(Refusal::Corrupt(
            "the JPEG ends before its image data does".into(),
        ));
    }
    let corrupt = |e: ImageError| match e {
        ImageError::Limits(_) => Refusal::TooLarge {
            width: 0,
            height: 0,
            max: max_pixels,
        },
        other => Refusal::Corrupt(other.to_string()),
    };
    let mut limits = Limits::default();
    // Decoding needs the pixels plus working room; anything asking for more is refused.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 * 1024 * 1024));
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Refusal::TooLarge {
            width,
            height,
            max: max_pixels,
        });
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let has_exif = decoder.exif_metadata().ok().flatten().is_some()
        || decoder.xmp_metadata().ok().flatten().is_some();
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    let thumbnail = thumbnail_of(&image, thumbnail_px)?;
    let rewrite = has_exif || orientation != Orientation::NoTransforms;
    // A GIF keeps its frames: it carries no EXIF, and is served as uploaded.
    let served = if rewrite && format != ImageFormat::Gif {
        encode(&image, format)?
    } else {
        bytes.to_vec()
    };
    Ok(Picture {
        content_type,
        served,
        width: Some(image.width()),
        height: Some(image.height()),
        thumbnail: Some(thumbnail),
    })
}

/// Whether a JPEG's last scan (`FF DA`) is followed by its end marker (`FF D9`). Neither pair
/// can occur inside entropy-coded data (an `FF` there is stuffed with `00`), and an embedded EXIF
/// thumbnail's markers come before the main scan; bytes after the end (a phone's trailer) are fine.
fn jpeg_ends(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xff, marker]);
    matches!((last(0xda), last(0xd9)), (Some(scan), Some(end)) if end > scan)
}

/// At most `px` on the longer side, JPEG (re-encoding carries no metadata over).
fn thumbnail_of(image: &DynamicImage, px: u32) -> Result<Thumbnail, Refusal> {
    let small = DynamicImage::ImageRgb8(image.thumbnail(px, px).to_rgb8());
    let mut bytes = Vec::new();
    small
        .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, THUMBNAIL_QUALITY))
        .map_err(|e| Refusal::Corrupt(e.to_string()))?;
    Ok(Thumbnail {
        bytes,
        width: small.width(),
        height: small.height(),
    })
}

/// The image in its own format, without metadata.
fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    let written = match format {
        ImageFormat::Png => image.write_with_encoder(PngEncoder::new(&mut bytes)),
        ImageFormat::WebP => DynamicImage::ImageRgba8(image.to_rgba8())
            .write_with_encoder(WebPEncoder::new_lossless(&mut bytes)),
        _ => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, ORIGINAL_QUALITY)),
    };
    written.map_err(|e| Refusal::Corrupt(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::from_pixel(width, height, Rgb([200, 30, 30])))
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap_or_default();
        bytes
    }

    #[test]
    fn a_photo_gets_a_thumbnail_no_longer_than_the_limit_with_its_proportions() {
        let picture = process(&png(1000, 500), 40_000_000, 320).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(picture.content_type, "image/png");
        assert_eq!((picture.width, picture.height), (Some(1000), Some(500)));
        let thumbnail = picture.thumbnail.unwrap_or_else(|| panic!("no thumbnail"));
        assert_eq!((thumbnail.width, thumbnail.height), (320, 160));
    }

    #[test]
    fn what_is_not_an_image_of_a_kept_type_is_refused() {
        assert_eq!(process(b"", 100, 320).err(), Some(Refusal::Empty));
        assert!(matches!(
            process(b"%PDF-1.7 hello", 100, 320),
            Err(Refusal::Unsupported(_))
        ));
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            process(&truncated, 40_000_000, 320),
            Err(Refusal::Corrupt(_))
        ));
    }

    #[test]
    fn more_pixels_than_allowed_is_refused_before_decoding() {
        assert!(matches!(
            process(&png(100, 100), 9_999, 320),
            Err(Refusal::TooLarge {
                width: 100,
                height: 100,
                ..
            })
        ));
    }
}
