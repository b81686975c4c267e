//! The template environment: templates embedded in the binary, HTML auto-escaped, and `t()` for
//! translations in the page's language.

use crate::i18n::{I18n, Lang};
use fluent_bundle::FluentValue;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};
use std::sync::Arc;

pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("web/templates/base.html")),
    ("macros.html", include_str!("web/templates/macros.html")),
    ("login.html", include_str!("web/templates/login.html")),
    ("accounts.html", include_str!("web/templates/accounts.html")),
    ("account.html", include_str!("web/templates/account.html")),
    ("account_form.html", include_str!("web/templates/account_form.html")),
    ("contacts.html", include_str!("web/templates/contacts.html")),
    ("contact_form.html", include_str!("web/templates/contact_form.html")),
    ("team.html", include_str!("web/templates/team.html")),
    ("api_access.html", include_str!("web/templates/api_access.html")),
    ("audit.html", include_str!("web/templates/audit.html")),
    ("webhooks.html", include_str!("web/templates/webhooks.html")),
    ("deliveries.html", include_str!("web/templates/deliveries.html")),
    ("delivery.html", include_str!("web/templates/delivery.html")),
    ("email_band.txt", include_str!("web/templates/email_band.txt")),
    ("email_band.html", include_str!("web/templates/email_band.html")),
    ("email_playbook.txt", include_str!("web/templates/email_playbook.txt")),
    ("email_playbook.html", include_str!("web/templates/email_playbook.html")),
    ("email_message.txt", include_str!("web/templates/email_message.txt")),
    ("email_message.html", include_str!("web/templates/email_message.html")),
    ("unsubscribe.html", include_str!("web/templates/unsubscribe.html")),
    ("email_disabled.txt", include_str!("web/templates/email_disabled.txt")),
    ("email_disabled.html", include_str!("web/templates/email_disabled.html")),
    ("email_digest.txt", include_str!("web/templates/email_digest.txt")),
    ("email_digest.html", include_str!("web/templates/email_digest.html")),
    ("me.html", include_str!("web/templates/me.html")),
    ("error.html", include_str!("web/templates/error.html")),
    ("home.html", include_str!("web/templates/home.html")),
    ("tasks.html", include_str!("web/templates/tasks.html")),
    ("task.html", include_str!("web/templates/task.html")),
    ("interaction_form.html", include_str!("web/templates/interaction_form.html")),
    ("notifications.html", include_str!("web/templates/notifications.html")),
    ("revenue.html", include_str!("web/templates/revenue.html")),
    ("renewals.html", include_str!("web/templates/renewals.html")),
    ("usage.html", include_str!("web/templates/usage.html")),
    ("events.html", include_str!("web/templates/events.html")),
    ("features.html", include_str!("web/templates/features.html")),
    ("segments.html", include_str!("web/templates/segments.html")),
    ("playbooks.html", include_str!("web/templates/playbooks.html")),
    ("playbook.html", include_str!("web/templates/playbook.html")),
    ("segment.html", include_str!("web/templates/segment.html")),
    ("scorecards.html", include_str!("web/templates/scorecards.html")),
    ("scorecard.html", include_str!("web/templates/scorecard.html")),
    ("backtest.html", include_str!("web/templates/backtest.html")),
    ("lifecycle.html", include_str!("web/templates/lifecycle.html")),
];

pub fn environment(i18n: Arc<I18n>) -> anyhow::Result<Environment<'static>> {
    let mut env = Environment::new();
    // `errors.email` on a page without errors is simply empty.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for (name, src) in TEMPLATES {
        env.add_template(name, src)?;
    }
    env.add_function("t", move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
        let lang = state.lookup("lang").and_then(|l| l.as_str().and_then(Lang::parse)).unwrap_or(Lang::En);
        let mut args: Vec<(String, FluentValue)> = Vec::new();
        for k in kwargs.args() {
            let v: Value = kwargs.get(k)?;
            let fv = match v.as_i64() {
                Some(n) => FluentValue::from(n),
                None => FluentValue::from(v.to_string()),
            };
            args.push((k.to_owned(), fv));
        }
        let args: Vec<(&str, FluentValue)> = args.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        Ok(i18n.text(lang, key, &args))
    });
    env.add_filter("datetime", |v: String| -> String {
        chrono::DateTime::parse_from_rfc3339(&v).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or(v)
    });
    env.add_filter("markdown", |v: String| Value::from_safe_string(crate::web::markdown::to_html(&v)));
    env.add_filter("urlencode", |v: String| urlencoding::encode(&v).into_owned());
    // Long texts (a stored filter of thousands of terms) are cut for reading, with an ellipsis.
    env.add_filter("truncate", |v: String, n: usize| -> String {
        match v.char_indices().nth(n) {
            Some((at, _)) => format!("{}…", &v[..at]),
            None => v,
        }
    });
    // Numbers, money and days as the page's language writes them (`web::format`); a value that
    // is not one shows as it is.
    fn lang_of(state: &State) -> Lang {
        state.lookup("lang").and_then(|l| l.as_str().and_then(Lang::parse)).unwrap_or(Lang::En)
    }
    fn decimal(v: &Value) -> Option<rust_decimal::Decimal> {
        use std::str::FromStr;
        match v.as_str() {
            Some(s) => rust_decimal::Decimal::from_str(s).ok(),
            None => v
                .as_i64()
                .map(rust_decimal::Decimal::from)
                .or_else(|| f64::try_from(v.clone()).ok().and_then(|f| rust_decimal::Decimal::try_from(f).ok())),
        }
    }
    env.add_filter("number", |state: &State, v: Value, dp: Option<u32>| -> String {
        decimal(&v).map_or_else(|| v.to_string(), |d| crate::web::format::number(lang_of(state), d, dp.unwrap_or(0)))
    });
    env.add_filter("money", |state: &State, v: Value, currency: String| -> String {
        decimal(&v).map_or_else(|| v.to_string(), |d| crate::web::format::money(lang_of(state), d, &currency))
    });
    env.add_filter("day", |state: &State, v: String| -> String {
        let day = chrono::NaiveDate::parse_from_str(v.get(..10).unwrap_or(&v), "%Y-%m-%d");
        day.map_or(v, |d| crate::web::format::day(lang_of(state), d))
    });
    env.add_filter("date", |v: String| -> String {
        chrono::DateTime::parse_from_rfc3339(&v).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or(v)
    });
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every literal `t("key")` in every template exists in every language.
    #[test]
    fn templates_use_only_defined_keys() {
        let i18n = I18n::load().unwrap();
        let mut missing = Vec::new();
        for (name, src) in TEMPLATES {
            for (i, _) in src.match_indices("t(\"") {
                if src[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue; // input("…"), not t("…")
                }
                let key = src[i + 3..].split('"').next().unwrap_or_default();
                if key.ends_with('-') {
                    continue; // a family, checked below
                }
                for lang in Lang::ALL {
                    if !i18n.has(lang, key) {
                        missing.push(format!("{name}: {key} ({})", lang.code()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "undefined translation keys: {missing:#?}");
    }

    /// Keys built from a prefix and a value (`"stage-" ~ s`) exist for every value.
    #[test]
    fn key_families_are_complete() {
        use keepwell_core::{ContactRole, LifecycleStage, Role};
        let i18n = I18n::load().unwrap();
        let mut keys: Vec<String> = Vec::new();
        keys.extend(LifecycleStage::ALL.iter().map(|s| format!("stage-{s}")));
        keys.extend(Role::ALL.iter().map(|r| format!("role-{r}")));
        keys.extend(ContactRole::ALL.iter().map(|r| format!("contact-role-{r}")));
        keys.extend(["text", "number", "date", "bool"].map(|t| format!("type-{t}")));
        keys.extend(["account", "contact", "user", "api_token", "write_key"].map(|e| format!("entity-{e}")));
        keys.extend(crate::web::list_columns().iter().map(|c| format!("column-{c}")));
        keys.extend(
            ["action", "tag", "owner_id", "title", "kind", "due_on", "ids", "all", "account_id", "source", "priority"]
                .map(|f| format!("bulk-field-{f}")),
        );
        keys.extend(
            ["q", "owner", "stage", "tag", "country", "band", "sort", "limit", "cursor"].map(|p| format!("param-{p}")),
        );
        keys.extend(["bulk-done", "bulk-unchanged", "bulk-refused", "bulk-failed", "bulk-forbidden"].map(String::from));
        keys.extend(["bulk-no-action", "bulk-no-owner", "in-days", "days-ago"].map(String::from));
        keys.extend(["current", "new", "confirm"].map(|p| format!("password-{p}")));
        keys.extend(
            [
                "account.create",
                "account.update",
                "account.delete",
                "account.import",
                "contact.create",
                "contact.update",
                "contact.delete",
                "contact.import",
                "user.create",
                "user.update",
                "user.password",
                "token.create",
                "token.revoke",
                "writekey.create",
                "writekey.revoke",
            ]
            .map(|a| format!("action-{}", a.replace('.', "-"))),
        );
        for key in [
            "accounts-by-stage",
            "account-saved",
            "account-created",
            "account-deleted",
            "contact-saved",
            "contact-deleted",
            "team-not-yourself",
            "team-saved",
            "field-required",
            "token-revoked",
            "key-revoked",
            "password-wrong",
            "password-mismatch",
            "password-changed",
            "session-ended",
            "login-too-many",
            "login-failed",
            "error-too-large",
            "error-csrf",
            "error-not-found",
            "error-forbidden",
            "error-internal",
        ] {
            keys.push(key.to_owned());
        }
        let missing: Vec<String> = keys
            .iter()
            .flat_map(|k| Lang::ALL.iter().filter(|l| !i18n.has(**l, k)).map(move |l| format!("{k} ({})", l.code())))
            .collect();
        assert!(missing.is_empty(), "missing: {missing:#?}");
    }

    #[test]
    fn templates_parse() {
        environment(Arc::new(I18n::load().unwrap())).unwrap();
    }
}
