//! Game characters on profiles: linking one (the connector finds it, then a command records
//! the link), and reading them from a PostgreSQL cache with an age. A copy younger than the
//! TTL is served without asking the game's API; an older one is refreshed on the way (within
//! the upstream's timeout) and, when the API is down, served marked `stale`. A background
//! refresher keeps linked characters' copies young so that reads rarely wait at all.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::Commands;
use domain::{ErrorKind, Position};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::maplestory::{CharacterSheet, MapleStory, GAME};
use crate::ConnectorError;

/// Characters refreshed per background round.
const REFRESH_BATCH: i64 = 20;

/// A linked character as a profile shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CharacterCard {
    /// e.g. `maplestory`.
    pub game: String,
    /// The game's id for it.
    pub character_id: String,
    /// Its card and stats.
    #[serde(flatten)]
    pub sheet: CharacterSheet,
    /// When the game's API said so.
    pub fetched_at: DateTime<Utc>,
    /// Older than the cache's TTL, and the API could not be asked just now.
    pub stale: bool,
}

/// Linked characters and their cache; see the module documentation.
#[derive(Clone)]
pub struct Characters {
    pool: PgPool,
    maplestory: Option<Arc<MapleStory>>,
    ttl: Duration,
}

impl Characters {
    /// Characters read through `maplestory` (none: not configured), copies kept `ttl`.
    pub fn new(pool: PgPool, maplestory: Option<MapleStory>, ttl: Duration) -> Self {
        Self {
            pool,
            maplestory: maplestory.map(Arc::new),
            ttl,
        }
    }

    fn api(&self, game: &str) -> Result<&MapleStory, ConnectorError> {
        if game != GAME {
            return Err(ConnectorError::rejected(
                ErrorKind::NotFound,
                "game_not_supported",
                "Moim links characters of maplestory only",
            ));
        }
        self.maplestory
            .as_deref()
            .ok_or(ConnectorError::NotConfigured("the MapleStory connector"))
    }

    /// Links `user_id`'s character named `name`: its id and card come from the API first, then
    /// the link is a command run by `commands` (the caller's).
    pub async fn link(
        &self,
        commands: &Commands,
        user_id: Uuid,
        game: &str,
        name: &str,
    ) -> Result<(CharacterCard, Position), ConnectorError> {
        let api = self.api(game)?;
        let ocid = api.ocid(name).await?;
        let sheet = api.sheet(&ocid).await?;
        let fetched_at = self.store(game, &ocid, &sheet).await?;
        let position = commands
            .link_game_character(user_id, game, &ocid, &sheet.name)
            .await?;
        let card = CharacterCard {
            game: game.to_owned(),
            character_id: ocid,
            sheet,
            fetched_at,
            stale: false,
        };
        Ok((card, position))
    }

    /// `user_id`'s linked characters: fresh copies as they are, older ones refreshed (or served
    /// stale when the API cannot answer; `503` only when there is no copy at all).
    pub async fn of_user(&self, user_id: Uuid) -> Result<Vec<CharacterCard>, ConnectorError> {
        let mut cards = Vec::new();
        for link in projections::users::game_characters(&self.pool, user_id).await? {
            let cached = self.cached(&link.game, &link.character_id).await?;
            let fresh = cached.as_ref().is_some_and(|(_, at)| self.is_fresh(*at));
            let card = match cached {
                Some((sheet, fetched_at)) if fresh => CharacterCard {
                    game: link.game,
                    character_id: link.character_id,
                    sheet,
                    fetched_at,
                    stale: false,
                },
                cached => match (self.fetch(&link.game, &link.character_id).await, cached) {
                    (Ok(card), _) => card,
                    // Whatever the API says now (down, refusing, garbled), the last copy stands.
                    (
                        Err(
                            ConnectorError::Unavailable { .. }
                            | ConnectorError::NotConfigured(_)
                            | ConnectorError::Rejected { .. }
                            | ConnectorError::Malformed { .. },
                        ),
                        Some((sheet, fetched_at)),
                    ) => CharacterCard {
                        game: link.game,
                        character_id: link.character_id,
                        sheet,
                        fetched_at,
                        stale: true,
                    },
                    (Err(error), _) => return Err(error),
                },
            };
            cards.push(card);
        }
        Ok(cards)
    }

    /// Asks the API again for `user_id`'s character in `game`, whatever its copy's age. The
    /// link is read from the write side: a refresh right after linking finds it.
    pub async fn refresh(
        &self,
        commands: &Commands,
        user_id: Uuid,
        game: &str,
    ) -> Result<CharacterCard, ConnectorError> {
        self.api(game)?;
        let user = commands.user(user_id).await?;
        let character_id = user.game_character(game).ok_or_else(|| {
            ConnectorError::rejected(
                ErrorKind::NotFound,
                "character_not_linked",
                "no character of this game is linked",
            )
        })?;
        self.fetch(game, character_id).await
    }

    /// Refreshes up to a batch of linked characters whose copies are older than the TTL;
    /// answers how many it refreshed. Rows are claimed for a minute, so two schedulers never
    /// ask for the same character at once.
    pub async fn refresh_due(&self) -> Result<usize, ConnectorError> {
        if self.maplestory.is_none() {
            return Ok(0);
        }
        let due: Vec<(String, String)> = sqlx::query_as(
            "UPDATE game_character_cache SET claimed_until = now() + interval '1 minute'
             WHERE (game, character_id) IN (
                 SELECT c.game, c.character_id FROM game_character_cache c
                 WHERE c.fetched_at < now() - make_interval(secs => $1)
                   AND (c.claimed_until IS NULL OR c.claimed_until < now())
                   AND EXISTS (SELECT 1 FROM user_game_characters u
                               WHERE u.game = c.game AND u.character_id = c.character_id)
                 ORDER BY c.fetched_at LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING game, character_id",
        )
        .bind(self.ttl.as_secs_f64())
        .bind(REFRESH_BATCH)
        .fetch_all(&self.pool)
        .await?;
        let mut refreshed = 0;
        for (game, character_id) in due {
            match self.fetch(&game, &character_id).await {
                Ok(_) => refreshed += 1,
                // The gate is closed: the rest waits for the next round.
                Err(ConnectorError::Unavailable { .. }) => break,
                Err(error) => {
                    let error = domain::error::chain(&error);
                    tracing::warn!(error, character_id, "character not refreshed");
                }
            }
        }
        Ok(refreshed)
    }

    /// Refreshes due characters every `every` until `stop`.
    pub async fn run_refresher(self, every: Duration, stop: tokio_util::sync::CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(error) = self.refresh_due().await {
                let error = domain::error::chain(&error);
                tracing::warn!(error, "character refresh round failed");
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    async fn fetch(&self, game: &str, character_id: &str) -> Result<CharacterCard, ConnectorError> {
        let sheet = self.api(game)?.sheet(character_id).await?;
        let fetched_at = self.store(game, character_id, &sheet).await?;
        Ok(CharacterCard {
            game: game.to_owned(),
            character_id: character_id.to_owned(),
            sheet,
            fetched_at,
            stale: false,
        })
    }

    fn is_fresh(&self, fetched_at: DateTime<Utc>) -> bool {
        (Utc::now() - fetched_at)
            .to_std()
            .map_or(true, |age| age < self.ttl)
    }

    async fn cached(
        &self,
        game: &str,
        character_id: &str,
    ) -> Result<Option<(CharacterSheet, DateTime<Utc>)>, ConnectorError> {
        let row: Option<(sqlx::types::Json<CharacterSheet>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT data, fetched_at FROM game_character_cache
             WHERE game = $1 AND character_id = $2",
        )
        .bind(game)
        .bind(character_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(data, at)| (data.0, at)))
    }

    async fn store(
        &self,
        game: &str,
        character_id: &str,
        sheet: &CharacterSheet,
    ) -> Result<DateTime<Utc>, ConnectorError> {
        let (at,): (DateTime<Utc>,) = sqlx::query_as(
            "INSERT INTO game_character_cache (game, character_id, data, fetched_at)
             VALUES ($1, $2, $3, now())
             ON CONFLICT (game, character_id) DO UPDATE
             SET data = $3, fetched_at = now(), claimed_until = NULL
             RETURNING fetched_at",
        )
        .bind(game)
        .bind(character_id)
        .bind(sqlx::types::Json(sheet))
        .fetch_one(&self.pool)
        .await?;
        Ok(at)
    }
}
