//! `POST /webhooks/stripe`: verified with `Stripe-Signature`, then applied once by
//! [`crate::stripe::apply`]. A bad signature is a 400 and stores nothing; an event type
//! Keepwell does not act on is recorded and answered 200.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stripe::Applied;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use keepwell_core::stripe::{self, Event};
use serde_json::{json, Value};

#[tracing::instrument(skip_all)]
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let secret = state.settings.stripe_webhook_secret.as_deref().ok_or_else(|| {
        ApiError::BadRequest("Stripe webhooks are not set up here: set KEEPWELL_STRIPE_WEBHOOK_SECRET".into())
    })?;
    let header = headers
        .get("stripe-signature")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::BadRequest("the Stripe-Signature header is missing".into()))?;
    stripe::verify(header, &body, secret, state.store.clock().now().timestamp()).map_err(ApiError::BadRequest)?;
    let event = Event::parse(&body).map_err(ApiError::BadRequest)?;
    let payload = String::from_utf8_lossy(&body);
    match crate::stripe::apply(&state.store, &state.settings.reporting_currency, &event, &payload).await? {
        Applied::Duplicate => Ok(Json(json!({"received": true, "duplicate": true}))),
        Applied::Now(outcome) => {
            tracing::info!(event = %event.id, kind = %event.kind, %outcome, "stripe event");
            Ok(Json(json!({"received": true, "outcome": outcome})))
        }
    }
}
