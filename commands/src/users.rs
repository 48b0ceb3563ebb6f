//! User commands beyond accounts: the profile, blocking and unblocking someone, and the check
//! that keeps a blocked user from pulling the blocker into a room.

use chrono::NaiveDate;
use domain::user::{User, UserCommand, UserError};
use domain::values::{Bio, DisplayName};
use domain::{ErrorKind, Position};
use futures::StreamExt;
use uuid::Uuid;

use crate::{CommandError, Commands};

impl Commands {
    /// `user_id` blocks `blocked_id` (who must exist); blocking twice changes nothing.
    #[tracing::instrument(skip(self))]
    pub async fn block_user(
        &self,
        user_id: Uuid,
        blocked_id: Uuid,
    ) -> Result<Position, CommandError> {
        if self.store.existing_users(&[blocked_id]).await?.is_empty() {
            return Err(CommandError::rejected(UserError::NotFound));
        }
        let done = self
            .execute::<User>(&user_id.to_string(), UserCommand::Block { blocked_id })
            .await?;
        Ok(done.position)
    }

    /// `user_id` lifts a block; lifting one that is not there changes nothing.
    #[tracing::instrument(skip(self))]
    pub async fn unblock_user(
        &self,
        user_id: Uuid,
        blocked_id: Uuid,
    ) -> Result<Position, CommandError> {
        let done = self
            .execute::<User>(&user_id.to_string(), UserCommand::Unblock { blocked_id })
            .await?;
        Ok(done.position)
    }

    /// The user as the write side knows it.
    pub async fn user(&self, user_id: Uuid) -> Result<User, CommandError> {
        Ok(self
            .store
            .load::<User>(&user_id.to_string())
            .await?
            .aggregate)
    }

    /// Links `user_id`'s character in `game`, as the game's connector found it.
    #[tracing::instrument(skip(self))]
    pub async fn link_game_character(
        &self,
        user_id: Uuid,
        game: &str,
        character_id: &str,
        character_name: &str,
    ) -> Result<Position, CommandError> {
        let command = UserCommand::LinkGameCharacter {
            game: game.to_owned(),
            character_id: character_id.to_owned(),
            character_name: character_name.to_owned(),
        };
        let done = self.execute::<User>(&user_id.to_string(), command).await?;
        Ok(done.position)
    }

    /// Unlinks `user_id`'s character in `game`.
    #[tracing::instrument(skip(self))]
    pub async fn unlink_game_character(
        &self,
        user_id: Uuid,
        game: &str,
    ) -> Result<Position, CommandError> {
        let command = UserCommand::UnlinkGameCharacter {
            game: game.to_owned(),
        };
        let done = self.execute::<User>(&user_id.to_string(), command).await?;
        Ok(done.position)
    }

    /// Changes `user_id`'s profile (absent fields stay).
    #[tracing::instrument(skip(self))]
    pub async fn update_profile(
        &self,
        user_id: Uuid,
        display_name: Option<DisplayName>,
        birthday: Option<Option<NaiveDate>>,
        bio: Option<Option<Bio>>,
    ) -> Result<(User, Position), CommandError> {
        let command = UserCommand::UpdateProfile {
            display_name,
            birthday,
            bio,
        };
        let done = self.execute::<User>(&user_id.to_string(), command).await?;
        Ok((done.state, done.position))
    }

    /// Refuses when any of `others` blocks `actor`: a blocked user cannot open a direct room
    /// with the blocker or add them to a room. Read from the users' own aggregates, never stale.
    pub(crate) async fn refuse_if_blocked(
        &self,
        actor: Uuid,
        others: &[Uuid],
    ) -> Result<(), CommandError> {
        let others: Vec<Uuid> = others.iter().copied().filter(|&o| o != actor).collect();
        let mut loads = futures::stream::iter(others)
            .map(|other| async move {
                let user = self.store.load::<User>(&other.to_string()).await?;
                Ok::<_, CommandError>((other, user.aggregate.blocks(actor)))
            })
            .buffer_unordered(8);
        while let Some(loaded) = loads.next().await {
            let (other, blocks) = loaded?;
            if blocks {
                return Err(CommandError::Rejected {
                    kind: ErrorKind::Forbidden,
                    code: "blocked",
                    message: format!("{other} does not accept you in their rooms"),
                });
            }
        }
        Ok(())
    }
}
