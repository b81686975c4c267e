//! Segment-compatible ingestion: `POST /v1/{identify,group,track,page,screen,batch}`.
//!
//! The handlers here check each request and its write key; `writer` holds the one writer task.

pub mod writer;

use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use keepwell_core::ingest::{self, Kind, MAX_BATCH_BYTES};
use serde_json::json;
use std::io::Read;
use writer::Refusal;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/{kind}", post(receive))
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"success": false, "message": message}))).into_response()
}

/// The body, un-gzipped when it says so, never more than Segment's batch limit.
fn body(headers: &HeaderMap, raw: Bytes) -> Result<Vec<u8>, String> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .take(MAX_BATCH_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip body cannot be read: {e}"))?;
    Ok(out)
}

/// The write key from `Authorization: Basic base64(key:)`.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split(':').next().unwrap_or_default().to_owned()).filter(|k| !k.is_empty())
}

#[tracing::instrument(skip_all, fields(kind = %kind))]
pub async fn receive(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let kind = match kind.as_str() {
        "batch" | "import" => None,
        k => match Kind::parse(k) {
            Some(k) => Some(k),
            None => return answer(StatusCode::NOT_FOUND, &format!("no endpoint /v1/{k}")),
        },
    };
    let received_at = state.store.clock().now();
    let parsed = body(&headers, raw)
        .map_err(|reason| ingest::Refused { index: None, reason })
        .and_then(|b| ingest::parse(kind, &b, received_at, crate::secrets::random_id));
    // The key is checked before the body's faults are told: strangers learn nothing.
    let key = basic_user(&headers).or_else(|| parsed.as_ref().ok().and_then(|r| r.write_key.clone()));
    let Some(key) = key else {
        return answer(
            StatusCode::UNAUTHORIZED,
            "a write key is needed: the Basic user name or `writeKey` in the body",
        );
    };
    match state.write_keys.check(&state.store, &key).await {
        Ok(true) => {}
        Ok(false) => return answer(StatusCode::UNAUTHORIZED, "unknown or revoked write key"),
        Err(e) => {
            tracing::error!(error = %e, "write key lookup failed");
            return answer(StatusCode::SERVICE_UNAVAILABLE, "the database is not answering; retry");
        }
    }
    let request = match parsed {
        Ok(r) => r,
        Err(refused) => return answer(StatusCode::BAD_REQUEST, &refused.to_string()),
    };
    let replaced = request.events.iter().filter(|e| e.time_replaced).count();
    if replaced > 0 {
        // Counted, not refused: Segment's libraries drop a batch answered 400.
        metrics::counter!("keepwell_ingest_impossible_timestamps_total").increment(replaced as u64);
    }
    match state.ingest.submit(request.events).await {
        Ok(_) => Json(json!({"success": true})).into_response(),
        Err(Refusal::Busy) => {
            let mut r = answer(StatusCode::TOO_MANY_REQUESTS, "the ingestion queue is full; retry after a second");
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            r
        }
        Err(Refusal::Failed(e)) => {
            answer(StatusCode::SERVICE_UNAVAILABLE, &format!("the events were not stored ({e}); retry"))
        }
    }
}
