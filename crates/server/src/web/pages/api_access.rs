//! API tokens and ingestion write keys (admins). A new secret is shown once, on the page that made
//! it; only its hash is stored.

use super::{failure, field, id_of, FormData, PageResult};
use crate::auth::{Admin, Auth};
use crate::secrets::new_secret;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{redirect_with, render_status, tr};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use keepwell_core::Role;
use minijinja::{context, Value};
use std::collections::BTreeMap;

async fn show(state: &AppState, web: &WebSession, status: StatusCode, extra: Value) -> PageResult {
    let fail = |e| failure(state, web, e);
    let tokens = state.store.api_tokens().await.map_err(fail)?;
    let keys = state.store.write_keys().await.map_err(fail)?;
    Ok(render_status(
        state,
        web,
        status,
        "api_access.html",
        context! { nav => "api", tokens, keys, roles => Role::ALL.map(|r| r.as_str()), ..extra },
    )
    .await)
}

#[tracing::instrument(skip_all)]
pub async fn page(
    _auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    show(&state, &web, StatusCode::OK, context! {}).await
}

#[tracing::instrument(skip_all)]
pub async fn create_token(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let name = field(&f, "name").unwrap_or_default();
    let role = field(&f, "role").and_then(|r| r.parse::<Role>().ok()).unwrap_or(Role::Viewer);
    if name.is_empty() {
        return show(
            &state,
            &web,
            StatusCode::UNPROCESSABLE_ENTITY,
            context! { errors => BTreeMap::from([("token_name", tr(&state, &web, "field-required", &[]))]) },
        )
        .await;
    }
    let (secret, hash, prefix) = new_secret("kw");
    crate::people::create_api_token(&state.store, &auth, &name, role, (&hash, &prefix))
        .await
        .map_err(|e| failure(&state, &web, e))?;
    show(&state, &web, StatusCode::OK, context! { new_token => secret }).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn revoke_token(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    crate::people::revoke_api_token(&state.store, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/settings/api", &tr(&state, &web, "token-revoked", &[])).await)
}

#[tracing::instrument(skip_all)]
pub async fn create_key(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let name = field(&f, "name").unwrap_or_default();
    if name.is_empty() {
        return show(
            &state,
            &web,
            StatusCode::UNPROCESSABLE_ENTITY,
            context! { errors => BTreeMap::from([("key_name", tr(&state, &web, "field-required", &[]))]) },
        )
        .await;
    }
    let (secret, hash, prefix) = new_secret("wk");
    crate::people::create_write_key(&state.store, &auth, &name, (&hash, &prefix))
        .await
        .map_err(|e| failure(&state, &web, e))?;
    show(&state, &web, StatusCode::OK, context! { new_key => secret }).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn revoke_key(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    crate::people::revoke_write_key(&state.store, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/settings/api", &tr(&state, &web, "key-revoked", &[])).await)
}
