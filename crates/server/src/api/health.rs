//! Health: an account's score explained measure by measure, its history, sentiment ratings and
//! overrides, stage history, and backtests of a scorecard.

use crate::accounts::load;
use crate::auth::{Auth, Csm, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::health::{
    backtest_of, backtest_request, body, health_of, history_of, override_input, sentiment_input, Backtest, HealthView,
    History, NewOverride, NewSentiment,
};
use crate::params::{path_id, Params};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::Invalid;
use keepwell_store::health::{Override, Sentiment, StageChange};
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/accounts/{id}/health", tag = "health",
    description = "The account's health score as of `as_of` (default today), explained: for every measure its raw value, \
                   0–100 score, weight and contribution (contributions add up to `computed_score`, which is `score` unless \
                   an override is in force), and what moved the score since 7 and 30 days before. Today's is computed from \
                   the data; a past day's is its daily snapshot (computed when there is none).",
    params(("id" = i64, Path), ("as_of" = Option<NaiveDate>, Query)),
    responses((status = 200, body = HealthView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn show(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<HealthView>> {
    let as_of = crate::revenue::as_of(&Params(q), state.store.clock().today())?;
    let account = load(&state, path_id(&id)?).await?;
    Ok(Json(health_of(&state, account.id, as_of).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/health/history", tag = "health",
    description = "The account's daily health snapshots from `from` to `to` (default the 90 days to today; at most 3 660 days).",
    params(("id" = i64, Path), ("from" = Option<NaiveDate>, Query), ("to" = Option<NaiveDate>, Query)),
    responses((status = 200, body = History), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn history(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<History>> {
    let account = load(&state, path_id(&id)?).await?;
    let mut invalid = Invalid::default();
    let (from, to) = Params(q).range(90, 3660, state.store.clock().today(), &mut invalid);
    invalid.into_result(())?;
    Ok(Json(history_of(&state, account.id, from, to).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/sentiments", tag = "health",
    description = "CSM sentiment ratings of the account, newest first. The latest is the `sentiment()` measure.",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Sentiment>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn sentiments(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Sentiment>>> {
    let account = load(&state, path_id(&id)?).await?;
    Ok(Json(state.store.sentiments(account.id).await?))
}

#[utoipa::path(post, path = "/api/v1/accounts/{id}/sentiments", tag = "health",
    description = "Adds a CSM sentiment rating (1–5) with its reason: a measure of its own, not an overwrite of the score.",
    params(("id" = i64, Path)), request_body = NewSentiment,
    responses((status = 201, body = Sentiment), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn add_sentiment(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<Sentiment>)> {
    let account = load(&state, path_id(&id)?).await?;
    auth.require_edit(account.owner.as_ref().map(|o| o.id))?;
    let new: NewSentiment = body(&raw)?;
    let (rating, reason, day) = sentiment_input(Some(new.rating), &new.reason, new.day, state.store.clock().today())?;
    let s = crate::health::add_sentiment(&state.store, &auth, account.id, rating, &reason, day).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/health/overrides", tag = "health",
    description = "The account's score overrides, newest first, with who set them and when they expire or were cleared.",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Override>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn overrides(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Override>>> {
    let account = load(&state, path_id(&id)?).await?;
    Ok(Json(state.store.overrides(account.id).await?))
}

#[utoipa::path(post, path = "/api/v1/accounts/{id}/health/overrides", tag = "health",
    description = "Overrides the account's score from today until `expires_on`, with a reason (audited). Replaces an override in force.",
    params(("id" = i64, Path)), request_body = NewOverride,
    responses((status = 201, body = Override), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn add_override(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<Override>)> {
    let account = load(&state, path_id(&id)?).await?;
    auth.require_edit(account.owner.as_ref().map(|o| o.id))?;
    let new: NewOverride = body(&raw)?;
    let (score, reason, expires_on) = override_input(
        new.score.to_string().parse().ok(),
        &new.reason,
        Some(new.expires_on),
        state.store.clock().today(),
    )?;
    let today = state.store.clock().today();
    let o = crate::health::add_override(&state.store, &auth, account.id, score, &reason, (today, expires_on)).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}/health/overrides", tag = "health",
    description = "Ends the override in force (audited).",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn clear_override(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let account = load(&state, path_id(&id)?).await?;
    auth.require_edit(account.owner.as_ref().map(|o| o.id))?;
    if crate::health::clear_override(&state.store, &auth, account.id, state.store.clock().today()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no override is in force".into()))
    }
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/stages", tag = "health",
    description = "The account's lifecycle stage changes, newest first, with their cause (`manual` or `rule:KEY`).",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<StageChange>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn stages(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<StageChange>>> {
    let account = load(&state, path_id(&id)?).await?;
    Ok(Json(state.store.stage_changes(account.id).await?))
}

#[utoipa::path(get, path = "/api/v1/health/backtest", tag = "health",
    description = "How well scorecard `scorecard` (default `default`) predicted churn (MRR to zero) within `horizon_days` \
                   (default 90) over `from`..`to` (default: the year ending horizon_days ago): ROC AUC of the score and of each \
                   measure alone, account-days and churn rate per band, the red band's lift, ROC points, and suggested weights \
                   fitted by logistic regression on the earlier two thirds of the days, with AUCs on the later third.",
    params(("scorecard" = Option<String>, Query), ("horizon_days" = Option<u64>, Query), ("from" = Option<NaiveDate>, Query), ("to" = Option<NaiveDate>, Query)),
    responses((status = 200, body = Backtest), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn backtest(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Backtest>> {
    let (key, horizon, from, to) = backtest_request(&Params(q), state.store.clock().today())?;
    Ok(Json(backtest_of(&state, &key, horizon, from, to).await?))
}
