//! Community boards: posts in categories, pinned notices, likes, and comments nested to any
//! depth. There is one board for every signed-in user (`community`) and one per club.

mod board_id;
mod comment;
mod comment_events;
mod post;
mod post_events;

pub use board_id::BoardId;
pub use comment::{Comment, CommentCommand, CommentError};
pub use comment_events::{CommentCreated, CommentDeleted, CommentEdited, CommentEvent};
pub use post::{Post, PostCommand, PostError, PostPatch};
pub use post_events::{PostCreated, PostDeleted, PostEdited, PostEvent, PostLike, PostPinned};
