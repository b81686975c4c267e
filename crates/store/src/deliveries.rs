//! Webhook endpoints and the outbox. A delivery is written by [`emit`] inside the write of the
//! decision that causes it, one per subscribed endpoint, keyed by occurrence × recipient × channel so
//! an occurrence never becomes two deliveries. Senders on any number of nodes [`Store::claim_due`]
//! a batch (a lease each; `FOR UPDATE SKIP LOCKED` on PostgreSQL, one atomic `UPDATE … RETURNING`
//! on SQLite) and [`Store::record_attempt`] what came of each. A lease that runs out (its node died)
//! makes the delivery due again, with the same message id.

use crate::sql::{opt_text, text, Arg, Page, Sql};
use crate::{get_opt_i64, instant, Backend, Result, Store, StoreError, Write};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A subscribed HTTPS endpoint (its secret is never shown again).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    /// `standard` (Standard Webhooks: signed JSON events) or `slack` (a Slack-compatible incoming
    /// webhook: `{"text": …}`, unsigned, its URL being its own credential).
    pub format: String,
    pub created_at: DateTime<Utc>,
    /// Set when its deliveries have failed for a day; nothing more is sent to it.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed, while it has.
    pub failing_since: Option<DateTime<Utc>>,
}

/// An endpoint's signing secrets as stored (sealed by the server: the store never sees them).
#[derive(Debug, Clone)]
pub struct SealedSecrets {
    pub current: String,
    /// Nothing more is sent to a disabled endpoint.
    pub disabled: bool,
    /// A Slack-compatible endpoint: posted `{"text": …}`, unsigned.
    pub slack: bool,
    /// The secret before a rotation, still signed with until `previous_until`.
    pub previous: Option<(String, i64)>,
}

/// One delivery as a person reads it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// `webhook` or `email`.
    pub channel: String,
    /// The endpoint's URL, or the e-mail address.
    pub recipient: String,
    pub endpoint_id: Option<i64>,
    /// The event type, e.g. `account.created`.
    pub event: String,
    pub account_id: Option<i64>,
    /// The id every attempt carries (`webhook-id`), so a receiver drops a repeat.
    pub message_id: String,
    /// `queued`, `sending`, `sent`, `retrying` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    /// `webhook` or `email`.
    pub channel: String,
    pub endpoint_id: Option<i64>,
    pub recipient: String,
    pub message_id: String,
    pub payload: String,
    /// Attempts so far, this one included: with the claimer's name, what makes this claim its own.
    /// An attempt recorded after another node re-claimed the delivery changes nothing but the log.
    pub attempts: i64,
    pub claimed_by: String,
}

/// What came of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One attempt as recorded, for a person reading why a delivery is where it is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordedAttempt {
    pub at: DateTime<Utc>,
    /// The HTTP status (webhooks) or SMTP reply code (e-mail); none when no answer came.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery with every attempt, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts_log: Vec<RecordedAttempt>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Sent,
    RetryAt(i64),
    Dead,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub channel: Option<String>,
    pub limit: i64,
    pub cursor: Option<String>,
}

/// How long an endpoint may fail before it is disabled: a day.
pub const DISABLE_AFTER_MICROS: i64 = 24 * 3_600 * 1_000_000;

/// A quiet spell this long between two failures starts the day of failing afresh: an endpoint that
/// failed once, saw nothing for a week, then failed again has not been failing for a week.
pub const FAILING_GAP_MICROS: i64 = 6 * 3_600 * 1_000_000;

const DELIVERY_COLS: &str = "id, channel, recipient, endpoint_id, event, account_id, message_id, status, attempts, \
                             next_attempt_at, last_error, created_at, sent_at";

fn endpoint_from(r: &AnyRow) -> Result<Endpoint> {
    Ok(Endpoint {
        id: r.try_get("id")?,
        url: text(r, "url")?,
        events: serde_json::from_str(&text(r, "events")?).map_err(|_| crate::sql::corrupt("events"))?,
        format: text(r, "format")?,
        created_at: instant(r.try_get("created_at")?),
        disabled_at: get_opt_i64(r, "disabled_at")?.map(instant),
        disabled_reason: opt_text(r, "disabled_reason")?,
        failing_since: get_opt_i64(r, "failing_since")?.map(instant),
    })
}

fn delivery_from(r: &AnyRow) -> Result<Delivery> {
    let status = text(r, "status")?;
    let waiting = matches!(status.as_str(), "queued" | "retrying");
    Ok(Delivery {
        id: r.try_get("id")?,
        channel: text(r, "channel")?,
        recipient: text(r, "recipient")?,
        endpoint_id: get_opt_i64(r, "endpoint_id")?,
        event: text(r, "event")?,
        account_id: get_opt_i64(r, "account_id")?,
        message_id: text(r, "message_id")?,
        next_attempt_at: waiting.then(|| r.try_get("next_attempt_at").map(instant)).transpose()?,
        status,
        attempts: r.try_get::<i64, _>("attempts")?,
        last_error: opt_text(r, "last_error")?,
        created_at: instant(r.try_get("created_at")?),
        sent_at: get_opt_i64(r, "sent_at")?.map(instant),
    })
}

/// Subscribes `url` (in `format`, `standard` or `slack`) to `events`; `secret` is the signing
/// secret as the server sealed it.
pub async fn create_endpoint(
    w: &mut Write,
    (url, format): (&str, &str),
    events: &[String],
    secret: &str,
) -> Result<Endpoint> {
    let row = sqlx::query(
        "INSERT INTO webhook_endpoints (url, events, secret, created_by, created_at, format) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, url, events, format, created_at, disabled_at, disabled_reason, failing_since",
    )
    .bind(url)
    .bind(serde_json::to_string(events).unwrap_or_default())
    .bind(secret)
    .bind(w.actor.user_id)
    .bind(w.at)
    .bind(format)
    .fetch_one(&mut *w.tx)
    .await?;
    let endpoint = endpoint_from(&row)?;
    // The audit log is a manager's to read; the URL's path may be the receiver's credential.
    let logged = Endpoint { url: keepwell_core::webhook::origin_only(&endpoint.url), ..endpoint.clone() };
    w.audit("webhook_endpoint.create", "webhook_endpoint", Some(endpoint.id.to_string()), None, Some(&logged)).await?;
    Ok(endpoint)
}

/// Replaces an endpoint's signing secret with `secret` (sealed); the one it replaces stays until
/// `previous_until`, and deliveries carry both signatures meanwhile so receivers can switch over.
pub async fn rotate_secret(w: &mut Write, id: i64, secret: &str, previous_until: i64) -> Result<Endpoint> {
    let row = sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $1, secret = $2 WHERE id = $3 \
         RETURNING id, url, events, format, created_at, disabled_at, disabled_reason, failing_since",
    )
    .bind(previous_until)
    .bind(secret)
    .bind(id)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(row) = row else { return Err(StoreError::NotFound(format!("no webhook endpoint with id {id}"))) };
    let endpoint = endpoint_from(&row)?;
    w.audit::<()>("webhook_endpoint.rotate_secret", "webhook_endpoint", Some(id.to_string()), None, None).await?;
    Ok(endpoint)
}

/// Unsubscribes an endpoint; its deliveries go with it.
pub async fn delete_endpoint(w: &mut Write, id: i64) -> Result<()> {
    let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id).execute(&mut *w.tx).await?;
    if gone.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("no webhook endpoint with id {id}")));
    }
    w.audit::<()>("webhook_endpoint.delete", "webhook_endpoint", Some(id.to_string()), None, None).await
}

/// Writes the deliveries of one occurrence of `event` to every live endpoint subscribed to it, in
/// the decision's write: the body is `{type, timestamp, data}`, the timestamp the decision's. Returns
/// how many deliveries it wrote.
pub async fn emit(w: &mut Write, event: &str, account_id: Option<i64>, data: &serde_json::Value) -> Result<usize> {
    let subscribers = Subscribers::load(&mut w.tx).await?;
    subscribers.write(&mut w.tx, w.at, None, (event, account_id), data).await
}

/// Writes a `webhook.test` delivery to one endpoint (its owner's "send a test event"), whatever it
/// subscribed to.
pub async fn send_test(w: &mut Write, endpoint: i64) -> Result<()> {
    let rows = sqlx::query("SELECT id, url, format FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint)
        .fetch_all(&mut *w.tx)
        .await?;
    let Some(only) = Subscribers::of(&rows, "webhook.test")? else {
        return Err(StoreError::NotFound(format!("no webhook endpoint with id {endpoint}")));
    };
    let data = serde_json::json!({"endpoint_id": endpoint, "message": "a test event from Keepwell"});
    only.write(&mut w.tx, w.at, None, ("webhook.test", None), &data).await?;
    Ok(())
}

/// Writes one e-mail delivery to `to` (`payload`: what the sender renders, in the recipient's
/// language), once per `occurrence`.
pub(crate) async fn write_email(
    tx: &mut crate::Tx,
    at: i64,
    occurrence: &str,
    (event, account_id): (&str, Option<i64>),
    to: &str,
    payload: &serde_json::Value,
) -> Result<()> {
    use sha2::{Digest, Sha256};
    let message_id = format!("msg_{}", &hex::encode(Sha256::digest(occurrence.as_bytes()))[..32]);
    sqlx::query(
        "INSERT INTO deliveries (key, channel, recipient, event, account_id, message_id, payload, status, next_attempt_at, \
         created_at) VALUES ($1, 'email', $2, $3, $4, $5, $6, 'queued', $7, $7) ON CONFLICT (key) DO NOTHING",
    )
    .bind(format!("{message_id}:email:{to}"))
    .bind(to)
    .bind(event)
    .bind(account_id)
    .bind(&message_id)
    .bind(payload.to_string())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A playbook's word joined to the e-mail still queued that tells `to` of `account`'s band change
/// on `day` (one e-mail for one occurrence): appended to that change's `playbooks`. False when
/// none is queued (none was written, or it is on its way already).
pub(crate) async fn join_band_email(
    tx: &mut crate::Tx,
    to: &str,
    (account, day): (i64, chrono::NaiveDate),
    word: &serde_json::Value,
) -> Result<bool> {
    let rows = sqlx::query(
        "SELECT id, payload FROM deliveries WHERE channel = 'email' AND recipient = $1 \
         AND event = 'health.band_changed' AND status = 'queued'",
    )
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    // No ORDER BY: SQLite would then walk every queued delivery by (status, id) instead of the
    // recipient's few; they are put newest first here.
    let mut rows = rows.into_iter().map(|r| Ok((r.try_get::<i64, _>("id")?, r))).collect::<Result<Vec<_>>>()?;
    rows.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
    for (id, r) in rows {
        let mut payload: serde_json::Value = serde_json::from_str(&text(&r, "payload")?).unwrap_or_default();
        if payload["day"] != serde_json::json!(day) {
            continue;
        }
        let Some(change) = payload["changes"]
            .as_array_mut()
            .and_then(|c| c.iter_mut().find(|c| c["account_id"].as_i64() == Some(account)))
        else {
            continue;
        };
        match change.get_mut("playbooks").and_then(|p| p.as_array_mut()) {
            Some(list) if list.len() < crate::notifications::JOINED => list.push(word.clone()),
            // More than an e-mail's line holds: the rest stays in each run's record.
            Some(_) => {}
            None => change["playbooks"] = serde_json::json!([word]),
        }
        let updated = sqlx::query("UPDATE deliveries SET payload = $1 WHERE id = $2 AND status = 'queued'")
            .bind(payload.to_string())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        return Ok(updated.rows_affected() == 1);
    }
    Ok(false)
}

/// Tells whoever subscribed `endpoint` (or, when they are gone, every admin) by e-mail that it was
/// disabled and why, in the write that disabled it.
async fn tell_disabled(tx: &mut crate::Tx, at: i64, endpoint: i64, reason: &str) -> Result<()> {
    let url: String = sqlx::query("SELECT url FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint)
        .fetch_one(&mut **tx)
        .await?
        .try_get("url")?;
    let people = "SELECT id, email, name, locale FROM users WHERE disabled_at IS NULL AND ";
    let mut rows = sqlx::query(&format!(
        "{people} id = (SELECT created_by FROM webhook_endpoints WHERE id = $1) AND role = 'admin'"
    ))
    .bind(endpoint)
    .fetch_all(&mut **tx)
    .await?;
    if rows.is_empty() {
        rows = sqlx::query(&format!("{people} role = 'admin' ORDER BY id")).fetch_all(&mut **tx).await?;
    }
    for r in rows {
        let (id, email): (i64, String) = (r.try_get("id")?, text(&r, "email")?);
        let member =
            serde_json::json!({"id": id, "email": email, "name": text(&r, "name")?, "locale": opt_text(&r, "locale")?});
        let payload = serde_json::json!({
            "kind": "endpoint_disabled", "member": member,
            "endpoint": {"id": endpoint, "url": url, "reason": reason},
        });
        let occurrence = format!("email:endpoint_disabled:{endpoint}:{at}:{id}");
        write_email(tx, at, &occurrence, ("webhook.disabled", None), &email, &payload).await?;
    }
    Ok(())
}

/// Turns a disabled endpoint back on: deliveries from now on reach it again, and its day of
/// failing starts afresh. The deliveries that died while it was off stay dead (retry them by hand).
pub async fn enable_endpoint(w: &mut Write, id: i64) -> Result<Endpoint> {
    let row = sqlx::query(
        "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL, \
         last_failed_at = NULL WHERE id = $1 RETURNING id, url, events, format, created_at, disabled_at, disabled_reason, failing_since",
    )
    .bind(id)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(row) = row else { return Err(StoreError::NotFound(format!("no webhook endpoint with id {id}"))) };
    let endpoint = endpoint_from(&row)?;
    w.audit::<()>("webhook_endpoint.enable", "webhook_endpoint", Some(id.to_string()), None, None).await?;
    Ok(endpoint)
}

/// One live endpoint as a write addresses it.
pub(crate) struct Subscriber {
    id: i64,
    url: String,
    events: Vec<String>,
    slack: bool,
}

impl Subscriber {
    /// An endpoint of a row with `id, url, format`, subscribed to `events`.
    fn of_row(r: &AnyRow, events: Vec<String>) -> Result<Subscriber> {
        Ok(Subscriber { id: r.try_get("id")?, url: text(r, "url")?, events, slack: text(r, "format")? == "slack" })
    }
}

/// The live endpoints and what each subscribed to, read once for the many occurrences of a pass.
pub(crate) struct Subscribers(Vec<Subscriber>);

impl Subscribers {
    pub(crate) async fn load(tx: &mut crate::Tx) -> Result<Subscribers> {
        let rows =
            sqlx::query("SELECT id, url, events, format FROM webhook_endpoints WHERE disabled_at IS NULL ORDER BY id")
                .fetch_all(&mut **tx)
                .await?;
        rows.iter()
            .map(|r| Subscriber::of_row(r, serde_json::from_str(&text(r, "events")?).unwrap_or_default()))
            .collect::<Result<_>>()
            .map(Subscribers)
    }

    /// The endpoints of `rows` (`id, url, format`) as if they had subscribed to `event` alone
    /// (a test event, a playbook's call); none when `rows` is empty.
    pub(crate) fn of(rows: &[AnyRow], event: &str) -> Result<Option<Subscribers>> {
        let all = rows.iter().map(|r| Subscriber::of_row(r, vec![event.to_owned()])).collect::<Result<Vec<_>>>()?;
        Ok((!all.is_empty()).then_some(Subscribers(all)))
    }

    /// Whether any endpoint wants `event`.
    pub(crate) fn want(&self, event: &str) -> bool {
        self.0.iter().any(|s| s.events.iter().any(|e| e == event))
    }

    /// Writes one occurrence's deliveries. An `occurrence` names it (the pass's band change of an
    /// account on a day): written again, as when a day is run twice, it adds nothing. Without
    /// one, each call is an occurrence of its own (a person's decision).
    pub(crate) async fn write(
        &self,
        tx: &mut crate::Tx,
        at: i64,
        occurrence: Option<&str>,
        (event, account_id): (&str, Option<i64>),
        data: &serde_json::Value,
    ) -> Result<usize> {
        if !self.want(event) {
            return Ok(0);
        }
        let message_id = match occurrence {
            Some(o) => {
                use sha2::{Digest, Sha256};
                format!("msg_{}", &hex::encode(Sha256::digest(o.as_bytes()))[..32])
            }
            None => {
                let mut random = [0u8; 16];
                rand::thread_rng().fill_bytes(&mut random);
                format!("msg_{}", hex::encode(random))
            }
        };
        let body = serde_json::json!({
            "type": event,
            "timestamp": instant(at).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "data": data,
        })
        .to_string();
        let slack_body = serde_json::json!({"text": slack_text(event, data)}).to_string();
        let mut written = 0;
        for Subscriber { id: endpoint, url, events, slack } in &self.0 {
            if !events.iter().any(|e| e == event) {
                continue;
            }
            let body = if *slack { &slack_body } else { &body };
            sqlx::query(
                "INSERT INTO deliveries (key, channel, recipient, endpoint_id, event, account_id, message_id, payload, status, \
                 next_attempt_at, created_at) VALUES ($1, 'webhook', $2, $3, $4, $5, $6, $7, 'queued', $8, $8) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(format!("{message_id}:webhook:{endpoint}"))
            .bind(url)
            .bind(endpoint)
            .bind(event)
            .bind(account_id)
            .bind(&message_id)
            .bind(body)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            written += 1;
        }
        Ok(written)
    }
}

/// The live endpoint at `url` that subscribed to `event`, or why there is none (for a person).
async fn subscriber_at(tx: &mut crate::Tx, url: &str, event: &str) -> Result<std::result::Result<Subscriber, String>> {
    // A URL may be subscribed more than once: the first live one subscribed to `event` is it.
    let rows =
        sqlx::query("SELECT id, url, events, format, disabled_at FROM webhook_endpoints WHERE url = $1 ORDER BY id")
            .bind(url)
            .fetch_all(&mut **tx)
            .await?;
    let at = keepwell_core::webhook::origin_only(url);
    if rows.is_empty() {
        return Ok(Err(format!("no webhook endpoint is subscribed at {at}: add it under Settings → Webhooks")));
    }
    let mut disabled = false;
    for r in &rows {
        let events: Vec<String> = serde_json::from_str(&text(r, "events")?).unwrap_or_default();
        if !events.iter().any(|e| e == event) {
            continue;
        }
        if get_opt_i64(r, "disabled_at")?.is_some() {
            disabled = true;
            continue;
        }
        return Ok(Ok(Subscriber::of_row(r, events)?));
    }
    Ok(Err(if disabled {
        format!("the webhook endpoint at {at} is disabled")
    } else {
        format!("the webhook endpoint at {at} does not subscribe to {event}")
    }))
}

/// Why `event` cannot be sent to `url`, if it cannot (checked when a playbook naming it is saved).
pub(crate) async fn unreachable(tx: &mut crate::Tx, url: &str, event: &str) -> Result<Option<String>> {
    Ok(subscriber_at(tx, url, event).await?.err())
}

/// Writes one delivery of `event` to the endpoint at `url`, once per `occurrence`; why not, when
/// the endpoint is gone, disabled or not subscribed to it.
pub(crate) async fn call(
    tx: &mut crate::Tx,
    at: i64,
    url: &str,
    occurrence: &str,
    (event, account_id): (&str, Option<i64>),
    data: &serde_json::Value,
) -> Result<std::result::Result<i64, String>> {
    match subscriber_at(tx, url, event).await? {
        Ok(s) => {
            let id = s.id;
            Subscribers(vec![s]).write(tx, at, Some(occurrence), (event, account_id), data).await?;
            Ok(Ok(id))
        }
        Err(why) => Ok(Err(why)),
    }
}

/// What a Slack-compatible endpoint shows of an event: its `text` when it has one (a playbook's
/// message), else the event's type and the account it is about.
fn slack_text(event: &str, data: &serde_json::Value) -> String {
    if let Some(t) = data["text"].as_str() {
        return t.to_owned();
    }
    let about = data["name"].as_str().or(data["account"].as_str()).or(data["account"]["name"].as_str());
    match about {
        Some(name) => format!("Keepwell: {event} — {name}"),
        None => format!("Keepwell: {event}"),
    }
}

/// Puts a dead (or any unsent) delivery back in the queue now, with its attempts counted afresh.
pub async fn retry(w: &mut Write, id: i64) -> Result<Delivery> {
    let row = sqlx::query(&format!(
        "UPDATE deliveries SET status = 'queued', attempts = 0, next_attempt_at = $1, claimed_until = NULL, \
         claimed_by = NULL WHERE id = $2 AND status <> 'sent' AND NOT (status = 'sending' AND claimed_until >= $1) \
         RETURNING {DELIVERY_COLS}"
    ))
    .bind(w.at)
    .bind(id)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(row) = row else {
        let found =
            sqlx::query("SELECT status FROM deliveries WHERE id = $1").bind(id).fetch_optional(&mut *w.tx).await?;
        return Err(match found.map(|r| text(&r, "status")).transpose()?.as_deref() {
            Some("sent") => {
                StoreError::conflict("status", format!("delivery {id} was sent; there is nothing to retry"))
            }
            Some(_) => StoreError::conflict("status", format!("delivery {id} is being sent right now")),
            None => StoreError::NotFound(format!("no delivery with id {id}")),
        });
    };
    let d = delivery_from(&row)?;
    w.audit("delivery.retry", "delivery", Some(id.to_string()), None, Some(&d)).await?;
    Ok(d)
}

impl Store {
    /// One delivery with its attempts, oldest first (the newest 100).
    pub async fn delivery(&self, id: i64) -> Result<Option<DeliveryDetail>> {
        let row = sqlx::query(&format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let rows = sqlx::query(
            "SELECT at, status_code, error, duration_ms FROM (SELECT id, at, status_code, error, duration_ms \
             FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id DESC LIMIT 100) recent ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let attempts_log = rows
            .iter()
            .map(|r| {
                Ok(RecordedAttempt {
                    at: instant(r.try_get("at")?),
                    status_code: get_opt_i64(r, "status_code")?,
                    error: opt_text(r, "error")?,
                    duration_ms: r.try_get("duration_ms")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(DeliveryDetail { delivery: delivery_from(&row)?, attempts_log }))
    }

    pub async fn webhook_endpoints(&self) -> Result<Vec<Endpoint>> {
        sqlx::query(
            "SELECT id, url, events, format, created_at, disabled_at, disabled_reason, failing_since FROM webhook_endpoints ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(endpoint_from)
        .collect()
    }

    pub async fn endpoint_secrets(&self, id: i64) -> Result<Option<SealedSecrets>> {
        let row = sqlx::query(
            "SELECT secret, previous_secret, previous_until, disabled_at, format FROM webhook_endpoints WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let previous = match (opt_text(&r, "previous_secret")?, get_opt_i64(&r, "previous_until")?) {
                (Some(s), Some(until)) => Some((s, until)),
                _ => None,
            };
            Ok(SealedSecrets {
                current: text(&r, "secret")?,
                disabled: get_opt_i64(&r, "disabled_at")?.is_some(),
                slack: text(&r, "format")? == "slack",
                previous,
            })
        })
        .transpose()
    }

    /// Deliveries, newest first.
    pub async fn deliveries(&self, f: &DeliveryFilter) -> Result<Page<Delivery>> {
        let mut sql = Sql::new(&format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE 1=1"));
        if let Some(s) = &f.status {
            sql.push(" AND status = ").bind(Arg::Text(s.clone()));
        }
        if let Some(c) = &f.channel {
            sql.push(" AND channel = ").bind(Arg::Text(c.clone()));
        }
        crate::sql::newest_first(sql, self.pool(), (f.limit, f.cursor.as_deref()), delivery_from, |d| d.id).await
    }

    /// How many deliveries wait to be sent (queued, retrying or being sent).
    pub async fn deliveries_pending(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM deliveries WHERE status IN ('queued', 'retrying', 'sending')")
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }

    /// Claims up to `limit` deliveries for `node` that are due at `now` (or whose claimer's lease ran
    /// out), each leased until `now + lease` and its attempt counted, oldest due first. Two nodes
    /// never claim the same delivery while its lease runs; the claimer renews it with
    /// [`Store::renew_deliveries`] while it sends.
    pub async fn claim_due(&self, node: &str, (now, lease): (i64, i64), limit: i64) -> Result<Vec<Due>> {
        let due = "((status IN ('queued', 'retrying') AND next_attempt_at <= $1) OR (status = 'sending' AND claimed_until < $1))";
        let pick = match self.backend() {
            Backend::Postgres => {
                format!("SELECT id FROM deliveries WHERE {due} ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED")
            }
            Backend::Sqlite => format!("SELECT id FROM deliveries WHERE {due} ORDER BY next_attempt_at, id LIMIT $3"),
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "UPDATE deliveries SET status = 'sending', claimed_until = $2, claimed_by = $4, attempts = attempts + 1 \
             WHERE id IN ({pick}) RETURNING id, channel, endpoint_id, recipient, message_id, payload, attempts"
        ))
        .bind(now)
        .bind(now + lease)
        .bind(limit)
        .bind(node)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(Due {
                    id: r.try_get("id")?,
                    channel: text(r, "channel")?,
                    endpoint_id: get_opt_i64(r, "endpoint_id")?,
                    recipient: text(r, "recipient")?,
                    message_id: text(r, "message_id")?,
                    payload: text(r, "payload")?,
                    attempts: r.try_get::<i64, _>("attempts")?,
                    claimed_by: node.to_owned(),
                })
            })
            .collect()
    }

    /// Extends the lease of the deliveries `ids` that `node` is sending to `until`; returns how many
    /// (one taken over by another node is not).
    pub async fn renew_deliveries(&self, node: &str, ids: &[i64], until: i64) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        // Ids this node claimed (integers, not input): written into the statement.
        let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let n = sqlx::query(&format!(
            "UPDATE deliveries SET claimed_until = $1 WHERE id IN ({ids}) AND claimed_by = $2 AND status = 'sending'"
        ))
        .bind(until)
        .bind(node)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n)
    }

    /// Records an attempt and what follows it; an endpoint failing for a day is disabled (its
    /// queued deliveries die with the reason). Returns whether this attempt disabled the endpoint.
    pub async fn record_attempt(&self, due: &Due, attempt: &Attempt, next: Next) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(due.id)
        .bind(attempt.at)
        .bind(attempt.status_code.map(i64::from))
        .bind(&attempt.error)
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await?;
        let (status, next_at, sent_at) = match next {
            Next::Sent => ("sent", attempt.at, Some(attempt.at)),
            Next::RetryAt(at) => ("retrying", at, None),
            Next::Dead => ("dead", attempt.at, None),
        };
        sqlx::query(
            "UPDATE deliveries SET status = $1, next_attempt_at = $2, sent_at = $3, last_error = $4, claimed_until = NULL, \
             claimed_by = NULL WHERE id = $5 AND status = 'sending' AND claimed_by = $6 AND attempts = $7",
        )
        .bind(status)
        .bind(next_at)
        .bind(sent_at)
        .bind(&attempt.error)
        .bind(due.id)
        .bind(&due.claimed_by)
        .bind(due.attempts)
        .execute(&mut *tx)
        .await?;
        let mut disabled = false;
        if let Some(endpoint) = due.endpoint_id {
            if next == Next::Sent {
                sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL, last_failed_at = NULL WHERE id = $1")
                    .bind(endpoint)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE webhook_endpoints SET failing_since = CASE WHEN failing_since IS NULL OR last_failed_at IS NULL \
                     OR last_failed_at < $2 THEN $1 ELSE failing_since END, last_failed_at = $1 WHERE id = $3",
                )
                .bind(attempt.at)
                .bind(attempt.at - FAILING_GAP_MICROS)
                .bind(endpoint)
                .execute(&mut *tx)
                .await?;
                let reason = format!(
                    "every delivery failed for a day; the last said: {}",
                    attempt.error.as_deref().unwrap_or("?")
                );
                let off = sqlx::query(
                    "UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2 \
                     WHERE id = $3 AND disabled_at IS NULL AND failing_since <= $4",
                )
                .bind(attempt.at)
                .bind(&reason)
                .bind(endpoint)
                .bind(attempt.at - DISABLE_AFTER_MICROS)
                .execute(&mut *tx)
                .await?;
                if off.rows_affected() > 0 {
                    disabled = true;
                    sqlx::query(
                        "UPDATE deliveries SET status = 'dead', last_error = $1, claimed_until = NULL \
                         WHERE endpoint_id = $2 AND status IN ('queued', 'retrying')",
                    )
                    .bind("the endpoint was disabled after failing for a day")
                    .bind(endpoint)
                    .execute(&mut *tx)
                    .await?;
                    tell_disabled(&mut tx, attempt.at, endpoint, &reason).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }
}
