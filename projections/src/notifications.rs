//! The notifier: turns events into user-facing notifications, keeps them in a per-user feed, and
//! hands live pushes to its runner to publish on `moim.push.user.<id>` once the feed commits.
//!
//! What happens in a chat room (messages, edits, deletions, joins, leaves, renames, roles, read
//! pointers) is published once per room, not per member, and not kept in the feed: the room's
//! history, its read model and its events already hold it (a resuming socket replays them).
//! A message writes nothing here at all, so its runner pushes it without a transaction
//! ([`ReadModel::only_pushes`]), reading who blocks its sender in the statement that lets it go
//! ahead ([`ReadModel::push_read`]).
//!
//! Of what is kept for a user, `in_feed` says what is an entry of their notification feed:
//! each new entry is pushed twice, as its own frame and as `notification.created`. What the
//! user reads is their inbox's events, applied here too, so a rebuilt feed reads the same.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::board::{Comment, CommentEvent};
use domain::chat::ChatRoom;
use domain::couple::{Couple, CoupleEvent};
use domain::game::{Game, GameEvent};
use domain::inbox::{Inbox, InboxEvent};
use domain::plan::{Plan, PlanEvent};
use domain::user::{User, UserEvent};
use domain::{Aggregate, Metadata, Position};
use futures::future::BoxFuture;
use moim_nats::EventEnvelope;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::frames::{
    seq_of, AnniversaryNews, AnniversaryUpcoming, Audience, CommentNews, CoupleEnded,
    CoupleMatched, CoupleSettings, FeedEntry, FeedRead, Frame, GameCalledOff, GamePlace, GameSoon,
    PlanEntry, PlanNews, PlanReminder, PlanRemoved, RoomFrame, ScoreNews,
};
use crate::{ProjectionError, Push, PushRead, ReadModel, View};

/// The notifications view.
pub const VIEW: View = View::of(&Notifications);

struct Notifications;

impl ReadModel for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["notifications", "notifier_room_members", "notifier_blocks"]
    }

    fn apply_one<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a EventEnvelope,
        out: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move { apply_all(tx, std::slice::from_ref(&event), out).await })
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a EventEnvelope],
        out: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply_all(tx, events, out))
    }

    fn makes_pushes(&self) -> bool {
        true
    }

    fn only_pushes(&self, aggregate_type: &str, event_type: &str) -> bool {
        is_message_type(aggregate_type, event_type)
    }

    fn push_read<'a>(&self, events: &'a [&'a EventEnvelope]) -> Option<PushRead<'a>> {
        push_read(events)
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(&[
            ChatRoom::TYPE,
            User::TYPE,
            Couple::TYPE,
            Plan::TYPE,
            Comment::TYPE,
            Inbox::TYPE,
            Game::TYPE,
        ])
    }
}

/// Applies `events` in order. A run of messages changes no membership and no block, so what
/// it needs to know (who blocks its senders) is read once for the whole run.
async fn apply_all(
    tx: &mut PgConnection,
    events: &[&EventEnvelope],
    mut out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    let mut rest = events;
    while let Some(&first) = rest.first() {
        let run = rest.iter().take_while(|event| is_message(event)).count();
        if run == 0 {
            apply(tx, first, out.as_deref_mut()).await?;
            rest = &rest[1..];
            continue;
        }
        // Messages leave nothing here: when they are not pushed (a replay) they pass by unread.
        if let Some(out) = out.as_deref_mut() {
            push_messages(tx, &rest[..run], out).await?;
        }
        rest = &rest[run..];
    }
    Ok(())
}

fn is_message(event: &EventEnvelope) -> bool {
    is_message_type(&event.aggregate_type, &event.event_type)
}

fn is_message_type(aggregate_type: &str, event_type: &str) -> bool {
    aggregate_type == ChatRoom::TYPE && event_type == "MessageSent"
}

async fn apply(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    mut out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    if event.aggregate_type == ChatRoom::TYPE {
        on_chat(tx, event, out).await?;
    } else if event.aggregate_type == User::TYPE {
        match decode(event)? {
            UserEvent::UserCoupled(e) => {
                let frame = Frame::CoupleMatched(CoupleMatched {
                    notification_id: per_user_id(event, e.user_id),
                    couple_id: e.couple_id,
                    partner_id: e.partner_id,
                    since: e.since,
                });
                notify(tx, event, e.user_id, frame, out, None).await?;
            }
            UserEvent::UserBlocked(e) => {
                sqlx::query(
                    "INSERT INTO notifier_blocks (user_id, blocked_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                )
                .bind(e.user_id)
                .bind(e.blocked_id)
                .execute(&mut *tx)
                .await?;
            }
            UserEvent::UserUnblocked(e) => {
                sqlx::query("DELETE FROM notifier_blocks WHERE user_id = $1 AND blocked_id = $2")
                    .bind(e.user_id)
                    .bind(e.blocked_id)
                    .execute(&mut *tx)
                    .await?;
            }
            UserEvent::UserRegistered(_)
            | UserEvent::UserUncoupled(_)
            | UserEvent::ProfileUpdated(_)
            | UserEvent::SessionsEnded(_)
            | UserEvent::UserSuspended(_)
            | UserEvent::UserReinstated(_)
            | UserEvent::IdentityLinked(_)
            | UserEvent::IdentityUnlinked(_)
            | UserEvent::GameCharacterLinked(_)
            | UserEvent::GameCharacterUnlinked(_)
            | UserEvent::UserDeleted(_)
            | UserEvent::PlatformRoleChanged(_) => {}
        }
    } else if event.aggregate_type == Couple::TYPE {
        for (user_id, frame) in couple_news(event, decode(event)?) {
            notify(tx, event, user_id, frame, out.as_deref_mut(), None).await?;
        }
    } else if event.aggregate_type == Plan::TYPE {
        for (user_id, frame) in plan_news(event, decode(event)?) {
            notify(tx, event, user_id, frame, out.as_deref_mut(), None).await?;
        }
    } else if event.aggregate_type == Comment::TYPE {
        for (user_id, frame) in comment_news(event, decode(event)?) {
            notify(tx, event, user_id, frame, out.as_deref_mut(), None).await?;
        }
    } else if event.aggregate_type == Inbox::TYPE {
        on_inbox(tx, event, out).await?;
    } else if event.aggregate_type == Game::TYPE {
        let place = |game_id, user_id, position| GamePlace {
            notification_id: per_user_id(event, user_id),
            game_id,
            position,
        };
        let (user_id, frame) = match decode(event)? {
            GameEvent::GameCancelled(e) => {
                for user_id in e.told {
                    let frame = Frame::GameCancelled(GameCalledOff {
                        notification_id: per_user_id(event, user_id),
                        game_id: e.game_id,
                        reason: e.reason.clone(),
                    });
                    notify(tx, event, user_id, frame, out.as_deref_mut(), None).await?;
                }
                return Ok(());
            }
            GameEvent::GameReminded(e) => {
                for user_id in e.participants {
                    let frame = Frame::GameStarting(GameSoon {
                        notification_id: per_user_id(event, user_id),
                        game_id: e.game_id,
                        starts_at: e.starts_at,
                    });
                    notify(tx, event, user_id, frame, out.as_deref_mut(), None).await?;
                }
                return Ok(());
            }
            GameEvent::SetScored(e) => {
                if let Some(out) = out {
                    out.push(Push {
                        id: event.event_id,
                        to: Audience::Game { game_id: e.game_id },
                        frame: Frame::GameScore(ScoreNews {
                            game_id: e.game_id,
                            court: e.court,
                            set_no: e.set_no,
                            team_a: e.team_a,
                            team_b: e.team_b,
                            version: e.version,
                        }),
                        correlation_id: correlation_id(event),
                    });
                }
                return Ok(());
            }
            GameEvent::GameStarted(_) | GameEvent::GameCompleted(_) => return Ok(()),
            GameEvent::PlayerJoined(e) => (
                e.user_id,
                Frame::GameJoined(place(e.game_id, e.user_id, None)),
            ),
            GameEvent::PlayerWaitlisted(e) => (
                e.user_id,
                Frame::GameWaitlisted(place(e.game_id, e.user_id, Some(e.position))),
            ),
            GameEvent::PlayerPromoted(e) => (
                e.user_id,
                Frame::GamePromoted(place(e.game_id, e.user_id, None)),
            ),
            GameEvent::GameCreated(_) | GameEvent::PlayerLeft(_) => return Ok(()),
        };
        notify(tx, event, user_id, frame, out, None).await?;
    }
    Ok(())
}

/// Which of a user's kept frames are entries of their notification feed: the one table of
/// what fills it (the README copies it). The others are kept only so that a resuming socket
/// gets them: what the user did themselves (a game they joined) and chat, which has its unread
/// counts instead. Every frame is named, so a new one cannot slip in or out unnoticed.
fn in_feed(frame: &Frame) -> bool {
    match frame {
        Frame::CoupleMatched(_)
        | Frame::CoupleUpdated(_)
        | Frame::CoupleDissolved(_)
        | Frame::AnniversaryChanged(_)
        | Frame::AnniversaryUpcoming(_)
        | Frame::PlanCreated(_)
        | Frame::PlanUpdated(_)
        | Frame::PlanDeleted(_)
        | Frame::PlanReminder(_)
        | Frame::GamePromoted(_)
        | Frame::GameCancelled(_)
        | Frame::GameStarting(_)
        | Frame::CommentCreated(_)
        | Frame::CommentReplied(_)
        | Frame::CommentMentioned(_) => true,
        Frame::GameJoined(_)
        | Frame::GameWaitlisted(_)
        | Frame::GameScore(_)
        | Frame::GameWatching(_)
        | Frame::Ready(_)
        | Frame::RoomCreated(_)
        | Frame::MessageSent(_)
        | Frame::MessageEdited(_)
        | Frame::MessageDeleted(_)
        | Frame::MemberJoined(_)
        | Frame::MemberLeft(_)
        | Frame::RoomUpdated(_)
        | Frame::RoleChanged(_)
        | Frame::RoomRead(_)
        | Frame::RoomArchived(_)
        | Frame::LocationUpdated(_)
        | Frame::LocationStopped(_)
        | Frame::NotificationCreated(_)
        | Frame::NotificationRead(_)
        | Frame::SessionExpired(_)
        | Frame::SessionRevoked(_)
        | Frame::AccountSuspended(_)
        | Frame::Ack(_)
        | Frame::Error(_)
        | Frame::Pong
        | Frame::Typing(_)
        | Frame::Presence(_)
        | Frame::Resumed(_)
        | Frame::Lagged => false,
    }
}

/// Marks what the user read (on any device) and, live, tells their other devices with what is
/// left unread. Not kept: a device that was away asks for the count.
async fn on_inbox(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    let (user_id, read) = match decode(event)? {
        InboxEvent::NotificationRead(e) => {
            sqlx::query(
                "UPDATE notifications SET read_at = $3
                 WHERE user_id = $1 AND notification_id = $2 AND read_at IS NULL",
            )
            .bind(e.user_id)
            .bind(e.notification_id)
            .bind(e.read_at)
            .execute(&mut *tx)
            .await?;
            let read = FeedRead {
                notification_id: Some(e.notification_id),
                through: None,
                unread: 0,
            };
            (e.user_id, read)
        }
        InboxEvent::NotificationsReadThrough(e) => {
            sqlx::query(
                "UPDATE notifications SET read_at = $4
                 WHERE user_id = $1 AND in_feed AND read_at IS NULL AND (at_tx, at_pos) <= ($2, $3)",
            )
            .bind(e.user_id)
            .bind(e.through.tx_id)
            .bind(e.through.position)
            .bind(e.read_at)
            .execute(&mut *tx)
            .await?;
            let read = FeedRead {
                notification_id: None,
                through: Some(e.through.to_string()),
                unread: 0,
            };
            (e.user_id, read)
        }
    };
    if let Some(out) = out {
        out.push(Push {
            id: event.event_id,
            to: Audience::User {
                user_id,
                enters: None,
                cursor: None,
                watch: None,
            },
            frame: Frame::NotificationRead(FeedRead {
                unread: unread(&mut *tx, user_id).await?,
                ..read
            }),
            correlation_id: correlation_id(event),
        });
    }
    Ok(())
}

/// The partner who did not make a change.
fn other(partners: [Uuid; 2], by: Uuid) -> [Uuid; 1] {
    [if partners[0] == by {
        partners[1]
    } else {
        partners[0]
    }]
}

/// Who hears of a couple's event, and as what: a change goes to the partner who did not make
/// it, a reminder and the end to both.
fn couple_news(event: &EventEnvelope, couple: CoupleEvent) -> Vec<(Uuid, Frame)> {
    let id = |user_id| per_user_id(event, user_id);
    let (to, frame): (Vec<Uuid>, Box<dyn Fn(Uuid) -> Frame>) = match couple {
        CoupleEvent::CoupleFormed(_) => return Vec::new(),
        CoupleEvent::CoupleUpdated(e) => (
            other(e.partners, e.by).to_vec(),
            Box::new(move |user_id| {
                Frame::CoupleUpdated(CoupleSettings {
                    notification_id: id(user_id),
                    couple_id: e.couple_id,
                    started_on: e.started_on,
                    time_zone: e.time_zone.clone(),
                    by: e.by,
                })
            }),
        ),
        CoupleEvent::AnniversaryAdded(e) | CoupleEvent::AnniversaryChanged(e) => {
            let change = if event.event_type == "AnniversaryAdded" {
                "added"
            } else {
                "changed"
            };
            (
                other(e.partners, e.by).to_vec(),
                Box::new(move |user_id| {
                    Frame::AnniversaryChanged(AnniversaryNews {
                        notification_id: id(user_id),
                        anniversary_id: e.anniversary_id,
                        change: change.to_owned(),
                        title: Some(e.title.clone()),
                        date: Some(e.date),
                        repeats: Some(e.repeats),
                        by: e.by,
                    })
                }),
            )
        }
        CoupleEvent::AnniversaryRemoved(e) => (
            other(e.partners, e.by).to_vec(),
            Box::new(move |user_id| {
                Frame::AnniversaryChanged(AnniversaryNews {
                    notification_id: id(user_id),
                    anniversary_id: e.anniversary_id,
                    change: "removed".to_owned(),
                    title: None,
                    date: None,
                    repeats: None,
                    by: e.by,
                })
            }),
        ),
        CoupleEvent::AnniversaryReminded(e) => (
            e.partners.to_vec(),
            Box::new(move |user_id| {
                Frame::AnniversaryUpcoming(AnniversaryUpcoming {
                    notification_id: id(user_id),
                    title: e.title.clone(),
                    kind: e.kind,
                    date: e.date,
                    days_before: e.days_before,
                })
            }),
        ),
        CoupleEvent::CoupleDissolved(e) => (
            e.partners.to_vec(),
            Box::new(move |user_id| {
                Frame::CoupleDissolved(CoupleEnded {
                    notification_id: id(user_id),
                    couple_id: e.couple_id,
                    room_id: e.room_id,
                    by: e.by,
                })
            }),
        ),
    };
    to.into_iter()
        .map(|user_id| (user_id, frame(user_id)))
        .collect()
}

/// Who hears of a new comment: the parent comment's author (`comment.replied`), the post's
/// author (`comment.created`), and everyone it names (`comment.mentioned`) — each once, by the
/// nearest of these, and never the one who wrote it.
fn comment_news(event: &EventEnvelope, comment: CommentEvent) -> Vec<(Uuid, Frame)> {
    let CommentEvent::CommentCreated(e) = comment else {
        return Vec::new();
    };
    let news = |user_id| CommentNews {
        notification_id: per_user_id(event, user_id),
        post_id: e.post_id,
        comment_id: e.comment_id,
        parent_id: e.parent_id,
        author_id: e.author_id,
        excerpt: e.body.chars().take(100).collect(),
    };
    let parent = e
        .parent_author_id
        .map(|a| (a, Frame::CommentReplied as fn(_) -> _));
    let post = Some((e.post_author_id, Frame::CommentCreated as fn(_) -> _));
    let named = e
        .mentions
        .iter()
        .map(|&m| (m, Frame::CommentMentioned as fn(_) -> _));
    let mut told = vec![e.author_id];
    let mut out = Vec::new();
    for (user_id, frame) in parent.into_iter().chain(post).chain(named) {
        if !told.contains(&user_id) {
            told.push(user_id);
            out.push((user_id, frame(news(user_id))));
        }
    }
    out
}

/// Who hears of a plan's event: a change goes to the other partner, a reminder to both.
fn plan_news(event: &EventEnvelope, plan: PlanEvent) -> Vec<(Uuid, Frame)> {
    let id = |user_id| per_user_id(event, user_id);
    match plan {
        PlanEvent::PlanCreated(e) | PlanEvent::PlanUpdated(e) => {
            let created = event.event_type == "PlanCreated";
            let entry = PlanEntry::from(&e);
            other(e.partners, e.by)
                .into_iter()
                .map(|user_id| {
                    let news = PlanNews {
                        notification_id: id(user_id),
                        plan: entry.clone(),
                    };
                    let frame = if created {
                        Frame::PlanCreated(news)
                    } else {
                        Frame::PlanUpdated(news)
                    };
                    (user_id, frame)
                })
                .collect()
        }
        PlanEvent::PlanDeleted(e) => other(e.partners, e.by)
            .into_iter()
            .map(|user_id| {
                let removed = PlanRemoved {
                    notification_id: id(user_id),
                    plan_id: e.plan_id,
                    by: e.by,
                };
                (user_id, Frame::PlanDeleted(removed))
            })
            .collect(),
        PlanEvent::PlanReminded(e) => e
            .partners
            .into_iter()
            .map(|user_id| {
                let reminder = PlanReminder {
                    notification_id: id(user_id),
                    plan_id: e.plan_id,
                    title: e.title.clone(),
                    starts_at: e.starts_at,
                    place: e.place.clone(),
                };
                (user_id, Frame::PlanReminder(reminder))
            })
            .collect(),
    }
}

/// Keeps the notifier's copy of room membership, and, live, publishes what happens in a room
/// once on the room's subject (every API process with a member connected follows it), and to
/// the users it puts in the room on their own subjects (they follow it from then on).
async fn on_chat(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    mut out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    let room = RoomFrame::of_envelope(event)?;
    debug_assert!(
        room.sender.is_none(),
        "messages are pushed by push_messages or push_read"
    );
    if !room.entering.is_empty() {
        let joined = seq_of(room.seq.unwrap_or(0));
        add_members(tx, room.room_id, &room.entering, joined).await?;
    }
    if let Some(out) = out.as_deref_mut() {
        if !matches!(room.frame, Frame::RoomCreated(_)) {
            let except = room.not_to.into_iter().collect();
            out.push(room_push(event, &room, except));
        }
    }
    // Being put in a room is the user's own news: kept in their feed, so a resume replays it.
    for &user_id in &room.entering {
        let enters = Some((room.room_id, room.rev));
        notify(
            tx,
            event,
            user_id,
            room.frame.clone(),
            out.as_deref_mut(),
            enters,
        )
        .await?;
    }
    if let Some(leaver) = room.leaver {
        sqlx::query("DELETE FROM notifier_room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.room_id)
            .bind(leaver)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// A room event for its members but `except`.
fn room_push(event: &EventEnvelope, room: &RoomFrame, except: Vec<Uuid>) -> Push {
    Push {
        id: event.event_id,
        to: Audience::Room {
            room_id: room.room_id,
            rev: room.rev,
            except,
            seq: room.seq,
            leaver: room.leaver,
        },
        frame: room.frame.clone(),
        correlation_id: correlation_id(event),
    }
}

/// Who blocks a message's sender among its room's members: (room, sender, blocker) for each
/// (room, sender) pair of the two `uuid[]` parameters it is given the numbers of.
macro_rules! blockers_sql {
    ($rooms:literal, $senders:literal) => {
        concat!(
            "SELECT p.room_id, p.sender_id, b.user_id
             FROM (SELECT DISTINCT * FROM unnest(",
            $rooms,
            "::uuid[], ",
            $senders,
            "::uuid[]) AS p (room_id, sender_id)) p
             JOIN notifier_blocks b ON b.blocked_id = p.sender_id
             JOIN notifier_room_members m ON m.user_id = b.user_id AND m.room_id = p.room_id"
        )
    };
}

/// The messages of a batch the runner pushes without a transaction, with who blocks their
/// senders read in the statement that lets the batch go ahead.
fn push_read<'a>(events: &'a [&'a EventEnvelope]) -> Option<PushRead<'a>> {
    if !events.iter().all(|event| is_message(event)) {
        return None;
    }
    // A message that cannot be read goes the way of `apply`, which fails it as it should.
    let rooms = rooms_of(events).ok()?;
    let (room_ids, senders) = senders_of(&rooms);
    Some(PushRead {
        sql: concat!(
            "SELECT jsonb_agg(jsonb_build_array(room_id, sender_id, user_id)) FROM (",
            blockers_sql!("$10", "$11"),
            ") blockers"
        ),
        uuids: vec![room_ids, senders],
        then: Box::new(move |read, out| {
            let rows = match read {
                None => Vec::new(),
                Some(read) => serde_json::from_value(read).map_err(|error| {
                    // A poison error: the batch takes the full path, whose query is typed. Logged,
                    // because a lasting fault here would quietly cost every batch a round trip.
                    tracing::warn!(%error, "could not decode the senders' blockers; the batch takes the full path");
                    sqlx::Error::Decode(Box::new(error))
                })?,
            };
            push_rooms(events, &rooms, rows, out);
            Ok(())
        }),
    })
}

/// Pushes each message of a run to its room, but not to the members who block its sender.
async fn push_messages(
    tx: &mut PgConnection,
    events: &[&EventEnvelope],
    out: &mut Vec<Push>,
) -> Result<(), ProjectionError> {
    let rooms = rooms_of(events)?;
    let (room_ids, senders) = senders_of(&rooms);
    let rows = sqlx::query_as(blockers_sql!("$1", "$2"))
        .bind(room_ids)
        .bind(senders)
        .fetch_all(&mut *tx)
        .await?;
    push_rooms(events, &rooms, rows, out);
    Ok(())
}

/// The room frame of each of `events`.
fn rooms_of(events: &[&EventEnvelope]) -> Result<Vec<RoomFrame>, ProjectionError> {
    events
        .iter()
        .map(|event| RoomFrame::of_envelope(event))
        .collect()
}

/// The (room, sender) pairs of `rooms`' messages, as the two arrays [`blockers_sql`] reads.
fn senders_of(rooms: &[RoomFrame]) -> (Vec<Uuid>, Vec<Uuid>) {
    rooms
        .iter()
        .filter_map(|room| Some((room.room_id, room.sender?)))
        .unzip()
}

/// Pushes each message to its room, except to its sender's blockers among `blocking`'s
/// (room, sender, blocker) rows.
fn push_rooms(
    events: &[&EventEnvelope],
    rooms: &[RoomFrame],
    blocking: Vec<(Uuid, Uuid, Uuid)>,
    out: &mut Vec<Push>,
) {
    let mut blockers: HashMap<(Uuid, Uuid), Vec<Uuid>> = HashMap::new();
    for (room_id, sender, user_id) in blocking {
        blockers.entry((room_id, sender)).or_default().push(user_id);
    }
    for (event, room) in events.iter().zip(rooms) {
        let mut except: Vec<Uuid> = room.not_to.into_iter().collect();
        if let Some(sender) = room.sender {
            except.extend(blockers.get(&(room.room_id, sender)).into_iter().flatten());
        }
        out.push(room_push(event, room, except));
    }
}

/// Records members with the seq they joined at (0 for a room's first members); a returning
/// member starts from their new join.
async fn add_members(
    tx: &mut PgConnection,
    room_id: Uuid,
    user_ids: &[Uuid],
    joined_seq: i64,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO notifier_room_members (room_id, user_id, joined_seq)
         SELECT $1, unnest($2::uuid[]), $3
         ON CONFLICT (room_id, user_id) DO UPDATE SET joined_seq = EXCLUDED.joined_seq",
    )
    .bind(room_id)
    .bind(user_ids)
    .bind(joined_seq)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Keeps a feed entry (at the event's position, its cursor) and, live, pushes it; `enters` when
/// it puts the user in a room.
async fn notify(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    user_id: Uuid,
    frame: Frame,
    out: Option<&mut Vec<Push>>,
    enters: Option<(Uuid, i64)>,
) -> Result<(), ProjectionError> {
    let id = per_user_id(event, user_id);
    let wire = serde_json::to_value(&frame).map_err(ProjectionError::Encode)?;
    let in_feed = in_feed(&frame);
    sqlx::query(
        "INSERT INTO notifications
           (notification_id, user_id, kind, data, created_at, at_tx, at_pos, room_id, rev, in_feed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (notification_id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(frame.kind())
    .bind(&wire["data"])
    .bind(event.recorded_at)
    .bind(event.position.tx_id)
    .bind(event.position.position)
    .bind(enters.map(|e| e.0))
    .bind(enters.map(|e| e.1))
    .bind(in_feed)
    .execute(&mut *tx)
    .await?;
    if let Some(out) = out {
        let entry = in_feed.then(|| FeedEntry {
            notification_id: id,
            kind: frame.kind().to_owned(),
            data: wire["data"].clone(),
            created_at: event.recorded_at,
            read_at: None,
            cursor: event.position.to_string(),
        });
        out.push(Push {
            id,
            to: Audience::User {
                user_id,
                enters,
                cursor: Some(event.position),
                watch: match frame {
                    Frame::GameJoined(GamePlace { game_id, .. })
                    | Frame::GamePromoted(GamePlace { game_id, .. }) => Some(game_id),
                    _ => None,
                },
            },
            frame,
            correlation_id: correlation_id(event),
        });
        if let Some(entry) = entry {
            out.push(Push {
                id: created_push_id(id),
                to: Audience::User {
                    user_id,
                    enters: None,
                    cursor: None,
                    watch: None,
                },
                frame: Frame::NotificationCreated(entry),
                correlation_id: correlation_id(event),
            });
        }
    }
    Ok(())
}

/// The push id of the `notification.created` that follows an entry's own frame: its own, so
/// that neither is taken for a repeat of the other, and the same live and on a resume.
pub fn created_push_id(notification_id: Uuid) -> Uuid {
    Uuid::new_v5(&notification_id, b"notification.created")
}

/// The request an event came from, as its metadata records it.
fn correlation_id(event: &EventEnvelope) -> Option<String> {
    serde_json::from_value::<Metadata>(event.metadata.clone())
        .ok()
        .and_then(|m| m.correlation_id)
}

/// The id of what `event` means for `user_id`: the same on every redelivery and replay.
fn per_user_id(event: &EventEnvelope, user_id: Uuid) -> Uuid {
    let mut name = [0u8; 32];
    name[..16].copy_from_slice(event.event_id.as_bytes());
    name[16..].copy_from_slice(user_id.as_bytes());
    Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
}

/// A page of a user's feed, newest first: entries before `before` (a cursor from the page
/// above), only unread ones if asked.
pub async fn feed(
    pool: &PgPool,
    user_id: Uuid,
    unread_only: bool,
    before: Option<Position>,
    limit: i64,
) -> Result<Vec<FeedEntry>, ProjectionError> {
    let before = before.unwrap_or(Position {
        tx_id: i64::MAX,
        position: i64::MAX,
    });
    Ok(sqlx::query_as(
        "SELECT notification_id, kind, data, created_at, read_at, at_tx || '.' || at_pos AS cursor
         FROM notifications
         WHERE user_id = $1 AND in_feed AND (at_tx, at_pos) < ($2, $3)
           AND (NOT $4 OR read_at IS NULL)
         ORDER BY at_tx DESC, at_pos DESC LIMIT $5",
    )
    .bind(user_id)
    .bind(before.tx_id)
    .bind(before.position)
    .bind(unread_only)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How many of a user's feed entries are unread.
pub async fn unread(db: impl sqlx::PgExecutor<'_>, user_id: Uuid) -> Result<i64, ProjectionError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND in_feed AND read_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok(count)
}

/// Where one of a user's feed entries stands; none when it is not in their feed.
pub async fn entry_at(
    pool: &PgPool,
    user_id: Uuid,
    notification_id: Uuid,
) -> Result<Option<Position>, ProjectionError> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT at_tx, at_pos FROM notifications
         WHERE user_id = $1 AND notification_id = $2 AND in_feed",
    )
    .bind(user_id)
    .bind(notification_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(tx_id, position)| Position { tx_id, position }))
}

/// Where the newest entry of a user's feed stands; none when it is empty.
pub async fn newest(pool: &PgPool, user_id: Uuid) -> Result<Option<Position>, ProjectionError> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT at_tx, at_pos FROM notifications WHERE user_id = $1 AND in_feed
         ORDER BY at_tx DESC, at_pos DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(tx_id, position)| Position { tx_id, position }))
}

/// One of a user's own frames as kept, for a resuming socket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Kept {
    /// The frame's id.
    pub notification_id: Uuid,
    /// Its type.
    pub kind: String,
    /// Its data.
    pub data: Value,
    /// Its cursor's transaction.
    pub at_tx: i64,
    /// Its cursor's position in that transaction.
    pub at_pos: i64,
    /// The room it put the user in, and that room's change number.
    pub room_id: Option<Uuid>,
    /// See `room_id`.
    pub rev: Option<i64>,
    /// Whether it is a feed entry (a `notification.created` follows it).
    pub in_feed: bool,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// When the user read it.
    pub read_at: Option<DateTime<Utc>>,
}

/// The user's own frames after `after`, oldest first, at most `limit`.
pub async fn kept_after(
    pool: &PgPool,
    user_id: Uuid,
    after: domain::Position,
    limit: i64,
) -> Result<Vec<Kept>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT notification_id, kind, data, at_tx, at_pos, room_id, rev, in_feed, created_at,
                read_at
         FROM notifications
         WHERE user_id = $1 AND (at_tx, at_pos) > ($2, $3)
         ORDER BY at_tx, at_pos LIMIT $4",
    )
    .bind(user_id)
    .bind(after.tx_id)
    .bind(after.position)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use domain::chat::{ChatEvent, MessageSent, RoomRenamed};
    use serde_json::json;

    use super::*;

    fn envelope(event: &ChatEvent, event_type: &str) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::now_v7(),
            aggregate_type: ChatRoom::TYPE.into(),
            aggregate_id: Uuid::nil().to_string(),
            sequence: 1,
            event_type: event_type.into(),
            event_version: "1.0".into(),
            position: Position::default(),
            recorded_at: Utc::now(),
            payload: serde_json::value::to_raw_value(event).unwrap(),
            metadata: json!({}),
        }
    }

    fn sent(room_id: Uuid, seq: u64, sender_id: Uuid) -> EventEnvelope {
        let event = ChatEvent::MessageSent(MessageSent {
            message_id: Uuid::now_v7(),
            room_id,
            seq,
            sender_id,
            client_msg_id: Uuid::now_v7(),
            body: "hi".into(),
            sent_at: Utc.timestamp_opt(0, 0).unwrap(),
            recipients: 2,
            media_id: None,
        });
        envelope(&event, "MessageSent")
    }

    #[test]
    fn a_run_of_messages_reads_who_blocks_its_senders_with_the_question() {
        let (room, kim, lee, park) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let (first, second) = (sent(room, 1, kim), sent(room, 2, park));
        let events = [&first, &second];

        let read = push_read(&events).expect("messages are read with the question");

        assert_eq!(read.uuids, vec![vec![room, room], vec![kim, park]]);
        let mut out = Vec::new();
        (read.then)(Some(json!([[room, kim, lee]])), &mut out).unwrap();
        let excepted: Vec<Vec<Uuid>> = out
            .iter()
            .map(|push| match &push.to {
                Audience::Room { except, .. } => except.clone(),
                other => panic!("a room's frame, not {other:?}"),
            })
            .collect();
        assert_eq!(
            excepted,
            vec![vec![lee], vec![]],
            "Kim's skips Lee, Park's does not"
        );
    }

    #[test]
    fn nobody_blocking_reads_as_null() {
        let message = sent(Uuid::now_v7(), 1, Uuid::now_v7());
        let events = [&message];
        let read = push_read(&events).unwrap();
        let mut out = Vec::new();
        (read.then)(None, &mut out).unwrap();
        assert!(matches!(&out[0].to, Audience::Room { except, .. } if except.is_empty()));
    }

    #[test]
    fn a_batch_with_anything_but_messages_reads_on_its_own() {
        let room = Uuid::now_v7();
        let renamed = ChatEvent::RoomRenamed(RoomRenamed {
            room_id: room,
            seq: 2,
            name: "new".into(),
            by: Uuid::now_v7(),
            renamed_at: Utc.timestamp_opt(0, 0).unwrap(),
        });
        let (message, other) = (
            sent(room, 1, Uuid::now_v7()),
            envelope(&renamed, "RoomRenamed"),
        );
        let events = [&message, &other];
        assert!(push_read(&events).is_none());
    }
}
