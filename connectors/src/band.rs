//! Naver Band's Open API (`openapi.band.us`): the bands a token sees, and a band's members and
//! posts page by page. Band answers `{result_code, result_data}`; `1` is success, `1001`–`1003`
//! are its quotas and cool-down (handled as a rate limit), anything else a refusal. The access
//! token is a query parameter, so URLs are never logged.

use domain::ErrorKind;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::upstream::{CallError, Upstream};
use crate::ConnectorError;

const NAME: &str = "band";

/// How Moim reaches Band.
#[derive(Debug, Clone)]
pub struct BandSettings {
    /// `MOIM_BAND_BASE_URL`; default `https://openapi.band.us`.
    pub base_url: String,
    /// `MOIM_BAND_ACCESS_TOKEN`: the token an import runs as when the manager gives none.
    pub access_token: Option<SecretString>,
    /// `MOIM_BAND_IDENTITY_PROVIDER`; default `naver`: the social login whose subject is a
    /// Band member's `user_key`, by which members are matched to Moim users.
    pub identity_provider: String,
}

impl Default for BandSettings {
    fn default() -> Self {
        Self {
            base_url: "https://openapi.band.us".into(),
            access_token: None,
            identity_provider: "naver".into(),
        }
    }
}

/// A band the token sees.
#[derive(Debug, Clone, Deserialize)]
pub struct BandInfo {
    /// Band's id for it.
    pub band_key: String,
    /// Its name.
    pub name: String,
}

/// A member of a band.
#[derive(Debug, Clone, Deserialize)]
pub struct BandMember {
    /// Their name in the band.
    pub name: String,
    /// Band's id for them.
    pub user_key: String,
}

/// Who wrote a post.
#[derive(Debug, Clone, Deserialize)]
pub struct BandAuthor {
    /// Their name in the band.
    pub name: String,
    /// Band's id for them.
    pub user_key: String,
}

/// A post of a band.
#[derive(Debug, Clone, Deserialize)]
pub struct BandPost {
    /// Band's id for it.
    pub post_key: String,
    /// Its text.
    #[serde(default)]
    pub content: String,
    /// Who wrote it.
    pub author: BandAuthor,
}

/// One page of a list and where the next begins.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Its items.
    pub items: Vec<T>,
    /// The next page's `after`, when there is one.
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    result_code: i64,
    #[serde(default)]
    result_data: serde_json::Value,
}

#[derive(Deserialize)]
struct Bands {
    bands: Vec<BandInfo>,
}

#[derive(Deserialize)]
struct Members {
    members: Vec<BandMember>,
    #[serde(default)]
    paging: Paging,
}

#[derive(Deserialize)]
struct Posts {
    items: Vec<BandPost>,
    #[serde(default)]
    paging: Paging,
}

#[derive(Default, Deserialize)]
struct Paging {
    next_params: Option<NextParams>,
}

#[derive(Deserialize)]
struct NextParams {
    after: Option<String>,
}

/// The Band API.
#[derive(Debug)]
pub struct Band {
    upstream: Upstream,
    base_url: String,
}

impl Band {
    /// The API per `settings`.
    pub fn new(settings: &BandSettings, upstream: Upstream) -> Self {
        Self {
            upstream,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The bands `token` sees.
    pub async fn bands(&self, token: &SecretString) -> Result<Vec<BandInfo>, ConnectorError> {
        let bands: Bands = self.get("/v2.1/bands", token, &[]).await?;
        Ok(bands.bands)
    }

    /// A page of `band_key`'s members, from `after`.
    pub async fn members(
        &self,
        token: &SecretString,
        band_key: &str,
        after: Option<&str>,
    ) -> Result<Page<BandMember>, ConnectorError> {
        let query = page_query(band_key, after);
        let page: Members = self.get("/v2/band/members", token, &query).await?;
        Ok(Page {
            items: page.members,
            next: page.paging.next(),
        })
    }

    /// A page of `band_key`'s posts, newest first, from `after`.
    pub async fn posts(
        &self,
        token: &SecretString,
        band_key: &str,
        after: Option<&str>,
    ) -> Result<Page<BandPost>, ConnectorError> {
        let mut query = page_query(band_key, after);
        query.push(("locale", "ko_KR"));
        let page: Posts = self.get("/v2/band/posts", token, &query).await?;
        Ok(Page {
            items: page.items,
            next: page.paging.next(),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &SecretString,
        query: &[(&str, &str)],
    ) -> Result<T, ConnectorError> {
        let request = self
            .upstream
            .http()
            .get(format!("{}{path}", self.base_url))
            .query(&[("access_token", token.expose_secret())])
            .query(query);
        let unavailable = |retry_after| ConnectorError::Unavailable {
            upstream: NAME,
            retry_after,
        };
        let body = match self.upstream.call(request).await {
            Ok(body) => body,
            Err(CallError::Unavailable(wait)) => return Err(unavailable(wait)),
            Err(CallError::Answered { status, .. }) => return Err(refused(status)),
        };
        let malformed = |source| ConnectorError::Malformed {
            upstream: NAME,
            source,
        };
        let envelope: Envelope = serde_json::from_slice(&body).map_err(malformed)?;
        match envelope.result_code {
            1 => serde_json::from_value(envelope.result_data).map_err(malformed),
            // Band's app quota, user quota and cool-down: its rate limits, said in the body.
            1001..=1003 => Err(unavailable(self.upstream.back_off(None, "rate_limited"))),
            code => {
                tracing::info!(result_code = code, "Band refused the request");
                Err(refused(StatusCode::UNAUTHORIZED))
            }
        }
    }
}

impl Paging {
    fn next(self) -> Option<String> {
        self.next_params.and_then(|p| p.after)
    }
}

fn page_query<'a>(band_key: &'a str, after: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut query = vec![("band_key", band_key), ("limit", "100")];
    if let Some(after) = after {
        query.push(("after", after));
    }
    query
}

/// A refusal of Band's: a bad or expired token, or a band it does not show us.
fn refused(status: StatusCode) -> ConnectorError {
    if status == StatusCode::NOT_FOUND {
        return ConnectorError::rejected(
            ErrorKind::NotFound,
            "band_not_found",
            "Band does not show this band to the token",
        );
    }
    ConnectorError::rejected(
        ErrorKind::Invalid,
        "band_token_rejected",
        "Band refused the access token",
    )
}
