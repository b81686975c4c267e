//! The one application state every handler shares: cheap to clone, `Arc` inside.

use crate::cache::RevenueCache;
use crate::i18n::I18n;
use crate::ingest::writer::{Ingest, WriteKeys};
use crate::login_limit::LoginLimiter;
use crate::templates;
use keepwell_store::Store;
use std::sync::Arc;

/// What the server needs from its configuration.
#[derive(Clone)]
pub struct Settings {
    pub listen: String,
    /// Set the `Secure` flag on cookies (when served over HTTPS).
    pub secure_cookies: bool,
    /// ISO 4217 code every revenue total is reported in.
    pub reporting_currency: String,
    /// The `whsec_…` secret Stripe signs webhooks with; webhooks are refused without it.
    pub stripe_webhook_secret: Option<String>,
    /// How often the daily pass runs in the background (None: only when asked, as in tests).
    pub pass_every: Option<std::time::Duration>,
    /// Proxies whose `X-Forwarded-For` names the client (for the login limiter).
    pub trusted_proxies: crate::login_limit::TrustedProxies,
    /// Terms of at least this many months are contract renewals; shorter ones renew by themselves.
    pub contract_months: u32,
    /// Keeps stored secrets encrypted (`KEEPWELL_SECRET_KEY`).
    pub secret_key: crate::secrets::SecretKey,
    /// Where e-mail leaves from (`KEEPWELL_SMTP_URL`, `KEEPWELL_MAIL_FROM`); None: no e-mail is sent
    /// (e-mail deliveries die saying so).
    pub mail: Option<MailSettings>,
    /// `KEEPWELL_BASE_URL`: where links in e-mails point.
    pub base_url: Option<String>,
    /// Outgoing deliveries: where webhooks may go and how often a failing one is retried.
    pub deliveries: keepwell_core::webhook::Policy,
}

impl Settings {
    /// Settings for a server on `listen` with everything else at its default.
    pub fn new(listen: &str) -> Settings {
        Settings {
            listen: listen.to_owned(),
            secure_cookies: false,
            reporting_currency: "USD".into(),
            stripe_webhook_secret: None,
            pass_every: None,
            trusted_proxies: Default::default(),
            contract_months: 3,
            secret_key: crate::secrets::SecretKey::random(),
            mail: None,
            base_url: None,
            deliveries: keepwell_core::webhook::Policy::default(),
        }
    }
}

/// The live count's facts and when they were read.
pub type LiveCache = (std::time::Instant, Arc<keepwell_store::health::LiveFacts>);

/// Where e-mail leaves from.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS from the start).
    pub smtp_url: String,
    /// `KEEPWELL_MAIL_FROM`: the sender, `Keepwell <cs@example.com>`.
    pub from: String,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub templates: Arc<minijinja::Environment<'static>>,
    pub i18n: Arc<I18n>,
    pub login_limiter: Arc<LoginLimiter>,
    pub revenue: Arc<RevenueCache>,
    pub ingest: Ingest,
    pub write_keys: Arc<WriteKeys>,
    /// The segment builder's live-count facts, reused for a few seconds while a filter is typed.
    pub live: Arc<tokio::sync::Mutex<Option<LiveCache>>>,
    /// One daily pass at a time in this process.
    pub daily: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    pub fn new(store: Store, settings: Settings) -> anyhow::Result<AppState> {
        let i18n = Arc::new(I18n::load()?);
        // Billing writes reckon the accounts list's MRR in the currency every total is in.
        let store = store.with_reporting_currency(&settings.reporting_currency);
        Ok(AppState {
            ingest: Ingest::start(store.clone()),
            write_keys: Arc::new(WriteKeys::default()),
            daily: Arc::default(),
            live: Arc::default(),
            store,
            settings: Arc::new(settings),
            templates: Arc::new(templates::environment(i18n.clone())?),
            i18n,
            login_limiter: Arc::new(LoginLimiter::default()),
            revenue: Arc::new(RevenueCache::default()),
        })
    }
}
