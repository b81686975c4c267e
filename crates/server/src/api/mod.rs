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
}

/// Parses a JSON object body, answering 400 with the position of a syntax error.
pub fn json_object(body: &Bytes) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
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
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// `limit` between 1 and 500, 50 when absent.
    pub fn limit(&self, invalid: &mut Invalid) -> i64 {
        match self.text("limit") {
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
        match self.text("owner").as_deref() {
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
        let Some(v) = self.text(name) else { return default };
        if let Some((_, t)) = options.iter().find(|(word, _)| *word == v) {
            return *t;
        }
        let words: Vec<&str> = options.iter().map(|(word, _)| *word).collect();
        let (last, rest) = words.split_last().unwrap_or((&"", &[]));
        let listed = if rest.is_empty() { last.to_string() } else { format!("{} or {last}", rest.join(", ")) };
        invalid.push(name, format!("{v:?}: use {listed}"));
        default
    }

    /// A whole number of days from 1 to `max`, `default` when absent.
    pub fn days(&self, name: &str, max: u64, default: u64, invalid: &mut Invalid) -> u64 {
        let Some(v) = self.text(name) else { return default };
        v.parse().ok().filter(|d| (1..=max).contains(d)).unwrap_or_else(|| {
            invalid.push(name, format!("{v:?} is not a number of days from 1 to {max}"));
            default
        })
    }

    /// A `YYYY-MM-DD` date.
    pub fn date(&self, name: &str, invalid: &mut Invalid) -> Option<chrono::NaiveDate> {
        let v = self.text(name)?;
        keepwell_core::money::date(&v).map_err(|e| invalid.push(name, e)).ok()
    }

    /// `from`..`to` (both included): default the `default_days` to today, at most `max_days`.
    pub fn range(
        &self,
        default_days: u64,
        max_days: u64,
        invalid: &mut Invalid,
    ) -> (chrono::NaiveDate, chrono::NaiveDate) {
        let to = self.date("to", invalid).unwrap_or_else(|| chrono::Utc::now().date_naive());
        let from = self.date("from", invalid).unwrap_or(to - chrono::Days::new(default_days - 1));
        if invalid.errors.is_empty() && from > to {
            invalid.push("from", format!("{from} is after `to` ({to})"));
        } else if invalid.errors.is_empty() && from + chrono::Days::new(max_days) <= to {
            invalid.push("from", format!("the range is longer than {max_days} days; ask for less at a time"));
        }
        (from, to)
    }

    pub fn id(&self, name: &str, invalid: &mut Invalid) -> Option<i64> {
        let v = self.text(name)?;
        v.parse().map_err(|_| invalid.push(name, format!("{v:?} is not an id"))).ok()
    }
}

/// Parses a path id, naming it when it is not a number.
pub fn path_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::NotFound(format!("{raw:?} is not an id")))
}
