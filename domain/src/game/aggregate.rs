//! The game aggregate: places up to `max_participants`, then a waitlist in order.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::{ErrorKind, Rejection};
use crate::game::{
    GameCommand, GameCreated, GameEvent, PlayerJoined, PlayerLeft, PlayerPromoted, PlayerWaitlisted,
};
use crate::services::Services;

/// A game's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Game {
    game_id: Option<Uuid>,
    max_participants: u32,
    participants: Vec<Uuid>,
    waitlist: Vec<Uuid>,
}

/// Where a player stands in a game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum Participation {
    /// Has a place.
    Joined,
    /// Waits at `position` (1-based).
    Waitlisted {
        /// Place in the queue.
        position: u32,
    },
}

/// Why a game command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GameError {
    /// No such game.
    #[error("game not found")]
    NotFound,
    /// The id is taken.
    #[error("game already exists")]
    AlreadyExists,
    /// Leaving a game one is not in.
    #[error("not in this game")]
    NotJoined,
    /// A start time in the past or too far ahead.
    #[error("starts_at must be between a day ago and five years ahead")]
    StartOutOfRange,
}

impl Rejection for GameError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound | Self::NotJoined => ErrorKind::NotFound,
            Self::AlreadyExists => ErrorKind::Conflict,
            Self::StartOutOfRange => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "game_not_found",
            Self::AlreadyExists => "game_exists",
            Self::NotJoined => "not_joined",
            Self::StartOutOfRange => "starts_at_out_of_range",
        }
    }
}

impl Game {
    /// Where a player stands, if they are in the game at all.
    pub fn participation(&self, user_id: Uuid) -> Option<Participation> {
        if self.participants.contains(&user_id) {
            return Some(Participation::Joined);
        }
        self.waitlist
            .iter()
            .position(|u| *u == user_id)
            .map(|i| Participation::Waitlisted {
                position: u32::try_from(i + 1).unwrap_or(u32::MAX),
            })
    }

    /// Players with a place, in the order they got it.
    pub fn participants(&self) -> &[Uuid] {
        &self.participants
    }

    /// The waitlist, first in line first.
    pub fn waitlist(&self) -> &[Uuid] {
        &self.waitlist
    }
}

impl Aggregate for Game {
    const TYPE: &'static str = "game";
    const SNAPSHOT_EVERY: Option<u64> = Some(50);
    type Command = GameCommand;
    type Event = GameEvent;
    type Error = GameError;

    fn handle(
        &self,
        command: GameCommand,
        services: &dyn Services,
    ) -> Result<Vec<GameEvent>, GameError> {
        if let GameCommand::Create {
            game_id,
            title,
            starts_at,
            max_participants,
            host_id,
        } = command
        {
            if self.game_id.is_some() {
                return Err(GameError::AlreadyExists);
            }
            let now = services.now();
            if starts_at < now - Duration::days(1) || starts_at > now + Duration::days(5 * 366) {
                return Err(GameError::StartOutOfRange);
            }
            return Ok(vec![GameEvent::GameCreated(GameCreated {
                game_id,
                title: title.as_str().to_owned(),
                starts_at,
                max_participants: max_participants.get(),
                host_id,
                created_at: services.now(),
            })]);
        }
        let game_id = self.game_id.ok_or(GameError::NotFound)?;
        match command {
            GameCommand::Create { .. } => Err(GameError::AlreadyExists),
            GameCommand::Join { user_id } => {
                if self.participation(user_id).is_some() {
                    return Ok(vec![]);
                }
                if self.participants.len() < self.max_participants as usize {
                    return Ok(vec![GameEvent::PlayerJoined(PlayerJoined {
                        game_id,
                        user_id,
                    })]);
                }
                let position = u32::try_from(self.waitlist.len() + 1).unwrap_or(u32::MAX);
                Ok(vec![GameEvent::PlayerWaitlisted(PlayerWaitlisted {
                    game_id,
                    user_id,
                    position,
                })])
            }
            GameCommand::Leave { user_id } => match self.participation(user_id) {
                None => Err(GameError::NotJoined),
                Some(Participation::Waitlisted { .. }) => {
                    Ok(vec![GameEvent::PlayerLeft(PlayerLeft { game_id, user_id })])
                }
                Some(Participation::Joined) => {
                    let mut events = vec![GameEvent::PlayerLeft(PlayerLeft { game_id, user_id })];
                    if let Some(&first) = self.waitlist.first() {
                        events.push(GameEvent::PlayerPromoted(PlayerPromoted {
                            game_id,
                            user_id: first,
                        }));
                    }
                    Ok(events)
                }
            },
        }
    }

    fn apply(&mut self, event: GameEvent) {
        match event {
            GameEvent::GameCreated(e) => {
                self.game_id = Some(e.game_id);
                self.max_participants = e.max_participants;
            }
            GameEvent::PlayerJoined(e) => self.participants.push(e.user_id),
            GameEvent::PlayerWaitlisted(e) => self.waitlist.push(e.user_id),
            GameEvent::PlayerLeft(PlayerLeft { user_id, .. }) => {
                self.participants.retain(|u| *u != user_id);
                self.waitlist.retain(|u| *u != user_id);
            }
            GameEvent::PlayerPromoted(PlayerPromoted { user_id, .. }) => {
                self.waitlist.retain(|u| *u != user_id);
                self.participants.push(user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};
    use crate::values::{GameTitle, MaxParticipants};

    const GAME: Uuid = Uuid::from_u128(9);
    const HOST: Uuid = Uuid::from_u128(1);

    fn player(n: u128) -> Uuid {
        Uuid::from_u128(100 + n)
    }

    fn created(max: u32) -> GameEvent {
        let now = FixedServices::new().now;
        GameEvent::GameCreated(GameCreated {
            game_id: GAME,
            title: "Sunday doubles".into(),
            starts_at: now,
            max_participants: max,
            host_id: HOST,
            created_at: now,
        })
    }

    fn joined(n: u128) -> GameEvent {
        GameEvent::PlayerJoined(PlayerJoined {
            game_id: GAME,
            user_id: player(n),
        })
    }

    fn waitlisted(n: u128, position: u32) -> GameEvent {
        GameEvent::PlayerWaitlisted(PlayerWaitlisted {
            game_id: GAME,
            user_id: player(n),
            position,
        })
    }

    fn join(n: u128) -> GameCommand {
        GameCommand::Join { user_id: player(n) }
    }

    fn leave(n: u128) -> GameCommand {
        GameCommand::Leave { user_id: player(n) }
    }

    #[test]
    fn creating_needs_a_fresh_id() {
        let now = FixedServices::new().now;
        let create = || GameCommand::Create {
            game_id: GAME,
            title: GameTitle::parse("Sunday doubles").unwrap(),
            starts_at: now,
            max_participants: MaxParticipants::new(2).unwrap(),
            host_id: HOST,
        };
        given::<Game>([])
            .when(create())
            .then_expect_events(vec![created(2)]);
        given::<Game>([created(2)])
            .when(create())
            .then_expect_error("game_exists");
    }

    #[test]
    fn a_game_starts_between_yesterday_and_five_years_ahead() {
        let now = FixedServices::new().now;
        let create_at = |starts_at| GameCommand::Create {
            game_id: GAME,
            title: GameTitle::parse("Sunday doubles").unwrap(),
            starts_at,
            max_participants: MaxParticipants::new(2).unwrap(),
            host_id: HOST,
        };
        for bad in [now - Duration::days(2), now + Duration::days(6 * 366)] {
            given::<Game>([])
                .when(create_at(bad))
                .then_expect_error("starts_at_out_of_range");
        }
        given::<Game>([])
            .when(create_at(now + Duration::days(30)))
            .then_expect_events(vec![GameEvent::GameCreated(GameCreated {
                game_id: GAME,
                title: "Sunday doubles".into(),
                starts_at: now + Duration::days(30),
                max_participants: 2,
                host_id: HOST,
                created_at: now,
            })]);
    }

    #[test]
    fn players_join_until_full_then_queue_in_order() {
        given::<Game>([created(2)])
            .when(join(1))
            .then_expect_events(vec![joined(1)]);
        given::<Game>([created(2), joined(1), joined(2)])
            .when(join(3))
            .then_expect_events(vec![waitlisted(3, 1)]);
        let game = given::<Game>([created(2), joined(1), joined(2), waitlisted(3, 1)])
            .when(join(4))
            .then_expect_events(vec![waitlisted(4, 2)]);
        assert_eq!(
            game.participation(player(4)),
            Some(Participation::Waitlisted { position: 2 })
        );
    }

    #[test]
    fn joining_twice_changes_nothing() {
        given::<Game>([created(1), joined(1)])
            .when(join(1))
            .then_expect_events(vec![]);
        given::<Game>([created(1), joined(1), waitlisted(2, 1)])
            .when(join(2))
            .then_expect_events(vec![]);
    }

    #[test]
    fn leaving_promotes_the_first_on_the_waitlist() {
        let game = given::<Game>([created(1), joined(1), waitlisted(2, 1), waitlisted(3, 2)])
            .when(leave(1))
            .then_expect_events(vec![
                GameEvent::PlayerLeft(PlayerLeft {
                    game_id: GAME,
                    user_id: player(1),
                }),
                GameEvent::PlayerPromoted(PlayerPromoted {
                    game_id: GAME,
                    user_id: player(2),
                }),
            ]);
        assert_eq!(game.participants(), &[player(2)]);
        assert_eq!(
            game.participation(player(3)),
            Some(Participation::Waitlisted { position: 1 })
        );
    }

    #[test]
    fn leaving_the_waitlist_moves_the_queue_up() {
        let game = given::<Game>([created(1), joined(1), waitlisted(2, 1), waitlisted(3, 2)])
            .when(leave(2))
            .then_expect_events(vec![GameEvent::PlayerLeft(PlayerLeft {
                game_id: GAME,
                user_id: player(2),
            })]);
        assert_eq!(game.waitlist(), &[player(3)]);
    }

    #[test]
    fn leaving_needs_a_place_and_a_game() {
        given::<Game>([created(1)])
            .when(leave(1))
            .then_expect_error("not_joined");
        given::<Game>([])
            .when(join(1))
            .then_expect_error("game_not_found");
    }
}
