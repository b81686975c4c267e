//! Renewals: one per subscription and due date, kept in line with the periods; an outcome a person
//! recorded is never overwritten.

use super::{decimal, opt_decimal, opt_term};
use crate::sql::{corrupt, day};
use crate::sql::{opt_text, text, Arg, Sql};
use crate::{Result, Store, StoreError, Write};
use chrono::NaiveDate;
use keepwell_core::renewal::{Outcome, Status, Terms};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;

/// A renewal: a date a subscription is up, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Renewal {
    pub id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub subscription_id: String,
    pub due_on: NaiveDate,
    pub plan: String,
    pub currency: String,
    pub arr: Decimal,
    pub outcome: Option<Outcome>,
    /// `billing` when read from the subscription's next period, `person` when recorded.
    pub outcome_source: Option<String>,
    pub new_arr: Option<Decimal>,
    pub reason: Option<String>,
    /// The committed term this renewal ends, in months.
    pub term_months: u32,
}

impl Renewal {
    /// Where it stands on `day` (see `renewal::Status`).
    pub fn status(&self, day: NaiveDate) -> Status {
        Status::of(self.outcome, self.outcome_source.as_deref(), self.due_on, day)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RenewalFilter {
    pub due_from: Option<NaiveDate>,
    pub due_to: Option<NaiveDate>,
    pub owner: Option<Option<i64>>,
    pub account_id: Option<i64>,
    /// `Some(false)`: undecided on `as_of` (scheduled churn included); `Some(true)`: decided.
    pub decided: Option<bool>,
    pub as_of: NaiveDate,
    /// Contract renewals, month-to-month ones or both, split at `contract_months`.
    pub terms: Terms,
    pub contract_months: u32,
    pub limit: i64,
}

/// One renewal as the renewal rates and totals need it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenewalValue {
    pub due_on: NaiveDate,
    pub currency: String,
    pub arr: Decimal,
    /// The ARR after it, once decided (a scheduled churn's zero included).
    pub new_arr: Option<Decimal>,
    pub outcome: Option<Outcome>,
    pub outcome_source: Option<String>,
    pub term_months: u32,
}

impl RenewalValue {
    pub fn status(&self, day: NaiveDate) -> Status {
        Status::of(self.outcome, self.outcome_source.as_deref(), self.due_on, day)
    }
}

/// A renewal with its account and owner, followed by a condition.
pub(super) const RENEWAL_SELECT: &str = "SELECT r.id, r.account_id, a.name AS account_name, a.owner_id, u.name AS owner_name, \
    r.subscription_id, r.due_on, r.plan, r.currency, r.arr, r.outcome, r.outcome_source, r.new_arr, r.reason, r.term_months \
    FROM renewals r JOIN accounts a ON a.id = r.account_id LEFT JOIN users u ON u.id = a.owner_id WHERE";

impl Store {
    /// The renewals `f` selects, by due date. In one row of JSON: a book's hundred renewals as
    /// rows cost a hundred hand-overs from SQLite's worker thread (see `book`).
    pub async fn renewals(&self, f: &RenewalFilter) -> Result<Vec<Renewal>> {
        let list = match self.backend() {
            crate::Backend::Sqlite => "json_group_array(json_array(",
            crate::Backend::Postgres => "COALESCE(json_agg(json_build_array(",
        };
        let mut sql = Sql::new(&format!(
            "SELECT {list}id, account_id, account_name, owner_id, owner_name, subscription_id, due_on, plan, currency, \
             arr, outcome, outcome_source, new_arr, reason, term_months)){} AS j FROM ({RENEWAL_SELECT} 1 = 1",
            if self.backend() == crate::Backend::Postgres { ", '[]')::text" } else { "" }
        ));
        if let Some(d) = f.due_from {
            sql.push(" AND r.due_on >= ").bind(Arg::Text(d.to_string()));
        }
        if let Some(d) = f.due_to {
            sql.push(" AND r.due_on <= ").bind(Arg::Text(d.to_string()));
        }
        match f.owner {
            Some(Some(id)) => {
                sql.push(" AND a.owner_id = ").bind(Arg::I64(id));
            }
            Some(None) => {
                sql.push(" AND a.owner_id IS NULL");
            }
            None => {}
        }
        if let Some(id) = f.account_id {
            sql.push(" AND r.account_id = ").bind(Arg::I64(id));
        }
        // A churn billing read off an end still ahead is scheduled, not decided.
        let scheduled = |sql: &mut Sql| {
            sql.push("(r.outcome = 'churned' AND r.outcome_source = 'billing' AND r.due_on > ")
                .bind(Arg::Text(f.as_of.to_string()))
                .push(")");
        };
        match f.decided {
            Some(true) => {
                sql.push(" AND r.outcome IS NOT NULL AND NOT ");
                scheduled(&mut sql);
            }
            Some(false) => {
                sql.push(" AND (r.outcome IS NULL OR ");
                scheduled(&mut sql);
                sql.push(")");
            }
            None => {}
        }
        match f.terms {
            Terms::Contract => {
                sql.push(" AND r.term_months >= ").bind(Arg::I64(i64::from(f.contract_months)));
            }
            Terms::Monthly => {
                sql.push(" AND r.term_months < ").bind(Arg::I64(i64::from(f.contract_months)));
            }
            Terms::All => {}
        }
        sql.push(" ORDER BY r.due_on, r.id LIMIT ").bind(Arg::I64(f.limit.clamp(1, 100_000))).push(") x");
        let row = sql.query().fetch_one(self.pool()).await?;
        let rows: Vec<JsonRenewal> =
            serde_json::from_str(&text(&row, "j")?).map_err(|e| corrupt(&format!("renewals: {e}")))?;
        let mut list = rows.into_iter().map(Renewal::try_from).collect::<Result<Vec<_>>>()?;
        // An aggregate need not keep its input's order.
        list.sort_by_key(|r| (r.due_on, r.id));
        Ok(list)
    }

    /// Every renewal due in `[from, to]`, for renewal rates and totals: all of them, however
    /// many, in one text row (see `revenue_inputs`).
    pub async fn renewal_values(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<RenewalValue>> {
        let row = sqlx::query(
            "SELECT string_agg(due_on || ' ' || currency || ' ' || arr || ' ' || COALESCE(new_arr, '-') || ' ' \
             || COALESCE(outcome, '-') || ' ' || COALESCE(outcome_source, '-') || ' ' || CAST(term_months AS TEXT), ';') AS lines \
             FROM renewals WHERE due_on >= $1 AND due_on <= $2",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_one(self.pool())
        .await?;
        let lines = opt_text(&row, "lines")?.unwrap_or_default();
        let decimal = |t: &str| Decimal::from_str(t).map_err(|_| corrupt("arr"));
        let dash = |t: &str| (t != "-").then(|| t.to_owned());
        lines
            .split(';')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let [due, currency, arr, new_arr, outcome, source, term] = f[..] else {
                    return Err(corrupt("renewals"));
                };
                Ok(RenewalValue {
                    due_on: NaiveDate::from_str(due).map_err(|_| corrupt("due_on"))?,
                    currency: currency.to_owned(),
                    arr: decimal(arr)?,
                    new_arr: dash(new_arr).map(|n| decimal(&n)).transpose()?,
                    outcome: dash(outcome).map(|o| Outcome::parse(&o).map_err(|_| corrupt("outcome"))).transpose()?,
                    outcome_source: dash(source),
                    term_months: term.parse().map_err(|_| corrupt("term_months"))?,
                })
            })
            .collect()
    }

    pub async fn renewal(&self, id: i64) -> Result<Option<Renewal>> {
        let row = sqlx::query(&format!("{RENEWAL_SELECT} r.id = $1")).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(renewal_from).transpose()
    }
}

/// A renewal as [`Store::renewals`] reads it: the columns of [`RENEWAL_SELECT`] in order.
type JsonRenewal = (
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

impl TryFrom<JsonRenewal> for Renewal {
    type Error = StoreError;

    fn try_from(r: JsonRenewal) -> Result<Renewal> {
        let money = |v: &str, col: &str| Decimal::from_str(v).map_err(|_| corrupt(col));
        Ok(Renewal {
            id: r.0,
            account_id: r.1,
            account_name: r.2,
            owner_id: r.3,
            owner_name: r.4,
            subscription_id: r.5,
            due_on: NaiveDate::from_str(&r.6).map_err(|_| corrupt("due_on"))?,
            plan: r.7,
            currency: r.8,
            arr: money(&r.9, "arr")?,
            outcome: r.10.map(|o| Outcome::parse(&o).map_err(|_| corrupt("outcome"))).transpose()?,
            outcome_source: r.11,
            new_arr: r.12.as_deref().map(|v| money(v, "new_arr")).transpose()?,
            reason: r.13,
            term_months: u32::try_from(r.14).map_err(|_| corrupt("term_months"))?,
        })
    }
}

pub(super) fn renewal_from(r: &AnyRow) -> Result<Renewal> {
    Ok(Renewal {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        account_name: text(r, "account_name")?,
        owner_id: r.try_get("owner_id")?,
        owner_name: opt_text(r, "owner_name")?,
        subscription_id: text(r, "subscription_id")?,
        due_on: day(r, "due_on")?,
        plan: text(r, "plan")?,
        currency: text(r, "currency")?,
        arr: decimal(r, "arr")?,
        outcome: opt_text(r, "outcome")?.map(|o| Outcome::parse(&o).map_err(|_| corrupt("outcome"))).transpose()?,
        outcome_source: opt_text(r, "outcome_source")?,
        new_arr: opt_decimal(r, "new_arr")?,
        reason: opt_text(r, "reason")?,
        term_months: opt_term(r)?.ok_or_else(|| corrupt("term_months"))?,
    })
}

/// Records what came of a renewal; a person's record stands over what billing implies.
pub async fn record_renewal(
    w: &mut Write,
    id: i64,
    outcome: Outcome,
    new_arr: Decimal,
    reason: Option<&str>,
) -> Result<Renewal> {
    let load = |row: Option<AnyRow>| -> Result<Renewal> {
        row.as_ref()
            .map(renewal_from)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("no renewal with id {id}")))
    };
    let before = load(sqlx::query(&format!("{RENEWAL_SELECT} r.id = $1")).bind(id).fetch_optional(&mut *w.tx).await?)?;
    sqlx::query(
        "UPDATE renewals SET outcome = $1, outcome_source = 'person', new_arr = $2, reason = $3, recorded_by = $4, recorded_at = $5 WHERE id = $6",
    )
    .bind(outcome.as_str())
    .bind(new_arr.normalize().to_string())
    .bind(reason.map(str::trim).filter(|r| !r.is_empty()))
    .bind(w.actor.user_id)
    .bind(w.at)
    .bind(id)
    .execute(&mut *w.tx)
    .await?;
    let after = serde_json::json!({"outcome": outcome, "new_arr": new_arr.to_string(), "reason": reason});
    let was = serde_json::json!({"outcome": before.outcome, "new_arr": before.new_arr.map(|d| d.to_string())});
    w.audit("renewal.record", "account", Some(before.account_id.to_string()), Some(&was), Some(&after)).await?;
    load(sqlx::query(&format!("{RENEWAL_SELECT} r.id = $1")).bind(id).fetch_optional(&mut *w.tx).await?)
}
