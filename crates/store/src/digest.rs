//! The weekly digest's reads and its e-mail: who asked for it, and the bands of a member's book on
//! the latest pass and on the pass a week before.

use crate::sql::text;
use crate::{Result, Store, Write};
use chrono::NaiveDate;
use keepwell_core::health::Band;
use sqlx::Row;

/// A member who asked for the weekly digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub user: i64,
    /// An IANA time zone, as the member set it.
    pub time_zone: String,
}

/// One live account of a member's book: its band on the latest pass and on the pass a week
/// before it (none when it had no score then, or there was no pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookAccount {
    pub account: i64,
    pub name: String,
    pub band: Option<Band>,
    pub was: Option<Band>,
}

/// A member's book as of a day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Book {
    /// The latest pass on or before the day, and the latest a week or more before that one.
    pub pass: Option<NaiveDate>,
    pub week_before: Option<NaiveDate>,
    /// By name.
    pub accounts: Vec<BookAccount>,
}

impl Store {
    /// The active members who asked for the weekly digest.
    pub async fn digest_subscribers(&self) -> Result<Vec<Subscriber>> {
        let rows = sqlx::query(
            "SELECT u.id, n.time_zone FROM users u JOIN notification_settings n ON n.user_id = u.id \
             WHERE n.weekly_digest = 1 AND u.disabled_at IS NULL ORDER BY u.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(Subscriber { user: r.try_get("id")?, time_zone: text(r, "time_zone")? })).collect()
    }

    /// The accounts `owner` owns that have not churned, with their band on the latest pass on or
    /// before `day` and on the pass a week before that.
    /// With no owner, every account's (a manager's view of the whole team).
    pub async fn book(&self, owner: Option<i64>, day: NaiveDate) -> Result<Book> {
        // One query per case, so a member's book reads through the owner index.
        let whose = if owner.is_some() { "a.owner_id = $1" } else { "$1 = $1" };
        let pass = self.last_pass_before(day + chrono::Days::new(1)).await?;
        let week_before = match pass {
            Some(p) => self.last_pass_before(p - chrono::Days::new(6)).await?,
            None => None,
        };
        // In one row of JSON: a book of a thousand accounts as a thousand rows costs a thousand
        // hand-overs from SQLite's worker thread (see ARCHITECTURE, the workspace's figures).
        let list = match self.backend() {
            crate::Backend::Sqlite => "json_group_array(json_array(id, name, band, was))",
            crate::Backend::Postgres => "COALESCE(json_agg(json_build_array(id, name, band, was)), '[]')::text",
        };
        let row = sqlx::query(&format!(
            "SELECT {list} AS j FROM (SELECT a.id, a.name, n.band AS band, p.band AS was FROM accounts a \
             LEFT JOIN health_snapshots n ON n.account_id = a.id AND n.day = $2 \
             LEFT JOIN health_snapshots p ON p.account_id = a.id AND p.day = $3 \
             WHERE {whose} AND a.lifecycle_stage <> 'churned') b"
        ))
        .bind(owner.unwrap_or_default())
        .bind(pass.map(|d| d.to_string()))
        .bind(week_before.map(|d| d.to_string()))
        .fetch_one(self.pool())
        .await?;
        let rows: Vec<(i64, String, Option<String>, Option<String>)> =
            serde_json::from_str(&text(&row, "j")?).map_err(|e| crate::StoreError::Corrupt(format!("a book: {e}")))?;
        let band = |b: &Option<String>| b.as_deref().and_then(Band::parse);
        let mut accounts: Vec<BookAccount> = rows
            .iter()
            .map(|(id, name, now, was)| BookAccount {
                account: *id,
                name: name.clone(),
                band: band(now),
                was: band(was),
            })
            .collect();
        // By name here, not in SQL: an aggregate need not keep its input's order.
        accounts.sort_by(|a, b| (&a.name, a.account).cmp(&(&b.name, b.account)));
        Ok(Book { pass, week_before, accounts })
    }
}

/// Queues `user`'s digest of `week` (`2026-W49`) to `to`, once: a second call for the same week
/// finds it queued and writes nothing.
pub async fn queue_digest(
    w: &mut Write,
    (user, week): (i64, &str),
    to: &str,
    payload: &serde_json::Value,
) -> Result<()> {
    let at = w.at();
    let occurrence = format!("email:weekly_digest:{user}:{week}");
    crate::deliveries::write_email(w.tx(), at, &occurrence, ("weekly_digest", None), to, payload).await
}
