//! Adding a read model is one module and one registry line: a throw-away view, written here and
//! nowhere else, is run live by the runner, rebuilt by replay and covered by the fingerprint.

use std::time::Duration;

use projections::Registry;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{say, spawn_app_with_registry, view_reached};

/// The whole throw-away read model: counts events by type.
mod tally {
    use futures::future::BoxFuture;
    use moim_nats::EventEnvelope;
    use projections::{ProjectionError, Push, ReadModel, View};
    use sqlx::PgConnection;

    pub const VIEW: View = View::of(&Tally);

    /// Its table; a real view's lives in `migrations/`.
    pub const TABLE: &str =
        "CREATE TABLE tally (event_type text PRIMARY KEY, events bigint NOT NULL)";

    struct Tally;

    impl ReadModel for Tally {
        fn name(&self) -> &'static str {
            "tally"
        }

        fn tables(&self) -> &'static [&'static str] {
            &["tally"]
        }

        fn apply_one<'a>(
            &'a self,
            tx: &'a mut PgConnection,
            event: &'a EventEnvelope,
            _: Option<&'a mut Vec<Push>>,
        ) -> BoxFuture<'a, Result<(), ProjectionError>> {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO tally (event_type, events) VALUES ($1, 1)
                     ON CONFLICT (event_type) DO UPDATE SET events = tally.events + 1",
                )
                .bind(&event.event_type)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_added_with_one_registry_line_is_run_replayed_and_fingerprinted() {
    // The one registry line.
    let registry = Registry::standard().with(tally::VIEW).unwrap();
    let app = spawn_app_with_registry(registry.clone(), tally::TABLE).await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut last = String::new();
    for i in 0..5 {
        last = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &kim,
                json!({ "client_msg_id": Uuid::now_v7(), "body": format!("m{i}") }),
            )
            .await
            .token();
    }

    // The runner picked it up: it follows the stream like every view.
    let token = last.parse().unwrap();
    assert!(view_reached(&app.pool, tally::VIEW, token, Duration::from_secs(20)).await);
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_type, events FROM tally ORDER BY event_type")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM events GROUP BY event_type ORDER BY event_type",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(counts, stored);
    assert!(counts.contains(&("MessageSent".to_owned(), 5)));

    // The fingerprint covers its table; replay rebuilds it to the same rows. It covers every
    // view's tables, so they are all taken once every view has the last message.
    for &view in registry.views() {
        assert!(view_reached(&app.pool, view, token, Duration::from_secs(20)).await);
    }
    let live = projections::fingerprint::all(&app.pool, &registry)
        .await
        .unwrap();
    assert!(live.iter().any(|t| t.table == "tally" && t.rows > 0));
    let replayed = projections::replay::replay(&app.pool, tally::VIEW, false)
        .await
        .unwrap();
    assert_eq!(
        replayed.events as i64,
        stored.iter().map(|(_, n)| n).sum::<i64>()
    );
    assert_eq!(
        projections::fingerprint::all(&app.pool, &registry)
            .await
            .unwrap(),
        live
    );
    // And the registry knows it by name, as `moim replay <name>` asks.
    assert_eq!(registry.get("tally").unwrap(), tally::VIEW);
}

/// A throw-away view that reads chat rooms' events only: it counts what it is handed, and
/// notes anything else it is handed.
mod chat_only {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use projections::{Simple, View};

    pub const TABLE: &str = "CREATE TABLE chat_only (event_id uuid PRIMARY KEY)";
    /// Events of other aggregates it was handed.
    pub static OTHERS: AtomicUsize = AtomicUsize::new(0);

    pub const VIEW: View = View::of(&Simple {
        name: "chat_only",
        tables: &["chat_only"],
        apply_one: |tx, event| {
            Box::pin(async move {
                if event.aggregate_type != "chat_room" {
                    OTHERS.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                sqlx::query("INSERT INTO chat_only VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(event.event_id)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
        },
        reads: &["chat_room"],
    });
}

/// A throw-away view that reads, of chat rooms' events, only sent messages.
mod sent_only {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::future::BoxFuture;
    use moim_nats::EventEnvelope;
    use projections::{ProjectionError, Push, ReadModel, View};
    use sqlx::PgConnection;

    pub const TABLE: &str = "CREATE TABLE sent_only (event_id uuid PRIMARY KEY)";
    /// Events other than sent messages it was handed.
    pub static OTHERS: AtomicUsize = AtomicUsize::new(0);

    pub const VIEW: View = View::of(&SentOnly);

    struct SentOnly;

    impl ReadModel for SentOnly {
        fn name(&self) -> &'static str {
            "sent_only"
        }

        fn tables(&self) -> &'static [&'static str] {
            &["sent_only"]
        }

        fn apply_one<'a>(
            &'a self,
            tx: &'a mut PgConnection,
            event: &'a EventEnvelope,
            _: Option<&'a mut Vec<Push>>,
        ) -> BoxFuture<'a, Result<(), ProjectionError>> {
            Box::pin(async move {
                if event.event_type != "MessageSent" {
                    OTHERS.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                sqlx::query("INSERT INTO sent_only VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(event.event_id)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
        }

        fn reads(&self) -> Option<&'static [&'static str]> {
            Some(&["chat_room"])
        }

        fn reads_event(&self, _: &str, event_type: &str) -> bool {
            event_type == "MessageSent"
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_is_handed_only_what_it_reads_and_its_checkpoint_passes_the_rest() {
    use std::sync::atomic::Ordering;

    let registry = Registry::standard()
        .with(chat_only::VIEW)
        .and_then(|r| r.with(sent_only::VIEW))
        .unwrap();
    let tables = format!("{}; {}", chat_only::TABLE, sent_only::TABLE);
    let app = spawn_app_with_registry(registry, &tables).await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    for i in 0..3 {
        say(&app, room, &kim, &format!("m{i}")).await;
    }
    // The last events are ones it does not read: a new account's.
    app.register("Park").await;
    let (tx_id, position): (i64, i64) = sqlx::query_as(
        "SELECT tx_id::text::bigint, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let last = domain::Position { tx_id, position };
    for view in [chat_only::VIEW, sent_only::VIEW] {
        assert!(
            view_reached(&app.pool, view, last, Duration::from_secs(20)).await,
            "the checkpoint of {} passes what it does not read",
            view.name()
        );
    }
    let (handed, stored, sent, messages): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM chat_only),
                (SELECT count(*) FROM events WHERE aggregate_type = 'chat_room'),
                (SELECT count(*) FROM sent_only),
                (SELECT count(*) FROM events WHERE event_type = 'MessageSent')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(handed, stored);
    assert_eq!(chat_only::OTHERS.load(Ordering::SeqCst), 0);
    // Of a room's events, the one that created it was passed by.
    assert_eq!((sent, messages), (3, 3));
    assert_eq!(sent_only::OTHERS.load(Ordering::SeqCst), 0);
}
