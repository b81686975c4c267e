//! `/api/v1/accounts/{id}/subscriptions|invoices|contract` and `/api/v1/fx-rates`: billing
//! history through the API, with the same checks as the CSV imports.

use crate::accounts::load;
use crate::auth::{Auth, Manager, Viewer};
use crate::billing::{
    decimal, field, fx_view, whole, FxRates, FxRatesBody, InvoiceBody, InvoiceView, Invoices, PeriodBody, PeriodView,
    Periods,
};
use crate::error::{ApiError, ApiResult};
use crate::params::{json_object, path_id, Params};
use crate::revenue::{self, ContractView};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::billing::{FxRateInput, InvoiceInput, PeriodInput};
use keepwell_core::Invalid;
use serde_json::Value;
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/accounts/{id}/subscriptions", tag = "billing",
    params(("id" = i64, Path)), responses((status = 200, body = Periods), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
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
#[tracing::instrument(skip_all, fields(id = %id))]
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
    crate::input::only(&body, known, &mut shape);
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
    let rec = crate::billing::save_period(&state.store, &auth, account.id, &period).await?;
    Ok((StatusCode::CREATED, Json(PeriodView::from(&rec))))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}/subscriptions/{period_id}", tag = "billing",
    params(("id" = i64, Path), ("period_id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id, period = %period))]
pub async fn delete_period(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path((id, period)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    crate::billing::delete_period(&state.store, &auth, path_id(&id)?, path_id(&period)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/invoices", tag = "billing",
    params(("id" = i64, Path), ("as_of" = Option<NaiveDate>, Query, description = "the day overdue is judged on; default today")),
    responses((status = 200, body = Invoices), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
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
#[tracing::instrument(skip_all, fields(id = %id))]
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
    crate::input::only(&body, KNOWN, &mut shape);
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
    let rec = crate::billing::save_invoice(&state.store, &auth, account.id, &invoice).await?;
    Ok((StatusCode::CREATED, Json(InvoiceView::new(&rec, state.store.clock().today()))))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/contract", tag = "billing",
    description = "The contract in force on `as_of`: plans, seats, MRR/ARR, contract value, payment terms, tenure, days to renewal, overdue invoices.",
    params(("id" = i64, Path), ("as_of" = Option<NaiveDate>, Query)),
    responses((status = 200, body = ContractView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
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

#[utoipa::path(get, path = "/api/v1/fx-rates", tag = "billing",
    responses((status = 200, body = FxRates)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn fx_rates(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<FxRates>> {
    fx_view(&state).await
}

#[utoipa::path(post, path = "/api/v1/fx-rates", tag = "billing", request_body = FxRatesBody,
    description = "Stores monthly FX rates (units of the reporting currency per unit), replacing those of the same currency and month. All or nothing.",
    responses((status = 200, body = FxRates), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
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
    crate::input::only(&body, &["rates"], &mut invalid);
    let mut rates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else {
            invalid.push(format!("rates[{i}]"), "must be an object");
            continue;
        };
        let mut shape = Invalid::default();
        crate::input::only(o, &["currency", "month", "rate"], &mut shape);
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
    crate::billing::save_fx_rates(&state.store, &auth, &rates, false).await?;
    fx_view(&state).await
}
