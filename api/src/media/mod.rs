//! Photo uploads: receiving a file within its bounds, deciding what it is, storing it with its
//! thumbnail in the object store and recording it as a `Media` aggregate; and who may see one
//! (access follows use: a room's photo its members, a club post's the club, the community
//! board's and avatars every signed-in user, an unused upload its owner alone).

pub mod picture;
pub mod store;

use std::sync::Arc;

use commands::media::Recorded;
use commands::{CommandError, Commands};
use domain::board::BoardId;
use domain::media::{media_id_for, Media, MediaUploaded, MediaUse, Thumbnail};
use domain::Aggregate;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::config::MediaSettings;
use crate::error::ApiError;
use picture::{Picture, Refusal};
pub use store::MediaStore;

/// Uploads on this process: the store, the settings and the slots.
pub struct Uploads {
    /// Where the bytes go.
    pub store: MediaStore,
    /// Bounds and lifetimes.
    pub settings: MediaSettings,
    slots: Arc<Semaphore>,
}

impl Uploads {
    /// Uploads into `store`, bounded by `settings`.
    pub fn new(store: MediaStore, settings: MediaSettings) -> Self {
        Self {
            store,
            slots: Arc::new(Semaphore::new(settings.max_uploads.max(1))),
            settings,
        }
    }

    /// A slot for one upload, or `503 overloaded` when all are taken.
    pub fn slot(&self, ip: crate::security::ClientIp) -> Result<OwnedSemaphorePermit, ApiError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            crate::security::overloaded(ip, "uploads");
            ApiError::unavailable("overloaded", "too many uploads at once; try again", 2)
        })
    }

    /// Stores and records `bytes` uploaded by `owner`: the upload as it stands (the earlier one
    /// when these bytes were uploaded before).
    pub async fn accept(
        &self,
        commands: &Commands,
        owner: Uuid,
        bytes: Vec<u8>,
    ) -> Result<Recorded, ApiError> {
        let sha256 = format!("{:x}", Sha256::digest(&bytes));
        let media_id = media_id_for(owner, &sha256);
        if let Some(existing) = commands.media(media_id).await?.current() {
            let position = commands
                .store()
                .latest(Media::TYPE, &media_id.to_string())
                .await;
            return Ok(Recorded {
                media: existing.clone(),
                created: false,
                position: position.map_err(CommandError::from)?.1,
            });
        }
        let settings = self.settings;
        let picture = tokio::task::spawn_blocking(move || {
            picture::process(&bytes, settings.max_pixels, settings.thumbnail_px)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(refused)?;
        let object = format!("{media_id}.{}", Uuid::new_v4().simple());
        let upload = self
            .store_objects(media_id, owner, sha256, object, &picture)
            .await?;
        let recorded = commands.record_upload(upload.clone()).await?;
        if !recorded.created {
            // The same bytes, uploaded at the same moment on another request, won.
            let ours = [Some(upload.object), upload.thumbnail.map(|t| t.object)];
            let ours: Vec<String> = ours.into_iter().flatten().collect();
            if let Err(error) = self.store.delete(&ours).await {
                tracing::warn!(%error, "an upload that lost a race left its objects behind");
            }
        }
        Ok(recorded)
    }

    async fn store_objects(
        &self,
        media_id: Uuid,
        owner_id: Uuid,
        sha256: String,
        object: String,
        picture: &Picture,
    ) -> Result<MediaUploaded, ApiError> {
        self.store
            .put(&object, &picture.served)
            .await
            .map_err(ApiError::internal)?;
        let thumbnail = match &picture.thumbnail {
            Some(thumb) => {
                let name = format!("{object}.thumb");
                self.store
                    .put(&name, &thumb.bytes)
                    .await
                    .map_err(ApiError::internal)?;
                Some(Thumbnail {
                    object: name,
                    content_type: "image/jpeg".into(),
                    bytes: thumb.bytes.len() as u64,
                    width: thumb.width,
                    height: thumb.height,
                })
            }
            None => None,
        };
        Ok(MediaUploaded {
            media_id,
            owner_id,
            content_type: picture.content_type.into(),
            bytes: picture.served.len() as u64,
            width: picture.width,
            height: picture.height,
            sha256,
            object,
            thumbnail,
            uploaded_at: chrono::Utc::now(),
        })
    }
}

fn refused(refusal: Refusal) -> ApiError {
    let detail = refusal.to_string();
    match refusal {
        Refusal::Empty => ApiError::invalid("empty_file", detail),
        Refusal::Unsupported(_) => ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        ),
        Refusal::TooLarge { .. } => ApiError::invalid("image_too_large", detail),
        Refusal::Corrupt(_) => ApiError::invalid("corrupt_image", detail),
    }
}

/// Whether `user_id` may see `media`: its owner always; others through one of its uses. Asked
/// of the write side (rooms and clubs as they are now), never of a view that may lag.
pub async fn may_see(commands: &Commands, user_id: Uuid, media: &Media) -> Result<bool, ApiError> {
    let Some(upload) = media.current() else {
        return Ok(false);
    };
    if upload.owner_id == user_id {
        return Ok(true);
    }
    for used in media.uses() {
        let seen = match used {
            MediaUse::Avatar { .. }
            | MediaUse::Post {
                board: BoardId::Community,
                ..
            } => true,
            MediaUse::Message { room_id, .. } => {
                commands.room_access(*room_id, user_id).await?.is_some()
            }
            MediaUse::Post { board, .. } => match commands.board_access(*board, user_id).await {
                Ok(()) => true,
                Err(CommandError::Rejected { .. }) => false,
                Err(e) => return Err(e.into()),
            },
        };
        if seen {
            return Ok(true);
        }
    }
    Ok(false)
}
