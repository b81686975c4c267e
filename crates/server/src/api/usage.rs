//! `/api/v1/accounts/{id}/usage` and `/api/v1/events`: product usage through the API. Each read
//! first has the node's event writer fold what it acknowledged into the rollups, so a client
//! reads what it sent.

use super::accounts::load;
use super::{path_id, Params};
use crate::auth::{Auth, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{Days, NaiveDate};
use keepwell_core::Invalid;
use keepwell_store::usage::{EventFilter, StoredEvent, UsageDay};
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
    let to = p.date("to", &mut invalid).unwrap_or_else(|| chrono::Utc::now().date_naive());
    let from = p.date("from", &mut invalid).unwrap_or(to - Days::new(29));
    if invalid.errors.is_empty() && from > to {
        invalid.push("from", format!("{from} is after `to` ({to})"));
    } else if invalid.errors.is_empty() && from + Days::new(MAX_DAYS) <= to {
        invalid.push("from", format!("the range is longer than {MAX_DAYS} days; ask for less at a time"));
    }
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
