//! Social logins: signing in (or up) as a provider's subject, linking and unlinking providers,
//! and the web flow's single-use `state`.
//!
//! Which Moim user a `(provider, subject)` is lives beside the event stream (`identities`), as
//! e-mails do in `credentials`: written in the same transaction as the `IdentityLinked` event, its
//! primary key makes one subject one user even when two first sign-ins race.

use domain::user::{User, UserCommand, UserError};
use domain::values::DisplayName;
use domain::{Aggregate, ErrorKind, Position};
use uuid::Uuid;

use crate::store::{retry_conflicts, EventStore};
use crate::{CommandError, Commands};

/// How long a web flow's `state` waits for its callback.
const STATE_MINUTES: i32 = 10;

/// What a social sign-in found.
#[derive(Debug, Clone, Copy)]
pub struct SignedIn {
    /// Who.
    pub user_id: Uuid,
    /// Whether the account was made just now.
    pub created: bool,
}

/// A web flow waiting for its callback.
#[derive(Debug, Clone)]
pub struct PendingFlow {
    /// The provider it was started for.
    pub provider: String,
    /// Where the provider sent the user back.
    pub redirect_uri: String,
    /// The PKCE verifier of the challenge sent.
    pub pkce_verifier: String,
}

/// Records that `provider`'s `subject` is `user_id`; false when it is someone already.
async fn claim(
    tx: &mut sqlx::PgConnection,
    provider: &str,
    subject: &str,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO identities (provider, subject, user_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(provider)
    .bind(subject)
    .bind(user_id)
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

fn taken() -> CommandError {
    CommandError::Rejected {
        kind: ErrorKind::Conflict,
        code: "identity_taken",
        message: "this login belongs to another account".into(),
    }
}

impl Commands {
    /// The Moim user a provider's subject is linked to, if any.
    pub async fn user_of_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Uuid>, CommandError> {
        let row: Option<(Uuid,)> =
            sqlx::query_as("SELECT user_id FROM identities WHERE provider = $1 AND subject = $2")
                .bind(provider)
                .bind(subject)
                .fetch_optional(self.store.pool())
                .await?;
        Ok(row.map(|(id,)| id))
    }

    /// The user `provider` knows as `subject`, registering them (as `display_name`) the first
    /// time.
    #[tracing::instrument(skip(self, display_name))]
    pub async fn social_sign_in(
        &self,
        provider: &str,
        subject: &str,
        display_name: DisplayName,
    ) -> Result<SignedIn, CommandError> {
        if let Some(user_id) = self.user_of_identity(provider, subject).await? {
            return Ok(SignedIn {
                user_id,
                created: false,
            });
        }
        let user_id = self.services.new_id();
        let loaded = self.store.load::<User>(&user_id.to_string()).await?;
        let register = UserCommand::RegisterWithIdentity {
            user_id,
            display_name,
            provider: provider.to_owned(),
            subject: subject.to_owned(),
        };
        let change = loaded.decide(register, self.services.as_ref())?;
        let mut tx = self.store.pool().begin().await?;
        if !claim(&mut tx, provider, subject, user_id).await? {
            // A first sign-in raced this one and won: it is their account.
            drop(tx);
            let user_id = self
                .user_of_identity(provider, subject)
                .await?
                .ok_or_else(taken)?;
            return Ok(SignedIn {
                user_id,
                created: false,
            });
        }
        let meta = domain::Metadata {
            actor: Some(user_id),
            ..self.meta.clone()
        };
        EventStore::append(&mut tx, &[change.rows(&meta)?]).await?;
        tx.commit().await?;
        Ok(SignedIn {
            user_id,
            created: true,
        })
    }

    /// Links `provider`'s `subject` to `user_id` (a subject already someone else's is
    /// `409 identity_taken`).
    #[tracing::instrument(skip(self))]
    pub async fn link_identity(
        &self,
        user_id: Uuid,
        provider: &str,
        subject: &str,
    ) -> Result<Position, CommandError> {
        let link = UserCommand::LinkIdentity {
            provider: provider.to_owned(),
            subject: subject.to_owned(),
        };
        self.on_identities(user_id, link).await
    }

    /// Unlinks `provider` from `user_id` (never their last way to sign in).
    #[tracing::instrument(skip(self))]
    pub async fn unlink_identity(
        &self,
        user_id: Uuid,
        provider: &str,
    ) -> Result<Position, CommandError> {
        let unlink = UserCommand::UnlinkIdentity {
            provider: provider.to_owned(),
        };
        self.on_identities(user_id, unlink).await
    }

    /// Runs a link or unlink on the user, and writes `identities` to match in the same
    /// transaction when it records anything.
    async fn on_identities(
        &self,
        user_id: Uuid,
        command: UserCommand,
    ) -> Result<Position, CommandError> {
        let key = (User::TYPE, user_id.to_string());
        let _held = self.locks.lock(vec![key.clone()]).await;
        let done = retry_conflicts(User::TYPE, || async {
            let loaded = self.store.load::<User>(&key.1).await?;
            if !loaded.aggregate.exists() {
                return Err(CommandError::rejected(UserError::NotFound));
            }
            let change = loaded.decide(command.clone(), self.services.as_ref())?;
            if change.events.is_empty() {
                let (_, position) = self.store.latest(User::TYPE, &key.1).await?;
                return Ok(position);
            }
            let mut tx = self.store.pool().begin().await?;
            match &command {
                UserCommand::LinkIdentity { provider, subject }
                    if !claim(&mut tx, provider, subject, user_id).await? =>
                {
                    return Err(taken());
                }
                UserCommand::UnlinkIdentity { provider } => {
                    sqlx::query("DELETE FROM identities WHERE user_id = $1 AND provider = $2")
                        .bind(user_id)
                        .bind(provider)
                        .execute(&mut *tx)
                        .await?;
                }
                _ => {}
            }
            let position = EventStore::append(&mut tx, &[change.rows(&self.meta)?]).await?;
            tx.commit().await?;
            Ok(position)
        })
        .await;
        self.cache.remove(&key);
        done
    }

    /// Keeps a web flow's `state` until its callback.
    pub async fn save_oauth_state(
        &self,
        state: &str,
        flow: &PendingFlow,
    ) -> Result<(), CommandError> {
        sqlx::query(
            "WITH stale AS (
                 DELETE FROM oauth_states WHERE created_at < now() - make_interval(mins => $5)
             )
             INSERT INTO oauth_states (state, provider, redirect_uri, pkce_verifier)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(state)
        .bind(&flow.provider)
        .bind(&flow.redirect_uri)
        .bind(&flow.pkce_verifier)
        .bind(STATE_MINUTES)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Uses up a web flow's `state`: none when it is unknown, used, or too old.
    pub async fn take_oauth_state(&self, state: &str) -> Result<Option<PendingFlow>, CommandError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "DELETE FROM oauth_states
             WHERE state = $1 AND created_at >= now() - make_interval(mins => $2)
             RETURNING provider, redirect_uri, pkce_verifier",
        )
        .bind(state)
        .bind(STATE_MINUTES)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(
            row.map(|(provider, redirect_uri, pkce_verifier)| PendingFlow {
                provider,
                redirect_uri,
                pkce_verifier,
            }),
        )
    }
}
