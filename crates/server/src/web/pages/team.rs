//! The team page: members, their roles, adding and disabling them (admins).

use super::{failure, field, form_failure, id_of, FormData, PageResult};
use crate::auth::{Admin, Auth};
use crate::refused::Refused;
use crate::secrets::{generate_password, hash_password};
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{error_page, redirect_with, render_status, tr};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use keepwell_core::Role;
use keepwell_store::people::NewUser;
use minijinja::{context, Value};
use std::collections::BTreeMap;

async fn show(state: &AppState, web: &WebSession, status: StatusCode, extra: Value) -> PageResult {
    let users = state.store.users().await.map_err(|e| failure(state, web, e))?;
    Ok(render_status(
        state,
        web,
        status,
        "team.html",
        context! { nav => "team", users, roles => Role::ALL.map(|r| r.as_str()), ..extra },
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
pub async fn create(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let email = field(&f, "email").unwrap_or_default();
    let name = field(&f, "name").unwrap_or_default();
    let role = match field(&f, "role").unwrap_or_default().parse::<Role>() {
        Ok(r) => r,
        Err(e) => {
            return show(
                &state,
                &web,
                StatusCode::UNPROCESSABLE_ENTITY,
                context! { errors => BTreeMap::from([("role", e)]), values => f },
            )
            .await
        }
    };
    let password = generate_password();
    let hash = hash_password(password.clone()).await.map_err(|e| {
        tracing::error!(error = ?e, "hashing failed");
        error_page(&state, &web, StatusCode::INTERNAL_SERVER_ERROR, "error-internal")
    })?;
    match crate::people::create_user(
        &state.store,
        &auth,
        &NewUser { email: &email, name: &name, role, password_hash: &hash },
    )
    .await
    {
        // The password is shown once, on this page, and never again.
        Ok(user) => show(&state, &web, StatusCode::OK, context! { created => user, password }).await,
        Err(e) => {
            let errors = form_failure(&state, &web, e)?;
            show(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, context! { errors, values => f }).await
        }
    }
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    let role = field(&f, "role").and_then(|r| r.parse::<Role>().ok());
    let disabled = field(&f, "disabled").map(|d| d == "true");
    if auth.user_id == Some(id) && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin)) {
        return Ok(redirect_with(&state, &web, "/team", &tr(&state, &web, "team-not-yourself", &[])).await);
    }
    let (user, stopped) = match crate::people::update_user(&state.store, &auth, id, None, role, disabled).await {
        Ok(changed) => changed,
        Err(Refused::Conflict { .. }) => {
            return Ok(redirect_with(&state, &web, "/team", &tr(&state, &web, "team-last-admin", &[])).await)
        }
        Err(e) => return Err(failure(&state, &web, e)),
    };
    let mut flash = tr(&state, &web, "team-saved", &[("name", user.name.clone().into())]);
    if !stopped.is_empty() {
        let names: Vec<String> = stopped.iter().map(|t| format!("{} ({}…)", t.name, t.prefix)).collect();
        flash.push(' ');
        flash.push_str(&tr(&state, &web, "team-tokens-stopped", &[("tokens", names.join(", ").into())]));
    }
    Ok(redirect_with(&state, &web, "/team", &flash).await)
}
