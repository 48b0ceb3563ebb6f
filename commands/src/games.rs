//! Game commands: announce (in a club), join (or queue), leave, start on courts, score sets,
//! complete, cancel, and the scheduler's start reminder.
//!
//! A club's game is its members' business: anyone else is told it does not exist, and only the
//! club's owner and managers run it (the domain is told whether the caller does). Games made
//! before clubs existed belong to no club; their host runs them.

use chrono::{DateTime, Utc};
use domain::club::ClubError;
use domain::game::{CourtLineup, CourtResult, Game, GameCommand, GameError, Participation};
use domain::values::{GameTitle, MaxParticipants};
use domain::Position;
use uuid::Uuid;

use crate::{CommandError, Commands};

/// What a game's announcement says.
#[derive(Debug, Clone)]
pub struct NewGame {
    /// Its title.
    pub title: GameTitle,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// How many may play.
    pub max_participants: MaxParticipants,
    /// How many courts.
    pub courts: u32,
}

impl Commands {
    /// Announces a game hosted by `host_id`, in no club.
    #[tracing::instrument(skip(self))]
    pub async fn create_game(
        &self,
        host_id: Uuid,
        title: GameTitle,
        starts_at: DateTime<Utc>,
        max_participants: MaxParticipants,
    ) -> Result<(Uuid, Position), CommandError> {
        let game = NewGame {
            title,
            starts_at,
            max_participants,
            courts: 1,
        };
        self.announce(host_id, None, game).await
    }

    /// Announces a club's game (its owner or a manager does).
    #[tracing::instrument(skip(self))]
    pub async fn create_club_game(
        &self,
        club_id: Uuid,
        host_id: Uuid,
        game: NewGame,
    ) -> Result<(Uuid, Position), CommandError> {
        if !self.club_role(club_id, host_id).await?.runs_the_club() {
            return Err(CommandError::rejected(ClubError::NotAllowed(
                "the owner or managers",
            )));
        }
        self.announce(host_id, Some(club_id), game).await
    }

    async fn announce(
        &self,
        host_id: Uuid,
        club_id: Option<Uuid>,
        game: NewGame,
    ) -> Result<(Uuid, Position), CommandError> {
        let game_id = self.services.new_id();
        let command = GameCommand::Create {
            game_id,
            title: game.title,
            starts_at: game.starts_at,
            max_participants: game.max_participants,
            host_id,
            club_id,
            courts: game.courts,
        };
        let done = self.execute::<Game>(&game_id.to_string(), command).await?;
        Ok((game_id, done.position))
    }

    /// Whether `user_id` may see the game, and whether they run it.
    pub async fn game_access(&self, game_id: Uuid, user_id: Uuid) -> Result<bool, CommandError> {
        let game = self
            .store
            .load::<Game>(&game_id.to_string())
            .await?
            .aggregate;
        let not_found = || CommandError::rejected(GameError::NotFound);
        match game.club_id() {
            Some(club_id) => match self.club(club_id).await?.role(user_id) {
                Some(role) => Ok(role.runs_the_club()),
                None => Err(not_found()),
            },
            None if game.exists() => Ok(game.host_id() == Some(user_id)),
            None => Err(not_found()),
        }
    }

    /// Joins a game, or its waitlist when it is full; joining again answers where one stands.
    #[tracing::instrument(skip(self))]
    pub async fn join_game(
        &self,
        game_id: Uuid,
        user_id: Uuid,
    ) -> Result<(Participation, Position), CommandError> {
        self.game_access(game_id, user_id).await?;
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
        self.game_access(game_id, user_id).await?;
        let done = self
            .execute::<Game>(&game_id.to_string(), GameCommand::Leave { user_id })
            .await?;
        Ok(done.position)
    }

    /// Starts a game on its courts.
    #[tracing::instrument(skip(self))]
    pub async fn start_game(
        &self,
        game_id: Uuid,
        by: Uuid,
        courts: Vec<CourtLineup>,
    ) -> Result<Position, CommandError> {
        let manager = self.game_access(game_id, by).await?;
        let command = GameCommand::Start {
            by,
            manager,
            courts,
        };
        Ok(self
            .execute::<Game>(&game_id.to_string(), command)
            .await?
            .position)
    }

    /// Records a set's score, or corrects the version named.
    #[tracing::instrument(skip(self))]
    #[allow(clippy::too_many_arguments)]
    pub async fn score_set(
        &self,
        game_id: Uuid,
        by: Uuid,
        court: u32,
        set_no: u32,
        points: (u32, u32),
        corrects: Option<u32>,
    ) -> Result<(u32, Position), CommandError> {
        let manager = self.game_access(game_id, by).await?;
        let command = GameCommand::Score {
            by,
            manager,
            court,
            set_no,
            team_a: points.0,
            team_b: points.1,
            corrects,
        };
        let done = self.execute::<Game>(&game_id.to_string(), command).await?;
        let version = done
            .events
            .iter()
            .find_map(|e| match e {
                domain::game::GameEvent::SetScored(s) => Some(s.version),
                _ => None,
            })
            .unwrap_or_default();
        Ok((version, done.position))
    }

    /// Completes a game with each court's winner.
    #[tracing::instrument(skip(self))]
    pub async fn complete_game(
        &self,
        game_id: Uuid,
        by: Uuid,
        results: Vec<CourtResult>,
        mvp_user_id: Option<Uuid>,
    ) -> Result<Position, CommandError> {
        let manager = self.game_access(game_id, by).await?;
        let command = GameCommand::Complete {
            by,
            manager,
            results,
            mvp_user_id,
        };
        Ok(self
            .execute::<Game>(&game_id.to_string(), command)
            .await?
            .position)
    }

    /// Calls a game off before its start.
    #[tracing::instrument(skip(self))]
    pub async fn cancel_game(
        &self,
        game_id: Uuid,
        by: Uuid,
        reason: String,
    ) -> Result<Position, CommandError> {
        let manager = self.game_access(game_id, by).await?;
        let command = GameCommand::Cancel {
            by,
            manager,
            reason,
        };
        Ok(self
            .execute::<Game>(&game_id.to_string(), command)
            .await?
            .position)
    }

    /// The scheduler: reminds a game's participants of its start; nothing for a moved,
    /// cancelled or started game, or one reminded already.
    #[tracing::instrument(skip(self))]
    pub async fn remind_game(
        &self,
        game_id: Uuid,
        starts_at: DateTime<Utc>,
    ) -> Result<bool, CommandError> {
        match self
            .execute::<Game>(&game_id.to_string(), GameCommand::Remind { starts_at })
            .await
        {
            Ok(done) => Ok(!done.events.is_empty()),
            Err(CommandError::Duplicate) => Ok(false),
            Err(error) => Err(error),
        }
    }
}
