//! The one-click unsubscribe link of a playbook's e-mail to a contact (RFC 8058): no login, no
//! session, no CSRF token — the signed link is the credential. A GET asks (link scanners follow
//! links); a POST, from the page's button or the mail client's `List-Unsubscribe-Post`, acts.

use crate::state::AppState;
use crate::web::session::WebSession;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

fn visitor(headers: &HeaderMap) -> WebSession {
    let lang = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::Lang::from_accept_language)
        .unwrap_or(crate::i18n::Lang::En);
    WebSession { session: None, lang, csrf: String::new() }
}

pub async fn ask(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let web = visitor(&headers);
    let page = match crate::contacts::unsubscribing(&state, &token) {
        Some(id) => match state.store.contact(id).await {
            Ok(Some(c)) => context! { token, email => c.email },
            _ => context! { invalid => true },
        },
        None => context! { invalid => true },
    };
    let status =
        if page.get_attr("invalid").is_ok_and(|v| v.is_true()) { StatusCode::NOT_FOUND } else { StatusCode::OK };
    super::super::render_sync(&state, &web, status, "unsubscribe.html", page, None)
}

pub async fn confirm(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let web = visitor(&headers);
    match crate::contacts::unsubscribe(&state, &token).await {
        Ok(Some((email, _))) => super::super::render_sync(
            &state,
            &web,
            StatusCode::OK,
            "unsubscribe.html",
            context! { done => true, email },
            None,
        ),
        Ok(None) => super::super::render_sync(
            &state,
            &web,
            StatusCode::NOT_FOUND,
            "unsubscribe.html",
            context! { invalid => true },
            None,
        ),
        Err(e) => {
            tracing::error!(error = ?e, "unsubscribe failed");
            super::super::error_page(&state, &web, StatusCode::SERVICE_UNAVAILABLE, "error-internal")
        }
    }
}
