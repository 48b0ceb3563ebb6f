//! How the domain says "no": every aggregate error names its kind and a stable code, so the API
//! can map all of them to HTTP in one place.

/// The class of a refusal, which decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule of the value itself (422).
    Invalid,
    /// The thing does not exist, or the caller may not know it exists (404).
    NotFound,
    /// The caller's credentials no longer count, e.g. a session that ended (401).
    Unauthorized,
    /// The caller is known but not allowed (403).
    Forbidden,
    /// The request conflicts with the current state (409).
    Conflict,
    /// The thing existed but is no longer usable, e.g. an expired invite (410).
    Gone,
}

/// Implemented by every domain error.
pub trait Rejection: std::error::Error + Send + Sync + 'static {
    /// The class of the refusal.
    fn kind(&self) -> ErrorKind;
    /// A stable machine-readable code such as `room_not_found`.
    fn code(&self) -> &'static str;
}

/// An error with every cause under it, `outer: cause: root cause`, for one log line.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}
