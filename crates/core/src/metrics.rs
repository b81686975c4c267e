//! Revenue and retention metrics (DOMAIN.md), as pure functions over a ledger of month-end MRR.
//!
//! A month's snapshot is taken at 00:00 UTC of the next month's first day: a period is in it when
//! `starts_on <= that day < ends_on`. Each account's movement in a month is its snapshot MRR
//! against the previous month's. Everything is exact decimal arithmetic in the reporting currency;
//! rates become JSON numbers (percent) only at the edge.

use crate::money::{self, Month};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// One subscription period, reduced to what the metrics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodLine {
    pub account: i64,
    pub currency: String,
    /// MRR in `currency`.
    pub mrr: Decimal,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

/// A failed payment, reduced to what tells voluntary from involuntary churn: an invoice that
/// failed on `failed_on`, and when the account's next invoice that did not fail was issued
/// (`None`: not yet). In between, the account's latest invoice is a failed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedPayment {
    pub account: i64,
    pub failed_on: NaiveDate,
    pub cleared_on: Option<NaiveDate>,
}

impl FailedPayment {
    /// Whether the latest invoice issued before `day` is this failed one (or a later failed one).
    pub fn unpaid_before(&self, day: NaiveDate) -> bool {
        self.failed_on < day && self.cleared_on.is_none_or(|c| c >= day)
    }
}

/// Month-end MRR of every account, in the reporting currency, from `first` to `first + months - 1`.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub first: Option<Month>,
    pub accounts: Vec<AccountLine>,
    pub months: usize,
    /// Every month's totals, computed once with the ledger.
    pub totals: Vec<MonthTotals>,
    /// MRR on the day the ledger was read, when its range reaches that day's month (whose
    /// month-end figure is then a projection of the billing known that day).
    pub on_day: Option<DayMrr>,
}

/// MRR on one day: the periods in force at 00:00 UTC of it, in the reporting currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayMrr {
    pub day: NaiveDate,
    pub mrr: Decimal,
    pub paying: u64,
}

impl DayMrr {
    pub fn arpa(&self) -> Option<Decimal> {
        (self.paying > 0).then(|| self.mrr / Decimal::from(self.paying))
    }
}

/// MRR on `day`, converted with that month's rates (the month-end snapshots' rule: a missing
/// rate is an error, never a silent 1.0).
pub fn mrr_on(periods: &[PeriodLine], day: NaiveDate, reporting: &str, fx: &FxTable) -> Result<DayMrr, MissingRates> {
    let month = Month::of(day);
    let mut by_account: HashMap<i64, Units> = HashMap::new();
    let mut missing = std::collections::BTreeSet::new();
    for p in periods.iter().filter(|p| p.starts_on <= day && p.ends_on.is_none_or(|e| day < e)) {
        let rate =
            if p.currency == reporting { Some(Decimal::ONE) } else { fx.get(&(p.currency.clone(), month)).copied() };
        match rate {
            Some(rate) => *by_account.entry(p.account).or_default() += units(p.mrr * rate),
            None => {
                missing.insert((p.currency.clone(), month));
            }
        }
    }
    if !missing.is_empty() {
        return Err(MissingRates(missing.into_iter().collect()));
    }
    Ok(DayMrr {
        day,
        mrr: decimal(by_account.values().sum()),
        paying: by_account.values().filter(|m| **m > 0).count() as u64,
    })
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountLine {
    pub account: i64,
    /// Month-end MRR in `Units`, one per month of the ledger.
    pub mrr: Vec<Units>,
    /// Month indexes whose churn came after a failed invoice.
    pub involuntary: Vec<usize>,
}

/// Currency-months that have subscriptions but no FX rate. Never replaced by a silent 1.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRates(pub Vec<(String, Month)>);

impl fmt::Display for MissingRates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().take(24).map(|(c, m)| format!("{c} {m}")).collect();
        write!(f, "no FX rate for {}", shown.join(", "))?;
        if self.0.len() > shown.len() {
            write!(f, " and {} more", self.0.len() - shown.len())?;
        }
        write!(f, "; add them with `keepwell import fx_rates` or POST /api/v1/fx-rates")
    }
}

/// Money inside the ledger: an exact whole number of 10⁻¹⁰ units of the reporting currency.
/// Integer sums over millions of account-months are many times faster than `Decimal` ones, and
/// ten places keep every total exact to the cent (a converted or monthly-from-yearly MRR has
/// more places than that only in its rounding).
pub type Units = i128;
const SCALE: u32 = 10;

pub fn units(d: Decimal) -> Units {
    let mut d = d;
    d.rescale(SCALE);
    d.mantissa()
}

pub fn decimal(u: Units) -> Decimal {
    Decimal::from_i128_with_scale(u, SCALE)
}

/// FX rates: units of the reporting currency per unit of a currency, per month.
pub type FxTable = HashMap<(String, Month), Decimal>;

impl Ledger {
    /// Snapshots every account's MRR at each month end up to `through`, converting with the
    /// month's rate. The ledger starts the month before the earliest period, so the first
    /// movement of every account is inside it.
    pub fn build(
        periods: &[PeriodLine],
        failed: &[FailedPayment],
        through: Month,
        reporting: &str,
        fx: &FxTable,
    ) -> Result<Ledger, MissingRates> {
        let Some(earliest) = periods.iter().map(|p| p.starts_on).min() else {
            return Ok(Ledger::default());
        };
        let first = Month::of(earliest).plus(-1).min(through);
        let months = (through.since(first) + 1) as usize;
        let mut index: HashMap<i64, usize> = HashMap::new();
        let mut accounts: Vec<AccountLine> = Vec::new();
        let mut rates: HashMap<&str, Vec<Option<Decimal>>> = HashMap::new();
        let mut missing = std::collections::BTreeSet::new();
        for p in periods {
            let line = *index.entry(p.account).or_insert_with(|| {
                accounts.push(AccountLine { account: p.account, mrr: vec![0; months], involuntary: vec![] });
                accounts.len() - 1
            });
            let table = rates.entry(p.currency.as_str()).or_insert_with(|| {
                first
                    .through(through)
                    .map(|m| {
                        if p.currency == reporting {
                            Some(Decimal::ONE)
                        } else {
                            fx.get(&(p.currency.clone(), m)).copied()
                        }
                    })
                    .collect()
            });
            let in_reporting = units(p.mrr);
            let from = Month::of(p.starts_on).plus(-1).max(first);
            let to = p.ends_on.map_or(through, |e| Month::of(e).min(through));
            for m in from.through(to) {
                if !(p.starts_on <= m.snapshot_day() && p.ends_on.is_none_or(|e| m.snapshot_day() < e)) {
                    continue;
                }
                let i = m.since(first) as usize;
                match table[i] {
                    Some(rate) if rate == Decimal::ONE => accounts[line].mrr[i] += in_reporting,
                    Some(rate) => accounts[line].mrr[i] += units(p.mrr * rate),
                    None => {
                        missing.insert((p.currency.clone(), m));
                    }
                }
            }
        }
        if !missing.is_empty() {
            return Err(MissingRates(missing.into_iter().collect()));
        }
        let mut by_account: HashMap<i64, Vec<FailedPayment>> = HashMap::new();
        for f in failed {
            by_account.entry(f.account).or_default().push(*f);
        }
        for line in &mut accounts {
            let Some(list) = by_account.get(&line.account) else { continue };
            for i in 0..months {
                let prev = if i == 0 { 0 } else { line.mrr[i - 1] };
                if prev > 0 && line.mrr[i] == 0 {
                    let day = first.plus(i as i32).snapshot_day();
                    if list.iter().any(|f| f.unpaid_before(day)) {
                        line.involuntary.push(i);
                    }
                }
            }
        }
        Ok(Ledger::from_lines(first, accounts, months))
    }

    /// A ledger of given month-end MRR lines, `months` long from `first`.
    pub fn from_lines(first: Month, accounts: Vec<AccountLine>, months: usize) -> Ledger {
        let totals = totals(&accounts, months);
        Ledger { first: Some(first), accounts, months, totals, on_day: None }
    }

    /// The index of `month`, when the ledger reaches it (months before its start are all zero).
    fn index(&self, month: Month) -> Option<isize> {
        self.first.map(|f| month.since(f) as isize).filter(|i| *i < self.months as isize)
    }
}

fn at(mrr: &[Units], i: isize) -> Units {
    if i < 0 {
        0
    } else {
        mrr.get(i as usize).copied().unwrap_or_default()
    }
}

/// What one account did in one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement<T = Decimal> {
    None,
    New(T),
    Expansion(T),
    Contraction(T),
    Churn(T),
    Reactivation(T),
}

/// New = first paid MRR ever; expansion = up; contraction = down, not to zero; churn = to zero;
/// reactivation = from zero after an earlier churn.
pub fn classify<T>(prev: T, cur: T, paid_before: bool) -> Movement<T>
where
    T: Copy + Default + PartialOrd + std::ops::Sub<Output = T>,
{
    let zero = T::default();
    match (prev > zero, cur > zero) {
        (false, true) if paid_before => Movement::Reactivation(cur),
        (false, true) => Movement::New(cur),
        (true, false) => Movement::Churn(prev),
        (true, true) if cur > prev => Movement::Expansion(cur - prev),
        (true, true) if cur < prev => Movement::Contraction(prev - cur),
        _ => Movement::None,
    }
}

/// A month's totals, from which every monthly metric is read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthTotals {
    pub mrr_start: Decimal,
    pub mrr_end: Decimal,
    pub paying_start: u64,
    pub paying_end: u64,
    pub new: Decimal,
    pub expansion: Decimal,
    pub contraction: Decimal,
    pub churn: Decimal,
    pub reactivation: Decimal,
    pub new_accounts: u64,
    pub reactivated_accounts: u64,
    pub churned_accounts: u64,
    pub involuntary_accounts: u64,
}

impl MonthTotals {
    pub fn net_new(&self) -> Decimal {
        self.new + self.expansion + self.reactivation - self.contraction - self.churn
    }
    /// Customer churn rate = accounts churned ÷ paying accounts at the start of the month.
    pub fn customer_churn_rate(&self) -> Option<Decimal> {
        ratio(Decimal::from(self.churned_accounts), Decimal::from(self.paying_start))
    }
    /// Revenue churn rate = (churned + contraction MRR) ÷ MRR at the start of the month.
    pub fn revenue_churn_rate(&self) -> Option<Decimal> {
        ratio(self.churn + self.contraction, self.mrr_start)
    }
    pub fn expansion_rate(&self) -> Option<Decimal> {
        ratio(self.expansion, self.mrr_start)
    }
    /// Retention = (CE − CN) ÷ CS: customers at the end who were not won during the month,
    /// over customers at the start. Won includes won back (reactivated).
    pub fn retention_rate(&self) -> Option<Decimal> {
        let won = self.new_accounts + self.reactivated_accounts;
        ratio(Decimal::from(self.paying_end.saturating_sub(won)), Decimal::from(self.paying_start))
    }
    pub fn arpa(&self) -> Option<Decimal> {
        (self.paying_end > 0).then(|| self.mrr_end / Decimal::from(self.paying_end))
    }
}

/// `part ÷ whole × 100`, undefined when `whole` is zero.
pub fn ratio(part: Decimal, whole: Decimal) -> Option<Decimal> {
    (!whole.is_zero()).then(|| part / whole * Decimal::ONE_HUNDRED)
}

/// The months in which an account paid: from its first to its last month with MRR.
fn paying_span(mrr: &[Units]) -> Option<(usize, usize)> {
    let lo = mrr.iter().position(|d| *d > 0)?;
    let hi = mrr.iter().rposition(|d| *d > 0)?;
    Some((lo, hi))
}

/// Totals for every month of a ledger's `months`.
fn totals(accounts: &[AccountLine], months: usize) -> Vec<MonthTotals> {
    let mut out = vec![MonthTotals::default(); months];
    // Per month: MRR at start and end, new, expansion, contraction, churn, reactivation.
    let mut sums = vec![[0 as Units; 7]; months];
    for line in accounts {
        let Some((lo, hi)) = paying_span(&line.mrr) else { continue };
        // Nothing moves before the first paying month or after the month the last one ends.
        let mut paid_before = false;
        let mut prev = 0;
        for i in lo..months.min(hi + 2) {
            let (t, sum) = (&mut out[i], &mut sums[i]);
            let cur = line.mrr[i];
            if prev > 0 {
                t.paying_start += 1;
                sum[0] += prev;
            }
            if cur > 0 {
                t.paying_end += 1;
                sum[1] += cur;
            }
            match classify(prev, cur, paid_before) {
                Movement::New(d) => {
                    sum[2] += d;
                    t.new_accounts += 1;
                }
                Movement::Expansion(d) => sum[3] += d,
                Movement::Contraction(d) => sum[4] += d,
                Movement::Churn(d) => {
                    sum[5] += d;
                    t.churned_accounts += 1;
                    if line.involuntary.contains(&i) {
                        t.involuntary_accounts += 1;
                    }
                }
                Movement::Reactivation(d) => {
                    sum[6] += d;
                    t.reactivated_accounts += 1;
                }
                Movement::None => {}
            }
            paid_before |= cur > 0;
            prev = cur;
        }
    }
    for (t, sum) in out.iter_mut().zip(sums) {
        [t.mrr_start, t.mrr_end, t.new, t.expansion, t.contraction, t.churn, t.reactivation] = sum.map(decimal);
    }
    out
}

/// The metrics of the API, by the name in `/api/v1/metrics/{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Mrr,
    MrrMovements,
    CustomerChurn,
    RevenueChurn,
    Retention,
    Nrr,
    Grr,
    Clv,
    Cohorts,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Mrr,
        Metric::MrrMovements,
        Metric::CustomerChurn,
        Metric::RevenueChurn,
        Metric::Retention,
        Metric::Nrr,
        Metric::Grr,
        Metric::Clv,
        Metric::Cohorts,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Metric::Mrr => "mrr",
            Metric::MrrMovements => "mrr_movements",
            Metric::CustomerChurn => "customer_churn",
            Metric::RevenueChurn => "revenue_churn",
            Metric::Retention => "retention",
            Metric::Nrr => "nrr",
            Metric::Grr => "grr",
            Metric::Clv => "clv",
            Metric::Cohorts => "cohorts",
        }
    }
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
    /// The formula, as the API and the Revenue page show it beside the number.
    pub fn formula(self) -> &'static str {
        match self {
            Metric::Mrr => "MRR = Σ month-end recurring revenue per month (annual ÷ 12); ARR = 12 × MRR; ARPA = MRR ÷ paying accounts",
            Metric::MrrMovements => "net new MRR = new + expansion + reactivation − contraction − churn (each account's month-end MRR against the previous month-end)",
            Metric::CustomerChurn => "customer churn rate = accounts churned in the month ÷ paying accounts at the start × 100; involuntary when the latest invoice failed",
            Metric::RevenueChurn => "revenue churn rate = (churned + contraction MRR) ÷ MRR at the start × 100; expansion rate = expansion ÷ MRR at the start × 100; portfolio growth = expansion rate − revenue churn rate; churn change = this month's rate − last month's",
            Metric::Retention => "retention rate = (CE − CN) ÷ CS × 100 (CS customers at the start, CE at the end, CN won during the month)",
            Metric::Nrr => "NRR = (start MRR + expansion + reactivation − contraction − churn) ÷ start MRR × 100, for the accounts paying at the window's start",
            Metric::Grr => "GRR = (start MRR − contraction − churn) ÷ start MRR × 100, for the accounts paying at the window's start (never above 100)",
            Metric::Clv => "CLV = ARPA × expected lifetime; expected lifetime (months) = 100 ÷ monthly churn rate, the rate pooled over the last 12 months (churned ÷ accounts at the start)",
            Metric::Cohorts => "retained % = cohort accounts (or MRR) paying at the month end ÷ the cohort's accounts (or MRR) in its first month × 100",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MrrRow {
    pub month: String,
    pub currency: String,
    pub mrr: String,
    pub arr: String,
    pub paying_accounts: u64,
    pub arpa: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MovementsRow {
    pub month: String,
    pub currency: String,
    pub new: String,
    pub expansion: String,
    pub contraction: String,
    pub churn: String,
    pub reactivation: String,
    pub net_new: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerChurnRow {
    pub month: String,
    pub accounts_at_start: u64,
    pub churned: u64,
    pub voluntary: u64,
    pub involuntary: u64,
    /// Percent; null when no account paid at the start.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RevenueChurnRow {
    pub month: String,
    pub currency: String,
    pub mrr_at_start: String,
    pub churned_mrr: String,
    pub contraction_mrr: String,
    pub rate: Option<f64>,
    pub expansion_rate: Option<f64>,
    pub portfolio_growth: Option<f64>,
    pub churn_change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RetentionRow {
    pub month: String,
    pub customers_at_start: u64,
    pub customers_at_end: u64,
    pub new_customers: u64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WindowRow {
    pub month: String,
    pub window_months: u32,
    pub value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClvRow {
    pub month: String,
    pub currency: String,
    pub arpa: Option<String>,
    pub monthly_churn_rate: Option<f64>,
    pub expected_lifetime_months: Option<f64>,
    pub clv: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CohortRow {
    pub month: String,
    pub cohort: String,
    pub months_since_start: u32,
    pub accounts_retained_pct: Option<f64>,
    pub mrr_retained_pct: Option<f64>,
}

/// The rows of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Rows {
    Mrr(Vec<MrrRow>),
    MrrMovements(Vec<MovementsRow>),
    CustomerChurn(Vec<CustomerChurnRow>),
    RevenueChurn(Vec<RevenueChurnRow>),
    Retention(Vec<RetentionRow>),
    Window(Vec<WindowRow>),
    Clv(Vec<ClvRow>),
    Cohorts(Vec<CohortRow>),
}

/// Everything a report needs besides the ledger.
#[derive(Debug, Clone)]
pub struct Range {
    pub from: Month,
    pub to: Month,
    pub window: u32,
    pub currency: String,
}

/// Every figure of the Revenue page for one range, computed once from the ledger.
pub struct Report<'a> {
    ledger: &'a Ledger,
    range: Range,
    /// NRR and GRR of every month of the range, computed on first use.
    windows: std::cell::OnceCell<Vec<(Option<Decimal>, Option<Decimal>)>>,
}

const ZERO_TOTALS: MonthTotals = MonthTotals {
    mrr_start: Decimal::ZERO,
    mrr_end: Decimal::ZERO,
    paying_start: 0,
    paying_end: 0,
    new: Decimal::ZERO,
    expansion: Decimal::ZERO,
    contraction: Decimal::ZERO,
    churn: Decimal::ZERO,
    reactivation: Decimal::ZERO,
    new_accounts: 0,
    reactivated_accounts: 0,
    churned_accounts: 0,
    involuntary_accounts: 0,
};

fn pct(d: Option<Decimal>) -> Option<f64> {
    d.map(money::percent)
}

impl<'a> Report<'a> {
    pub fn new(ledger: &'a Ledger, range: Range) -> Report<'a> {
        Report { ledger, range, windows: std::cell::OnceCell::new() }
    }

    pub fn months(&self) -> impl Iterator<Item = Month> {
        self.range.from.through(self.range.to)
    }

    /// The totals of `month` (zero outside the ledger).
    pub fn month(&self, month: Month) -> &MonthTotals {
        match self.ledger.index(month) {
            Some(i) if i >= 0 => &self.ledger.totals[i as usize],
            _ => &ZERO_TOTALS,
        }
    }

    pub fn rows(&self, metric: Metric) -> Rows {
        let cur = || self.range.currency.clone();
        let m = |month: Month| month.to_string();
        match metric {
            Metric::Mrr => Rows::Mrr(
                self.months()
                    .map(|mo| {
                        let t = self.month(mo);
                        MrrRow {
                            month: m(mo),
                            currency: cur(),
                            mrr: money::format(t.mrr_end),
                            arr: money::format(t.mrr_end * Decimal::from(12)),
                            paying_accounts: t.paying_end,
                            arpa: t.arpa().map(money::format),
                        }
                    })
                    .collect(),
            ),
            Metric::MrrMovements => Rows::MrrMovements(
                self.months()
                    .map(|mo| {
                        let t = self.month(mo);
                        MovementsRow {
                            month: m(mo),
                            currency: cur(),
                            new: money::format(t.new),
                            expansion: money::format(t.expansion),
                            contraction: money::format(t.contraction),
                            churn: money::format(t.churn),
                            reactivation: money::format(t.reactivation),
                            net_new: money::format(t.net_new()),
                        }
                    })
                    .collect(),
            ),
            Metric::CustomerChurn => Rows::CustomerChurn(
                self.months()
                    .map(|mo| {
                        let t = self.month(mo);
                        CustomerChurnRow {
                            month: m(mo),
                            accounts_at_start: t.paying_start,
                            churned: t.churned_accounts,
                            voluntary: t.churned_accounts - t.involuntary_accounts,
                            involuntary: t.involuntary_accounts,
                            rate: pct(t.customer_churn_rate()),
                        }
                    })
                    .collect(),
            ),
            Metric::RevenueChurn => Rows::RevenueChurn(
                self.months()
                    .map(|mo| {
                        let t = self.month(mo);
                        let rate = t.revenue_churn_rate();
                        let before = self.month(mo.plus(-1)).revenue_churn_rate();
                        RevenueChurnRow {
                            month: m(mo),
                            currency: cur(),
                            mrr_at_start: money::format(t.mrr_start),
                            churned_mrr: money::format(t.churn),
                            contraction_mrr: money::format(t.contraction),
                            rate: pct(rate),
                            expansion_rate: pct(t.expansion_rate()),
                            portfolio_growth: pct(t.expansion_rate().zip(rate).map(|(e, r)| e - r)),
                            churn_change: pct(rate.zip(before).map(|(r, b)| r - b)),
                        }
                    })
                    .collect(),
            ),
            Metric::Retention => Rows::Retention(
                self.months()
                    .map(|mo| {
                        let t = self.month(mo);
                        RetentionRow {
                            month: m(mo),
                            customers_at_start: t.paying_start,
                            customers_at_end: t.paying_end,
                            new_customers: t.new_accounts + t.reactivated_accounts,
                            rate: pct(t.retention_rate()),
                        }
                    })
                    .collect(),
            ),
            Metric::Nrr | Metric::Grr => {
                let values = self.windows.get_or_init(|| self.net_and_gross());
                Rows::Window(
                    self.months()
                        .zip(values.iter().copied())
                        .map(|(mo, (nrr, grr))| WindowRow {
                            month: m(mo),
                            window_months: self.range.window,
                            value: pct(if metric == Metric::Nrr { nrr } else { grr }),
                        })
                        .collect(),
                )
            }
            Metric::Clv => Rows::Clv(
                self.months()
                    .map(|mo| {
                        let t = self.month(mo);
                        let (churned, at_start) = mo
                            .plus(-11)
                            .through(mo)
                            .map(|x| self.month(x))
                            .fold((0u64, 0u64), |(c, s), t| (c + t.churned_accounts, s + t.paying_start));
                        let life = clv_lifetime(churned, at_start);
                        let arpa = t.arpa();
                        ClvRow {
                            month: m(mo),
                            currency: cur(),
                            arpa: arpa.map(money::format),
                            monthly_churn_rate: pct(ratio(Decimal::from(churned), Decimal::from(at_start))),
                            expected_lifetime_months: life.map(money::percent),
                            clv: arpa.zip(life).map(|(a, l)| money::format(clv(a, l))),
                        }
                    })
                    .collect(),
            ),
            Metric::Cohorts => Rows::Cohorts(self.cohorts()),
        }
    }

    /// NRR and GRR (as fractions × 100) for every month of the range, over the window.
    fn net_and_gross(&self) -> Vec<(Option<Decimal>, Option<Decimal>)> {
        let months: Vec<Month> = self.months().collect();
        let w = self.range.window as isize;
        let mut start: Vec<Units> = vec![0; months.len()];
        let mut end: Vec<Units> = vec![0; months.len()];
        let mut kept: Vec<Units> = vec![0; months.len()];
        let Some(first) = self.ledger.first else {
            return vec![(None, None); months.len()];
        };
        let mut lost = Vec::new();
        for line in &self.ledger.accounts {
            let Some((lo, hi)) = paying_span(&line.mrr) else { continue };
            // lost[i]: the account's contraction and churn from the ledger's start through month i.
            lost.clear();
            let mut sum = 0;
            let mut prev = 0;
            for &cur in &line.mrr {
                if cur < prev {
                    sum += prev - cur;
                }
                lost.push(sum);
                prev = cur;
            }
            for (k, mo) in months.iter().enumerate() {
                let i = mo.since(first) as isize;
                let s = i - w;
                if s < lo as isize || s > hi as isize {
                    continue;
                }
                let start_mrr = at(&line.mrr, s);
                if start_mrr <= 0 {
                    continue;
                }
                let lost_in_window = at(&lost, i.min(self.ledger.months as isize - 1)) - at(&lost, s);
                start[k] += start_mrr;
                end[k] += at(&line.mrr, i);
                kept[k] += start_mrr - lost_in_window.min(start_mrr);
            }
        }
        (0..months.len())
            .map(|k| (ratio(decimal(end[k]), decimal(start[k])), ratio(decimal(kept[k]), decimal(start[k]))))
            .collect()
    }

    fn cohorts(&self) -> Vec<CohortRow> {
        let (from, to) = (self.range.from, self.range.to);
        let Some(first) = self.ledger.first else { return vec![] };
        let n = (to.since(from) + 1).max(0) as usize;
        // [cohort offset][month offset] → (accounts paying, their MRR); plus each cohort's start.
        let mut grid = vec![vec![(0u64, 0 as Units); n]; n];
        for line in &self.ledger.accounts {
            let Some((c, hi)) = paying_span(&line.mrr) else { continue };
            let cohort = first.plus(c as i32);
            if cohort < from || cohort > to {
                continue;
            }
            let ci = cohort.since(from) as usize;
            for (mi, mo) in cohort.through(to).enumerate() {
                let i = mo.since(first) as isize;
                if i > hi as isize {
                    break;
                }
                let v = at(&line.mrr, i);
                if v > 0 {
                    grid[ci][ci + mi].0 += 1;
                    grid[ci][ci + mi].1 += v;
                }
            }
        }
        let mut rows = Vec::new();
        for (ci, cohort) in from.through(to).enumerate() {
            let (size, start_mrr) = grid[ci][ci];
            if size == 0 {
                continue;
            }
            for (mi, mo) in cohort.through(to).enumerate() {
                let (count, mrr) = grid[ci][ci + mi];
                rows.push(CohortRow {
                    month: mo.to_string(),
                    cohort: cohort.to_string(),
                    months_since_start: mi as u32,
                    accounts_retained_pct: pct(ratio(Decimal::from(count), Decimal::from(size))),
                    mrr_retained_pct: pct(ratio(decimal(mrr), decimal(start_mrr))),
                });
            }
        }
        rows
    }
}

/// Expected lifetime in months from observed churn: accounts at risk ÷ accounts churned
/// (= 100 ÷ churn rate in percent). Undefined while nobody has churned.
pub fn clv_lifetime(churned: u64, at_start: u64) -> Option<Decimal> {
    (churned > 0).then(|| Decimal::from(at_start) / Decimal::from(churned))
}

/// CLV = average revenue per month × expected lifetime in months
/// (= average purchase value × purchases per year × lifetime in years).
pub fn clv(arpa: Decimal, lifetime_months: Decimal) -> Decimal {
    arpa * lifetime_months
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }
    fn month(s: &str) -> Month {
        s.parse().unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn period(account: i64, mrr: i64, starts: &str, ends: Option<&str>) -> PeriodLine {
        PeriodLine { account, currency: "USD".into(), mrr: d(mrr), starts_on: day(starts), ends_on: ends.map(day) }
    }
    fn ledger(periods: &[PeriodLine], through: &str) -> Ledger {
        Ledger::build(periods, &[], month(through), "USD", &FxTable::new()).unwrap()
    }
    fn range(from: &str, to: &str) -> Range {
        Range { from: month(from), to: month(to), window: 12, currency: "USD".into() }
    }

    #[test]
    fn mrr_today_is_what_is_in_force_today_not_the_month_end() {
        // Two accounts at 100, one ending on the 20th; a third at 300 starting on the 25th. On
        // the 1st MRR is 200, on the 21st 100; the month-end projection is 400.
        let periods = [
            period(1, 100, "2026-01-10", Some("2026-12-20")),
            period(2, 100, "2026-01-10", None),
            period(3, 300, "2026-12-25", None),
        ];
        let on = |d: &str| mrr_on(&periods, d.parse().unwrap(), "USD", &FxTable::new()).unwrap();
        assert_eq!((on("2026-12-01").mrr, on("2026-12-01").paying), (d(200), 2));
        assert_eq!((on("2026-12-21").mrr, on("2026-12-21").paying), (d(100), 1));
        assert_eq!(on("2026-12-21").arpa(), Some(d(100)));
        let end = ledger(&periods, "2026-12");
        assert_eq!(Report::new(&end, range("2026-12", "2026-12")).month(month("2026-12")).mrr_end, d(400));
        let eur = [PeriodLine { currency: "EUR".into(), ..period(1, 100, "2026-01-10", None) }];
        assert!(mrr_on(&eur, "2026-12-01".parse().unwrap(), "USD", &FxTable::new()).is_err(), "no silent 1.0");
    }

    #[test]
    fn customer_churn_worked_example_1000_at_start_100_lost_is_10_percent() {
        let t = MonthTotals { paying_start: 1000, churned_accounts: 100, ..Default::default() };
        assert_eq!(t.customer_churn_rate(), Some(d(10)));
        // And end to end: 1000 accounts paying through January, 100 of them stop in February.
        let periods: Vec<PeriodLine> =
            (0..1000).map(|a| period(a, 50, "2026-01-10", (a < 100).then_some("2026-02-20"))).collect();
        let l = ledger(&periods, "2026-02");
        let report = Report::new(&l, range("2026-02", "2026-02"));
        let Rows::CustomerChurn(rows) = report.rows(Metric::CustomerChurn) else { panic!() };
        assert_eq!((rows[0].accounts_at_start, rows[0].churned, rows[0].rate), (1000, 100, Some(10.0)));
    }

    #[test]
    fn clv_worked_example_200_a_month_for_5_years_is_12000() {
        // 200 × 12 × 5: a monthly churn of 1 in 60 gives a 60-month lifetime.
        let life = clv_lifetime(1, 60).unwrap();
        assert_eq!(life, d(60));
        assert_eq!(clv(d(200), life), d(12_000));
        assert_eq!(d(200) * d(12) * d(5), d(12_000));
    }

    #[test]
    fn retention_is_ce_minus_cn_over_cs() {
        let t = MonthTotals { paying_start: 100, paying_end: 110, new_accounts: 20, ..Default::default() };
        assert_eq!(t.retention_rate(), Some(d(90)));
    }

    #[test]
    fn movements_are_each_kind_and_net_new_adds_them() {
        assert_eq!(classify(d(0), d(100), false), Movement::New(d(100)));
        assert_eq!(classify(d(100), d(150), true), Movement::Expansion(d(50)));
        assert_eq!(classify(d(150), d(120), true), Movement::Contraction(d(30)));
        assert_eq!(classify(d(120), d(0), true), Movement::Churn(d(120)));
        assert_eq!(classify(d(0), d(80), true), Movement::Reactivation(d(80)));
        let t = MonthTotals {
            new: d(100),
            expansion: d(50),
            reactivation: d(80),
            contraction: d(30),
            churn: d(120),
            ..Default::default()
        };
        assert_eq!(t.net_new(), d(80));
    }

    #[test]
    fn the_snapshot_is_taken_at_the_next_months_first_day() {
        // Starts on 1 March: already in February's snapshot (00:00 on 1 March).
        // Ends (exclusive) on 1 June: gone from May's snapshot.
        let l = ledger(&[period(1, 100, "2026-03-01", Some("2026-06-01"))], "2026-06");
        let r = Report::new(&l, range("2026-01", "2026-06"));
        let Rows::Mrr(rows) = r.rows(Metric::Mrr) else { panic!() };
        let mrr: Vec<&str> = rows.iter().map(|r| r.mrr.as_str()).collect();
        assert_eq!(mrr, ["0.00", "100.00", "100.00", "100.00", "0.00", "0.00"]);
    }

    #[test]
    fn an_annual_plan_counts_a_twelfth_and_arr_is_twelve_times() {
        let p = PeriodLine { mrr: d(1000) / d(12), ..period(1, 0, "2026-01-15", None) };
        let l = ledger(&[p, period(2, 100, "2026-01-20", None)], "2026-01");
        let Rows::Mrr(rows) = Report::new(&l, range("2026-01", "2026-01")).rows(Metric::Mrr) else { panic!() };
        assert_eq!(rows[0].mrr, "183.33");
        assert_eq!(rows[0].arr, "2200.00");
        assert_eq!(rows[0].arpa.as_deref(), Some("91.67"));
        assert_eq!(rows[0].paying_accounts, 2);
    }

    #[test]
    fn reactivation_follows_an_earlier_churn_and_is_a_won_customer() {
        let l =
            ledger(&[period(1, 100, "2026-01-10", Some("2026-02-10")), period(1, 70, "2026-04-10", None)], "2026-04");
        let r = Report::new(&l, range("2026-01", "2026-04"));
        let Rows::MrrMovements(rows) = r.rows(Metric::MrrMovements) else { panic!() };
        let kinds: Vec<(&str, &str, &str)> =
            rows.iter().map(|r| (r.new.as_str(), r.churn.as_str(), r.reactivation.as_str())).collect();
        assert_eq!(kinds[0], ("100.00", "0.00", "0.00"));
        assert_eq!(kinds[1], ("0.00", "100.00", "0.00"));
        assert_eq!(kinds[3], ("0.00", "0.00", "70.00"));
        let Rows::Retention(ret) = r.rows(Metric::Retention) else { panic!() };
        assert_eq!(ret[3].new_customers, 1);
    }

    #[test]
    fn churn_after_a_failed_invoice_is_involuntary() {
        let periods =
            [period(1, 100, "2026-01-10", Some("2026-03-10")), period(2, 100, "2026-01-10", Some("2026-03-10"))];
        // Account 2 paid its next invoice on 20 February; account 3's was paid only after the end.
        let periods = [periods[0].clone(), periods[1].clone(), period(3, 100, "2026-01-10", Some("2026-03-10"))];
        let invoices = [
            FailedPayment { account: 1, failed_on: day("2026-02-10"), cleared_on: None },
            FailedPayment { account: 2, failed_on: day("2026-02-10"), cleared_on: Some(day("2026-02-20")) },
            FailedPayment { account: 3, failed_on: day("2026-02-10"), cleared_on: Some(day("2026-04-01")) },
        ];
        let l = Ledger::build(&periods, &invoices, month("2026-03"), "USD", &FxTable::new()).unwrap();
        let Rows::CustomerChurn(rows) = Report::new(&l, range("2026-03", "2026-03")).rows(Metric::CustomerChurn) else {
            panic!()
        };
        assert_eq!((rows[0].churned, rows[0].voluntary, rows[0].involuntary), (3, 1, 2));
    }

    #[test]
    fn revenue_churn_expansion_and_portfolio_growth() {
        // Start of March: 1000 MRR over three accounts. In March one expands by 100, one contracts
        // by 50, one (200) churns.
        let periods = [
            period(1, 500, "2026-01-10", Some("2026-03-15")),
            period(1, 600, "2026-03-15", None),
            period(2, 300, "2026-01-10", Some("2026-03-15")),
            period(2, 250, "2026-03-15", None),
            period(3, 200, "2026-01-10", Some("2026-03-15")),
        ];
        let l = ledger(&periods, "2026-03");
        let Rows::RevenueChurn(rows) = Report::new(&l, range("2026-03", "2026-03")).rows(Metric::RevenueChurn) else {
            panic!()
        };
        let r = &rows[0];
        assert_eq!(
            (r.mrr_at_start.as_str(), r.churned_mrr.as_str(), r.contraction_mrr.as_str()),
            ("1000.00", "200.00", "50.00")
        );
        assert_eq!((r.rate, r.expansion_rate, r.portfolio_growth), (Some(25.0), Some(10.0), Some(-15.0)));
        assert_eq!(r.churn_change, Some(25.0), "February lost nothing");
    }

    #[test]
    fn nrr_and_grr_follow_the_accounts_paying_at_the_window_start() {
        // At the end of Jan 2025: A pays 100, B 100. By Jan 2026 A pays 150, B churned, and a
        // new account C (not in the base) pays 500.
        let periods = [
            period(1, 100, "2025-01-10", Some("2025-06-10")),
            period(1, 150, "2025-06-10", None),
            period(2, 100, "2025-01-10", Some("2025-09-10")),
            period(3, 500, "2025-05-10", None),
        ];
        let l = ledger(&periods, "2026-01");
        let r = Report::new(&l, range("2026-01", "2026-01"));
        let Rows::Window(nrr) = r.rows(Metric::Nrr) else { panic!() };
        let Rows::Window(grr) = r.rows(Metric::Grr) else { panic!() };
        assert_eq!(nrr[0].value, Some(75.0), "(200 + 50 − 100) ÷ 200");
        assert_eq!(grr[0].value, Some(50.0), "(200 − 100) ÷ 200");
        assert_eq!(nrr[0].window_months, 12);
    }

    #[test]
    fn cohorts_track_accounts_and_mrr_from_their_first_month() {
        let periods = [
            period(1, 100, "2026-01-10", None),
            period(2, 100, "2026-01-10", Some("2026-02-10")),
            period(3, 100, "2026-01-10", Some("2026-02-10")),
            period(3, 300, "2026-02-10", None),
        ];
        let l = ledger(&periods, "2026-02");
        let Rows::Cohorts(rows) = Report::new(&l, range("2026-01", "2026-02")).rows(Metric::Cohorts) else { panic!() };
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].cohort.as_str(), rows[1].month.as_str(), rows[1].months_since_start),
            ("2026-01", "2026-02", 1)
        );
        assert_eq!(rows[1].accounts_retained_pct.map(|p| (p * 100.0).round() / 100.0), Some(66.67));
        assert_eq!(rows[1].mrr_retained_pct, Some(133.333333));
    }

    #[test]
    fn a_missing_rate_is_an_error_listing_currency_months() {
        let mut p = period(1, 100, "2026-01-10", None);
        p.currency = "EUR".into();
        let mut fx = FxTable::new();
        fx.insert(("EUR".into(), month("2026-01")), Decimal::new(11, 1));
        let err = Ledger::build(&[p.clone()], &[], month("2026-03"), "USD", &fx).unwrap_err();
        assert_eq!(err.0, vec![("EUR".into(), month("2026-02")), ("EUR".into(), month("2026-03"))]);
        assert!(err.to_string().starts_with("no FX rate for EUR 2026-02, EUR 2026-03"));
        fx.insert(("EUR".into(), month("2026-02")), Decimal::new(12, 1));
        fx.insert(("EUR".into(), month("2026-03")), Decimal::new(12, 1));
        let l = Ledger::build(&[p], &[], month("2026-03"), "USD", &fx).unwrap();
        assert_eq!(l.accounts[0].mrr[1..], [units(d(110)), units(d(120)), units(d(120))]);
    }

    proptest! {
        #[test]
        fn movements_add_up_and_rates_stay_in_bounds(
            series in proptest::collection::vec(proptest::collection::vec(0i64..4, 8), 1..12)
        ) {
            // Each account's MRR per month is one of 0, 100, 250, 400.
            let levels = [0, 100, 250, 400];
            let accounts: Vec<AccountLine> = series.iter().enumerate().map(|(a, s)| AccountLine {
                account: a as i64,
                mrr: s.iter().map(|&k| units(d(levels[k as usize]))).collect(),
                involuntary: vec![],
            }).collect();
            let l = Ledger::from_lines(month("2026-01"), accounts, 8);
            let report = Report::new(&l, Range { window: 3, ..range("2026-01", "2026-08") });
            for (i, t) in l.totals.iter().enumerate() {
                prop_assert_eq!(t.net_new(), t.mrr_end - t.mrr_start, "month {}", i);
                for rate in [t.customer_churn_rate(), t.retention_rate()].into_iter().flatten() {
                    prop_assert!((Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&rate));
                }
                if let Some(r) = t.revenue_churn_rate() {
                    prop_assert!(r >= Decimal::ZERO && r <= Decimal::ONE_HUNDRED);
                }
            }
            let Rows::Window(grr) = report.rows(Metric::Grr) else { panic!() };
            for row in grr {
                if let Some(v) = row.value {
                    prop_assert!((0.0..=100.0).contains(&v), "{:?}", row);
                }
            }
        }
    }
}
