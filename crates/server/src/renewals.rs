//! The renewals use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::ApiResult;
use crate::params::Params;
use crate::revenue;
use crate::state::AppState;
use chrono::NaiveDate;
use keepwell_core::metrics::FxTable;
use keepwell_core::money::{self, Month};
use keepwell_core::renewal::{rates, Converter, Decided, Outcome, RateRow, Status, Terms};
use keepwell_core::Invalid;
use keepwell_store::billing::{Renewal, RenewalFilter};
use keepwell_store::Store;
use rust_decimal::Decimal;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenewalView {
    pub id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub subscription_id: String,
    pub due_on: NaiveDate,
    pub days_until: i64,
    pub plan: String,
    /// The committed term this renewal ends, in months.
    pub term_months: u32,
    /// `contract` (a term of at least the workspace's contract months, worked by a CSM) or
    /// `monthly` (renews by itself; watched through churn).
    pub terms: String,
    /// `pending`, `scheduled_to_churn` (a cancellation dated on the due day, still saveable) or `decided`.
    #[schema(value_type = String)]
    pub status: Status,
    pub currency: String,
    pub arr: String,
    /// Expected ARR: the ARR × the trailing 12-month net renewal rate while pending, zero while
    /// scheduled to churn, then the outcome's ARR.
    pub forecast_arr: String,
    /// `arr` and `forecast_arr` in the reporting currency; null when the currency has no rate at all.
    pub reporting_arr: Option<String>,
    pub reporting_forecast_arr: Option<String>,
    /// The month whose FX rate converted them: the due month's, or the latest known as of
    /// today when that month has none yet. Null in the reporting currency.
    pub fx_month: Option<String>,
    /// Null until decided.
    pub outcome: Option<Outcome>,
    /// `billing` (read from the next period) or `person`.
    pub outcome_source: Option<String>,
    pub new_arr: Option<String>,
    pub reason: Option<String>,
}

/// Renewals added up in the reporting currency.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct RenewalTotals {
    pub currency: String,
    pub count: u64,
    pub arr: String,
    pub forecast_arr: String,
    /// Renewals converted with the latest rate known as of today, their due month having none yet.
    pub at_latest_rate: u64,
    /// Renewals in a currency with no FX rate at all: counted, but left out of `arr` and `forecast_arr`.
    pub unconverted: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Renewals {
    pub as_of: NaiveDate,
    /// Which renewals are listed: `contract`, `monthly` or `all`.
    pub terms: String,
    /// Terms of at least this many months are contract renewals (`KEEPWELL_CONTRACT_MONTHS`).
    pub contract_months: u32,
    /// The trailing 12-month net renewal rate of contract renewals the forecast uses (percent),
    /// null without history.
    pub forecast_rate: Option<f64>,
    /// The listed renewals, in the reporting currency.
    pub totals: RenewalTotals,
    /// The renewals of the other terms due in the same window, not listed (month-to-month ones
    /// beside contract renewals); null when every term is listed.
    pub not_listed: Option<RenewalTotals>,
    pub data: Vec<RenewalView>,
}

/// What the renewals page and API show: renewals due within `within_days` of `as_of`.
pub async fn upcoming(state: &AppState, f: &RenewalFilter, day: NaiveDate) -> ApiResult<Renewals> {
    let rate = trailing_rate(state, day).await?;
    listed(state, f, day, (rate, true)).await
}

/// Only the renewals `f` lists, their forecast as they are: for a reader that shows no forecast
/// and no totals of the other terms, so need not read them (the digest, the home page).
pub async fn upcoming_listed(state: &AppState, f: &RenewalFilter, day: NaiveDate) -> ApiResult<Renewals> {
    listed(state, f, day, (None, false)).await
}

/// [`upcoming`] with the forecast at `rate` (none: the ARR as it is), and the totals of the
/// other terms if `others`.
async fn listed(
    state: &AppState,
    f: &RenewalFilter,
    day: NaiveDate,
    (rate, others): (Option<Decimal>, bool),
) -> ApiResult<Renewals> {
    let factor = rate.map_or(Decimal::ONE, |r| r / Decimal::ONE_HUNDRED);
    let fx = state.store.fx_table().await?;
    let reporting = state.settings.reporting_currency.as_str();
    let convert = Converter::new(&fx, reporting, Month::of(day));
    let view = |r: Renewal| view(r, day, factor, f.contract_months, &convert);
    let data: Vec<RenewalView> = state.store.renewals(f).await?.into_iter().map(view).collect();
    let not_listed = match f.terms {
        _ if !others => None,
        Terms::All => None,
        Terms::Contract | Terms::Monthly => {
            let other = if f.terms == Terms::Contract { Terms::Monthly } else { Terms::Contract };
            let rows = state.store.renewals(&RenewalFilter { terms: other, ..f.clone() }).await?;
            Some(totals(reporting, &rows.into_iter().map(view).collect::<Vec<_>>()))
        }
    };
    Ok(Renewals {
        as_of: day,
        terms: f.terms.as_str().into(),
        contract_months: f.contract_months,
        forecast_rate: rate.map(money::percent),
        totals: totals(reporting, &data),
        not_listed,
        data,
    })
}

fn totals(currency: &str, rows: &[RenewalView]) -> RenewalTotals {
    let (mut arr, mut forecast) = (Decimal::ZERO, Decimal::ZERO);
    let mut t = RenewalTotals { currency: currency.into(), count: rows.len() as u64, ..Default::default() };
    for r in rows {
        let amount = |a: &Option<String>| a.as_deref().and_then(|a| a.parse::<Decimal>().ok());
        match (amount(&r.reporting_arr), amount(&r.reporting_forecast_arr)) {
            (Some(a), Some(f)) => {
                arr += a;
                forecast += f;
                if r.fx_month.as_deref().is_some_and(|m| m != Month::of(r.due_on).to_string()) {
                    t.at_latest_rate += 1;
                }
            }
            _ => t.unconverted += 1,
        }
    }
    t.arr = money::format(arr);
    t.forecast_arr = money::format(forecast);
    t
}

pub(crate) fn view(
    r: Renewal,
    day: NaiveDate,
    factor: Decimal,
    contract_months: u32,
    convert: &Converter,
) -> RenewalView {
    let status = r.status(day);
    let forecast = match status {
        Status::Decided => r.new_arr.unwrap_or(r.arr),
        Status::ScheduledToChurn => Decimal::ZERO,
        Status::Pending => r.arr * factor,
    };
    let rate = convert.rate(&r.currency, Month::of(r.due_on));
    let decided = status == Status::Decided;
    RenewalView {
        id: r.id,
        account_id: r.account_id,
        account_name: r.account_name,
        owner_id: r.owner_id,
        owner_name: r.owner_name,
        subscription_id: r.subscription_id,
        due_on: r.due_on,
        days_until: (r.due_on - day).num_days(),
        plan: r.plan,
        term_months: r.term_months,
        terms: if Terms::Contract.holds(r.term_months, contract_months) { "contract" } else { "monthly" }.into(),
        status,
        reporting_arr: rate.map(|x| money::format(r.arr * x.rate)),
        reporting_forecast_arr: rate.map(|x| money::format(forecast * x.rate)),
        fx_month: rate.filter(|_| r.currency != convert.reporting()).map(|x| x.month.to_string()),
        currency: r.currency,
        arr: money::format(r.arr),
        forecast_arr: money::format(forecast),
        outcome: r.outcome.filter(|_| decided),
        outcome_source: r.outcome_source.filter(|_| decided),
        new_arr: r.new_arr.filter(|_| decided).map(money::format),
        reason: r.reason.filter(|_| decided),
    }
}

/// Decided renewals due in `[first, last]` months of the given terms, in the reporting currency
/// (a month without a rate yet borrows the latest known; a currency with none is left out).
/// A cancellation still ahead of `day` is not decided.
async fn decided(
    state: &AppState,
    first: Month,
    last: Month,
    terms: Terms,
    day: NaiveDate,
) -> ApiResult<Arc<Vec<Decided>>> {
    let reporting = &state.settings.reporting_currency;
    let months = state.settings.contract_months;
    let key = (first, last, reporting.clone(), state.store.revenue_version().await?, terms, months, day);
    if let Some(hit) = state.revenue.decided.get(&key) {
        return Ok(hit);
    }
    let fx: FxTable = state.store.fx_table().await?;
    let convert = Converter::new(&fx, reporting, Month::of(day));
    let last_day = last.plus(1).first_day() - chrono::Days::new(1);
    let list = state
        .store
        .renewal_values(first.first_day(), last_day)
        .await?
        .into_iter()
        .filter(|v| terms.holds(v.term_months, months))
        .filter_map(|v| {
            let due = Month::of(v.due_on);
            let rate = convert.rate(&v.currency, due)?.rate;
            let new_arr = v.new_arr.filter(|_| v.status(day) == Status::Decided);
            Some(Decided { due, arr: v.arr * rate, new_arr: new_arr.map(|n| n * rate) })
        })
        .collect();
    Ok(state.revenue.decided.put(key, list))
}

/// The trailing 12-month net renewal rate of contract renewals.
async fn trailing_rate(state: &AppState, day: NaiveDate) -> ApiResult<Option<Decimal>> {
    let last = Month::of(day);
    let list = decided(state, last.plus(-11), last, Terms::Contract, day).await?;
    let (base, net) = list
        .iter()
        .filter_map(|d| d.new_arr.map(|n| (d.arr, n)))
        .fold((Decimal::ZERO, Decimal::ZERO), |(b, n), (a, x)| (b + a, n + x));
    Ok(keepwell_core::metrics::ratio(net, base))
}

/// `terms`: contract (default), monthly or all.
pub(crate) fn terms(p: &Params, invalid: &mut Invalid) -> Terms {
    let options: Vec<(&str, Terms)> = Terms::ALL.iter().map(|t| (t.as_str(), *t)).collect();
    p.choice("terms", &options, Terms::Contract, invalid)
}

/// Reads the renewal filters shared by the API and the renewals page.
pub fn filter(
    p: &Params,
    me: Option<i64>,
    contract_months: u32,
    today: NaiveDate,
) -> Result<(RenewalFilter, NaiveDate), Invalid> {
    let mut invalid = Invalid::default();
    let day = revenue::as_of(p, today).unwrap_or_else(|e| {
        invalid.errors.extend(e.errors);
        today
    });
    let within = p.days("within_days", 3660, 90, &mut invalid);
    let owner = p.owner(me, &mut invalid);
    let statuses = [("pending", Some(false)), ("decided", Some(true)), ("all", None)];
    let decided = p.choice("status", &statuses, None, &mut invalid);
    let f = RenewalFilter {
        due_from: Some(day),
        due_to: Some(day + chrono::Days::new(within)),
        owner,
        account_id: p.id("account_id", &mut invalid),
        decided,
        as_of: day,
        terms: terms(p, &mut invalid),
        contract_months,
        limit: 5000,
    };
    invalid.into_result((f, day))
}

/// `{"outcome": "renewed_with_upsell", "new_arr": "15000.00", "reason": "…"}`
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct OutcomeBody {
    /// renewed, renewed_with_upsell, renewed_with_downsell or churned.
    outcome: String,
    /// Required for upsell and downsell; ARR in the renewal's currency.
    #[schema(schema_with = keepwell_core::money::optional_decimal_schema)]
    new_arr: Option<String>,
    /// Required for churned.
    reason: Option<String>,
}

/// Parses an outcome form or body: every bad field at once.
pub fn record_input(
    outcome: Option<String>,
    new_arr: Option<String>,
    reason: Option<String>,
) -> Result<(Outcome, Option<Decimal>, Option<String>), Invalid> {
    let mut invalid = Invalid::default();
    let outcome = match outcome.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            invalid.push("outcome", "is required");
            None
        }
        Some(o) => Outcome::parse(o).map_err(|e| invalid.push("outcome", e)).ok(),
    };
    let new_arr = new_arr
        .filter(|s| !s.trim().is_empty())
        .and_then(|v| money::amount(&v).map_err(|e| invalid.push("new_arr", e)).ok());
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    keepwell_core::limits::text(&mut invalid, "reason", reason.as_deref(), keepwell_core::limits::REASON);
    match outcome {
        Some(o) if invalid.errors.is_empty() => Ok((o, new_arr, reason)),
        _ => Err(invalid),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RenewalRates {
    pub currency: String,
    pub formula: String,
    /// Which renewals the rates count: `contract` (default), `monthly` or `all`.
    pub terms: String,
    /// Terms of at least this many months are contract renewals.
    pub contract_months: u32,
    pub data: Vec<RateRow>,
}

pub const RATES_FORMULA: &str = "gross renewal rate = Σ min(ARR after, ARR before) ÷ Σ ARR before × 100; net renewal rate = Σ ARR after ÷ Σ ARR before × 100 (decided renewals due in the month)";

pub async fn renewal_rates(
    state: &AppState,
    from: Month,
    to: Month,
    terms: Terms,
    day: NaiveDate,
) -> ApiResult<RenewalRates> {
    let list = decided(state, from, to, terms, day).await?;
    Ok(RenewalRates {
        currency: state.settings.reporting_currency.clone(),
        formula: RATES_FORMULA.into(),
        terms: terms.as_str().into(),
        contract_months: state.settings.contract_months,
        data: rates(&list, from, to),
    })
}

/// Records what came of a renewal; a person's record stands over what billing implies.
pub async fn record(
    store: &Store,
    caller: &Caller,
    id: i64,
    outcome: Outcome,
    new_arr: Decimal,
    reason: Option<&str>,
) -> crate::refused::Outcome<Renewal> {
    caller.decide(store, async |w| keepwell_store::billing::record_renewal(w, id, outcome, new_arr, reason).await).await
}
