//! `/api/v1/renewals`: upcoming and past renewals, their outcomes, and the renewal rates.

use super::{json_object, path_id, Params};
use crate::auth::{Auth, Csm, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::revenue;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::NaiveDate;
use keepwell_core::metrics::FxTable;
use keepwell_core::money::{self, Month};
use keepwell_core::renewal::{check_outcome, rates, Decided, Outcome, RateRow};
use keepwell_core::Invalid;
use keepwell_store::billing::{Renewal, RenewalFilter};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenewalView {
    pub id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub subscription_id: String,
    pub due_on: NaiveDate,
    pub days_until: i64,
    pub plan: String,
    pub currency: String,
    pub arr: String,
    /// Expected ARR: the ARR × the trailing 12-month net renewal rate until decided, then the outcome's ARR.
    pub forecast_arr: String,
    pub outcome: Option<Outcome>,
    /// `billing` (read from the next period) or `person`.
    pub outcome_source: Option<String>,
    pub new_arr: Option<String>,
    pub reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Renewals {
    pub as_of: NaiveDate,
    /// The trailing 12-month net renewal rate the forecast uses (percent), null without history.
    pub forecast_rate: Option<f64>,
    pub data: Vec<RenewalView>,
}

/// What the renewals page and API show: renewals due within `within_days` of `as_of`.
pub async fn upcoming(state: &AppState, f: &RenewalFilter, day: NaiveDate) -> ApiResult<Renewals> {
    let rate = trailing_rate(state, day).await?;
    let factor = rate.map_or(Decimal::ONE, |r| r / Decimal::ONE_HUNDRED);
    let data = state
        .store
        .renewals(f)
        .await?
        .into_iter()
        .map(|r| {
            let forecast = r.new_arr.unwrap_or(r.arr * factor);
            view(r, day, forecast)
        })
        .collect();
    Ok(Renewals { as_of: day, forecast_rate: rate.map(money::percent), data })
}

fn view(r: Renewal, day: NaiveDate, forecast: Decimal) -> RenewalView {
    RenewalView {
        id: r.id,
        account_id: r.account_id,
        account_name: r.account_name,
        owner_id: r.owner_id,
        owner_name: r.owner_name,
        subscription_id: r.subscription_id,
        due_on: r.due_on,
        days_until: (r.due_on - day).num_days(),
        plan: r.plan,
        currency: r.currency,
        arr: money::format(r.arr),
        forecast_arr: money::format(forecast),
        outcome: r.outcome,
        outcome_source: r.outcome_source,
        new_arr: r.new_arr.map(money::format),
        reason: r.reason,
    }
}

/// Renewals due in `[first, last]` months, in the reporting currency (unconverted ones are left
/// out of the rates rather than counted at a guessed rate).
async fn decided(state: &AppState, first: Month, last: Month) -> ApiResult<Arc<Vec<Decided>>> {
    let reporting = &state.settings.reporting_currency;
    let key = (first, last, reporting.clone(), state.store.revenue_version().await?);
    if let Some(hit) = state.revenue.decided.get(&key) {
        return Ok(hit);
    }
    let fx: FxTable = state.store.fx_table().await?;
    let last_day = last.plus(1).first_day() - chrono::Days::new(1);
    let list = state
        .store
        .renewal_values(first.first_day(), last_day)
        .await?
        .into_iter()
        .filter_map(|(due_on, currency, arr, new_arr)| {
            let due = Month::of(due_on);
            let rate = if &currency == reporting { Some(Decimal::ONE) } else { fx.get(&(currency, due)).copied() }?;
            Some(Decided { due, arr: arr * rate, new_arr: new_arr.map(|n| n * rate) })
        })
        .collect();
    Ok(state.revenue.decided.put(key, list))
}

async fn trailing_rate(state: &AppState, day: NaiveDate) -> ApiResult<Option<Decimal>> {
    let last = Month::of(day);
    let list = decided(state, last.plus(-11), last).await?;
    let (base, net) = list
        .iter()
        .filter_map(|d| d.new_arr.map(|n| (d.arr, n)))
        .fold((Decimal::ZERO, Decimal::ZERO), |(b, n), (a, x)| (b + a, n + x));
    Ok(keepwell_core::metrics::ratio(net, base))
}

#[utoipa::path(get, path = "/api/v1/renewals", tag = "renewals",
    description = "Renewals due from `as_of` (default today) to `within_days` later (default 90), earliest first. One renewal per subscription period that renews or ends.",
    params(
        ("within_days" = Option<i64>, Query, description = "1 to 3660, default 90"),
        ("as_of" = Option<NaiveDate>, Query),
        ("owner" = Option<String>, Query, description = "a team member id, `me` or `none`"),
        ("status" = Option<String>, Query, description = "`pending`, `decided` or `all` (default)"),
        ("account_id" = Option<i64>, Query),
    ),
    responses((status = 200, body = Renewals), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn list(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Renewals>> {
    let (f, day) = filter(&Params(q), auth.user_id)?;
    Ok(Json(upcoming(&state, &f, day).await?))
}

/// Reads the renewal filters shared by the API and the renewals page.
pub fn filter(p: &Params, me: Option<i64>) -> Result<(RenewalFilter, NaiveDate), Invalid> {
    let mut invalid = Invalid::default();
    let day = revenue::as_of(p).unwrap_or_else(|e| {
        invalid.errors.extend(e.errors);
        chrono::Utc::now().date_naive()
    });
    let within = p.days("within_days", 3660, 90, &mut invalid);
    let owner = p.owner(me, &mut invalid);
    let statuses = [("pending", Some(false)), ("decided", Some(true)), ("all", None)];
    let decided = p.choice("status", &statuses, None, &mut invalid);
    let f = RenewalFilter {
        due_from: Some(day),
        due_to: Some(day + chrono::Days::new(within)),
        owner,
        account_id: p.id("account_id", &mut invalid),
        decided,
        limit: 5000,
    };
    invalid.into_result((f, day))
}

/// `{"outcome": "renewed_with_upsell", "new_arr": "15000.00", "reason": "…"}`
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct OutcomeBody {
    /// renewed, renewed_with_upsell, renewed_with_downsell or churned.
    outcome: String,
    /// Required for upsell and downsell; ARR in the renewal's currency.
    #[schema(schema_with = keepwell_core::money::optional_decimal_schema)]
    new_arr: Option<String>,
    /// Required for churned.
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/renewals/{id}/outcome", tag = "renewals", request_body = OutcomeBody,
    params(("id" = i64, Path)),
    responses((status = 200, body = RenewalView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn record(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<RenewalView>> {
    let id = path_id(&id)?;
    let body = json_object(&body)?;
    let r = state.store.renewal(id).await?.ok_or_else(|| ApiError::NotFound(format!("no renewal with id {id}")))?;
    auth.require_edit(r.owner_id)?;
    let mut shape = Invalid::default();
    super::input::only(&body, &["outcome", "new_arr", "reason"], &mut shape);
    let mut get = |name: &str, read: fn(&str, &serde_json::Value, &mut Invalid) -> Option<String>| {
        body.get(name).and_then(|v| read(name, v, &mut shape))
    };
    let (outcome, new_arr, reason) =
        (get("outcome", super::input::text), get("new_arr", super::input::decimal), get("reason", super::input::text));
    let (outcome, new_arr, reason) = shape.and(record_input(outcome, new_arr, reason))?;
    let new_arr = check_outcome(outcome, r.arr, new_arr, reason.as_deref())?;
    let saved = state.store.record_renewal(&auth.actor, id, outcome, new_arr, reason.as_deref()).await?;
    Ok(Json(view(saved, chrono::Utc::now().date_naive(), new_arr)))
}

/// Parses an outcome form or body: every bad field at once.
pub fn record_input(
    outcome: Option<String>,
    new_arr: Option<String>,
    reason: Option<String>,
) -> Result<(Outcome, Option<Decimal>, Option<String>), Invalid> {
    let mut invalid = Invalid::default();
    let outcome = match outcome.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            invalid.push("outcome", "is required");
            None
        }
        Some(o) => Outcome::parse(o).map_err(|e| invalid.push("outcome", e)).ok(),
    };
    let new_arr = new_arr
        .filter(|s| !s.trim().is_empty())
        .and_then(|v| money::amount(&v).map_err(|e| invalid.push("new_arr", e)).ok());
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    keepwell_core::limits::text(&mut invalid, "reason", reason.as_deref(), keepwell_core::limits::REASON);
    match outcome {
        Some(o) if invalid.errors.is_empty() => Ok((o, new_arr, reason)),
        _ => Err(invalid),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RenewalRates {
    pub currency: String,
    pub formula: String,
    pub data: Vec<RateRow>,
}

pub const RATES_FORMULA: &str = "gross renewal rate = Σ min(ARR after, ARR before) ÷ Σ ARR before × 100; net renewal rate = Σ ARR after ÷ Σ ARR before × 100 (decided renewals due in the month)";

#[utoipa::path(get, path = "/api/v1/renewals/rates", tag = "renewals",
    description = "Gross and net renewal rate per month of the due date.",
    params(("from" = Option<String>, Query, description = "YYYY-MM"), ("to" = Option<String>, Query, description = "YYYY-MM")),
    responses((status = 200, body = RenewalRates), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn rates_view(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<RenewalRates>> {
    let r = revenue::Request::read(&Params(q), &state, chrono::Utc::now().date_naive())?;
    Ok(Json(renewal_rates(&state, r.range.from, r.range.to).await?))
}

pub async fn renewal_rates(state: &AppState, from: Month, to: Month) -> ApiResult<RenewalRates> {
    let list = decided(state, from, to).await?;
    Ok(RenewalRates {
        currency: state.settings.reporting_currency.clone(),
        formula: RATES_FORMULA.into(),
        data: rates(&list, from, to),
    })
}
