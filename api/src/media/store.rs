//! Where the bytes of uploads live: a JetStream object-store bucket, so Moim still needs only
//! PostgreSQL and NATS, and the bytes are replicated as the streams are. Every upload's objects
//! get names of their own (see `MediaUploaded::object`): a removal deletes exactly the names its
//! event lists, never a later upload of the same bytes.

use async_nats::jetstream::object_store::{
    self, DeleteErrorKind, GetErrorKind, Object, ObjectStore,
};
use async_nats::jetstream::{self, stream::StorageType};
use moim_nats::Subjects;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("object store: {0}")]
pub struct StoreError(String);

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError(error.to_string())
}

/// The bucket of uploads. Cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    bucket: ObjectStore,
}

impl MediaStore {
    /// Opens the bucket, creating it when missing.
    pub async fn open(js: &jetstream::Context, subjects: &Subjects) -> Result<Self, StoreError> {
        let name = subjects.media_bucket();
        let bucket = match js.get_object_store(&name).await {
            Ok(bucket) => bucket,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: name,
                    description: Some("Moim's uploaded photos and their thumbnails".into()),
                    storage: StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(failed)?,
        };
        Ok(Self { bucket })
    }

    /// Stores `bytes` under `name`.
    pub async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut reader = bytes;
        self.bucket
            .put(name, &mut reader)
            .await
            .map(|_| ())
            .map_err(failed)
    }

    /// The object `name`, to read from; `None` when it is not there.
    pub async fn get(&self, name: &str) -> Result<Option<Object>, StoreError> {
        match self.bucket.get(name).await {
            Ok(object) => Ok(Some(object)),
            Err(e) if e.kind() == GetErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    /// Deletes the objects; one already gone is no error (a retried removal).
    pub async fn delete(&self, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            match self.bucket.delete(name).await {
                Ok(()) => {}
                Err(e) if e.kind() == DeleteErrorKind::NotFound => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(())
    }
}
