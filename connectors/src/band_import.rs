//! Bringing a club's Naver Band into Moim: connecting a band to a club, and import jobs that
//! page through its members (matched to Moim users by their linked identity, then added to the
//! club) and its posts (written on the club's board, by their author when known).
//!
//! A job is a row in `band_imports`, worked by the scheduler role. One process works a job at a
//! time, holding a session advisory lock on a connection of its own: a process killed mid-way
//! loses the connection and with it the lock, and the next poll (on any process) resumes from
//! the last page saved. A page is saved after its commands; the commands' ids derive from
//! Band's own (`post_key`; membership is a set), so a page done twice stores nothing twice.
//! When Band is unavailable or rate-limits, the job says `waiting_for_rate_limit` until the
//! upstream's gate reopens, and fails only after [`MAX_ATTEMPTS`] waits in a row. A page done
//! again after a crash counts what the first time did as existing (`posts_existing`), so after a
//! crash the split between added and existing is approximate; the totals are not.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::board::NewPost;
use commands::{CommandError, Commands};
use domain::board::BoardId;
use domain::values::{Category, PostBody, PostTitle};
use domain::ErrorKind;
use secrecy::SecretString;
use serde::Serialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::band::{Band, BandInfo, BandMember, BandPost, BandSettings};
use crate::ConnectorError;

/// Waits in a row (Band down or rate-limiting) before a job gives up.
pub const MAX_ATTEMPTS: i32 = 20;

/// The advisory lock class of import jobs (the job id's hash is the other half).
const LOCK_CLASS: i32 = 0x6261_6e64;

/// Imported posts' category on the club board.
const CATEGORY: &str = "Band";

/// The longest title cut from a post's first line.
const TITLE_CHARS: usize = 60;

/// What a club is connected to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BandLink {
    /// Band's id for it.
    pub band_key: String,
    /// Its name.
    pub name: String,
}

/// An import job as its club's managers see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ImportJob {
    /// The job.
    pub job_id: Uuid,
    /// The club.
    pub club_id: Uuid,
    /// The band.
    pub band_key: String,
    /// `queued`, `running`, `waiting_for_rate_limit`, `done` or `failed`.
    pub status: String,
    /// `members`, `posts` or `done`.
    pub phase: String,
    /// Pages finished.
    pub pages: i32,
    /// Band members matched to Moim users who became club members.
    pub members_added: i32,
    /// Band members with no Moim user linked to them.
    pub members_unmatched: i32,
    /// Posts written on the club board.
    pub posts_added: i32,
    /// Posts found imported before.
    pub posts_existing: i32,
    /// When a waiting job tries again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    /// Why a job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    started_by: Uuid,
    #[serde(skip)]
    cursor: Option<String>,
    #[serde(skip)]
    attempts: i32,
}

const JOB_COLUMNS: &str = "job_id, club_id, band_key, status, phase, pages, members_added,
    members_unmatched, posts_added, posts_existing,
    CASE WHEN status = 'waiting_for_rate_limit' THEN retry_at END AS retry_at, error,
    created_at, finished_at, started_by, cursor, attempts";

/// Connections and imports; see the module documentation.
#[derive(Clone)]
pub struct BandImports {
    pool: PgPool,
    commands: Commands,
    band: Arc<Band>,
    settings: BandSettings,
}

/// What one page did.
#[derive(Debug, Default)]
struct PageDone {
    members_added: i32,
    members_unmatched: i32,
    posts_added: i32,
    posts_existing: i32,
}

impl BandImports {
    /// Imports through `band`.
    pub fn new(pool: PgPool, commands: Commands, band: Band, settings: BandSettings) -> Self {
        Self {
            pool,
            commands,
            band: Arc::new(band),
            settings,
        }
    }

    /// Only a club's owner and managers connect and import; outsiders are told the club does
    /// not exist.
    async fn runner(&self, club_id: Uuid, by: Uuid) -> Result<(), ConnectorError> {
        if self.commands.club_role(club_id, by).await?.runs_the_club() {
            return Ok(());
        }
        Err(ConnectorError::rejected(
            ErrorKind::Forbidden,
            "not_allowed",
            "only the owner or managers may do this",
        ))
    }

    /// Connects `band_key` to the club, after Band confirms the token sees it.
    pub async fn connect(
        &self,
        club_id: Uuid,
        by: Uuid,
        band_key: &str,
        access_token: Option<SecretString>,
    ) -> Result<BandLink, ConnectorError> {
        self.runner(club_id, by).await?;
        // The deployment's token sees every band it was given: only a platform admin may tie
        // one of those to a club, or any club owner could import any of them.
        let server_token = match &self.settings.access_token {
            Some(token) if self.commands.user(by).await?.is_admin() => Some(token.clone()),
            _ => None,
        };
        let token = access_token.clone().or(server_token).ok_or_else(|| {
            ConnectorError::rejected(
                ErrorKind::Invalid,
                "band_token_missing",
                "give your Band access_token (the server's own is for platform admins)",
            )
        })?;
        let band = self
            .band
            .bands(&token)
            .await?
            .into_iter()
            .find(|b| b.band_key == band_key)
            .ok_or_else(|| {
                ConnectorError::rejected(
                    ErrorKind::NotFound,
                    "band_not_found",
                    "Band does not show this band to the token",
                )
            })?;
        let BandInfo { band_key, name } = band;
        sqlx::query(
            "INSERT INTO band_links (club_id, band_key, band_name, access_token, connected_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (club_id) DO UPDATE
             SET band_key = $2, band_name = $3, access_token = $4, connected_by = $5,
                 connected_at = now()",
        )
        .bind(club_id)
        .bind(&band_key)
        .bind(&name)
        .bind(
            access_token
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret),
        )
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(BandLink { band_key, name })
    }

    /// Starts an import of the club's band; while one runs, answers that one (`false`).
    pub async fn start(
        &self,
        club_id: Uuid,
        by: Uuid,
    ) -> Result<(ImportJob, bool), ConnectorError> {
        self.runner(club_id, by).await?;
        let band_key: Option<(String,)> =
            sqlx::query_as("SELECT band_key FROM band_links WHERE club_id = $1")
                .bind(club_id)
                .fetch_optional(&self.pool)
                .await?;
        let (band_key,) = band_key.ok_or_else(|| {
            ConnectorError::rejected(
                ErrorKind::Conflict,
                "band_not_connected",
                "connect a band to this club first",
            )
        })?;
        let inserted = sqlx::query(
            "INSERT INTO band_imports (job_id, club_id, band_key, started_by)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(club_id)
        .bind(&band_key)
        .bind(by)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let job: ImportJob = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM band_imports WHERE club_id = $1
             ORDER BY created_at DESC, job_id DESC LIMIT 1"
        ))
        .bind(club_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((job, inserted))
    }

    /// A job of the club's.
    pub async fn job(
        &self,
        club_id: Uuid,
        by: Uuid,
        job_id: Uuid,
    ) -> Result<ImportJob, ConnectorError> {
        self.runner(club_id, by).await?;
        sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM band_imports WHERE club_id = $1 AND job_id = $2"
        ))
        .bind(club_id)
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            ConnectorError::rejected(ErrorKind::NotFound, "import_not_found", "no such import")
        })
    }

    /// Works due jobs until `stop`, looking for one at least every `poll`.
    pub async fn run(self, poll: Duration, stop: CancellationToken) {
        while !stop.is_cancelled() {
            match self.work_one(&stop).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(
                        error = domain::error::chain(&error),
                        "band import round failed"
                    );
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Claims one due job no other process works, and works it until it is done or must wait;
    /// answers whether there was one.
    async fn work_one(&self, stop: &CancellationToken) -> Result<bool, ConnectorError> {
        let due: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT job_id FROM band_imports
             WHERE status IN ('queued', 'running', 'waiting_for_rate_limit') AND retry_at <= now()
             ORDER BY retry_at LIMIT 8",
        )
        .fetch_all(&self.pool)
        .await?;
        for (job_id,) in due {
            let mut conn = self.pool.acquire().await?;
            let (locked,): (bool,) =
                sqlx::query_as("SELECT pg_try_advisory_lock($1, hashtext($2::text))")
                    .bind(LOCK_CLASS)
                    .bind(job_id)
                    .fetch_one(&mut *conn)
                    .await?;
            if !locked {
                continue;
            }
            let worked = self.work(job_id, stop).await;
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2::text))")
                .bind(LOCK_CLASS)
                .bind(job_id)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // A lock left on a pooled connection would hold the job forever: drop it.
                drop(conn.detach());
            }
            worked?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn work(&self, job_id: Uuid, stop: &CancellationToken) -> Result<(), ConnectorError> {
        // Read again under the lock: another process may have finished it meanwhile.
        let job: Option<ImportJob> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM band_imports
             WHERE job_id = $1 AND retry_at <= now()
               AND status IN ('queued', 'running', 'waiting_for_rate_limit')"
        ))
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut job) = job else {
            return Ok(());
        };
        let Some(token) = self.token_of(job.club_id).await? else {
            return self
                .fail(
                    job_id,
                    "band_token_missing: the club's band has no token to import with",
                )
                .await;
        };
        while job.phase != "done" && !stop.is_cancelled() {
            let step = match job.phase.as_str() {
                "members" => self.members_page(&job, &token).await,
                _ => self.posts_page(&job, &token).await,
            };
            match step {
                Ok((done, next)) => match self.save(&job, &done, next).await? {
                    Some(saved) => job = saved,
                    // Another process moved the job on (this one's lock connection was lost):
                    // its work stands, this one's page was idempotent.
                    None => return Ok(()),
                },
                Err(ConnectorError::Unavailable { retry_after, .. }) => {
                    return self.wait(&job, retry_after).await;
                }
                Err(
                    ConnectorError::Rejected { code, message, .. }
                    | ConnectorError::Command(CommandError::Rejected { code, message, .. }),
                ) => return self.fail(job_id, &format!("{code}: {message}")).await,
                Err(error @ ConnectorError::Malformed { .. }) => {
                    let why = format!("band_malformed: {}", domain::error::chain(&error));
                    return self.fail(job_id, &why).await;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    async fn token_of(&self, club_id: Uuid) -> Result<Option<SecretString>, ConnectorError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT access_token FROM band_links WHERE club_id = $1")
                .bind(club_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((Some(token),)) => Some(token.into()),
            Some((None,)) => self.settings.access_token.clone(),
            None => None,
        })
    }

    async fn members_page(
        &self,
        job: &ImportJob,
        token: &SecretString,
    ) -> Result<(PageDone, Option<String>), ConnectorError> {
        let page = self
            .band
            .members(token, &job.band_key, job.cursor.as_deref())
            .await?;
        let mut done = PageDone::default();
        for BandMember { user_key, .. } in &page.items {
            match self.user_of(user_key).await? {
                Some(user_id) => {
                    let added = self
                        .commands
                        .add_club_member(job.club_id, job.started_by, user_id)
                        .await?;
                    done.members_added += i32::from(!added.events.is_empty());
                }
                None => done.members_unmatched += 1,
            }
        }
        Ok((done, page.next))
    }

    async fn posts_page(
        &self,
        job: &ImportJob,
        token: &SecretString,
    ) -> Result<(PageDone, Option<String>), ConnectorError> {
        let page = self
            .band
            .posts(token, &job.band_key, job.cursor.as_deref())
            .await?;
        let club = self.commands.club(job.club_id).await?;
        let mut done = PageDone::default();
        for post in &page.items {
            let author = match self.user_of(&post.author.user_key).await? {
                Some(user_id) if club.role(user_id).is_some() => Some(user_id),
                _ => None,
            };
            let post_id = Uuid::new_v5(
                &job.club_id,
                format!("band post {}", post.post_key).as_bytes(),
            );
            let written = self
                .commands
                .import_post(
                    BoardId::Club(job.club_id),
                    post_id,
                    author.unwrap_or(job.started_by),
                    new_post(post, author.is_none())?,
                )
                .await?;
            match written {
                Some(_) => done.posts_added += 1,
                None => done.posts_existing += 1,
            }
        }
        Ok((done, page.next))
    }

    async fn user_of(&self, user_key: &str) -> Result<Option<Uuid>, ConnectorError> {
        Ok(self
            .commands
            .user_of_identity(&self.settings.identity_provider, user_key)
            .await?)
    }

    /// Saves a finished page: its counts, where the next begins, and the phase after it — only
    /// if the job is still where this page began.
    async fn save(
        &self,
        job: &ImportJob,
        done: &PageDone,
        next: Option<String>,
    ) -> Result<Option<ImportJob>, ConnectorError> {
        let phase = match (job.phase.as_str(), &next) {
            (phase, Some(_)) => phase,
            ("members", None) => "posts",
            _ => "done",
        };
        Ok(sqlx::query_as(&format!(
            "UPDATE band_imports SET
                 phase = $2, cursor = $3, pages = pages + 1,
                 members_added = members_added + $4, members_unmatched = members_unmatched + $5,
                 posts_added = posts_added + $6, posts_existing = posts_existing + $7,
                 status = CASE WHEN $2 = 'done' THEN 'done' ELSE 'running' END,
                 finished_at = CASE WHEN $2 = 'done' THEN now() END,
                 attempts = 0, updated_at = now()
             WHERE job_id = $1 AND phase = $8 AND cursor IS NOT DISTINCT FROM $9
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(job.job_id)
        .bind(phase)
        .bind(next)
        .bind(done.members_added)
        .bind(done.members_unmatched)
        .bind(done.posts_added)
        .bind(done.posts_existing)
        .bind(&job.phase)
        .bind(&job.cursor)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn wait(&self, job: &ImportJob, retry_after: Duration) -> Result<(), ConnectorError> {
        if job.attempts + 1 > MAX_ATTEMPTS {
            return self
                .fail(
                    job.job_id,
                    "band_unavailable: Band kept failing or rate-limiting",
                )
                .await;
        }
        tracing::info!(job = %job.job_id, ?retry_after, "band import waits for Band");
        sqlx::query(
            "UPDATE band_imports SET status = 'waiting_for_rate_limit', attempts = attempts + 1,
                 retry_at = now() + make_interval(secs => $2), updated_at = now()
             WHERE job_id = $1",
        )
        .bind(job.job_id)
        .bind(retry_after.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn fail(&self, job_id: Uuid, why: &str) -> Result<(), ConnectorError> {
        tracing::warn!(job = %job_id, why, "band import failed");
        sqlx::query(
            "UPDATE band_imports SET status = 'failed', error = $2, finished_at = now(),
                 updated_at = now()
             WHERE job_id = $1",
        )
        .bind(job_id)
        .bind(why)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A Band post as a board post: its first line the title, its text the body, signed with the
/// Band author's name when no Moim user is known for them.
fn new_post(post: &BandPost, sign: bool) -> Result<NewPost, ConnectorError> {
    // Band's text may hold carriage returns and tabs, which Moim's text values refuse.
    let content: String = post
        .content
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    let first_line = content
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Band");
    let mut title: String = first_line.chars().take(TITLE_CHARS).collect();
    if first_line.chars().count() > TITLE_CHARS {
        title.push('…');
    }
    let mut body = content.trim().to_owned();
    if body.is_empty() {
        body.clone_from(&title);
    }
    if sign {
        body = format!("{body}\n\n— {} (Band)", post.author.name.trim());
    }
    let body: String = body.chars().take(20_000).collect();
    let invalid = |e: domain::values::InvalidValue| {
        ConnectorError::rejected(ErrorKind::Invalid, "band_post_unreadable", e.to_string())
    };
    Ok(NewPost {
        category: Category::parse(CATEGORY).map_err(invalid)?,
        title: PostTitle::parse(&title).map_err(invalid)?,
        body: PostBody::parse(&body).map_err(invalid)?,
        media_ids: Vec::new(),
    })
}
