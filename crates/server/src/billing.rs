//! The billing use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::ApiResult;
use crate::refused::Outcome;
use crate::state::AppState;
use axum::Json;
use chrono::NaiveDate;
use keepwell_core::billing::{FxRate, Invoice, Period};
use keepwell_core::billing::{Interval, InvoiceStatus};
use keepwell_core::money;
use keepwell_core::Invalid;
use keepwell_store::billing as store_billing;
use keepwell_store::billing::{InvoiceRecord, PeriodRecord};
use keepwell_store::import::{ImportSummary, RowError};
use keepwell_store::Store;
use serde::Serialize;
use serde_json::{Map, Value};

/// A field of a JSON body as text (see [`crate::input::text`]).
pub(crate) fn field(body: &Map<String, Value>, name: &str, shape: &mut Invalid) -> Option<String> {
    body.get(name).and_then(|v| crate::input::text(name, v, shape))
}

pub(crate) fn whole(body: &Map<String, Value>, name: &str, shape: &mut Invalid) -> Option<String> {
    body.get(name).and_then(|v| crate::input::integer(name, v, shape))
}

pub(crate) fn decimal(body: &Map<String, Value>, name: &str, shape: &mut Invalid) -> Option<String> {
    body.get(name).and_then(|v| crate::input::decimal(name, v, shape))
}

/// A subscription period as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodView {
    pub id: i64,
    pub account_id: i64,
    pub subscription_id: String,
    pub plan: String,
    pub quantity: i64,
    pub currency: String,
    /// Per interval.
    pub amount: String,
    pub interval: Interval,
    pub mrr: String,
    pub starts_on: NaiveDate,
    /// Exclusive; null while open.
    pub ends_on: Option<NaiveDate>,
    pub renews_on: Option<NaiveDate>,
    pub payment_terms: Option<String>,
    /// The committed term in months: as stated, else one interval (1 or 12).
    pub term_months: u32,
    /// `import`, `api` or `stripe`.
    pub source: String,
}

impl From<&PeriodRecord> for PeriodView {
    fn from(r: &PeriodRecord) -> Self {
        let p = &r.period;
        PeriodView {
            id: r.id,
            account_id: r.account_id,
            subscription_id: p.subscription_id.clone(),
            plan: p.plan.clone(),
            quantity: p.quantity,
            currency: p.currency.clone(),
            amount: money::format(p.amount),
            interval: p.interval,
            mrr: money::format(p.mrr()),
            starts_on: p.starts_on,
            ends_on: p.ends_on,
            renews_on: p.renews_on,
            payment_terms: p.payment_terms.clone(),
            term_months: p.term(),
            source: r.source.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceView {
    pub id: i64,
    pub account_id: i64,
    pub invoice_id: String,
    pub currency: String,
    pub amount: String,
    pub issued_on: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub paid_on: Option<NaiveDate>,
    pub status: InvoiceStatus,
    /// Unpaid after `due_on` as of the request's `as_of`.
    pub overdue: bool,
    pub days_overdue: i64,
    pub source: String,
}

impl InvoiceView {
    pub fn new(r: &InvoiceRecord, day: NaiveDate) -> InvoiceView {
        let i = &r.invoice;
        InvoiceView {
            id: r.id,
            account_id: r.account_id,
            invoice_id: i.invoice_id.clone(),
            currency: i.currency.clone(),
            amount: money::format(i.amount),
            issued_on: i.issued_on,
            due_on: i.due_on,
            paid_on: i.paid_on,
            status: i.status,
            overdue: i.overdue(day),
            days_overdue: i.days_overdue(day),
            source: r.source.clone(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Periods {
    pub data: Vec<PeriodView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Invoices {
    pub data: Vec<InvoiceView>,
}

/// The body of a new or replaced period (the CSV's columns, without the account).
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PeriodBody {
    subscription_id: String,
    plan: String,
    quantity: Option<i64>,
    /// ISO 4217.
    currency: String,
    /// Per interval, a decimal string or number.
    #[schema(schema_with = keepwell_core::money::decimal_schema)]
    amount: String,
    /// `month` or `year`.
    interval: String,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    renews_on: Option<NaiveDate>,
    /// `prepaid`, `postpaid`, `net30`, `30/70`…
    payment_terms: Option<String>,
    /// The committed term in months (1–120) when it is not one interval: `12` for an annual
    /// contract billed monthly. Renewals of terms of at least `KEEPWELL_CONTRACT_MONTHS` (default 3)
    /// are contract renewals.
    #[schema(minimum = 1, maximum = 120)]
    term_months: Option<i64>,
}

#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InvoiceBody {
    invoice_id: String,
    currency: String,
    #[schema(schema_with = keepwell_core::money::decimal_schema)]
    amount: String,
    issued_on: NaiveDate,
    due_on: Option<NaiveDate>,
    paid_on: Option<NaiveDate>,
    /// `open`, `paid`, `void`, `uncollectible` or `failed`.
    status: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FxRateView {
    pub currency: String,
    /// YYYY-MM.
    pub month: String,
    /// Units of the reporting currency per unit of `currency`.
    pub rate: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FxRates {
    /// The reporting currency every rate converts into.
    reporting_currency: String,
    data: Vec<FxRateView>,
}

pub(crate) async fn fx_view(state: &AppState) -> ApiResult<Json<FxRates>> {
    let data = state
        .store
        .fx_rates()
        .await?
        .into_iter()
        .map(|r| FxRateView { currency: r.currency, month: r.month.to_string(), rate: r.rate.normalize().to_string() })
        .collect();
    Ok(Json(FxRates { reporting_currency: state.settings.reporting_currency.clone(), data }))
}

/// `{"rates": [{"currency": "EUR", "month": "2026-01", "rate": "1.08"}]}`
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FxRatesBody {
    rates: Vec<FxRateBody>,
}

#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FxRateBody {
    currency: String,
    /// YYYY-MM.
    month: String,
    #[schema(schema_with = keepwell_core::money::decimal_schema)]
    rate: String,
}

pub async fn save_period(store: &Store, caller: &Caller, account_id: i64, period: &Period) -> Outcome<PeriodRecord> {
    caller.decide(store, async |w| store_billing::save_period(w, account_id, period).await).await
}

pub async fn delete_period(store: &Store, caller: &Caller, account_id: i64, id: i64) -> Outcome<()> {
    caller.decide(store, async |w| store_billing::delete_period(w, account_id, id).await).await
}

pub async fn save_invoice(
    store: &Store,
    caller: &Caller,
    account_id: i64,
    invoice: &Invoice,
) -> Outcome<InvoiceRecord> {
    caller.decide(store, async |w| store_billing::save_invoice(w, account_id, invoice).await).await
}

/// Stores FX rates, replacing those of the same currency and month; a dry run writes nothing.
pub async fn save_fx_rates(
    store: &Store,
    caller: &Caller,
    rates: &[FxRate],
    dry_run: bool,
) -> Result<ImportSummary, RowError> {
    let first = |error| RowError { index: 0, error };
    caller.import(store, (0, dry_run), async |w| store_billing::save_fx_rates(w, rates).await.map_err(first)).await
}

/// Imports subscription periods, all or nothing; a dry run writes nothing.
pub async fn import_periods(
    store: &Store,
    caller: &Caller,
    rows: &[(String, Period)],
    dry_run: bool,
    progress: impl Fn(usize),
) -> Result<ImportSummary, RowError> {
    caller.import(store, (rows.len(), dry_run), async |w| store_billing::import_periods(w, rows, progress).await).await
}

/// Imports invoices, all or nothing; a dry run writes nothing.
pub async fn import_invoices(
    store: &Store,
    caller: &Caller,
    rows: &[(String, Invoice)],
    dry_run: bool,
    progress: impl Fn(usize),
) -> Result<ImportSummary, RowError> {
    caller.import(store, (rows.len(), dry_run), async |w| store_billing::import_invoices(w, rows, progress).await).await
}
