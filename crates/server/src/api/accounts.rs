//! `/api/v1/accounts`: list, create, read, update, delete, and lookup by any external id.

use crate::accounts::{filter_from, load, AccountPage};
use crate::auth::{Auth, Csm, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::input::{account_as_input, account_input, AccountBody};
use crate::params::{json_object, path_id, Params};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::account::AccountInput;
use keepwell_core::LifecycleStage;
use keepwell_store::accounts::Account;
use keepwell_store::Page;
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    params(
        ("q" = Option<String>, Query, description = "part of the name or domain"),
        ("owner" = Option<String>, Query, description = "a team member id, `me` or `none`"),
        ("stage" = Option<LifecycleStage>, Query),
        ("tag" = Option<String>, Query),
        ("country" = Option<String>, Query, description = "ISO 3166 alpha-2"),
        ("band" = Option<String>, Query, description = "`red`, `yellow`, `green`, `unscored` (too little data for a score) or `churned`: the band of the latest daily pass"),
        ("sort" = Option<String>, Query, description = "name, created_at, updated_at, employees, mrr, arr (MRR in the reporting currency), renews_on, last_active_on, score, coverage or owner; prefix - for descending. Accounts without the value sort as lowest (renews_on: as latest)."),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = AccountPage), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Account>>> {
    let filter = filter_from(&Params(q), auth.user_id)?;
    Ok(Json(state.store.accounts(&filter).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)), responses((status = 200, body = Account), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(_auth, state))]
pub async fn show(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    Ok(Json(load(&state, path_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/by-external-id/{external_id}", tag = "accounts",
    description = "Finds the account holding this value as any of its external ids (CRM id, Stripe customer, Segment groupId…). A value held by two accounts is a 409 naming both.",
    params(("external_id" = String, Path)),
    responses((status = 200, body = Account), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(_auth, state))]
pub async fn by_external_id(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(value): Path<String>,
) -> ApiResult<Json<Account>> {
    state
        .store
        .account_by_external_id(&value)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no account has the external id {value:?}")))
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountBody,
    responses((status = 201, body = Account), (status = 422, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn create(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Account>)> {
    let (input, shape) = account_input(&json_object(&body)?, AccountInput::default());
    let account = crate::accounts::create(&state.store, &auth, shape.and(input.validate())?).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", request_body = AccountBody,
    description = "Changes the fields given; `null` clears one. `external_ids` replaces the set, `attributes` merges.",
    params(("id" = i64, Path)),
    responses((status = 200, body = Account), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state, body))]
pub async fn update(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Account>> {
    let current = load(&state, path_id(&id)?).await?;
    auth.require_edit(current.owner.as_ref().map(|o| o.id))?;
    let body = json_object(&body)?;
    let (input, shape) = account_input(&body, account_as_input(&current));
    let new = shape.and(input.validate()).map_err(|e| crate::input::kept(&body, e))?;
    Ok(Json(crate::accounts::update(&state.store, &auth, current.id, &new).await?))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts",
    description = "Deletes the account with its contacts and external ids.",
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn delete(auth: Auth<Csm>, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    crate::accounts::delete(&state.store, &auth, path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/accounts/bulk", tag = "accounts", request_body = crate::input::BulkBody,
    description = "Adds a tag, sets the owner or opens a task on the accounts chosen (`ids`) or on every account matching \
                   `filter`, in one write: all or nothing for the accounts the caller may change. Those they may not \
                   (a csm's accounts are their own) are left as they were and counted in `refused`.",
    responses((status = 200, body = crate::accounts::BulkReport), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn bulk(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<crate::accounts::BulkReport>> {
    let (request, invalid) = crate::input::bulk_input(&json_object(&body)?);
    let (chosen, filter) = (request.ids, request.filter);
    let action = match (request.action, invalid.into_result(())) {
        (Some(a), Ok(())) => a,
        (_, Err(e)) => return Err(e.into()),
        (None, Ok(())) => return Err(keepwell_core::Invalid::field("add_tag", "give one action").into()),
    };
    let filter = match filter {
        Some(f) => Some(filter_from(&Params(f), auth.user_id).map_err(|mut e| {
            for f in &mut e.errors {
                f.field = format!("filter.{}", f.field);
            }
            e
        })?),
        None => None,
    };
    let ids = crate::accounts::bulk_targets(&state.store, &chosen.unwrap_or_default(), filter.as_ref()).await?;
    Ok(Json(crate::accounts::bulk(&state.store, &auth, &ids, &action).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/export", tag = "accounts",
    description = "Every account matching the filters (those of `GET /api/v1/accounts`, in its `sort`) as CSV in the \
                   format `keepwell import accounts` reads back: `external_id` (the CRM id), the profile, `owner_email`, \
                   `tags`, then what Keepwell reckons (`mrr`, `arr`, `currency`, `renews_on`, `last_active_on`, \
                   `health_score`, `health_band`, `coverage`: an import reads past them) and a column per custom \
                   attribute (`attribute.NAME`).",
    params(
        ("q" = Option<String>, Query), ("owner" = Option<String>, Query), ("stage" = Option<LifecycleStage>, Query),
        ("tag" = Option<String>, Query), ("country" = Option<String>, Query), ("band" = Option<String>, Query),
        ("sort" = Option<String>, Query),
    ),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn export(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<axum::response::Response> {
    let mut q = q;
    q.remove("limit");
    q.remove("cursor");
    let filter = filter_from(&Params(q), auth.user_id)?;
    let csv = crate::accounts::export_csv(&state.store, &filter).await?;
    Ok(crate::download::csv("accounts", state.store.clock().today(), csv))
}
