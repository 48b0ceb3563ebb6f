//! Builds and runs Moim: any mix of the api, relay, projections and scheduler roles in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use commands::{Commands, FailureLimit, SystemServices};
use moim_nats::{Relay, Subjects};
use projections::consumer::Views;
use projections::progress::Progress;
use projections::Registry;
use secrecy::ExposeSecret;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Keys;
use crate::config::Settings;
use crate::edge::Edge;
use crate::hub::Hub;
use crate::limits::RequestLimits;
use crate::oauth::Providers;
use crate::presence::Presence;
use crate::revocations::Revocations;
use crate::routes;
use crate::scheduler::Scheduler;
use crate::server::{self, ConnectionLimits};
use crate::state::{AppState, Shared, WsLimits};

/// Which parts a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// HTTP and WebSocket.
    pub api: bool,
    /// Events table → JetStream.
    pub relay: bool,
    /// JetStream → read models and pushes.
    pub projections: bool,
    /// Due work (reminders) → commands.
    pub scheduler: bool,
}

impl Roles {
    /// Everything, for a laptop.
    pub const ALL: Self = Self {
        api: true,
        relay: true,
        projections: true,
        scheduler: true,
    };

    /// Nothing; name the roles wanted with `..Roles::NONE`.
    pub const NONE: Self = Self {
        api: false,
        relay: false,
        projections: false,
        scheduler: false,
    };
}

/// How long an operator's command (`migrate`, `replay`, …) waits for a pooled connection.
const OPERATOR_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3600);

/// `settings` for an operator's command, once PostgreSQL has let one connection in within
/// `MOIM_DB_ACQUIRE_TIMEOUT_MS`: the command then waits for pooled connections as long as its
/// own work needs (a replay's lanes and index builds hold more than the pool may allow at once,
/// some for minutes), where a request waits no longer than the bound. Checking first keeps a
/// database that is down from holding the command silently for that long: sqlx keeps trying to
/// connect until the wait is up.
pub async fn for_operator(mut settings: Settings) -> anyhow::Result<Settings> {
    let options = crate::postgres::options(settings.database_url.expose_secret())?;
    tokio::time::timeout(
        settings.db_acquire_timeout,
        PgConnection::connect_with(&options),
    )
    .await
    .context("PostgreSQL (DATABASE_URL) did not answer within MOIM_DB_ACQUIRE_TIMEOUT_MS")?
    .context("connecting to PostgreSQL (DATABASE_URL)")?
    .close()
    .await?;
    settings.db_acquire_timeout = OPERATOR_ACQUIRE_TIMEOUT;
    Ok(settings)
}

/// Connects to PostgreSQL, runs the migrations and any work on older rows they left to Rust.
pub async fn database(settings: &Settings) -> anyhow::Result<PgPool> {
    let pool =
        crate::postgres::pool_options(settings.db_max_connections, settings.db_acquire_timeout)
            .connect_with(crate::postgres::options(
                settings.database_url.expose_secret(),
            )?)
            .await
            .context("connecting to PostgreSQL (DATABASE_URL)")?;
    sqlx::migrate!("../migrations")
        .run(&pool)
        .await
        .context("running migrations")?;
    projections::search_pairs::backfill(&pool)
        .await
        .context("computing older rows' search pairs again")?;
    Ok(pool)
}

/// Connections the operations listener holds at once: a scraper and a probe or two.
const OPS_CONNECTIONS: usize = 16;

/// A built application, listening (on `MOIM_BIND` if it serves the API, else on `MOIM_OPS_BIND`
/// if that is set) but not yet serving.
pub struct Application {
    settings: Settings,
    roles: Roles,
    pool: PgPool,
    nats: async_nats::Client,
    listener: Option<TcpListener>,
    /// The operations listener's (`MOIM_OPS_BIND`), if one is set.
    ops_listener: Option<TcpListener>,
    registry: Registry,
}

impl Application {
    /// Connects, migrates and binds `settings.bind` for the API, or `settings.ops_bind` for the
    /// operations listener of a process without it (port 0 picks a free port).
    pub async fn build(settings: Settings, roles: Roles) -> anyhow::Result<Self> {
        if roles.api && settings.ops_bind.is_some() {
            anyhow::bail!(
                "MOIM_OPS_BIND is for a process without the API role: the API serves /metrics \
                 and the health checks on MOIM_BIND"
            );
        }
        let pool = database(&settings).await?;
        let nats = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(&settings.nats_url)
            .await
            .context("connecting to NATS (NATS_URL)")?;
        let listener = if roles.api {
            Some(
                TcpListener::bind(settings.bind)
                    .await
                    .with_context(|| format!("binding {}", settings.bind))?,
            )
        } else {
            None
        };
        let ops_listener = match settings.ops_bind {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding {address} (MOIM_OPS_BIND)"))?,
            ),
            None => None,
        };
        Ok(Self {
            settings,
            roles,
            pool,
            nats,
            listener,
            ops_listener,
            registry: Registry::standard(),
        })
    }

    /// Runs the read models of `registry` instead of the standard ones (a test adds its own).
    pub fn with_registry(self, registry: Registry) -> Self {
        Self { registry, ..self }
    }

    /// The address the API listens on, if it serves one.
    pub fn address(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address the operations listener listens on, if `MOIM_OPS_BIND` set one.
    pub fn ops_address(&self) -> Option<SocketAddr> {
        self.ops_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs until `stop` is cancelled, then shuts down gracefully.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let subjects = Subjects::new(&self.settings.subject_prefix);
        // The recorder is installed before any role starts: a series recorded before it is
        // lost, such as those the views export from the start. A process that serves no
        // `/metrics` records nothing.
        let metrics = (self.listener.is_some() || self.ops_listener.is_some())
            .then(crate::metrics::handle)
            .transpose()?;
        let mut tasks = tokio::task::JoinSet::new();
        if let Some((listener, metrics)) = self.ops_listener.zip(metrics.clone()) {
            let address = listener.local_addr().ok();
            tracing::info!(?address, "serving /metrics and the health checks");
            let ops = crate::ops::router(crate::ops::Ops {
                pool: self.pool.clone(),
                nats: self.nats.clone(),
                metrics,
            });
            let limits = self.settings.limits;
            let connections = ConnectionLimits {
                header_timeout: limits.header_timeout,
                max_connections: OPS_CONNECTIONS,
            };
            tasks.spawn(server::serve(
                listener,
                ops,
                connections,
                stop.clone(),
                Duration::from_secs(1),
            ));
        }
        let connectors = Arc::new(
            crate::connectors::Connectors::new(
                &self.settings.connectors,
                &self.pool,
                &Commands::new(self.pool.clone()),
            )
            .context("making the connectors' HTTP clients")?,
        );
        if self.roles.relay {
            let js = async_nats::jetstream::new(self.nats.clone());
            let relay = Relay::new(self.pool.clone(), js, subjects.clone());
            let stop = stop.clone();
            tasks.spawn(async move {
                while !stop.is_cancelled() {
                    if let Err(error) = relay.clone().run(stop.clone()).await {
                        tracing::error!(%error, "relay stopped; restarting");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            });
        }
        if self.roles.projections {
            let views = Views::new(
                self.pool.clone(),
                self.nats.clone(),
                subjects.clone(),
                self.registry.views(),
            );
            tasks.spawn(views.run(stop.clone()));
        }
        if self.roles.scheduler {
            let js = async_nats::jetstream::new(self.nats.clone());
            let media = crate::media::MediaStore::open(&js, &subjects)
                .await
                .context("opening the media bucket")?;
            let scheduler = Scheduler::new(
                self.pool.clone(),
                Commands::new(self.pool.clone()),
                Arc::new(SystemServices),
                self.settings.limits.scheduler_poll,
            )
            .with_media(media);
            tasks.spawn(scheduler.run(stop.clone()));
            connectors.spawn(
                &self.settings.connectors,
                self.settings.limits.scheduler_poll,
                &mut tasks,
                &stop,
            );
        }
        if let Some((listener, metrics)) = self.listener.zip(metrics) {
            let limits = self.settings.limits;
            let progress = Arc::new(Progress::new(self.pool.clone()));
            tasks.spawn({
                let progress = progress.clone();
                let stop = stop.clone();
                async move { progress.follow(stop).await }
            });
            let hub = Arc::new(Hub::new(
                self.nats.clone(),
                subjects.clone(),
                limits.ws_send_queue,
            ));
            let presence = Arc::new(
                Presence::open(self.nats.clone(), &subjects, limits.presence_ttl)
                    .await
                    .map_err(|e| anyhow::anyhow!("opening the presence buckets: {e}"))?,
            );
            tasks.spawn(
                presence
                    .clone()
                    .run(hub.clone(), self.pool.clone(), stop.clone()),
            );
            let revocations = Arc::new(Revocations::new(self.settings.access_ttl));
            let js = async_nats::jetstream::new(self.nats.clone());
            moim_nats::stream::ensure(&js, &subjects)
                .await
                .map_err(|e| anyhow::anyhow!("making sure the events stream exists: {e}"))?;
            tasks.spawn(
                revocations
                    .clone()
                    .follow(js.clone(), subjects.clone(), stop.clone()),
            );
            // A token of a session ended before this process started must be refused too.
            tokio::time::timeout(Duration::from_secs(30), revocations.ready())
                .await
                .context("reading the sessions ended lately from JetStream")?;
            let media = Arc::new(crate::media::Uploads::new(
                crate::media::MediaStore::open(&js, &subjects)
                    .await
                    .context("opening the media bucket")?,
                self.settings.media,
            ));
            let commands = Commands::new(self.pool.clone())
                .with_password_limits(limits.passwords)
                .with_invite_failure_limit(FailureLimit {
                    max: limits.invite_failures_per_hour,
                    window: Duration::from_secs(3600),
                })
                .with_rate_limits(self.settings.rates);
            // Its last write follows the last request the server drains.
            let drained = CancellationToken::new();
            tasks.spawn({
                let commands = commands.clone();
                let drained = drained.clone();
                async move {
                    commands
                        .write_back_rate_counts(drained.cancelled_owned())
                        .await
                }
            });
            let state = AppState::new(Shared {
                roles: self.roles,
                media,
                connectors,
                commands,
                pool: self.pool.clone(),
                keys: Keys::new(
                    &self.settings.jwt_secret,
                    self.settings.access_ttl,
                    self.settings.refresh_ttl,
                ),
                revocations,
                metrics,
                oauth: Arc::new(Providers::new(
                    &self.settings.oauth,
                    self.settings.oauth_redirect_uris.clone(),
                )?),
                hub,
                presence,
                consistency_timeout: self.settings.consistency_timeout,
                progress,
                ws: WsLimits {
                    max_message_bytes: limits.ws_max_message_bytes,
                    resume_window: limits.ws_resume_window,
                    ping_every: limits.ws_ping_every,
                    max_sockets_per_user: limits.ws_max_sockets_per_user,
                },
                search_timeout: limits.search_timeout,
                shutdown: stop.clone(),
            });
            let edge = Edge {
                trusted_proxies: self.settings.trusted_proxies.clone().into(),
                cors_origins: self
                    .settings
                    .cors_origins
                    .iter()
                    .map(|origin| HeaderValue::from_str(origin))
                    .collect::<Result<_, _>>()
                    .context("MOIM_CORS_ORIGINS holds a malformed origin")?,
            };
            let app = routes::router(
                state,
                RequestLimits::new(
                    limits.max_in_flight,
                    limits.body_timeout,
                    self.settings.max_body_bytes,
                )
                .streaming_uploads(self.settings.media.max_bytes),
                &edge,
            );
            tracing::info!(address = ?listener.local_addr().ok(), "serving the API");
            let connections = ConnectionLimits {
                header_timeout: limits.header_timeout,
                max_connections: limits.max_connections,
            };
            server::serve(
                listener,
                app,
                connections,
                stop.clone(),
                Duration::from_secs(10),
            )
            .await;
            drained.cancel();
        }
        stop.cancelled().await;
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// Cancels `stop` on SIGTERM or ctrl-c.
pub fn stop_on_signals(stop: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            () = term => {}
        }
        tracing::info!("shutting down");
        stop.cancel();
    });
}
