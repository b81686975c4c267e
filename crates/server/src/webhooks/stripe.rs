//! `POST /webhooks/stripe`: verified with `Stripe-Signature`, idempotent on the event id, mapped
//! onto accounts (external id kind `stripe`), subscription periods and invoices in one transaction
//! with the record of the event. A bad signature is a 400 and stores nothing; an event type
//! Keepwell does not act on is recorded and answered 200.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use keepwell_core::account::AccountInput;
use keepwell_core::billing::InvoiceStatus;
use keepwell_core::stripe::{self, Change, Event, InvoiceEvent};
use keepwell_store::{Actor, Tx};
use serde_json::{json, Value};

const KIND: &str = "stripe";

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
    let store = &state.store;
    let mut tx = store.begin().await?;
    if store.stripe_event_seen(&mut tx, &event.id).await? {
        tx.rollback().await.map_err(keepwell_store::StoreError::from)?;
        return Ok(Json(json!({"received": true, "duplicate": true})));
    }
    let actor = Actor::system("stripe");
    let mut customer = None;
    let outcome = match stripe::interpret(&event) {
        Ok(change) => {
            customer = match &change {
                Change::Ignored => None,
                Change::Customer { customer, .. } | Change::Invoice { customer, .. } => Some(customer.clone()),
                Change::Subscription(s) => Some(s.customer.clone()),
            };
            apply(&state, &mut tx, &actor, &event, change).await?
        }
        // Signed by Stripe but not what Keepwell expects: kept, so nothing is lost, and
        // acknowledged, so Stripe does not retry it for days.
        Err(e) => format!("not applied: {e}"),
    };
    let payload = String::from_utf8_lossy(&body);
    store.record_stripe_event(&mut tx, &event.id, &event.kind, event.created, &outcome, &payload).await?;
    tx.commit().await.map_err(keepwell_store::StoreError::from)?;
    // Usage whose groupId is this customer id waited for the account Stripe just named.
    if let Some(c) = customer {
        store.attribute_waiting(&[c]).await?;
    }
    tracing::info!(event = %event.id, kind = %event.kind, %outcome, "stripe event");
    Ok(Json(json!({"received": true, "outcome": outcome})))
}

async fn apply(state: &AppState, tx: &mut Tx, actor: &Actor, e: &Event, change: Change) -> ApiResult<String> {
    let store = &state.store;
    Ok(match change {
        Change::Ignored => "ignored".into(),
        Change::Customer { customer, name, email } => {
            let id = account(state, tx, actor, &customer, name.as_deref().or(email.as_deref())).await?;
            format!("account {id}")
        }
        Change::Subscription(s) => {
            let id = account(state, tx, actor, &s.customer, None).await?;
            let existing: Vec<_> = store.subscription_periods(tx, &s.id).await?.into_iter().map(|r| r.period).collect();
            let periods = stripe::reconcile(&existing, &s, e.day());
            store.replace_subscription(tx, id, &s.id, &periods).await?;
            format!("account {id}: subscription {} has {} period(s)", s.id, periods.len())
        }
        Change::Invoice { customer, invoice, kind } => {
            let id = account(state, tx, actor, &customer, None).await?;
            let current = store.invoice_by_id(tx, &invoice.invoice_id).await?;
            // Stripe does not promise order: a late `finalized` must not undo `paid` or `failed`.
            let stale = kind == InvoiceEvent::Finalized
                && current.as_ref().is_some_and(|c| c.invoice.status != InvoiceStatus::Open);
            if stale {
                format!("account {id}: invoice {} already {}", invoice.invoice_id, invoice.status.as_str())
            } else {
                store.save_invoice_in(tx, id, &invoice, "stripe").await?;
                format!("account {id}: invoice {} {}", invoice.invoice_id, invoice.status.as_str())
            }
        }
    })
}

/// The account of a Stripe customer, created from the event when unknown. A name arriving later
/// replaces the customer id the account was first named by.
async fn account(state: &AppState, tx: &mut Tx, actor: &Actor, customer: &str, name: Option<&str>) -> ApiResult<i64> {
    let store = &state.store;
    if let Some(id) = store.account_id_by(tx, KIND, customer).await? {
        if let Some(name) = name {
            store.rename_account_from(tx, actor, id, customer, name).await?;
        }
        return Ok(id);
    }
    let input = AccountInput {
        name: Some(name.unwrap_or(customer).chars().take(200).collect()),
        external_ids: vec![(KIND.into(), customer.into())],
        ..Default::default()
    };
    let new = input.validate()?;
    Ok(store.create_account_in(tx, actor, &new).await?.id)
}
