//! The connectors to outside services as this process wires them: built from the settings
//! for the API's handlers, and run as background work in the scheduler role.

use commands::Commands;
use connectors::band::Band;
use connectors::band_import::BandImports;
use connectors::characters::Characters;
use connectors::maplestory::MapleStory;
use connectors::upstream::Upstream;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::ConnectorSettings;

/// Every connector.
#[derive(Clone)]
pub struct Connectors {
    /// Game characters on profiles.
    pub characters: Characters,
    /// Naver Band connections and imports.
    pub band: BandImports,
}

impl Connectors {
    /// The connectors per `settings`, running their commands through `commands`. One set per
    /// process, shared by the API and the scheduler role: each service has one gate here.
    pub fn new(
        settings: &ConnectorSettings,
        pool: &PgPool,
        commands: &Commands,
    ) -> Result<Self, reqwest::Error> {
        let upstream = |name| {
            Upstream::new(
                name,
                settings.timeout,
                settings.first_backoff,
                ConnectorSettings::MAX_BACKOFF,
            )
        };
        let maplestory = MapleStory::new(&settings.maplestory, upstream("maplestory")?);
        Ok(Self {
            characters: Characters::new(pool.clone(), maplestory, settings.maplestory.cache_ttl),
            band: BandImports::new(
                pool.clone(),
                commands.clone(),
                Band::new(&settings.band, upstream("band")?),
                settings.band.clone(),
            ),
        })
    }

    /// Starts the background work: refreshing aged characters, and Band imports (polled every
    /// `poll`).
    pub fn spawn(
        &self,
        settings: &ConnectorSettings,
        poll: std::time::Duration,
        tasks: &mut JoinSet<()>,
        stop: &CancellationToken,
    ) {
        tasks.spawn(
            self.characters
                .clone()
                .run_refresher(settings.refresh_every, stop.clone()),
        );
        tasks.spawn(self.band.clone().run(poll, stop.clone()));
    }
}
