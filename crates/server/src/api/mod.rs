//! The REST API under `/api/v1`: JSON in and out, bearer tokens, cursor pages, problem+json errors.

pub mod accounts;
pub mod audit;
pub mod billing;
pub mod contacts;
pub mod definitions;
pub mod health;
pub mod input;
pub mod metrics;
pub mod openapi;
pub mod renewals;
pub mod usage;
pub mod users;
pub mod waiting;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::routing::get;
use axum::Router;
use keepwell_core::Invalid;
use serde_json::{Map, Value};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route("/accounts/by-external-id/{external_id}", get(accounts::by_external_id))
        .route("/accounts/{id}", get(accounts::show).patch(accounts::update).delete(accounts::delete))
        .route("/accounts/{id}/contacts", get(contacts::of_account))
        .route("/accounts/{id}/subscriptions", get(billing::periods).post(billing::save_period))
        .route("/accounts/{id}/subscriptions/{period_id}", axum::routing::delete(billing::delete_period))
        .route("/accounts/{id}/invoices", get(billing::invoices).post(billing::save_invoice))
        .route("/accounts/{id}/contract", get(billing::contract))
        .route("/fx-rates", get(billing::fx_rates).post(billing::save_fx_rates))
        .route("/accounts/{id}/usage", get(usage::days))
        .route("/accounts/{id}/usage/summary", get(usage::summary))
        .route("/usage/accounts", get(usage::activity))
        .route("/usage/unmatched", get(waiting::list))
        .route("/usage/unmatched/links", axum::routing::post(waiting::link))
        .route("/health/replay", axum::routing::post(waiting::replay))
        .route("/plan-features", get(usage::plan_features).put(usage::set_plan_features))
        .route("/events", get(usage::events))
        .route("/accounts/{id}/health", get(health::show))
        .route("/accounts/{id}/health/history", get(health::history))
        .route(
            "/accounts/{id}/health/overrides",
            get(health::overrides).post(health::add_override).delete(health::clear_override),
        )
        .route("/accounts/{id}/sentiments", get(health::sentiments).post(health::add_sentiment))
        .route("/accounts/{id}/stages", get(health::stages))
        .route("/health/backtest", get(health::backtest))
        .route("/segments", get(definitions::segments).post(definitions::save_segment))
        .route("/segments/preview", axum::routing::post(definitions::preview))
        .route("/segments/{key}", get(definitions::segment).delete(definitions::delete_segment))
        .route("/segments/{key}/members", get(definitions::members))
        .route("/segments/{key}/history", get(definitions::history))
        .route("/scorecards", get(definitions::scorecards).post(definitions::save_scorecard))
        .route("/scorecards/{key}", get(definitions::scorecard).delete(definitions::delete_scorecard))
        .route("/scorecards/{key}/weights", axum::routing::post(definitions::set_weights))
        .route("/lifecycle-rules", get(definitions::rules).post(definitions::save_rule))
        .route("/lifecycle-rules/{key}", axum::routing::delete(definitions::delete_rule))
        .route("/metrics/{name}", get(metrics::show))
        .route("/renewals", get(renewals::list))
        .route("/renewals/rates", get(renewals::rates_view))
        .route("/renewals/{id}/outcome", axum::routing::post(renewals::record))
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/{id}", get(contacts::show).patch(contacts::update).delete(contacts::delete))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).patch(users::update))
        .route("/audit", get(audit::list))
        .fallback(|| async { ApiError::NotFound("no such API route; see /api/v1/openapi.json".into()) })
        .layer(axum::middleware::from_fn(guard))
}

/// Refuses what no route takes: a NUL anywhere in the path (404: it names nothing) or in a query
/// parameter (422 naming it). PostgreSQL cannot hold NUL in text, and no id, key or search has one.
pub async fn guard(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    if percent_decoded(req.uri().path()).contains('\0') {
        return ApiError::NotFound("no resource has a NUL character in its address".into()).into_response();
    }
    if let Some(query) = req.uri().query() {
        let mut invalid = Invalid::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if k.contains('\0') || v.contains('\0') {
                invalid.push(k.replace('\0', "\\0"), "holds the control character U+0000; remove it");
            }
        }
        if !invalid.errors.is_empty() {
            return ApiError::Invalid(invalid).into_response();
        }
    }
    let res = next.run(req).await;
    // axum refuses a body past its limit as plain text; the API answers in its own format.
    let plain = res.headers().get(axum::http::header::CONTENT_TYPE).is_none_or(|c| c != "application/problem+json");
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && plain {
        return ApiError::TooLarge.into_response();
    }
    res
}

/// A URL path with its `%XX` escapes decoded (invalid UTF-8 replaced).
pub fn percent_decoded(path: &str) -> String {
    String::from_utf8_lossy(&urlencoding::decode_binary(path.as_bytes())).into_owned()
}

/// The JSON path of the first string or key holding NUL, which no text may hold. Walks without
/// recursion; serde_json already bounds nesting at 128 levels.
pub fn nul_path(v: &Value) -> Option<String> {
    let mut stack = vec![(String::from("body"), v)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return Some(path),
            Value::Array(items) => stack.extend(items.iter().enumerate().map(|(i, x)| (format!("{path}[{i}]"), x))),
            Value::Object(map) => {
                for (k, x) in map {
                    if k.contains('\0') {
                        return Some(path);
                    }
                    let at = if path == "body" { k.clone() } else { format!("{path}.{k}") };
                    stack.push((at, x));
                }
            }
            _ => {}
        }
    }
    None
}

/// 422 naming the first field of `v` that holds NUL.
pub fn refuse_nul(v: &Value) -> ApiResult<()> {
    match nul_path(v) {
        Some(field) => Err(ApiError::invalid(&field, "holds the control character U+0000; remove it")),
        None => Ok(()),
    }
}

/// Parses a JSON object body, answering 400 with the position of a syntax error.
pub fn json_object(body: &Bytes) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) if nul_path(&v).is_some() => refuse_nul(&v).map(|_| Map::new()),
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(ApiError::BadRequest(format!(
            "the body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

/// Query parameters, read by name with errors that name the parameter.
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// A page's query: a form's empty field (an "any" option, a blank search) means "not given".
    pub fn form(q: &HashMap<String, String>) -> Params {
        Params(q.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// A free text: trimmed, empty as absent.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A typed parameter as sent: present but empty (`as_of=`) is an error, not a default.
    fn typed(&self, name: &str, invalid: &mut Invalid) -> Option<String> {
        let v = self.0.get(name)?.trim();
        if v.is_empty() {
            invalid.push(name, "is empty; leave it out for the default");
            return None;
        }
        Some(v.to_owned())
    }

    /// `limit` between 1 and 500, 50 when absent.
    pub fn limit(&self, invalid: &mut Invalid) -> i64 {
        match self.typed("limit", invalid) {
            None => 50,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=500).contains(&n) => n,
                _ => {
                    invalid.push("limit", format!("{l:?} is not a whole number from 1 to 500"));
                    50
                }
            },
        }
    }

    /// `owner`: a team member id, `me` (`me`'s id) or `none` (`Some(None)`: no owner).
    pub fn owner(&self, me: Option<i64>, invalid: &mut Invalid) -> Option<Option<i64>> {
        match self.typed("owner", invalid).as_deref() {
            None => None,
            Some("none") => Some(None),
            Some("me") => Some(me),
            Some(v) => match v.parse() {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    invalid.push("owner", format!("{v:?} is not a team member id, \"me\" or \"none\""));
                    None
                }
            },
        }
    }

    /// One of `options` (word → value), `default` when absent.
    pub fn choice<T: Copy>(&self, name: &str, options: &[(&str, T)], default: T, invalid: &mut Invalid) -> T {
        let Some(v) = self.typed(name, invalid) else { return default };
        if let Some((_, t)) = options.iter().find(|(word, _)| *word == v) {
            return *t;
        }
        let words: Vec<&str> = options.iter().map(|(word, _)| *word).collect();
        let (last, rest) = words.split_last().unwrap_or((&"", &[]));
        let listed = if rest.is_empty() { last.to_string() } else { format!("{} or {last}", rest.join(", ")) };
        invalid.push(name, format!("{v:?}: use {listed}"));
        default
    }

    /// A value parsed by `parse`, whose error is the message.
    pub fn parsed<T>(&self, name: &str, invalid: &mut Invalid, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let v = self.typed(name, invalid)?;
        parse(&v).map_err(|e| invalid.push(name, e)).ok()
    }

    /// A whole number of days from 1 to `max`, `default` when absent.
    pub fn days(&self, name: &str, max: u64, default: u64, invalid: &mut Invalid) -> u64 {
        let Some(v) = self.typed(name, invalid) else { return default };
        v.parse().ok().filter(|d| (1..=max).contains(d)).unwrap_or_else(|| {
            invalid.push(name, format!("{v:?} is not a number of days from 1 to {max}"));
            default
        })
    }

    /// A `YYYY-MM-DD` date.
    pub fn date(&self, name: &str, invalid: &mut Invalid) -> Option<chrono::NaiveDate> {
        self.parsed(name, invalid, keepwell_core::money::date)
    }

    /// `from`..`to` (both included): default the `default_days` to today, at most `max_days`.
    pub fn range(
        &self,
        default_days: u64,
        max_days: u64,
        today: chrono::NaiveDate,
        invalid: &mut Invalid,
    ) -> (chrono::NaiveDate, chrono::NaiveDate) {
        let to = self.date("to", invalid).unwrap_or(today);
        let from = self.date("from", invalid).unwrap_or(to - chrono::Days::new(default_days - 1));
        if invalid.errors.is_empty() && from > to {
            invalid.push("from", format!("{from} is after `to` ({to})"));
        } else if invalid.errors.is_empty() && from + chrono::Days::new(max_days) <= to {
            invalid.push("from", format!("the range is longer than {max_days} days; ask for less at a time"));
        }
        (from, to)
    }

    pub fn id(&self, name: &str, invalid: &mut Invalid) -> Option<i64> {
        self.parsed(name, invalid, |v| v.parse().map_err(|_| format!("{v:?} is not an id")))
    }
}

/// Parses a path id, naming it when it is not a number.
pub fn path_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::NotFound(format!("{raw:?} is not an id")))
}
