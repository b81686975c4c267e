//! Subscription periods: imported, saved and replaced whole, each checked against the others of its
//! subscription (no overlaps, no moves between accounts) before anything is written.

use super::{account_exists, decimal, first_row, opt_day, opt_term, with_account_ids};
use crate::import::{finish_import, ImportSummary, RowError};
use crate::sql::{corrupt, day};
use crate::sql::{in_list, opt_text, text, upsert_rows, Arg, Sql};
use crate::{Backend, Result, Store, StoreError, Tx, Write};
use chrono::NaiveDate;
use keepwell_core::billing::{first_overlap, Interval, Period};
use keepwell_core::renewal::Outcome;
use keepwell_core::Invalid;
use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A stored subscription period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodRecord {
    pub id: i64,
    pub account_id: i64,
    pub period: Period,
    pub source: String,
}

pub(super) const PERIOD_COLS: &str =
    "id, account_id, subscription_id, plan, quantity, currency, amount, billing_interval, \
    starts_on, ends_on, renews_on, payment_terms, term_months, source";

/// Imports subscription periods keyed by (subscription, start): all or nothing.
pub async fn import_periods(
    w: &mut Write,
    rows: &[(String, Period)],
    progress: impl Fn(usize),
) -> Result<ImportSummary, RowError> {
    let rows = with_account_ids(&mut w.tx, rows).await?;
    progress(rows.len() / 2);
    let summary = write_periods(&mut w.tx, w.backend, w.at, &rows, "import").await?;
    let mut accounts: Vec<i64> = rows.iter().map(|(a, _)| *a).collect();
    accounts.sort_unstable();
    accounts.dedup();
    for chunk in accounts.chunks(5_000) {
        crate::figures::revenue_changed(w, Some(chunk)).await.map_err(first_row)?;
    }
    progress(rows.len());
    finish_import(w, "subscription", summary).await.map_err(first_row)
}

/// Creates or replaces one period of an account's subscription.
pub async fn save_period(w: &mut Write, account_id: i64, period: &Period) -> Result<PeriodRecord> {
    account_exists(&mut w.tx, account_id).await?;
    write_periods(&mut w.tx, w.backend, w.at, &[(account_id, period.clone())], "api").await.map_err(|e| e.error)?;
    let rec = sqlx::query(&format!(
        "SELECT {PERIOD_COLS} FROM subscription_periods WHERE subscription_id = $1 AND starts_on = $2"
    ))
    .bind(&period.subscription_id)
    .bind(period.starts_on.to_string())
    .fetch_one(&mut *w.tx)
    .await?;
    let rec = period_from(&rec)?;
    crate::figures::revenue_changed(w, Some(&[account_id])).await?;
    w.audit("subscription.save", "account", Some(account_id.to_string()), None, Some(&rec.period)).await?;
    Ok(rec)
}

/// Replaces every period of one subscription (Stripe sends the whole state).
pub async fn replace_subscription(
    w: &mut Write,
    account_id: i64,
    subscription_id: &str,
    periods: &[Period],
) -> Result<()> {
    sqlx::query("DELETE FROM subscription_periods WHERE subscription_id = $1")
        .bind(subscription_id)
        .execute(&mut *w.tx)
        .await?;
    let rows: Vec<(i64, Period)> = periods.iter().map(|p| (account_id, p.clone())).collect();
    if rows.is_empty() {
        sync_renewals(&mut w.tx, w.backend, &[subscription_id]).await?;
    } else {
        write_periods(&mut w.tx, w.backend, w.at, &rows, "stripe").await.map_err(|e| e.error)?;
    }
    crate::figures::revenue_changed(w, Some(&[account_id])).await
}

/// Every period of one subscription, as the write sees them.
pub async fn subscription_periods(w: &mut Write, subscription_id: &str) -> Result<Vec<PeriodRecord>> {
    periods_of_subscriptions(&mut w.tx, &[subscription_id]).await
}

pub async fn delete_period(w: &mut Write, account_id: i64, id: i64) -> Result<()> {
    let row = sqlx::query(&format!("SELECT {PERIOD_COLS} FROM subscription_periods WHERE id = $1 AND account_id = $2"))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&mut *w.tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {account_id} has no subscription period {id}")))?;
    let rec = period_from(&row)?;
    sqlx::query("DELETE FROM subscription_periods WHERE id = $1").bind(id).execute(&mut *w.tx).await?;
    sync_renewals(&mut w.tx, w.backend, &[rec.period.subscription_id.as_str()]).await?;
    crate::figures::revenue_changed(w, Some(&[account_id])).await?;
    w.audit("subscription.delete", "account", Some(account_id.to_string()), Some(&rec.period), None).await
}

impl Store {
    pub async fn count_periods(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM subscription_periods").fetch_one(self.pool()).await?.try_get(0)?)
    }

    pub async fn account_periods(&self, account_id: i64) -> Result<Vec<PeriodRecord>> {
        sqlx::query(&format!(
            "SELECT {PERIOD_COLS} FROM subscription_periods WHERE account_id = $1 ORDER BY subscription_id, starts_on"
        ))
        .bind(account_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(period_from)
        .collect()
    }
}

pub(super) fn period_from(r: &AnyRow) -> Result<PeriodRecord> {
    Ok(PeriodRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        source: text(r, "source")?,
        period: Period {
            subscription_id: text(r, "subscription_id")?,
            plan: text(r, "plan")?,
            quantity: r.try_get("quantity")?,
            currency: text(r, "currency")?,
            amount: decimal(r, "amount")?,
            interval: Interval::parse(&text(r, "billing_interval")?).map_err(|_| corrupt("billing_interval"))?,
            starts_on: day(r, "starts_on")?,
            ends_on: opt_day(r, "ends_on")?,
            renews_on: opt_day(r, "renews_on")?,
            payment_terms: opt_text(r, "payment_terms")?,
            term_months: opt_term(r)?,
        },
    })
}

/// Writes periods (new or replacing the one with the same subscription and start), after checking
/// that no subscription moves between accounts and no two periods of one subscription overlap.
pub(super) async fn write_periods(
    tx: &mut Tx,
    backend: Backend,
    now: i64,
    rows: &[(i64, Period)],
    source: &str,
) -> Result<ImportSummary, RowError> {
    let fail =
        |index: usize, field: &str, message: String| RowError { index, error: Invalid::field(field, message).into() };
    let mut seen: HashMap<(&str, NaiveDate), usize> = HashMap::new();
    for (i, (_, p)) in rows.iter().enumerate() {
        if let Some(first) = seen.insert((&p.subscription_id, p.starts_on), i) {
            return Err(fail(
                i,
                "starts_on",
                format!(
                    "subscription {:?} has two periods starting {} (rows {} and {})",
                    p.subscription_id,
                    p.starts_on,
                    first + 1,
                    i + 1
                ),
            ));
        }
    }
    let subs: Vec<&str> =
        rows.iter().map(|(_, p)| p.subscription_id.as_str()).collect::<HashSet<_>>().into_iter().collect();
    let existing = periods_of_subscriptions(tx, &subs).await.map_err(first_row)?;
    let mut owner: HashMap<&str, i64> = HashMap::new();
    for e in &existing {
        owner.insert(&e.period.subscription_id, e.account_id);
    }
    let stored: HashSet<(&str, NaiveDate)> =
        existing.iter().map(|e| (e.period.subscription_id.as_str(), e.period.starts_on)).collect();
    let mut summary = ImportSummary::default();
    for (i, (account, p)) in rows.iter().enumerate() {
        match owner.get(p.subscription_id.as_str()) {
            Some(o) if o != account => {
                return Err(fail(
                    i,
                    "subscription_id",
                    format!("subscription {:?} belongs to another account (id {o})", p.subscription_id),
                ))
            }
            _ => {
                owner.insert(&p.subscription_id, *account);
            }
        }
        if stored.contains(&(p.subscription_id.as_str(), p.starts_on)) {
            summary.updated += 1;
        } else {
            summary.created += 1;
        }
    }
    // The subscription as it will be: stored periods not replaced, plus the new ones.
    let replaced: HashSet<(&str, NaiveDate)> = seen.keys().copied().collect();
    let kept: Vec<&Period> = existing
        .iter()
        .map(|e| &e.period)
        .filter(|p| !replaced.contains(&(p.subscription_id.as_str(), p.starts_on)))
        .collect();
    let all: Vec<&Period> = rows.iter().map(|(_, p)| p).chain(kept.iter().copied()).collect();
    if let Some((a, b)) = first_overlap(&all) {
        let (row, other) = if a < rows.len() && b < rows.len() { (b, all[a]) } else { (a.min(b), all[a.max(b)]) };
        let end = other.ends_on.map_or("open".to_owned(), |e| e.to_string());
        let whence = if a.max(b) < rows.len() { format!("row {}", a.min(b) + 1) } else { "already stored".into() };
        return Err(fail(
            row,
            "starts_on",
            format!(
                "overlaps another period of subscription {:?} ({} to {end}, {whence}); a change is a new period starting when the previous one ends",
                other.subscription_id, other.starts_on
            ),
        ));
    }
    let cols = [
        "account_id",
        "subscription_id",
        "plan",
        "quantity",
        "currency",
        "amount",
        "billing_interval",
        "starts_on",
        "ends_on",
        "renews_on",
        "payment_terms",
        "term_months",
        "source",
        "created_at",
        "updated_at",
    ];
    let values = rows
        .iter()
        .map(|(account, p)| {
            vec![
                Arg::I64(*account),
                Arg::Text(p.subscription_id.clone()),
                Arg::Text(p.plan.clone()),
                Arg::I64(p.quantity),
                Arg::Text(p.currency.clone()),
                Arg::Text(p.amount.normalize().to_string()),
                Arg::Text(p.interval.as_str().into()),
                Arg::Text(p.starts_on.to_string()),
                Arg::MaybeText(p.ends_on.map(|d| d.to_string())),
                Arg::MaybeText(p.renews_on.map(|d| d.to_string())),
                Arg::MaybeText(p.payment_terms.clone()),
                Arg::MaybeI64(p.term_months.map(i64::from)),
                Arg::Text(source.into()),
                Arg::I64(now),
                Arg::I64(now),
            ]
        })
        .collect();
    let update = " ON CONFLICT (subscription_id, starts_on) DO UPDATE SET plan = excluded.plan, \
        quantity = excluded.quantity, currency = excluded.currency, amount = excluded.amount, \
        billing_interval = excluded.billing_interval, ends_on = excluded.ends_on, renews_on = excluded.renews_on, \
        payment_terms = excluded.payment_terms, term_months = excluded.term_months, source = excluded.source, \
        updated_at = excluded.updated_at";
    upsert_rows(tx, backend, "subscription_periods", &cols, values, update).await.map_err(|e| first_row(e.into()))?;
    sync_renewals(tx, backend, &subs).await.map_err(first_row)?;
    Ok(summary)
}

pub(super) async fn periods_of_subscriptions(tx: &mut Tx, subs: &[&str]) -> Result<Vec<PeriodRecord>> {
    let mut out = Vec::new();
    for chunk in subs.chunks(500) {
        let mut sql = Sql::new(&format!("SELECT {PERIOD_COLS} FROM subscription_periods WHERE subscription_id IN "));
        in_list(&mut sql, chunk);
        sql.push(" ORDER BY subscription_id, starts_on");
        for r in sql.query().fetch_all(&mut **tx).await? {
            out.push(period_from(&r)?);
        }
    }
    Ok(out)
}

/// Brings the renewals of `subs` in line with their periods: one per (subscription, due date),
/// due when a period renews or ends. When the subscription's next period starts that day the
/// outcome is read from it (renewed, upsell, downsell); when nothing follows an end, it churned.
/// An outcome a person recorded is never overwritten.
pub(super) async fn sync_renewals(tx: &mut Tx, backend: Backend, subs: &[&str]) -> Result<()> {
    let periods = periods_of_subscriptions(tx, subs).await?;
    let mut wanted: BTreeMap<(String, NaiveDate), Vec<Arg>> = BTreeMap::new();
    for (i, rec) in periods.iter().enumerate() {
        let p = &rec.period;
        let Some(due) = p.due_on() else { continue };
        let arr = p.mrr() * Decimal::from(12);
        // Sorted by subscription and start: the next period, if any, is the next record.
        let next = periods.get(i + 1).filter(|q| q.period.subscription_id == p.subscription_id);
        let (outcome, new_arr, reason) = match next {
            Some(n) if n.period.starts_on == due => {
                let new_arr = n.period.mrr() * Decimal::from(12);
                (Some(Outcome::from_change(arr, new_arr)), Some(new_arr), None)
            }
            None if p.ends_on == Some(due) => {
                (Some(Outcome::Churned), Some(Decimal::ZERO), Some("the subscription ended".to_owned()))
            }
            _ => (None, None, None),
        };
        wanted.insert(
            (p.subscription_id.clone(), due),
            vec![
                Arg::I64(rec.account_id),
                Arg::Text(p.subscription_id.clone()),
                Arg::Text(due.to_string()),
                Arg::Text(p.plan.clone()),
                Arg::Text(p.currency.clone()),
                Arg::Text(arr.round_dp(6).normalize().to_string()),
                Arg::MaybeText(outcome.map(|o| o.as_str().to_owned())),
                Arg::MaybeText(outcome.map(|_| "billing".to_owned())),
                Arg::MaybeText(new_arr.map(|a| a.round_dp(6).normalize().to_string())),
                Arg::MaybeText(reason),
                Arg::I64(i64::from(p.term())),
            ],
        );
    }
    for chunk in subs.chunks(500) {
        let mut sql = Sql::new(
            "SELECT id, subscription_id, due_on FROM renewals WHERE (outcome_source IS NULL OR outcome_source <> 'person') AND subscription_id IN ",
        );
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await? {
            if !wanted.contains_key(&(text(&r, "subscription_id")?, day(&r, "due_on")?)) {
                sqlx::query("DELETE FROM renewals WHERE id = $1")
                    .bind(r.try_get::<i64, _>("id")?)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    let cols = [
        "account_id",
        "subscription_id",
        "due_on",
        "plan",
        "currency",
        "arr",
        "outcome",
        "outcome_source",
        "new_arr",
        "reason",
        "term_months",
    ];
    let keep = |col: &str| {
        format!("{col} = CASE WHEN renewals.outcome_source = 'person' THEN renewals.{col} ELSE excluded.{col} END")
    };
    let update = format!(
        " ON CONFLICT (subscription_id, due_on) DO UPDATE SET account_id = excluded.account_id, plan = excluded.plan, \
         currency = excluded.currency, arr = excluded.arr, term_months = excluded.term_months, {}, {}, {}, {}",
        keep("outcome"),
        keep("new_arr"),
        keep("reason"),
        keep("outcome_source")
    );
    upsert_rows(tx, backend, "renewals", &cols, wanted.into_values().collect(), &update).await?;
    Ok(())
}
