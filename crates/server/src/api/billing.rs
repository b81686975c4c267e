//! `/api/v1/accounts/{id}/subscriptions|invoices|contract` and `/api/v1/fx-rates`: billing
//! history through the API, with the same checks as the CSV imports.

use super::accounts::load;
use super::{json_object, path_id, Params};
use crate::auth::{Auth, Manager, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::revenue::{self, ContractView};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use keepwell_core::billing::{FxRateInput, Interval, InvoiceInput, InvoiceStatus, PeriodInput};
use keepwell_core::money;
use keepwell_core::Invalid;
use keepwell_store::billing::{InvoiceRecord, PeriodRecord};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A field of a JSON body as text (see [`super::input::text`]).
pub(crate) fn field(body: &Map<String, Value>, name: &str, shape: &mut Invalid) -> Option<String> {
    body.get(name).and_then(|v| super::input::text(name, v, shape))
}

fn whole(body: &Map<String, Value>, name: &str, shape: &mut Invalid) -> Option<String> {
    body.get(name).and_then(|v| super::input::integer(name, v, shape))
}

fn decimal(body: &Map<String, Value>, name: &str, shape: &mut Invalid) -> Option<String> {
    body.get(name).and_then(|v| super::input::decimal(name, v, shape))
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
    data: Vec<PeriodView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Invoices {
    data: Vec<InvoiceView>,
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

#[utoipa::path(get, path = "/api/v1/accounts/{id}/subscriptions", tag = "billing",
    params(("id" = i64, Path)), responses((status = 200, body = Periods), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn periods(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Periods>> {
    let account = load(&state, path_id(&id)?).await?;
    let data = state.store.account_periods(account.id).await?.iter().map(PeriodView::from).collect();
    Ok(Json(Periods { data }))
}

#[utoipa::path(post, path = "/api/v1/accounts/{id}/subscriptions", tag = "billing", request_body = PeriodBody,
    description = "Adds a period of a subscription, or replaces the one with the same `subscription_id` and `starts_on`. A change of price or seats is a new period starting when the previous one ends; overlapping periods are refused.",
    params(("id" = i64, Path)),
    responses((status = 201, body = PeriodView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn save_period(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PeriodView>)> {
    let account = load(&state, path_id(&id)?).await?;
    let body = json_object(&body)?;
    let mut shape = Invalid::default();
    // A period's fields are the subscriptions CSV's columns but the account (the path names it).
    let known = &keepwell_core::import::ImportKind::Subscriptions.fields()[1..];
    super::input::only(&body, known, &mut shape);
    let input = PeriodInput {
        account_external_id: Some(account.id.to_string()),
        subscription_id: field(&body, "subscription_id", &mut shape),
        plan: field(&body, "plan", &mut shape),
        quantity: whole(&body, "quantity", &mut shape),
        currency: field(&body, "currency", &mut shape),
        amount: decimal(&body, "amount", &mut shape),
        interval: field(&body, "interval", &mut shape),
        starts_on: field(&body, "starts_on", &mut shape),
        ends_on: field(&body, "ends_on", &mut shape),
        renews_on: field(&body, "renews_on", &mut shape),
        payment_terms: field(&body, "payment_terms", &mut shape),
        term_months: whole(&body, "term_months", &mut shape),
    };
    let (_, period) = shape.and(input.validate())?;
    let rec = state.store.save_period(&auth.actor, account.id, &period).await?;
    Ok((StatusCode::CREATED, Json(PeriodView::from(&rec))))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}/subscriptions/{period_id}", tag = "billing",
    params(("id" = i64, Path), ("period_id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn delete_period(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path((id, period)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.store.delete_period(&auth.actor, path_id(&id)?, path_id(&period)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/invoices", tag = "billing",
    params(("id" = i64, Path), ("as_of" = Option<NaiveDate>, Query, description = "the day overdue is judged on; default today")),
    responses((status = 200, body = Invoices), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn invoices(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Invoices>> {
    let day = revenue::as_of(&Params(q), state.store.clock().today())?;
    let account = load(&state, path_id(&id)?).await?;
    let data = state.store.account_invoices(account.id).await?.iter().map(|i| InvoiceView::new(i, day)).collect();
    Ok(Json(Invoices { data }))
}

#[utoipa::path(post, path = "/api/v1/accounts/{id}/invoices", tag = "billing", request_body = InvoiceBody,
    description = "Adds an invoice, or updates the one with the same `invoice_id`.",
    params(("id" = i64, Path)),
    responses((status = 201, body = InvoiceView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn save_invoice(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<InvoiceView>)> {
    let account = load(&state, path_id(&id)?).await?;
    let body = json_object(&body)?;
    let mut shape = Invalid::default();
    const KNOWN: &[&str] = &["invoice_id", "currency", "amount", "issued_on", "due_on", "paid_on", "status"];
    super::input::only(&body, KNOWN, &mut shape);
    let input = InvoiceInput {
        account_external_id: Some(account.id.to_string()),
        invoice_id: field(&body, "invoice_id", &mut shape),
        currency: field(&body, "currency", &mut shape),
        amount: decimal(&body, "amount", &mut shape),
        issued_on: field(&body, "issued_on", &mut shape),
        due_on: field(&body, "due_on", &mut shape),
        paid_on: field(&body, "paid_on", &mut shape),
        status: field(&body, "status", &mut shape),
    };
    let (_, invoice) = shape.and(input.validate())?;
    let rec = state.store.save_invoice(&auth.actor, account.id, &invoice).await?;
    Ok((StatusCode::CREATED, Json(InvoiceView::new(&rec, state.store.clock().today()))))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/contract", tag = "billing",
    description = "The contract in force on `as_of`: plans, seats, MRR/ARR, contract value, payment terms, tenure, days to renewal, overdue invoices.",
    params(("id" = i64, Path), ("as_of" = Option<NaiveDate>, Query)),
    responses((status = 200, body = ContractView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn contract(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<ContractView>> {
    let day = revenue::as_of(&Params(q), state.store.clock().today())?;
    let account = load(&state, path_id(&id)?).await?;
    Ok(Json(revenue::contract(&state, account.id, day).await?))
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

#[utoipa::path(get, path = "/api/v1/fx-rates", tag = "billing",
    responses((status = 200, body = FxRates)), security(("bearer" = [])))]
pub async fn fx_rates(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<FxRates>> {
    fx_view(&state).await
}

async fn fx_view(state: &AppState) -> ApiResult<Json<FxRates>> {
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

#[utoipa::path(post, path = "/api/v1/fx-rates", tag = "billing", request_body = FxRatesBody,
    description = "Stores monthly FX rates (units of the reporting currency per unit), replacing those of the same currency and month. All or nothing.",
    responses((status = 200, body = FxRates), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn save_fx_rates(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<FxRates>> {
    let body = json_object(&body)?;
    let Some(Value::Array(items)) = body.get("rates") else {
        return Err(ApiError::invalid("rates", "must be an array of {currency, month, rate}"));
    };
    let mut invalid = Invalid::default();
    super::input::only(&body, &["rates"], &mut invalid);
    let mut rates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else {
            invalid.push(format!("rates[{i}]"), "must be an object");
            continue;
        };
        let mut shape = Invalid::default();
        super::input::only(o, &["currency", "month", "rate"], &mut shape);
        let input = FxRateInput {
            currency: field(o, "currency", &mut shape),
            month: field(o, "month", &mut shape),
            rate: decimal(o, "rate", &mut shape),
        };
        match shape.and(input.validate()) {
            Ok(r) => rates.push(r),
            Err(e) => e.errors.into_iter().for_each(|f| invalid.push(format!("rates[{i}].{}", f.field), f.message)),
        }
    }
    invalid.into_result(())?;
    state.store.save_fx_rates(&auth.actor, &rates, false).await?;
    fx_view(&state).await
}
