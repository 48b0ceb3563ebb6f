//! Where an event stands in the global order, and the consistency token built from it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The global position of an event: the id of the transaction that wrote it, then its position
/// within that transaction. Ordered lexicographically, which is the order the relay publishes in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Position {
    /// PostgreSQL's 64-bit transaction id (`xid8`) of the writing transaction.
    pub tx_id: i64,
    /// The event's identity value, which orders events within a transaction.
    pub position: i64,
}

impl Position {
    /// Before every event.
    pub const START: Self = Self {
        tx_id: 0,
        position: 0,
    };
}

/// Rendered as `<tx_id>.<position>`; this is also the consistency token clients send back.
impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.tx_id, self.position)
    }
}

/// A token that is not `<tx_id>.<position>` with two non-negative integers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("consistency token must look like 1234.5678")]
pub struct BadToken;

impl FromStr for Position {
    type Err = BadToken;

    fn from_str(s: &str) -> Result<Self, BadToken> {
        let (tx, pos) = s.trim().split_once('.').ok_or(BadToken)?;
        let tx_id: i64 = tx.parse().map_err(|_| BadToken)?;
        let position: i64 = pos.parse().map_err(|_| BadToken)?;
        if tx_id < 0 || position < 0 {
            return Err(BadToken);
        }
        Ok(Self { tx_id, position })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_order() {
        let a = Position {
            tx_id: 800,
            position: 12,
        };
        assert_eq!(a.to_string().parse(), Ok(a));
        assert!(
            Position {
                tx_id: 799,
                position: 99
            } < a
        );
        assert!(
            Position {
                tx_id: 800,
                position: 13
            } > a
        );
        for bad in ["", "12", "a.b", "1.-2", "1.2.3"] {
            assert_eq!(bad.parse::<Position>(), Err(BadToken), "{bad}");
        }
    }
}
