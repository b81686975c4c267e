//! The health use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::refused::Outcome;
use crate::state::AppState;
use axum::body::Bytes;
use chrono::{Days, NaiveDate};
use keepwell_core::backtest::Report;
use keepwell_core::definitions::{Scorecard, ScorecardDef};
use keepwell_core::health::{Band, Reading};
use keepwell_core::Invalid;
use keepwell_store::health::Override;
use keepwell_store::health::{self as store_health, Sentiment};
use keepwell_store::{Store, Write};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

fn num(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// One measure's line of the explanation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeasureLine {
    pub key: String,
    /// The measure source, e.g. `license_utilization()`.
    pub source: String,
    /// The raw value (null: no data, or not applicable).
    pub value: Option<f64>,
    /// 0–100 (null when left out).
    pub score: Option<f64>,
    pub weight: f64,
    /// Points of `computed_score` this measure brings; they add up to it.
    pub contribution: f64,
    /// False when its `applies_if` does not hold: left out, never counted as 0.
    pub applicable: bool,
    /// True when it applies but has no data.
    pub missing: bool,
}

/// What moved the score since an earlier day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Movement {
    pub days: i64,
    pub day: NaiveDate,
    /// The score that day (its snapshot's).
    pub score: Option<f64>,
    /// This score minus that one.
    pub change: Option<f64>,
    /// Each measure's change of contribution, largest first.
    pub measures: Vec<MeasureChange>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeasureChange {
    pub key: String,
    pub change: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthView {
    pub account_id: i64,
    pub as_of: NaiveDate,
    /// The score in force, 0–100: an unexpired override's, else `computed_score`. Null when
    /// `band` is `unscored` (too little data) or `churned` (no revenue left).
    pub score: Option<f64>,
    /// `red`, `yellow`, `green`; `unscored` when coverage is below the scorecard's
    /// `min_coverage`; `churned` when the account had revenue and has none.
    pub band: Option<Band>,
    /// What the score rests on, percent: the weight of applicable measures with data ÷ the
    /// weight of all applicable measures. Null when no measure applies.
    pub coverage: Option<f64>,
    /// The scorecard's least coverage for a score.
    pub min_coverage: f64,
    /// Applicable measures without data, heaviest first: what would raise the coverage.
    pub would_raise_coverage: Vec<String>,
    /// The key of the scorecard that scored the account.
    pub scorecard: String,
    pub scorecard_name: String,
    /// The weighted mean of the applicable measures: the sum of their contributions.
    pub computed_score: Option<f64>,
    pub computed_band: Option<Band>,
    #[serde(rename = "override")]
    pub override_: Option<Override>,
    /// `snapshot` (the stored daily snapshot of `as_of`) or `live` (computed now from the data).
    pub source: String,
    pub measures: Vec<MeasureLine>,
    /// Against 7 and 30 days before, where a snapshot exists.
    pub changes: Vec<Movement>,
}

struct Scored {
    card: Scorecard,
    readings: Vec<Reading>,
    live: bool,
    /// No revenue left that day: not scored.
    churned: bool,
}

/// The account's scorecard and readings as of `day`: the stored snapshot for a past day, else
/// computed from the data (today's always are, so a sentiment counts at once).
async fn scored(state: &AppState, account: i64, day: NaiveDate) -> ApiResult<Option<Scored>> {
    crate::usage::folded(state).await?;
    let today = state.store.clock().today();
    if day < today {
        if let Some(s) = snapshot(state, account, day).await? {
            return Ok(Some(s));
        }
    }
    let reporting = &state.settings.reporting_currency;
    Ok(state.store.evaluate(reporting, account, day).await?.map(|(plan, snap)| Scored {
        card: plan.scorecards[snap.scorecard].clone(),
        readings: snap.readings,
        live: true,
        churned: snap.band == Some(Band::Churned),
    }))
}

async fn snapshot(state: &AppState, account: i64, day: NaiveDate) -> ApiResult<Option<Scored>> {
    let Some(s) = state.store.snapshot(account, day).await? else { return Ok(None) };
    let Some(def) = state.store.scorecard_revision(s.scorecard_id, s.revision).await? else { return Ok(None) };
    let card =
        Scorecard::compile(s.scorecard_id, s.revision, def).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    Ok(Some(Scored { card, readings: s.readings, live: false, churned: s.band == Some(Band::Churned) }))
}

/// The computed score (None: unscored or churned), its band, coverage and explanation.
fn lines(
    card: &Scorecard,
    readings: &[Reading],
    churned: bool,
) -> (Option<Decimal>, Option<Band>, Option<Decimal>, Vec<MeasureLine>) {
    let outcome = card.score(readings, churned);
    let scored = outcome.scored;
    let lines = scored
        .lines
        .iter()
        .zip(&card.def.measures)
        .map(|(l, m)| MeasureLine {
            key: l.key.clone(),
            source: m.source.clone(),
            value: l.value.map(num),
            score: l.score.map(num),
            weight: num(l.weight),
            contribution: num(l.contribution),
            applicable: l.applicable,
            missing: l.applicable && l.missing,
        })
        .collect();
    (scored.score, outcome.band, scored.coverage, lines)
}

pub async fn health_of(state: &AppState, account: i64, as_of: NaiveDate) -> ApiResult<HealthView> {
    let Some(s) = scored(state, account, as_of).await? else {
        return Err(ApiError::NotFound("no scorecard applies: add a default scorecard".into()));
    };
    let (computed, computed_band, coverage, measures) = lines(&s.card, &s.readings, s.churned);
    let override_ = state.store.overrides(account).await?.into_iter().find(|o| o.active_on(as_of));
    let score = if s.churned { None } else { override_.as_ref().map(|o| o.score).or(computed) };
    let mut would_raise: Vec<&MeasureLine> = measures.iter().filter(|m| m.missing).collect();
    would_raise.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let mut changes = Vec::new();
    for days in [7, 30] {
        let day = as_of - Days::new(days);
        let Some(before) = snapshot(state, account, day).await? else { continue };
        let (then, _, _, old) = lines(&before.card, &before.readings, before.churned);
        let mut moved: Vec<MeasureChange> = measures
            .iter()
            .map(|m| {
                let was = old.iter().find(|o| o.key == m.key).map_or(0.0, |o| o.contribution);
                MeasureChange { key: m.key.clone(), change: ((m.contribution - was) * 100.0).round() / 100.0 }
            })
            .filter(|c| c.change != 0.0)
            .collect();
        moved.sort_by(|a, b| b.change.abs().total_cmp(&a.change.abs()));
        changes.push(Movement {
            days: days as i64,
            day,
            score: then.map(num),
            change: computed.zip(then).map(|(a, b)| num(a - b)),
            measures: moved,
        });
    }
    Ok(HealthView {
        account_id: account,
        as_of,
        score: score.map(num),
        band: score.map(|v| s.card.bands.of(v)).or(computed_band),
        coverage: coverage.map(num),
        min_coverage: num(s.card.def.min_coverage),
        would_raise_coverage: would_raise.iter().map(|m| m.key.clone()).collect(),
        scorecard: s.card.def.key.clone(),
        scorecard_name: s.card.def.name.clone(),
        computed_score: computed.map(num),
        computed_band,
        override_,
        source: if s.live { "live" } else { "snapshot" }.into(),
        measures,
        changes,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryPoint {
    pub day: NaiveDate,
    pub score: Option<f64>,
    pub band: Option<Band>,
    pub scorecard: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct History {
    pub account_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One point per daily snapshot, oldest first (days without a pass have none).
    pub data: Vec<HistoryPoint>,
}

pub async fn history_of(state: &AppState, account: i64, from: NaiveDate, to: NaiveDate) -> ApiResult<History> {
    let keys = state.store.scorecard_keys().await?;
    let data = state
        .store
        .snapshots(account, from, to)
        .await?
        .into_iter()
        .map(|s| HistoryPoint {
            day: s.day,
            score: s.score.map(num),
            band: s.band,
            scorecard: keys.get(&s.scorecard_id).cloned().unwrap_or_default(),
        })
        .collect();
    Ok(History { account_id: account, from, to, data })
}

/// Reads a JSON body into `T`, naming the field serde complains about.
pub fn body<T: for<'de> Deserialize<'de>>(raw: &Bytes) -> ApiResult<T> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) {
        crate::params::refuse_nul(&v)?;
    }
    serde_json::from_slice(raw).map_err(|e| {
        let message = e.to_string();
        let field = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| message.split(p).nth(1).and_then(|rest| rest.split('`').next()))
            .unwrap_or("body")
            .to_owned();
        match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::BadRequest(format!("the body is not valid JSON: {message}"))
            }
            _ => ApiError::Invalid(Invalid::field(&field, message)),
        }
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSentiment {
    /// 1 (very unhappy) to 5 (very happy).
    pub rating: i64,
    #[schema(max_length = 2000)]
    pub reason: String,
    /// Default today.
    pub day: Option<NaiveDate>,
}

/// A sentiment as entered (API or form): rating 1–5, a reason, a day not in the future.
pub fn sentiment_input(
    rating: Option<i64>,
    reason: &str,
    day: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(i64, String, NaiveDate), Invalid> {
    let mut invalid = Invalid::default();
    let rating = rating.filter(|r| (1..=5).contains(r));
    if rating.is_none() {
        invalid.push("rating", "a rating is a whole number from 1 (very unhappy) to 5 (very happy)");
    }
    keepwell_core::limits::text(&mut invalid, "reason", Some(reason), keepwell_core::limits::REASON);
    if reason.trim().is_empty() {
        invalid.push("reason", "say why");
    }
    let day = day.unwrap_or(today);
    if day > today {
        invalid.push("day", "cannot be in the future");
    }
    invalid.into_result((rating.unwrap_or(0), reason.trim().to_owned(), day))
}

/// An override as entered: a score 0–100, a reason, an expiry after today within a year.
pub fn override_input(
    score: Option<Decimal>,
    reason: &str,
    expires_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(Decimal, String, NaiveDate), Invalid> {
    let mut invalid = Invalid::default();
    let score = score.filter(|s| *s >= Decimal::ZERO && *s <= Decimal::ONE_HUNDRED);
    if score.is_none() {
        invalid.push("score", "a score is from 0 to 100");
    }
    keepwell_core::limits::text(&mut invalid, "reason", Some(reason), keepwell_core::limits::REASON);
    if reason.trim().is_empty() {
        invalid.push("reason", "say why");
    }
    let expires = expires_on.filter(|e| *e > today && *e <= today + Days::new(366));
    if expires.is_none() {
        invalid.push("expires_on", "after today and at most a year ahead");
    }
    invalid.into_result((score.unwrap_or_default().round_dp(2), reason.trim().to_owned(), expires.unwrap_or(today)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    /// 0–100.
    #[schema(value_type = f64)]
    pub score: serde_json::Number,
    #[schema(max_length = 2000)]
    pub reason: String,
    /// The first day it no longer applies (at most a year ahead).
    pub expires_on: NaiveDate,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Backtest {
    pub scorecard: String,
    pub horizon_days: u64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every n-th day was observed (1 unless the period × accounts is very large).
    pub step_days: u64,
    #[serde(flatten)]
    pub report: Report,
}

/// The backtest a request asks for: scorecard, horizon and period (default: the year ending
/// `horizon_days` before today, whose outcomes are known).
pub fn backtest_request(p: &Params, today: NaiveDate) -> Result<(String, u64, NaiveDate, NaiveDate), Invalid> {
    let mut invalid = Invalid::default();
    let key = p.text("scorecard").unwrap_or_else(|| "default".into());
    let horizon = p.days("horizon_days", 365, 90, &mut invalid);
    let to = p.date("to", &mut invalid).unwrap_or(today - Days::new(horizon));
    let from = p.date("from", &mut invalid).unwrap_or(to - Days::new(364));
    if invalid.errors.is_empty() {
        if from > to {
            invalid.push("from", "must not be after `to`");
        } else if (to - from).num_days() > 3660 {
            invalid.push("from", "at most 3 660 days before `to`");
        } else if to + Days::new(horizon) > today {
            invalid.push(
                "to",
                format!(
                    "at most horizon_days before today ({}), so that every outcome is known",
                    today - Days::new(horizon)
                ),
            );
        }
    }
    invalid.into_result((key, horizon, from, to))
}

pub async fn backtest_of(
    state: &AppState,
    key: &str,
    horizon: u64,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Backtest> {
    crate::usage::folded(state).await?;
    let reporting = &state.settings.reporting_currency;
    let Some((step, report)) = state.store.backtest(reporting, key, horizon, from, to).await? else {
        return Err(ApiError::NotFound(format!("no scorecard {key:?}")));
    };
    Ok(Backtest { scorecard: key.to_owned(), horizon_days: horizon, from, to, step_days: step, report })
}

/// A scorecard with new weights by measure key (the backtest's suggestion, applied).
pub fn reweigh(def: &ScorecardDef, weights: &HashMap<String, f64>) -> Result<ScorecardDef, Invalid> {
    let mut invalid = Invalid::default();
    let mut def = def.clone();
    for (k, w) in weights {
        match def.measures.iter_mut().find(|m| &m.key == k) {
            None => invalid.push(format!("weights.{k}"), "no such measure"),
            Some(m) => match Decimal::try_from(*w).ok().map(|d| d.round_dp(2)).filter(|d| *d >= Decimal::ZERO) {
                Some(d) => m.weight = d,
                None => invalid.push(format!("weights.{k}"), "a weight is a number from 0"),
            },
        }
    }
    // A weight of 0 drops the measure; one must stay.
    def.measures.retain(|m| m.weight > Decimal::ZERO);
    if def.measures.is_empty() {
        invalid.push("weights", "at least one measure must keep a weight above 0");
    }
    invalid.into_result(def)
}

/// The account's owner may act on it (or a manager), as the write sees it.
async fn editable(w: &mut Write, caller: &Caller, account: i64) -> Outcome<()> {
    let a = keepwell_store::accounts::load(w, account).await?;
    caller.require_edit(a.owner.as_ref().map(|o| o.id))
}

/// Records how the account feels, by whoever may edit it.
pub async fn add_sentiment(
    store: &Store,
    caller: &Caller,
    account: i64,
    rating: i64,
    reason: &str,
    on: NaiveDate,
) -> Outcome<Sentiment> {
    let mut w = store.write(&caller.actor).await?;
    editable(&mut w, caller, account).await?;
    let s = store_health::add_sentiment(&mut w, account, rating, reason, on).await?;
    w.commit().await?;
    Ok(s)
}

/// Overrides the account's score from `on` until `expires_on`, by whoever may edit it.
pub async fn add_override(
    store: &Store,
    caller: &Caller,
    account: i64,
    score: Decimal,
    reason: &str,
    (on, expires_on): (NaiveDate, NaiveDate),
) -> Outcome<Override> {
    let mut w = store.write(&caller.actor).await?;
    editable(&mut w, caller, account).await?;
    let o = store_health::add_override(&mut w, account, score, reason, on, expires_on).await?;
    w.commit().await?;
    Ok(o)
}

/// Ends the override in force as of `today`; false when none was.
pub async fn clear_override(store: &Store, caller: &Caller, account: i64, today: NaiveDate) -> Outcome<bool> {
    let mut w = store.write(&caller.actor).await?;
    editable(&mut w, caller, account).await?;
    let cleared = store_health::clear_override(&mut w, account, today).await?;
    w.commit().await?;
    Ok(cleared)
}
