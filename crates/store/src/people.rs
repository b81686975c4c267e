//! Team members, their sessions, API tokens and ingestion write keys. Secrets arrive hashed: the
//! store never sees a password, session id, token or key in the clear.

use crate::sql::{opt_text, text};
use crate::{get_opt_i64, instant, Result, Store, StoreError, Write};
use chrono::{DateTime, Utc};
use keepwell_core::{Invalid, Role};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A team member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: Option<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// Adds a team member; the e-mail must be new.
pub async fn create_user(w: &mut Write, u: &NewUser<'_>) -> Result<User> {
    let email = u.email.trim().to_ascii_lowercase();
    let mut invalid = Invalid::default();
    if !keepwell_core::invalid::is_email(&email) {
        invalid.push("email", format!("{email:?} is not an e-mail address"));
    }
    keepwell_core::limits::required_text(&mut invalid, "name", Some(u.name), keepwell_core::limits::NAME);
    invalid.into_result(())?;
    if sqlx::query("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(&mut *w.tx).await?.is_some() {
        return Err(StoreError::conflict("email", format!("a team member with e-mail {email} already exists")));
    }
    let row = sqlx::query(&format!(
        "INSERT INTO users (email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLS}"
    ))
    .bind(&email)
    .bind(u.name.trim())
    .bind(u.role.as_str())
    .bind(u.password_hash)
    .bind(w.at)
    .fetch_one(&mut *w.tx)
    .await?;
    let user = user_from(&row)?;
    w.audit("user.create", "user", Some(user.id.to_string()), None, Some(&user)).await?;
    Ok(user)
}

/// Changes a member's name, role or whether they may sign in. Disabling ends their sessions
/// and stops their tokens (returned, so the caller can say which); the last active admin
/// cannot be demoted or disabled, or nobody could manage the team.
pub async fn update_user(
    w: &mut Write,
    id: i64,
    name: Option<&str>,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<(User, Vec<ApiToken>)> {
    let mut invalid = Invalid::default();
    if name.is_some() {
        keepwell_core::limits::required_text(&mut invalid, "name", name, keepwell_core::limits::NAME);
    }
    invalid.into_result(())?;
    let before = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?
        .map(|r| user_from(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("no team member with id {id}")))?;
    let loses_admin = before.role == Role::Admin
        && !before.disabled
        && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin));
    if loses_admin {
        let others: i64 =
            sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1")
                .bind(id)
                .fetch_one(&mut *w.tx)
                .await?
                .try_get(0)?;
        if others == 0 {
            let field = if disabled == Some(true) { "disabled" } else { "role" };
            return Err(StoreError::conflict(
                field,
                format!("{} is the last active admin; make another member admin first", before.email),
            ));
        }
    }
    let stopping = disabled == Some(true) && !before.disabled;
    let stopped = if stopping {
        let mut live = tokens_where(&mut w.tx, Tokens::OfMember(id)).await?;
        live.retain(|t| t.effective_role.is_some());
        live
    } else {
        Vec::new()
    };
    let row = sqlx::query(&format!(
        "UPDATE users SET name = $1, role = $2, disabled_at = CASE WHEN $3 IS NULL THEN disabled_at \
         WHEN $3 = 1 THEN COALESCE(disabled_at, $5) ELSE NULL END WHERE id = $4 RETURNING {USER_COLS}"
    ))
    .bind(name.map(str::trim).unwrap_or(&before.name))
    .bind(role.unwrap_or(before.role).as_str())
    .bind(disabled.map(i64::from))
    .bind(id)
    .bind(w.at)
    .fetch_one(&mut *w.tx)
    .await?;
    let after = user_from(&row)?;
    if after.disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *w.tx).await?;
    }
    w.audit("user.update", "user", Some(id.to_string()), Some(&before), Some(&after)).await?;
    Ok((after, stopped))
}

/// Replaces a member's password hash and ends their other sessions.
pub async fn set_password(w: &mut Write, id: i64, hash: &str, keep_session: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(id).execute(&mut *w.tx).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut *w.tx)
        .await?;
    w.audit::<()>("user.password", "user", Some(id.to_string()), None, None).await?;
    Ok(())
}

/// Makes a token for `actor`'s member, or for the operator when the actor is no member (the
/// CLI): an operator's token keeps its role; a member's acts with the lower of the two.
pub async fn create_api_token(w: &mut Write, name: &str, role: Role, hash: &str, prefix: &str) -> Result<ApiToken> {
    let name = name.trim();
    let mut invalid = Invalid::default();
    keepwell_core::limits::required_text(&mut invalid, "name", Some(name), keepwell_core::limits::NAME);
    invalid.into_result(())?;
    let id: i64 = sqlx::query(
        "INSERT INTO api_tokens (name, role, token_hash, prefix, created_by, created_at, operator) VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(hash)
    .bind(prefix)
    .bind(w.actor.user_id)
    .bind(w.at)
    .bind(i64::from(w.actor.user_id.is_none()))
    .fetch_one(&mut *w.tx)
    .await?
    .try_get(0)?;
    let token = tokens_where(&mut w.tx, Tokens::Id(id)).await?.pop().ok_or_else(|| corrupt_token(id))?;
    w.audit("token.create", "api_token", Some(token.id.to_string()), None, Some(&token)).await?;
    Ok(token)
}

pub async fn revoke_api_token(w: &mut Write, id: i64) -> Result<()> {
    let r = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(w.at)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("no live API token with id {id}")));
    }
    w.audit::<()>("token.revoke", "api_token", Some(id.to_string()), None, None).await?;
    Ok(())
}

pub async fn create_write_key(w: &mut Write, name: &str, hash: &str, prefix: &str) -> Result<WriteKey> {
    if name.trim().is_empty() {
        return Err(Invalid::field("name", "is required").into());
    }
    let row = sqlx::query("INSERT INTO write_keys (name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4) RETURNING id, name, prefix, created_at, revoked_at")
        .bind(name.trim())
        .bind(hash)
        .bind(prefix)
        .bind(w.at)
        .fetch_one(&mut *w.tx)
        .await?;
    let key = key_from(&row)?;
    w.audit("writekey.create", "write_key", Some(key.id.to_string()), None, Some(&key)).await?;
    Ok(key)
}

pub async fn revoke_write_key(w: &mut Write, id: i64) -> Result<()> {
    let r = sqlx::query("UPDATE write_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(w.at)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("no live write key with id {id}")));
    }
    w.audit::<()>("writekey.revoke", "write_key", Some(id.to_string()), None, None).await?;
    Ok(())
}

fn user_from(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: r.try_get("id")?,
        email: text(r, "email")?,
        name: text(r, "name")?,
        role: text(r, "role")?.parse().map_err(StoreError::Corrupt)?,
        locale: opt_text(r, "locale")?,
        disabled: get_opt_i64(r, "disabled_at")?.is_some(),
        created_at: instant(r.try_get("created_at")?),
    })
}

const USER_COLS: &str = "id, email, name, role, locale, disabled_at, created_at";

/// A signed-in person's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user: User,
    pub csrf_token: String,
    /// A one-time message for the next page, set after a form succeeds.
    pub flash: Option<String>,
}

/// A session as its owner sees it on the sessions page.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id_hash: String,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// A REST API token (its secret is shown once and stored only as a hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    /// The member who made it, and for whom it acts; none for an operator's token
    /// (`keepwell token create`) or when that member was deleted.
    pub created_by: Option<i64>,
    /// The member's e-mail; none for an operator's token.
    pub member: Option<String>,
    /// What it may do now: the lower of its own role and its member's current one (an
    /// operator's token keeps its own); none when it cannot act at all (revoked, its member
    /// disabled or deleted).
    pub effective_role: Option<Role>,
}

/// An ingestion write key: it can only send events.
#[derive(Debug, Clone, Serialize)]
pub struct WriteKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

/// A new team member.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

impl Store {
    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// A member and their password hash, for signing in.
    pub async fn user_for_login(&self, email: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS}, password_hash FROM users WHERE email = $1"))
            .bind(email.trim().to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((user_from(&r)?, text(&r, "password_hash")?))).transpose()
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        Ok(self.user_for_login(email).await?.map(|(u, _)| u))
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        sqlx::query(&format!("SELECT {USER_COLS} FROM users ORDER BY name, id"))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(user_from)
            .collect()
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(self.pool()).await?.try_get(0)?)
    }

    /// The language a member chose for the UI (None: follow the browser).
    pub async fn set_user_locale(&self, id: i64, locale: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE users SET locale = $1 WHERE id = $2").bind(locale).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf_token: &str,
        user_agent: Option<&str>,
        ttl_secs: i64,
    ) -> Result<()> {
        let now = self.now_micros();
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, user_agent, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(user_agent.map(|u| u.chars().take(200).collect::<String>()))
        .bind(now)
        .bind(now + ttl_secs * 1_000_000)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A live session of an enabled member; refreshes its last-seen time at most once a minute.
    pub async fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        let now = self.now_micros();
        let row = sqlx::query(&format!(
            "SELECT s.csrf_token, s.flash, s.last_seen_at, {} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
            USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(id_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let last_seen: i64 = row.try_get("last_seen_at")?;
        if now - last_seen > 60_000_000 {
            let (pool, id_hash) = (self.pool().clone(), id_hash.to_owned());
            refresh_beside(async move {
                let refresh = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2").bind(now);
                if let Err(e) = refresh.bind(id_hash).execute(&pool).await {
                    tracing::warn!("a session's last-seen time was not refreshed: {e}");
                }
            });
        }
        Ok(Some(Session {
            id_hash: id_hash.to_owned(),
            user: user_from(&row)?,
            csrf_token: text(&row, "csrf_token")?,
            flash: opt_text(&row, "flash")?,
        }))
    }

    /// Sets (or, with None, clears) the message the session's next page shows.
    pub async fn set_flash(&self, id_hash: &str, flash: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE sessions SET flash = $1 WHERE id_hash = $2")
            .bind(flash)
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(self.pool()).await?;
        Ok(())
    }

    /// Ends one of a member's own sessions.
    pub async fn end_user_session(&self, user_id: i64, id_hash: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND user_id = $2")
            .bind(id_hash)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn user_sessions(&self, user_id: i64) -> Result<Vec<SessionInfo>> {
        sqlx::query("SELECT id_hash, user_agent, created_at, last_seen_at FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC")
            .bind(user_id)
            .bind(self.now_micros())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(SessionInfo {
                    id_hash: text(r, "id_hash")?,
                    user_agent: opt_text(r, "user_agent")?,
                    created_at: instant(r.try_get("created_at")?),
                    last_seen_at: instant(r.try_get("last_seen_at")?),
                })
            })
            .collect()
    }

    /// The token with this hash if it may act now (its effective role), marking it used. Read
    /// on every request, so a member demoted or disabled is a token demoted or stopped at once.
    pub async fn api_token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let mut conn = self.pool().acquire().await?;
        let Some(token) = tokens_where(&mut conn, Tokens::Hash(hash)).await?.pop() else { return Ok(None) };
        if token.effective_role.is_none() {
            return Ok(None);
        }
        let now = self.now_micros();
        if token.last_used_at.is_none_or(|t| now - t.timestamp_micros() > 60_000_000) {
            let (pool, id) = (self.pool().clone(), token.id);
            refresh_beside(async move {
                let mark = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(now).bind(id);
                if let Err(e) = mark.execute(&pool).await {
                    tracing::warn!("a token's last use was not recorded: {e}");
                }
            });
        }
        Ok(Some(token))
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        let mut conn = self.pool().acquire().await?;
        tokens_where(&mut conn, Tokens::All).await
    }

    pub async fn write_keys(&self) -> Result<Vec<WriteKey>> {
        sqlx::query("SELECT id, name, prefix, created_at, revoked_at FROM write_keys ORDER BY id DESC")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(key_from)
            .collect()
    }

    /// The live write key with this hash.
    pub async fn write_key_by_hash(&self, hash: &str) -> Result<Option<WriteKey>> {
        sqlx::query("SELECT id, name, prefix, created_at, revoked_at FROM write_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(hash)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(key_from)
            .transpose()
    }
}

/// Which tokens to read.
enum Tokens<'a> {
    All,
    Id(i64),
    Hash(&'a str),
    OfMember(i64),
}

/// Tokens newest first, with their member and effective role.
async fn tokens_where(conn: &mut sqlx::AnyConnection, which: Tokens<'_>) -> Result<Vec<ApiToken>> {
    let condition = match which {
        Tokens::All => "1 = 1",
        Tokens::Id(_) => "t.id = $1",
        Tokens::Hash(_) => "t.token_hash = $1",
        Tokens::OfMember(_) => "t.created_by = $1",
    };
    let sql = format!(
        "SELECT t.id, t.name, t.role, t.prefix, t.created_at, t.last_used_at, t.revoked_at, t.created_by, t.operator,
                u.email AS member_email, u.role AS member_role, u.disabled_at AS member_disabled_at
         FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by WHERE {condition} ORDER BY t.id DESC"
    );
    let query = sqlx::query(&sql);
    let query = match which {
        Tokens::All => query,
        Tokens::Id(id) | Tokens::OfMember(id) => query.bind(id),
        Tokens::Hash(h) => query.bind(h),
    };
    query.fetch_all(&mut *conn).await?.iter().map(token_from).collect()
}

fn corrupt_token(id: i64) -> StoreError {
    StoreError::Corrupt(format!("API token {id} vanished inside its transaction"))
}

fn token_from(r: &AnyRow) -> Result<ApiToken> {
    let role: Role = text(r, "role")?.parse().map_err(StoreError::Corrupt)?;
    let revoked = get_opt_i64(r, "revoked_at")?.is_some();
    let operator = r.try_get::<i64, _>("operator")? != 0;
    let member = opt_text(r, "member_email")?;
    let member_role =
        opt_text(r, "member_role")?.map(|m| m.parse::<Role>().map_err(StoreError::Corrupt)).transpose()?;
    let member_live = get_opt_i64(r, "member_disabled_at")?.is_none();
    let effective_role = match (revoked, operator, member_role) {
        (true, _, _) => None,
        (false, true, _) => Some(role),
        (false, false, Some(m)) if member_live => Some(role.min(m)),
        (false, false, _) => None,
    };
    Ok(ApiToken {
        id: r.try_get("id")?,
        name: text(r, "name")?,
        role,
        prefix: text(r, "prefix")?,
        created_at: instant(r.try_get("created_at")?),
        last_used_at: get_opt_i64(r, "last_used_at")?.map(instant),
        revoked,
        created_by: get_opt_i64(r, "created_by")?,
        member,
        effective_role,
    })
}

fn key_from(r: &AnyRow) -> Result<WriteKey> {
    Ok(WriteKey {
        id: r.try_get("id")?,
        name: text(r, "name")?,
        prefix: text(r, "prefix")?,
        created_at: instant(r.try_get("created_at")?),
        revoked: get_opt_i64(r, "revoked_at")?.is_some(),
    })
}

/// What a member is told by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NotificationSettings {
    /// An e-mail when an account they own changes health band (one summary per day).
    pub band_changed: bool,
    /// A weekly digest of their book.
    pub weekly_digest: bool,
    /// An IANA time zone (`Europe/Berlin`), for the digest's hour.
    pub time_zone: String,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings { band_changed: true, weekly_digest: false, time_zone: "UTC".into() }
    }
}

impl Store {
    /// A member's notification settings (the defaults when never set).
    pub async fn notification_settings(&self, user: i64) -> Result<NotificationSettings> {
        let row =
            sqlx::query("SELECT band_changed, weekly_digest, time_zone FROM notification_settings WHERE user_id = $1")
                .bind(user)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            None => NotificationSettings::default(),
            Some(r) => NotificationSettings {
                band_changed: r.try_get::<i64, _>("band_changed")? != 0,
                weekly_digest: r.try_get::<i64, _>("weekly_digest")? != 0,
                time_zone: text(&r, "time_zone")?,
            },
        })
    }
}

/// Replaces a member's notification settings.
pub async fn set_notification_settings(w: &mut Write, user: i64, s: &NotificationSettings) -> Result<()> {
    let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1").bind(user).fetch_optional(&mut *w.tx).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("no team member with id {user}")));
    }
    sqlx::query(
        "INSERT INTO notification_settings (user_id, band_changed, weekly_digest, time_zone) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET band_changed = excluded.band_changed, weekly_digest = excluded.weekly_digest, \
         time_zone = excluded.time_zone",
    )
    .bind(user)
    .bind(i64::from(s.band_changed))
    .bind(i64::from(s.weekly_digest))
    .bind(&s.time_zone)
    .execute(&mut *w.tx)
    .await?;
    w.audit("user.notifications", "user", Some(user.to_string()), None, Some(s)).await
}

/// A last-seen or last-used refresh is running beside a request.
static REFRESHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs a timestamp refresh beside the request, not in it: the refresh is a write, and a write
/// waits for the one writer (an import, the daily pass) up to the busy timeout, holding a pooled
/// connection, while a page needs only to read. One at a time: while one waits, the others are
/// skipped (the next request past the minute asks again), so refreshes never hold more than one
/// connection. A refresh lost in a crash costs nothing.
fn refresh_beside(write: impl std::future::Future<Output = ()> + Send + 'static) {
    use std::sync::atomic::Ordering;
    if REFRESHING.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return;
    }
    /// Lets the next refresh run however this one ends.
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            REFRESHING.store(false, Ordering::Release);
        }
    }
    let done = Done;
    tokio::spawn(async move {
        let _done = done;
        write.await;
    });
}
