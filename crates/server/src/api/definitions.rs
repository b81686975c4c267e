//! Definitions through the API: segments (with their members, history and a live count),
//! scorecards and lifecycle rules, created or updated by key. A change re-runs today's pass, so
//! membership, stages and scores follow at once.

use crate::auth::{Auth, Manager, Viewer};
use crate::definitions::{
    changed, preview_of, scorecard_of, segment_view, status, view_of, MemberPage, Preview, PreviewResult,
    SegmentHistory, SegmentView, Weights,
};
use crate::error::{ApiError, ApiResult};
use crate::health::{body, reweigh};
use crate::params::Params;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::definitions::{LifecycleRuleDef, ScorecardDef, SegmentDef};
use keepwell_core::Invalid;
use keepwell_store::health::{StoredRule, StoredScorecard};
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/segments", tag = "segments",
    description = "Every segment with its filter and its member count as of the latest daily pass.",
    responses((status = 200, body = Vec<SegmentView>)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
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
#[tracing::instrument(skip_all)]
pub async fn save_segment(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<SegmentView>)> {
    let def: SegmentDef = body(&raw)?;
    let change = crate::definitions::save_segment(&state.store, &auth, &def).await?;
    changed(&state, &change).await?;
    Ok((status(&change), Json(segment_view(&state, &def.key).await?)))
}

#[utoipa::path(get, path = "/api/v1/segments/{key}", tag = "segments",
    params(("key" = String, Path)),
    responses((status = 200, body = SegmentView), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
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
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn delete_segment(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    crate::definitions::delete(&state.store, &auth, "segment", &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/segments/{key}/members", tag = "segments",
    description = "The segment's members as of `as_of` (default today), by account id, paged with `limit` and `cursor`.",
    params(("key" = String, Path), ("as_of" = Option<NaiveDate>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = MemberPage), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
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

#[utoipa::path(get, path = "/api/v1/segments/{key}/history", tag = "segments",
    description = "Who entered and who left the segment from `from` to `to` (default the 90 days to today), newest first (at most 1 000).",
    params(("key" = String, Path), ("from" = Option<NaiveDate>, Query), ("to" = Option<NaiveDate>, Query)),
    responses((status = 200, body = SegmentHistory), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
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

#[utoipa::path(post, path = "/api/v1/segments/preview", tag = "segments",
    description = "How many accounts a filter holds for today, and the first of them: the segment builder's live count.",
    request_body = Preview,
    responses((status = 200, body = PreviewResult), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn preview(_auth: Auth<Viewer>, State(state): State<AppState>, raw: Bytes) -> ApiResult<Json<PreviewResult>> {
    let p: Preview = body(&raw)?;
    Ok(Json(preview_of(&state, &p.filter).await?))
}

#[utoipa::path(get, path = "/api/v1/scorecards", tag = "scorecards",
    description = "Every scorecard by priority, with its revision (raised by every change).",
    responses((status = 200, body = Vec<StoredScorecard>)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn scorecards(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<Vec<StoredScorecard>>> {
    Ok(Json(state.store.scorecards().await?))
}

#[utoipa::path(get, path = "/api/v1/scorecards/{key}", tag = "scorecards",
    params(("key" = String, Path)),
    responses((status = 200, body = StoredScorecard), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
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
#[tracing::instrument(skip_all)]
pub async fn save_scorecard(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<StoredScorecard>)> {
    let def: ScorecardDef = body(&raw)?;
    let change = crate::definitions::save_scorecard(&state.store, &auth, &def).await?;
    changed(&state, &change).await?;
    Ok((status(&change), Json(scorecard_of(&state, &def.key).await?)))
}

#[utoipa::path(delete, path = "/api/v1/scorecards/{key}", tag = "scorecards",
    description = "Deletes a scorecard and the snapshots it scored. The default scorecard cannot go (409).",
    params(("key" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn delete_scorecard(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    crate::definitions::delete(&state.store, &auth, "scorecard", &key).await?;
    crate::jobs::pass_today(&state).await.map_err(ApiError::Internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/scorecards/{key}/weights", tag = "scorecards",
    description = "Sets the weights of some measures (the backtest's suggestion, applied): a new revision.",
    params(("key" = String, Path)), request_body = Weights,
    responses((status = 200, body = StoredScorecard), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn set_weights(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    raw: Bytes,
) -> ApiResult<Json<StoredScorecard>> {
    let w: Weights = body(&raw)?;
    let current = scorecard_of(&state, &key).await?;
    let def = reweigh(&current.def, &w.weights)?;
    let change = crate::definitions::save_scorecard(&state.store, &auth, &def).await?;
    changed(&state, &change).await?;
    Ok(Json(scorecard_of(&state, &key).await?))
}

#[utoipa::path(get, path = "/api/v1/lifecycle-rules", tag = "lifecycle",
    description = "Lifecycle rules by priority: the first whose condition holds moves the account to its stage in the daily pass.",
    responses((status = 200, body = Vec<StoredRule>)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn rules(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<Vec<StoredRule>>> {
    Ok(Json(state.store.lifecycle_rules().await?))
}

#[utoipa::path(post, path = "/api/v1/lifecycle-rules", tag = "lifecycle",
    description = "Creates or updates (by `key`) a lifecycle rule.",
    request_body = LifecycleRuleDef,
    responses((status = 201, body = LifecycleRuleDef), (status = 200, body = LifecycleRuleDef), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn save_rule(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<LifecycleRuleDef>)> {
    let def: LifecycleRuleDef = body(&raw)?;
    let change = crate::definitions::save_lifecycle_rule(&state.store, &auth, &def).await?;
    changed(&state, &change).await?;
    Ok((status(&change), Json(def)))
}

#[utoipa::path(delete, path = "/api/v1/lifecycle-rules/{key}", tag = "lifecycle",
    params(("key" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn delete_rule(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    crate::definitions::delete(&state.store, &auth, "lifecycle_rule", &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
