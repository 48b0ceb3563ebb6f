//! One durable consumer feeds every view a process runs: the consumers an older Moim kept, one
//! per view, are deleted and the views carry on from their checkpoints without losing or
//! doubling anything; one process leads every view, and a standby takes them all over when it
//! stops; a view whose last commits PostgreSQL forgot reads them again without waiting; a view
//! whose lock a replay holds stands aside, so the others are acked and stop on time, and reads
//! what it let by once the lock is free; a view that fails stands aside too, so the others go
//! on, and reads what it let by once it is mended; the notifier pushes a chat message with no
//! outbox row, and one it pushed before a crash let its checkpoint move it sends again, which
//! the socket drops as a repeat; such a message skips the members who block its sender, read
//! afresh for each batch; while a replay holds its lock it pushes no message; and a view
//! whose checkpoint a replay (or an operator) moved while it idled finds so at its next batch,
//! which did not read it first, and carries on from there.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use futures::StreamExt;
use moim_api::startup::Roles;
use projections::{checkpoint, Registry};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{ConnectOptions, Connection, PgPool};
use uuid::Uuid;

use crate::helpers::{
    eventually, nats_url, say, spawn_app, spawn_app_with, view_reached, TestApp, User,
};

const VIEWS: Roles = Roles {
    api: true,
    projections: true,
    ..Roles::NONE
};

const RELAY: Roles = Roles {
    api: true,
    relay: true,
    ..Roles::NONE
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumers_an_older_moim_kept_per_view_give_way_to_one() {
    let (app, kim, _, room) = a_room_without_views().await;
    say(&app, room, &kim, "before the upgrade").await;

    // What an older Moim left: a consumer per view, the chat view's acking message by message.
    let subjects = app.subjects();
    let js = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let stream = moim_nats::stream::ensure(&js, &subjects).await.unwrap();
    let old = subjects.consumer(projections::chat::VIEW.name());
    stream
        .create_consumer(pull::Config {
            durable_name: Some(old.clone()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();

    let _views = app.instance(VIEWS).await;
    let mut token = String::new();
    for i in 0..5 {
        token = say(&app, room, &kim, &format!("after {i}")).await.token();
    }
    views_reached(&app, &token, &[]).await;
    assert!(
        stream.consumer_info(&old).await.is_err(),
        "the view's own consumer is gone"
    );
    let name = subjects.consumer("views");
    assert!(
        eventually(Duration::from_secs(10), || {
            let (stream, name) = (&stream, &name);
            async move {
                stream.consumer_info(name).await.is_ok_and(|info| {
                    info.config.ack_policy == AckPolicy::All && info.num_ack_pending == 0
                })
            }
        })
        .await,
        "one ack, once every view is past a batch, acks every message in it"
    );
    assert_eq!(messages_in(&app, room).await, (6, 6), "every message once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_leads_every_view_and_a_standby_takes_them_all_over() {
    let (app, kim, lee, room) = a_room_without_views().await;

    let first = app.instance(VIEWS).await;
    let token = say(&app, room, &kim, "to the first").await.token();
    views_reached(&app, &token, &[]).await;
    let standby = app.instance(VIEWS).await;
    let led_by = one_leader(&app.pool).await;

    drop(first);
    let token = say(&app, room, &lee, "to the standby").await.token();
    views_reached(&app, &token, &[]).await;
    assert_ne!(
        one_leader(&app.pool).await,
        led_by,
        "the standby leads every view now"
    );
    assert_eq!(messages_in(&app, room).await, (2, 2), "every message once");
    drop(standby);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_whose_last_commits_were_forgotten_reads_them_again_at_once() {
    let (app, kim, _, room) = a_room_without_views().await;
    let views = app.instance(VIEWS).await;
    let token = say(&app, room, &kim, "kept").await.token();
    views_reached(&app, &token, &[]).await;
    let chat = projections::chat::VIEW;
    let mut conn = app.pool.acquire().await.unwrap();
    let kept = checkpoint::load(&mut conn, chat.name()).await.unwrap();
    let mut token = String::new();
    for i in 0..3 {
        token = say(&app, room, &kim, &format!("forgotten {i}"))
            .await
            .token();
    }
    views_reached(&app, &token, &[]).await;
    drop(views);
    views_stopped(&app).await;

    // What PostgreSQL forgetting the chat view's last commits (asynchronous ones) leaves: its
    // checkpoint back where it was, while the consumer has acked what came after.
    checkpoint::save(&mut conn, chat.name(), kept)
        .await
        .unwrap();
    let _views = app.instance(VIEWS).await;
    assert!(
        view_reached(
            &app.pool,
            chat,
            token.parse().unwrap(),
            Duration::from_secs(10)
        )
        .await,
        "the chat view reads them again with no new event to show it the gap"
    );
    assert_eq!(messages_in(&app, room).await, (4, 4), "every message once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_pushed_without_the_outbox_and_a_crash_before_its_checkpoint_sends_it_again() {
    let (app, kim, lee, room) = a_room_without_views().await;
    let views = app.instance(VIEWS).await;
    let mut lee_ws = app.ws(&lee).await;
    let token = say(&app, room, &kim, "first").await.token();
    views_reached(&app, &token, &[]).await;
    let first = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("pushed");
    let rev = first["rev"].as_i64().expect("room frames carry their rev");
    let notifier = projections::notifications::VIEW;
    let mut conn = app.pool.acquire().await.unwrap();
    let before = checkpoint::load(&mut conn, notifier.name()).await.unwrap();
    let rows = outbox_rows_made(&app).await;

    let second = say(&app, room, &kim, "second").await;
    let pushed = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("pushed");
    assert_eq!(pushed["data"]["message_id"], second.body["message_id"]);
    views_reached(&app, &second.token(), &[]).await;
    assert_eq!(
        outbox_rows_made(&app).await,
        rows,
        "a message goes to its room with no outbox row"
    );

    // What a crash after the push and before the checkpoint moved leaves: the notifier reads the
    // message again and sends it again, and the socket drops the repeat by its rev.
    drop(views);
    views_stopped(&app).await;
    checkpoint::save(&mut conn, notifier.name(), before)
        .await
        .unwrap();
    let nats = async_nats::connect(nats_url()).await.unwrap();
    let mut room_pushes = nats
        .subscribe(app.subjects().push_room(room))
        .await
        .unwrap();
    nats.flush().await.unwrap();
    let _views = app.instance(VIEWS).await;
    let again = tokio::time::timeout(Duration::from_secs(10), room_pushes.next())
        .await
        .expect("sent again")
        .unwrap();
    let again: serde_json::Value = serde_json::from_slice(&again.payload).unwrap();
    assert_eq!(again["data"]["message_id"], second.body["message_id"]);
    assert_eq!(
        outbox_rows_made(&app).await,
        rows,
        "sent again, still with no outbox row"
    );
    assert!(
        view_reached(
            &app.pool,
            notifier,
            second.token().parse().unwrap(),
            Duration::from_secs(10)
        )
        .await,
        "the notifier's checkpoint moves past it again"
    );
    let third = say(&app, room, &kim, "third").await;
    let pushed = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("pushed");
    assert_eq!(
        pushed["data"]["message_id"], third.body["message_id"],
        "the socket dropped the repeat"
    );
    assert_eq!(pushed["rev"], rev + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_pushed_without_a_transaction_skips_the_members_who_block_its_sender() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let room = app.create_room(&park, &[&kim, &lee]).await;
    let blocked = app
        .post(&format!("/users/me/blocks/{}", kim.id), &lee, json!({}))
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{:?}", blocked.body);
    views_reached(&app, &blocked.token(), &[]).await;
    let mut lee_ws = app.ws(&lee).await;
    let mut park_ws = app.ws(&park).await;
    let rows = outbox_rows_made(&app).await;

    // Who blocks a sender is read in the statement that lets the batch go ahead.
    say(&app, room, &kim, "from kim").await;
    let last = say(&app, room, &park, "from park").await;
    let to_lee = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("pushed");
    assert_eq!(to_lee["data"]["body"], "from park", "Kim's skipped Lee");
    let to_park = park_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("pushed");
    assert_eq!(to_park["data"]["body"], "from kim");
    views_reached(&app, &last.token(), &[]).await;
    assert_eq!(
        outbox_rows_made(&app).await,
        rows,
        "both went to the room with no transaction"
    );

    // Lifted, the block no longer holds Kim's messages back: each batch reads it afresh.
    let lifted = app
        .request(
            Method::DELETE,
            &format!("/users/me/blocks/{}", kim.id),
            Some(&lee.token),
            None,
            None,
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK);
    views_reached(&app, &lifted.token(), &[]).await;
    let rows = outbox_rows_made(&app).await;
    say(&app, room, &kim, "kim again").await;
    let to_lee = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("pushed");
    assert_eq!(to_lee["data"]["body"], "kim again");
    assert_eq!(outbox_rows_made(&app).await, rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_messages_that_follow_right_on_are_written_without_a_transaction() {
    let (app, kim, _, room) = a_room_without_views().await;
    let _views = app.instance(VIEWS).await;
    let first = say(&app, room, &kim, "first").await.token();
    views_reached(&app, &first, &[]).await;
    // The counter is the process's, which other tests share: it only grows.
    let alone = || async {
        app.metrics()
            .await
            .lines()
            .find_map(|line| {
                line.strip_prefix(r#"projection_batches_total{view="chat",how="alone"} "#)
            })
            .map_or(0.0, |value| value.parse::<f64>().unwrap())
    };
    let before = alone().await;
    for i in 0..3 {
        let said = say(&app, room, &kim, &format!("after {i}")).await.token();
        views_reached(&app, &said, &[]).await;
    }
    // Counted just after the statement commits, which is what the views' checkpoints show.
    assert!(
        eventually(Duration::from_secs(5), || async {
            alone().await >= before + 3.0
        })
        .await,
        "each message, a batch of its own that follows right on, went in one statement"
    );
    assert_eq!(messages_in(&app, room).await, (4, 4), "every message once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_whose_checkpoint_moved_while_it_idled_carries_on_from_there() {
    let app = spawn_app_with(Roles {
        api: true,
        ..Roles::NONE
    })
    .await;
    let relay = app.instance(RELAY).await;
    let _views = app.instance(VIEWS).await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let first = say(&app, room, &kim, "first").await.token();
    views_reached(&app, &first, &[]).await;
    let (before, _) = messages_in(&app, room).await;

    // A message the store has and the stream not yet, which a replay of the chat view applies
    // while the live view idles: the checkpoint moves past where the live view left it, and the
    // live view's next batch, which starts right after that, finds so only as it saves.
    relay_stopped(&app, relay).await;
    let second = say(&app, room, &kim, "second").await.token();
    let chat = projections::chat::VIEW;
    projections::replay::replay(&app.pool, chat, false)
        .await
        .unwrap();
    let relay = app.instance(RELAY).await;
    views_reached(&app, &second, &[]).await;
    // The chat view's checkpoint was there already: the acks say its live runner is past it too.
    assert!(everything_acked(&app).await, "every view handled it");
    assert_eq!(
        messages_in(&app, room).await,
        (before + 1, before + 1),
        "the replayed message, once"
    );

    // Moved past a message by hand instead, the checkpoint says the view holds it: the view
    // believes it over where it left the checkpoint itself, and so leaves the message out.
    relay_stopped(&app, relay).await;
    let third = say(&app, room, &kim, "third").await.token();
    // Under the view's lock, as an operator (or a replay's swap) moves it.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(chat.lock_key())
        .execute(&mut *tx)
        .await
        .unwrap();
    let at = checkpoint::load(&mut tx, chat.name()).await.unwrap();
    let past_third = checkpoint::Checkpoint {
        position: third.parse().unwrap(),
        stream_seq: at.stream_seq + 1,
    };
    checkpoint::save(&mut tx, chat.name(), past_third)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let _relay = app.instance(RELAY).await;
    views_reached(&app, &third, &[]).await;
    let fourth = say(&app, room, &kim, "fourth").await.token();
    views_reached(&app, &fourth, &[]).await;
    let (thirds, fourths): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE body = 'third'), count(*) FILTER (WHERE body = 'fourth')
         FROM chat_messages WHERE room_id = $1",
    )
    .bind(room)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (thirds, fourths),
        (0, 1),
        "the third left out, the fourth in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_whose_lock_a_replay_holds_stands_aside_and_reads_what_it_let_by_after() {
    let (app, kim, _, room) = a_room_without_views().await;
    let views = app.instance(VIEWS).await;
    let token = say(&app, room, &kim, "before the replay").await.token();
    views_reached(&app, &token, &[]).await;

    // What a replay of the chat view holds from its start to its swap.
    let chat = projections::chat::VIEW;
    let mut replay = app.pool.connect_options().connect().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(chat.lock_key())
        .execute(&mut replay)
        .await
        .unwrap();
    let mut token = String::new();
    for i in 0..5 {
        token = say(&app, room, &kim, &format!("during {i}")).await.token();
    }
    views_reached(&app, &token, &[chat]).await;
    assert!(
        everything_acked(&app).await,
        "what the held view let by is acked, so it cannot fill `max_ack_pending` for the others"
    );
    assert_eq!(
        messages_in(&app, room).await,
        (1, 1),
        "the held view applied nothing meanwhile"
    );

    // Stopping is not held up by the lock, and the next run stands aside again.
    drop(views);
    views_stopped(&app).await;
    let _views = app.instance(VIEWS).await;
    let after = say(&app, room, &kim, "after the restart").await.token();
    views_reached(&app, &after, &[chat]).await;
    assert!(
        everything_acked(&app).await,
        "the new run's chat view stood aside too"
    );
    assert_eq!(messages_in(&app, room).await, (1, 1));

    // The replay ends: only the chat view's tries of its lock can show it what it let by.
    replay.close().await.unwrap();
    assert!(
        view_reached(
            &app.pool,
            chat,
            after.parse().unwrap(),
            Duration::from_secs(15)
        )
        .await,
        "once the lock is free the chat view reads what it let by, with no new event to show it"
    );
    assert_eq!(messages_in(&app, room).await, (7, 7), "every message once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifier_whose_lock_a_replay_holds_pushes_no_message_until_the_lock_is_free() {
    let (app, kim, lee, room) = a_room_without_views().await;
    let _views = app.instance(VIEWS).await;
    let token = say(&app, room, &kim, "before the replay").await.token();
    views_reached(&app, &token, &[]).await;
    let mut lee_ws = app.ws(&lee).await;

    // What a replay of the notifier holds from its start to its swap: a message, which the
    // notifier only pushes, waits for it all the same.
    let notifier = projections::notifications::VIEW;
    let mut replay = app.pool.connect_options().connect().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(notifier.lock_key())
        .execute(&mut replay)
        .await
        .unwrap();
    let held = say(&app, room, &kim, "during the replay").await;
    views_reached(&app, &held.token(), &[notifier]).await;
    assert!(
        !view_reached(
            &app.pool,
            notifier,
            held.token().parse().unwrap(),
            Duration::from_millis(500)
        )
        .await,
        "the notifier stood aside"
    );
    assert!(
        lee_ws
            .next_of("message.sent", Duration::from_millis(300))
            .await
            .is_none(),
        "nothing was pushed while the lock was held"
    );

    replay.close().await.unwrap();
    let pushed = lee_ws
        .next_of("message.sent", Duration::from_secs(15))
        .await
        .expect("pushed once the lock is free");
    assert_eq!(pushed["data"]["message_id"], held.body["message_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_that_fails_stands_aside_so_the_others_go_on_and_reads_what_it_let_by_once_mended() {
    let (app, kim, _, room) = a_room_without_views().await;
    let _views = app.instance(VIEWS).await;
    let token = say(&app, room, &kim, "before the disk filled")
        .await
        .token();
    views_reached(&app, &token, &[]).await;
    let made = consumer_made(&app).await;

    // The chat view's table refuses rows, as a full disk would: nothing is wrong with the events.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_rows() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'no space left' USING ERRCODE = 'disk_full'; END $$;
         CREATE TRIGGER disk_full BEFORE INSERT ON chat_messages
             FOR EACH STATEMENT EXECUTE FUNCTION refuse_rows();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let chat = projections::chat::VIEW;
    let mut token = String::new();
    for i in 0..5 {
        token = say(&app, room, &kim, &format!("while full {i}"))
            .await
            .token();
    }
    views_reached(&app, &token, &[chat]).await;
    assert!(
        everything_acked(&app).await,
        "what the failing view let by is acked, so it holds nothing back for the others"
    );
    assert_eq!(messages_in(&app, room).await, (1, 1));
    // Its tries (after 0.5 s, then 1 s) go on aside: the consumer is made again only once one
    // goes through, or the others would wait at every try for all it let by to come again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        consumer_made(&app).await,
        made,
        "the consumer is not made again while the view stays broken"
    );
    let others = checkpoints_but(&app, chat).await;

    // Mended, it reads what it let by at its next try, with no new event to show it.
    sqlx::raw_sql("DROP TRIGGER disk_full ON chat_messages")
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(
        view_reached(
            &app.pool,
            chat,
            token.parse().unwrap(),
            Duration::from_secs(40)
        )
        .await,
        "the mended chat view catches up"
    );
    assert_eq!(messages_in(&app, room).await, (6, 6), "every message once");
    assert_eq!(
        checkpoints_but(&app, chat).await,
        others,
        "the consumer made again for the chat view's sake did not hand the others what they held"
    );
}

/// When the views' consumer was made.
async fn consumer_made(app: &TestApp) -> String {
    let js = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let stream = moim_nats::stream::ensure(&js, &app.subjects())
        .await
        .unwrap();
    let info = stream
        .consumer_info(app.subjects().consumer("views"))
        .await
        .unwrap();
    info.created.to_string()
}

/// Every view's checkpoint but `apart`'s, with when it was last written.
async fn checkpoints_but(app: &TestApp, apart: projections::View) -> Vec<(String, i64, String)> {
    sqlx::query_as(
        "SELECT name, stream_seq, updated_at::text FROM projection_checkpoints
         WHERE name <> $1 ORDER BY name",
    )
    .bind(apart.name())
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// How many rows the push outbox has ever been given.
async fn outbox_rows_made(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(last_value, 0) FROM pg_sequences WHERE sequencename = 'push_outbox_id_seq'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Whether the views' consumer comes to have acked everything in the stream.
async fn everything_acked(app: &TestApp) -> bool {
    let js = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let mut stream = moim_nats::stream::ensure(&js, &app.subjects())
        .await
        .unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let name = app.subjects().consumer("views");
    eventually(Duration::from_secs(10), || {
        let (stream, name) = (&stream, &name);
        async move {
            stream
                .consumer_info(name)
                .await
                .is_ok_and(|info| info.ack_floor.stream_sequence >= last)
        }
    })
    .await
}

/// A deployment with no process running the views yet, and a room of two in it.
async fn a_room_without_views() -> (TestApp, User, User, Uuid) {
    let app = spawn_app_with(Roles {
        api: true,
        relay: true,
        ..Roles::NONE
    })
    .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    (app, kim, lee, room)
}

/// The chat view's rows of `room`, and how many distinct numbers they hold.
async fn messages_in(app: &TestApp, room: Uuid) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), count(DISTINCT n) FROM chat_messages WHERE room_id = $1")
        .bind(room)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Asserts every view but those `apart` reaches `token`.
async fn views_reached(app: &TestApp, token: &str, apart: &[projections::View]) {
    for &view in Registry::standard().views() {
        if !apart.contains(&view) {
            assert!(
                view_reached(
                    &app.pool,
                    view,
                    token.parse().unwrap(),
                    Duration::from_secs(20)
                )
                .await,
                "the {} view catches up",
                view.name()
            );
        }
    }
}

/// Asserts that no process leads the views any more.
async fn views_stopped(app: &TestApp) {
    assert!(
        eventually(Duration::from_secs(10), || async {
            leaders(&app.pool).await.is_empty()
        })
        .await,
        "the views stopped"
    );
}

/// The one server process holding every view's leader lock.
async fn one_leader(pool: &PgPool) -> i32 {
    let by_key = leaders(pool).await;
    let leaders: Vec<i32> = Registry::standard()
        .views()
        .iter()
        .map(|view| by_key[&view.leader_key()])
        .collect();
    assert!(
        leaders.iter().all(|&pid| pid == leaders[0]),
        "one process leads every view: {leaders:?}"
    );
    leaders[0]
}

/// Stops the process `relay` and waits until it has let go of the relay's leader lock.
async fn relay_stopped(app: &TestApp, relay: TestApp) {
    drop(relay);
    assert!(
        eventually(Duration::from_secs(10), || async {
            !advisory_locks(&app.pool)
                .await
                .contains_key(&moim_nats::relay::LEADER_LOCK)
        })
        .await,
        "the relay stopped"
    );
}

/// The server processes holding the views' leader locks, by key.
async fn leaders(pool: &PgPool) -> HashMap<i64, i32> {
    let keys: Vec<i64> = Registry::standard()
        .views()
        .iter()
        .map(|view| view.leader_key())
        .collect();
    let mut held = advisory_locks(pool).await;
    held.retain(|key, _| keys.contains(key));
    held
}

/// The advisory locks held in the test's database: by key, the backend holding each.
async fn advisory_locks(pool: &PgPool) -> HashMap<i64, i32> {
    let held: Vec<(i64, i64, i32)> = sqlx::query_as(
        "SELECT classid::bigint, objid::bigint, pid FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 1
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    held.into_iter()
        .map(|(high, low, pid)| ((high << 32) | low, pid))
        .collect()
}
