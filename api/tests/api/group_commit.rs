//! Group commit: appends made at the same moment share a statement and a commit, and each one
//! still gets its own outcome. The judges are a stale append and a repeated one in the middle of
//! a crowd: only they fail, and nothing of theirs is left behind.

use std::time::Duration;

use commands::store::{AppendError, EventStore, Loaded, Rows};
use commands::SystemServices;
use domain::chat::{ChatCommand, ChatRoom, MessageContent, RoomKind};
use domain::values::{MessageBody, RoomName};
use domain::{Metadata, Position};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::helpers::spawn_app;

fn create(room: &Loaded<ChatRoom>, creator: Uuid) -> Rows {
    let command = ChatCommand::CreateRoom {
        room_id: room.id.parse().unwrap(),
        name: RoomName::parse("crowd").unwrap(),
        kind: RoomKind::Group,
        creator_id: creator,
        member_ids: vec![creator],
    };
    room.decide(command, &SystemServices)
        .unwrap()
        .rows(&Metadata::default())
        .unwrap()
}

fn say(room: &Loaded<ChatRoom>, sender: Uuid, client_msg_id: Uuid) -> Rows {
    let command = ChatCommand::SendMessage {
        sender_id: sender,
        client_msg_id,
        content: MessageContent::Text(MessageBody::parse("hello").unwrap()),
    };
    room.decide(command, &SystemServices)
        .unwrap()
        .rows(&Metadata::default())
        .unwrap()
}

/// A new room `creator` made, and its state once made.
async fn a_room(store: &EventStore, creator: Uuid) -> (String, Loaded<ChatRoom>) {
    let id = Uuid::now_v7().to_string();
    let empty = store.load::<ChatRoom>(&id).await.unwrap();
    store
        .append_all(vec![create(&empty, creator)])
        .await
        .unwrap();
    let created = store.load::<ChatRoom>(&id).await.unwrap();
    (id, created)
}

async fn events_of(store: &EventStore, room: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
        .bind(room)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_or_repeated_append_fails_alone_in_its_group() {
    let app = spawn_app().await;
    let store = EventStore::new(app.pool.clone());
    let user = Uuid::now_v7();

    // A room with one message, and that state as it was before the message (stale).
    let (busy, before) = a_room(&store, user).await;
    let first_msg = Uuid::now_v7();
    store
        .append_all(vec![say(&before, user, first_msg)])
        .await
        .unwrap();

    // A crowd of new rooms, each created by its own append, all at once; among them a message
    // decided on the stale state (a conflict), the first message again (a duplicate), and an
    // append of a new room together with a stale message (it must leave its new room unwritten).
    for round in 0..5 {
        let now = store.load::<ChatRoom>(&busy).await.unwrap();
        let mut appends = Vec::new();
        let mut fresh = Vec::new();
        for _ in 0..40 {
            let id = Uuid::now_v7().to_string();
            let room = store.load::<ChatRoom>(&id).await.unwrap();
            appends.push(vec![create(&room, user)]);
            fresh.push(id);
        }
        let stale = appends.len();
        appends.push(vec![say(&before, user, Uuid::now_v7())]);
        let repeated = appends.len();
        appends.push(vec![say(&now, user, first_msg)]);
        // The same new message twice (a send retried at once): one is written, one is a duplicate.
        let twin = Uuid::now_v7();
        let twins = [appends.len(), appends.len() + 1];
        appends.push(vec![say(&now, user, twin)]);
        appends.push(vec![say(&now, user, twin)]);
        let torn = appends.len();
        let lonely = Uuid::now_v7().to_string();
        let lonely_room = store.load::<ChatRoom>(&lonely).await.unwrap();
        appends.push(vec![
            create(&lonely_room, user),
            say(&before, user, Uuid::now_v7()),
        ]);

        let outcomes: Vec<Result<Position, AppendError>> =
            futures::future::join_all(appends.into_iter().map(|rows| {
                let store = store.clone();
                tokio::spawn(async move { store.append_all(rows).await })
            }))
            .await
            .into_iter()
            .map(|joined| joined.unwrap())
            .collect();

        for (n, outcome) in outcomes.iter().enumerate() {
            match n {
                n if n == stale || n == torn => assert!(
                    matches!(outcome, Err(AppendError::Conflict)),
                    "round {round}: append {n} should conflict, got {outcome:?}"
                ),
                n if twins.contains(&n) => {}
                n if n == repeated => assert!(
                    matches!(outcome, Err(AppendError::Duplicate)),
                    "round {round}: the repeated message should be a duplicate, got {outcome:?}"
                ),
                n => assert!(outcome.is_ok(), "round {round}: append {n}: {outcome:?}"),
            }
        }
        let twin_outcomes: Vec<_> = twins.iter().map(|&n| &outcomes[n]).collect();
        assert!(
            matches!(
                twin_outcomes.as_slice(),
                [Ok(_), Err(AppendError::Duplicate)] | [Err(AppendError::Duplicate), Ok(_)]
            ),
            "round {round}: the twins got {twin_outcomes:?}"
        );
        // Each append's answer is where its own row is.
        for (n, id) in fresh.iter().enumerate() {
            assert_eq!(events_of(&store, id).await, 1, "round {round}: room {id}");
            let (tx_id, position): (i64, i64) = sqlx::query_as(
                "SELECT tx_id::text::bigint, position FROM events WHERE aggregate_id = $1",
            )
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
            let answered = outcomes[n].as_ref().unwrap();
            assert_eq!(
                (answered.tx_id, answered.position),
                (tx_id, position),
                "round {round}: room {id}"
            );
        }
        assert_eq!(
            events_of(&store, &lonely).await,
            0,
            "round {round}: the torn append left its new room behind"
        );
        assert_eq!(
            events_of(&store, &busy).await,
            3 + round,
            "round {round}: the busy room has its messages and one twin per round"
        );
        // The crowd shared commits: fewer transactions than appends.
        let transactions: std::collections::HashSet<i64> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok().map(|p| p.tx_id))
            .collect();
        assert!(
            transactions.len() < fresh.len(),
            "round {round}: {} appends in {} transactions",
            fresh.len(),
            transactions.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_retried_after_its_first_try_was_written_is_a_duplicate_alone_as_in_a_group() {
    let app = spawn_app().await;
    let store = EventStore::new(app.pool.clone());
    let user = Uuid::now_v7();
    let (room, created) = a_room(&store, user).await;

    // Both tries decided on the same state, as a retry sent at once is; each goes alone.
    let message = Uuid::now_v7();
    store
        .append_all(vec![say(&created, user, message)])
        .await
        .unwrap();
    let again = store.append_all(vec![say(&created, user, message)]).await;
    assert!(
        matches!(again, Err(AppendError::Duplicate)),
        "the second try is a duplicate, not a stale sequence: {again:?}"
    );
    // A different message decided on that state is stale.
    let stale = store
        .append_all(vec![say(&created, user, Uuid::now_v7())])
        .await;
    assert!(matches!(stale, Err(AppendError::Conflict)), "{stale:?}");
    assert_eq!(events_of(&store, &room).await, 2);
}

/// A group that gets no connection from the pool fails as a whole, at once: written one by one,
/// each of its appends would wait the pool's whole timeout again, and, with one writer, every
/// append behind them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_that_gets_no_connection_fails_as_a_whole_and_the_next_is_written() {
    let app = spawn_app().await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with((*app.pool.connect_options()).clone())
        .await
        .unwrap();
    let store = EventStore::new(pool.clone());
    let user = Uuid::now_v7();
    let ids: Vec<String> = (0..5).map(|_| Uuid::now_v7().to_string()).collect();
    let mut rooms = Vec::new();
    for id in &ids {
        let empty = store.load::<ChatRoom>(id).await.unwrap();
        rooms.push(create(&empty, user));
    }
    let last = rooms.pop().unwrap();

    // The pool's one connection is taken: the first append goes alone (or, should the others
    // come before it starts, in their group) and waits for it, and the three that come meanwhile
    // queue into one group behind it.
    let held = pool.acquire().await.unwrap();
    let mut appends = rooms.into_iter().map(|rows| {
        let store = store.clone();
        tokio::spawn(async move { store.append_all(vec![rows]).await })
    });
    let alone = appends.next().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let grouped: Vec<_> = appends.collect();
    let alone = alone.await.unwrap();
    assert!(
        matches!(alone, Err(AppendError::Database(_) | AppendError::Group(_))),
        "{alone:?}"
    );
    for outcome in futures::future::join_all(grouped).await {
        let outcome = outcome.unwrap();
        assert!(matches!(outcome, Err(AppendError::Group(_))), "{outcome:?}");
    }

    drop(held);
    store.append_all(vec![last]).await.unwrap();
    let written: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = ANY($1)")
            .bind(&ids)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        written, 1,
        "only the room appended once the connection was back"
    );
}
