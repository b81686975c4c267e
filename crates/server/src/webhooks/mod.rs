//! Webhooks other systems send: `POST /webhooks/stripe`.

pub mod stripe;

use crate::state::AppState;
use axum::routing::post;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new().route("/webhooks/stripe", post(stripe::receive))
}
