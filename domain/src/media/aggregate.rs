//! The media aggregate: an upload, its uses, and its removal.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::{ErrorKind, Rejection};
use crate::media::{
    MediaAttached, MediaCommand, MediaDetached, MediaEvent, MediaRemoved, MediaUploaded, MediaUse,
    Removal,
};
use crate::services::Services;

/// Where media ids are derived from.
const MEDIA_NAMESPACE: Uuid = Uuid::from_u128(0x6d6f_696d_2d6d_6564_6961_2d69_6473_0001);

/// The id of `owner`'s upload of the bytes whose SHA-256 is `sha256`: the same bytes uploaded
/// twice by the same user are one media; by two users, two.
pub fn media_id_for(owner: Uuid, sha256: &str) -> Uuid {
    Uuid::new_v5(&MEDIA_NAMESPACE, format!("{owner}:{sha256}").as_bytes())
}

/// An upload's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Media {
    uploaded: Option<MediaUploaded>,
    uses: Vec<MediaUse>,
    removed: bool,
    removed_objects: Vec<String>,
}

/// Why a media command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaError {
    /// No such upload, it was removed, or it is someone else's.
    #[error("media not found")]
    NotFound,
}

impl Rejection for MediaError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }

    fn code(&self) -> &'static str {
        "media_not_found"
    }
}

impl Media {
    /// How long an upload nobody uses is kept.
    pub const UNUSED_FOR: Duration = Duration::hours(24);

    /// The upload, unless removed.
    pub fn current(&self) -> Option<&MediaUploaded> {
        self.uploaded.as_ref().filter(|_| !self.removed)
    }

    /// Where it is used.
    pub fn uses(&self) -> &[MediaUse] {
        &self.uses
    }

    /// The objects of the last removal, which the store must no longer hold (none while the
    /// media lives).
    pub fn removed_objects(&self) -> &[String] {
        if self.removed {
            &self.removed_objects
        } else {
            &[]
        }
    }

    fn objects(upload: &MediaUploaded) -> Vec<String> {
        std::iter::once(upload.object.clone())
            .chain(upload.thumbnail.as_ref().map(|t| t.object.clone()))
            .collect()
    }
}

impl Aggregate for Media {
    const TYPE: &'static str = "media";
    type Command = MediaCommand;
    type Event = MediaEvent;
    type Error = MediaError;

    fn handle(
        &self,
        command: MediaCommand,
        services: &dyn Services,
    ) -> Result<Vec<MediaEvent>, MediaError> {
        let now = services.now();
        match command {
            MediaCommand::Upload(upload) => {
                if self.current().is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![MediaEvent::MediaUploaded(MediaUploaded {
                    uploaded_at: now,
                    ..upload
                })])
            }
            MediaCommand::Attach { by, to } => {
                let upload = self
                    .current()
                    .filter(|u| u.owner_id == by)
                    .ok_or(MediaError::NotFound)?;
                if self.uses.contains(&to) {
                    return Ok(Vec::new());
                }
                Ok(vec![MediaEvent::MediaAttached(MediaAttached {
                    media_id: upload.media_id,
                    owner_id: upload.owner_id,
                    to,
                    at: now,
                })])
            }
            MediaCommand::Detach { from } => {
                let Some(upload) = self.current() else {
                    return Ok(Vec::new());
                };
                if !self.uses.contains(&from) {
                    return Ok(Vec::new());
                }
                let last = self.uses.len() == 1;
                let mut events = vec![MediaEvent::MediaDetached(MediaDetached {
                    media_id: upload.media_id,
                    from,
                    at: now,
                })];
                if last {
                    events.push(MediaEvent::MediaRemoved(MediaRemoved {
                        media_id: upload.media_id,
                        owner_id: upload.owner_id,
                        objects: Self::objects(upload),
                        reason: Removal::NoLongerUsed,
                        at: now,
                    }));
                }
                Ok(events)
            }
            MediaCommand::Expire => match self.current() {
                Some(upload)
                    if self.uses.is_empty() && now >= upload.uploaded_at + Self::UNUSED_FOR =>
                {
                    Ok(vec![MediaEvent::MediaRemoved(MediaRemoved {
                        media_id: upload.media_id,
                        owner_id: upload.owner_id,
                        objects: Self::objects(upload),
                        reason: Removal::Unused,
                        at: now,
                    })])
                }
                _ => Ok(Vec::new()),
            },
        }
    }

    fn apply(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::MediaUploaded(e) => {
                self.uploaded = Some(e);
                self.uses.clear();
                self.removed = false;
            }
            MediaEvent::MediaAttached(e) => self.uses.push(e.to),
            MediaEvent::MediaDetached(e) => self.uses.retain(|u| *u != e.from),
            MediaEvent::MediaRemoved(e) => {
                self.removed = true;
                self.uses.clear();
                self.removed_objects = e.objects;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::board::BoardId;
    use crate::media::Thumbnail;
    use crate::testing::{given, FixedServices};
    use crate::Services;

    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);
    const ROOM: Uuid = Uuid::from_u128(30);

    fn now() -> DateTime<Utc> {
        FixedServices::new().now()
    }

    fn upload(at: DateTime<Utc>) -> MediaUploaded {
        MediaUploaded {
            media_id: media_id_for(KIM, "ab"),
            owner_id: KIM,
            content_type: "image/jpeg".into(),
            bytes: 10,
            width: Some(4),
            height: Some(3),
            sha256: "ab".into(),
            object: "m1".into(),
            thumbnail: Some(Thumbnail {
                object: "m1.thumb".into(),
                content_type: "image/jpeg".into(),
                bytes: 5,
                width: 4,
                height: 3,
            }),
            uploaded_at: at,
        }
    }

    fn uploaded() -> MediaEvent {
        MediaEvent::MediaUploaded(upload(now()))
    }

    fn in_room(seq: u64) -> MediaUse {
        MediaUse::Message { room_id: ROOM, seq }
    }

    fn attached(to: MediaUse) -> MediaEvent {
        MediaEvent::MediaAttached(MediaAttached {
            media_id: media_id_for(KIM, "ab"),
            owner_id: KIM,
            to,
            at: now(),
        })
    }

    fn removed(reason: Removal) -> MediaEvent {
        MediaEvent::MediaRemoved(MediaRemoved {
            media_id: media_id_for(KIM, "ab"),
            owner_id: KIM,
            objects: vec!["m1".into(), "m1.thumb".into()],
            reason,
            at: now(),
        })
    }

    #[test]
    fn the_same_bytes_uploaded_again_while_the_first_lives_record_nothing() {
        given::<Media>([])
            .when(MediaCommand::Upload(upload(now())))
            .then_expect_events(vec![uploaded()]);
        given::<Media>([uploaded()])
            .when(MediaCommand::Upload(upload(now())))
            .then_expect_events(vec![]);
        given::<Media>([uploaded(), removed(Removal::Unused)])
            .when(MediaCommand::Upload(upload(now())))
            .then_expect_events(vec![uploaded()]);
    }

    #[test]
    fn only_the_owner_uses_an_upload_and_each_use_counts_once() {
        given::<Media>([uploaded()])
            .when(MediaCommand::Attach {
                by: KIM,
                to: in_room(1),
            })
            .then_expect_events(vec![attached(in_room(1))]);
        given::<Media>([uploaded()])
            .when(MediaCommand::Attach {
                by: LEE,
                to: in_room(1),
            })
            .then_expect_error("media_not_found");
        given::<Media>([uploaded(), attached(in_room(1))])
            .when(MediaCommand::Attach {
                by: KIM,
                to: in_room(1),
            })
            .then_expect_events(vec![]);
        given::<Media>([uploaded(), removed(Removal::Unused)])
            .when(MediaCommand::Attach {
                by: KIM,
                to: MediaUse::Avatar { user_id: KIM },
            })
            .then_expect_error("media_not_found");
    }

    #[test]
    fn the_last_use_ending_removes_the_media_and_its_objects() {
        let post = MediaUse::Post {
            board: BoardId::Community,
            post_id: Uuid::from_u128(9),
        };
        let detached = |from| {
            MediaEvent::MediaDetached(MediaDetached {
                media_id: media_id_for(KIM, "ab"),
                from,
                at: now(),
            })
        };
        given::<Media>([uploaded(), attached(in_room(1)), attached(post.clone())])
            .when(MediaCommand::Detach { from: in_room(1) })
            .then_expect_events(vec![detached(in_room(1))]);
        let media = given::<Media>([uploaded(), attached(post.clone())])
            .when(MediaCommand::Detach { from: post.clone() })
            .then_expect_events(vec![detached(post), removed(Removal::NoLongerUsed)]);
        assert_eq!(media.removed_objects(), ["m1", "m1.thumb"]);
        given::<Media>([uploaded(), attached(in_room(1))])
            .when(MediaCommand::Detach { from: in_room(2) })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_upload_nobody_used_for_a_day_expires_and_a_used_one_never_does() {
        let day_later = now() + Media::UNUSED_FOR;
        given::<Media>([uploaded()])
            .at(day_later - Duration::seconds(1))
            .when(MediaCommand::Expire)
            .then_expect_events(vec![]);
        let mut expired = removed(Removal::Unused);
        if let MediaEvent::MediaRemoved(e) = &mut expired {
            e.at = day_later;
        }
        given::<Media>([uploaded()])
            .at(day_later)
            .when(MediaCommand::Expire)
            .then_expect_events(vec![expired]);
        given::<Media>([uploaded(), attached(in_room(1))])
            .at(day_later)
            .when(MediaCommand::Expire)
            .then_expect_events(vec![]);
    }
}
