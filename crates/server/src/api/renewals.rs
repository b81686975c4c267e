//! `/api/v1/renewals`: upcoming and past renewals, their outcomes, and the renewal rates.

use crate::auth::{Auth, Csm, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::params::{json_object, path_id, Params};
use crate::renewals::{
    filter, record_input, renewal_rates, terms, upcoming, view, OutcomeBody, RenewalRates, RenewalView, Renewals,
};
use crate::revenue;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use keepwell_core::money::Month;
use keepwell_core::renewal::{check_outcome, Converter};
use keepwell_core::Invalid;
use rust_decimal::Decimal;
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/renewals", tag = "renewals",
    description = "Renewals due from `as_of` (default today) to `within_days` later (default 90), earliest first: one per subscription period that renews or ends. Contract renewals (terms of at least `contract_months`) by default; `terms=monthly` lists the month-to-month ones, which renew by themselves. Totals are in the reporting currency.",
    params(
        ("within_days" = Option<i64>, Query, description = "1 to 3660, default 90"),
        ("as_of" = Option<NaiveDate>, Query),
        ("owner" = Option<String>, Query, description = "a team member id, `me` or `none`"),
        ("status" = Option<String>, Query, description = "`pending` (scheduled churn included), `decided` or `all` (default)"),
        ("terms" = Option<String>, Query, description = "`contract` (default), `monthly` or `all`"),
        ("account_id" = Option<i64>, Query),
    ),
    responses((status = 200, body = Renewals), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Renewals>> {
    let (f, day) = filter(&Params(q), auth.user_id, state.settings.contract_months, state.store.clock().today())?;
    Ok(Json(upcoming(&state, &f, day).await?))
}

#[utoipa::path(post, path = "/api/v1/renewals/{id}/outcome", tag = "renewals", request_body = OutcomeBody,
    params(("id" = i64, Path)),
    responses((status = 200, body = RenewalView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
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
    crate::input::only(&body, &["outcome", "new_arr", "reason"], &mut shape);
    let mut get = |name: &str, read: fn(&str, &serde_json::Value, &mut Invalid) -> Option<String>| {
        body.get(name).and_then(|v| read(name, v, &mut shape))
    };
    let (outcome, new_arr, reason) =
        (get("outcome", crate::input::text), get("new_arr", crate::input::decimal), get("reason", crate::input::text));
    let (outcome, new_arr, reason) = shape.and(record_input(outcome, new_arr, reason))?;
    let new_arr = check_outcome(outcome, r.arr, new_arr, reason.as_deref())?;
    let saved = crate::renewals::record(&state.store, &auth, id, outcome, new_arr, reason.as_deref()).await?;
    let fx = state.store.fx_table().await?;
    let today = state.store.clock().today();
    let convert = Converter::new(&fx, &state.settings.reporting_currency, Month::of(today));
    Ok(Json(view(saved, today, Decimal::ONE, state.settings.contract_months, &convert)))
}

#[utoipa::path(get, path = "/api/v1/renewals/rates", tag = "renewals",
    description = "Gross and net renewal rate per month of the due date, of contract renewals unless `terms` says otherwise; a cancellation dated ahead is not decided until its day.",
    params(
        ("from" = Option<String>, Query, description = "YYYY-MM"), ("to" = Option<String>, Query, description = "YYYY-MM"),
        ("terms" = Option<String>, Query, description = "`contract` (default), `monthly` or `all`"),
        ("as_of" = Option<NaiveDate>, Query, description = "the day decided is judged on (a cancellation ahead of it is not decided); default today"),
    ),
    responses((status = 200, body = RenewalRates), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn rates_view(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<RenewalRates>> {
    let params = Params(q);
    let mut invalid = Invalid::default();
    let terms = terms(&params, &mut invalid);
    let today = params.date("as_of", &mut invalid).unwrap_or_else(|| state.store.clock().today());
    let r = match revenue::Request::read(&params, &state, today) {
        Ok(r) => invalid.into_result(r)?,
        Err(mut e) => {
            e.errors.extend(invalid.errors);
            return Err(e.into());
        }
    };
    Ok(Json(renewal_rates(&state, r.range.from, r.range.to, terms, today).await?))
}
