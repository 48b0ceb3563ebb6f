//! Board commands: posts, pins, likes and comments. A club's board is its members' (anyone
//! else is told the post does not exist); the community board is every signed-in user's. Club
//! managers moderate their club's board, platform admins the community board.

use domain::board::{
    BoardId, Comment, CommentCommand, CommentError, Post, PostCommand, PostError, PostPatch,
};
use domain::media::{Media, MediaCommand, MediaUse};
use domain::user::User;
use domain::values::{Category, CommentBody, PostBody, PostTitle};
use domain::Aggregate;
use domain::Position;
use uuid::Uuid;

use crate::store::retry_conflicts;
use crate::{CommandError, Commands};

/// A new post's content.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// Its category.
    pub category: Category,
    /// Its title.
    pub title: PostTitle,
    /// Its text.
    pub body: PostBody,
    /// Photos.
    pub media_ids: Vec<Uuid>,
}

/// Refused: a comment names someone who cannot read its board.
#[derive(Debug, thiserror::Error)]
#[error("a person named cannot read this board")]
pub struct MentionUnseen;

impl domain::Rejection for MentionUnseen {
    fn kind(&self) -> domain::ErrorKind {
        domain::ErrorKind::Invalid
    }

    fn code(&self) -> &'static str {
        "bad_mention"
    }
}

impl Commands {
    /// Whether `user_id` may read and write `board`: a club's board is not found for anyone
    /// outside the club, the community board is everyone's.
    pub async fn board_access(&self, board: BoardId, user_id: Uuid) -> Result<(), CommandError> {
        match board {
            BoardId::Community => Ok(()),
            BoardId::Club(_) => self.moderates(board, user_id).await.map(|_| ()),
        }
    }

    /// Whether `user_id`, who must have access to `board`, moderates it: a club's owner and
    /// managers, the community's platform admins. Only deleting others' words and pinning ask,
    /// so reading and writing never load the caller's `User`.
    async fn moderates(&self, board: BoardId, user_id: Uuid) -> Result<bool, CommandError> {
        match board {
            BoardId::Community => Ok(self
                .store
                .load::<User>(&user_id.to_string())
                .await?
                .aggregate
                .is_admin()),
            BoardId::Club(club_id) => match self.club(club_id).await?.role(user_id) {
                Some(role) => Ok(role.runs_the_club()),
                None => Err(CommandError::rejected(PostError::NotFound)),
            },
        }
    }

    /// The caller's standing on `board`: checked for access, and as a moderator when
    /// `ask_moderator` (otherwise `false`, which the commands that do not ask ignore).
    async fn standing(
        &self,
        board: BoardId,
        user_id: Uuid,
        ask_moderator: bool,
    ) -> Result<bool, CommandError> {
        if ask_moderator {
            self.moderates(board, user_id).await
        } else {
            self.board_access(board, user_id).await.map(|()| false)
        }
    }

    /// A live post's board and author.
    async fn live_post(&self, post_id: Uuid) -> Result<(BoardId, Uuid), CommandError> {
        self.store
            .load::<Post>(&post_id.to_string())
            .await?
            .aggregate
            .current()
            .map(|p| (p.board, p.author_id))
            .ok_or_else(|| CommandError::rejected(PostError::NotFound))
    }

    /// Writes a post on `board`.
    #[tracing::instrument(skip(self, post))]
    pub async fn create_post(
        &self,
        board: BoardId,
        author_id: Uuid,
        post: NewPost,
    ) -> Result<(Uuid, Position), CommandError> {
        let post_id = self.services.new_id();
        let position = self.write_post(board, post_id, author_id, post).await?;
        Ok((post_id, position))
    }

    /// Writes a post brought in from another service under an id derived from that service's
    /// own, so a second import finds it there: answers `None` when it was imported before.
    pub async fn import_post(
        &self,
        board: BoardId,
        post_id: Uuid,
        author_id: Uuid,
        post: NewPost,
    ) -> Result<Option<Position>, CommandError> {
        match self.write_post(board, post_id, author_id, post).await {
            Ok(position) => Ok(Some(position)),
            Err(CommandError::Rejected {
                code: "post_exists",
                ..
            }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn write_post(
        &self,
        board: BoardId,
        post_id: Uuid,
        author_id: Uuid,
        post: NewPost,
    ) -> Result<Position, CommandError> {
        self.board_access(board, author_id).await?;
        let mut media_ids = post.media_ids;
        let mut seen = std::collections::HashSet::new();
        media_ids.retain(|id| seen.insert(*id));
        let command = PostCommand::Create {
            post_id,
            board,
            category: post.category,
            title: post.title,
            body: post.body,
            media_ids: media_ids.clone(),
            author_id,
        };
        if media_ids.is_empty() {
            let done = self.execute::<Post>(&post_id.to_string(), command).await?;
            return Ok(done.position);
        }
        // The post and its photos' use of them, in one transaction.
        let keys: Vec<_> = media_ids
            .iter()
            .map(|id| (Media::TYPE, id.to_string()))
            .collect();
        let _held = self.locks.lock(keys.clone()).await;
        let position = retry_conflicts("post with photos", || async {
            let services = self.services.as_ref();
            let created = self
                .store
                .load::<Post>(&post_id.to_string())
                .await?
                .decide(command.clone(), services)?;
            let mut rows = vec![created.rows(&self.meta)?];
            for media_id in &media_ids {
                let attach = MediaCommand::Attach {
                    by: author_id,
                    to: MediaUse::Post { board, post_id },
                };
                let media = self.store.load::<Media>(&media_id.to_string()).await?;
                rows.push(media.decide(attach, services)?.rows(&self.meta)?);
            }
            Ok(self.store.append_all(rows).await?)
        })
        .await;
        for key in keys {
            self.cache.remove(&key);
        }
        position
    }

    /// Runs a command on a post the caller may see; with `ask_moderator`, the command is told
    /// whether they moderate its board.
    async fn on_post(
        &self,
        post_id: Uuid,
        by: Uuid,
        ask_moderator: bool,
        command: impl FnOnce(bool) -> PostCommand,
    ) -> Result<(Post, Position), CommandError> {
        let (board, _) = self.live_post(post_id).await?;
        let moderates = self.standing(board, by, ask_moderator).await?;
        let done = self
            .execute::<Post>(&post_id.to_string(), command(moderates))
            .await?;
        Ok((done.state, done.position))
    }

    /// The author edits a post.
    pub async fn edit_post(
        &self,
        post_id: Uuid,
        by: Uuid,
        patch: PostPatch,
    ) -> Result<Position, CommandError> {
        Ok(self
            .on_post(post_id, by, false, |_| PostCommand::Edit { by, patch })
            .await?
            .1)
    }

    /// The author or a moderator deletes a post.
    pub async fn delete_post(&self, post_id: Uuid, by: Uuid) -> Result<Position, CommandError> {
        let delete = |moderator| PostCommand::Delete { by, moderator };
        Ok(self.on_post(post_id, by, true, delete).await?.1)
    }

    /// A moderator pins or unpins a post.
    pub async fn pin_post(
        &self,
        post_id: Uuid,
        by: Uuid,
        pinned: bool,
    ) -> Result<Position, CommandError> {
        let pin = |moderator| PostCommand::Pin {
            by,
            moderator,
            pinned,
        };
        Ok(self.on_post(post_id, by, true, pin).await?.1)
    }

    /// Likes a post (again: nothing more) or takes the like back.
    pub async fn like_post(
        &self,
        post_id: Uuid,
        user_id: Uuid,
        like: bool,
    ) -> Result<Position, CommandError> {
        let command = |_| {
            if like {
                PostCommand::Like { user_id }
            } else {
                PostCommand::Unlike { user_id }
            }
        };
        Ok(self.on_post(post_id, user_id, false, command).await?.1)
    }

    /// Comments on a post, or replies to one of its comments.
    #[tracing::instrument(skip(self, body))]
    pub async fn create_comment(
        &self,
        post_id: Uuid,
        author_id: Uuid,
        parent_id: Option<Uuid>,
        body: CommentBody,
        mentions: Vec<Uuid>,
    ) -> Result<(Uuid, Position), CommandError> {
        let (board, post_author_id) = self.live_post(post_id).await?;
        self.board_access(board, author_id).await?;
        let parent_author_id = match parent_id {
            Some(parent_id) => {
                let parent = self
                    .store
                    .load::<Comment>(&parent_id.to_string())
                    .await?
                    .aggregate;
                match parent.current() {
                    Some(c) if c.post_id == post_id => Some(c.author_id),
                    _ => return Err(CommandError::rejected(CommentError::NotFound)),
                }
            }
            None => None,
        };
        if mentions.len() > Comment::MAX_MENTIONS {
            return Err(CommandError::rejected(CommentError::TooManyMentions));
        }
        self.may_see(board, &mentions).await?;
        let comment_id = self.services.new_id();
        let command = CommentCommand::Create {
            comment_id,
            post_id,
            board,
            parent_id,
            author_id,
            body,
            post_author_id,
            parent_author_id,
            mentions,
        };
        let done = self
            .execute::<Comment>(&comment_id.to_string(), command)
            .await?;
        Ok((comment_id, done.position))
    }

    /// Refuses a mention of someone who cannot read `board` (a club's: its members; the
    /// community's: anyone registered), so nobody is told of a post they cannot open.
    async fn may_see(&self, board: BoardId, user_ids: &[Uuid]) -> Result<(), CommandError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let all_see = match board {
            BoardId::Club(club_id) => {
                let club = self.club(club_id).await?;
                user_ids.iter().all(|&u| club.role(u).is_some())
            }
            BoardId::Community => {
                let mut named = user_ids.to_vec();
                named.sort_unstable();
                named.dedup();
                self.store.existing_users(&named).await?.len() == named.len()
            }
        };
        if all_see {
            Ok(())
        } else {
            Err(CommandError::rejected(MentionUnseen))
        }
    }

    /// Runs a command on a comment whose post the caller may see; with `ask_moderator`, the
    /// command is told whether they moderate its board.
    async fn on_comment(
        &self,
        comment_id: Uuid,
        by: Uuid,
        ask_moderator: bool,
        command: impl FnOnce(bool) -> CommentCommand,
    ) -> Result<Position, CommandError> {
        let comment = self
            .store
            .load::<Comment>(&comment_id.to_string())
            .await?
            .aggregate;
        let board = comment
            .current()
            .map(|c| c.board)
            .ok_or_else(|| CommandError::rejected(CommentError::NotFound))?;
        let moderates = self
            .standing(board, by, ask_moderator)
            .await
            .map_err(|_| CommandError::rejected(CommentError::NotFound))?;
        Ok(self
            .execute::<Comment>(&comment_id.to_string(), command(moderates))
            .await?
            .position)
    }

    /// The author changes a comment.
    pub async fn edit_comment(
        &self,
        comment_id: Uuid,
        by: Uuid,
        body: CommentBody,
    ) -> Result<Position, CommandError> {
        self.on_comment(comment_id, by, false, |_| CommentCommand::Edit { by, body })
            .await
    }

    /// The author or a moderator deletes a comment.
    pub async fn delete_comment(
        &self,
        comment_id: Uuid,
        by: Uuid,
    ) -> Result<Position, CommandError> {
        self.on_comment(comment_id, by, true, |moderator| CommentCommand::Delete {
            by,
            moderator,
        })
        .await
    }
}
