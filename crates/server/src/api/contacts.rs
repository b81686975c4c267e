//! `/api/v1/contacts` and `/api/v1/accounts/{id}/contacts`.

use crate::auth::{Auth, Csm, Viewer};
use crate::contacts::{filter, load, require_account_edit, ContactPage};
use crate::error::ApiResult;
use crate::input::{contact_as_input, contact_input, ContactBody};
use crate::params::{json_object, path_id, Params};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::contact::{AccountRef, ContactInput};
use keepwell_store::contacts::Contact;
use keepwell_store::Page;
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts",
    params(
        ("account_id" = Option<i64>, Query),
        ("q" = Option<String>, Query, description = "part of the e-mail or name"),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ContactPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Contact>>> {
    Ok(Json(state.store.contacts(&filter(&Params(q), None)?).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/contacts", tag = "contacts",
    params(("id" = i64, Path), ("q" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ContactPage), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip(_auth, state, q))]
pub async fn of_account(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Contact>>> {
    let account = crate::accounts::load(&state, path_id(&id)?).await?;
    Ok(Json(state.store.contacts(&filter(&Params(q), Some(account.id))?).await?))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip(_auth, state))]
pub async fn show(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(load(&state, path_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = ContactBody,
    responses((status = 201, body = Contact), (status = 422, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn create(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let (input, shape) = contact_input(&json_object(&body)?, ContactInput::default());
    let new = shape.and(input.validate())?;
    Ok((StatusCode::CREATED, Json(crate::contacts::create(&state.store, &auth, &new).await?)))
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", request_body = ContactBody, params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state, body))]
pub async fn update(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Contact>> {
    let current = load(&state, path_id(&id)?).await?;
    require_account_edit(&state.store, &auth, &AccountRef::Id(current.account_id)).await?;
    let body = json_object(&body)?;
    let (input, shape) = contact_input(&body, contact_as_input(&current));
    let new = shape.and(input.validate()).map_err(|e| crate::input::kept(&body, e))?;
    Ok(Json(crate::contacts::update(&state.store, &auth, &current, &new).await?))
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn delete(auth: Auth<Csm>, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let current = load(&state, path_id(&id)?).await?;
    crate::contacts::delete(&state.store, &auth, &current).await?;
    Ok(StatusCode::NO_CONTENT)
}
