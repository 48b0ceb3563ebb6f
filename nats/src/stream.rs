//! The JetStream stream of events.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::subjects::Subjects;

/// Creates the events stream if it is missing (or updates its config), and returns it.
///
/// File storage, nothing ever expires (PostgreSQL keeps the events too, and a read model can be
/// rebuilt from either), and a two-minute de-duplication window on `Nats-Msg-Id`.
pub async fn ensure(
    js: &jetstream::Context,
    subjects: &Subjects,
) -> Result<stream::Stream, async_nats::Error> {
    let config = stream::Config {
        name: subjects.stream_name(),
        subjects: vec![subjects.all_events()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: Duration::from_secs(120),
        allow_direct: true,
        ..Default::default()
    };
    js.create_or_update_stream(config).await?;
    Ok(js.get_stream(subjects.stream_name()).await?)
}
