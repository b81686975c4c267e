//! Signing in and out.

use super::{field, FormData};
use crate::secrets::{hash_secret, random_id, random_token, verify_password};
use crate::state::AppState;
use crate::web::session::{session_cookie, WebSession, SESSION_COOKIE};
use crate::web::{local_path, render, render_status};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use minijinja::context;
use std::collections::HashMap;
use std::net::SocketAddr;

#[tracing::instrument(skip_all)]
pub async fn login_page(
    State(state): State<AppState>,
    Extension(web): Extension<WebSession>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if web.session.is_some() {
        return Redirect::to(&local_path(q.get("next").map(String::as_str))).into_response();
    }
    let next = q.get("next").filter(|n| local_path(Some(n)) == **n);
    render(&state, &web, "login.html", context! { next, notice => q.get("m") }).await
}

#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    Extension(web): Extension<WebSession>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(f): Form<FormData>,
) -> Response {
    let email = field(&f, "email").unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let next = field(&f, "next");
    let address = state.settings.trusted_proxies.client(addr.ip(), &headers).to_string();
    let next = next.filter(|n| super::super::local_path(Some(n)) == *n);
    let again = |status: StatusCode, error: &'static str| {
        let (state, web, email, next) = (state.clone(), web.clone(), email.clone(), next.clone());
        async move { render_status(&state, &web, status, "login.html", context! { email, next, error }).await }
    };
    // The attempt is counted before the password is checked: concurrent guesses cannot outrun it.
    if let Err(wait) = state.login_limiter.reserve(&email, &address) {
        let mut page = again(StatusCode::TOO_MANY_REQUESTS, "login-too-many").await;
        if let Ok(v) = header::HeaderValue::from_str(&wait.as_secs().to_string()) {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return page;
    }
    let found = match state.store.user_for_login(&email).await {
        Ok(f) => f,
        Err(e) => return super::failure(&state, &web, e),
    };
    let (user, hash) = match found {
        Some((u, h)) if !u.disabled => (Some(u), Some(h)),
        _ => (None, None),
    };
    if !verify_password(password, hash).await {
        return again(StatusCode::UNAUTHORIZED, "login-failed").await;
    }
    let Some(user) = user else { return again(StatusCode::UNAUTHORIZED, "login-failed").await };
    state.login_limiter.succeeded(&email);
    // A new session id at every login.
    let id = random_id();
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    if let Err(e) = state
        .store
        .create_session(&hash_secret(&id), user.id, &random_token(), agent, crate::web::session::SESSION_TTL_SECS)
        .await
    {
        return super::failure(&state, &web, e);
    }
    let jar = jar.add(session_cookie(id, state.settings.secure_cookies));
    (jar, Redirect::to(&local_path(next.as_deref()))).into_response()
}

#[tracing::instrument(skip_all)]
pub async fn logout(State(state): State<AppState>, jar: CookieJar) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let _ = state.store.delete_session(&hash_secret(c.value())).await;
    }
    (jar.remove(Cookie::build(SESSION_COOKIE).path("/")), Redirect::to("/login?m=logged-out")).into_response()
}
