//! Nexon's MapleStory Open API: a character's `ocid` from its name, then its basic card and
//! its stats, fetched at the same time. The API key travels in `x-nxopen-api-key`, marked
//! sensitive so no log or debug print shows it.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::ErrorKind;
use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::upstream::{CallError, Upstream};
use crate::ConnectorError;

/// The game's name in Moim's routes and events.
pub const GAME: &str = "maplestory";

/// The stats a character card shows, as Nexon names them in `final_stat`.
const MAIN_STATS: [&str; 6] = ["STR", "DEX", "INT", "LUK", "HP", "MP"];

/// Nexon's name for combat power in `final_stat`.
const COMBAT_POWER: &str = "전투력";

/// How Moim reaches the MapleStory API.
#[derive(Debug, Clone)]
pub struct MapleStorySettings {
    /// `MOIM_MAPLESTORY_BASE_URL`; default `https://open.api.nexon.com`.
    pub base_url: String,
    /// `MOIM_MAPLESTORY_API_KEY`: without it, linking characters is `503 not_configured`.
    pub api_key: Option<SecretString>,
    /// `MOIM_MAPLESTORY_CACHE_TTL_SECS`; default 3600: how old a character's copy may be before
    /// a read asks the API again (the API's data changes daily).
    pub cache_ttl: Duration,
}

impl Default for MapleStorySettings {
    fn default() -> Self {
        Self {
            base_url: "https://open.api.nexon.com".into(),
            api_key: None,
            cache_ttl: Duration::from_secs(3600),
        }
    }
}

/// A character as a profile shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CharacterSheet {
    /// Its name.
    pub name: String,
    /// Its world (server).
    pub world: String,
    /// Its class.
    pub class: String,
    /// Its level.
    pub level: u32,
    /// Its guild, if any.
    pub guild: Option<String>,
    /// Nexon's picture of it.
    pub image_url: Option<String>,
    /// Its combat power.
    pub combat_power: Option<u64>,
    /// Its main stats (STR, DEX, INT, LUK, HP, MP), as Nexon writes them.
    pub stats: BTreeMap<String, String>,
}

/// The MapleStory API.
#[derive(Debug)]
pub struct MapleStory {
    upstream: Upstream,
    base_url: String,
    key: HeaderValue,
}

#[derive(Deserialize)]
struct Id {
    ocid: String,
}

#[derive(Deserialize)]
struct Basic {
    character_name: String,
    world_name: String,
    character_class: String,
    character_level: u32,
    character_guild_name: Option<String>,
    character_image: Option<String>,
}

#[derive(Deserialize)]
struct Stat {
    #[serde(default)]
    final_stat: Vec<StatValue>,
}

#[derive(Deserialize)]
struct StatValue {
    stat_name: String,
    stat_value: Option<String>,
}

#[derive(Deserialize)]
struct NexonError {
    error: NexonErrorBody,
}

#[derive(Deserialize)]
struct NexonErrorBody {
    name: String,
}

impl MapleStory {
    /// The API per `settings`, or `None` when no key is set.
    pub fn new(settings: &MapleStorySettings, upstream: Upstream) -> Option<Self> {
        let mut key = HeaderValue::from_str(settings.api_key.as_ref()?.expose_secret()).ok()?;
        key.set_sensitive(true);
        Some(Self {
            upstream,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<bytes::Bytes, CallError> {
        let request = self
            .upstream
            .http()
            .get(format!("{}/maplestory/v1{path}", self.base_url))
            .header("x-nxopen-api-key", self.key.clone())
            .query(query);
        self.upstream.call(request).await
    }

    /// The `ocid` of the character named `name`.
    pub async fn ocid(&self, name: &str) -> Result<String, ConnectorError> {
        let body = self.get("/id", &[("character_name", name)]).await;
        Ok(self.parse::<Id>(body)?.ocid)
    }

    /// The character's card and stats, asked for at the same time.
    pub async fn sheet(&self, ocid: &str) -> Result<CharacterSheet, ConnectorError> {
        let query = [("ocid", ocid)];
        let (basic, stat) = futures::join!(
            self.get("/character/basic", &query),
            self.get("/character/stat", &query),
        );
        let basic: Basic = self.parse(basic)?;
        let stat: Stat = self.parse(stat)?;
        let value = |name: &str| {
            stat.final_stat
                .iter()
                .find(|s| s.stat_name == name)
                .and_then(|s| s.stat_value.clone())
        };
        Ok(CharacterSheet {
            name: basic.character_name,
            world: basic.world_name,
            class: basic.character_class,
            level: basic.character_level,
            guild: basic.character_guild_name,
            image_url: basic.character_image,
            combat_power: value(COMBAT_POWER).and_then(|v| v.parse().ok()),
            stats: MAIN_STATS
                .iter()
                .filter_map(|name| Some(((*name).to_owned(), value(name)?)))
                .collect(),
        })
    }

    /// Reads an answer: a character Nexon does not know (`OPENAPI00003` bad identifier,
    /// `OPENAPI00004` bad parameter, or a 404) is `character_not_found`; any other refusal
    /// (a wrong key) is our set-up's fault, logged and answered as unavailable.
    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        answer: Result<bytes::Bytes, CallError>,
    ) -> Result<T, ConnectorError> {
        let unavailable = |retry_after| ConnectorError::Unavailable {
            upstream: GAME,
            retry_after,
        };
        match answer {
            Ok(body) => serde_json::from_slice(&body).map_err(|source| ConnectorError::Malformed {
                upstream: GAME,
                source,
            }),
            Err(CallError::Unavailable(wait)) => Err(unavailable(wait)),
            Err(CallError::Answered { status, body }) => {
                let name = serde_json::from_slice::<NexonError>(&body)
                    .map(|e| e.error.name)
                    .unwrap_or_default();
                if status == StatusCode::NOT_FOUND
                    || matches!(name.as_str(), "OPENAPI00003" | "OPENAPI00004")
                {
                    return Err(ConnectorError::rejected(
                        ErrorKind::NotFound,
                        "character_not_found",
                        "MapleStory knows no character by that name",
                    ));
                }
                tracing::error!(%status, nexon_error = name, "the MapleStory API refused our request; is MOIM_MAPLESTORY_API_KEY right?");
                Err(unavailable(Duration::from_secs(60)))
            }
        }
    }
}
