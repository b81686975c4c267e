//! What the rollups say about activity: active users over a window, daily active users, event
//! totals, each product user's last activity, the accounts ranked by activity — and the
//! workspace's plan → features catalogue that feature adoption is measured against.

use super::read::instant;
use crate::sql::{opt_text, text, Arg, Sql};
use crate::{Result, Store, Write};
use chrono::{DateTime, NaiveDate, Utc};
use keepwell_core::usage::{check_catalogue, Feature};
use serde::Serialize;
use sqlx::Row;

/// An event name's total over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventTotal {
    pub event: String,
    pub count: i64,
    /// Distinct users behind it over the whole window.
    pub users: i64,
}

/// A product user of an account, with the contact it is when one is linked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductUser {
    pub user_id: String,
    pub contact_id: Option<i64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

/// An account's activity over a window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountActivity {
    pub account_id: i64,
    pub name: String,
    pub active_users: i64,
    pub events: i64,
    /// The last activity of any of its users, ever.
    pub last_seen: Option<DateTime<Utc>>,
}

/// A customer account gone quiet: its last day of usage.
#[derive(Debug, Clone, Serialize)]
pub struct QuietAccount {
    pub account_id: i64,
    pub name: String,
    pub last_active: NaiveDate,
}

/// Which accounts to rank, and how.
#[derive(Debug, Clone, Copy)]
pub struct ActivityQuery {
    pub ranking: Ranking,
    /// First and last day, both included.
    pub window: (NaiveDate, NaiveDate),
    /// One CSM's accounts (`Some(None)`: those without an owner).
    pub owner: Option<Option<i64>>,
    /// Only accounts with a subscription in force on the window's last day.
    pub customers_only: bool,
    pub limit: i64,
}

/// Which end of the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    LeastActive,
    MostActive,
}

fn day(d: NaiveDate) -> Arg {
    Arg::Text(d.to_string())
}

impl Store {
    /// Distinct users active on `account` from `from` to `to` (both included).
    pub async fn active_users(&self, account: i64, from: NaiveDate, to: NaiveDate) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT user_key) AS n FROM usage_user_days WHERE account_id = $1 AND day >= $2 AND day <= $3",
        )
        .bind(account)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Distinct active users per day, for the days that had any.
    pub async fn daily_active_users(&self, account: i64, from: NaiveDate, to: NaiveDate) -> Result<Vec<(String, i64)>> {
        sqlx::query(
            "SELECT day, COUNT(DISTINCT user_key) AS n FROM usage_user_days \
             WHERE account_id = $1 AND day >= $2 AND day <= $3 GROUP BY day ORDER BY day",
        )
        .bind(account)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((text(r, "day")?, r.try_get("n")?)))
        .collect()
    }

    /// How many usage events the account had over the window.
    pub async fn event_count(&self, account: i64, from: NaiveDate, to: NaiveDate) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS n FROM usage_daily \
             WHERE account_id = $1 AND day >= $2 AND day <= $3",
        )
        .bind(account)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Each event name's count and distinct users over the window, most frequent first.
    pub async fn event_totals(&self, account: i64, from: NaiveDate, to: NaiveDate) -> Result<Vec<EventTotal>> {
        sqlx::query(
            "SELECT c.event, c.n, u.users FROM \
               (SELECT event, CAST(SUM(count) AS BIGINT) AS n FROM usage_daily \
                WHERE account_id = $1 AND day >= $2 AND day <= $3 GROUP BY event) c \
             JOIN (SELECT event, COUNT(DISTINCT user_key) AS users FROM usage_user_days \
                WHERE account_id = $1 AND day >= $2 AND day <= $3 GROUP BY event) u ON u.event = c.event \
             ORDER BY c.n DESC, c.event",
        )
        .bind(account)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok(EventTotal { event: text(r, "event")?, count: r.try_get("n")?, users: r.try_get("users")? }))
        .collect()
    }

    /// The account's product users, most recently active first.
    pub async fn product_users(&self, account: i64, limit: i64) -> Result<Vec<ProductUser>> {
        sqlx::query(
            "SELECT u.user_id, u.first_seen, u.last_seen, c.id AS contact_id, c.name, c.email FROM usage_users u \
             LEFT JOIN contact_user_ids x ON x.user_id = u.user_id LEFT JOIN contacts c ON c.id = x.contact_id \
             WHERE u.account_id = $1 ORDER BY u.last_seen DESC, u.user_id LIMIT $2",
        )
        .bind(account)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(ProductUser {
                user_id: text(r, "user_id")?,
                contact_id: r.try_get("contact_id")?,
                name: opt_text(r, "name")?,
                email: opt_text(r, "email")?,
                first_seen: r.try_get::<Option<i64>, _>("first_seen")?.map(instant),
                last_seen: r.try_get::<Option<i64>, _>("last_seen")?.map(instant),
            })
        })
        .collect()
    }

    /// Accounts ranked by users active in the window, then by events: the least active
    /// (accounts without any usage first) or the most.
    pub async fn account_activity(&self, q: &ActivityQuery) -> Result<Vec<AccountActivity>> {
        let ActivityQuery { ranking, window: (from, to), owner, customers_only, limit } = *q;
        let mut sql = Sql::new(
            "SELECT a.id, a.name, COALESCE(u.n, 0) AS active_users, COALESCE(e.n, 0) AS events, \
               (SELECT MAX(last_seen) FROM usage_users WHERE account_id = a.id) AS last_seen \
             FROM accounts a \
             LEFT JOIN (SELECT account_id, COUNT(DISTINCT user_key) AS n FROM usage_user_days \
               WHERE day >= ",
        );
        sql.bind(day(from)).push(" AND day <= ").bind(day(to));
        sql.push(
            " GROUP BY account_id) u ON u.account_id = a.id \
             LEFT JOIN (SELECT account_id, CAST(SUM(count) AS BIGINT) AS n FROM usage_daily WHERE day >= ",
        );
        sql.bind(day(from)).push(" AND day <= ").bind(day(to));
        sql.push(" GROUP BY account_id) e ON e.account_id = a.id WHERE 1=1");
        if customers_only {
            sql.push(" AND EXISTS (SELECT 1 FROM subscription_periods p WHERE p.account_id = a.id AND p.starts_on <= ")
                .bind(day(to))
                .push(" AND (p.ends_on IS NULL OR p.ends_on > ")
                .bind(day(to))
                .push("))");
        }
        match owner {
            Some(Some(o)) => {
                sql.push(" AND a.owner_id = ").bind(Arg::I64(o));
            }
            Some(None) => {
                sql.push(" AND a.owner_id IS NULL");
            }
            None => {}
        }
        sql.push(match ranking {
            Ranking::LeastActive => " ORDER BY active_users, events, last_seen, a.name_key, a.id",
            Ranking::MostActive => " ORDER BY active_users DESC, events DESC, a.name_key, a.id",
        });
        sql.push(" LIMIT ").bind(Arg::I64(limit));
        sql.query()
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(AccountActivity {
                    account_id: r.try_get("id")?,
                    name: text(r, "name")?,
                    active_users: r.try_get("active_users")?,
                    events: r.try_get("events")?,
                    last_seen: r.try_get::<Option<i64>, _>("last_seen")?.map(instant),
                })
            })
            .collect()
    }

    /// Customer accounts (a subscription in force `today`; `owner`'s, or everyone's) whose last
    /// usage of any kind — an event of any of its users, or one naming it by group — was on a day
    /// before `quiet_since`, the most recently quiet first. Read from each account's span of
    /// usage (`usage_accounts`, as `days_since_activity` is), so the cost follows the book.
    pub async fn quiet_accounts(
        &self,
        owner: Option<i64>,
        quiet_since: NaiveDate,
        today: NaiveDate,
        limit: i64,
    ) -> Result<Vec<QuietAccount>> {
        let mut sql = Sql::new(
            "SELECT a.id, a.name, u.last_day FROM accounts a JOIN usage_accounts u ON u.account_id = a.id WHERE ",
        );
        match owner {
            Some(o) => sql.push("a.owner_id = ").bind(Arg::I64(o)),
            None => sql.push("1 = 1"),
        };
        sql.push(" AND u.last_day < ")
            .bind(Arg::I64(keepwell_core::facts::day_number(quiet_since)))
            .push(" AND EXISTS (SELECT 1 FROM subscription_periods p WHERE p.account_id = a.id AND p.starts_on <= ")
            .bind(day(today))
            .push(" AND (p.ends_on IS NULL OR p.ends_on > ")
            .bind(day(today))
            .push(")) ORDER BY u.last_day DESC, a.id LIMIT ")
            .bind(Arg::I64(limit));
        sql.query()
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                let last: i64 = r.try_get("last_day")?;
                let last_active = i32::try_from(last + 719_163)
                    .ok()
                    .and_then(NaiveDate::from_num_days_from_ce_opt)
                    .ok_or_else(|| crate::StoreError::Corrupt(format!("a usage day: {last}")))?;
                Ok(QuietAccount { account_id: r.try_get("id")?, name: text(r, "name")?, last_active })
            })
            .collect()
    }

    /// The plan → features catalogue, by plan and feature.
    pub async fn plan_features(&self) -> Result<Vec<Feature>> {
        plan_features_in(&mut *self.pool().acquire().await?).await
    }
}

/// Replaces the whole catalogue (checked first; audited).
pub async fn set_plan_features(w: &mut Write, rows: &[Feature]) -> Result<()> {
    check_catalogue(rows)?;
    let before = plan_features_in(&mut w.tx).await?;
    sqlx::query("DELETE FROM plan_features").execute(&mut *w.tx).await?;
    for f in rows {
        let events: Vec<&str> = f.events.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect();
        sqlx::query("INSERT INTO plan_features (plan, feature, events) VALUES ($1, $2, $3)")
            .bind(f.plan.trim())
            .bind(f.feature.trim())
            .bind(serde_json::to_string(&events).unwrap_or_default())
            .execute(&mut *w.tx)
            .await?;
    }
    w.audit("plan_features.set", "workspace", None, Some(&before), Some(&rows.to_vec())).await?;
    Ok(())
}

async fn plan_features_in(conn: &mut sqlx::AnyConnection) -> Result<Vec<Feature>> {
    sqlx::query("SELECT plan, feature, events FROM plan_features ORDER BY plan, feature")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(Feature {
                plan: text(r, "plan")?,
                feature: text(r, "feature")?,
                events: serde_json::from_str(&text(r, "events")?).unwrap_or_default(),
            })
        })
        .collect()
}
