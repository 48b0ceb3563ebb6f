//! The post aggregate: its text, whether it is pinned, who likes it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::board::{
    BoardId, PostCreated, PostDeleted, PostEdited, PostEvent, PostLike, PostPinned,
};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;
use crate::values::{Category, PostBody, PostTitle};

/// Commands on a [`Post`].
#[derive(Debug, Clone)]
pub enum PostCommand {
    /// Writes a post.
    Create {
        /// The new post's id.
        post_id: Uuid,
        /// Where.
        board: BoardId,
        /// Its category.
        category: Category,
        /// Its title.
        title: PostTitle,
        /// Its text.
        body: PostBody,
        /// Photos (their use is checked by the caller).
        media_ids: Vec<Uuid>,
        /// Who writes it.
        author_id: Uuid,
    },
    /// The author changes it.
    Edit {
        /// Who.
        by: Uuid,
        /// What changes.
        patch: PostPatch,
    },
    /// The author, or a moderator of its board, deletes it.
    Delete {
        /// Who.
        by: Uuid,
        /// Whether `by` moderates the post's board (the caller asks the club or the platform).
        moderator: bool,
    },
    /// A moderator pins or unpins it.
    Pin {
        /// Who.
        by: Uuid,
        /// Whether `by` moderates the post's board.
        moderator: bool,
        /// Pin, or unpin.
        pinned: bool,
    },
    /// Likes it; liking twice counts once.
    Like {
        /// Who.
        user_id: Uuid,
    },
    /// Takes a like back; without one, nothing happens.
    Unlike {
        /// Who.
        user_id: Uuid,
    },
}

/// The parts of a post an edit names; the others stay.
#[derive(Debug, Clone, Default)]
pub struct PostPatch {
    /// A new category.
    pub category: Option<Category>,
    /// A new title.
    pub title: Option<PostTitle>,
    /// A new text.
    pub body: Option<PostBody>,
}

/// A post's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Post {
    created: Option<PostCreated>,
    deleted: bool,
    pinned: bool,
    likes: BTreeSet<Uuid>,
}

/// Why a post command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PostError {
    /// No such post, or it was deleted.
    #[error("post not found")]
    NotFound,
    /// The id is taken.
    #[error("post exists already")]
    Exists,
    /// Only its author may do this.
    #[error("only the post's author may do this")]
    NotAuthor,
    /// Only the board's moderators may do this.
    #[error("only the board's moderators may do this")]
    NotModerator,
    /// Too many photos.
    #[error("a post has at most {} photos", Post::MAX_MEDIA)]
    TooManyMedia,
}

impl Rejection for PostError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Exists => ErrorKind::Conflict,
            Self::NotAuthor | Self::NotModerator => ErrorKind::Forbidden,
            Self::TooManyMedia => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "post_not_found",
            Self::Exists => "post_exists",
            Self::NotAuthor => "not_author",
            Self::NotModerator => "not_allowed",
            Self::TooManyMedia => "too_many_media",
        }
    }
}

impl Post {
    /// The most photos on one post.
    pub const MAX_MEDIA: usize = 10;

    /// The post as written, unless deleted.
    pub fn current(&self) -> Option<&PostCreated> {
        self.created.as_ref().filter(|_| !self.deleted)
    }

    /// Whether `user_id` likes it.
    pub fn liked_by(&self, user_id: Uuid) -> bool {
        self.likes.contains(&user_id)
    }

    fn live(&self) -> Result<&PostCreated, PostError> {
        self.current().ok_or(PostError::NotFound)
    }
}

impl Aggregate for Post {
    const TYPE: &'static str = "post";
    const SNAPSHOT_EVERY: Option<u64> = Some(100);
    type Command = PostCommand;
    type Event = PostEvent;
    type Error = PostError;

    fn handle(
        &self,
        command: PostCommand,
        services: &dyn Services,
    ) -> Result<Vec<PostEvent>, PostError> {
        let now = services.now();
        match command {
            PostCommand::Create {
                post_id,
                board,
                category,
                title,
                body,
                media_ids,
                author_id,
            } => {
                if self.created.is_some() {
                    return Err(PostError::Exists);
                }
                if media_ids.len() > Self::MAX_MEDIA {
                    return Err(PostError::TooManyMedia);
                }
                Ok(vec![PostEvent::PostCreated(PostCreated {
                    post_id,
                    board,
                    category: category.as_str().to_owned(),
                    title: title.as_str().to_owned(),
                    body: body.as_str().to_owned(),
                    media_ids,
                    author_id,
                    at: now,
                })])
            }
            PostCommand::Edit { by, patch } => {
                let post = self.live()?;
                if post.author_id != by {
                    return Err(PostError::NotAuthor);
                }
                let edited = PostEdited {
                    post_id: post.post_id,
                    category: patch
                        .category
                        .map_or_else(|| post.category.clone(), |c| c.as_str().to_owned()),
                    title: patch
                        .title
                        .map_or_else(|| post.title.clone(), |t| t.as_str().to_owned()),
                    body: patch
                        .body
                        .map_or_else(|| post.body.clone(), |b| b.as_str().to_owned()),
                    at: now,
                };
                Ok(vec![PostEvent::PostEdited(edited)])
            }
            PostCommand::Delete { by, moderator } => {
                let post = self.live()?;
                if post.author_id != by && !moderator {
                    return Err(PostError::NotAuthor);
                }
                Ok(vec![PostEvent::PostDeleted(PostDeleted {
                    post_id: post.post_id,
                    by,
                    at: now,
                })])
            }
            PostCommand::Pin {
                by,
                moderator,
                pinned,
            } => {
                let post = self.live()?;
                if !moderator {
                    return Err(PostError::NotModerator);
                }
                if self.pinned == pinned {
                    return Ok(Vec::new());
                }
                Ok(vec![PostEvent::PostPinned(PostPinned {
                    post_id: post.post_id,
                    pinned,
                    by,
                })])
            }
            PostCommand::Like { user_id } => {
                let post = self.live()?;
                if self.likes.contains(&user_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![PostEvent::PostLiked(PostLike {
                    post_id: post.post_id,
                    user_id,
                })])
            }
            PostCommand::Unlike { user_id } => {
                let post = self.live()?;
                if !self.likes.contains(&user_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![PostEvent::PostUnliked(PostLike {
                    post_id: post.post_id,
                    user_id,
                })])
            }
        }
    }

    fn apply(&mut self, event: PostEvent) {
        match event {
            PostEvent::PostCreated(e) => self.created = Some(e),
            PostEvent::PostEdited(e) => {
                if let Some(post) = self.created.as_mut() {
                    post.category = e.category;
                    post.title = e.title;
                    post.body = e.body;
                }
            }
            PostEvent::PostDeleted(_) => self.deleted = true,
            PostEvent::PostPinned(e) => self.pinned = e.pinned,
            PostEvent::PostLiked(e) => {
                self.likes.insert(e.user_id);
            }
            PostEvent::PostUnliked(e) => {
                self.likes.remove(&e.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};

    const POST: Uuid = Uuid::from_u128(5);
    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);

    fn created() -> PostEvent {
        PostEvent::PostCreated(PostCreated {
            post_id: POST,
            board: BoardId::Community,
            category: "데이트 코스".into(),
            title: "한강".into(),
            body: "자전거".into(),
            media_ids: vec![],
            author_id: KIM,
            at: FixedServices::new().now,
        })
    }

    fn like(user_id: Uuid) -> PostEvent {
        PostEvent::PostLiked(PostLike {
            post_id: POST,
            user_id,
        })
    }

    #[test]
    fn liking_twice_counts_once_and_unliking_without_a_like_does_nothing() {
        given::<Post>([created()])
            .when(PostCommand::Like { user_id: LEE })
            .then_expect_events(vec![like(LEE)]);
        given::<Post>([created(), like(LEE)])
            .when(PostCommand::Like { user_id: LEE })
            .then_expect_events(vec![]);
        given::<Post>([created()])
            .when(PostCommand::Unlike { user_id: LEE })
            .then_expect_events(vec![]);
        let post = given::<Post>([created(), like(LEE)])
            .when(PostCommand::Unlike { user_id: LEE })
            .then_expect_events(vec![PostEvent::PostUnliked(PostLike {
                post_id: POST,
                user_id: LEE,
            })]);
        assert!(!post.liked_by(LEE));
    }

    #[test]
    fn only_the_author_edits_and_moderators_also_delete_and_pin() {
        given::<Post>([created()])
            .when(PostCommand::Edit {
                by: LEE,
                patch: PostPatch::default(),
            })
            .then_expect_error("not_author");
        given::<Post>([created()])
            .when(PostCommand::Delete {
                by: LEE,
                moderator: false,
            })
            .then_expect_error("not_author");
        given::<Post>([created()])
            .when(PostCommand::Delete {
                by: LEE,
                moderator: true,
            })
            .then_expect_events(vec![PostEvent::PostDeleted(PostDeleted {
                post_id: POST,
                by: LEE,
                at: FixedServices::new().now,
            })]);
        given::<Post>([created()])
            .when(PostCommand::Pin {
                by: KIM,
                moderator: false,
                pinned: true,
            })
            .then_expect_error("not_allowed");
    }

    #[test]
    fn a_deleted_post_takes_nothing_more() {
        let deleted = PostEvent::PostDeleted(PostDeleted {
            post_id: POST,
            by: KIM,
            at: FixedServices::new().now,
        });
        given::<Post>([created(), deleted])
            .when(PostCommand::Like { user_id: LEE })
            .then_expect_error("post_not_found");
    }
}
