//! The web UI for people: server-rendered HTML, a small stylesheet, a little JavaScript, SVG charts.

pub mod chart;
pub mod format;
pub mod markdown;

mod pages;

/// The accounts list's column keys (each has a `column-KEY` header in every language).
#[cfg(test)]
pub(crate) fn list_columns() -> Vec<&'static str> {
    pages::account_list::column_keys()
}
pub mod session;

use crate::state::AppState;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use session::WebSession;

pub fn routes(state: AppState) -> Router<AppState> {
    use pages::*;
    Router::new()
        .route("/", get(|| async { Redirect::to("/home") }))
        .route("/home", get(home::page))
        .route("/tasks", get(workspace::inbox).post(workspace::create_task))
        .route("/tasks/{id}", get(workspace::task).post(workspace::update_task))
        .route("/tasks/{id}/comments", post(workspace::comment))
        .route("/accounts/{id}/interactions", post(workspace::log_interaction))
        .route("/interactions/{id}/edit", get(workspace::edit_interaction_form).post(workspace::edit_interaction))
        .route("/interactions/{id}/delete", post(workspace::delete_interaction))
        .route("/notifications", get(workspace::notifications))
        .route("/notifications/read", post(workspace::read_notifications))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/language", post(me::language))
        .route("/accounts", get(account_list::list))
        .route("/accounts/export.csv", get(account_list::export))
        .route("/accounts/bulk", post(account_list::apply))
        .route("/accounts/new", get(accounts::new_form).post(accounts::create))
        .route("/accounts/{id}", get(accounts::show))
        .route("/accounts/{id}/edit", get(accounts::edit_form).post(accounts::update))
        .route("/accounts/{id}/delete", post(accounts::delete))
        .route("/accounts/{id}/contacts/new", get(contacts::new_form).post(contacts::create))
        .route("/contacts", get(contacts::list))
        .route("/contacts/{id}/edit", get(contacts::edit_form).post(contacts::update))
        .route("/contacts/{id}/delete", post(contacts::delete))
        .route("/team", get(team::page).post(team::create))
        .route("/team/{id}", post(team::update))
        .route("/settings/api", get(api_access::page))
        .route("/settings/webhooks", get(deliveries::endpoints).post(deliveries::create_endpoint))
        .route("/settings/webhooks/{id}/delete", post(deliveries::delete_endpoint))
        .route("/settings/webhooks/{id}/test", post(deliveries::send_test))
        .route("/settings/webhooks/{id}/rotate", post(deliveries::rotate_secret))
        .route("/settings/webhooks/{id}/enable", post(deliveries::enable_endpoint))
        .route("/settings/deliveries", get(deliveries::deliveries))
        .route("/settings/deliveries/{id}", get(deliveries::delivery))
        .route("/settings/deliveries/{id}/retry", post(deliveries::retry))
        .route("/settings/tokens", post(api_access::create_token))
        .route("/settings/tokens/{id}/revoke", post(api_access::revoke_token))
        .route("/settings/writekeys", post(api_access::create_key))
        .route("/settings/writekeys/{id}/revoke", post(api_access::revoke_key))
        .route("/accounts/{id}/sentiments", post(health::add_sentiment))
        .route("/accounts/{id}/override", post(health::set_override))
        .route("/accounts/{id}/override/clear", post(health::clear_override))
        .route("/playbooks", get(playbooks::playbooks).post(playbooks::save))
        .route("/playbooks/{key}", get(playbooks::playbook))
        .route("/playbooks/{key}/switch", post(playbooks::switch))
        .route("/playbooks/{key}/draft", post(playbooks::draft))
        .route("/segments", get(segments::segments).post(segments::save_segment))
        .route("/segments/count", get(segments::count))
        .route("/segments/{key}", get(segments::segment))
        .route("/segments/{key}/delete", post(segments::delete_segment))
        .route("/lifecycle", get(lifecycle::rules).post(lifecycle::save_rule))
        .route("/lifecycle/{key}/delete", post(lifecycle::delete_rule))
        .route("/scorecards", get(scorecards::scorecards))
        .route("/scorecards/{key}", get(scorecards::scorecard).post(scorecards::save_scorecard))
        .route("/scorecards/{key}/weights", post(scorecards::apply_weights))
        .route("/health/backtest", get(scorecards::backtest))
        .route("/usage", get(usage::page))
        .route("/usage/events", get(usage::events))
        .route("/usage/link", post(usage::link))
        .route("/usage/replay", post(usage::replay))
        .route("/settings/features", get(usage::features_page).post(usage::save_features))
        .route("/audit", get(audit::page))
        .route("/revenue", get(revenue::page))
        .route("/renewals", get(revenue::renewals_page))
        .route("/renewals/{id}/outcome", post(revenue::record))
        .route("/me", get(me::page))
        .route("/me/password", post(me::password))
        .route("/me/notifications", post(me::notifications))
        .route("/me/sessions/{id}/end", post(me::end_session))
        .route("/static/app.css", get(|| async { asset("text/css", include_str!("static/app.css")) }))
        .route("/static/app.js", get(|| async { asset("text/javascript", include_str!("static/app.js")) }))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state, session::middleware))
}

/// The pages that need no session and take no CSRF token: a link in an e-mail is their
/// credential (one-click unsubscribe, RFC 8058).
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/unsubscribe/{token}", get(pages::unsubscribe::ask).post(pages::unsubscribe::confirm))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::Extension(web): axum::Extension<WebSession>,
) -> Response {
    error_page(&state, &web, StatusCode::NOT_FOUND, "error-not-found")
}

/// Renders a page with what every page needs (member, language, CSRF token, flash) plus `page`.
/// A flash message is shown once and cleared.
pub async fn render(state: &AppState, web: &WebSession, name: &str, page: Value) -> Response {
    render_status(state, web, StatusCode::OK, name, page).await
}

pub async fn render_status(
    state: &AppState,
    web: &WebSession,
    status: StatusCode,
    name: &str,
    page: Value,
) -> Response {
    let flash = match &web.session {
        Some(s) if s.flash.is_some() => {
            let _ = state.store.set_flash(&s.id_hash, None).await;
            s.flash.clone()
        }
        _ => None,
    };
    // The bell's count: unread notifications (up to 100, shown as "99+").
    let unread = match &web.session {
        Some(s) => state.store.unread_notifications(s.user.id).await.unwrap_or(0),
        None => 0,
    };
    render_sync(state, web, status, name, context! { unread, ..page }, flash)
}

fn render_sync(
    state: &AppState,
    web: &WebSession,
    status: StatusCode,
    name: &str,
    page: Value,
    flash: Option<String>,
) -> Response {
    let user = web.session.as_ref().map(|s| &s.user);
    let ctx = context! {
        lang => web.lang.code(),
        csrf => web.csrf,
        me => user,
        is_admin => user.is_some_and(|u| u.role == keepwell_core::Role::Admin),
        is_manager => user.is_some_and(|u| u.role >= keepwell_core::Role::Manager),
        flash => flash,
        ..page
    };
    match state.templates.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = ?e, template = name, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page in the visitor's language.
pub fn error_page(state: &AppState, web: &WebSession, status: StatusCode, message_key: &str) -> Response {
    render_sync(
        state,
        web,
        status,
        "error.html",
        context! { status => status.as_u16(), message_key => message_key },
        None,
    )
}

/// Sets the message the next page shows, then sends the browser there.
pub async fn redirect_with(state: &AppState, web: &WebSession, to: &str, flash: &str) -> Response {
    if let Some(s) = &web.session {
        let _ = state.store.set_flash(&s.id_hash, Some(flash)).await;
    }
    Redirect::to(to).into_response()
}

/// A translated string for flash messages built in handlers.
pub fn tr(state: &AppState, web: &WebSession, key: &str, args: &[(&str, fluent_bundle::FluentValue<'_>)]) -> String {
    state.i18n.text(web.lang, key, args)
}

/// Only same-site paths are followed after login or a language switch: one leading `/`, then no
/// backslash, whitespace or control character anywhere (browsers drop a tab or line break, so
/// `/\t/evil.example` would become `//evil.example`, another site).
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && p.len() <= 2048
                && !p.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) =>
        {
            p.to_owned()
        }
        _ => "/accounts".to_owned(),
    }
}
