//! Game commands: announce, join (or queue), leave.

use chrono::{DateTime, Utc};
use domain::game::{Game, GameCommand, GameError, Participation};
use domain::values::{GameTitle, MaxParticipants};
use domain::Position;
use uuid::Uuid;

use crate::{CommandError, Commands};

impl Commands {
    /// Announces a game hosted by `host_id`.
    #[tracing::instrument(skip(self))]
    pub async fn create_game(
        &self,
        host_id: Uuid,
        title: GameTitle,
        starts_at: DateTime<Utc>,
        max_participants: MaxParticipants,
    ) -> Result<(Uuid, Position), CommandError> {
        let game_id = self.services.new_id();
        let command = GameCommand::Create {
            game_id,
            title,
            starts_at,
            max_participants,
            host_id,
        };
        let done = self.execute::<Game>(&game_id.to_string(), command).await?;
        Ok((game_id, done.position))
    }

    /// Joins a game, or its waitlist when it is full; joining again answers where one stands.
    #[tracing::instrument(skip(self))]
    pub async fn join_game(
        &self,
        game_id: Uuid,
        user_id: Uuid,
    ) -> Result<(Participation, Position), CommandError> {
        let done = self
            .execute::<Game>(&game_id.to_string(), GameCommand::Join { user_id })
            .await?;
        let status = done
            .state
            .participation(user_id)
            .ok_or_else(|| CommandError::rejected(GameError::NotJoined))?;
        Ok((status, done.position))
    }

    /// Leaves a game; the first on the waitlist takes a freed place.
    #[tracing::instrument(skip(self))]
    pub async fn leave_game(&self, game_id: Uuid, user_id: Uuid) -> Result<Position, CommandError> {
        let done = self
            .execute::<Game>(&game_id.to_string(), GameCommand::Leave { user_id })
            .await?;
        Ok(done.position)
    }
}
