//! Media commands: record an upload whose bytes are stored, use one as a profile picture, end
//! uses and remove what nobody uses. Photos in messages and posts are attached by the chat and
//! board commands, in the same transaction as the message or post.

use domain::media::{Media, MediaCommand, MediaEvent, MediaUploaded, MediaUse};
use domain::Position;
use uuid::Uuid;

use crate::{CommandError, Commands};

/// What recording an upload did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The media, as first uploaded when these bytes were uploaded before.
    pub media: MediaUploaded,
    /// Whether this upload created it.
    pub created: bool,
    /// Its consistency token.
    pub position: Position,
}

impl Commands {
    /// An upload as it stands, whoever owns it (access is the caller's question).
    pub async fn media(&self, media_id: Uuid) -> Result<Media, CommandError> {
        Ok(self
            .store
            .load::<Media>(&media_id.to_string())
            .await?
            .aggregate)
    }

    /// Records an upload whose bytes are in the object store under `upload.object`. The same
    /// bytes uploaded again by the same user while the first upload lives are that upload.
    #[tracing::instrument(skip(self, upload), fields(media_id = %upload.media_id))]
    pub async fn record_upload(&self, upload: MediaUploaded) -> Result<Recorded, CommandError> {
        let id = upload.media_id.to_string();
        let done = self
            .execute::<Media>(&id, MediaCommand::Upload(upload))
            .await?;
        let created = !done.events.is_empty();
        let media = done.state.current().cloned().ok_or_else(|| {
            CommandError::Invariant(format!("upload {id} is not there after recording it"))
        })?;
        Ok(Recorded {
            media,
            created,
            position: done.position,
        })
    }

    /// Makes one of the user's uploads their profile picture (the one before stops being used).
    pub async fn set_avatar(
        &self,
        user_id: Uuid,
        media_id: Uuid,
    ) -> Result<Position, CommandError> {
        let command = MediaCommand::Attach {
            by: user_id,
            to: MediaUse::Avatar { user_id },
        };
        Ok(self
            .execute::<Media>(&media_id.to_string(), command)
            .await?
            .position)
    }

    /// Ends a use or expires an unused upload (the scheduler's work). Answers the objects the
    /// store must delete: those of a removal, this one's or an earlier one whose deletion a
    /// crash interrupted; none while the media lives.
    pub async fn retire_media(
        &self,
        media_id: Uuid,
        command: MediaCommand,
    ) -> Result<Vec<String>, CommandError> {
        let done = self
            .execute::<Media>(&media_id.to_string(), command)
            .await?;
        let removed = done.events.iter().find_map(|e| match e {
            MediaEvent::MediaRemoved(r) => Some(r.objects.clone()),
            _ => None,
        });
        Ok(removed.unwrap_or_else(|| done.state.removed_objects().to_vec()))
    }
}
