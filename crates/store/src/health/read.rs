//! What the API and pages read back: snapshots, segment members and their history, stage
//! history; and the CSM's own inputs: sentiment ratings and score overrides.

use crate::audit::{record, Actor};
use crate::sql::{corrupt, day};
use crate::sql::{opt_text, text, Arg, Sql};
use crate::{instant, Result, Store, Tx, Write};
use chrono::{DateTime, NaiveDate, Utc};
use keepwell_core::daily::decode;
use keepwell_core::health::{Band, Reading};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;
use std::str::FromStr;

/// An account's score in force.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    pub account: i64,
    pub score: Option<Decimal>,
    pub band: Option<Band>,
    pub overridden: bool,
    /// Percent of the applicable measures' weight with data.
    pub coverage: Option<Decimal>,
}

/// A stored daily snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub day: NaiveDate,
    pub scorecard_id: i64,
    pub revision: i64,
    pub score: Option<Decimal>,
    pub band: Option<Band>,
    pub readings: Vec<Reading>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MemberRow {
    pub account_id: i64,
    pub name: String,
    /// The day it entered (the latest time).
    pub since: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SegmentChange {
    pub account_id: i64,
    pub name: String,
    pub day: NaiveDate,
    /// `entered` or `left`.
    pub change: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    pub from_stage: Option<String>,
    pub to_stage: String,
    /// `manual` or `rule:KEY`.
    pub cause: String,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sentiment {
    pub id: i64,
    /// 1 (very unhappy) to 5 (very happy).
    pub rating: i64,
    pub reason: String,
    pub day: NaiveDate,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Override {
    pub id: i64,
    #[schema(value_type = String)]
    pub score: Decimal,
    pub reason: String,
    pub starts_on: NaiveDate,
    /// The first day it no longer applies.
    pub expires_on: NaiveDate,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}

impl Override {
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.starts_on <= day && day < self.expires_on && self.cleared_at.is_none_or(|c| c.date_naive() > day)
    }
}

fn snapshot_from(r: &AnyRow) -> Result<Snapshot> {
    Ok(Snapshot {
        day: day(r, "day")?,
        scorecard_id: r.try_get("scorecard_id")?,
        revision: r.try_get("revision")?,
        score: opt_text(r, "score")?.map(|s| Decimal::from_str(&s).map_err(|_| corrupt("score"))).transpose()?,
        band: opt_text(r, "band")?.as_deref().and_then(Band::parse),
        readings: decode(&text(r, "vals")?).ok_or_else(|| corrupt("vals"))?,
    })
}

const SNAPSHOT_COLS: &str = "day, scorecard_id, revision, score, band, vals";

/// The members of a segment as of a day: those whose latest change by then is an entry.
const MEMBERS: &str = "FROM segment_changes c JOIN accounts a ON a.id = c.account_id \
    WHERE c.segment_id = $1 AND c.entered = 1 AND c.day <= $2 AND NOT EXISTS (SELECT 1 FROM segment_changes l \
    WHERE l.segment_id = c.segment_id AND l.account_id = c.account_id AND l.day > c.day AND l.day <= $2)";

impl Store {
    /// An account's snapshot of a day.
    pub async fn snapshot(&self, account: i64, on: NaiveDate) -> Result<Option<Snapshot>> {
        let row =
            sqlx::query(&format!("SELECT {SNAPSHOT_COLS} FROM health_snapshots WHERE account_id = $1 AND day = $2"))
                .bind(account)
                .bind(on.to_string())
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(snapshot_from).transpose()
    }

    /// An account's snapshots from `from` to `to`, oldest first.
    pub async fn snapshots(&self, account: i64, from: NaiveDate, to: NaiveDate) -> Result<Vec<Snapshot>> {
        sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLS} FROM health_snapshots WHERE account_id = $1 AND day >= $2 AND day <= $3 ORDER BY day"
        ))
        .bind(account)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(snapshot_from)
        .collect()
    }

    /// A page of a segment's members as of `on`, by account id after `after`.
    pub async fn segment_members(&self, segment: i64, on: NaiveDate, after: i64, limit: i64) -> Result<Vec<MemberRow>> {
        sqlx::query(&format!(
            "SELECT c.account_id, a.name, c.day {MEMBERS} AND c.account_id > $3 ORDER BY c.account_id LIMIT $4"
        ))
        .bind(segment)
        .bind(on.to_string())
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok(MemberRow { account_id: r.try_get("account_id")?, name: text(r, "name")?, since: day(r, "day")? }))
        .collect()
    }

    pub async fn count_segment_members(&self, segment: i64, on: NaiveDate) -> Result<i64> {
        Ok(sqlx::query(&format!("SELECT COUNT(*) AS n {MEMBERS}"))
            .bind(segment)
            .bind(on.to_string())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?)
    }

    /// Who entered and left a segment from `from` to `to`, newest first.
    pub async fn segment_history(
        &self,
        segment: i64,
        from: NaiveDate,
        to: NaiveDate,
        limit: i64,
    ) -> Result<Vec<SegmentChange>> {
        sqlx::query(
            "SELECT c.account_id, a.name, c.day, c.entered FROM segment_changes c JOIN accounts a ON a.id = c.account_id \
             WHERE c.segment_id = $1 AND c.day >= $2 AND c.day <= $3 ORDER BY c.day DESC, a.name LIMIT $4",
        )
        .bind(segment)
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(SegmentChange {
                account_id: r.try_get("account_id")?,
                name: text(r, "name")?,
                day: day(r, "day")?,
                change: if r.try_get::<i64, _>("entered")? == 1 { "entered" } else { "left" }.into(),
            })
        })
        .collect()
    }

    /// An account's stage changes, newest first.
    pub async fn stage_changes(&self, account: i64) -> Result<Vec<StageChange>> {
        sqlx::query(
            "SELECT day, at, from_stage, to_stage, cause, actor FROM stage_changes WHERE account_id = $1 ORDER BY day DESC, id DESC",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(StageChange {
                day: day(r, "day")?,
                at: instant(r.try_get("at")?),
                from_stage: opt_text(r, "from_stage")?,
                to_stage: text(r, "to_stage")?,
                cause: text(r, "cause")?,
                actor: text(r, "actor")?,
            })
        })
        .collect()
    }

    pub async fn sentiments(&self, account: i64) -> Result<Vec<Sentiment>> {
        sqlx::query("SELECT id, rating, reason, day, author, created_at FROM sentiments WHERE account_id = $1 ORDER BY day DESC, id DESC")
            .bind(account)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(Sentiment {
                    id: r.try_get("id")?,
                    rating: r.try_get("rating")?,
                    reason: text(r, "reason")?,
                    day: day(r, "day")?,
                    author: text(r, "author")?,
                    created_at: instant(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    pub async fn overrides(&self, account: i64) -> Result<Vec<Override>> {
        sqlx::query(
            "SELECT id, score, reason, starts_on, expires_on, author, created_at, cleared_at FROM health_overrides \
             WHERE account_id = $1 ORDER BY id DESC",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(Override {
                id: r.try_get("id")?,
                score: Decimal::from_str(&text(r, "score")?).map_err(|_| corrupt("score"))?,
                reason: text(r, "reason")?,
                starts_on: day(r, "starts_on")?,
                expires_on: day(r, "expires_on")?,
                author: text(r, "author")?,
                created_at: instant(r.try_get("created_at")?),
                cleared_at: crate::get_opt_i64(r, "cleared_at")?.map(instant),
            })
        })
        .collect()
    }
}

pub async fn add_sentiment(w: &mut Write, account: i64, rating: i64, reason: &str, on: NaiveDate) -> Result<Sentiment> {
    let id: i64 = sqlx::query(
        "INSERT INTO sentiments (account_id, rating, reason, day, author, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(account)
    .bind(rating)
    .bind(reason)
    .bind(on.to_string())
    .bind(&w.actor.label)
    .bind(w.at)
    .fetch_one(&mut *w.tx)
    .await?
    .try_get("id")?;
    let s = Sentiment {
        id,
        rating,
        reason: reason.into(),
        day: on,
        author: w.actor.label.clone(),
        created_at: instant(w.at),
    };
    w.audit("sentiment.create", "sentiment", Some(account.to_string()), None, Some(&s)).await?;
    Ok(s)
}

/// Overrides an account's score from `on` until `expires_on` (exclusive), clearing any override
/// still in force.
pub async fn add_override(
    w: &mut Write,
    account: i64,
    score: Decimal,
    reason: &str,
    on: NaiveDate,
    expires_on: NaiveDate,
) -> Result<Override> {
    clear_overrides(&mut w.tx, &w.actor, account, w.at).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO health_overrides (account_id, score, reason, starts_on, expires_on, author, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(account)
    .bind(score.normalize().to_string())
    .bind(reason)
    .bind(on.to_string())
    .bind(expires_on.to_string())
    .bind(&w.actor.label)
    .bind(w.at)
    .fetch_one(&mut *w.tx)
    .await?
    .try_get("id")?;
    let o = Override {
        id,
        score,
        reason: reason.into(),
        starts_on: on,
        expires_on,
        author: w.actor.label.clone(),
        created_at: instant(w.at),
        cleared_at: None,
    };
    w.audit("health_override.create", "health_override", Some(account.to_string()), None, Some(&o)).await?;
    refresh_in_force(&mut w.tx, w.backend, account, Some(score), on).await?;
    Ok(o)
}

/// Ends the override in force, if any, as of `today`.
pub async fn clear_override(w: &mut Write, account: i64, today: NaiveDate) -> Result<bool> {
    let cleared = clear_overrides(&mut w.tx, &w.actor, account, w.at).await?;
    if cleared {
        refresh_in_force(&mut w.tx, w.backend, account, None, today).await?;
    }
    Ok(cleared)
}

async fn clear_overrides(tx: &mut Tx, actor: &Actor, account: i64, now: i64) -> Result<bool> {
    let n = sqlx::query("UPDATE health_overrides SET cleared_at = $1 WHERE account_id = $2 AND cleared_at IS NULL")
        .bind(now)
        .bind(account)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n > 0 {
        record::<()>(tx, now, actor, "health_override.clear", "health_override", Some(account.to_string()), None, None)
            .await?;
    }
    Ok(n > 0)
}

/// Keeps the score in force of the account's snapshots from `from` on in step with an override
/// set (`Some`) or ended (`None`: back to the computed score).
async fn refresh_in_force(
    tx: &mut Tx,
    backend: crate::Backend,
    account: i64,
    overridden: Option<Decimal>,
    from: NaiveDate,
) -> Result<()> {
    let rows = sqlx::query(
        "SELECT s.day, s.vals, s.band, r.definition FROM health_snapshots s JOIN scorecard_revisions r \
         ON r.scorecard_id = s.scorecard_id AND r.revision = s.revision WHERE s.account_id = $1 AND s.day >= $2 \
         AND (s.band IS NULL OR s.band <> 'churned')",
    )
    .bind(account)
    .bind(from.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let mut newest: Option<(NaiveDate, crate::figures::HealthFigure)> = None;
    for r in rows {
        let def: keepwell_core::definitions::ScorecardDef =
            serde_json::from_str(&text(&r, "definition")?).map_err(|_| corrupt("scorecard revision"))?;
        let card = keepwell_core::definitions::Scorecard::compile(0, 0, def).map_err(|e| corrupt(&e))?;
        let readings = decode(&text(&r, "vals")?).ok_or_else(|| corrupt("vals"))?;
        // A churned day has no score to override (those were left out above).
        let computed = card.score(&readings, false);
        let score = overridden.or(computed.scored.score);
        let band = score.map(|s| card.bands.of(s)).or(computed.band);
        sqlx::query("UPDATE health_snapshots SET score = $1, band = $2 WHERE account_id = $3 AND day = $4")
            .bind(score.map(|s| s.normalize().to_string()))
            .bind(band.map(|b| b.as_str().to_owned()))
            .bind(account)
            .bind(text(&r, "day")?)
            .execute(&mut **tx)
            .await?;
        let day = NaiveDate::from_str(&text(&r, "day")?).map_err(|_| corrupt("day"))?;
        if newest.as_ref().is_none_or(|(d, _)| *d < day) {
            let coverage = computed.scored.coverage;
            let figure =
                crate::figures::HealthFigure { account, score, band, coverage, overridden: overridden.is_some() };
            newest = Some((day, figure));
        }
    }
    // The accounts list shows the score in force of the newest pass.
    if let Some((day, figure)) = newest {
        if !crate::figures::newest(tx, day).await? {
            return Ok(());
        }
        crate::figures::write_health(tx, backend, super::Scope::Accounts(&[account]), day, vec![figure]).await?;
    }
    Ok(())
}

/// The score in force of each account of `scope` on `day`'s pass, with its band, coverage and
/// whether an override set it.
pub(crate) async fn health_in_force(
    conn: &mut sqlx::AnyConnection,
    day: NaiveDate,
    scope: super::Scope<'_>,
) -> Result<Vec<Health>> {
    let mut sql = Sql::new(
        "SELECT s.account_id, s.score, s.band, s.vals, r.scorecard_id, r.revision, r.definition, \
         (SELECT COUNT(*) FROM health_overrides o WHERE o.account_id = s.account_id \
         AND o.cleared_at IS NULL AND o.starts_on <= s.day AND o.expires_on > s.day) AS overrides \
         FROM health_snapshots s JOIN scorecard_revisions r ON r.scorecard_id = s.scorecard_id AND r.revision = s.revision \
         WHERE s.day = ",
    );
    sql.bind(Arg::Text(day.to_string()));
    scope.push(&mut sql, "s.account_id");
    // The snapshots share a scorecard revision or a few: each compiled once.
    let mut cards: HashMap<(i64, i64), keepwell_core::definitions::Scorecard> = HashMap::new();
    let mut out = Vec::new();
    for r in sql.query().fetch_all(&mut *conn).await? {
        let key = (r.try_get::<i64, _>("scorecard_id")?, r.try_get::<i64, _>("revision")?);
        let card = match cards.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let def = serde_json::from_str(&text(&r, "definition")?).map_err(|_| corrupt("scorecard revision"))?;
                e.insert(keepwell_core::definitions::Scorecard::compile(key.0, key.1, def).map_err(|e| corrupt(&e))?)
            }
        };
        let readings = decode(&text(&r, "vals")?).ok_or_else(|| corrupt("vals"))?;
        let coverage = card.score(&readings, false).scored.coverage;
        out.push(Health {
            account: r.try_get("account_id")?,
            score: opt_text(&r, "score")?.map(|s| Decimal::from_str(&s).map_err(|_| corrupt("score"))).transpose()?,
            band: opt_text(&r, "band")?.as_deref().and_then(Band::parse),
            overridden: r.try_get::<i64, _>("overrides")? > 0,
            coverage,
        });
    }
    Ok(out)
}

/// Records a stage change made by hand (or an import), in the transaction that made it.
pub(crate) async fn record_stage_change(
    tx: &mut Tx,
    now: i64,
    actor: &Actor,
    account: i64,
    from: &str,
    to: &str,
) -> Result<()> {
    if from == to {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO stage_changes (account_id, day, at, from_stage, to_stage, cause, actor) VALUES ($1, $2, $3, $4, $5, 'manual', $6)",
    )
    .bind(account)
    .bind(instant(now).date_naive().to_string())
    .bind(now)
    .bind(from)
    .bind(to)
    .bind(&actor.label)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
