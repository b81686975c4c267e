//! Definitions through the API: segments (with their members, history and a live count),
//! scorecards and lifecycle rules, created or updated by key. A change re-runs today's pass, so
//! membership, stages and scores follow at once.

use super::health::{body, reweigh};
use super::Params;
use crate::auth::{Auth, Manager, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use keepwell_core::definitions::{LifecycleRuleDef, ScorecardDef, SegmentDef};
use keepwell_core::{expr, measure, Invalid};
use keepwell_store::health::{Change, MemberRow, SegmentChange, StoredRule, StoredScorecard, StoredSegment};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentView {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub filter: String,
    /// Members as of the latest daily pass.
    pub members: i64,
    /// Why the daily pass skips it (a definition stored before a limit it breaks), else null.
    pub problem: Option<String>,
}

async fn segment_view(state: &AppState, key: &str) -> ApiResult<SegmentView> {
    let s = state.store.segment(key).await?.ok_or_else(|| ApiError::NotFound(format!("no segment {key:?}")))?;
    view_of(state, s).await
}

async fn view_of(state: &AppState, s: StoredSegment) -> ApiResult<SegmentView> {
    let members = state.store.count_segment_members(s.id, state.store.clock().today()).await?;
    Ok(SegmentView { id: s.id, key: s.def.key, name: s.def.name, filter: s.def.filter, members, problem: s.problem })
}

/// 201 for a new definition, 200 for a changed or unchanged one.
fn status(change: &Change) -> StatusCode {
    if change.action == "created" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// After a definition changed: today's pass again, so membership, stages and scores follow.
pub async fn changed(state: &AppState, change: &Change) -> ApiResult<()> {
    if change.action != "unchanged" {
        crate::daily::pass_today(state).await.map_err(ApiError::Internal)?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/segments", tag = "segments",
    description = "Every segment with its filter and its member count as of the latest daily pass.",
    responses((status = 200, body = Vec<SegmentView>)), security(("bearer" = [])))]
pub async fn segments(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<Vec<SegmentView>>> {
    let mut out = Vec::new();
    for s in state.store.segments().await? {
        out.push(view_of(&state, s).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/v1/segments", tag = "segments",
    description = "Creates or updates (by `key`) a segment: a saved filter in the filter language (see the README). \
                   Membership is worked out at once and kept by the daily pass.",
    request_body = SegmentDef,
    responses((status = 201, body = SegmentView), (status = 200, body = SegmentView), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn save_segment(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<SegmentView>)> {
    let def: SegmentDef = body(&raw)?;
    let change = state.store.save_segment(&auth.actor, &def).await?;
    changed(&state, &change).await?;
    Ok((status(&change), Json(segment_view(&state, &def.key).await?)))
}

#[utoipa::path(get, path = "/api/v1/segments/{key}", tag = "segments",
    params(("key" = String, Path)),
    responses((status = 200, body = SegmentView), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn segment(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<SegmentView>> {
    Ok(Json(segment_view(&state, &key).await?))
}

#[utoipa::path(delete, path = "/api/v1/segments/{key}", tag = "segments",
    description = "Deletes a segment and its history. Refused (409) while a scorecard scores it.",
    params(("key" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn delete_segment(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_definition(&auth.actor, "segment", &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/segments/{key}/members", tag = "segments",
    description = "The segment's members as of `as_of` (default today), by account id, paged with `limit` and `cursor`.",
    params(("key" = String, Path), ("as_of" = Option<NaiveDate>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = MemberPage), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn members(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<MemberPage>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let limit = p.limit(&mut invalid);
    let on = p.date("as_of", &mut invalid).unwrap_or_else(|| state.store.clock().today());
    let after = p.id("cursor", &mut invalid).unwrap_or(0);
    invalid.into_result(())?;
    let s = state.store.segment(&key).await?.ok_or_else(|| ApiError::NotFound(format!("no segment {key:?}")))?;
    let data = state.store.segment_members(s.id, on, after, limit).await?;
    let next_cursor = (data.len() as i64 == limit).then(|| data.last().map(|m| m.account_id.to_string())).flatten();
    Ok(Json(MemberPage { data, next_cursor }))
}

/// MemberPage: one page of a segment's members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    pub data: Vec<MemberRow>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentHistory {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Who entered and who left, newest first.
    pub data: Vec<SegmentChange>,
}

#[utoipa::path(get, path = "/api/v1/segments/{key}/history", tag = "segments",
    description = "Who entered and who left the segment from `from` to `to` (default the 90 days to today), newest first (at most 1 000).",
    params(("key" = String, Path), ("from" = Option<NaiveDate>, Query), ("to" = Option<NaiveDate>, Query)),
    responses((status = 200, body = SegmentHistory), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn history(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<SegmentHistory>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let (from, to) = p.range(90, 3660, state.store.clock().today(), &mut invalid);
    invalid.into_result(())?;
    let s = state.store.segment(&key).await?.ok_or_else(|| ApiError::NotFound(format!("no segment {key:?}")))?;
    Ok(Json(SegmentHistory { from, to, data: state.store.segment_history(s.id, from, to, 1000).await? }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preview {
    pub filter: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewAccount {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewResult {
    /// Accounts the filter holds for today.
    pub count: i64,
    /// The first 20 of them by id.
    pub sample: Vec<PreviewAccount>,
}

/// How long the live count's facts serve the next keystrokes while nothing changes.
const LIVE_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// The live count of a filter, or why it does not parse (naming the column). The facts it reads
/// are kept while the data they come from does not change, so typing a filter costs one load.
pub async fn preview_of(state: &AppState, filter: &str) -> ApiResult<PreviewResult> {
    let e = expr::parse(filter, &measure::SCHEMA)
        .map_err(|e| ApiError::Invalid(Invalid::field("filter", e.to_string())))?;
    let needs = keepwell_core::daily::needs_of(&[&e], Vec::new());
    let today = state.store.clock().today();
    crate::api::usage::folded(state).await?;
    let version = state.store.live_version().await?;
    let live = {
        let mut cached = state.live.lock().await;
        let fresh = |at: &std::time::Instant, f: &keepwell_store::health::LiveFacts| {
            at.elapsed() < LIVE_FOR && f.day == today && f.version == version
        };
        match cached.as_ref() {
            Some((at, f)) if fresh(at, f) && f.covers(&needs) => f.clone(),
            _ => {
                let wanted = match cached.as_ref() {
                    Some((at, f)) if fresh(at, f) => keepwell_store::health::union(&f.needs, &needs),
                    _ => needs,
                };
                let f = std::sync::Arc::new(state.store.live_facts(&wanted, today).await?);
                *cached = Some((std::time::Instant::now(), f.clone()));
                f
            }
        }
    };
    let (count, ids) = live.count(&state.settings.reporting_currency, &e, 20);
    let mut sample = Vec::new();
    for id in ids {
        if let Some(a) = state.store.account(id).await? {
            sample.push(PreviewAccount { id, name: a.name });
        }
    }
    Ok(PreviewResult { count, sample })
}

#[utoipa::path(post, path = "/api/v1/segments/preview", tag = "segments",
    description = "How many accounts a filter holds for today, and the first of them: the segment builder's live count.",
    request_body = Preview,
    responses((status = 200, body = PreviewResult), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn preview(_auth: Auth<Viewer>, State(state): State<AppState>, raw: Bytes) -> ApiResult<Json<PreviewResult>> {
    let p: Preview = body(&raw)?;
    Ok(Json(preview_of(&state, &p.filter).await?))
}

#[utoipa::path(get, path = "/api/v1/scorecards", tag = "scorecards",
    description = "Every scorecard by priority, with its revision (raised by every change).",
    responses((status = 200, body = Vec<StoredScorecard>)), security(("bearer" = [])))]
pub async fn scorecards(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<Vec<StoredScorecard>>> {
    Ok(Json(state.store.scorecards().await?))
}

async fn scorecard_of(state: &AppState, key: &str) -> ApiResult<StoredScorecard> {
    state.store.scorecard(key).await?.ok_or_else(|| ApiError::NotFound(format!("no scorecard {key:?}")))
}

#[utoipa::path(get, path = "/api/v1/scorecards/{key}", tag = "scorecards",
    params(("key" = String, Path)),
    responses((status = 200, body = StoredScorecard), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn scorecard(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<StoredScorecard>> {
    Ok(Json(scorecard_of(&state, &key).await?))
}

#[utoipa::path(post, path = "/api/v1/scorecards", tag = "scorecards",
    description = "Creates or updates (by `key`) a scorecard: its segment or onboarding age, priority, bands and measures \
                   (source, weight, scale, applies_if, missing_score). Exactly one default scorecard must remain.",
    request_body = ScorecardDef,
    responses((status = 201, body = StoredScorecard), (status = 200, body = StoredScorecard), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn save_scorecard(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<StoredScorecard>)> {
    let def: ScorecardDef = body(&raw)?;
    let change = state.store.save_scorecard(&auth.actor, &def).await?;
    changed(&state, &change).await?;
    Ok((status(&change), Json(scorecard_of(&state, &def.key).await?)))
}

#[utoipa::path(delete, path = "/api/v1/scorecards/{key}", tag = "scorecards",
    description = "Deletes a scorecard and the snapshots it scored. The default scorecard cannot go (409).",
    params(("key" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn delete_scorecard(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_definition(&auth.actor, "scorecard", &key).await?;
    crate::daily::pass_today(&state).await.map_err(ApiError::Internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Measure key → new weight (0 removes the measure).
    pub weights: HashMap<String, f64>,
}

#[utoipa::path(post, path = "/api/v1/scorecards/{key}/weights", tag = "scorecards",
    description = "Sets the weights of some measures (the backtest's suggestion, applied): a new revision.",
    params(("key" = String, Path)), request_body = Weights,
    responses((status = 200, body = StoredScorecard), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn set_weights(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    raw: Bytes,
) -> ApiResult<Json<StoredScorecard>> {
    let w: Weights = body(&raw)?;
    let current = scorecard_of(&state, &key).await?;
    let def = reweigh(&current.def, &w.weights)?;
    let change = state.store.save_scorecard(&auth.actor, &def).await?;
    changed(&state, &change).await?;
    Ok(Json(scorecard_of(&state, &key).await?))
}

#[utoipa::path(get, path = "/api/v1/lifecycle-rules", tag = "lifecycle",
    description = "Lifecycle rules by priority: the first whose condition holds moves the account to its stage in the daily pass.",
    responses((status = 200, body = Vec<StoredRule>)), security(("bearer" = [])))]
pub async fn rules(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<Vec<StoredRule>>> {
    Ok(Json(state.store.lifecycle_rules().await?))
}

#[utoipa::path(post, path = "/api/v1/lifecycle-rules", tag = "lifecycle",
    description = "Creates or updates (by `key`) a lifecycle rule.",
    request_body = LifecycleRuleDef,
    responses((status = 201, body = LifecycleRuleDef), (status = 200, body = LifecycleRuleDef), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn save_rule(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<LifecycleRuleDef>)> {
    let def: LifecycleRuleDef = body(&raw)?;
    let change = state.store.save_lifecycle_rule(&auth.actor, &def).await?;
    changed(&state, &change).await?;
    Ok((status(&change), Json(def)))
}

#[utoipa::path(delete, path = "/api/v1/lifecycle-rules/{key}", tag = "lifecycle",
    params(("key" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn delete_rule(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_definition(&auth.actor, "lifecycle_rule", &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
