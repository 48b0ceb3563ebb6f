//! The game aggregate: places up to `max_participants`, then a waitlist in order; then the
//! game's life: started on its courts, scored set by set, completed or cancelled.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::{ErrorKind, Rejection};
use crate::game::{
    CourtLineup, CourtResult, GameCancelled, GameCommand, GameCompleted, GameCreated, GameEvent,
    GameReminded, GameStarted, PlayerJoined, PlayerLeft, PlayerPromoted, PlayerWaitlisted,
    SetScored,
};
use crate::services::Services;

/// A game's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Game {
    game_id: Option<Uuid>,
    max_participants: u32,
    participants: Vec<Uuid>,
    waitlist: Vec<Uuid>,
    #[serde(default)]
    host_id: Option<Uuid>,
    #[serde(default)]
    club_id: Option<Uuid>,
    #[serde(default)]
    courts: u32,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    status: GameStatus,
    #[serde(default)]
    lineups: Vec<CourtLineup>,
    /// Each scored set's latest version: (court, set, version).
    #[serde(default)]
    scores: Vec<(u32, u32, u32)>,
    #[serde(default)]
    reminded_for: Option<DateTime<Utc>>,
}

/// Where a game is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GameStatus {
    /// Announced; players join and leave.
    #[default]
    Scheduled,
    /// Being played; scores come in.
    InProgress,
    /// Over, with its winners.
    Completed,
    /// Called off before it started.
    Cancelled,
}

impl GameStatus {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
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
    /// Only the club's owner and managers run a game.
    #[error("only the club's owner or managers may do this")]
    NotAllowed,
    /// The game is not in the state this needs (joining a started game, scoring a scheduled one).
    #[error("the game is {0}")]
    WrongState(&'static str),
    /// A court number outside the game's courts, twice, or a court without two teams.
    #[error("courts are numbered 1 to the game's courts, once each, two teams each")]
    BadCourt,
    /// A player on a court who has no place in the game, or on two courts.
    #[error("every player must be a participant, on one court only")]
    BadLineup,
    /// A set number or points out of range.
    #[error("sets are 1 to 9 and points 0 to 99")]
    BadScore,
    /// A correction naming a version that is not the latest, or a first score naming one.
    #[error("that score was changed meanwhile; the latest version is {0}")]
    StaleScore(u32),
    /// Completing without exactly one result per court, or an MVP who did not play.
    #[error("one result per court, and an MVP who played")]
    BadResults,
    /// A game has 1 to [`Game::MAX_COURTS`] courts.
    #[error("a game has 1 to {} courts", Game::MAX_COURTS)]
    BadCourts,
}

impl Rejection for GameError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound | Self::NotJoined => ErrorKind::NotFound,
            Self::AlreadyExists | Self::WrongState(_) | Self::StaleScore(_) => ErrorKind::Conflict,
            Self::NotAllowed => ErrorKind::Forbidden,
            Self::StartOutOfRange
            | Self::BadCourt
            | Self::BadLineup
            | Self::BadScore
            | Self::BadResults
            | Self::BadCourts => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "game_not_found",
            Self::AlreadyExists => "game_exists",
            Self::NotJoined => "not_joined",
            Self::StartOutOfRange => "starts_at_out_of_range",
            Self::NotAllowed => "not_allowed",
            Self::WrongState(_) => "game_state",
            Self::BadCourt => "bad_court",
            Self::BadLineup => "bad_lineup",
            Self::BadScore => "bad_score",
            Self::StaleScore(_) => "stale_score",
            Self::BadResults => "bad_results",
            Self::BadCourts => "bad_courts",
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

    /// Whether the game was announced.
    pub fn exists(&self) -> bool {
        self.game_id.is_some()
    }

    /// Who announced it.
    pub fn host_id(&self) -> Option<Uuid> {
        self.host_id
    }

    /// The club the game belongs to.
    pub fn club_id(&self) -> Option<Uuid> {
        self.club_id
    }

    /// Where the game is in its life.
    pub fn status(&self) -> GameStatus {
        self.status
    }

    /// The most courts a game is played on.
    pub const MAX_COURTS: u32 = 20;

    /// How long before its start the participants are reminded.
    pub const REMIND_BEFORE: Duration = Duration::hours(1);

    fn expect(&self, status: GameStatus) -> Result<(), GameError> {
        if self.status == status {
            Ok(())
        } else {
            Err(GameError::WrongState(self.status.as_str()))
        }
    }

    fn start(
        &self,
        game_id: Uuid,
        by: Uuid,
        courts: Vec<CourtLineup>,
        services: &dyn Services,
    ) -> Result<Vec<GameEvent>, GameError> {
        self.expect(GameStatus::Scheduled)?;
        let mut seen_courts = Vec::new();
        let mut seen_players = Vec::new();
        for lineup in &courts {
            let numbered = (1..=self.courts.max(1)).contains(&lineup.court);
            if !numbered
                || seen_courts.contains(&lineup.court)
                || lineup.team_a.is_empty()
                || lineup.team_b.is_empty()
            {
                return Err(GameError::BadCourt);
            }
            seen_courts.push(lineup.court);
            for player in lineup.team_a.iter().chain(&lineup.team_b) {
                if !self.participants.contains(player) || seen_players.contains(player) {
                    return Err(GameError::BadLineup);
                }
                seen_players.push(*player);
            }
        }
        if courts.is_empty() {
            return Err(GameError::BadCourt);
        }
        Ok(vec![GameEvent::GameStarted(GameStarted {
            game_id,
            courts,
            by,
            at: services.now(),
        })])
    }

    #[allow(clippy::too_many_arguments)]
    fn score(
        &self,
        game_id: Uuid,
        by: Uuid,
        court: u32,
        set_no: u32,
        points: (u32, u32),
        corrects: Option<u32>,
        services: &dyn Services,
    ) -> Result<Vec<GameEvent>, GameError> {
        self.expect(GameStatus::InProgress)?;
        if !self.lineups.iter().any(|l| l.court == court) {
            return Err(GameError::BadCourt);
        }
        if !(1..=9).contains(&set_no) || points.0 > 99 || points.1 > 99 {
            return Err(GameError::BadScore);
        }
        let latest = self
            .scores
            .iter()
            .find(|(c, s, _)| *c == court && *s == set_no)
            .map_or(0, |(_, _, v)| *v);
        if corrects.unwrap_or(0) != latest {
            return Err(GameError::StaleScore(latest));
        }
        Ok(vec![GameEvent::SetScored(SetScored {
            game_id,
            court,
            set_no,
            team_a: points.0,
            team_b: points.1,
            version: latest + 1,
            by,
            at: services.now(),
        })])
    }

    fn complete(
        &self,
        game_id: Uuid,
        by: Uuid,
        results: Vec<CourtResult>,
        mvp_user_id: Option<Uuid>,
        services: &dyn Services,
    ) -> Result<Vec<GameEvent>, GameError> {
        self.expect(GameStatus::InProgress)?;
        let one_each = results.len() == self.lineups.len()
            && self
                .lineups
                .iter()
                .all(|l| results.iter().filter(|r| r.court == l.court).count() == 1);
        let mvp_played = mvp_user_id.is_none_or(|mvp| {
            self.lineups
                .iter()
                .any(|l| l.team_a.contains(&mvp) || l.team_b.contains(&mvp))
        });
        if !one_each || !mvp_played {
            return Err(GameError::BadResults);
        }
        Ok(vec![GameEvent::GameCompleted(GameCompleted {
            game_id,
            results,
            mvp_user_id,
            by,
            at: services.now(),
        })])
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
            club_id,
            courts,
        } = command
        {
            if self.game_id.is_some() {
                return Err(GameError::AlreadyExists);
            }
            let now = services.now();
            if starts_at < now - Duration::days(1) || starts_at > now + Duration::days(5 * 366) {
                return Err(GameError::StartOutOfRange);
            }
            if !(1..=Self::MAX_COURTS).contains(&courts) {
                return Err(GameError::BadCourts);
            }
            return Ok(vec![GameEvent::GameCreated(GameCreated {
                game_id,
                title: title.as_str().to_owned(),
                starts_at,
                max_participants: max_participants.get(),
                host_id,
                created_at: services.now(),
                club_id,
                courts,
            })]);
        }
        let game_id = self.game_id.ok_or(GameError::NotFound)?;
        match command {
            GameCommand::Create { .. } => Err(GameError::AlreadyExists),
            GameCommand::Join { user_id } => {
                if self.participation(user_id).is_some() {
                    return Ok(vec![]);
                }
                self.expect(GameStatus::Scheduled)?;
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
                Some(_) if self.status != GameStatus::Scheduled => {
                    Err(GameError::WrongState(self.status.as_str()))
                }
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
            GameCommand::Start { manager: false, .. }
            | GameCommand::Score { manager: false, .. }
            | GameCommand::Complete { manager: false, .. }
            | GameCommand::Cancel { manager: false, .. } => Err(GameError::NotAllowed),
            GameCommand::Start { by, courts, .. } => self.start(game_id, by, courts, services),
            GameCommand::Score {
                by,
                court,
                set_no,
                team_a,
                team_b,
                corrects,
                ..
            } => self.score(
                game_id,
                by,
                court,
                set_no,
                (team_a, team_b),
                corrects,
                services,
            ),
            GameCommand::Complete {
                by,
                results,
                mvp_user_id,
                ..
            } => self.complete(game_id, by, results, mvp_user_id, services),
            GameCommand::Cancel { by, reason, .. } => {
                self.expect(GameStatus::Scheduled)?;
                let mut told = self.participants.clone();
                told.extend(&self.waitlist);
                Ok(vec![GameEvent::GameCancelled(GameCancelled {
                    game_id,
                    reason,
                    by,
                    told,
                    at: services.now(),
                })])
            }
            GameCommand::Remind { starts_at } => {
                let due = self.status == GameStatus::Scheduled
                    && self.starts_at == Some(starts_at)
                    && self.reminded_for != Some(starts_at)
                    && !self.participants.is_empty();
                Ok(if due {
                    vec![GameEvent::GameReminded(GameReminded {
                        game_id,
                        starts_at,
                        participants: self.participants.clone(),
                    })]
                } else {
                    Vec::new()
                })
            }
        }
    }

    fn apply(&mut self, event: GameEvent) {
        match event {
            GameEvent::GameCreated(e) => {
                self.game_id = Some(e.game_id);
                self.max_participants = e.max_participants;
                self.club_id = e.club_id;
                self.host_id = Some(e.host_id);
                self.courts = e.courts;
                self.starts_at = Some(e.starts_at);
            }
            GameEvent::GameStarted(e) => {
                self.status = GameStatus::InProgress;
                self.lineups = e.courts;
            }
            GameEvent::SetScored(e) => {
                self.scores
                    .retain(|(c, s, _)| !(*c == e.court && *s == e.set_no));
                self.scores.push((e.court, e.set_no, e.version));
            }
            GameEvent::GameCompleted(_) => self.status = GameStatus::Completed,
            GameEvent::GameCancelled(_) => self.status = GameStatus::Cancelled,
            GameEvent::GameReminded(e) => self.reminded_for = Some(e.starts_at),
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
            club_id: None,
            courts: 1,
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
            club_id: None,
            courts: 1,
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
            club_id: None,
            courts: 1,
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
                club_id: None,
                courts: 1,
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

    fn started() -> GameEvent {
        GameEvent::GameStarted(GameStarted {
            game_id: GAME,
            courts: vec![CourtLineup {
                court: 1,
                team_a: vec![player(1)],
                team_b: vec![player(2)],
            }],
            by: HOST,
            at: FixedServices::new().now,
        })
    }

    fn scored(set_no: u32, points: (u32, u32), version: u32) -> GameEvent {
        GameEvent::SetScored(SetScored {
            game_id: GAME,
            court: 1,
            set_no,
            team_a: points.0,
            team_b: points.1,
            version,
            by: HOST,
            at: FixedServices::new().now,
        })
    }

    fn score(set_no: u32, points: (u32, u32), corrects: Option<u32>) -> GameCommand {
        GameCommand::Score {
            by: HOST,
            manager: true,
            court: 1,
            set_no,
            team_a: points.0,
            team_b: points.1,
            corrects,
        }
    }

    fn start(courts: Vec<CourtLineup>, manager: bool) -> GameCommand {
        GameCommand::Start {
            by: HOST,
            manager,
            courts,
        }
    }

    fn lineup(court: u32, a: &[u128], b: &[u128]) -> CourtLineup {
        CourtLineup {
            court,
            team_a: a.iter().map(|&n| player(n)).collect(),
            team_b: b.iter().map(|&n| player(n)).collect(),
        }
    }

    #[test]
    fn only_managers_start_a_game_with_its_participants_on_one_court_each() {
        let full = || [created(2), joined(1), joined(2), waitlisted(3, 1)];
        given::<Game>(full())
            .when(start(vec![lineup(1, &[1], &[2])], false))
            .then_expect_error("not_allowed");
        given::<Game>(full())
            .when(start(vec![lineup(1, &[1], &[3])], true))
            .then_expect_error("bad_lineup");
        given::<Game>(full())
            .when(start(vec![lineup(1, &[1], &[1])], true))
            .then_expect_error("bad_lineup");
        given::<Game>(full())
            .when(start(vec![lineup(2, &[1], &[2])], true))
            .then_expect_error("bad_court");
        let game = given::<Game>(full())
            .when(start(vec![lineup(1, &[1], &[2])], true))
            .then_expect_events(vec![started()]);
        assert_eq!(game.status(), GameStatus::InProgress);
    }

    #[test]
    fn nobody_joins_or_leaves_a_started_game() {
        let [a, b, c] = [created(2), joined(1), joined(2)];
        given::<Game>([a.clone(), b.clone(), c.clone(), started()])
            .when(join(4))
            .then_expect_error("game_state");
        given::<Game>([a, b, c, started()])
            .when(leave(1))
            .then_expect_error("game_state");
    }

    #[test]
    fn a_correction_names_the_version_it_corrects() {
        let playing = || vec![created(2), joined(1), joined(2), started()];
        given::<Game>(playing())
            .when(score(1, (21, 19), None))
            .then_expect_events(vec![scored(1, (21, 19), 1)]);
        let mut once = playing();
        once.push(scored(1, (21, 19), 1));
        given::<Game>(once.clone())
            .when(score(1, (21, 17), Some(1)))
            .then_expect_events(vec![scored(1, (21, 17), 2)]);
        given::<Game>(once.clone())
            .when(score(1, (21, 17), None))
            .then_expect_error("stale_score");
        once.push(scored(1, (21, 17), 2));
        given::<Game>(once.clone())
            .when(score(1, (20, 22), Some(1)))
            .then_expect_error("stale_score");
        given::<Game>(once)
            .when(score(10, (1, 1), None))
            .then_expect_error("bad_score");
        given::<Game>([created(2), joined(1)])
            .when(score(1, (1, 1), None))
            .then_expect_error("game_state");
    }

    #[test]
    fn a_game_completes_with_one_result_per_court_and_an_mvp_who_played() {
        let playing = || vec![created(3), joined(1), joined(2), joined(3), started()];
        let complete = |results: Vec<CourtResult>, mvp: u128| GameCommand::Complete {
            by: HOST,
            manager: true,
            results,
            mvp_user_id: Some(player(mvp)),
        };
        let won = |court| CourtResult {
            court,
            winner: crate::game::Winner::TeamA,
        };
        given::<Game>(playing())
            .when(complete(vec![], 1))
            .then_expect_error("bad_results");
        given::<Game>(playing())
            .when(complete(vec![won(1)], 3))
            .then_expect_error("bad_results");
        let game = given::<Game>(playing())
            .when(complete(vec![won(1)], 1))
            .then_expect_events(vec![GameEvent::GameCompleted(GameCompleted {
                game_id: GAME,
                results: vec![won(1)],
                mvp_user_id: Some(player(1)),
                by: HOST,
                at: FixedServices::new().now,
            })]);
        assert_eq!(game.status(), GameStatus::Completed);
    }

    #[test]
    fn a_cancelled_game_tells_players_and_waitlist_and_is_not_reminded() {
        let base = || [created(1), joined(1), waitlisted(2, 1)];
        let cancelled = GameEvent::GameCancelled(GameCancelled {
            game_id: GAME,
            reason: "rain".into(),
            by: HOST,
            told: vec![player(1), player(2)],
            at: FixedServices::new().now,
        });
        given::<Game>(base())
            .when(GameCommand::Cancel {
                by: HOST,
                manager: true,
                reason: "rain".into(),
            })
            .then_expect_events(vec![cancelled.clone()]);
        let starts_at = FixedServices::new().now;
        let [a, b, c] = base();
        given::<Game>([a, b, c, cancelled])
            .when(GameCommand::Remind { starts_at })
            .then_expect_events(vec![]);
    }

    #[test]
    fn the_start_is_reminded_once_for_its_time() {
        let starts_at = FixedServices::new().now;
        let reminded = GameEvent::GameReminded(GameReminded {
            game_id: GAME,
            starts_at,
            participants: vec![player(1)],
        });
        given::<Game>([created(1), joined(1)])
            .when(GameCommand::Remind { starts_at })
            .then_expect_events(vec![reminded.clone()]);
        given::<Game>([created(1), joined(1), reminded])
            .when(GameCommand::Remind { starts_at })
            .then_expect_events(vec![]);
        given::<Game>([created(1), joined(1)])
            .when(GameCommand::Remind {
                starts_at: starts_at + Duration::minutes(5),
            })
            .then_expect_events(vec![]);
    }
}
