//! Interactions: calls, meetings, e-mails, notes and QBRs logged on accounts.

use crate::accounts::load;
use crate::auth::{Auth, Csm, Viewer};
use crate::error::ApiResult;
use crate::input::{interaction_as_draft, interaction_input, InteractionBody};
use crate::params::{json_object, path_id, Params};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::interaction::{Draft, Kind};
use keepwell_core::Invalid;
use keepwell_store::interactions::{Interaction, InteractionFilter};
use keepwell_store::Page;
use std::collections::HashMap;

/// InteractionPage: one page of interactions, newest first by when they happened.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InteractionPage {
    data: Vec<Interaction>,
    next_cursor: Option<String>,
}

fn filter_of(p: &Params, me: Option<i64>, account_id: Option<i64>) -> ApiResult<InteractionFilter> {
    let mut invalid = Invalid::default();
    let kinds = Kind::ALL.map(|k| (k.as_str(), Some(k.as_str())));
    let kind = p.choice("kind", &kinds, None, &mut invalid).map(str::to_owned);
    let owner = if account_id.is_none() { p.owner(me, &mut invalid) } else { None };
    if owner == Some(None) {
        invalid.push("owner", "interactions are of accounts; name a member or \"me\"");
    }
    let limit = p.limit(&mut invalid);
    Ok(invalid.into_result(InteractionFilter {
        account_id,
        kind,
        owner: owner.flatten(),
        limit,
        cursor: p.text("cursor"),
    })?)
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/interactions", tag = "interactions",
    description = "The account's interactions, newest first by when they happened.",
    params(
        ("id" = i64, Path),
        ("kind" = Option<String>, Query, description = "`email`, `call`, `meeting`, `note` or `qbr`"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = InteractionPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn of_account(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Interaction>>> {
    let account = load(&state, path_id(&id)?).await?;
    let filter = filter_of(&Params(q), auth.user_id, Some(account.id))?;
    Ok(Json(crate::interactions::list(&state.store, &filter).await?))
}

#[utoipa::path(get, path = "/api/v1/interactions", tag = "interactions",
    description = "Interactions on every account (or those of accounts `owner` owns), newest first by when they happened.",
    params(
        ("kind" = Option<String>, Query, description = "`email`, `call`, `meeting`, `note` or `qbr`"),
        ("owner" = Option<String>, Query, description = "a team member id, or `me`: interactions on the accounts they own"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = InteractionPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Interaction>>> {
    let filter = filter_of(&Params(q), auth.user_id, None)?;
    Ok(Json(crate::interactions::list(&state.store, &filter).await?))
}

#[utoipa::path(post, path = "/api/v1/accounts/{id}/interactions", tag = "interactions",
    description = "Logs an interaction on the account (its owner, or a manager). It counts for `days_since_interaction()` from its day.",
    params(("id" = i64, Path)), request_body = InteractionBody,
    responses((status = 201, body = Interaction), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn create(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Interaction>)> {
    let account = load(&state, path_id(&id)?).await?;
    let (draft, shape) = interaction_input(&json_object(&body)?, Draft::default());
    shape.into_result(())?;
    let i =
        crate::interactions::log(&state.store, &auth, &state.settings.reporting_currency, account.id, draft).await?;
    Ok((StatusCode::CREATED, Json(i)))
}

#[utoipa::path(get, path = "/api/v1/interactions/{id}", tag = "interactions", params(("id" = i64, Path)),
    responses((status = 200, body = Interaction)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn show(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Interaction>> {
    Ok(Json(crate::interactions::get(&state.store, path_id(&id)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/interactions/{id}", tag = "interactions",
    description = "Changes the fields sent (its author, or a manager); `null` clears `external_id`, `body`, `subject` \
                   (which then comes from the body) and the lists.",
    params(("id" = i64, Path)), request_body = InteractionBody,
    responses((status = 200, body = Interaction), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Interaction>> {
    let current = crate::interactions::get(&state.store, path_id(&id)?).await?;
    let (draft, shape) = interaction_input(&json_object(&body)?, interaction_as_draft(&current));
    shape.into_result(())?;
    Ok(Json(crate::interactions::update(&state.store, &auth, current.id, draft).await?))
}

#[utoipa::path(delete, path = "/api/v1/interactions/{id}", tag = "interactions", params(("id" = i64, Path)),
    description = "Deletes the interaction (its author, or a manager).",
    responses((status = 204)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(auth: Auth<Csm>, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    crate::interactions::delete(&state.store, &auth, path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
