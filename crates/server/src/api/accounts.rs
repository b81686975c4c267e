//! `/api/v1/accounts`: list, create, read, update, delete, and lookup by any external id.

use super::input::{account_as_input, account_input, AccountBody};
use super::{json_object, path_id, Params};
use crate::auth::{Auth, Csm, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::account::AccountInput;
use keepwell_core::health::Band;
use keepwell_core::{Invalid, LifecycleStage, Role};
use keepwell_store::accounts::{Account, AccountFilter, AccountSort};
use keepwell_store::Page;
use std::collections::HashMap;

/// Reads the list filters shared by the API and the accounts page.
pub fn filter_from(params: &Params, me: Option<i64>) -> Result<AccountFilter, Invalid> {
    let mut invalid = Invalid::default();
    let owner = params.owner(me, &mut invalid);
    let stage = params.parsed("stage", &mut invalid, |s| {
        LifecycleStage::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            format!(
                "unknown lifecycle stage {s:?}: expected one of {}",
                LifecycleStage::ALL.map(|s| s.as_str()).join(", ")
            )
        })
    });
    let sort_raw = params.text("sort").unwrap_or_else(|| "name".into());
    let (descending, key) = match sort_raw.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort_raw.as_str()),
    };
    let sort = match key {
        "name" => AccountSort::Name,
        "created_at" => AccountSort::Created,
        "updated_at" => AccountSort::Updated,
        "employees" => AccountSort::Employees,
        other => {
            invalid.push(
                "sort",
                format!("{other:?}: sort by name, created_at, updated_at or employees, with - for descending"),
            );
            AccountSort::Name
        }
    };
    let limit = params.limit(&mut invalid);
    let bands: Vec<(&str, Option<Band>)> = Band::ALL.iter().map(|b| (b.as_str(), Some(*b))).collect();
    let band = params.choice("band", &bands, None, &mut invalid);
    invalid.into_result(AccountFilter {
        q: params.text("q"),
        owner,
        stage,
        tag: params.text("tag"),
        country: params.text("country"),
        band,
        sort,
        descending,
        limit,
        cursor: params.text("cursor"),
    })
}

/// AccountPage: one page of accounts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AccountPage {
    data: Vec<Account>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    params(
        ("q" = Option<String>, Query, description = "part of the name or domain"),
        ("owner" = Option<String>, Query, description = "a team member id, `me` or `none`"),
        ("stage" = Option<LifecycleStage>, Query),
        ("tag" = Option<String>, Query),
        ("country" = Option<String>, Query, description = "ISO 3166 alpha-2"),
        ("band" = Option<String>, Query, description = "`red`, `yellow`, `green`, `unscored` (too little data for a score) or `churned`: the band of the latest daily pass"),
        ("sort" = Option<String>, Query, description = "name, created_at, updated_at or employees; prefix - for descending"),
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
    let (mut input, shape) = account_input(&json_object(&body)?, AccountInput::default());
    if auth.role == Role::Csm {
        // A CSM's new account is theirs, and only theirs.
        let named = match (&input.owner_id, &input.owner_email) {
            (Some(id), _) => Some(*id),
            (None, Some(email)) => state.store.user_by_email(email).await?.map(|u| u.id).or(Some(-1)),
            (None, None) => None,
        };
        if named.is_some_and(|id| Some(id) != auth.user_id) {
            return Err(ApiError::Forbidden("a csm may create accounts only for themselves".into()));
        }
        input.owner_id = auth.user_id;
        input.owner_email = None;
    }
    let account = state.store.create_account(&auth.actor, &shape.and(input.validate())?).await?;
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
    let owner = current.owner.as_ref().map(|o| o.id);
    auth.require_edit(owner)?;
    let body = json_object(&body)?;
    let (input, shape) = account_input(&body, account_as_input(&current));
    if auth.role == Role::Csm && (input.owner_id != owner || input.owner_email.is_some()) {
        return Err(ApiError::Forbidden("a csm may not hand an account to someone else; ask a manager".into()));
    }
    let new = shape.and(input.validate()).map_err(|e| super::input::kept(&body, e))?;
    Ok(Json(state.store.update_account(&auth.actor, current.id, &new).await?))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts",
    description = "Deletes the account with its contacts and external ids.",
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn delete(auth: Auth<Csm>, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let current = load(&state, path_id(&id)?).await?;
    auth.require_edit(current.owner.as_ref().map(|o| o.id))?;
    state.store.delete_account(&auth.actor, current.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn load(state: &AppState, id: i64) -> ApiResult<Account> {
    state.store.account(id).await?.ok_or_else(|| ApiError::NotFound(format!("no account with id {id}")))
}
