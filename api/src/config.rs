//! Typed settings from the environment (and `.env`), with defaults that work on a laptop.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use commands::{FailureLimit, PasswordLimits, Rate, RateLimits};
use connectors::band::BandSettings;
use connectors::maplestory::MapleStorySettings;
use secrecy::SecretString;

/// Every `MOIM_*` variable Moim reads; any other `MOIM_*` variable is a typo and refused.
const KNOWN: &[&str] = &[
    "MOIM_JWT_SECRET",
    "MOIM_BIND",
    "MOIM_OPS_BIND",
    "MOIM_DEV",
    "MOIM_SUBJECT_PREFIX",
    "MOIM_ACCESS_TTL_SECS",
    "MOIM_REFRESH_TTL_SECS",
    "MOIM_CONSISTENCY_TIMEOUT_MS",
    "MOIM_MAX_BODY_BYTES",
    "MOIM_DB_MAX_CONNECTIONS",
    "MOIM_DB_ACQUIRE_TIMEOUT_MS",
    "MOIM_LOG_FORMAT",
    "MOIM_HASH_CONCURRENCY",
    "MOIM_HASH_QUEUE",
    "MOIM_HASH_WAIT_MS",
    "MOIM_HEADER_TIMEOUT_MS",
    "MOIM_BODY_TIMEOUT_MS",
    "MOIM_MAX_CONNECTIONS",
    "MOIM_MAX_IN_FLIGHT",
    "MOIM_WS_MAX_MESSAGE_BYTES",
    "MOIM_WS_SEND_QUEUE",
    "MOIM_WS_RESUME_WINDOW",
    "MOIM_WS_PING_MS",
    "MOIM_PRESENCE_TTL_MS",
    "MOIM_SCHEDULER_POLL_MS",
    "MOIM_INVITE_FAILURES_PER_HOUR",
    "MOIM_SEARCH_TIMEOUT_MS",
    "MOIM_WS_MAX_SOCKETS_PER_USER",
    "MOIM_RATE_REGISTER_PER_HOUR",
    "MOIM_RATE_OAUTH_START_PER_HOUR",
    "MOIM_OAUTH_REDIRECT_URIS",
    "MOIM_RATE_REFRESH_PER_MINUTE",
    "MOIM_RATE_COMMANDS_PER_MINUTE",
    "MOIM_RATE_KEYS_IN_MEMORY",
    "MOIM_LOGIN_FAILURES_PER_15_MIN",
    "MOIM_TRUSTED_PROXIES",
    "MOIM_CORS_ORIGINS",
    "MOIM_MEDIA_MAX_BYTES",
    "MOIM_MEDIA_MAX_PIXELS",
    "MOIM_MEDIA_THUMBNAIL_PX",
    "MOIM_MEDIA_URL_TTL_SECS",
    "MOIM_MEDIA_MAX_UPLOADS",
    "MOIM_MEDIA_UPLOAD_TIMEOUT_MS",
    "MOIM_RATE_UPLOADS_PER_HOUR",
    "MOIM_RATE_CHARACTER_LOOKUPS_PER_HOUR",
    "MOIM_CONNECTOR_TIMEOUT_MS",
    "MOIM_CONNECTOR_BACKOFF_MS",
    "MOIM_MAPLESTORY_BASE_URL",
    "MOIM_MAPLESTORY_API_KEY",
    "MOIM_MAPLESTORY_CACHE_TTL_SECS",
    "MOIM_MAPLESTORY_REFRESH_EVERY_SECS",
    "MOIM_BAND_BASE_URL",
    "MOIM_BAND_ACCESS_TOKEN",
    "MOIM_BAND_IDENTITY_PROVIDER",
];

/// Moim's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`; default `postgres://postgres@127.0.0.1:5432/moim`.
    pub database_url: SecretString,
    /// `NATS_URL`; default `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// `MOIM_JWT_SECRET`: signs access and refresh tokens. Required unless `MOIM_DEV=1`.
    pub jwt_secret: SecretString,
    /// `MOIM_BIND`; default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `MOIM_OPS_BIND`: where a process without the API role serves `/metrics` and the health
    /// checks ([`crate::ops`]); unset, none listens. A process with the API role refuses it.
    pub ops_bind: Option<SocketAddr>,
    /// `MOIM_SUBJECT_PREFIX`; default `moim` (subjects `moim.events.…`, stream `MOIM_EVENTS`).
    pub subject_prefix: String,
    /// `MOIM_ACCESS_TTL_SECS`; default 900.
    pub access_ttl: Duration,
    /// `MOIM_REFRESH_TTL_SECS`; default 30 days.
    pub refresh_ttl: Duration,
    /// `MOIM_CONSISTENCY_TIMEOUT_MS`: how long a query waits for its consistency token; default 5000.
    pub consistency_timeout: Duration,
    /// `MOIM_MAX_BODY_BYTES`; default 65536.
    pub max_body_bytes: usize,
    /// `MOIM_DB_MAX_CONNECTIONS`; default 20.
    pub db_max_connections: u32,
    /// `MOIM_DB_ACQUIRE_TIMEOUT_MS`: how long anything in `moim serve` waits for a pooled
    /// connection (opening one included) before it gives up; default 5000. A request that waits
    /// this long is answered `503 database_busy`. An operator's command waits longer
    /// ([`crate::startup::for_operator`]).
    pub db_acquire_timeout: Duration,
    /// What a client can make Moim hold (docs/security.md lists each with what a client gets
    /// past it).
    pub limits: Limits,
    /// How often a client may do what (shared by every API process).
    pub rates: RateLimits,
    /// `MOIM_TRUSTED_PROXIES`: comma-separated addresses of the proxies in front of Moim; only a
    /// request from one of them has its client address taken from `X-Forwarded-For`. None by
    /// default.
    pub trusted_proxies: Vec<IpAddr>,
    /// `MOIM_CORS_ORIGINS`: comma-separated origins browsers may call the API from. None by
    /// default (no CORS headers at all).
    pub cors_origins: Vec<String>,
    /// Social-login providers: each one whose `MOIM_OAUTH_<NAME>_CLIENT_ID` is set.
    pub oauth: Vec<OAuthProvider>,
    /// `MOIM_OAUTH_REDIRECT_URIS`: comma-separated URIs a web sign-in may return to; a start
    /// naming any other is refused. None by default.
    pub oauth_redirect_uris: Vec<String>,
    /// Photo uploads.
    pub media: MediaSettings,
    /// Outside services (docs/connectors.md).
    pub connectors: ConnectorSettings,
}

/// How Moim calls outside services.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    /// `MOIM_CONNECTOR_TIMEOUT_MS`; default 3000: the longest one call to an outside service
    /// takes, connection included (a read waiting on one is bounded by it).
    pub timeout: Duration,
    /// `MOIM_CONNECTOR_BACKOFF_MS`; default 500: the first wait after a failure, doubling (with
    /// jitter) up to a minute while failures continue.
    pub first_backoff: Duration,
    /// `MOIM_MAPLESTORY_REFRESH_EVERY_SECS`; default 60: how often the scheduler refreshes
    /// linked characters whose copies have aged (20 per round).
    pub refresh_every: Duration,
    /// The MapleStory API.
    pub maplestory: MapleStorySettings,
    /// Naver Band.
    pub band: BandSettings,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            first_backoff: Duration::from_millis(500),
            refresh_every: Duration::from_secs(60),
            maplestory: MapleStorySettings::default(),
            band: BandSettings::default(),
        }
    }
}

impl ConnectorSettings {
    /// The longest a failing service is left alone.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            timeout: millis("MOIM_CONNECTOR_TIMEOUT_MS", d.timeout)?,
            first_backoff: millis("MOIM_CONNECTOR_BACKOFF_MS", d.first_backoff)?,
            refresh_every: seconds("MOIM_MAPLESTORY_REFRESH_EVERY_SECS", d.refresh_every)?,
            maplestory: MapleStorySettings {
                base_url: var("MOIM_MAPLESTORY_BASE_URL").unwrap_or(d.maplestory.base_url),
                api_key: var("MOIM_MAPLESTORY_API_KEY").map(Into::into),
                cache_ttl: seconds("MOIM_MAPLESTORY_CACHE_TTL_SECS", d.maplestory.cache_ttl)?,
            },
            band: BandSettings {
                base_url: var("MOIM_BAND_BASE_URL").unwrap_or(d.band.base_url),
                access_token: var("MOIM_BAND_ACCESS_TOKEN").map(Into::into),
                identity_provider: var("MOIM_BAND_IDENTITY_PROVIDER")
                    .unwrap_or(d.band.identity_provider),
            },
        })
    }
}

/// One social-login provider, from `MOIM_OAUTH_<NAME>_CLIENT_ID`, `_CLIENT_SECRET`,
/// `_AUTHORIZE_URL`, `_TOKEN_URL`, `_USERINFO_URL` and `_SCOPES` (comma-separated). Kakao's and
/// Naver's real endpoints are the defaults for `KAKAO` and `NAVER`; any other name is an OpenID
/// Connect provider and needs its three URLs.
#[derive(Debug, Clone)]
pub struct OAuthProvider {
    /// Lower case, as in the routes: `kakao`, `naver`, `google`.
    pub name: String,
    /// The client id the provider gave Moim.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
    /// Where the user is sent to consent.
    pub authorize_url: String,
    /// Where a code is exchanged for a token.
    pub token_url: String,
    /// Where the token reads who the user is.
    pub userinfo_url: String,
    /// What is asked for.
    pub scopes: Vec<String>,
}

/// The settings a provider is made of.
const OAUTH_PARTS: &[&str] = &[
    "CLIENT_ID",
    "CLIENT_SECRET",
    "AUTHORIZE_URL",
    "TOKEN_URL",
    "USERINFO_URL",
    "SCOPES",
];

fn oauth_from_env() -> Result<Vec<OAuthProvider>, ConfigError> {
    let mut providers = Vec::new();
    for (key, client_id) in std::env::vars() {
        let Some(name) = key
            .strip_prefix("MOIM_OAUTH_")
            .and_then(|rest| rest.strip_suffix("_CLIENT_ID"))
        else {
            continue;
        };
        let setting = |part: &str| var_named(&format!("MOIM_OAUTH_{name}_{part}"));
        let (authorize, token, userinfo) = match name {
            "KAKAO" => (
                "https://kauth.kakao.com/oauth/authorize",
                "https://kauth.kakao.com/oauth/token",
                "https://kapi.kakao.com/v2/user/me",
            ),
            "NAVER" => (
                "https://nid.naver.com/oauth2.0/authorize",
                "https://nid.naver.com/oauth2.0/token",
                "https://openapi.naver.com/v1/nid/me",
            ),
            _ => ("", "", ""),
        };
        let url = |part: &str, default: &str| {
            setting(part)
                .or_else(|| (!default.is_empty()).then(|| default.to_owned()))
                .ok_or_else(|| ConfigError::OAuth(format!("MOIM_OAUTH_{name}_{part} is required")))
        };
        providers.push(OAuthProvider {
            name: name.to_lowercase(),
            client_id,
            client_secret: setting("CLIENT_SECRET").unwrap_or_default().into(),
            authorize_url: url("AUTHORIZE_URL", authorize)?,
            token_url: url("TOKEN_URL", token)?,
            userinfo_url: url("USERINFO_URL", userinfo)?,
            scopes: setting("SCOPES")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        });
    }
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(providers)
}

fn var_named(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Photo uploads: how large, how many at once, how long their addresses work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaSettings {
    /// `MOIM_MEDIA_MAX_BYTES`; default 10485760 (10 MiB): the largest file; one byte more is
    /// `413 file_too_large`, refused before the rest of the body is read.
    pub max_bytes: usize,
    /// `MOIM_MEDIA_MAX_PIXELS`; default 40000000: the most pixels an image may claim before
    /// it is decoded (`422 image_too_large`: a decompression bomb is refused unallocated).
    pub max_pixels: u64,
    /// `MOIM_MEDIA_THUMBNAIL_PX`; default 320: a thumbnail's longer side.
    pub thumbnail_px: u32,
    /// `MOIM_MEDIA_URL_TTL_SECS`; default 600: how long a signed media address works.
    pub url_ttl: Duration,
    /// `MOIM_MEDIA_MAX_UPLOADS`; default 4: uploads being received and decoded at once per
    /// process (each holds up to `max_bytes` plus its decoded pixels); one more is
    /// `503 overloaded`.
    pub max_uploads: usize,
    /// `MOIM_MEDIA_UPLOAD_TIMEOUT_MS`; default 60000: time to send an upload's body.
    pub upload_timeout: Duration,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            thumbnail_px: 320,
            url_ttl: Duration::from_secs(600),
            max_uploads: 4,
            upload_timeout: Duration::from_secs(60),
        }
    }
}

impl MediaSettings {
    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            max_bytes: parsed("MOIM_MEDIA_MAX_BYTES", d.max_bytes)?,
            max_pixels: parsed("MOIM_MEDIA_MAX_PIXELS", d.max_pixels)?,
            thumbnail_px: parsed("MOIM_MEDIA_THUMBNAIL_PX", d.thumbnail_px)?,
            url_ttl: seconds("MOIM_MEDIA_URL_TTL_SECS", d.url_ttl)?,
            max_uploads: parsed("MOIM_MEDIA_MAX_UPLOADS", d.max_uploads)?,
            upload_timeout: millis("MOIM_MEDIA_UPLOAD_TIMEOUT_MS", d.upload_timeout)?,
        })
    }
}

/// Bounds on what clients can make Moim hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `MOIM_HASH_CONCURRENCY` (default: the core count), `MOIM_HASH_QUEUE` (32) and
    /// `MOIM_HASH_WAIT_MS` (2000): argon2id operations at once, waiting at most, waiting longest.
    pub passwords: PasswordLimits,
    /// `MOIM_HEADER_TIMEOUT_MS`; default 10000: time to send request headers, and the longest a
    /// keep-alive connection may sit idle.
    pub header_timeout: Duration,
    /// `MOIM_BODY_TIMEOUT_MS`; default 10000: time to send the request body.
    pub body_timeout: Duration,
    /// `MOIM_MAX_CONNECTIONS`; default 10000: open HTTP and WebSocket connections.
    pub max_connections: usize,
    /// `MOIM_MAX_IN_FLIGHT`; default 1024: requests being handled at once.
    pub max_in_flight: usize,
    /// `MOIM_WS_MAX_MESSAGE_BYTES`; default 65536: largest WebSocket message or frame a client
    /// may send, fragments included.
    pub ws_max_message_bytes: usize,
    /// `MOIM_WS_SEND_QUEUE`; default 1024: frames queued for a user's sockets before a socket
    /// that cannot keep up is closed.
    pub ws_send_queue: usize,
    /// `MOIM_WS_RESUME_WINDOW`; default 1000: the most changes of one room a `resume` replays;
    /// a client further behind is told `recovered: false` and pages history.
    pub ws_resume_window: u32,
    /// `MOIM_WS_PING_MS`; default 30000: how often the server pings a WebSocket; a client
    /// silent (no frame, no pong) for 2.5 times this is dropped.
    pub ws_ping_every: Duration,
    /// `MOIM_PRESENCE_TTL_MS`; default 20000: a user whose API process stops renewing their
    /// presence (it died) counts as offline this long after its last renewal.
    pub presence_ttl: Duration,
    /// `MOIM_SCHEDULER_POLL_MS`; default 1000: the longest a scheduler waits before looking for
    /// due work again (it sleeps until the next due row when that is sooner).
    pub scheduler_poll: Duration,
    /// `MOIM_INVITE_FAILURES_PER_HOUR`; default 10: wrong couple codes a user may try per hour.
    pub invite_failures_per_hour: u32,
    /// `MOIM_SEARCH_TIMEOUT_MS`; default 5000: the longest a chat search may run in PostgreSQL.
    pub search_timeout: Duration,
    /// `MOIM_WS_MAX_SOCKETS_PER_USER`; default 20: sockets (WebSocket and Socket.IO) one user may
    /// have open at once across every process; one more gets 429 `too_many_sockets`.
    pub ws_max_sockets_per_user: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            passwords: PasswordLimits::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_in_flight: 1024,
            ws_max_message_bytes: 64 * 1024,
            ws_send_queue: 1024,
            ws_resume_window: 1000,
            ws_ping_every: Duration::from_secs(30),
            presence_ttl: Duration::from_secs(20),
            scheduler_poll: Duration::from_secs(1),
            invite_failures_per_hour: 10,
            search_timeout: Duration::from_secs(5),
            ws_max_sockets_per_user: 20,
        }
    }
}

impl Limits {
    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            passwords: PasswordLimits {
                concurrency: parsed("MOIM_HASH_CONCURRENCY", d.passwords.concurrency)?,
                queue: parsed("MOIM_HASH_QUEUE", d.passwords.queue)?,
                wait: millis("MOIM_HASH_WAIT_MS", d.passwords.wait)?,
            },
            header_timeout: millis("MOIM_HEADER_TIMEOUT_MS", d.header_timeout)?,
            body_timeout: millis("MOIM_BODY_TIMEOUT_MS", d.body_timeout)?,
            max_connections: parsed("MOIM_MAX_CONNECTIONS", d.max_connections)?,
            max_in_flight: parsed("MOIM_MAX_IN_FLIGHT", d.max_in_flight)?,
            ws_max_message_bytes: parsed("MOIM_WS_MAX_MESSAGE_BYTES", d.ws_max_message_bytes)?,
            ws_send_queue: parsed("MOIM_WS_SEND_QUEUE", d.ws_send_queue)?,
            ws_resume_window: parsed("MOIM_WS_RESUME_WINDOW", d.ws_resume_window)?,
            ws_ping_every: millis("MOIM_WS_PING_MS", d.ws_ping_every)?,
            presence_ttl: millis("MOIM_PRESENCE_TTL_MS", d.presence_ttl)?,
            scheduler_poll: millis("MOIM_SCHEDULER_POLL_MS", d.scheduler_poll)?,
            invite_failures_per_hour: parsed(
                "MOIM_INVITE_FAILURES_PER_HOUR",
                d.invite_failures_per_hour,
            )?,
            search_timeout: millis("MOIM_SEARCH_TIMEOUT_MS", d.search_timeout)?,
            ws_max_sockets_per_user: parsed(
                "MOIM_WS_MAX_SOCKETS_PER_USER",
                d.ws_max_sockets_per_user,
            )?,
        })
    }
}

fn rates_from_env() -> Result<RateLimits, ConfigError> {
    let d = RateLimits::default();
    let rate = |name, default: Rate| -> Result<Rate, ConfigError> {
        Ok(Rate {
            max: parsed(name, default.max)?,
            window: default.window,
        })
    };
    Ok(RateLimits {
        register_per_ip: rate("MOIM_RATE_REGISTER_PER_HOUR", d.register_per_ip)?,
        oauth_start_per_ip: rate("MOIM_RATE_OAUTH_START_PER_HOUR", d.oauth_start_per_ip)?,
        refresh_per_session: rate("MOIM_RATE_REFRESH_PER_MINUTE", d.refresh_per_session)?,
        commands_per_user: rate("MOIM_RATE_COMMANDS_PER_MINUTE", d.commands_per_user)?,
        uploads_per_user: rate("MOIM_RATE_UPLOADS_PER_HOUR", d.uploads_per_user)?,
        character_lookups_per_user: rate(
            "MOIM_RATE_CHARACTER_LOOKUPS_PER_HOUR",
            d.character_lookups_per_user,
        )?,
        login_failures: FailureLimit {
            max: parsed("MOIM_LOGIN_FAILURES_PER_15_MIN", d.login_failures.max)?,
            window: d.login_failures.window,
        },
        keys_in_memory: parsed("MOIM_RATE_KEYS_IN_MEMORY", d.keys_in_memory)?,
    })
}

fn list<T: std::str::FromStr>(name: &'static str) -> Result<Vec<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse()
                .map_err(|e: T::Err| ConfigError::Malformed(name, e.to_string()))
        })
        .collect()
}

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable could not be parsed.
    #[error("{0} is malformed: {1}")]
    Malformed(&'static str, String),
    /// `MOIM_JWT_SECRET` is missing or short outside dev mode.
    #[error("MOIM_JWT_SECRET must be set to at least 32 bytes (or run with MOIM_DEV=1)")]
    MissingSecret,
    /// A social-login provider is set up only in part.
    #[error("{0}")]
    OAuth(String),
    /// An unknown `MOIM_*` variable.
    #[error("unknown setting {0}; known: {1}")]
    Unknown(String, String),
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A duration set in milliseconds.
fn millis(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    Ok(Duration::from_millis(parsed(name, default)?))
}

/// A duration set in seconds.
fn seconds(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(parsed(name, default.as_secs())?))
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        Some(raw) => raw
            .parse()
            .map_err(|e: T::Err| ConfigError::Malformed(name, e.to_string())),
        None => Ok(default),
    }
}

impl Settings {
    /// Reads `.env` (if present) and the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a broken one is reported by the variables it fails to set.
        let _ = dotenvy::dotenv();
        for (key, _) in std::env::vars() {
            let oauth_part = key
                .strip_prefix("MOIM_OAUTH_")
                .is_some_and(|rest| OAUTH_PARTS.iter().any(|part| rest.ends_with(part)));
            if key.starts_with("MOIM_")
                && !key.starts_with("MOIM_TEST_")
                && !KNOWN.contains(&key.as_str())
                && !oauth_part
            {
                return Err(ConfigError::Unknown(key, KNOWN.join(", ")));
            }
        }
        let dev = matches!(var("MOIM_DEV").as_deref(), Some("1" | "true" | "yes"));
        let jwt_secret = match var("MOIM_JWT_SECRET") {
            Some(secret) if secret.len() >= 32 => secret,
            Some(secret) if dev => secret,
            None if dev => {
                tracing::warn!("MOIM_DEV: using a random JWT secret; tokens end with the process");
                format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                )
            }
            _ => return Err(ConfigError::MissingSecret),
        };
        Ok(Self {
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/moim".into())
                .into(),
            nats_url: var("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            jwt_secret: jwt_secret.into(),
            bind: parsed("MOIM_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            ops_bind: var("MOIM_OPS_BIND")
                .map(|raw| raw.parse())
                .transpose()
                .map_err(|e: std::net::AddrParseError| {
                    ConfigError::Malformed("MOIM_OPS_BIND", e.to_string())
                })?,
            subject_prefix: var("MOIM_SUBJECT_PREFIX").unwrap_or_else(|| "moim".into()),
            access_ttl: Duration::from_secs(parsed("MOIM_ACCESS_TTL_SECS", 900)?),
            refresh_ttl: Duration::from_secs(parsed("MOIM_REFRESH_TTL_SECS", 30 * 24 * 3600)?),
            consistency_timeout: Duration::from_millis(parsed(
                "MOIM_CONSISTENCY_TIMEOUT_MS",
                5000,
            )?),
            max_body_bytes: parsed("MOIM_MAX_BODY_BYTES", 64 * 1024)?,
            db_max_connections: parsed("MOIM_DB_MAX_CONNECTIONS", 20)?,
            db_acquire_timeout: Duration::from_millis(parsed("MOIM_DB_ACQUIRE_TIMEOUT_MS", 5000)?),
            limits: Limits::from_env()?,
            rates: rates_from_env()?,
            trusted_proxies: list("MOIM_TRUSTED_PROXIES")?,
            cors_origins: list("MOIM_CORS_ORIGINS")?,
            oauth: oauth_from_env()?,
            oauth_redirect_uris: list("MOIM_OAUTH_REDIRECT_URIS")?,
            media: MediaSettings::from_env()?,
            connectors: ConnectorSettings::from_env()?,
        })
    }
}
