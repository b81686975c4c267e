//! `/api/v1/contacts` and `/api/v1/accounts/{id}/contacts`.

use super::input::{contact_as_input, contact_input, ContactBody};
use super::{json_object, path_id, Params};
use crate::auth::{Auth, Caller, Csm, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::contact::{AccountRef, ContactInput};
use keepwell_core::Invalid;
use keepwell_store::contacts::{Contact, ContactFilter};
use keepwell_store::Page;
use std::collections::HashMap;

/// ContactPage: one page of contacts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ContactPage {
    data: Vec<Contact>,
    next_cursor: Option<String>,
}

fn filter(params: &Params, account_id: Option<i64>) -> Result<ContactFilter, Invalid> {
    let mut invalid = Invalid::default();
    let account_id = account_id.or_else(|| params.id("account_id", &mut invalid));
    let limit = params.limit(&mut invalid);
    invalid.into_result(ContactFilter { account_id, q: params.text("q"), limit, cursor: params.text("cursor") })
}

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
    let account = super::accounts::load(&state, path_id(&id)?).await?;
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
    require_account_edit(&state, &auth, &new.account).await?;
    Ok((StatusCode::CREATED, Json(state.store.create_contact(&auth.actor, &new).await?)))
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
    require_account_edit(&state, &auth, &AccountRef::Id(current.account_id)).await?;
    let body = json_object(&body)?;
    let (input, shape) = contact_input(&body, contact_as_input(&current));
    let new = shape.and(input.validate()).map_err(|e| super::input::kept(&body, e))?;
    require_account_edit(&state, &auth, &new.account).await?;
    Ok(Json(state.store.update_contact(&auth.actor, current.id, &new).await?))
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn delete(auth: Auth<Csm>, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let current = load(&state, path_id(&id)?).await?;
    require_account_edit(&state, &auth, &AccountRef::Id(current.account_id)).await?;
    state.store.delete_contact(&auth.actor, current.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn load(state: &AppState, id: i64) -> ApiResult<Contact> {
    state.store.contact(id).await?.ok_or_else(|| ApiError::NotFound(format!("no contact with id {id}")))
}

/// A contact is edited by whoever may edit its account.
pub async fn require_account_edit(state: &AppState, caller: &Caller, account: &AccountRef) -> ApiResult<()> {
    if caller.role >= keepwell_core::Role::Manager {
        return Ok(());
    }
    let found = match account {
        AccountRef::Id(id) => state.store.account(*id).await?,
        AccountRef::ExternalId(v) => state.store.account_by_external_id(v).await?,
    };
    match found {
        Some(a) => caller.require_edit(a.owner.as_ref().map(|o| o.id)),
        // The store names the missing account precisely.
        None => Ok(()),
    }
}
