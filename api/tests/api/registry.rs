//! Adding a read model is one module and one registry line: a throw-away view, written here and
//! nowhere else, is run live by the runner, rebuilt by replay and covered by the fingerprint.

use std::time::Duration;

use projections::Registry;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app_with_registry, view_reached};

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

    // The fingerprint covers its table; replay rebuilds it to the same rows.
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
