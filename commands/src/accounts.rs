//! Accounts: registration, password login and single-use refresh tokens.
//!
//! Passwords are hashed with argon2id through the bounded hasher (`passwords.rs`). Credentials
//! are stored beside the event stream, in the same transaction as `UserRegistered`, so no hash is
//! ever published.

use chrono::{DateTime, Utc};
use domain::user::{PlatformRole, User, UserCommand, UserError};
use domain::values::{DisplayName, Email, Password};
use domain::{ErrorKind, Metadata, Position};
use uuid::Uuid;

use crate::store::EventStore;
use crate::{CommandError, Commands};

impl Commands {
    /// Registers a user; the e-mail must be new.
    #[tracing::instrument(skip(self, password))]
    pub async fn register(
        &self,
        email: Email,
        password: Password,
        display_name: DisplayName,
    ) -> Result<(Uuid, Position), CommandError> {
        let password_hash = self.passwords.hash(password.expose().to_owned()).await?;
        let user_id = self.services.new_id();
        let loaded = self.store.load::<User>(&user_id.to_string()).await?;
        let change = loaded.decide(
            UserCommand::Register {
                user_id,
                display_name,
            },
            self.services.as_ref(),
        )?;
        let mut tx = self.store.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO credentials (user_id, email, password_hash) VALUES ($1, $2, $3)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(user_id)
        .bind(email.as_str())
        .bind(&password_hash)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(CommandError::Rejected {
                kind: ErrorKind::Conflict,
                code: "email_taken",
                message: "an account with this e-mail exists".into(),
            });
        }
        // Whoever registers acts as the user they become.
        let meta = Metadata {
            actor: Some(user_id),
            ..self.meta.clone()
        };
        let position = EventStore::append(&mut tx, &[change.rows(&meta)?]).await?;
        tx.commit().await?;
        Ok((user_id, position))
    }

    /// Checks an e-mail and password and answers whose they are.
    #[tracing::instrument(skip(self, password))]
    pub async fn login(&self, email: &str, password: String) -> Result<Uuid, CommandError> {
        // An address that could never have registered cannot log in, and never reaches SQL.
        let Ok(email) = Email::parse(email) else {
            return Err(CommandError::BadCredentials { user_id: None });
        };
        let row: Option<(Uuid, String)> =
            sqlx::query_as("SELECT user_id, password_hash FROM credentials WHERE email = $1")
                .bind(email.as_str())
                .fetch_optional(self.store.pool())
                .await?;
        // No real password is longer; refusing it first keeps a megabyte of "password" from
        // costing more than a short one.
        if password.chars().count() > Password::MAX_CHARS {
            return Err(CommandError::BadCredentials {
                user_id: row.map(|(id, _)| id),
            });
        }
        let known = row.is_some();
        let (user_id, stored) = match row {
            Some(row) => row,
            None => (Uuid::nil(), self.passwords.dummy()),
        };
        let matches = self.passwords.verify(password, stored).await?;
        if known && matches {
            Ok(user_id)
        } else {
            Err(CommandError::BadCredentials {
                user_id: known.then_some(user_id),
            })
        }
    }

    /// Gives the account registered with `email` a platform role (`moim admin grant`), and
    /// answers whose it is.
    #[tracing::instrument(skip(self))]
    pub async fn set_platform_role(
        &self,
        email: &str,
        role: PlatformRole,
    ) -> Result<Uuid, CommandError> {
        let email = Email::parse(email).map_err(CommandError::rejected)?;
        let row: Option<(Uuid,)> =
            sqlx::query_as("SELECT user_id FROM credentials WHERE email = $1")
                .bind(email.as_str())
                .fetch_optional(self.store.pool())
                .await?;
        let (user_id,) = row.ok_or_else(|| CommandError::rejected(UserError::NotFound))?;
        let set = UserCommand::SetPlatformRole { role };
        self.execute::<User>(&user_id.to_string(), set).await?;
        Ok(user_id)
    }

    /// The e-mail a user registered with.
    pub async fn email_of(&self, user_id: Uuid) -> Result<Option<String>, CommandError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT email FROM credentials WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.store.pool())
                .await?;
        Ok(row.map(|(email,)| email))
    }

    /// Records a refresh token so it can be used exactly once.
    pub async fn issue_refresh_token(
        &self,
        jti: Uuid,
        user_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        sqlx::query("INSERT INTO refresh_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(jti)
            .bind(user_id)
            .bind(expires_at)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Uses up a refresh token; answers its user if it was valid and unused.
    pub async fn consume_refresh_token(&self, jti: Uuid) -> Result<Option<Uuid>, CommandError> {
        let row: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = now()
             WHERE jti = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        )
        .bind(jti)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.map(|(id,)| id))
    }
}
