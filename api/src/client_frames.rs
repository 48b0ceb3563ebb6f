//! Answering a client frame (`message.send`, `room.read`, `typing`, `location.update`,
//! `location.stop`, `resume`, `auth`, `ping`):
//! the same on a WebSocket, where the answer is a frame with the client frame's id, and over
//! Socket.IO, where it is the event's acknowledgement.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use commands::rates::Counted;
use commands::Commands;
use projections::frames::{seq_of, Ack, ClientFrame, Frame, MessageSend, ReadPointer};
use uuid::Uuid;

use crate::auth::Access;
use crate::error::ApiError;
use crate::live::{Broken, Live, Wire};
use crate::security::ClientIp;
use crate::state::AppState;

/// The most rooms one `resume` may name (each costs a load of the room and a read of the store).
pub const MAX_RESUME_ROOMS: usize = 1000;

/// What answering one client frame needs.
pub struct Turn<'a> {
    /// The shared state.
    pub state: &'a AppState,
    /// Commands acting for the socket's user.
    pub commands: &'a Commands,
    /// The socket's user.
    pub user_id: Uuid,
    /// The address the socket was opened from (named in the security log if a limit refuses).
    pub ip: ClientIp,
    /// The socket's token (an `auth` frame replaces it).
    pub access: &'a mut Access,
}

impl Turn<'_> {
    /// Answers one client frame: the reply, and whether it renewed the socket's token.
    pub async fn answer<W: Wire>(
        &mut self,
        live: &mut Live,
        wire: &mut W,
        frame: ClientFrame,
    ) -> Result<(Frame, bool), Broken> {
        let mut renewed = false;
        let answer = match frame {
            ClientFrame::Ping => Ok(Frame::Pong),
            ClientFrame::Auth(auth) => self.renew(&auth.access_token).map(|until| {
                renewed = true;
                Frame::Ack(Ack::Renewed { expires_at: until })
            }),
            ClientFrame::MessageSend(send) => self.send_message(send).await,
            ClientFrame::Typing(typing) => live
                .typing(typing.room_id, typing.typing)
                .await
                .map(|()| Frame::Ack(Ack::Done {})),
            ClientFrame::LocationUpdate(at) => {
                live.location(at).await.map(|()| Frame::Ack(Ack::Done {}))
            }
            ClientFrame::LocationStop => live
                .stop_location()
                .await
                .map(|()| Frame::Ack(Ack::Done {})),
            ClientFrame::RoomRead(read) => self.mark_read(read.room_id, read.seq).await,
            ClientFrame::Resume(resume) if resume.rooms.len() > MAX_RESUME_ROOMS => {
                Err(ApiError::invalid(
                    "too_many_rooms",
                    format!("resume names at most {MAX_RESUME_ROOMS} rooms"),
                ))
            }
            ClientFrame::Resume(resume) => {
                match resume.after.as_deref().map(str::parse).transpose() {
                    Ok(after) => Ok(Frame::Resumed(
                        live.resume(wire, after, &resume.rooms).await?,
                    )),
                    Err(_) => Err(ApiError::bad_request(
                        "bad_cursor",
                        "after is the cursor of a frame, like 1234.5",
                    )),
                }
            }
        };
        let frame = answer.unwrap_or_else(|error| Frame::Error(error.problem()));
        Ok((frame, renewed))
    }

    /// A fresh token for this socket: its expiry.
    fn renew(&mut self, token: &str) -> Result<DateTime<Utc>, ApiError> {
        let access = self.state.authenticate(token)?;
        let until = access.expires_at;
        // The token check allows clock skew; a token already past its expiry renews nothing.
        if until <= Utc::now() {
            return Err(ApiError::unauthorized(
                "token_expired",
                "the token has expired",
            ));
        }
        if access.user_id != self.user_id {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_user",
                "the token belongs to another user",
            ));
        }
        *self.access = access;
        Ok(until)
    }

    async fn send_message(&self, send: MessageSend) -> Result<Frame, ApiError> {
        let content =
            crate::routes::chat::content(send.kind.as_deref(), &send.body, send.media_id)?;
        self.count_command().await?;
        let sent = self
            .commands
            .send_message(send.room_id, self.user_id, send.client_msg_id, content)
            .await?;
        Ok(Frame::Ack(Ack::Message(sent.message.into())))
    }

    async fn mark_read(&self, room_id: Uuid, seq: u64) -> Result<Frame, ApiError> {
        self.count_command().await?;
        let (seq, _) = self.commands.mark_read(room_id, self.user_id, seq).await?;
        Ok(Frame::Ack(Ack::Read(ReadPointer {
            room_id,
            user_id: self.user_id,
            seq: seq_of(seq),
        })))
    }

    /// Counts a write against the user's command rate, as every write over HTTP is.
    async fn count_command(&self) -> Result<(), ApiError> {
        let user_id = self.user_id;
        self.state
            .limit(
                Counted::Command(user_id),
                self.ip,
                Some(user_id),
                "commands",
            )
            .await
    }
}
