//! Configuration: flags beat environment variables (both read by clap), which beat `keepwell.toml`
//! in the data dir, which beats defaults.

use anyhow::Context;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: String,
    pub base_url: Option<String>,
    pub reporting_currency: String,
    pub stripe_webhook_secret: Option<String>,
    /// `KEEPWELL_TRUSTED_PROXIES`: proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: keepwell_server::login_limit::TrustedProxies,
    /// `KEEPWELL_CONTRACT_MONTHS`: terms of at least this many months are contract renewals.
    pub contract_months: u32,
    /// `KEEPWELL_SECRET_KEY`, else the key generated once into the data dir's `secret.key`.
    pub secret_key: String,
    /// `KEEPWELL_WEBHOOKS_ALLOW_PRIVATE=1`: webhooks may reach plain HTTP and private addresses.
    pub webhooks_allow_private: bool,
    /// `KEEPWELL_SMTP_URL` and `KEEPWELL_MAIL_FROM`: where e-mail leaves from, and as whom.
    pub mail: Option<keepwell_server::mail::MailSettings>,
}

/// The keys `keepwell.toml` may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    database_url: Option<String>,
    listen: Option<String>,
    base_url: Option<String>,
    reporting_currency: Option<String>,
    stripe_webhook_secret: Option<String>,
    trusted_proxies: Option<String>,
    contract_months: Option<u32>,
}

impl Config {
    pub fn resolve(
        data_dir: Option<PathBuf>,
        database_url: Option<String>,
        listen: Option<String>,
    ) -> anyhow::Result<Config> {
        let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("keepwell-data"));
        let path = data_dir.join("keepwell.toml");
        let file: File = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?,
            Err(_) => File::default(),
        };
        let database_url = match database_url.or(file.database_url) {
            Some(url) => url,
            None => {
                std::fs::create_dir_all(&data_dir)
                    .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
                format!("sqlite://{}", data_dir.join("keepwell.db").display())
            }
        };
        Ok(Config {
            database_url,
            listen: listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into()),
            base_url: std::env::var("KEEPWELL_BASE_URL").ok().or(file.base_url),
            reporting_currency: keepwell_core::money::currency(
                &std::env::var("KEEPWELL_REPORTING_CURRENCY")
                    .ok()
                    .or(file.reporting_currency)
                    .unwrap_or_else(|| "USD".into()),
            )
            .map_err(|e| anyhow::anyhow!("KEEPWELL_REPORTING_CURRENCY: {e}"))?,
            stripe_webhook_secret: std::env::var("KEEPWELL_STRIPE_WEBHOOK_SECRET")
                .ok()
                .or(file.stripe_webhook_secret)
                .filter(|s| !s.trim().is_empty()),
            trusted_proxies: keepwell_server::login_limit::TrustedProxies::parse(
                &std::env::var("KEEPWELL_TRUSTED_PROXIES").ok().or(file.trusted_proxies).unwrap_or_default(),
            )
            .map_err(|e| anyhow::anyhow!("KEEPWELL_TRUSTED_PROXIES: {e}"))?,
            contract_months: contract_months(std::env::var("KEEPWELL_CONTRACT_MONTHS").ok(), file.contract_months)?,
            secret_key: match std::env::var("KEEPWELL_SECRET_KEY").ok().filter(|k| !k.trim().is_empty()) {
                Some(k) => k,
                None => stored_secret_key(&data_dir)?,
            },
            mail: mail_settings(std::env::var("KEEPWELL_SMTP_URL").ok(), std::env::var("KEEPWELL_MAIL_FROM").ok())?,
            webhooks_allow_private: matches!(
                std::env::var("KEEPWELL_WEBHOOKS_ALLOW_PRIVATE").ok().as_deref().map(str::trim),
                Some("1" | "true" | "yes")
            ),
        })
    }
}

/// Both or neither: an SMTP URL without a sender (or the reverse) is a mistake worth stopping for.
fn mail_settings(
    url: Option<String>,
    from: Option<String>,
) -> anyhow::Result<Option<keepwell_server::mail::MailSettings>> {
    let (url, from) = (url.filter(|u| !u.trim().is_empty()), from.filter(|f| !f.trim().is_empty()));
    match (url, from) {
        (None, None) => Ok(None),
        (Some(smtp_url), Some(from)) => {
            if !(smtp_url.starts_with("smtp://") || smtp_url.starts_with("smtps://")) {
                anyhow::bail!("KEEPWELL_SMTP_URL: {smtp_url:?} is not smtp://user:pass@host:port or smtps://…");
            }
            keepwell_server::mail::check_sender(&from).map_err(|e| anyhow::anyhow!("KEEPWELL_MAIL_FROM: {e}"))?;
            Ok(Some(keepwell_server::mail::MailSettings { smtp_url, from }))
        }
        (Some(_), None) => anyhow::bail!("KEEPWELL_SMTP_URL is set but KEEPWELL_MAIL_FROM is not: set the sender too"),
        (None, Some(_)) => {
            anyhow::bail!("KEEPWELL_MAIL_FROM is set but KEEPWELL_SMTP_URL is not: set the SMTP server too")
        }
    }
}

/// The data dir's `secret.key`, written once (readable by its owner only) when missing: stored
/// secrets stay readable across restarts without the operator setting one.
fn stored_secret_key(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("secret.key");
    if let Ok(k) = std::fs::read_to_string(&path) {
        if !k.trim().is_empty() {
            return Ok(k.trim().to_owned());
        }
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let key = hex::encode(rand::random::<[u8; 32]>());
    // Written whole under a name of its own, then linked into place, which fails if another
    // process got there first: nobody reads a half-written key.
    let tmp = data_dir.join(format!("secret.key.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::io::Write::write_all(&mut f, key.as_bytes()).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.sync_all()?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let theirs = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            anyhow::ensure!(
                !theirs.trim().is_empty(),
                "{} is empty: delete it, or set KEEPWELL_SECRET_KEY",
                path.display()
            );
            Ok(theirs.trim().to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("cannot write {}", path.display())),
    }
}

/// The variable, else the file's key, else 3; a whole number of months from 1 to 120.
fn contract_months(var: Option<String>, file: Option<u32>) -> anyhow::Result<u32> {
    let max = keepwell_core::billing::MAX_TERM_MONTHS;
    let months = match var.filter(|v| !v.trim().is_empty()) {
        Some(v) => v.trim().parse::<u32>().ok().filter(|m| (1..=max).contains(m)).ok_or_else(|| {
            anyhow::anyhow!("KEEPWELL_CONTRACT_MONTHS: {v:?} is not a whole number of months from 1 to {max}")
        })?,
        None => file.unwrap_or(3),
    };
    if !(1..=max).contains(&months) {
        anyhow::bail!("contract_months in keepwell.toml: {months} is not a number of months from 1 to {max}");
    }
    Ok(months)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_beats_defaults_and_flags_beat_file() {
        let dir = std::env::temp_dir().join(format!("kw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keepwell.toml"), "listen = \"0.0.0.0:9000\"\n").unwrap();
        let c = Config::resolve(Some(dir.clone()), None, None).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert!(c.database_url.ends_with("keepwell.db"));
        let c = Config::resolve(Some(dir.clone()), Some("postgres://x/y".into()), Some("127.0.0.1:1".into())).unwrap();
        assert_eq!((c.listen.as_str(), c.database_url.as_str()), ("127.0.0.1:1", "postgres://x/y"));
        assert_eq!(c.contract_months, 3);
        assert_eq!(contract_months(Some("12".into()), Some(6)).unwrap(), 12);
        assert_eq!(contract_months(None, Some(6)).unwrap(), 6);
        assert!(contract_months(Some("0".into()), None).unwrap_err().to_string().contains("KEEPWELL_CONTRACT_MONTHS"));
        std::fs::write(dir.join("keepwell.toml"), "lisen = 1\n").unwrap();
        assert!(Config::resolve(Some(dir), None, None).is_err());
    }
}
