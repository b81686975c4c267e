//! The revenue ledger behind the metrics API and the Revenue page: loaded from the store, converted
//! to the reporting currency with the stored FX rates, and computed by `keepwell_core::metrics`.

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use chrono::NaiveDate;
use keepwell_core::billing::Contract;
use keepwell_core::metrics::{mrr_on, DayMrr, Ledger, Range};
use keepwell_core::money::{self, Month};
use keepwell_core::Invalid;
use keepwell_store::billing::RevenueFilter;
use std::sync::Arc;

/// The range and filters of a revenue request, read from query parameters.
pub struct Request {
    pub range: Range,
    pub filter: RevenueFilter,
}

impl Request {
    /// `from`/`to` (YYYY-MM; default the last 12 months to `today`'s), `window` (1–120, default
    /// 12), and the filters `plan`, `country`, `industry`, `owner`. `segment` is refused until
    /// segments exist.
    pub fn read(p: &Params, state: &AppState, today: NaiveDate) -> Result<Request, Invalid> {
        let mut invalid = Invalid::default();
        let mut month =
            |name: &str, default: Month| p.parsed(name, &mut invalid, |v| v.parse::<Month>()).unwrap_or(default);
        let to = month("to", Month::of(today));
        let from = month("from", to.plus(-11));
        if from > to {
            invalid.push("from", format!("{from} is after to {to}"));
        }
        if to.since(from) > 240 {
            invalid.push("from", "the range is longer than 20 years");
        }
        let window = p
            .parsed("window", &mut invalid, |w| {
                w.parse::<u32>()
                    .ok()
                    .filter(|w| (1..=120).contains(w))
                    .ok_or_else(|| format!("{w:?} is not a number of months from 1 to 120"))
            })
            .unwrap_or(12);
        if let Some(s) = p.text("segment") {
            invalid.push(
                "segment",
                format!(
                    "no segment {s:?}: this workspace has no segments yet; filter by plan, country, industry or owner"
                ),
            );
        }
        let owner = p.id("owner", &mut invalid);
        let filter =
            RevenueFilter { plan: p.text("plan"), country: p.text("country"), industry: p.text("industry"), owner };
        let currency = state.settings.reporting_currency.clone();
        invalid.into_result(Request { range: Range { from, to, window, currency }, filter })
    }
}

/// Builds the ledger through the request's last month, with today's MRR when the range reaches
/// this month, or takes it from the cache when nothing it reads has changed since (today). A currency-month without an FX rate is a 422 that lists every
/// missing one.
pub async fn ledger(state: &AppState, r: &Request) -> ApiResult<Arc<Ledger>> {
    let version = state.store.revenue_version().await?;
    let today = state.store.clock().today();
    let key = (r.filter.clone(), r.range.to, r.range.currency.clone(), version, today);
    if let Some(hit) = state.revenue.ledgers.get(&key) {
        return Ok(hit);
    }
    let (periods, failed) = state.store.revenue_inputs(&r.filter, r.range.to).await?;
    let fx = state.store.fx_table().await?;
    let missing = |missing: keepwell_core::metrics::MissingRates| ApiError::invalid("fx_rates", missing.to_string());
    let mut ledger = Ledger::build(&periods, &failed, r.range.to, &r.range.currency, &fx).map_err(missing)?;
    if Month::of(today) <= r.range.to {
        ledger.on_day = Some(mrr_on(&periods, today, &r.range.currency, &fx).map_err(missing)?);
    }
    Ok(state.revenue.ledgers.put(key, ledger))
}

/// The MRR today of the accounts `filter` selects (a member's book on the home page), converted
/// to `currency` at this month's rates.
pub async fn mrr_today(state: &AppState, filter: &RevenueFilter, currency: &str) -> ApiResult<Arc<DayMrr>> {
    let version = state.store.revenue_version().await?;
    let today = state.store.clock().today();
    let key = (filter.clone(), currency.to_owned(), version, today);
    if let Some(hit) = state.revenue.mrr_today.get(&key) {
        return Ok(hit);
    }
    let (periods, _) = state.store.revenue_inputs(filter, Month::of(today)).await?;
    let fx = state.store.fx_table().await?;
    let mrr =
        mrr_on(&periods, today, currency, &fx).map_err(|missing| ApiError::invalid("fx_rates", missing.to_string()))?;
    Ok(state.revenue.mrr_today.put(key, mrr))
}

/// Distinct plans and industries, for the Revenue page's filters.
pub async fn facets(state: &AppState) -> ApiResult<Arc<(Vec<String>, Vec<String>)>> {
    let version = state.store.revenue_version().await?;
    if let Some(hit) = state.revenue.facets.get(&version) {
        return Ok(hit);
    }
    Ok(state.revenue.facets.put(version, state.store.revenue_facets().await?))
}

/// An account's contract as of `day`, with money as the API shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ContractView {
    pub as_of: NaiveDate,
    pub plans: Vec<String>,
    pub seats: i64,
    pub currency: Option<String>,
    pub mrr: String,
    pub arr: String,
    pub contract_value: String,
    pub payment_terms: Option<String>,
    pub customer_since: Option<NaiveDate>,
    pub tenure_days: Option<i64>,
    pub next_renewal: Option<NaiveDate>,
    pub days_to_renewal: Option<i64>,
    /// A cancellation dated ahead: the day every period in force ends with nothing after it.
    /// The account is at risk, still saveable, until then.
    pub churns_on: Option<NaiveDate>,
    pub overdue_invoices: u64,
    pub overdue_amount: String,
}

pub async fn contract(state: &AppState, account_id: i64, day: NaiveDate) -> ApiResult<ContractView> {
    let periods = state.store.account_periods(account_id).await?;
    let invoices = state.store.account_invoices(account_id).await?;
    let c = Contract::as_of(&periods.iter().map(|p| &p.period).collect::<Vec<_>>(), day);
    let overdue: Vec<_> = invoices.iter().filter(|i| i.invoice.overdue(day)).collect();
    Ok(ContractView {
        as_of: day,
        plans: c.plans,
        seats: c.seats,
        currency: c.currency,
        mrr: money::format(c.mrr),
        arr: money::format(c.mrr * rust_decimal::Decimal::from(12)),
        contract_value: money::format(c.contract_value),
        payment_terms: c.payment_terms,
        customer_since: c.customer_since,
        tenure_days: c.tenure_days,
        next_renewal: c.next_renewal,
        days_to_renewal: c.days_to_renewal,
        churns_on: c.churns_on,
        overdue_invoices: overdue.len() as u64,
        overdue_amount: money::format(overdue.iter().map(|i| i.invoice.amount).sum()),
    })
}

/// `as_of` as a date (default today, UTC).
pub fn as_of(p: &Params, today: NaiveDate) -> Result<NaiveDate, Invalid> {
    let mut invalid = Invalid::default();
    let day = p.date("as_of", &mut invalid);
    invalid.into_result(day.unwrap_or(today))
}
