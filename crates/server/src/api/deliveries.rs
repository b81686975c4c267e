//! `/api/v1/webhook-endpoints` (admins) and `/api/v1/deliveries` (managers): what Keepwell sends and
//! what came of it.

use crate::auth::{Admin, Auth, Manager};
use crate::deliveries::CreatedEndpoint;
use crate::error::ApiResult;
use crate::health::body;
use crate::params::{path_id, Params};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::Invalid;
use keepwell_store::deliveries::{Delivery, DeliveryDetail, DeliveryFilter, Endpoint};
use keepwell_store::Page;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A new endpoint: an HTTPS URL and the events it receives.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    #[schema(max_length = 2048)]
    url: String,
    /// Any of `account.created`, `account.updated`, `account.deleted`, `account.stage_changed`,
    /// `health.band_changed`, `segment.entered`, `segment.left`, `playbook.fired` (what playbooks'
    /// `webhook` actions naming this URL send).
    #[schema(max_items = 8, min_items = 1)]
    events: Vec<String>,
    /// `standard` (the default: signed JSON events) or `slack` (a Slack-compatible incoming
    /// webhook: each delivery is `{"text": …}`, unsigned).
    #[serde(default)]
    #[schema(max_length = 20)]
    format: Option<String>,
}

/// Every subscribed endpoint.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Endpoints {
    data: Vec<Endpoint>,
}

/// DeliveryPage: one page of deliveries, newest first.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DeliveryPage {
    data: Vec<Delivery>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints", tag = "webhooks",
    responses((status = 200, body = Endpoints)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn endpoints(_auth: Auth<Admin>, State(state): State<AppState>) -> ApiResult<Json<Endpoints>> {
    Ok(Json(Endpoints { data: state.store.webhook_endpoints().await? }))
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints", tag = "webhooks", request_body = EndpointBody,
    description = "Subscribes an HTTPS endpoint to workspace events. Each delivery is a JSON `{type, timestamp, data}` signed as the Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the `secret` returned here, once.",
    responses((status = 201, body = CreatedEndpoint), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn create_endpoint(
    auth: Auth<Admin>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<CreatedEndpoint>)> {
    let b: EndpointBody = body(&raw)?;
    let mut invalid = Invalid::default();
    keepwell_core::limits::required_text(&mut invalid, "url", Some(&b.url), keepwell_core::webhook::MAX_URL);
    keepwell_core::limits::count(
        &mut invalid,
        "events",
        b.events.len(),
        keepwell_core::webhook::EVENTS.len(),
        "events",
    );
    invalid.into_result(())?;
    let created = crate::deliveries::create_endpoint(&state, &auth, (&b.url, b.format.as_deref()), &b.events).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", params(("id" = i64, Path)),
    description = "Replaces the endpoint's signing secret with a new one, returned here once. For 24 hours every delivery carries a signature with each secret (`webhook-signature` lists both), so the receiver can switch without losing a delivery.",
    responses((status = 200, body = CreatedEndpoint), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn rotate_secret(
    auth: Auth<Admin>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<CreatedEndpoint>> {
    Ok(Json(crate::deliveries::rotate_secret(&state, &auth, path_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/enable", tag = "webhooks", params(("id" = i64, Path)),
    description = "Turns an endpoint back on after it was disabled for failing a day (its admin was told by e-mail). Events from now on reach it again; deliveries that died meanwhile stay dead and can be retried one by one.",
    responses((status = 200, body = keepwell_store::deliveries::Endpoint), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn enable_endpoint(
    auth: Auth<Admin>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<keepwell_store::deliveries::Endpoint>> {
    Ok(Json(crate::deliveries::enable_endpoint(&state.store, &auth, path_id(&id)?).await?))
}

#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn delete_endpoint(
    auth: Auth<Admin>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    crate::deliveries::delete_endpoint(&state.store, &auth, path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/deliveries", tag = "webhooks",
    params(
        ("status" = Option<String>, Query, description = "`queued`, `sending`, `sent`, `retrying` or `dead`"),
        ("channel" = Option<String>, Query, description = "`webhook` or `email`"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = DeliveryPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn deliveries(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Delivery>>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let statuses =
        [("queued", "queued"), ("sending", "sending"), ("sent", "sent"), ("retrying", "retrying"), ("dead", "dead")];
    let status = p.choice("status", &statuses.map(|(w, s)| (w, Some(s))), None, &mut invalid);
    let channel = p.choice("channel", &[("webhook", Some("webhook")), ("email", Some("email"))], None, &mut invalid);
    let limit = p.limit(&mut invalid);
    let filter = invalid.into_result(DeliveryFilter {
        status: status.map(str::to_owned),
        channel: channel.map(str::to_owned),
        limit,
        cursor: p.text("cursor"),
    })?;
    Ok(Json(crate::deliveries::list(&state.store, &auth, &filter).await?))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "webhooks", params(("id" = i64, Path)),
    description = "One delivery with `attempts_log`: each attempt's time, `status_code` (HTTP, or the SMTP reply), `error` and `duration_ms`, oldest first.",
    responses((status = 200, body = DeliveryDetail), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn delivery(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(crate::deliveries::show(&state.store, &auth, path_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/retry", tag = "webhooks", params(("id" = i64, Path)),
    description = "Queues an unsent delivery (a dead one above all) to be sent now, with its attempts counted afresh and the same `webhook-id`.",
    responses((status = 200, body = Delivery), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn retry(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(crate::deliveries::retry(&state.store, &auth, path_id(&id)?).await?))
}
