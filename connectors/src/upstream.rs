//! One outside service as Moim calls it. Every call has a timeout and a bounded answer, and
//! passes a gate: while the service has asked us to wait (`429` with `Retry-After`) or keeps
//! failing (5xx, timeouts: exponential backoff with jitter), calls are not sent at all and the
//! caller learns at once how long to wait — Moim never hammers a service that is struggling,
//! and no request of ours queues behind one.
//!
//! The gate is per process: n processes may each send one probe when it reopens.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use reqwest::{RequestBuilder, StatusCode};

/// The largest answer read from an outside service; a larger one counts as a failure.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The longest wait a `Retry-After` is taken at; a larger one is capped to it.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Why a call brought nothing back.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service is rate-limiting us or failing; nothing is sent until `0` has passed.
    #[error("unavailable for {0:?}")]
    Unavailable(Duration),
    /// The service answered with a client error (not 429): the connector reads its body.
    #[error("answered {status}")]
    Answered {
        /// The status.
        status: StatusCode,
        /// Its body (at most [`MAX_ANSWER_BYTES`]).
        body: bytes::Bytes,
    },
}

#[derive(Debug, Default)]
struct Gate {
    closed_until: Option<Instant>,
    failures: u32,
}

/// An outside service; see the module documentation.
#[derive(Debug)]
pub struct Upstream {
    name: &'static str,
    http: reqwest::Client,
    gate: Mutex<Gate>,
    first_backoff: Duration,
    max_backoff: Duration,
}

impl Upstream {
    /// A service called `name` (a metric label), each call given at most `timeout`; failures
    /// back off from `first_backoff` doubling up to `max_backoff`, with jitter. Fails when no
    /// HTTP client can be made (no TLS roots): a start-up error.
    pub fn new(
        name: &'static str,
        timeout: Duration,
        first_backoff: Duration,
        max_backoff: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            name,
            http,
            gate: Mutex::new(Gate::default()),
            first_backoff,
            max_backoff,
        })
    }

    /// The client requests are built with.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `request` unless the gate is closed; answers a success's body.
    pub async fn call(&self, request: RequestBuilder) -> Result<bytes::Bytes, CallError> {
        if let Some(wait) = self.closed_for() {
            self.count("gated");
            return Err(CallError::Unavailable(wait));
        }
        let started = Instant::now();
        let answer = self.send(request).await;
        metrics::histogram!("connector_call_seconds", "connector" => self.name)
            .record(started.elapsed().as_secs_f64());
        match answer {
            Ok((status, body)) if status.is_success() => {
                self.count("ok");
                self.lock().failures = 0;
                Ok(body)
            }
            // A 429 never gets here: `send` makes it a `Failure::RateLimited`.
            Ok((status, body)) if status.is_client_error() => {
                self.count("refused");
                Err(CallError::Answered { status, body })
            }
            Ok((status, _)) => {
                tracing::warn!(connector = self.name, %status, "outside service failed");
                Err(CallError::Unavailable(self.back_off(None, "failed")))
            }
            Err(Failure::RateLimited(retry_after)) => {
                tracing::info!(
                    connector = self.name,
                    ?retry_after,
                    "outside service asks us to wait"
                );
                Err(CallError::Unavailable(
                    self.back_off(retry_after, "rate_limited"),
                ))
            }
            Err(Failure::Transport(error)) => {
                // Without the URL: a query string may carry a token.
                tracing::warn!(connector = self.name, error = %error.without_url(), "outside service unreachable");
                Err(CallError::Unavailable(self.back_off(None, "failed")))
            }
            Err(Failure::TooLarge) => {
                tracing::warn!(connector = self.name, "outside service's answer too large");
                Err(CallError::Unavailable(self.back_off(None, "failed")))
            }
        }
    }

    /// Closes the gate after a failure or a request to wait (`retry_after`, when the service
    /// said how long); answers how long it stays closed. A service that signals a rate limit
    /// in its body (Band's result codes) closes it through this too.
    pub fn back_off(&self, retry_after: Option<Duration>, outcome: &'static str) -> Duration {
        self.count(outcome);
        let mut gate = self.lock();
        gate.failures = gate.failures.saturating_add(1);
        let wait = retry_after.map_or_else(|| self.jittered(gate.failures), |w| w.min(MAX_WAIT));
        let until = Instant::now() + wait;
        gate.closed_until = Some(gate.closed_until.map_or(until, |at| at.max(until)));
        wait
    }

    /// The `failures`-th delay: doubling from the first, capped, with jitter.
    fn jittered(&self, failures: u32) -> Duration {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.first_backoff)
            .with_max_delay(self.max_backoff)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX))
            .unwrap_or(self.max_backoff)
    }

    fn closed_for(&self) -> Option<Duration> {
        let gate = self.lock();
        let until = gate.closed_until?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    async fn send(&self, request: RequestBuilder) -> Result<(StatusCode, bytes::Bytes), Failure> {
        let mut response = request.send().await.map_err(Failure::Transport)?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::RateLimited(retry_after(response.headers())));
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(Failure::Transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body.freeze()))
    }

    fn count(&self, outcome: &'static str) {
        metrics::counter!("connector_calls_total", "connector" => self.name, "outcome" => outcome)
            .increment(1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

enum Failure {
    RateLimited(Option<Duration>),
    Transport(reqwest::Error),
    TooLarge,
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn with(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        assert_eq!(retry_after(&with("7")), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(&with("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&with("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn failures_back_off_doubling_within_the_cap() {
        let upstream = Upstream::new(
            "test",
            Duration::from_secs(1),
            Duration::from_millis(100),
            Duration::from_secs(2),
        )
        .unwrap();
        for failures in 1..20 {
            let wait = upstream.jittered(failures);
            let floor = Duration::from_millis(100)
                .saturating_mul(1 << (failures - 1).min(10))
                .min(Duration::from_secs(2));
            assert!(wait >= floor && wait <= floor * 2, "{failures}: {wait:?}");
        }
        assert_eq!(
            upstream.back_off(Some(Duration::from_secs(9000)), "x"),
            MAX_WAIT
        );
        assert!(upstream.closed_for().is_some());
    }
}
