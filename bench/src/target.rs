//! What the bench drives (its own Moim, or one at `--url`) and the scratch database and stream
//! it measures the ceiling and replay in.

use std::time::Duration;

use anyhow::Context;
use moim_api::config::Settings;
use moim_api::startup::{Application, Roles};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cpu::MOIM_THREADS;
use crate::Options;

pub(crate) fn database_url(admin: &str, name: &str) -> String {
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{admin}/{name}"),
    }
}

pub(crate) async fn create_database(admin: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(admin)
        .await
        .context("admin connection")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    Ok(())
}

pub(crate) async fn drop_database(admin: &str, name: &str) {
    if let Ok(mut conn) = PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

/// The Moim under test.
pub struct Target {
    /// Its base URL.
    pub url: String,
    /// Its database, for projection lag.
    pub pool: PgPool,
    own: Option<(
        CancellationToken,
        std::thread::JoinHandle<()>,
        String,
        String,
        String,
    )>,
}

impl Target {
    /// Starts a Moim of our own on a fresh database, on a runtime of its own so the load
    /// generator does not share worker threads with it; or connects to `--url`.
    pub async fn start(options: &Options) -> anyhow::Result<Self> {
        if let Some(url) = &options.url {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .connect(&options.database_url)
                .await?;
            return Ok(Self {
                url: url.trim_end_matches('/').to_owned(),
                pool,
                own: None,
            });
        }
        let id = Uuid::new_v4().simple().to_string();
        let name = format!("moim_bench_{}", &id[..12]);
        create_database(&options.database_url, &name).await?;
        let prefix = format!("bench{}", &id[..8]);
        let settings = Settings {
            database_url: database_url(&options.database_url, &name).into(),
            nats_url: options.nats_url.clone(),
            jwt_secret: format!("{id}{id}").into(),
            bind: "127.0.0.1:0".parse()?,
            ops_bind: None,
            subject_prefix: prefix.clone(),
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(3600),
            consistency_timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
            db_max_connections: 40,
            db_acquire_timeout: Duration::from_secs(5),
            limits: moim_api::config::Limits::default(),
            rates: commands::RateLimits::one_trusted_client(),
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            oauth: Vec::new(),
            oauth_redirect_uris: Vec::new(),
            media: moim_api::config::MediaSettings::default(),
            connectors: moim_api::config::ConnectorSettings::default(),
        };
        let stop = CancellationToken::new();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let server_stop = stop.clone();
        let server = std::thread::Builder::new()
            .name(MOIM_THREADS.into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .thread_name(MOIM_THREADS)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!(error)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Application::build(settings, Roles::ALL).await {
                        Ok(app) => {
                            let _ = ready_tx.send(Ok((app.address(), app.pool().clone())));
                            if let Err(error) = app.run_until_stopped(server_stop).await {
                                eprintln!("bench: moim stopped: {error:#}");
                            }
                        }
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                        }
                    }
                });
            })?;
        let (address, pool) = ready_rx.await??;
        let address = address.context("the api role listens")?;
        Ok(Self {
            url: format!("http://{address}"),
            pool,
            own: Some((stop, server, options.database_url.clone(), name, prefix)),
        })
    }

    /// Stops our own Moim and removes its database and stream.
    pub async fn stop(self) {
        if let Some((stop, server, admin, name, prefix)) = self.own {
            stop.cancel();
            let _ = tokio::task::spawn_blocking(move || server.join()).await;
            self.pool.close().await;
            if let Ok(client) = async_nats::connect("nats://127.0.0.1:4222").await {
                let stream = moim_nats::Subjects::new(&prefix).stream_name();
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&stream)
                    .await;
            }
            drop_database(&admin, &name).await;
        }
    }
}

/// A scratch database and JetStream context for the ceiling and the replay store.
pub struct Scratch {
    /// The scratch database (migrated like Moim's).
    pub pool: PgPool,
    /// JetStream.
    pub js: async_nats::jetstream::Context,
    /// A unique name for scratch streams and subjects.
    pub id: String,
    admin: String,
    name: String,
}

impl Scratch {
    pub async fn create(options: &Options) -> anyhow::Result<Self> {
        let id = Uuid::new_v4().simple().to_string()[..12].to_owned();
        let name = format!("moim_bench_scratch_{id}");
        create_database(&options.database_url, &name).await?;
        let pool = PgPoolOptions::new()
            .max_connections(40)
            // Connected as Moim connects, so the ceilings and the replay see its transport.
            .connect_with(moim_api::postgres::options(&database_url(
                &options.database_url,
                &name,
            ))?)
            .await?;
        sqlx::migrate!("../migrations").run(&pool).await?;
        projections::search_pairs::backfill(&pool).await?;
        let js = async_nats::jetstream::new(async_nats::connect(&options.nats_url).await?);
        Ok(Self {
            pool,
            js,
            id,
            admin: options.database_url.clone(),
            name,
        })
    }

    pub async fn drop_all(self) {
        let _ = self
            .js
            .delete_stream(format!("BENCH_CEILING_{}", self.id))
            .await;
        self.pool.close().await;
        drop_database(&self.admin, &self.name).await;
    }
}
