//! Connectors: how Moim takes in what outside services know — a game's characters, a club's
//! Naver Band — without letting those services' slowness, failures or rate limits reach its
//! own guarantees (docs/connectors.md).
//!
//! The pattern every connector follows:
//! - an outside call is never made inside a command's transaction: the connector calls first,
//!   then what it learned enters Moim as a command, whose events are facts like any other;
//! - every call goes through an [`upstream::Upstream`]: a timeout, a bounded answer, and a gate
//!   that keeps calls away while the service asked us to wait (`429 Retry-After`) or is failing
//!   (exponential backoff with jitter);
//! - what an outside service answers but Moim does not own (a character's level today) is a
//!   cache with an age, served stale rather than not at all;
//! - long work (an import) is a job whose progress is saved after each page and whose commands
//!   carry ids derived from the outside service's own, so a crash repeats a page harmlessly.

pub mod band;
pub mod band_import;
pub mod characters;
pub mod error;
pub mod maplestory;
pub mod upstream;

pub use error::ConnectorError;
