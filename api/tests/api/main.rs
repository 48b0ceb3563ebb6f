//! Integration tests: the real `moim` application against real PostgreSQL and NATS JetStream,
//! each test with its own database, stream, consumers and port.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test that cannot go on should fail loudly at that line"
)]

mod abuse;
mod account_deletion;
mod asyncapi;
mod auth;
mod authorization;
mod backup;
mod band;
mod causes;
mod chat;
mod chat_rooms;
mod clubs;
mod connections;
mod consumers;
mod couple_life;
mod couples;
mod errors;
mod fakes;
mod games;
mod group_commit;
mod health;
mod helpers;
mod maplestory;
mod media;
mod metadata;
mod metrics;
mod notifications;
mod oauth;
mod openapi;
mod rate_limits;
mod realtime;
mod registry;
mod relay;
mod replay;
mod scaling;
mod sessions;
mod socketio;
mod traces;
mod upcasting;
