//! JWT access and refresh tokens (HS256, secret from the environment). Both name their session
//! (`sid`); an access token also carries the session's generation (`gen`), so that ending all of
//! a user's sessions at once ends the tokens of every one of them (see `revocations.rs`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    exp: i64,
    iat: i64,
    jti: Uuid,
    typ: String,
    sid: Uuid,
    #[serde(default)]
    gen: u64,
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Whose.
    pub user_id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// The session's generation.
    pub generation: u64,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// The token of an `Authorization: Bearer <token>` header value; the scheme is case-insensitive
/// (RFC 7235), so `bearer` and `BEARER` work as `Bearer` does.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Signs and checks tokens. Cheap to clone.
#[derive(Clone)]
pub struct Keys {
    inner: Arc<KeysInner>,
}

struct KeysInner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl Keys {
    /// Keys from the secret, with token lifetimes.
    pub fn new(secret: &SecretString, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self {
            inner: Arc::new(KeysInner {
                encoding: EncodingKey::from_secret(bytes),
                decoding: DecodingKey::from_secret(bytes),
                access_ttl,
                refresh_ttl,
            }),
        }
    }

    /// Seconds an access token lives.
    pub fn access_ttl_secs(&self) -> u64 {
        self.inner.access_ttl.as_secs()
    }

    fn sign(&self, claims: Claims) -> Result<String, ApiError> {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
        .map_err(ApiError::internal)
    }

    fn claims(&self, user_id: Uuid, typ: &str, ttl: Duration) -> Result<Claims, ApiError> {
        let now = Utc::now();
        let exp = now + chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
        Ok(Claims {
            sub: user_id,
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: Uuid::new_v4(),
            typ: typ.into(),
            sid: Uuid::nil(),
            gen: 0,
        })
    }

    /// A short-lived access token of a session.
    pub fn access(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        generation: u64,
    ) -> Result<String, ApiError> {
        self.sign(Claims {
            sid: session_id,
            gen: generation,
            ..self.claims(user_id, "access", self.inner.access_ttl)?
        })
    }

    /// A long-lived refresh token of a session; `jti` is the one the session will accept.
    pub fn refresh(&self, user_id: Uuid, session_id: Uuid, jti: Uuid) -> Result<String, ApiError> {
        self.sign(Claims {
            sid: session_id,
            jti,
            ..self.claims(user_id, "refresh", self.inner.refresh_ttl)?
        })
    }

    fn verify(&self, token: &str, typ: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = decode::<Claims>(token, &self.inner.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the token has expired")
                }
                _ => ApiError::unauthorized("bad_token", "the token is not valid"),
            })?
            .claims;
        if claims.typ != typ {
            return Err(ApiError::unauthorized(
                "bad_token",
                format!("expected a {typ} token"),
            ));
        }
        Ok(claims)
    }

    /// What an access token says, if its signature and expiry hold (whether its session still
    /// lives is [`crate::revocations::Revocations::check`]'s question).
    pub fn verify_access(&self, token: &str) -> Result<Access, ApiError> {
        let claims = self.verify(token, "access")?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| ApiError::unauthorized("bad_token", "the token is not valid"))?;
        Ok(Access {
            user_id: claims.sub,
            session_id: claims.sid,
            generation: claims.gen,
            expires_at,
        })
    }

    /// A signed address's token for one variant (`original`, `thumbnail`) of an upload, valid
    /// for `ttl` to whoever holds it: an `<img src>` cannot send a bearer token.
    pub fn media_link(
        &self,
        media_id: Uuid,
        variant: &str,
        ttl: Duration,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let claims = Claims {
            typ: format!("media:{variant}"),
            ..self.claims(media_id, "media", ttl)?
        };
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now);
        Ok((self.sign(claims)?, expires_at))
    }

    /// Whether `token` is a live signed address of this variant of this upload (no leeway:
    /// an expired address is refused to the second).
    pub fn verify_media_link(
        &self,
        token: &str,
        media_id: Uuid,
        variant: &str,
    ) -> Result<(), ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let refused = |code, detail| ApiError::new(axum::http::StatusCode::FORBIDDEN, code, detail);
        let invalid = || refused("bad_link", "this media address is not valid");
        let claims = decode::<Claims>(token, &self.inner.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => refused(
                    "link_expired",
                    "this media address has expired; ask for a new one",
                ),
                _ => invalid(),
            })?
            .claims;
        if claims.sub != media_id || claims.typ != format!("media:{variant}") {
            return Err(invalid());
        }
        Ok(())
    }

    /// The user, session and id of a refresh token (whether it is the session's newest is the
    /// session's question).
    pub fn verify_refresh(&self, token: &str) -> Result<(Uuid, Uuid, Uuid), ApiError> {
        let claims = self.verify(token, "refresh")?;
        Ok((claims.sub, claims.sid, claims.jti))
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_needs_a_token() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc ", " Bearer abc"] {
            assert_eq!(bearer(header), Some("abc"), "{header:?}");
        }
        for header in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", ""] {
            assert_eq!(bearer(header), None, "{header:?}");
        }
    }
}
