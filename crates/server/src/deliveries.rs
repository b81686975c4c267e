//! Outgoing webhooks: the endpoints an admin subscribes, and the sender that drains the outbox.
//! Deliveries are written by the services in the write of their decision
//! ([`keepwell_store::deliveries::emit`]); [`spawn`] claims them on every node, signs each as the
//! Standard Webhooks specification says, posts it, and records the attempt. Sending is at least once:
//! a node killed after posting and before recording posts again, with the same `webhook-id`.

use crate::cause::Caller;
use crate::refused::Outcome;
use crate::state::AppState;
pub use keepwell_core::webhook::Policy;
use keepwell_core::webhook::{self, Secret};
use keepwell_core::Invalid;
use keepwell_store::deliveries::{self, Attempt, Due, Endpoint, Next};
use keepwell_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A new endpoint with the secret its owner verifies deliveries with, shown this once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_…`: the Standard Webhooks secret; Keepwell keeps it encrypted and never shows it again.
    pub secret: String,
}

/// Subscribes `url` to `events` (admins), in `format` (`standard`, the default, or `slack`). The
/// URL is HTTPS on a public host unless the operator allows private ones.
pub async fn create_endpoint(
    state: &AppState,
    caller: &Caller,
    (url, format): (&str, Option<&str>),
    events: &[String],
) -> Outcome<CreatedEndpoint> {
    let mut invalid = Invalid::default();
    if let Err(e) = check_url(url, state.settings.deliveries.allow_private) {
        invalid.push("url", e);
    }
    let format = format.unwrap_or("standard");
    if !["standard", "slack"].contains(&format) {
        invalid.push("format", format!("{format:?} is not one of standard, slack"));
    }
    if events.is_empty() {
        invalid.push("events", format!("name at least one of {}", webhook::EVENTS.join(", ")));
    }
    for (i, e) in events.iter().enumerate() {
        if !webhook::EVENTS.contains(&e.as_str()) {
            invalid.push(
                format!("events[{i}]"),
                format!("unknown event {e:?}: expected one of {}", webhook::EVENTS.join(", ")),
            );
        } else if events[..i].contains(e) {
            invalid.push(format!("events[{i}]"), format!("{e:?} is named twice"));
        }
    }
    invalid.into_result(())?;
    let (secret, sealed) = new_secret(state);
    let url = url.trim();
    let endpoint = caller
        .decide(&state.store, async |w| deliveries::create_endpoint(w, (url, format), events, &sealed).await)
        .await?;
    Ok(CreatedEndpoint { endpoint, secret })
}

/// A fresh `whsec_…` secret, and as it is stored (sealed with `KEEPWELL_SECRET_KEY`).
fn new_secret(state: &AppState) -> (String, String) {
    let mut bytes = vec![0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let secret = Secret::from_bytes(bytes).encoded();
    let sealed = state.settings.secret_key.seal(secret.as_bytes());
    (secret, sealed)
}

/// How long deliveries carry the replaced secret's signature too after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3_600);

/// Gives an endpoint a new secret, shown this once (admins); for [`ROTATION_OVERLAP`] every
/// delivery is signed with both, so the receiver can switch to the new one without losing any.
pub async fn rotate_secret(state: &AppState, caller: &Caller, id: i64) -> Outcome<CreatedEndpoint> {
    let (secret, sealed) = new_secret(state);
    let until = state.store.clock().now().timestamp_micros() + ROTATION_OVERLAP.as_micros() as i64;
    let endpoint =
        caller.decide(&state.store, async |w| deliveries::rotate_secret(w, id, &sealed, until).await).await?;
    Ok(CreatedEndpoint { endpoint, secret })
}

/// Turns a disabled endpoint back on (admins): what is emitted from now on reaches it again.
pub async fn enable_endpoint(store: &Store, caller: &Caller, id: i64) -> Outcome<deliveries::Endpoint> {
    caller.decide(store, async |w| deliveries::enable_endpoint(w, id).await).await
}

pub async fn delete_endpoint(store: &Store, caller: &Caller, id: i64) -> Outcome<()> {
    caller.decide(store, async |w| deliveries::delete_endpoint(w, id).await).await
}

/// Queues a `webhook.test` event to one endpoint.
pub async fn send_test(store: &Store, caller: &Caller, endpoint: i64) -> Outcome<()> {
    caller.decide(store, async |w| deliveries::send_test(w, endpoint).await).await
}

/// Puts an unsent delivery back in the queue now.
pub async fn retry(store: &Store, caller: &Caller, id: i64) -> Outcome<deliveries::Delivery> {
    let d = caller.decide(store, async |w| deliveries::retry(w, id).await).await?;
    Ok(as_seen_by(caller, d))
}

/// One delivery with each attempt's status and duration, as the caller may see it.
pub async fn show(store: &Store, caller: &Caller, id: i64) -> Outcome<deliveries::DeliveryDetail> {
    let mut d = store
        .delivery(id)
        .await?
        .ok_or_else(|| crate::refused::Refused::NotFound(format!("no delivery with id {id}")))?;
    if caller.role < keepwell_core::Role::Admin && d.delivery.channel == "webhook" {
        let url = d.delivery.recipient.clone();
        let shown = webhook::origin_only(&url);
        for a in &mut d.attempts_log {
            a.error = a.error.take().map(|e| e.replace(&url, &shown));
        }
    }
    d.delivery = as_seen_by(caller, d.delivery);
    Ok(d)
}

/// Deliveries, newest first, as the caller may see them.
pub async fn list(
    store: &Store,
    caller: &Caller,
    filter: &deliveries::DeliveryFilter,
) -> Outcome<keepwell_store::Page<deliveries::Delivery>> {
    let mut page = store.deliveries(filter).await?;
    page.data = page.data.into_iter().map(|d| as_seen_by(caller, d)).collect();
    Ok(page)
}

/// A webhook's URL (and errors quoting it) as someone who may not manage endpoints sees it: the
/// origin only, since for many receivers the path is the credential.
fn as_seen_by(caller: &Caller, mut d: deliveries::Delivery) -> deliveries::Delivery {
    if caller.role < keepwell_core::Role::Admin && d.channel == "webhook" {
        let shown = webhook::origin_only(&d.recipient);
        d.last_error = d.last_error.map(|e| e.replace(&d.recipient, &shown));
        d.recipient = shown;
    }
    d
}

/// Why a URL cannot be an endpoint: not HTTPS (unless private ones are allowed), no host, user
/// info, too long, or an address literal that is not public.
pub fn check_url(raw: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    let raw = raw.trim();
    if raw.len() > webhook::MAX_URL {
        return Err(format!("is longer than {} bytes", webhook::MAX_URL));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err("must be https:// (plain HTTP is refused)".into()),
        other => return Err(format!("{other}:// is not a web address; use https://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password".into());
    }
    match url.host() {
        None => return Err("names no host".into()),
        Some(url::Host::Ipv4(ip)) if !allow_private && !webhook::is_public(ip.into()) => {
            return Err(format!("{ip} is not a public address"))
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !webhook::is_public(ip.into()) => {
            return Err(format!("{ip} is not a public address"))
        }
        Some(_) => {}
    }
    Ok(url)
}

/// Resolves host names to public addresses only: the check happens when connecting, so a name
/// that resolves to a private address later (DNS rebinding) is refused too.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.iter().copied().filter(|a| webhook::is_public(a.ip())).collect();
            if public.is_empty() {
                let why =
                    if found.is_empty() { "resolves to no address" } else { "resolves to private addresses only" };
                return Err(format!("{host} {why}; webhooks go to public addresses").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn client(policy: &Policy) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve the target itself, past the check of where webhooks may go.
        .no_proxy()
        .user_agent(concat!("Keepwell-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !policy.allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly)).https_only(true);
    }
    Ok(b.build()?)
}

/// Starts this process's sender: it drains what is due, then looks again every `poll`.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let http = match client(&state.settings.deliveries) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no webhook sender: cannot build its HTTP client");
                return;
            }
        };
        let mailer = match state.settings.mail.as_ref().map(crate::mail::mailer).transpose() {
            Ok(m) => m.map(Arc::new),
            Err(e) => {
                tracing::error!(error = %e, "no e-mail: the SMTP settings are wrong; e-mail deliveries die saying so");
                None
            }
        };
        let mut gauge_at = Instant::now() - Duration::from_secs(60);
        loop {
            let sent = match drain_once(&state, &http, mailer.clone()).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "the webhook sender could not claim deliveries; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    0
                }
            };
            if gauge_at.elapsed() > Duration::from_secs(5) {
                gauge_at = Instant::now();
                if let Ok(n) = state.store.deliveries_pending().await {
                    metrics::gauge!("keepwell_deliveries_pending").set(n as f64);
                }
            }
            if sent == 0 {
                tokio::time::sleep(state.settings.deliveries.poll).await;
            }
        }
    });
}

/// How long a claimed delivery stays this node's unless renewed; the sender renews its batch every
/// third of that while the attempts run, so a node killed mid-batch leaves it to another within
/// seconds, and a slow endpoint keeps its delivery with the node that is waiting for it.
const LEASE: Duration = Duration::from_secs(15);

/// Deliveries claimed, and sent at once, per round.
const IN_FLIGHT: usize = 32;

/// Claims a batch of due deliveries and sends them all at once; returns how many it claimed.
#[tracing::instrument(skip_all)]
pub async fn drain_once(
    state: &AppState,
    http: &reqwest::Client,
    mailer: Option<Arc<crate::mail::Mailer>>,
) -> anyhow::Result<usize> {
    let store = &state.store;
    let node = crate::jobs::node_name();
    let lease = LEASE.as_micros() as i64;
    let due = store.claim_due(&node, (store.clock().now().timestamp_micros(), lease), IN_FLIGHT as i64).await?;
    let n = due.len();
    let limit = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut running = tokio::task::JoinSet::new();
    // The deliveries whose attempt has not ended: only their leases are renewed (one whose
    // attempt could not be recorded is left to run out, and sent again later).
    let sending: Arc<std::sync::Mutex<std::collections::HashSet<i64>>> =
        Arc::new(std::sync::Mutex::new(due.iter().map(|d| d.id).collect()));
    for d in due {
        let (state, http, permit) = (state.clone(), http.clone(), limit.clone().acquire_owned().await?);
        let (mailer, sending) = (mailer.clone(), sending.clone());
        running.spawn(async move {
            let id = d.id;
            if let Err(e) = send_one(&state, &http, mailer.as_deref(), d).await {
                tracing::warn!(delivery = id, error = %e, "a delivery's attempt was not recorded; it is sent again later");
            }
            sending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            drop(permit);
        });
    }
    let mut renew = tokio::time::interval(LEASE / 3);
    renew.tick().await;
    loop {
        tokio::select! {
            done = running.join_next() => if done.is_none() { break },
            _ = renew.tick() => {
                let ids: Vec<i64> = sending.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect();
                if let Err(e) = store.renew_deliveries(&node, &ids, store.clock().now().timestamp_micros() + lease).await {
                    tracing::warn!(error = %e, "could not renew the lease of the deliveries being sent");
                }
            }
        }
    }
    Ok(n)
}

#[tracing::instrument(skip_all, fields(delivery = d.id))]
async fn send_one(
    state: &AppState,
    http: &reqwest::Client,
    mailer: Option<&crate::mail::Mailer>,
    d: Due,
) -> anyhow::Result<()> {
    let policy = &state.settings.deliveries;
    let started = Instant::now();
    // A contact who unsubscribed after the e-mail was decided: it is withheld, never sent.
    let to_contact = d.channel == "email"
        && serde_json::from_str::<serde_json::Value>(&d.payload).is_ok_and(|p| p.get("unsubscribe").is_some());
    let withheld = to_contact && state.store.unsubscribed(&d.recipient).await?;
    let result = match d.channel.as_str() {
        _ if withheld => Err(format!("not sent: {} unsubscribed from these e-mails", d.recipient)),
        "email" => crate::mail::send(state, mailer, &d).await,
        _ => post(state, http, &d).await,
    };
    let at = state.store.clock().now().timestamp_micros();
    let duration_ms = started.elapsed().as_millis() as i64;
    let (status_code, error) = match &result {
        Ok(code) if (200..300).contains(code) => (Some(*code), None),
        Ok(code) if d.channel == "email" => (Some(*code), Some(format!("the SMTP server answered {code}"))),
        Ok(code) => (Some(*code), Some(format!("the endpoint answered HTTP {code}"))),
        Err(e) => (None, Some(e.clone())),
    };
    // Without an SMTP server no retry can succeed: the e-mail dies at once, saying why.
    let hopeless = (d.channel == "email" && state.settings.mail.is_none()) || withheld;
    let next = match &error {
        None => Next::Sent,
        Some(_) if hopeless => Next::Dead,
        Some(_) if d.attempts >= policy.max_attempts => Next::Dead,
        Some(_) => Next::RetryAt(at + policy.backoff(d.attempts, rand::random::<f64>()).as_micros() as i64),
    };
    let outcome = match next {
        Next::Sent => "sent",
        Next::RetryAt(_) => "retrying",
        Next::Dead => "dead",
    };
    let channel = if d.channel == "email" { "email" } else { "webhook" };
    metrics::counter!("keepwell_deliveries_total", "channel" => channel, "outcome" => outcome).increment(1);
    metrics::histogram!("keepwell_delivery_seconds", "channel" => channel).record(started.elapsed().as_secs_f64());
    let attempt = Attempt { at, status_code, error, duration_ms };
    if state.store.record_attempt(&d, &attempt, next).await? {
        tracing::warn!(endpoint = d.endpoint_id, "a webhook endpoint failed for a day and was disabled");
    }
    Ok(())
}

/// Signs and posts one delivery; the answer's status, or why there was none.
async fn post(state: &AppState, http: &reqwest::Client, d: &Due) -> Result<u16, String> {
    let endpoint = d.endpoint_id.ok_or("the delivery names no endpoint")?;
    let sealed = state
        .store
        .endpoint_secrets(endpoint)
        .await
        .map_err(|e| format!("cannot read the endpoint: {e}"))?
        .ok_or("the endpoint was deleted")?;
    if sealed.disabled {
        return Err("the endpoint is disabled".into());
    }
    let key = &state.settings.secret_key;
    let open = |s: &str| -> Result<Secret, String> {
        let text = key.open(s).ok_or("the endpoint's secret cannot be decrypted: was KEEPWELL_SECRET_KEY changed?")?;
        Secret::parse(&String::from_utf8_lossy(&text))
    };
    let now = state.store.clock().now();
    let mut secrets = vec![open(&sealed.current)?];
    if let Some((previous, until)) = &sealed.previous {
        if now.timestamp_micros() < *until {
            secrets.push(open(previous)?);
        }
    }
    check_url(&d.recipient, state.settings.deliveries.allow_private)?;
    let mut req = http.post(&d.recipient).header("content-type", "application/json");
    // A Slack-compatible incoming webhook's URL is its credential: it gets the text, unsigned.
    if !sealed.slack {
        let timestamp = now.timestamp();
        let refs: Vec<&Secret> = secrets.iter().collect();
        let signature = webhook::signature(&refs, &d.message_id, timestamp, d.payload.as_bytes());
        req = req
            .header("webhook-id", &d.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
    }
    let res = req.body(d.payload.clone()).send().await.map_err(describe)?;
    let status = res.status();
    if status.is_redirection() {
        let to = res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("?").to_owned();
        return Err(format!("the endpoint redirected (HTTP {}) to {to}; redirects are not followed", status.as_u16()));
    }
    Ok(status.as_u16())
}

/// A transport failure in a sentence, with its cause (refused connection, timeout, DNS…). The URL
/// is left out: the error is shown to managers, and a webhook's path is often its credential.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = if e.is_timeout() { "no answer in time".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_on_public_hosts_unless_allowed() {
        assert!(check_url("https://hooks.example.com/keepwell", false).is_ok());
        for bad in [
            "http://hooks.example.com/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://10.0.0.8/x",
            "https://169.254.169.254/latest",
            "https://user:pw@hooks.example.com/",
            "ftp://hooks.example.com/",
            "hooks.example.com",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad} should be refused");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(3000)), false).is_err());
    }
}
