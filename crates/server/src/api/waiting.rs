//! Usage that reached no account yet: what waits, linking a waiting groupId to an account, and a
//! replay of the days it touched for those accounts only.

use crate::auth::{Auth, Manager, Viewer};
use crate::error::ApiResult;
use crate::params::{json_object, Params};
use crate::state::AppState;
use crate::waiting::{link_all, links_of, Linked, LinksBody, ReplayBody, Replayed, UnmatchedPage};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use keepwell_core::Invalid;
use keepwell_store::usage::Unmatched;
use keepwell_store::Page;
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/usage/unmatched", tag = "usage",
    description = "Usage events that reached no account, by groupId (or by user, for events without one), most events \
                   first: how many, from how many users, first and last seen, and why they wait. They reach their account \
                   as soon as one holds the groupId as an external id (of kind `segment`, else of any kind when one \
                   account alone holds it), or when linked here.",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = UnmatchedPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Unmatched>>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let limit = p.limit(&mut invalid);
    invalid.into_result(())?;
    crate::usage::folded(&state).await?;
    Ok(Json(state.store.unmatched(limit, p.text("cursor").as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/usage/unmatched/links", tag = "usage", request_body = LinksBody,
    description = "Links waiting groupIds to existing accounts (managers): each becomes one of its account's external ids \
                   (kind `segment`, or `segment-2`… when it has one), its waiting events reach the account and are \
                   counted at once. The answer names the accounts and days touched: `POST /api/v1/health/replay` with them \
                   rebuilds those days' scores.",
    responses((status = 200, body = Linked)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn link(auth: Auth<Manager>, State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Linked>> {
    let links = links_of(&json_object(&body)?)?;
    crate::usage::folded(&state).await?;
    Ok(Json(Linked { attributed: link_all(&state, &auth, &links).await? }))
}

#[utoipa::path(post, path = "/api/v1/health/replay", tag = "health", request_body = ReplayBody,
    description = "Reruns the daily pass from `from` to `to` for these accounts only (managers): their snapshots, segment \
                   membership and rule-made stage changes of those days are rebuilt from the data as it is now; every other \
                   account is left alone. At most 10 000 accounts and 400 days at once.",
    responses((status = 200, body = Replayed)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn replay(_auth: Auth<Manager>, State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Replayed>> {
    let r: ReplayBody = crate::health::body(&body)?;
    let mut invalid = Invalid::default();
    if r.from > r.to {
        invalid.push("from", format!("{} is after `to` ({})", r.from, r.to));
    } else if (r.to - r.from).num_days() >= 400 {
        invalid.push("from", "at most 400 days at once");
    }
    if r.accounts.is_empty() {
        invalid.push("accounts", "name at least one account");
    }
    keepwell_core::limits::count(&mut invalid, "accounts", r.accounts.len(), 10_000, "accounts");
    invalid.into_result(())?;
    crate::usage::folded(&state).await?;
    let mut snapshots = 0;
    let reporting = &state.settings.reporting_currency;
    state
        .store
        .run_days_of(reporting, Some(&r.accounts), r.from, r.to, |_, out| snapshots += out.snapshots.len())
        .await?;
    Ok(Json(Replayed { accounts: r.accounts.len(), days: (r.to - r.from).num_days() + 1, snapshots }))
}
