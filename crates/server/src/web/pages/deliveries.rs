//! Settings → Webhooks (admins: endpoints, their secret shown once, a test event) and Settings →
//! Deliveries (managers: everything sent, its attempts, a retry for what died).

use super::{failure, field, id_of, FormData, PageResult};
use crate::auth::{Admin, Auth, Manager};
use crate::params::Params;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{redirect_with, render_status, tr};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use keepwell_core::webhook::EVENTS;
use keepwell_store::deliveries::DeliveryFilter;
use minijinja::{context, Value};
use std::collections::{BTreeMap, HashMap};

async fn show_endpoints(state: &AppState, web: &WebSession, status: StatusCode, extra: Value) -> PageResult {
    let endpoints = state.store.webhook_endpoints().await.map_err(|e| failure(state, web, e))?;
    Ok(render_status(
        state,
        web,
        status,
        "webhooks.html",
        context! { nav => "webhooks", endpoints, events => EVENTS, ..extra },
    )
    .await)
}

#[tracing::instrument(skip_all)]
pub async fn endpoints(
    _auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    show_endpoints(&state, &web, StatusCode::OK, context! {}).await
}

/// The form's checked events: `event.account.created=on`, …
fn checked(f: &FormData) -> Vec<String> {
    EVENTS.iter().filter(|e| f.contains_key(&format!("event.{e}"))).map(|e| e.to_string()).collect()
}

#[tracing::instrument(skip_all)]
pub async fn create_endpoint(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let url = field(&f, "url").unwrap_or_default();
    let format = field(&f, "format");
    let events = checked(&f);
    match crate::deliveries::create_endpoint(&state, &auth, (&url, format.as_deref()), &events).await {
        Ok(created) => show_endpoints(&state, &web, StatusCode::OK, context! { new_secret => created.secret }).await,
        Err(e) => {
            let errors: BTreeMap<String, String> = super::form_failure(&state, &web, e)?
                .into_iter()
                .map(|(k, v)| (if k.starts_with("events") { "events".to_owned() } else { k }, v))
                .collect();
            let values = context! { url, format, checked => events };
            show_endpoints(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, context! { errors, values }).await
        }
    }
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete_endpoint(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    crate::deliveries::delete_endpoint(&state.store, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/settings/webhooks", &tr(&state, &web, "webhook-deleted", &[])).await)
}

/// A new secret for an endpoint, shown once; the replaced one still signs for a day.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn rotate_secret(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    let rotated = crate::deliveries::rotate_secret(&state, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    show_endpoints(&state, &web, StatusCode::OK, context! { new_secret => rotated.secret, rotated => true }).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn enable_endpoint(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    crate::deliveries::enable_endpoint(&state.store, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/settings/webhooks", &tr(&state, &web, "webhook-enabled", &[])).await)
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn send_test(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    crate::deliveries::send_test(&state.store, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/settings/deliveries", &tr(&state, &web, "webhook-test-queued", &[])).await)
}

#[tracing::instrument(skip_all)]
pub async fn deliveries(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let p = Params(q);
    let statuses = ["queued", "sending", "sent", "retrying", "dead"];
    let status = p.text("status").filter(|s| statuses.contains(&s.as_str()));
    let filter = DeliveryFilter { status: status.clone(), channel: None, limit: 100, cursor: p.text("cursor") };
    let page = crate::deliveries::list(&state.store, &auth, &filter).await.map_err(|e| failure(&state, &web, e))?;
    Ok(render_status(
        &state,
        &web,
        StatusCode::OK,
        "deliveries.html",
        context! {
            nav => "deliveries", deliveries => page.data, next_cursor => page.next_cursor, status, statuses,
            mail => state.settings.mail.is_some(),
        },
    )
    .await)
}

/// One delivery with every attempt: when, the answer, how long it took, the error.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delivery(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    let detail = crate::deliveries::show(&state.store, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    let context = context! { nav => "deliveries", d => detail.delivery, attempts => detail.attempts_log };
    Ok(render_status(&state, &web, StatusCode::OK, "delivery.html", context).await)
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn retry(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    crate::deliveries::retry(&state.store, &auth, id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/settings/deliveries", &tr(&state, &web, "delivery-requeued", &[])).await)
}
