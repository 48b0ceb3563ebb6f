//! Moim's HTTP command/query API and WebSocket, and the start-up that wires every part together.
//!
//! `startup` builds an [`Application`](startup::Application) that runs any mix of the roles
//! (api, relay, projections) in one process; `main.rs` parses the command line and runs the chosen subcommand.

pub mod asyncapi;
pub mod auth;
pub mod client_frames;
pub mod config;
pub mod connectors;
pub mod edge;
pub mod error;
pub mod extract;
pub mod health_details;
pub mod hub;
pub mod limits;
pub mod live;
pub mod media;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod postgres;
pub mod presence;
pub mod request_id;
pub mod restore_check;
pub mod revocations;
pub mod routes;
pub mod scheduler;
pub mod security;
pub mod server;
pub mod startup;
pub mod state;
pub mod telemetry;
