//! Product usage through the API: an account's daily rollups and summary, the accounts ranked by
//! activity, raw events, and the plan → features catalogue. Each read of the rollups first has
//! the node's event writer fold what it acknowledged into them, so a client reads what it sent.

use crate::accounts::load;
use crate::auth::{Admin, Auth, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::params::{json_object, path_id, Params};
use crate::state::AppState;
use crate::usage::{
    activity_request, folded, instant, summary_of, Activity, Events, PlanFeatures, Usage, UsageDayView, UsageSummary,
    MAX_DAYS,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use keepwell_core::usage::Feature;
use keepwell_core::Invalid;
use keepwell_store::usage::EventFilter;
use keepwell_store::Page;
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/accounts/{id}/usage", tag = "usage",
    description = "The account's usage per day and event name, `from` to `to` (both included; at most 366 days; \
                   default the 30 days to today).",
    params(("id" = i64, Path), ("from" = Option<NaiveDate>, Query), ("to" = Option<NaiveDate>, Query)),
    responses((status = 200, body = Usage), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn days(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Usage>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let (from, to) = p.range(30, MAX_DAYS, state.store.clock().today(), &mut invalid);
    invalid.into_result(())?;
    let account = load(&state, path_id(&id)?).await?;
    folded(&state).await?;
    let rows = state.store.usage_days(account.id, &from.to_string(), &to.to_string()).await?;
    Ok(Json(Usage { data: rows.into_iter().map(UsageDayView::from).collect() }))
}

#[utoipa::path(get, path = "/api/v1/events", tag = "usage",
    description = "Raw events as received (identify, group, track, page, screen), latest received first, with \
                   their corrected `timestamp`, the client's `original_timestamp` and `sent_at`, and `received_at`. \
                   Filters: `account_id`, `user_id`, `event` (a track's event or a page's or screen's name), and the \
                   corrected timestamp `from` (included) and `to` (excluded), as dates or RFC 3339 instants.",
    params(("account_id" = Option<i64>, Query), ("user_id" = Option<String>, Query), ("event" = Option<String>, Query),
        ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("cursor" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50")),
    responses((status = 200, body = Events), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn events(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Events>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let filter = EventFilter {
        account_id: p.id("account_id", &mut invalid),
        user_id: p.text("user_id"),
        event: p.text("event"),
        from: instant(&p, "from", &mut invalid),
        to: instant(&p, "to", &mut invalid),
        cursor: p.text("cursor"),
        limit: p.limit(&mut invalid),
    };
    invalid.into_result(())?;
    let Page { data, next_cursor } = state.store.events(&filter).await?;
    Ok(Json(Events { data, next_cursor }))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/usage/summary", tag = "usage",
    description = "The account's usage as of `as_of` (default today, UTC): daily, weekly (7 days) and monthly (30 days) \
                   active users, license utilisation (active users in 30 days ÷ licensed seats), feature adoption \
                   (features used in 30 days ÷ features its plans include, per the plan → features catalogue), the trend \
                   of events against the 30 days before, top events, active users per day and its users' last activity. \
                   Rates are percent, null when undefined.",
    params(("id" = i64, Path), ("as_of" = Option<NaiveDate>, Query)),
    responses((status = 200, body = UsageSummary), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn summary(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<UsageSummary>> {
    let as_of = crate::revenue::as_of(&Params(q), state.store.clock().today())?;
    let account = load(&state, path_id(&id)?).await?;
    Ok(Json(summary_of(&state, account.id, as_of).await?))
}

#[utoipa::path(get, path = "/api/v1/usage/accounts", tag = "usage",
    description = "Accounts ranked by users active in the `days` (default 30) ending on `as_of` (default today), then by \
                   events: `order=least` (default; accounts with no usage at all first) or `order=most`. `include=customers` \
                   (default) ranks the accounts with a subscription in force on `as_of`, `include=all` every account. `owner` \
                   is a team member id, `me` or `none`.",
    params(("order" = Option<String>, Query), ("days" = Option<u32>, Query), ("as_of" = Option<NaiveDate>, Query),
        ("include" = Option<String>, Query), ("owner" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50")),
    responses((status = 200, body = Activity), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn activity(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Activity>> {
    let query = activity_request(&Params(q), auth.user_id, state.store.clock().today())?;
    folded(&state).await?;
    let data = state.store.account_activity(&query).await?;
    let (from, to) = query.window;
    Ok(Json(Activity { from, to, data }))
}

#[utoipa::path(get, path = "/api/v1/plan-features", tag = "usage",
    description = "The plan → features catalogue feature adoption is measured against.",
    responses((status = 200, body = PlanFeatures)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn plan_features(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<PlanFeatures>> {
    Ok(Json(PlanFeatures { features: state.store.plan_features().await? }))
}

#[utoipa::path(put, path = "/api/v1/plan-features", tag = "usage", request_body = Object,
    description = "Replaces the whole catalogue (admins): `{\"features\": [{\"plan\", \"feature\", \"events\": [NAME, …]}]}` \
                   where an event name is a track's event or `page:NAME` / `screen:NAME`. All or nothing; audited.",
    responses((status = 200, body = PlanFeatures), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn set_plan_features(
    auth: Auth<Admin>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<PlanFeatures>> {
    let body = json_object(&body)?;
    let features: Vec<Feature> = match body.get("features") {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            ApiError::invalid("features", format!("must be a list of {{plan, feature, events: [names]}}: {e}"))
        })?,
        None => return Err(ApiError::invalid("features", "is missing")),
    };
    crate::usage::set_plan_features(&state.store, &auth, &features).await?;
    Ok(Json(PlanFeatures { features: state.store.plan_features().await? }))
}
