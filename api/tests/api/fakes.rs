//! What every fake outside service shares: a log of the calls it received (path, query, time,
//! answer), how many it was answering at once, and trouble on demand — slow answers, 500s, and
//! 429s with `Retry-After` — for the next calls to a path (and, for paged lists, a page).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

/// Trouble a fake makes.
#[derive(Debug, Clone, Copy)]
pub enum Trouble {
    /// Answers, but only after this long.
    Slow(Duration),
    /// `500` with an error body.
    Fail,
    /// `429` with `Retry-After` in seconds.
    RateLimit(u64),
}

/// One call received.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub query: HashMap<String, String>,
    pub at: Instant,
    /// 0 while it is being answered.
    pub status: u16,
}

struct Rule {
    path: String,
    after: Option<String>,
    trouble: Trouble,
    times: usize,
}

#[derive(Default)]
pub struct Fake {
    calls: Mutex<Vec<Call>>,
    rules: Mutex<Vec<Rule>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Fake {
    /// Serves `router` on a free port, recorded and troubled by a new `Fake`; answers its base
    /// URL.
    pub async fn serve(router: Router<()>, fake: Arc<Fake>) -> String {
        let app = router.layer(axum::middleware::from_fn_with_state(fake, record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    /// The next `times` calls to a path holding `path` (with `after` as the page asked, when given) get
    /// `trouble`.
    pub fn trouble(&self, path: &str, after: Option<&str>, trouble: Trouble, times: usize) {
        self.rules.lock().unwrap().push(Rule {
            path: path.into(),
            after: after.map(Into::into),
            trouble,
            times,
        });
    }

    /// Every call to a path ending with `path`.
    pub fn calls(&self, path: &str) -> Vec<Call> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.path.ends_with(path))
            .cloned()
            .collect()
    }

    /// The most calls it was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn record(State(fake): State<Arc<Fake>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let query: HashMap<String, String> =
        reqwest::Url::parse(&format!("http://fake{}", request.uri()))
            .map(|url| url.query_pairs().into_owned().collect())
            .unwrap_or_default();
    let at = Instant::now();
    let trouble = {
        let mut rules = fake.rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|r| {
                r.times > 0
                    && path.contains(&r.path)
                    && r.after
                        .as_ref()
                        .is_none_or(|a| query.get("after") == Some(a))
            })
            .map(|r| {
                r.times -= 1;
                r.trouble
            })
    };
    // Logged on arrival, so a call still hanging is seen; its status is filled in after.
    let index = {
        let mut calls = fake.calls.lock().unwrap();
        calls.push(Call {
            path,
            query,
            at,
            status: 0,
        });
        calls.len() - 1
    };
    let now = fake.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    fake.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let response = match trouble {
        Some(Trouble::Fail) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "error": { "name": "OPENAPI00001", "message": "server error" } })),
        )
            .into_response(),
        Some(Trouble::RateLimit(seconds)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
            axum::Json(
                json!({ "error": { "name": "OPENAPI00007", "message": "too many requests" } }),
            ),
        )
            .into_response(),
        Some(Trouble::Slow(wait)) => {
            tokio::time::sleep(wait).await;
            next.run(request).await
        }
        None => next.run(request).await,
    };
    fake.in_flight.fetch_sub(1, Ordering::SeqCst);
    fake.calls.lock().unwrap()[index].status = response.status().as_u16();
    response
}
