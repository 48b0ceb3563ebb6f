//! Where a list that clients read both ways starts: after a cursor (infinite lists), or at an
//! offset (numbered pages, with a total). One type, so every such list takes both the same way.

use uuid::Uuid;

/// Where a list answer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// After this row (the last of the previous answer); from the top without one.
    After(Option<Uuid>),
    /// Skipping this many rows.
    Offset(i64),
}

impl Window {
    /// The cursor and the offset a query binds: one of them is always inert.
    pub fn bounds(self) -> (Option<Uuid>, i64) {
        match self {
            Self::After(after) => (after, 0),
            Self::Offset(offset) => (None, offset),
        }
    }
}
