//! How Moim connects to PostgreSQL: the options `DATABASE_URL` gives, with TLS left off on the
//! loopback unless asked for, and a pool that tests only the connections that sat idle.
//!
//! TLS on the loopback guards nothing (the bytes never leave the machine) and costs both sides a
//! cipher on every row: about 5 % of a replay. sqlx tests every connection it hands out with a
//! round trip of its own by default, as many as the statements themselves on the command path
//! (docs/performance.md).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context;
use reqwest::Url;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::Connection;

/// A connection idle longer than this is tested before it is handed out. One in steady use is
/// not: sqlx has just tested it as it came back to the pool, and a PostgreSQL restarted since
/// fails its next statement, which the caller sees as it would a restart mid-statement.
const TEST_IDLE_OVER: Duration = Duration::from_secs(1);

/// The pool's options: at most `max_connections`, waited for at most `acquire_timeout`, each
/// tested before use only when it sat idle.
pub fn pool_options(max_connections: u32, acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > TEST_IDLE_OVER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// The connection options of `url`. A loopback host (`localhost`, `127.0.0.0/8`, `::1`) goes
/// without TLS unless the URL names an `sslmode` or `PGSSLMODE` is set; any other host keeps
/// sqlx's default, `prefer`.
pub fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    with_env(url, std::env::var_os("PGSSLMODE").is_some())
}

/// [`options`], told whether `PGSSLMODE` is set.
fn with_env(url: &str, sslmode_in_env: bool) -> anyhow::Result<PgConnectOptions> {
    let options: PgConnectOptions = url.parse().context("parsing DATABASE_URL")?;
    let asked = sslmode_in_env
        || Url::parse(url)
            .context("parsing DATABASE_URL")?
            .query_pairs()
            .any(|(key, _)| key == "sslmode" || key == "ssl-mode");
    let host = options
        .get_host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    Ok(if loopback && !asked {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str, in_env: bool) -> String {
        format!("{:?}", with_env(url, in_env).unwrap().get_ssl_mode())
    }

    #[test]
    fn the_loopback_goes_without_tls_unless_asked() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/moim",
            "postgres://postgres@localhost/moim",
            "postgres://postgres@[::1]:5432/moim",
            "postgres://postgres@127.0.0.1/moim?application_name=moim",
        ] {
            assert_eq!(mode(url, false), "Disable", "{url}");
        }
        assert_eq!(
            mode("postgres://postgres@127.0.0.1/moim?sslmode=require", false),
            "Require"
        );
        assert_eq!(
            mode(
                "postgres://postgres@127.0.0.1/moim?application_name=m&sslmode=verify-full",
                false
            ),
            "VerifyFull"
        );
        assert_eq!(mode("postgres://postgres@127.0.0.1/moim", true), "Prefer");
    }

    #[test]
    fn another_host_keeps_the_default() {
        assert_eq!(
            mode("postgres://moim@db.internal:5432/moim", false),
            "Prefer"
        );
        assert_eq!(mode("postgres://moim@10.0.0.5/moim", false), "Prefer");
    }

    #[test]
    fn a_bad_url_is_refused() {
        assert!(with_env("not a url", false).is_err());
    }
}
