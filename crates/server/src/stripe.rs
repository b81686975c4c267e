//! The Stripe use case: a verified event mapped onto accounts (external id kind `stripe`),
//! subscription periods and invoices, in one write with the record of the event, so a retried or
//! repeated event is applied once.

use crate::refused::Outcome;
use keepwell_core::account::AccountInput;
use keepwell_core::billing::InvoiceStatus;
use keepwell_core::stripe::{self, Change, Event, InvoiceEvent};
use keepwell_store::{accounts, billing, Actor, Store, Write};

const KIND: &str = "stripe";

/// What came of an event.
pub enum Applied {
    /// Handled before: nothing was written.
    Duplicate,
    /// Applied (or recorded as not applicable) now; the outcome as recorded.
    Now(String),
}

/// Applies a verified Stripe event (`payload`: its body, kept with its record). An event Keepwell
/// does not expect is recorded, not refused, so Stripe does not retry it for days. The playbooks
/// triggered by its type then act for its account (`reporting`: the reporting currency).
pub async fn apply(store: &Store, reporting: &str, event: &Event, payload: &str) -> Outcome<Applied> {
    let mut w = store.write(&Actor::system("stripe")).await?;
    if billing::stripe_event_seen(&mut w, &event.id).await? {
        return Ok(Applied::Duplicate);
    }
    let mut customer = None;
    let (account, outcome) = match stripe::interpret(event) {
        Ok(change) => {
            customer = match &change {
                Change::Ignored => None,
                Change::Customer { customer, .. } | Change::Invoice { customer, .. } => Some(customer.clone()),
                Change::Subscription(s) => Some(s.customer.clone()),
            };
            apply_change(&mut w, event, change).await?
        }
        Err(e) => (None, format!("not applied: {e}")),
    };
    let at = (event.id.as_str(), event.kind.as_str(), event.created);
    billing::record_stripe_event(&mut w, at, account, &outcome, payload).await?;
    w.commit().await?;
    // Usage whose groupId is this customer id waited for the account Stripe just named.
    if let Some(c) = customer {
        store.attribute_waiting(&[c]).await?;
    }
    // What fails here the day's pass redoes, from the recorded event.
    if let Some(account) = account {
        if let Err(e) = store.act_on_stripe(reporting, account, event.day(), &event.kind).await {
            tracing::warn!(error = %e, account, "Stripe-triggered playbooks could not act; the day's pass will");
        }
    }
    Ok(Applied::Now(outcome))
}

/// Applies what an event changes: the account it was applied to, if any, and what came of it.
async fn apply_change(w: &mut Write, e: &Event, change: Change) -> Outcome<(Option<i64>, String)> {
    Ok(match change {
        // Not applied, but a playbook may wait for its type: it is the account's when Stripe's
        // object names a customer Keepwell knows (a charge refunded, a payment intent failed).
        Change::Ignored => {
            let id = match stripe::customer_named(e) {
                Some(c) => accounts::id_by(w.tx(), KIND, &c).await?,
                None => None,
            };
            (id, "ignored".into())
        }
        Change::Customer { customer, name, email } => {
            let id = account(w, &customer, name.as_deref().or(email.as_deref())).await?;
            (Some(id), format!("account {id}"))
        }
        Change::Subscription(s) => {
            let id = account(w, &s.customer, None).await?;
            let existing: Vec<_> =
                billing::subscription_periods(w, &s.id).await?.into_iter().map(|r| r.period).collect();
            let periods = stripe::reconcile(&existing, &s, e.day());
            billing::replace_subscription(w, id, &s.id, &periods).await?;
            (Some(id), format!("account {id}: subscription {} has {} period(s)", s.id, periods.len()))
        }
        Change::Invoice { customer, invoice, kind } => {
            let id = account(w, &customer, None).await?;
            let current = billing::invoice_by_id(w, &invoice.invoice_id).await?;
            // Stripe does not promise order: a late `finalized` must not undo `paid` or `failed`.
            let stale = kind == InvoiceEvent::Finalized
                && current.as_ref().is_some_and(|c| c.invoice.status != InvoiceStatus::Open);
            let outcome = if stale {
                format!("account {id}: invoice {} already {}", invoice.invoice_id, invoice.status.as_str())
            } else {
                billing::store_invoice(w, id, &invoice, "stripe").await?;
                format!("account {id}: invoice {} {}", invoice.invoice_id, invoice.status.as_str())
            };
            (Some(id), outcome)
        }
    })
}

/// The account of a Stripe customer, created from the event when unknown. A name arriving later
/// replaces the customer id the account was first named by.
async fn account(w: &mut Write, customer: &str, name: Option<&str>) -> Outcome<i64> {
    if let Some(id) = accounts::id_by(w.tx(), KIND, customer).await? {
        if let Some(name) = name {
            accounts::rename_from(w, id, customer, name).await?;
        }
        return Ok(id);
    }
    let input = AccountInput {
        name: Some(name.unwrap_or(customer).chars().take(200).collect()),
        external_ids: vec![(KIND.into(), customer.into())],
        ..Default::default()
    };
    let new = input.validate()?;
    Ok(accounts::create(w, &new).await?.id)
}
