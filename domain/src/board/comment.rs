//! The comment aggregate: one comment on a post or a reply to one, its author and text.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::board::{BoardId, CommentCreated, CommentDeleted, CommentEdited, CommentEvent};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;
use crate::values::CommentBody;

/// Commands on a [`Comment`].
#[derive(Debug, Clone)]
pub enum CommentCommand {
    /// Writes a comment; the caller found the post and the parent, and who wrote them.
    Create {
        /// The new comment's id.
        comment_id: Uuid,
        /// On which post.
        post_id: Uuid,
        /// The post's board.
        board: BoardId,
        /// The comment it answers.
        parent_id: Option<Uuid>,
        /// Who writes it.
        author_id: Uuid,
        /// Its text.
        body: CommentBody,
        /// The post's author.
        post_author_id: Uuid,
        /// The parent's author.
        parent_author_id: Option<Uuid>,
        /// People it names (the caller checks each may see the post).
        mentions: Vec<Uuid>,
    },
    /// The author changes it.
    Edit {
        /// Who.
        by: Uuid,
        /// The new text.
        body: CommentBody,
    },
    /// The author, or a moderator of its board, deletes it.
    Delete {
        /// Who.
        by: Uuid,
        /// Whether `by` moderates the board.
        moderator: bool,
    },
}

/// A comment's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comment {
    created: Option<CommentCreated>,
    deleted: bool,
}

/// Why a comment command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommentError {
    /// No such comment, or it was deleted.
    #[error("comment not found")]
    NotFound,
    /// The id is taken.
    #[error("comment exists already")]
    Exists,
    /// Only its author may do this.
    #[error("only the comment's author may do this")]
    NotAuthor,
    /// It names too many people.
    #[error("a comment names at most {} people", Comment::MAX_MENTIONS)]
    TooManyMentions,
}

impl Rejection for CommentError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Exists => ErrorKind::Conflict,
            Self::NotAuthor => ErrorKind::Forbidden,
            Self::TooManyMentions => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "comment_not_found",
            Self::Exists => "comment_exists",
            Self::NotAuthor => "not_author",
            Self::TooManyMentions => "too_many_mentions",
        }
    }
}

impl Comment {
    /// The most people one comment names.
    pub const MAX_MENTIONS: usize = 10;

    /// The comment as written, unless deleted.
    pub fn current(&self) -> Option<&CommentCreated> {
        self.created.as_ref().filter(|_| !self.deleted)
    }

    fn live(&self) -> Result<&CommentCreated, CommentError> {
        self.current().ok_or(CommentError::NotFound)
    }
}

impl Aggregate for Comment {
    const TYPE: &'static str = "comment";
    type Command = CommentCommand;
    type Event = CommentEvent;
    type Error = CommentError;

    fn handle(
        &self,
        command: CommentCommand,
        services: &dyn Services,
    ) -> Result<Vec<CommentEvent>, CommentError> {
        let at = services.now();
        match command {
            CommentCommand::Create {
                comment_id,
                post_id,
                board,
                parent_id,
                author_id,
                body,
                post_author_id,
                parent_author_id,
                mentions,
            } => {
                if self.created.is_some() {
                    return Err(CommentError::Exists);
                }
                if mentions.len() > Self::MAX_MENTIONS {
                    return Err(CommentError::TooManyMentions);
                }
                // Each person once, in the order named, and never the author.
                let mut named = Vec::with_capacity(mentions.len());
                for user_id in mentions {
                    if user_id != author_id && !named.contains(&user_id) {
                        named.push(user_id);
                    }
                }
                Ok(vec![CommentEvent::CommentCreated(CommentCreated {
                    comment_id,
                    post_id,
                    board,
                    parent_id,
                    author_id,
                    body: body.as_str().to_owned(),
                    post_author_id,
                    parent_author_id,
                    mentions: named,
                    at,
                })])
            }
            CommentCommand::Edit { by, body } => {
                let comment = self.live()?;
                if comment.author_id != by {
                    return Err(CommentError::NotAuthor);
                }
                Ok(vec![CommentEvent::CommentEdited(CommentEdited {
                    comment_id: comment.comment_id,
                    post_id: comment.post_id,
                    body: body.as_str().to_owned(),
                    at,
                })])
            }
            CommentCommand::Delete { by, moderator } => {
                let comment = self.live()?;
                if comment.author_id != by && !moderator {
                    return Err(CommentError::NotAuthor);
                }
                Ok(vec![CommentEvent::CommentDeleted(CommentDeleted {
                    comment_id: comment.comment_id,
                    post_id: comment.post_id,
                    by,
                    at,
                })])
            }
        }
    }

    fn apply(&mut self, event: CommentEvent) {
        match event {
            CommentEvent::CommentCreated(e) => self.created = Some(e),
            CommentEvent::CommentEdited(e) => {
                if let Some(c) = self.created.as_mut() {
                    c.body = e.body;
                }
            }
            CommentEvent::CommentDeleted(_) => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};

    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);

    fn created() -> CommentEvent {
        CommentEvent::CommentCreated(CommentCreated {
            comment_id: Uuid::from_u128(9),
            post_id: Uuid::from_u128(5),
            board: BoardId::Community,
            parent_id: None,
            author_id: KIM,
            body: "좋아요".into(),
            post_author_id: LEE,
            parent_author_id: None,
            mentions: vec![],
            at: FixedServices::new().now,
        })
    }

    fn create(mentions: Vec<Uuid>) -> CommentCommand {
        CommentCommand::Create {
            comment_id: Uuid::from_u128(9),
            post_id: Uuid::from_u128(5),
            board: BoardId::Community,
            parent_id: None,
            author_id: KIM,
            body: CommentBody::parse("좋아요").unwrap(),
            post_author_id: LEE,
            parent_author_id: None,
            mentions,
        }
    }

    #[test]
    fn a_comment_names_each_person_once_never_its_author_and_not_too_many() {
        let park = Uuid::from_u128(3);
        let CommentEvent::CommentCreated(mut expected) = created() else {
            unreachable!()
        };
        expected.mentions = vec![park, LEE];
        given::<Comment>([])
            .when(create(vec![park, KIM, LEE, park]))
            .then_expect_events(vec![CommentEvent::CommentCreated(expected)]);
        let crowd = (10..21).map(Uuid::from_u128).collect();
        given::<Comment>([])
            .when(create(crowd))
            .then_expect_error("too_many_mentions");
    }

    #[test]
    fn only_the_author_edits_and_a_deleted_comment_is_gone() {
        let body = || CommentBody::parse("고마워요").unwrap();
        given::<Comment>([created()])
            .when(CommentCommand::Edit {
                by: LEE,
                body: body(),
            })
            .then_expect_error("not_author");
        given::<Comment>([created()])
            .when(CommentCommand::Delete {
                by: LEE,
                moderator: true,
            })
            .then_expect_events(vec![CommentEvent::CommentDeleted(CommentDeleted {
                comment_id: Uuid::from_u128(9),
                post_id: Uuid::from_u128(5),
                by: LEE,
                at: FixedServices::new().now,
            })]);
        let deleted = CommentEvent::CommentDeleted(CommentDeleted {
            comment_id: Uuid::from_u128(9),
            post_id: Uuid::from_u128(5),
            by: KIM,
            at: FixedServices::new().now,
        });
        given::<Comment>([created(), deleted])
            .when(CommentCommand::Edit {
                by: KIM,
                body: body(),
            })
            .then_expect_error("comment_not_found");
    }
}
