//! Stripe webhooks: signature verification and the mapping of events onto accounts, subscription
//! periods and invoices. Pure: the server verifies and stores, this decides.

use crate::billing::{Interval, Invoice, InvoiceStatus, Period};
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde_json::Value;

/// Stripe's default tolerance between the signed timestamp and now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`) as Stripe's libraries do:
/// HMAC-SHA256 of `"{t}.{raw body}"` keyed by the whole `whsec_…` secret; any v1 may match;
/// other schemes are ignored; the timestamp must be within the tolerance of `now`.
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64) -> Result<(), String> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(hex::decode(sig).ok()),
            _ => {}
        }
    }
    let t = timestamp.ok_or("the Stripe-Signature header has no timestamp")?;
    if signatures.is_empty() {
        return Err("the Stripe-Signature header has no v1 signature".into());
    }
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(format!(
            "the signed timestamp is {} s from now, beyond the {TOLERANCE_SECONDS} s tolerance",
            now - t
        ));
    }
    let mac = |sig: &[u8]| {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        m.update(t.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        m.verify_slice(sig).is_ok()
    };
    if signatures.iter().any(|s| mac(s)) {
        Ok(())
    } else {
        Err("no v1 signature matches the payload; check KEEPWELL_STRIPE_WEBHOOK_SECRET".into())
    }
}

/// The header Stripe would send for `body` at `t` (for tests and `keepwell` tooling).
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(format!("{t}.").as_bytes());
    m.update(body);
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

/// The envelope of every event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub object: Value,
}

impl Event {
    pub fn parse(body: &[u8]) -> Result<Event, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let id = v["id"].as_str().filter(|s| !s.is_empty()).ok_or("the event has no id")?.to_owned();
        let kind = v["type"].as_str().ok_or("the event has no type")?.to_owned();
        if id.len() > crate::limits::EXTERNAL_ID || kind.len() > crate::limits::STRIPE_EVENT_TYPE {
            return Err(format!(
                "the event's id (up to {} characters) or type (up to {}) is too long",
                crate::limits::EXTERNAL_ID,
                crate::limits::STRIPE_EVENT_TYPE
            ));
        }
        let created = v["created"].as_i64().unwrap_or_default();
        Ok(Event { id, kind, created, object: v["data"]["object"].clone() })
    }
    pub fn day(&self) -> NaiveDate {
        day(self.created).unwrap_or_default()
    }
}

/// What an event asks of Keepwell.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Customer {
        customer: String,
        name: Option<String>,
        email: Option<String>,
    },
    Subscription(Subscription),
    Invoice {
        customer: String,
        invoice: Invoice,
        kind: InvoiceEvent,
    },
    /// An event type Keepwell does not act on: recorded and answered 200.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceEvent {
    Finalized,
    Paid,
    PaymentFailed,
}

/// A subscription's state as one event shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub plan: String,
    pub quantity: i64,
    pub currency: String,
    /// Per `interval`; zero while trialing.
    pub amount: Decimal,
    pub interval: Interval,
    pub started: NaiveDate,
    pub period_end: Option<NaiveDate>,
    /// When it stops (cancel at period end, `cancel_at`, or ended).
    pub ends: Option<NaiveDate>,
}

/// The UTC day of a Unix time in seconds (Stripe's `created`).
pub fn day(unix: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.date_naive())
}

fn day_of(v: &Value) -> Option<NaiveDate> {
    v.as_i64().and_then(day)
}

/// Currencies Stripe counts in whole units, and those it counts in thousandths.
const ZERO_DECIMAL: &[&str] =
    &["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"];
const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// A Stripe amount in minor units as a decimal in major units.
pub fn major(minor: Decimal, currency: &str) -> Decimal {
    let scale = if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    };
    minor / Decimal::from(10i64.pow(scale))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn customer_of(o: &Value) -> Result<String, String> {
    text(&o["customer"]).or_else(|| text(&o["customer"]["id"])).ok_or_else(|| "the object names no customer".into())
}

/// The customer an event's object names (a charge's, a refund's), if any and of a length an
/// external id may have.
pub fn customer_named(e: &Event) -> Option<String> {
    customer_of(&e.object).ok().filter(|c| c.chars().count() <= crate::limits::EXTERNAL_ID)
}

/// What is wrong with a Stripe event type as a playbook or an expression names it, if anything.
pub fn type_error(kind: &str) -> Option<String> {
    let shaped = kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
    if kind.trim().is_empty() || kind.len() > crate::limits::STRIPE_EVENT_TYPE || !shaped {
        return Some(format!(
            "a Stripe event type of up to {} characters, such as invoice.payment_failed",
            crate::limits::STRIPE_EVENT_TYPE
        ));
    }
    None
}

pub fn interpret(e: &Event) -> Result<Change, String> {
    let o = &e.object;
    match e.kind.as_str() {
        "customer.created" | "customer.updated" => Ok(Change::Customer {
            customer: text(&o["id"]).ok_or("the customer has no id")?,
            name: text(&o["name"]),
            email: text(&o["email"]),
        }),
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            subscription(o, e).map(Change::Subscription)
        }
        "invoice.finalized" | "invoice.paid" | "invoice.payment_failed" => {
            let kind = match e.kind.as_str() {
                "invoice.paid" => InvoiceEvent::Paid,
                "invoice.payment_failed" => InvoiceEvent::PaymentFailed,
                _ => InvoiceEvent::Finalized,
            };
            Ok(Change::Invoice { customer: customer_of(o)?, invoice: invoice(o, e, kind)?, kind })
        }
        _ => Ok(Change::Ignored),
    }
}

fn invoice(o: &Value, e: &Event, kind: InvoiceEvent) -> Result<Invoice, String> {
    let currency = crate::money::currency(o["currency"].as_str().unwrap_or_default())?;
    let minor = o["amount_due"].as_i64().or_else(|| o["total"].as_i64()).ok_or("the invoice has no amount_due")?;
    let issued_on = day_of(&o["created"]).unwrap_or_else(|| e.day());
    let status = match kind {
        InvoiceEvent::Paid => InvoiceStatus::Paid,
        InvoiceEvent::PaymentFailed => InvoiceStatus::Failed,
        InvoiceEvent::Finalized => match o["status"].as_str() {
            Some("paid") => InvoiceStatus::Paid,
            Some("void") => InvoiceStatus::Void,
            Some("uncollectible") => InvoiceStatus::Uncollectible,
            _ => InvoiceStatus::Open,
        },
    };
    let paid_on =
        (status == InvoiceStatus::Paid).then(|| day_of(&o["status_transitions"]["paid_at"]).unwrap_or_else(|| e.day()));
    Ok(Invoice {
        invoice_id: text(&o["id"]).ok_or("the invoice has no id")?,
        amount: major(Decimal::from(minor), &currency),
        currency,
        issued_on,
        due_on: day_of(&o["due_date"]),
        paid_on,
        status,
    })
}

fn subscription(o: &Value, e: &Event) -> Result<Subscription, String> {
    let items = o["items"]["data"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return Err("the subscription has no items".into());
    }
    let mut currency = None;
    let mut monthly = Decimal::ZERO;
    let mut per_interval = Decimal::ZERO;
    let mut intervals = Vec::new();
    let mut plans = Vec::new();
    let mut quantity = 0;
    for item in &items {
        let price = if item["price"].is_object() { &item["price"] } else { &item["plan"] };
        let c = crate::money::currency(price["currency"].as_str().or(o["currency"].as_str()).unwrap_or_default())?;
        if currency.get_or_insert_with(|| c.clone()) != &c {
            return Err("the subscription's items are in different currencies".into());
        }
        let unit = price["unit_amount_decimal"]
            .as_str()
            .and_then(|s| s.parse::<Decimal>().ok())
            .or_else(|| price["unit_amount"].as_i64().or_else(|| price["amount"].as_i64()).map(Decimal::from))
            .ok_or("a subscription item's price has no unit_amount")?;
        let q = item["quantity"].as_i64().unwrap_or(1);
        quantity += q;
        let recurring = if price["recurring"].is_object() { &price["recurring"] } else { price };
        let count = recurring["interval_count"].as_i64().unwrap_or(1).max(1);
        let months = match recurring["interval"].as_str() {
            Some("month") => Decimal::from(count),
            Some("year") => Decimal::from(12 * count),
            Some("week") => Decimal::from(12 * count) / Decimal::from(52),
            Some("day") => Decimal::from(12 * count) / Decimal::from(365),
            other => return Err(format!("a subscription item has an unknown interval {other:?}")),
        };
        let amount = major(unit * Decimal::from(q), &c);
        monthly += amount / months;
        per_interval += amount;
        intervals.push((recurring["interval"].as_str().unwrap_or_default().to_owned(), count));
        plans.push(
            text(&price["nickname"])
                .or_else(|| text(&price["lookup_key"]))
                .or_else(|| text(&price["product"]))
                .or_else(|| text(&price["id"]))
                .unwrap_or_else(|| "stripe".into()),
        );
    }
    // One yearly price stays a yearly amount; anything else is normalised to a month.
    let (amount, interval) = match intervals.as_slice() {
        [(i, 1)] if i == "year" => (per_interval, Interval::Year),
        _ => (monthly, Interval::Month),
    };
    let trialing = o["status"].as_str() == Some("trialing");
    let period_end = day_of(&o["current_period_end"]).or_else(|| day_of(&items[0]["current_period_end"]));
    let ended = matches!(o["status"].as_str(), Some("canceled" | "incomplete_expired")) || e.kind.ends_with(".deleted");
    let ends = if ended {
        Some(day_of(&o["ended_at"]).or_else(|| day_of(&o["canceled_at"])).unwrap_or_else(|| e.day()))
    } else if o["cancel_at_period_end"].as_bool() == Some(true) {
        period_end
    } else {
        day_of(&o["cancel_at"])
    };
    Ok(Subscription {
        id: text(&o["id"]).ok_or("the subscription has no id")?,
        customer: customer_of(o)?,
        plan: plans.join(" + "),
        quantity,
        currency: currency.unwrap_or_default(),
        amount: if trialing { Decimal::ZERO } else { amount },
        interval,
        started: day_of(&o["start_date"]).or_else(|| day_of(&o["created"])).unwrap_or_else(|| e.day()),
        period_end,
        ends,
    })
}

/// The periods a subscription should have after `s` arrives on `on`, given those stored.
/// A price, plan or quantity change closes the open period on `on` and opens a new one; the
/// same price only moves the end and renewal dates; an end truncates what follows it.
pub fn reconcile(existing: &[Period], s: &Subscription, on: NaiveDate) -> Vec<Period> {
    let mut periods: Vec<Period> = existing.to_vec();
    periods.sort_by_key(|p| p.starts_on);
    let renews_on = if s.ends.is_some() { None } else { s.period_end };
    let fresh = |starts_on: NaiveDate| Period {
        subscription_id: s.id.clone(),
        plan: s.plan.clone(),
        quantity: s.quantity,
        currency: s.currency.clone(),
        amount: s.amount,
        interval: s.interval,
        starts_on,
        ends_on: s.ends,
        renews_on,
        payment_terms: Some("prepaid".into()),
        term_months: None,
    };
    let same = |p: &Period| {
        p.plan == s.plan
            && p.quantity == s.quantity
            && p.currency == s.currency
            && p.amount == s.amount
            && p.interval == s.interval
    };
    match periods.last_mut() {
        None => periods.push(fresh(s.started)),
        Some(last) if same(last) || last.starts_on >= on => {
            let starts_on = last.starts_on;
            *last = fresh(starts_on);
        }
        Some(last) => {
            last.ends_on = Some(on);
            last.renews_on = None;
            periods.push(fresh(on));
        }
    }
    // Nothing runs past the end; a period that would start at or after it goes.
    if let Some(end) = s.ends {
        periods.retain(|p| p.starts_on < end);
        for p in &mut periods {
            if p.ends_on.is_none_or(|e| e > end) {
                p.ends_on = Some(end);
            }
        }
    }
    periods
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn signatures_verify_like_stripes_libraries() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, SECRET, 1_700_000_000);
        assert!(verify(&header, body, SECRET, 1_700_000_100).is_ok());
        // Any of several v1 values may match; v0 is ignored.
        let several = format!("t=1700000000,v1={},{},v0=abc", "00".repeat(32), header.split(',').nth(1).unwrap());
        assert!(verify(&several, body, SECRET, 1_700_000_000).is_ok());
        assert!(verify(&header, b"{\"id\":\"evt_2\"}", SECRET, 1_700_000_000).is_err());
        assert!(verify(&header, body, "whsec_other", 1_700_000_000).is_err());
        assert!(verify(&header, body, SECRET, 1_700_000_301).unwrap_err().contains("tolerance"));
        assert!(verify("v1=abc", body, SECRET, 0).unwrap_err().contains("timestamp"));
        let v0_only = header.replace("v1=", "v0=");
        assert!(verify(&v0_only, body, SECRET, 1_700_000_000).unwrap_err().contains("no v1"));
    }

    fn event(kind: &str, object: Value) -> Event {
        Event { id: "evt_1".into(), kind: kind.into(), created: 1_767_225_600, object }
    }

    fn sub(status: &str, unit: i64, qty: i64, interval: &str) -> Value {
        json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
            "start_date": 1_767_225_600, "current_period_end": 1_769_904_000, "cancel_at_period_end": false,
            "items": {"object": "list", "data": [{"quantity": qty, "price": {"id": "price_1", "nickname": "Pro",
                "currency": "eur", "unit_amount": unit, "recurring": {"interval": interval, "interval_count": 1}}}]}
        })
    }

    #[test]
    fn items_times_price_times_quantity_normalised_to_a_month() {
        let Change::Subscription(s) =
            interpret(&event("customer.subscription.created", sub("active", 2500, 4, "month"))).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (s.amount, s.interval, s.currency.as_str(), s.plan.as_str()),
            (Decimal::from(100), Interval::Month, "EUR", "Pro")
        );
        let Change::Subscription(y) =
            interpret(&event("customer.subscription.created", sub("active", 120_000, 1, "year"))).unwrap()
        else {
            panic!()
        };
        assert_eq!((y.amount, y.interval), (Decimal::from(1200), Interval::Year));
        let Change::Subscription(t) =
            interpret(&event("customer.subscription.created", sub("trialing", 2500, 4, "month"))).unwrap()
        else {
            panic!()
        };
        assert_eq!(t.amount, Decimal::ZERO, "trials carry no MRR");
    }

    #[test]
    fn a_change_opens_a_new_period_and_cancel_at_period_end_sets_the_end() {
        let on: NaiveDate = "2026-01-01".parse().unwrap();
        let Change::Subscription(s) =
            interpret(&event("customer.subscription.created", sub("active", 2500, 4, "month"))).unwrap()
        else {
            panic!()
        };
        let first = reconcile(&[], &s, on);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].renews_on, Some("2026-02-01".parse().unwrap()));
        let later: NaiveDate = "2026-01-20".parse().unwrap();
        let more = Subscription { quantity: 6, amount: Decimal::from(150), ..s.clone() };
        let two = reconcile(&first, &more, later);
        assert_eq!(two.len(), 2);
        assert_eq!((two[0].ends_on, two[1].starts_on), (Some(later), later));
        let mut o = sub("active", 2500, 6, "month");
        o["cancel_at_period_end"] = json!(true);
        let Change::Subscription(c) = interpret(&event("customer.subscription.updated", o)).unwrap() else { panic!() };
        let ended = reconcile(&two, &c, "2026-01-25".parse().unwrap());
        assert_eq!(ended.len(), 2);
        assert_eq!((ended[1].ends_on, ended[1].renews_on), (Some("2026-02-01".parse().unwrap()), None));
    }

    #[test]
    fn invoices_map_status_and_minor_units() {
        let o = json!({"id": "in_1", "customer": "cus_1", "currency": "usd", "amount_due": 9900, "created": 1_767_225_600,
            "due_date": 1_769_904_000, "status": "open"});
        let Change::Invoice { invoice, .. } = interpret(&event("invoice.payment_failed", o)).unwrap() else { panic!() };
        assert_eq!((invoice.amount, invoice.status), (Decimal::from(99), InvoiceStatus::Failed));
        assert_eq!(major(Decimal::from(500), "JPY"), Decimal::from(500));
        assert_eq!(interpret(&event("charge.refunded", json!({}))).unwrap(), Change::Ignored);
    }
}
