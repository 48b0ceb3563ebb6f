//! The views' durable consumers outlive a Moim version: one an older Moim made, acking each
//! message, is made again as this one needs it (one ack per batch), from the view's checkpoint,
//! and the view carries on without losing or doubling anything.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use moim_api::startup::Roles;

use crate::helpers::{eventually, nats_url, say, spawn_app_with, view_reached};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_acks_each_message_is_made_again_to_ack_batches() {
    let app = spawn_app_with(Roles {
        api: true,
        relay: true,
        ..Roles::NONE
    })
    .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    say(&app, room, &kim, "before the upgrade").await;

    // What an older Moim left: the chat view's consumer, acking message by message.
    let subjects = app.subjects();
    let js = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let stream = moim_nats::stream::ensure(&js, &subjects).await.unwrap();
    let name = subjects.consumer(projections::chat::VIEW.name());
    stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();

    let _views = app
        .instance(Roles {
            api: true,
            projections: true,
            ..Roles::NONE
        })
        .await;
    let mut token = String::new();
    for i in 0..5 {
        token = say(&app, room, &kim, &format!("after {i}")).await.token();
    }
    assert!(
        view_reached(
            &app.pool,
            projections::chat::VIEW,
            token.parse().unwrap(),
            Duration::from_secs(20)
        )
        .await,
        "the chat view catches up"
    );
    let info = stream.consumer_info(&name).await.unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::All);
    assert!(
        eventually(Duration::from_secs(10), || {
            let (stream, name) = (&stream, &name);
            async move {
                stream
                    .consumer_info(name)
                    .await
                    .is_ok_and(|info| info.num_ack_pending == 0)
            }
        })
        .await,
        "one ack per batch acks every message in it"
    );
    let (messages, numbered): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT n) FROM chat_messages WHERE room_id = $1")
            .bind(room)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((messages, numbered), (6, 6), "every message once");
}
