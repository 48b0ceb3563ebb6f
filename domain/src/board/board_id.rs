//! Which board a post is on, as clients name it: `community` or `club-<club id>`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::InvalidValue;

/// A board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BoardId {
    /// The board every signed-in user reads and writes.
    Community,
    /// A club's own board, for its members.
    Club(Uuid),
}

impl BoardId {
    /// Parses `community` or `club-<uuid>`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw == "community" {
            return Ok(Self::Community);
        }
        raw.strip_prefix("club-")
            .and_then(|id| id.parse().ok())
            .map(Self::Club)
            .ok_or_else(|| InvalidValue {
                field: "board",
                reason: "must be `community` or `club-<club id>`".into(),
            })
    }

    /// The club whose board it is.
    pub fn club_id(self) -> Option<Uuid> {
        match self {
            Self::Community => None,
            Self::Club(id) => Some(id),
        }
    }
}

impl std::fmt::Display for BoardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Community => f.write_str("community"),
            Self::Club(id) => write!(f, "club-{id}"),
        }
    }
}

impl TryFrom<String> for BoardId {
    type Error = InvalidValue;

    fn try_from(raw: String) -> Result<Self, InvalidValue> {
        Self::parse(&raw)
    }
}

impl From<BoardId> for String {
    fn from(board: BoardId) -> String {
        board.to_string()
    }
}

/// On the wire a board is its name.
impl utoipa::PartialSchema for BoardId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some("^(community|club-[0-9a-fA-F-]{32,36})$"))
            .description(Some("`community`, or `club-<club id>`"))
            .into()
    }
}

impl utoipa::ToSchema for BoardId {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("BoardId")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_are_named_community_or_club_dash_id() {
        assert_eq!(BoardId::parse("community"), Ok(BoardId::Community));
        let id = Uuid::from_u128(5);
        assert_eq!(BoardId::parse(&format!("club-{id}")), Ok(BoardId::Club(id)));
        assert_eq!(BoardId::Club(id).to_string(), format!("club-{id}"));
        for bad in ["", "club-", "club-x", "clubs", "Community"] {
            assert!(BoardId::parse(bad).is_err(), "{bad}");
        }
    }
}
