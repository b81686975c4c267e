//! The REST API under `/api/v1`: JSON in and out, bearer tokens, cursor pages, problem+json errors.

pub mod accounts;
pub mod audit;
pub mod billing;
pub mod contacts;
pub mod definitions;
pub mod deliveries;
pub mod health;
pub mod interactions;
pub mod metrics;
pub mod openapi;
pub mod playbooks;
pub mod renewals;
pub mod tasks;
pub mod timeline;
pub mod usage;
pub mod users;
pub mod waiting;

use crate::error::ApiError;
use crate::params::percent_decoded;
use crate::state::AppState;
use axum::routing::get;
use axum::Router;
use keepwell_core::Invalid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/users/{id}/notifications", get(users::notifications).put(users::set_notifications))
        .route("/webhook-endpoints", get(deliveries::endpoints).post(deliveries::create_endpoint))
        .route("/webhook-endpoints/{id}", axum::routing::delete(deliveries::delete_endpoint))
        .route("/webhook-endpoints/{id}/rotate-secret", axum::routing::post(deliveries::rotate_secret))
        .route("/webhook-endpoints/{id}/enable", axum::routing::post(deliveries::enable_endpoint))
        .route("/deliveries", get(deliveries::deliveries))
        .route("/deliveries/{id}", get(deliveries::delivery))
        .route("/deliveries/{id}/retry", axum::routing::post(deliveries::retry))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route("/accounts/by-external-id/{external_id}", get(accounts::by_external_id))
        .route("/accounts/bulk", axum::routing::post(accounts::bulk))
        .route("/accounts/export", get(accounts::export))
        .route("/accounts/{id}", get(accounts::show).patch(accounts::update).delete(accounts::delete))
        .route("/accounts/{id}/contacts", get(contacts::of_account))
        .route("/accounts/{id}/subscriptions", get(billing::periods).post(billing::save_period))
        .route("/accounts/{id}/subscriptions/{period_id}", axum::routing::delete(billing::delete_period))
        .route("/accounts/{id}/invoices", get(billing::invoices).post(billing::save_invoice))
        .route("/accounts/{id}/contract", get(billing::contract))
        .route("/fx-rates", get(billing::fx_rates).post(billing::save_fx_rates))
        .route("/accounts/{id}/usage", get(usage::days))
        .route("/accounts/{id}/usage/summary", get(usage::summary))
        .route("/usage/accounts", get(usage::activity))
        .route("/usage/unmatched", get(waiting::list))
        .route("/usage/unmatched/links", axum::routing::post(waiting::link))
        .route("/health/replay", axum::routing::post(waiting::replay))
        .route("/plan-features", get(usage::plan_features).put(usage::set_plan_features))
        .route("/events", get(usage::events))
        .route("/accounts/{id}/health", get(health::show))
        .route("/accounts/{id}/health/history", get(health::history))
        .route(
            "/accounts/{id}/health/overrides",
            get(health::overrides).post(health::add_override).delete(health::clear_override),
        )
        .route("/accounts/{id}/sentiments", get(health::sentiments).post(health::add_sentiment))
        .route("/accounts/{id}/stages", get(health::stages))
        .route("/accounts/{id}/interactions", get(interactions::of_account).post(interactions::create))
        .route("/interactions", get(interactions::list))
        .route("/interactions/{id}", get(interactions::show).patch(interactions::update).delete(interactions::delete))
        .route("/accounts/{id}/timeline", get(timeline::of_account))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/{id}", get(tasks::show).patch(tasks::update))
        .route("/tasks/{id}/comments", get(tasks::comments).post(tasks::comment))
        .route("/notifications", get(timeline::notifications))
        .route("/notifications/read", axum::routing::post(timeline::read))
        .route("/health/backtest", get(health::backtest))
        .route("/segments", get(definitions::segments).post(definitions::save_segment))
        .route("/segments/preview", axum::routing::post(definitions::preview))
        .route("/segments/{key}", get(definitions::segment).delete(definitions::delete_segment))
        .route("/segments/{key}/members", get(definitions::members))
        .route("/segments/{key}/history", get(definitions::history))
        .route("/scorecards", get(definitions::scorecards).post(definitions::save_scorecard))
        .route("/scorecards/{key}", get(definitions::scorecard).delete(definitions::delete_scorecard))
        .route("/scorecards/{key}/weights", axum::routing::post(definitions::set_weights))
        .route("/lifecycle-rules", get(definitions::rules).post(definitions::save_rule))
        .route("/lifecycle-rules/{key}", axum::routing::delete(definitions::delete_rule))
        .route("/playbooks", get(playbooks::list).post(playbooks::save))
        .route("/playbooks/{key}", get(playbooks::show).patch(playbooks::switch))
        .route("/playbooks/{key}/preview", get(playbooks::preview))
        .route("/playbooks/{key}/simulation", get(playbooks::simulation))
        .route("/playbooks/{key}/runs", get(playbooks::runs))
        .route("/playbooks/{key}/why", get(playbooks::why))
        .route("/playbooks/{key}/publish", axum::routing::post(playbooks::publish))
        .route("/playbooks/{key}/draft", axum::routing::delete(playbooks::discard_draft))
        .route("/playbooks/{key}/start", axum::routing::post(playbooks::start))
        .route("/metrics/{name}", get(metrics::show))
        .route("/renewals", get(renewals::list))
        .route("/renewals/rates", get(renewals::rates_view))
        .route("/renewals/{id}/outcome", axum::routing::post(renewals::record))
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/{id}", get(contacts::show).patch(contacts::update).delete(contacts::delete))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).patch(users::update))
        .route("/audit", get(audit::list))
        .fallback(|| async { ApiError::NotFound("no such API route; see /api/v1/openapi.json".into()) })
        .layer(axum::middleware::from_fn(guard))
}

/// Refuses what no route takes: a NUL anywhere in the path (404: it names nothing) or in a query
/// parameter (422 naming it). PostgreSQL cannot hold NUL in text, and no id, key or search has one.
pub async fn guard(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    if percent_decoded(req.uri().path()).contains('\0') {
        return ApiError::NotFound("no resource has a NUL character in its address".into()).into_response();
    }
    if let Some(query) = req.uri().query() {
        let mut invalid = Invalid::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if k.contains('\0') || v.contains('\0') {
                invalid.push(k.replace('\0', "\\0"), "holds the control character U+0000; remove it");
            }
        }
        if !invalid.errors.is_empty() {
            return ApiError::Invalid(invalid).into_response();
        }
    }
    let res = next.run(req).await;
    // axum refuses a body past its limit as plain text; the API answers in its own format.
    let plain = res.headers().get(axum::http::header::CONTENT_TYPE).is_none_or(|c| c != "application/problem+json");
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && plain {
        return ApiError::TooLarge.into_response();
    }
    res
}
