//! JWT access and refresh tokens (HS256, secret from the environment).

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

/// A freshly signed refresh token and what must be recorded about it.
pub struct RefreshToken {
    /// The token.
    pub token: String,
    /// Its id, recorded so it can be used once.
    pub jti: Uuid,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
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

    fn sign(
        &self,
        user_id: Uuid,
        typ: &str,
        ttl: Duration,
    ) -> Result<(String, Uuid, DateTime<Utc>), ApiError> {
        let now = Utc::now();
        let exp = now + chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
        let claims = Claims {
            sub: user_id,
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: Uuid::new_v4(),
            typ: typ.into(),
        };
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
        .map_err(ApiError::internal)?;
        Ok((token, claims.jti, exp))
    }

    /// A short-lived access token.
    pub fn access(&self, user_id: Uuid) -> Result<String, ApiError> {
        Ok(self.sign(user_id, "access", self.inner.access_ttl)?.0)
    }

    /// A long-lived, single-use refresh token.
    pub fn refresh(&self, user_id: Uuid) -> Result<RefreshToken, ApiError> {
        let (token, jti, expires_at) = self.sign(user_id, "refresh", self.inner.refresh_ttl)?;
        Ok(RefreshToken {
            token,
            jti,
            expires_at,
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

    /// The user an access token belongs to.
    pub fn verify_access(&self, token: &str) -> Result<Uuid, ApiError> {
        Ok(self.verify(token, "access")?.sub)
    }

    /// The user an access token belongs to, and when it expires (a socket closes then).
    pub fn verify_access_until(&self, token: &str) -> Result<(Uuid, DateTime<Utc>), ApiError> {
        let claims = self.verify(token, "access")?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| ApiError::unauthorized("bad_token", "the token is not valid"))?;
        Ok((claims.sub, expires_at))
    }

    /// The user and id of a refresh token (whether it is unused is checked in the database).
    pub fn verify_refresh(&self, token: &str) -> Result<(Uuid, Uuid), ApiError> {
        let claims = self.verify(token, "refresh")?;
        Ok((claims.sub, claims.jti))
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
