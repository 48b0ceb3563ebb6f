//! What can be asked of a [`Media`](crate::media::Media).

use uuid::Uuid;

use crate::media::{MediaUploaded, MediaUse};

/// Commands on a [`Media`](crate::media::Media).
#[derive(Debug, Clone)]
pub enum MediaCommand {
    /// Records an upload whose bytes are already stored (`uploaded_at` is set by the aggregate).
    /// Uploading the same bytes again while the first upload lives records nothing.
    Upload(MediaUploaded),
    /// Its owner uses it somewhere.
    Attach {
        /// Who asks; only the owner may use an upload.
        by: Uuid,
        /// Where.
        to: MediaUse,
    },
    /// A use ended (its message or post was deleted, another avatar was chosen); the last use
    /// ending removes the media.
    Detach {
        /// Which use.
        from: MediaUse,
    },
    /// Removes the upload if it was never used within [`Media::UNUSED_FOR`](crate::media::Media::UNUSED_FOR).
    Expire,
}
