//! Billing: subscription periods, invoices, FX rates and renewals. Every write checks the whole
//! input first (unknown accounts, overlapping periods, ids moving between accounts) and lands in
//! one transaction, so a refused file or request leaves nothing behind.

use crate::accounts::{finish_import, resolve_external_id, ImportSummary, RowError};
use crate::audit::record;
use crate::sql::{in_list, opt_text, text, upsert_rows, Arg, Sql};
use crate::{Actor, Backend, Result, Store, StoreError, Tx};
use chrono::NaiveDate;
use keepwell_core::billing::{first_overlap, FxRate, Interval, Invoice, InvoiceStatus, Period};
use keepwell_core::metrics::{FailedPayment, FxTable, PeriodLine};
use keepwell_core::money::Month;
use keepwell_core::renewal::{Outcome, Status, Terms};
use keepwell_core::Invalid;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

/// A stored subscription period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodRecord {
    pub id: i64,
    pub account_id: i64,
    pub period: Period,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceRecord {
    pub id: i64,
    pub account_id: i64,
    pub invoice: Invoice,
    pub source: String,
}

/// Which accounts and plans a revenue report covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RevenueFilter {
    pub plan: Option<String>,
    pub country: Option<String>,
    pub industry: Option<String>,
    pub owner: Option<i64>,
}

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

const PERIOD_COLS: &str = "id, account_id, subscription_id, plan, quantity, currency, amount, billing_interval, \
    starts_on, ends_on, renews_on, payment_terms, term_months, source";
/// A renewal with its account and owner, followed by a condition.
const RENEWAL_SELECT: &str = "SELECT r.id, r.account_id, a.name AS account_name, a.owner_id, u.name AS owner_name, \
    r.subscription_id, r.due_on, r.plan, r.currency, r.arr, r.outcome, r.outcome_source, r.new_arr, r.reason, r.term_months \
    FROM renewals r JOIN accounts a ON a.id = r.account_id LEFT JOIN users u ON u.id = a.owner_id WHERE";
const INVOICE_COLS: &str = "id, account_id, invoice_id, currency, amount, issued_on, due_on, paid_on, status, source";

/// One `revenue_inputs` line: `account currency amount interval starts_on ends_on|-`.
fn period_line(line: &str) -> Result<PeriodLine> {
    let mut f = line.split(' ');
    let mut next = |what: &str| f.next().ok_or_else(|| corrupt(what));
    let account = next("account_id")?.parse().map_err(|_| corrupt("account_id"))?;
    let currency = next("currency")?.to_owned();
    let amount = Decimal::from_str(next("amount")?).map_err(|_| corrupt("amount"))?;
    let interval = Interval::parse(next("billing_interval")?).map_err(|_| corrupt("billing_interval"))?;
    let starts_on = NaiveDate::from_str(next("starts_on")?).map_err(|_| corrupt("starts_on"))?;
    let ends_on = match next("ends_on")? {
        "-" => None,
        d => Some(NaiveDate::from_str(d).map_err(|_| corrupt("ends_on"))?),
    };
    Ok(PeriodLine { account, currency, mrr: keepwell_core::billing::mrr(amount, interval), starts_on, ends_on })
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}
pub(crate) fn day(row: &AnyRow, col: &str) -> Result<NaiveDate> {
    NaiveDate::from_str(&text(row, col)?).map_err(|_| corrupt(col))
}
fn opt_day(row: &AnyRow, col: &str) -> Result<Option<NaiveDate>> {
    opt_text(row, col)?.map(|t| NaiveDate::from_str(&t).map_err(|_| corrupt(col))).transpose()
}
fn decimal(row: &AnyRow, col: &str) -> Result<Decimal> {
    Decimal::from_str(&text(row, col)?).map_err(|_| corrupt(col))
}
fn opt_decimal(row: &AnyRow, col: &str) -> Result<Option<Decimal>> {
    opt_text(row, col)?.map(|t| Decimal::from_str(&t).map_err(|_| corrupt(col))).transpose()
}

fn period_from(r: &AnyRow) -> Result<PeriodRecord> {
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

fn opt_term(r: &AnyRow) -> Result<Option<u32>> {
    let t: Option<i64> = r.try_get("term_months")?;
    t.map(|t| u32::try_from(t).map_err(|_| corrupt("term_months"))).transpose()
}

fn invoice_from(r: &AnyRow) -> Result<InvoiceRecord> {
    Ok(InvoiceRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        source: text(r, "source")?,
        invoice: Invoice {
            invoice_id: text(r, "invoice_id")?,
            currency: text(r, "currency")?,
            amount: decimal(r, "amount")?,
            issued_on: day(r, "issued_on")?,
            due_on: opt_day(r, "due_on")?,
            paid_on: opt_day(r, "paid_on")?,
            status: InvoiceStatus::parse(&text(r, "status")?).map_err(|_| corrupt("status"))?,
        },
    })
}

/// `'a', 'b'` for an `IN (…)` list of text values, bound as arguments.
/// A failure not tied to one row, reported on the first.
fn first_row(error: StoreError) -> RowError {
    RowError { index: 0, error }
}

/// Replaces each row's account external id by the account's id (answers are remembered); an
/// unknown id fails its row.
async fn with_account_ids<T: Clone>(tx: &mut Tx, rows: &[(String, T)]) -> Result<Vec<(i64, T)>, RowError> {
    let mut known: HashMap<&str, i64> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (index, (ext, row)) in rows.iter().enumerate() {
        let id = match known.get(ext.as_str()) {
            Some(id) => *id,
            None => {
                let found = resolve_external_id(tx, ext).await.map_err(|error| RowError { index, error })?;
                let id = found.ok_or_else(|| RowError {
                    index,
                    error: Invalid::field("account_external_id", format!("no account has the external id {ext:?}"))
                        .into(),
                })?;
                known.insert(ext, id);
                id
            }
        };
        out.push((id, row.clone()));
    }
    Ok(out)
}

async fn periods_of_subscriptions(tx: &mut Tx, subs: &[&str]) -> Result<Vec<PeriodRecord>> {
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

/// Writes periods (new or replacing the one with the same subscription and start), after checking
/// that no subscription moves between accounts and no two periods of one subscription overlap.
async fn write_periods(
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

/// Brings the renewals of `subs` in line with their periods: one per (subscription, due date),
/// due when a period renews or ends. When the subscription's next period starts that day the
/// outcome is read from it (renewed, upsell, downsell); when nothing follows an end, it churned.
/// An outcome a person recorded is never overwritten.
async fn sync_renewals(tx: &mut Tx, backend: Backend, subs: &[&str]) -> Result<()> {
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

impl Store {
    /// Imports subscription periods keyed by (subscription, start): all or nothing.
    pub async fn import_periods(
        &self,
        actor: &Actor,
        rows: &[(String, Period)],
        dry_run: bool,
        progress: impl Fn(usize),
    ) -> Result<ImportSummary, RowError> {
        let mut tx = self.begin().await.map_err(first_row)?;
        let rows = with_account_ids(&mut tx, rows).await?;
        progress(rows.len() / 2);
        let summary = write_periods(&mut tx, self.backend(), self.now_micros(), &rows, "import").await?;
        progress(rows.len());
        finish_import(tx, self.now_micros(), actor, "subscription", summary, dry_run).await.map_err(first_row)
    }

    /// Creates or replaces one period of an account's subscription.
    pub async fn save_period(&self, actor: &Actor, account_id: i64, period: &Period) -> Result<PeriodRecord> {
        let mut tx = self.begin().await?;
        self.account_exists(&mut tx, account_id).await?;
        write_periods(&mut tx, self.backend(), self.now_micros(), &[(account_id, period.clone())], "api")
            .await
            .map_err(|e| e.error)?;
        let rec = sqlx::query(&format!(
            "SELECT {PERIOD_COLS} FROM subscription_periods WHERE subscription_id = $1 AND starts_on = $2"
        ))
        .bind(&period.subscription_id)
        .bind(period.starts_on.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let rec = period_from(&rec)?;
        record(
            &mut tx,
            self.now_micros(),
            actor,
            "subscription.save",
            "account",
            Some(account_id.to_string()),
            None,
            Some(&rec.period),
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    /// Replaces every period of one subscription (Stripe sends the whole state).
    pub async fn replace_subscription(
        &self,
        tx: &mut Tx,
        account_id: i64,
        subscription_id: &str,
        periods: &[Period],
    ) -> Result<()> {
        sqlx::query("DELETE FROM subscription_periods WHERE subscription_id = $1")
            .bind(subscription_id)
            .execute(&mut **tx)
            .await?;
        let rows: Vec<(i64, Period)> = periods.iter().map(|p| (account_id, p.clone())).collect();
        if rows.is_empty() {
            return sync_renewals(tx, self.backend(), &[subscription_id]).await;
        }
        write_periods(tx, self.backend(), self.now_micros(), &rows, "stripe").await.map_err(|e| e.error)?;
        Ok(())
    }

    pub async fn subscription_periods(&self, tx: &mut Tx, subscription_id: &str) -> Result<Vec<PeriodRecord>> {
        periods_of_subscriptions(tx, &[subscription_id]).await
    }

    pub async fn delete_period(&self, actor: &Actor, account_id: i64, id: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        let row =
            sqlx::query(&format!("SELECT {PERIOD_COLS} FROM subscription_periods WHERE id = $1 AND account_id = $2"))
                .bind(id)
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("account {account_id} has no subscription period {id}")))?;
        let rec = period_from(&row)?;
        sqlx::query("DELETE FROM subscription_periods WHERE id = $1").bind(id).execute(&mut *tx).await?;
        sync_renewals(&mut tx, self.backend(), &[rec.period.subscription_id.as_str()]).await?;
        record(
            &mut tx,
            self.now_micros(),
            actor,
            "subscription.delete",
            "account",
            Some(account_id.to_string()),
            Some(&rec.period),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A number that moves forward with every change to what the revenue reports read (periods,
    /// invoices, FX rates, renewals, accounts' country, industry and owner), kept by database
    /// triggers, so every node sees every other node's changes.
    pub async fn revenue_version(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT version FROM revenue_version WHERE id = 1").fetch_one(self.pool()).await?.try_get(0)?)
    }

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

    pub async fn import_invoices(
        &self,
        actor: &Actor,
        rows: &[(String, Invoice)],
        dry_run: bool,
        progress: impl Fn(usize),
    ) -> Result<ImportSummary, RowError> {
        let mut tx = self.begin().await.map_err(first_row)?;
        let rows = with_account_ids(&mut tx, rows).await?;
        progress(rows.len() / 2);
        let summary = write_invoices(&mut tx, self.backend(), self.now_micros(), &rows, "import").await?;
        progress(rows.len());
        finish_import(tx, self.now_micros(), actor, "invoice", summary, dry_run).await.map_err(first_row)
    }

    /// Creates or updates one invoice by its id.
    pub async fn save_invoice(&self, actor: &Actor, account_id: i64, invoice: &Invoice) -> Result<InvoiceRecord> {
        let mut tx = self.begin().await?;
        self.account_exists(&mut tx, account_id).await?;
        let rec = self.save_invoice_in(&mut tx, account_id, invoice, "api").await?;
        record(
            &mut tx,
            self.now_micros(),
            actor,
            "invoice.save",
            "account",
            Some(account_id.to_string()),
            None,
            Some(&rec.invoice),
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    pub async fn save_invoice_in(
        &self,
        tx: &mut Tx,
        account_id: i64,
        invoice: &Invoice,
        source: &str,
    ) -> Result<InvoiceRecord> {
        write_invoices(tx, self.backend(), self.now_micros(), &[(account_id, invoice.clone())], source)
            .await
            .map_err(|e| e.error)?;
        let row = sqlx::query(&format!("SELECT {INVOICE_COLS} FROM invoices WHERE invoice_id = $1"))
            .bind(&invoice.invoice_id)
            .fetch_one(&mut **tx)
            .await?;
        invoice_from(&row)
    }

    pub async fn invoice_by_id(&self, tx: &mut Tx, invoice_id: &str) -> Result<Option<InvoiceRecord>> {
        sqlx::query(&format!("SELECT {INVOICE_COLS} FROM invoices WHERE invoice_id = $1"))
            .bind(invoice_id)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(invoice_from)
            .transpose()
    }

    pub async fn account_invoices(&self, account_id: i64) -> Result<Vec<InvoiceRecord>> {
        sqlx::query(&format!(
            "SELECT {INVOICE_COLS} FROM invoices WHERE account_id = $1 ORDER BY issued_on DESC, id DESC"
        ))
        .bind(account_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(invoice_from)
        .collect()
    }

    /// Stores FX rates, replacing those of the same currency and month.
    pub async fn save_fx_rates(&self, actor: &Actor, rates: &[FxRate], dry_run: bool) -> Result<ImportSummary> {
        let mut seen = HashSet::new();
        if let Some(dup) = rates.iter().find(|r| !seen.insert((&r.currency, r.month))) {
            return Err(Invalid::field("month", format!("{} {} is given twice", dup.currency, dup.month)).into());
        }
        let mut tx = self.begin().await?;
        let mut summary = ImportSummary::default();
        for r in rates {
            let existed = sqlx::query("SELECT 1 FROM fx_rates WHERE currency = $1 AND month = $2")
                .bind(&r.currency)
                .bind(r.month.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if existed {
                summary.updated += 1
            } else {
                summary.created += 1
            }
        }
        let rows = rates
            .iter()
            .map(|r| {
                vec![
                    Arg::Text(r.currency.clone()),
                    Arg::Text(r.month.to_string()),
                    Arg::Text(r.rate.normalize().to_string()),
                    Arg::I64(self.now_micros()),
                ]
            })
            .collect();
        upsert_rows(
            &mut tx,
            self.backend(),
            "fx_rates",
            &["currency", "month", "rate", "updated_at"],
            rows,
            " ON CONFLICT (currency, month) DO UPDATE SET rate = excluded.rate, updated_at = excluded.updated_at",
        )
        .await?;
        finish_import(tx, self.now_micros(), actor, "fx_rate", summary, dry_run).await
    }

    pub async fn fx_rates(&self) -> Result<Vec<FxRate>> {
        sqlx::query("SELECT currency, month, rate FROM fx_rates ORDER BY currency, month")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(FxRate {
                    currency: text(r, "currency")?,
                    month: text(r, "month")?.parse().map_err(|_| corrupt("month"))?,
                    rate: decimal(r, "rate")?,
                })
            })
            .collect()
    }

    pub async fn fx_table(&self) -> Result<FxTable> {
        Ok(self.fx_rates().await?.into_iter().map(|r| ((r.currency, r.month), r.rate)).collect())
    }

    /// What the revenue metrics need, through the snapshot of `through`: every period (as
    /// `PeriodLine`) and every failed payment with the date it was cleared.
    ///
    /// The periods travel as one text row of `;`-separated lines built by the database: decoding
    /// hundreds of thousands of rows one by one through the driver costs several times more than
    /// the query itself (1.3 s against 0.15 s for 212k periods on SQLite).
    pub async fn revenue_inputs(
        &self,
        f: &RevenueFilter,
        through: Month,
    ) -> Result<(Vec<PeriodLine>, Vec<FailedPayment>)> {
        let snapshot = through.snapshot_day().to_string();
        let filtered = f.country.is_some() || f.industry.is_some() || f.owner.is_some();
        let join = if filtered { " JOIN accounts a ON a.id = p.account_id" } else { "" };
        let mut sql = Sql::new(&format!(
            "SELECT string_agg(CAST(p.account_id AS TEXT) || ' ' || p.currency || ' ' || p.amount || ' ' \
             || p.billing_interval || ' ' || p.starts_on || ' ' || COALESCE(p.ends_on, '-'), ';') AS lines \
             FROM subscription_periods p{join} WHERE p.starts_on <= "
        ));
        sql.bind(Arg::Text(snapshot.clone()));
        account_filter(&mut sql, f);
        if let Some(plan) = &f.plan {
            sql.push(" AND p.plan = ").bind(Arg::Text(plan.clone()));
        }
        let lines = opt_text(&sql.query().fetch_one(self.pool()).await?, "lines")?.unwrap_or_default();
        let periods = lines.split(';').filter(|l| !l.is_empty()).map(period_line).collect::<Result<Vec<_>>>()?;
        // A failed invoice and the next invoice of its account that did not fail (the partial
        // index keeps this to the failed few).
        let join = if filtered { " JOIN accounts a ON a.id = i.account_id" } else { "" };
        let mut sql = Sql::new(&format!(
            "SELECT i.account_id, i.issued_on, (SELECT MIN(n.issued_on) FROM invoices n \
             WHERE n.account_id = i.account_id AND n.issued_on > i.issued_on AND n.status <> 'failed') AS cleared_on \
             FROM invoices i{join} WHERE i.status = 'failed' AND i.issued_on < "
        ));
        sql.bind(Arg::Text(snapshot));
        account_filter(&mut sql, f);
        let failed = sql
            .query()
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(FailedPayment {
                    account: r.try_get("account_id")?,
                    failed_on: day(r, "issued_on")?,
                    cleared_on: opt_day(r, "cleared_on")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((periods, failed))
    }

    /// Distinct plans and industries, for the Revenue page's filters.
    pub async fn revenue_facets(&self) -> Result<(Vec<String>, Vec<String>)> {
        let plans =
            sqlx::query("SELECT DISTINCT plan FROM subscription_periods ORDER BY plan").fetch_all(self.pool()).await?;
        let industries =
            sqlx::query("SELECT DISTINCT industry FROM accounts WHERE industry IS NOT NULL ORDER BY industry")
                .fetch_all(self.pool())
                .await?;
        Ok((
            plans.iter().map(|r| text(r, "plan")).collect::<Result<_, _>>()?,
            industries.iter().map(|r| text(r, "industry")).collect::<Result<_, _>>()?,
        ))
    }

    pub async fn renewals(&self, f: &RenewalFilter) -> Result<Vec<Renewal>> {
        let mut sql = Sql::new(&format!("{RENEWAL_SELECT} 1 = 1"));
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
        sql.push(" ORDER BY r.due_on, r.id LIMIT ").bind(Arg::I64(f.limit.clamp(1, 100_000)));
        sql.query().fetch_all(self.pool()).await?.iter().map(renewal_from).collect()
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

    /// Records what came of a renewal; a person's record stands over what billing implies.
    pub async fn record_renewal(
        &self,
        actor: &Actor,
        id: i64,
        outcome: Outcome,
        new_arr: Decimal,
        reason: Option<&str>,
    ) -> Result<Renewal> {
        let before = self.renewal(id).await?.ok_or_else(|| StoreError::NotFound(format!("no renewal with id {id}")))?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE renewals SET outcome = $1, outcome_source = 'person', new_arr = $2, reason = $3, recorded_by = $4, recorded_at = $5 WHERE id = $6",
        )
        .bind(outcome.as_str())
        .bind(new_arr.normalize().to_string())
        .bind(reason.map(str::trim).filter(|r| !r.is_empty()))
        .bind(actor.user_id)
        .bind(self.now_micros())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let after = serde_json::json!({"outcome": outcome, "new_arr": new_arr.to_string(), "reason": reason});
        let was = serde_json::json!({"outcome": before.outcome, "new_arr": before.new_arr.map(|d| d.to_string())});
        record(
            &mut tx,
            self.now_micros(),
            actor,
            "renewal.record",
            "account",
            Some(before.account_id.to_string()),
            Some(&was),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        self.renewal(id).await?.ok_or_else(|| StoreError::NotFound(format!("no renewal with id {id}")))
    }

    async fn account_exists(&self, tx: &mut Tx, id: i64) -> Result<()> {
        sqlx::query("SELECT 1 FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("no account with id {id}")))
    }

    /// Whether a Stripe event was handled before (Stripe retries and may send twice).
    pub async fn stripe_event_seen(&self, tx: &mut Tx, event_id: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM stripe_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some())
    }

    pub async fn record_stripe_event(
        &self,
        tx: &mut Tx,
        event_id: &str,
        event_type: &str,
        created: i64,
        outcome: &str,
        payload: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO stripe_events (event_id, event_type, created, received_at, outcome, payload) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event_id)
        .bind(event_type)
        .bind(created)
        .bind(self.now_micros())
        .bind(outcome)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The Stripe events received, newest first: (id, type, outcome).
    pub async fn stripe_events(&self, limit: i64) -> Result<Vec<(String, String, String)>> {
        sqlx::query("SELECT event_id, event_type, outcome FROM stripe_events ORDER BY received_at DESC LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((text(r, "event_id")?, text(r, "event_type")?, text(r, "outcome")?)))
            .collect()
    }
}

fn renewal_from(r: &AnyRow) -> Result<Renewal> {
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

fn account_filter(sql: &mut Sql, f: &RevenueFilter) {
    if let Some(c) = &f.country {
        sql.push(" AND a.country = ").bind(Arg::Text(c.to_ascii_uppercase()));
    }
    if let Some(i) = &f.industry {
        sql.push(" AND a.industry = ").bind(Arg::Text(i.clone()));
    }
    if let Some(o) = f.owner {
        sql.push(" AND a.owner_id = ").bind(Arg::I64(o));
    }
}

async fn write_invoices(
    tx: &mut Tx,
    backend: Backend,
    now: i64,
    rows: &[(i64, Invoice)],
    source: &str,
) -> Result<ImportSummary, RowError> {
    let fail =
        |index: usize, field: &str, message: String| RowError { index, error: Invalid::field(field, message).into() };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, (_, inv)) in rows.iter().enumerate() {
        if let Some(first) = seen.insert(&inv.invoice_id, i) {
            return Err(fail(
                i,
                "invoice_id",
                format!("invoice {:?} appears twice (rows {} and {})", inv.invoice_id, first + 1, i + 1),
            ));
        }
    }
    let ids: Vec<&str> = seen.keys().copied().collect();
    let mut owner: HashMap<String, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut sql = Sql::new("SELECT invoice_id, account_id FROM invoices WHERE invoice_id IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await.map_err(|e| first_row(e.into()))? {
            owner.insert(text(&r, "invoice_id").unwrap_or_default(), r.try_get("account_id").unwrap_or_default());
        }
    }
    let mut summary = ImportSummary::default();
    for (i, (account, inv)) in rows.iter().enumerate() {
        match owner.get(&inv.invoice_id) {
            Some(o) if o != account => {
                return Err(fail(
                    i,
                    "invoice_id",
                    format!("invoice {:?} belongs to another account (id {o})", inv.invoice_id),
                ))
            }
            Some(_) => summary.updated += 1,
            None => summary.created += 1,
        }
    }
    let cols = [
        "account_id",
        "invoice_id",
        "currency",
        "amount",
        "issued_on",
        "due_on",
        "paid_on",
        "status",
        "source",
        "created_at",
        "updated_at",
    ];
    let values = rows
        .iter()
        .map(|(account, inv)| {
            vec![
                Arg::I64(*account),
                Arg::Text(inv.invoice_id.clone()),
                Arg::Text(inv.currency.clone()),
                Arg::Text(inv.amount.normalize().to_string()),
                Arg::Text(inv.issued_on.to_string()),
                Arg::MaybeText(inv.due_on.map(|d| d.to_string())),
                Arg::MaybeText(inv.paid_on.map(|d| d.to_string())),
                Arg::Text(inv.status.as_str().into()),
                Arg::Text(source.into()),
                Arg::I64(now),
                Arg::I64(now),
            ]
        })
        .collect();
    let update = " ON CONFLICT (invoice_id) DO UPDATE SET currency = excluded.currency, amount = excluded.amount, \
        issued_on = excluded.issued_on, due_on = excluded.due_on, paid_on = excluded.paid_on, status = excluded.status, \
        source = excluded.source, updated_at = excluded.updated_at";
    upsert_rows(tx, backend, "invoices", &cols, values, update).await.map_err(|e| first_row(e.into()))?;
    Ok(summary)
}
