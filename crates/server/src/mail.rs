//! E-mail: the SMTP transport (`KEEPWELL_SMTP_URL`, STARTTLS when the server offers it, or SMTPS)
//! and the notification messages, rendered in the member's language as plain text and HTML at the
//! moment they are sent, with links under `KEEPWELL_BASE_URL`.

use crate::i18n::Lang;
use crate::state::AppState;
use keepwell_store::deliveries::Due;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::context;

pub use crate::state::MailSettings;

pub type Mailer = AsyncSmtpTransport<Tokio1Executor>;

/// Whether `from` is a sender an e-mail can carry (`Keepwell <cs@example.com>` or a bare address).
pub fn check_sender(from: &str) -> Result<(), String> {
    from.parse::<Mailbox>().map(drop).map_err(|_| format!("{from:?} is not an address like Keepwell <cs@example.com>"))
}

/// The transport for `settings`. An `smtp://` URL insists on STARTTLS (so the password never
/// travels in clear) unless it says `?tls=opportunistic` or, for a server on this machine,
/// `?tls=none`; `smtps://` is TLS from the start.
pub fn mailer(settings: &MailSettings) -> Result<Mailer, String> {
    let mut url = settings.smtp_url.trim().to_owned();
    if url.starts_with("smtp://") {
        if url.contains("tls=none") {
            url = url.replace("?tls=none&", "?").replace("?tls=none", "").replace("&tls=none", "");
        } else if !url.contains("tls=") {
            url.push_str(if url.contains('?') { "&tls=required" } else { "?tls=required" });
        }
    }
    let builder =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map_err(|e| format!("KEEPWELL_SMTP_URL: {e}"))?;
    Ok(builder.timeout(Some(std::time::Duration::from_secs(20))).build())
}

/// Renders and sends one e-mail delivery; the SMTP reply code, or why there was none.
pub async fn send(state: &AppState, mailer: Option<&Mailer>, d: &Due) -> Result<u16, String> {
    let (Some(mailer), Some(settings)) = (mailer, state.settings.mail.as_ref()) else {
        return Err("no SMTP server is set: set KEEPWELL_SMTP_URL and KEEPWELL_MAIL_FROM".into());
    };
    let message = compose(state, settings, d)?;
    let reply = mailer.send(message).await.map_err(|e| format!("the SMTP server refused: {e}"))?;
    Ok(reply.code().to_string().parse().unwrap_or(250))
}

fn compose(state: &AppState, settings: &MailSettings, d: &Due) -> Result<Message, String> {
    let payload: serde_json::Value = serde_json::from_str(&d.payload).map_err(|e| format!("unreadable e-mail: {e}"))?;
    let member = &payload["member"];
    let lang = member["locale"].as_str().and_then(Lang::parse).unwrap_or(Lang::En);
    let base = state.settings.base_url.as_deref().unwrap_or("http://127.0.0.1:8080").trim_end_matches('/');
    let kind = payload["kind"].as_str().unwrap_or_default();
    let changes = payload["changes"].as_array().cloned().unwrap_or_default();
    let count = changes.len() as i64;
    let t = |key: &str, args: &[(&str, fluent_bundle::FluentValue<'_>)]| state.i18n.text(lang, key, args);
    let (subject, template) = match kind {
        "band_changed" => {
            let first = changes.first().cloned().unwrap_or_default();
            let band = t(&format!("band-{}", first["to"].as_str().unwrap_or("none")), &[]);
            let name = first["name"].as_str().unwrap_or_default().to_owned();
            let args = [("count", count.into()), ("name", name.into()), ("band", band.into())];
            (t("email-band-subject", &args), "email_band")
        }
        "playbook" => {
            let account = payload["account"]["name"].as_str().unwrap_or_default().to_owned();
            let message = payload["message"].as_str().unwrap_or_default().to_owned();
            (t("email-playbook-subject", &[("account", account.into()), ("message", message.into())]), "email_playbook")
        }
        // A playbook's own text (already in the recipient's language, filled in when decided).
        "message" => (payload["subject"].as_str().unwrap_or_default().to_owned(), "email_message"),
        "endpoint_disabled" => {
            let url = payload["endpoint"]["url"].as_str().unwrap_or_default();
            (t("email-disabled-subject", &[("url", keepwell_core::webhook::origin_only(url).into())]), "email_disabled")
        }
        "weekly_digest" => {
            let b = &payload["book"];
            let n = |k: &str| fluent_bundle::FluentValue::from(b[k].as_i64().unwrap_or(0));
            let week = payload["week"].as_str().unwrap_or_default().to_owned();
            let args = [("week", week.into()), ("red", n("red")), ("yellow", n("yellow")), ("green", n("green"))];
            (t("email-digest-subject", &args), "email_digest")
        }
        _ => return Err(format!("no e-mail is written for {kind:?}")),
    };
    // A contact's e-mail: one-click unsubscribe (RFC 8058) by a signed link.
    let unsubscribe_url = payload["unsubscribe"]
        .as_i64()
        .map(|id| format!("{base}/unsubscribe/{}", crate::contacts::unsubscribe_token(state, id)));
    let ctx = context! {
        lang => lang.code(), member, changes, count, base, subject => subject.clone(), unsubscribe_url,
        ..minijinja::Value::from_serialize(&payload),
    };
    let render = |name: &str| {
        state
            .templates
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| format!("the e-mail did not render: {e}"))
    };
    let (text, html) = (render(&format!("{template}.txt"))?, render(&format!("{template}.html"))?);
    let from: Mailbox = settings.from.parse().map_err(|e| format!("KEEPWELL_MAIL_FROM: {e}"))?;
    let to: Mailbox = d.recipient.parse().map_err(|e| format!("{:?} is not an address: {e}", d.recipient))?;
    let domain = from.email.domain().to_owned();
    let mut builder = Message::builder().from(from).to(to);
    if let Some(reply_to) = payload["reply_to"].as_str().and_then(|r| r.parse::<Mailbox>().ok()) {
        builder = builder.reply_to(reply_to);
    }
    if let Some(url) = &unsubscribe_url {
        use lettre::message::header::{HeaderName, HeaderValue};
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    builder
        .subject(subject)
        .message_id(Some(format!("<{}@{domain}>", d.message_id)))
        .multipart(MultiPart::alternative().singlepart(SinglePart::plain(text)).singlepart(SinglePart::html(html)))
        .map_err(|e| format!("the e-mail could not be built: {e}"))
}
