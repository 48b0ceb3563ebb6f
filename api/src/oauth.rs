//! Social login with the `oauth2` crate: the authorization-code flow with PKCE for the web, and
//! reading who a provider's access token belongs to (the mobile SDKs' flow, and the web flow's
//! last step). Kakao and Naver answer user info in their own shapes; any other provider is read
//! as OpenID Connect (`sub`, `name`).
//!
//! Calls to a provider are never made inside a command's transaction: what they return enters
//! Moim as a command (`social_sign_in`, `link_identity`) like any other fact.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::config::OAuthProvider;
use crate::error::ApiError;

/// The longest one call to a provider may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a provider's user-info answer read.
const MAX_USERINFO_BYTES: usize = 64 * 1024;

/// Who a provider says the user is.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    /// The provider's stable id for them.
    pub subject: String,
    /// The name they go by there, if any.
    pub name: Option<String>,
}

/// A web flow's first step: where to send the user, and what to keep until they come back.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorize URL with `state` and the PKCE challenge.
    pub authorize_url: String,
    /// The `state` it carries.
    pub state: String,
    /// The PKCE verifier, kept for the exchange.
    pub pkce_verifier: String,
}

/// The configured providers.
pub struct Providers {
    by_name: HashMap<String, OAuthProvider>,
    redirect_uris: Vec<String>,
    http: reqwest::Client,
}

fn unavailable(provider: &str) -> ApiError {
    ApiError::unavailable(
        "upstream_unavailable",
        format!("{provider} did not answer; try again"),
        5,
    )
}

impl Providers {
    /// Providers from the settings; web flows may return only to `redirect_uris`.
    pub fn new(providers: &[OAuthProvider], redirect_uris: Vec<String>) -> anyhow::Result<Self> {
        Ok(Self {
            by_name: providers
                .iter()
                .map(|p| (p.name.clone(), p.clone()))
                .collect(),
            redirect_uris,
            // A provider that redirects a token request is misconfigured, never followed.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(UPSTREAM_TIMEOUT)
                .build()?,
        })
    }

    fn provider(&self, name: &str) -> Result<&OAuthProvider, ApiError> {
        self.by_name.get(name).ok_or_else(|| {
            ApiError::not_found(
                "unknown_provider",
                format!("no social login named {name} is set up"),
            )
        })
    }

    fn redirect(&self, redirect_uri: &str) -> Result<RedirectUrl, ApiError> {
        if !self
            .redirect_uris
            .iter()
            .any(|allowed| allowed == redirect_uri)
        {
            return Err(ApiError::bad_request(
                "bad_redirect_uri",
                "redirect_uri is not one this deployment allows",
            ));
        }
        RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| ApiError::bad_request("bad_redirect_uri", "redirect_uri is not a URL"))
    }

    /// The web flow's first step for `provider`, returning to `redirect_uri`.
    pub fn start(&self, provider: &str, redirect_uri: &str) -> Result<Started, ApiError> {
        let config = self.provider(provider)?;
        let redirect = self.redirect(redirect_uri)?;
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::new(config.authorize_url.clone()).map_err(ApiError::internal)?)
            .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            authorize_url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges a web flow's `code` for the provider's access token.
    pub async fn exchange(
        &self,
        provider: &str,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: &str,
    ) -> Result<String, ApiError> {
        let config = self.provider(provider)?;
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                config.client_secret.expose_secret().to_owned(),
            ))
            .set_token_uri(TokenUrl::new(config.token_url.clone()).map_err(ApiError::internal)?)
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned()).map_err(ApiError::internal)?,
            );
        let exchanged = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await;
        match exchanged {
            Ok(token) => Ok(token.access_token().secret().clone()),
            Err(RequestTokenError::ServerResponse(refusal)) => {
                tracing::info!(provider, error = ?refusal.error(), "the provider refused a code");
                Err(ApiError::bad_request(
                    "bad_code",
                    "the provider did not accept this code",
                ))
            }
            // Naver answers `expires_in` as a string, which the standard shape does not allow:
            // the token is read from the answer as it is.
            Err(RequestTokenError::Parse(_, body)) => serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("access_token")?.as_str().map(str::to_owned))
                .ok_or_else(|| unavailable(provider)),
            Err(error) => {
                tracing::warn!(provider, error = %domain::error::chain(&error), "token exchange failed");
                Err(unavailable(provider))
            }
        }
    }

    /// Who `access_token` belongs to, as `provider` says.
    pub async fn user(&self, provider: &str, access_token: &str) -> Result<ProviderUser, ApiError> {
        let config = self.provider(provider)?;
        let answer = self
            .http
            .get(&config.userinfo_url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(provider, %error, "user info failed");
                unavailable(provider)
            })?;
        match answer.status() {
            status if status.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(ApiError::unauthorized(
                    "bad_provider_token",
                    format!("{provider} did not accept this access token"),
                ))
            }
            status => {
                tracing::warn!(provider, %status, "user info refused");
                return Err(unavailable(provider));
            }
        }
        let body = answer.bytes().await.map_err(|_| unavailable(provider))?;
        if body.len() > MAX_USERINFO_BYTES {
            return Err(unavailable(provider));
        }
        let info: Value = serde_json::from_slice(&body).map_err(|_| unavailable(provider))?;
        read_user(provider, &info).ok_or_else(|| {
            ApiError::unauthorized(
                "bad_provider_token",
                format!("{provider} did not say who this token belongs to"),
            )
        })
    }
}

/// Reads a provider's user info: Kakao's `{id, kakao_account.profile.nickname}`, Naver's
/// `{resultcode: "00", response: {id, nickname}}`, or OpenID Connect's `{sub, name}`.
fn read_user(provider: &str, info: &Value) -> Option<ProviderUser> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    match provider {
        "kakao" => Some(ProviderUser {
            subject: info.get("id")?.as_i64()?.to_string(),
            name: text(info.pointer("/kakao_account/profile/nickname"))
                .or_else(|| text(info.pointer("/properties/nickname"))),
        }),
        "naver" => {
            if info.get("resultcode")?.as_str()? != "00" {
                return None;
            }
            let response = info.get("response")?;
            Some(ProviderUser {
                subject: text(response.get("id"))?,
                name: text(response.get("nickname")).or_else(|| text(response.get("name"))),
            })
        }
        _ => Some(ProviderUser {
            subject: text(info.get("sub"))?,
            name: text(info.get("name"))
                .or_else(|| text(info.get("nickname")))
                .or_else(|| text(info.get("preferred_username"))),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::read_user;

    #[test]
    fn each_provider_is_read_in_its_own_shape() {
        let kakao = json!({ "id": 1_234_567_890_u64, "kakao_account": { "profile": { "nickname": "서연" } } });
        let user = read_user("kakao", &kakao).unwrap();
        assert_eq!(
            (user.subject.as_str(), user.name.as_deref()),
            ("1234567890", Some("서연"))
        );
        let naver = json!({ "resultcode": "00", "message": "success", "response": { "id": "abc", "nickname": "민준" } });
        assert_eq!(read_user("naver", &naver).unwrap().subject, "abc");
        let failed = json!({ "resultcode": "024", "message": "Authentication failed" });
        assert!(read_user("naver", &failed).is_none());
        let oidc = json!({ "sub": "g-1", "name": "Kim" });
        assert_eq!(
            read_user("google", &oidc).unwrap().name.as_deref(),
            Some("Kim")
        );
        assert!(read_user("google", &json!({ "name": "no subject" })).is_none());
    }
}
