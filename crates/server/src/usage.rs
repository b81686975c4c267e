//! The usage use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::refused::Outcome;
use crate::state::AppState;
use chrono::NaiveDate;
use keepwell_core::money::percent;
use keepwell_core::usage::{self as formula, Feature};
use keepwell_core::Invalid;
use keepwell_store::usage::{AccountActivity, ActivityQuery, EventTotal, ProductUser, Ranking, StoredEvent, UsageDay};
use keepwell_store::Store;
use serde::Serialize;
use std::collections::HashMap;

/// The longest range `/usage` answers for at once.
pub(crate) const MAX_DAYS: u64 = 366;

/// One account's usage per day and event name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub data: Vec<UsageDayView>,
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

/// A page of raw events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Events {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<StoredEvent>,
    pub next_cursor: Option<String>,
}

/// The instant a `from`/`to` parameter names: RFC 3339, or a date (its midnight UTC).
pub(crate) fn instant(p: &Params, name: &str, invalid: &mut Invalid) -> Option<chrono::DateTime<chrono::Utc>> {
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

/// The plan → features catalogue: which event names count as using which feature, per plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanFeatures {
    #[schema(value_type = Vec<Object>, example = json!([{"plan": "pro", "feature": "reports", "events": ["Report Built", "page:Reports"]}]))]
    pub features: Vec<Feature>,
}

/// Replaces the whole plan → features catalogue.
pub async fn set_plan_features(store: &Store, caller: &Caller, rows: &[Feature]) -> Outcome<()> {
    caller.decide(store, async |w| keepwell_store::usage::set_plan_features(w, rows).await).await
}
