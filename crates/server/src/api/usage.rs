//! Product usage through the API: an account's daily rollups and summary, the accounts ranked by
//! activity, raw events, and the plan → features catalogue. Each read of the rollups first has
//! the node's event writer fold what it acknowledged into them, so a client reads what it sent.

use super::accounts::load;
use super::{json_object, path_id, Params};
use crate::auth::{Admin, Auth, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::NaiveDate;
use keepwell_core::money::percent;
use keepwell_core::usage::{self as formula, Feature};
use keepwell_core::Invalid;
use keepwell_store::usage::{
    AccountActivity, ActivityQuery, EventFilter, EventTotal, ProductUser, Ranking, StoredEvent, UsageDay,
};
use keepwell_store::Page;
use serde::Serialize;
use std::collections::HashMap;

/// The longest range `/usage` answers for at once.
const MAX_DAYS: u64 = 366;

/// One account's usage per day and event name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    data: Vec<UsageDayView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageDayView {
    date: NaiveDate,
    /// A track's event name, or `page:NAME` / `screen:NAME`.
    event: String,
    count: i64,
    /// Distinct users (or anonymous ids) behind the count.
    users: i64,
}

impl From<UsageDay> for UsageDayView {
    fn from(d: UsageDay) -> Self {
        UsageDayView { date: d.date.parse().unwrap_or_default(), event: d.event, count: d.count, users: d.users }
    }
}

/// Has the writer count every acknowledged event before a read.
pub async fn folded(state: &AppState) -> ApiResult<()> {
    state.ingest.fold().await.map_err(|e| ApiError::Internal(anyhow::anyhow!("folding events: {e}")))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/usage", tag = "usage",
    description = "The account's usage per day and event name, `from` to `to` (both included; at most 366 days; \
                   default the 30 days to today).",
    params(("id" = i64, Path), ("from" = Option<NaiveDate>, Query), ("to" = Option<NaiveDate>, Query)),
    responses((status = 200, body = Usage), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
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

/// A page of raw events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Events {
    #[schema(value_type = Vec<Object>)]
    data: Vec<StoredEvent>,
    next_cursor: Option<String>,
}

/// The instant a `from`/`to` parameter names: RFC 3339, or a date (its midnight UTC).
fn instant(p: &Params, name: &str, invalid: &mut Invalid) -> Option<chrono::DateTime<chrono::Utc>> {
    let v = p.text(name)?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&v) {
        return Some(t.to_utc());
    }
    match keepwell_core::money::date(&v) {
        Ok(d) => Some(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()),
        Err(_) => {
            invalid.push(name, format!("{v:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"));
            None
        }
    }
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

/// A feature of the account's plans and whether it was used in the last 30 days.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeatureUse {
    pub feature: String,
    pub used: bool,
}

/// Distinct users active on a day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActiveDay {
    pub date: NaiveDate,
    pub users: i64,
}

/// An account's usage as of a day. Windows end on `as_of` (included): `wau` the 7 days, `mau`
/// and everything else the 30 days. Rates are percent (90 % → 90.0), null when undefined.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageSummary {
    pub as_of: NaiveDate,
    pub dau: i64,
    pub wau: i64,
    pub mau: i64,
    /// Seats licensed by the subscriptions in force on `as_of` (null: none).
    pub seats: Option<i64>,
    /// `mau` ÷ `seats`.
    pub license_utilization: Option<f64>,
    /// The plans in force on `as_of`, whose features adoption is measured against.
    pub plans: Vec<String>,
    pub features: Vec<FeatureUse>,
    /// Features used in 30 days ÷ features of the plans (plan → features catalogue).
    pub feature_adoption: Option<f64>,
    pub events: i64,
    /// Events in the 30 days before the window.
    pub previous_events: i64,
    /// (`events` − `previous_events`) ÷ `previous_events`.
    pub trend: Option<f64>,
    /// The 10 most frequent event names of the window.
    pub top_events: Vec<EventTotal>,
    /// Each day of the window, oldest first.
    pub daily_active_users: Vec<ActiveDay>,
    /// The account's product users, most recently active first (at most 100).
    pub users: Vec<ProductUser>,
}

/// Days the summary's main window spans.
const WINDOW: u64 = 30;

/// An account's usage summary as of a day (the API and the account page).
pub async fn summary_of(state: &AppState, account: i64, as_of: NaiveDate) -> ApiResult<UsageSummary> {
    folded(state).await?;
    let store = &state.store;
    let (from, to) = formula::window(as_of, WINDOW);
    let (wau_from, _) = formula::window(as_of, 7);
    let (prev_from, prev_to) = formula::previous_window(as_of, WINDOW);
    let mau = store.active_users(account, from, to).await?;
    let totals = store.event_totals(account, from, to).await?;
    let previous_events = store.event_count(account, prev_from, prev_to).await?;
    let contract = crate::revenue::contract(state, account, as_of).await?;
    let catalogue = store.plan_features().await?;
    let used = totals.iter().map(|t| t.event.clone()).collect();
    let features = formula::features_used(&catalogue, &contract.plans, &used);
    let per_day: HashMap<String, i64> = store.daily_active_users(account, from, to).await?.into_iter().collect();
    let events = totals.iter().map(|t| t.count).sum();
    Ok(UsageSummary {
        as_of,
        dau: per_day.get(&as_of.to_string()).copied().unwrap_or(0),
        wau: store.active_users(account, wau_from, to).await?,
        mau,
        seats: (contract.seats > 0).then_some(contract.seats),
        license_utilization: formula::license_utilization(mau, contract.seats).map(percent),
        feature_adoption: formula::feature_adoption(&features).map(percent),
        features: features.iter().map(|(f, used)| FeatureUse { feature: (*f).to_owned(), used: *used }).collect(),
        plans: contract.plans,
        events,
        previous_events,
        trend: formula::trend(events, previous_events).map(percent),
        top_events: totals.into_iter().take(10).collect(),
        daily_active_users: from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(|d| ActiveDay { date: d, users: per_day.get(&d.to_string()).copied().unwrap_or(0) })
            .collect(),
        users: store.product_users(account, 100).await?,
    })
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

/// Accounts ranked by activity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub data: Vec<AccountActivity>,
}

/// The ranking a request asks for: `order`, the window (`days` ending on `as_of`), `owner`,
/// `include`, `limit`.
pub fn activity_request(p: &Params, me: Option<i64>, today: NaiveDate) -> Result<ActivityQuery, Invalid> {
    let mut invalid = Invalid::default();
    let orders = [("least", Ranking::LeastActive), ("most", Ranking::MostActive)];
    let ranking = p.choice("order", &orders, Ranking::LeastActive, &mut invalid);
    let days = p.days("days", 366, WINDOW, &mut invalid);
    let customers_only = p.choice("include", &[("customers", true), ("all", false)], true, &mut invalid);
    let as_of = p.date("as_of", &mut invalid).unwrap_or(today);
    let owner = p.owner(me, &mut invalid);
    let limit = p.limit(&mut invalid);
    invalid.into_result(ActivityQuery { ranking, window: formula::window(as_of, days), owner, customers_only, limit })
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

/// The plan → features catalogue: which event names count as using which feature, per plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanFeatures {
    #[schema(value_type = Vec<Object>, example = json!([{"plan": "pro", "feature": "reports", "events": ["Report Built", "page:Reports"]}]))]
    pub features: Vec<Feature>,
}

#[utoipa::path(get, path = "/api/v1/plan-features", tag = "usage",
    description = "The plan → features catalogue feature adoption is measured against.",
    responses((status = 200, body = PlanFeatures)), security(("bearer" = [])))]
pub async fn plan_features(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<PlanFeatures>> {
    Ok(Json(PlanFeatures { features: state.store.plan_features().await? }))
}

#[utoipa::path(put, path = "/api/v1/plan-features", tag = "usage", request_body = Object,
    description = "Replaces the whole catalogue (admins): `{\"features\": [{\"plan\", \"feature\", \"events\": [NAME, …]}]}` \
                   where an event name is a track's event or `page:NAME` / `screen:NAME`. All or nothing; audited.",
    responses((status = 200, body = PlanFeatures), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
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
    state.store.set_plan_features(&auth.actor, &features).await?;
    Ok(Json(PlanFeatures { features: state.store.plan_features().await? }))
}
