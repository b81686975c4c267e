//! A member's own page: language, password, sessions.

use super::{failure, field, FormData, PageResult};
use crate::auth::{Auth, Viewer};
use crate::i18n::Lang;
use crate::secrets::{hash_password, verify_password};
use crate::state::AppState;
use crate::web::session::{lang_cookie, WebSession};
use crate::web::{local_path, redirect_with, render_status, tr};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use axum_extra::extract::cookie::CookieJar;
use minijinja::{context, Value};
use std::collections::BTreeMap;

async fn show(state: &AppState, web: &WebSession, status: StatusCode, extra: Value) -> PageResult {
    let Some(s) = &web.session else { return Ok(Redirect::to("/login").into_response()) };
    let sessions = state.store.user_sessions(s.user.id).await.map_err(|e| failure(state, web, e))?;
    let notifications = state.store.notification_settings(s.user.id).await.map_err(|e| failure(state, web, e))?;
    let mail = state.settings.mail.is_some();
    Ok(render_status(
        state,
        web,
        status,
        "me.html",
        context! { nav => "me", sessions, notifications, mail, current => s.id_hash, ..extra },
    )
    .await)
}

#[tracing::instrument(skip_all)]
pub async fn page(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    show(&state, &web, StatusCode::OK, context! {}).await
}

/// Switches the UI language: for a signed-in member it is remembered on their profile.
#[tracing::instrument(skip_all)]
pub async fn language(
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    jar: CookieJar,
    Form(f): Form<FormData>,
) -> Response {
    let lang = field(&f, "lang").as_deref().and_then(Lang::parse).unwrap_or(web.lang);
    if let Some(s) = &web.session {
        let _ = state.store.set_user_locale(s.user.id, Some(lang.code())).await;
    }
    let jar = jar.add(lang_cookie(lang, state.settings.secure_cookies));
    (jar, Redirect::to(&local_path(field(&f, "next").as_deref()))).into_response()
}

#[tracing::instrument(skip_all)]
pub async fn password(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let Some(s) = &web.session else { return Ok(Redirect::to("/login").into_response()) };
    let current = f.get("current").cloned().unwrap_or_default();
    let new = f.get("new").cloned().unwrap_or_default();
    let mut errors = BTreeMap::new();
    let hash = state.store.user_for_login(&s.user.email).await.map_err(|e| failure(&state, &web, e))?.map(|(_, h)| h);
    if !verify_password(current, hash).await {
        errors.insert("current", tr(&state, &web, "password-wrong", &[]));
    }
    if let Err(e) = keepwell_core::people::check_password(&new) {
        errors.insert("new", e);
    } else if f.get("confirm") != Some(&new) {
        errors.insert("confirm", tr(&state, &web, "password-mismatch", &[]));
    }
    if !errors.is_empty() {
        return show(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, context! { errors }).await;
    }
    let hash = hash_password(new).await.map_err(|e| {
        tracing::error!(error = ?e, "hashing failed");
        crate::web::error_page(&state, &web, StatusCode::INTERNAL_SERVER_ERROR, "error-internal")
    })?;
    crate::people::set_password(&state.store, &auth, s.user.id, &hash, Some(&s.id_hash))
        .await
        .map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/me", &tr(&state, &web, "password-changed", &[])).await)
}

#[tracing::instrument(skip_all, fields(id_hash = %id_hash))]
pub async fn end_session(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id_hash): Path<String>,
) -> PageResult {
    let user_id = auth.user_id.unwrap_or_default();
    state.store.end_user_session(user_id, &id_hash).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/me", &tr(&state, &web, "session-ended", &[])).await)
}

/// What the member is told by e-mail.
#[tracing::instrument(skip_all)]
pub async fn notifications(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let user = auth.user_id.unwrap_or_default();
    let settings = keepwell_store::people::NotificationSettings {
        band_changed: f.contains_key("band_changed"),
        weekly_digest: f.contains_key("weekly_digest"),
        time_zone: field(&f, "time_zone").unwrap_or_else(|| "UTC".into()),
    };
    match crate::people::set_notifications(&state.store, &auth, user, &settings).await {
        Ok(_) => Ok(redirect_with(&state, &web, "/me", &tr(&state, &web, "notifications-saved", &[])).await),
        Err(e) => {
            let errors = super::form_failure(&state, &web, e)?;
            show(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, context! { errors, notifications => settings }).await
        }
    }
}
