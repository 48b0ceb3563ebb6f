//! Moim on NATS: the JetStream stream of events, the subject names, the event envelope, and the
//! relay that moves committed events from PostgreSQL into JetStream exactly once, in order.

pub mod envelope;
pub mod relay;
pub mod stream;
pub mod subjects;
pub mod trace;

pub use envelope::EventEnvelope;
pub use relay::Relay;
pub use subjects::Subjects;
