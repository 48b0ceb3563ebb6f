//! Accounts: registration, password login, password changes, and an admin's suspensions.
//!
//! Passwords are hashed with argon2id through the bounded hasher (`passwords.rs`). Credentials
//! are stored beside the event stream, in the same transaction as `UserRegistered`, so no hash is
//! ever published.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use domain::user::{PlatformRole, SessionsEndReason, User, UserCommand, UserError};
use domain::values::{DisplayName, Email, Password, Reason};
use domain::{Aggregate, ErrorKind, Metadata, Position};
use uuid::Uuid;

use crate::attempts;
use crate::store::{retry_conflicts, EventStore};
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

    /// Checks an e-mail and password from `ip` and answers whose they are. Each try counts as a
    /// failure against the account and the address until it succeeds; past the limit even the
    /// right password waits (`RateLimited`), whether or not the account exists.
    #[tracing::instrument(skip(self, password))]
    pub async fn login(
        &self,
        email: &str,
        password: String,
        ip: IpAddr,
    ) -> Result<Uuid, CommandError> {
        // An address that could never have registered cannot log in, and never reaches SQL.
        let Ok(email) = Email::parse(email) else {
            return Err(CommandError::BadCredentials { user_id: None });
        };
        let pool = self.store.pool();
        let limit = self.rates.login_failures;
        let mut reserved = Vec::with_capacity(2);
        for key in [account_key(&email), format!("login:ip:{ip}")] {
            match attempts::reserve(pool, &key, limit).await? {
                Ok(reservation) => reserved.push(reservation),
                Err(wait) => {
                    for reservation in reserved {
                        reservation.give_back(pool).await?;
                    }
                    return Err(CommandError::RateLimited {
                        retry_after_secs: wait.as_secs().max(1),
                    });
                }
            }
        }
        let user_id = self.check_password(&email, password).await?;
        for reservation in reserved {
            reservation.give_back(pool).await?;
        }
        Ok(user_id)
    }

    async fn check_password(&self, email: &Email, password: String) -> Result<Uuid, CommandError> {
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
            // Only the right password learns of a suspension: it says nothing to a guesser.
            self.unsuspended(user_id).await?;
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

    /// Changes `user_id`'s password after checking the current one, and ends every other
    /// session of theirs — in one transaction, so a new password never leaves an old session.
    #[tracing::instrument(skip(self, current, new))]
    pub async fn change_password(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        current: String,
        new: Password,
    ) -> Result<Position, CommandError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT password_hash FROM credentials WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.store.pool())
                .await?;
        let (stored,) = row.ok_or_else(|| CommandError::rejected(UserError::NotFound))?;
        let right = current.chars().count() <= Password::MAX_CHARS
            && self.passwords.verify(current, stored).await?;
        if !right {
            return Err(CommandError::Rejected {
                kind: ErrorKind::Forbidden,
                code: "wrong_password",
                message: "the current password is not right".into(),
            });
        }
        let hash = self.passwords.hash(new.expose().to_owned()).await?;
        let key = (User::TYPE, user_id.to_string());
        let _held = self.locks.lock(vec![key.clone()]).await;
        let position = retry_conflicts(User::TYPE, || async {
            let loaded = self.store.load::<User>(&key.1).await?;
            let end = UserCommand::EndSessions {
                except: Some(session_id),
                reason: SessionsEndReason::PasswordChanged,
            };
            let change = loaded.decide(end, self.services.as_ref())?;
            let mut tx = self.store.pool().begin().await?;
            sqlx::query("UPDATE credentials SET password_hash = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
            let position = EventStore::append(&mut tx, &[change.rows(&self.meta)?]).await?;
            tx.commit().await?;
            Ok(position)
        })
        .await;
        self.cache.remove(&key);
        position
    }

    /// Deletes `user_id`'s account after checking their password (an account made through a
    /// social login has none to give). In one transaction: the `UserDeleted` event (which ends
    /// every session), and beside the stream the credentials (the e-mail is free again), the
    /// linked logins, the failed-login counts that name the e-mail, the user's snapshots, and the
    /// key of their personal data — after which their name, bio and birthday are unreadable in
    /// every event (`domain::personal`).
    #[tracing::instrument(skip(self, password))]
    pub async fn delete_account(
        &self,
        user_id: Uuid,
        password: Option<String>,
    ) -> Result<Position, CommandError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT email, password_hash FROM credentials WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.store.pool())
                .await?;
        if let Some((_, stored)) = &row {
            let given = password.unwrap_or_default();
            let right = given.chars().count() <= Password::MAX_CHARS
                && self.passwords.verify(given, stored.clone()).await?;
            if !right {
                return Err(CommandError::Rejected {
                    kind: ErrorKind::Forbidden,
                    code: "wrong_password",
                    message: "the password is not right".into(),
                });
            }
        }
        let account = row
            .and_then(|(email, _)| Email::parse(&email).ok())
            .map(|email| account_key(&email));
        let key = (User::TYPE, user_id.to_string());
        let _held = self.locks.lock(vec![key.clone()]).await;
        let position = retry_conflicts(User::TYPE, || async {
            let loaded = self.store.load::<User>(&key.1).await?;
            let change = loaded.decide(UserCommand::Delete, self.services.as_ref())?;
            let mut tx = self.store.pool().begin().await?;
            let position = EventStore::append(&mut tx, &[change.rows(&self.meta)?]).await?;
            sqlx::query(
                "WITH credentials AS (DELETE FROM credentials WHERE user_id = $1),
                      identities AS (DELETE FROM identities WHERE user_id = $1),
                      snapshots AS (
                          DELETE FROM snapshots WHERE aggregate_type = $2 AND aggregate_id = $3
                      ),
                      attempts AS (DELETE FROM failed_attempts WHERE key = $4)
                 DELETE FROM user_keys WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(User::TYPE)
            .bind(&key.1)
            .bind(account.as_deref())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(position)
        })
        .await;
        self.cache.remove(&key);
        position
    }

    /// `admin_id` suspends `user_id` (only a platform admin may).
    #[tracing::instrument(skip(self))]
    pub async fn suspend(
        &self,
        admin_id: Uuid,
        user_id: Uuid,
        reason: Reason,
        until: Option<DateTime<Utc>>,
    ) -> Result<Position, CommandError> {
        self.refuse_unless_admin(admin_id).await?;
        if until.is_some_and(|until| until <= self.services.now()) {
            return Err(CommandError::Rejected {
                kind: ErrorKind::Invalid,
                code: "until_in_past",
                message: "until must be in the future".into(),
            });
        }
        let suspend = UserCommand::Suspend {
            by: admin_id,
            reason,
            until,
        };
        Ok(self
            .execute::<User>(&user_id.to_string(), suspend)
            .await?
            .position)
    }

    /// `admin_id` lifts `user_id`'s suspension.
    #[tracing::instrument(skip(self))]
    pub async fn reinstate(&self, admin_id: Uuid, user_id: Uuid) -> Result<Position, CommandError> {
        self.refuse_unless_admin(admin_id).await?;
        let reinstate = UserCommand::Reinstate { by: admin_id };
        Ok(self
            .execute::<User>(&user_id.to_string(), reinstate)
            .await?
            .position)
    }

    /// Refuses anyone but a platform admin.
    pub async fn refuse_unless_admin(&self, user_id: Uuid) -> Result<(), CommandError> {
        let user = self
            .store
            .load::<User>(&user_id.to_string())
            .await?
            .aggregate;
        if user.is_admin() {
            Ok(())
        } else {
            Err(CommandError::Rejected {
                kind: ErrorKind::Forbidden,
                code: "not_admin",
                message: "only a platform admin may do this".into(),
            })
        }
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
}

/// The failed-login key of an account: its e-mail's SHA-256, so that no table holds the address
/// (an unknown address is counted too, and deleting the account clears its count).
fn account_key(email: &Email) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(email.as_str().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("login:account:{hex}")
}
