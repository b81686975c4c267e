//! What a health pass knows of one account, and the value of every measure source and filter
//! field as of a day, computed from it. Pure: the store loads `Facts` in bulk, this turns them
//! into numbers, the same way for a live pass, a replay and a backtest.

use crate::billing::{Contract, Invoice, Period};
use crate::expr::{Env, Value};
use crate::measure::Source;
use crate::metrics::FxTable;
use crate::money::Month;
use crate::usage::Feature;
use crate::{AttrValue, Attributes};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::collections::{BTreeSet, HashMap};

/// Days in one block of activity bits.
pub const BLOCK_DAYS: i64 = 62;

/// Days since 1970-01-01.
pub fn day_number(day: NaiveDate) -> i64 {
    i64::from(day.num_days_from_ce() - 719_163)
}

/// The day of a day number ([`day_number`]'s inverse); None out of the calendar's range.
pub fn date_of_number(n: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n + 719_163).ok()?)
}

/// The block a day falls in and its bit within the block.
pub fn day_bit(day: NaiveDate) -> (i64, i64) {
    let n = day_number(day);
    (n.div_euclid(BLOCK_DAYS), 1 << n.rem_euclid(BLOCK_DAYS))
}

/// The days something happened (a user was active, a usage name was used), as bits per block,
/// oldest block first. The first block is kept inline: most have one, and a pass loads hundreds
/// of thousands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Days {
    first: Option<(i64, i64)>,
    more: Vec<(i64, i64)>,
}

impl Days {
    pub fn add(&mut self, block: i64, bits: i64) {
        match self.first {
            None => self.first = Some((block, bits)),
            Some((b, ref mut v)) if b == block => *v |= bits,
            Some(_) => match self.more.iter_mut().find(|(b, _)| *b == block) {
                Some((_, v)) => *v |= bits,
                None => {
                    self.more.push((block, bits));
                    if let Some(f) = self.first.take() {
                        self.more.push(f);
                    }
                    self.more.sort_unstable();
                    self.first = Some(self.more.remove(0));
                }
            },
        }
    }

    fn blocks(&self) -> impl DoubleEndedIterator<Item = &(i64, i64)> {
        self.first.iter().chain(self.more.iter())
    }

    /// Whether any day from `from` to `to` (day numbers, inclusive) is set.
    pub fn any_in(&self, from: i64, to: i64) -> bool {
        self.blocks().any(|&(block, bits)| {
            let (start, end) = (block * BLOCK_DAYS, block * BLOCK_DAYS + BLOCK_DAYS - 1);
            if to < start || from > end {
                return false;
            }
            let lo = (from.max(start) - start) as u32;
            let hi = (to.min(end) - start) as u32;
            let mask = ((1i64 << (hi - lo + 1)) - 1) << lo;
            bits & mask != 0
        })
    }

    /// The latest day set on or before `to`.
    pub fn last_until(&self, to: i64) -> Option<i64> {
        self.blocks().rev().find_map(|&(block, bits)| {
            let start = block * BLOCK_DAYS;
            if start > to {
                return None;
            }
            let hi = (to - start).min(BLOCK_DAYS - 1) as u32;
            let masked = bits & ((1i64 << (hi + 1)) - 1);
            (masked != 0).then(|| start + 63 - i64::from(masked.leading_zeros()))
        })
    }
}

/// Reads `usage_totals.counts` (`"offset:count,…"`): each day's offset in its block and count.
pub fn parse_counts(text: &str) -> Vec<(i64, i64)> {
    text.split(',')
        .filter_map(|pair| {
            let (o, n) = pair.split_once(':')?;
            Some((o.trim().parse().ok()?, n.trim().parse().ok()?))
        })
        .collect()
}

/// One account as the health pass sees it.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub id: i64,
    pub plan: Option<String>,
    pub country: Option<String>,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub stage: String,
    pub tags: Vec<String>,
    pub attributes: Attributes,
    pub periods: Vec<Period>,
    pub invoices: Vec<Invoice>,
    /// Each product user's active days.
    pub users: Vec<Days>,
    /// Each usage name's days of use.
    pub names: HashMap<String, Days>,
    /// Daily counts of the usage names some measure counts: name → (day number, count), by day.
    pub counts: HashMap<String, Vec<(i64, i64)>>,
    /// Usage events per day, all names together, over the loaded days: (day number, count).
    pub totals: Vec<(i64, i64)>,
    /// The first and last day the account had any usage (of what is folded): None when it
    /// never had. Silence after `last_usage` is data; only an account never used has none.
    pub first_usage: Option<i64>,
    pub last_usage: Option<i64>,
    /// Its last day of usage before the loaded days (for a past day that a later burst of usage
    /// would otherwise hide).
    pub last_before: Option<i64>,
    /// CSM sentiment ratings (day, rating), oldest first.
    pub sentiments: Vec<(NaiveDate, i64)>,
    /// The days of its interactions (UTC), oldest first.
    pub interactions: Vec<NaiveDate>,
    /// The Stripe events applied to it: (day, type), oldest first.
    pub stripe: Vec<(NaiveDate, String)>,
    /// Score overrides: (from, until exclusive, score).
    pub overrides: Vec<(NaiveDate, NaiveDate, Decimal)>,
    /// The latest health score in force and its band before the day being scored: no score
    /// when `unscored` or `churned`; no band before the first pass.
    pub health: (Option<Decimal>, Option<crate::health::Band>),
    /// Where each enabled playbook (by id) stands with the account as of the day before.
    pub enrolments: HashMap<i64, Enrolment>,
    /// Its playbook runs that wait (the pass that acts loads them; it adds and moves them on).
    pub waiting: Vec<Waiting>,
}

/// A run of a playbook's version for one account that waits: from day `on` it goes on at step
/// `next`. Carried from day to day like an enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub playbook: i64,
    pub version: i64,
    pub occurrence: NaiveDate,
    pub next: usize,
    pub on: NaiveDate,
}

/// Where a playbook stands with one account: its trigger's current run of days, and when it
/// last fired for the account. Carried from day to day like the stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrolment {
    /// The first day of the current run of consecutive days the trigger held (its occurrence),
    /// and whether this run already fired.
    pub since: Option<NaiveDate>,
    pub fired: bool,
    /// The last day the playbook fired for the account.
    pub last_fired: Option<NaiveDate>,
    /// The first day of the current run of days the trigger did not hold, after it fired.
    pub cleared_on: Option<NaiveDate>,
}

/// What every account's values share: the day, FX rates, the plan catalogue, which sources the
/// workspace has ever fed.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub day: NaiveDate,
    pub reporting: &'a str,
    pub fx: &'a FxTable,
    pub catalogue: &'a [Feature],
    pub fed: Fed,
}

/// Which sources the workspace has ever fed. A measure whose source was never fed at all (no
/// usage ingested, no plan → features catalogue, no sentiment recorded, no interaction logged)
/// does not apply to anyone: a new workspace is not unscored for what it cannot have yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fed {
    pub usage: bool,
    pub sentiments: bool,
    pub interactions: bool,
    /// Any Stripe event received.
    pub stripe: bool,
}

impl Fed {
    /// Everything fed (tests and benches).
    pub fn all() -> Fed {
        Fed { usage: true, sentiments: true, interactions: true, stripe: true }
    }
}

/// An account as of a day: the [`Env`] of filters and the values of measure sources.
pub struct AccountDay<'a> {
    pub facts: &'a Facts,
    pub ctx: Context<'a>,
    /// Worked out on first use: a filter on the plan or country never needs it.
    contract: std::cell::OnceCell<Contract>,
    /// The sources read so far: the playbooks' triggers and conditions read the same ones over
    /// and over (`license_utilization()` in several), each a walk over the users' days.
    read: std::cell::RefCell<Vec<(Source, Option<Decimal>)>>,
}

impl<'a> AccountDay<'a> {
    pub fn new(facts: &'a Facts, ctx: Context<'a>) -> AccountDay<'a> {
        AccountDay { contract: std::cell::OnceCell::new(), read: Default::default(), facts, ctx }
    }

    pub fn contract(&self) -> &Contract {
        self.contract.get_or_init(|| contract(self.facts, self.ctx.day))
    }

    /// Had revenue, and has none as of the day: not scored, not in the bands. (A cancellation
    /// dated later still has its revenue until then, and is saveable.)
    pub fn churned(&self) -> bool {
        let c = self.contract();
        c.customer_since.is_some() && c.mrr <= Decimal::ZERO
    }

    /// MRR in the reporting currency (None when the rate is missing).
    pub fn mrr(&self) -> Option<Decimal> {
        convert(self.contract(), self.ctx)
    }

    fn today(&self) -> i64 {
        day_number(self.ctx.day)
    }

    /// Whether the account had any usage by this day: before it, usage sources have no value
    /// (missing); from it on, silence counts (no active users, a growing days since activity).
    fn tracked(&self) -> bool {
        self.ctx.fed.usage && self.facts.first_usage.is_some_and(|f| f <= self.today())
    }

    /// Whether the workspace ever fed what `source` reads: if not, the measure does not apply.
    pub fn fed(&self, source: &Source) -> bool {
        match source {
            Source::ActiveUsers { .. }
            | Source::LicenseUtilization { .. }
            | Source::Events { .. }
            | Source::EventTrend { .. }
            | Source::UsageTrend { .. }
            | Source::UsersTrend { .. }
            | Source::UsersRetained { .. }
            | Source::DaysSinceActivity => self.ctx.fed.usage,
            Source::FeatureAdoption => self.ctx.fed.usage && !self.ctx.catalogue.is_empty(),
            Source::Sentiment => self.ctx.fed.sentiments,
            Source::DaysSinceInteraction => self.ctx.fed.interactions,
            Source::StripeEvents { .. } => self.ctx.fed.stripe,
            _ => true,
        }
    }

    /// The account's last day of usage on or before this day.
    fn last_active(&self) -> Option<i64> {
        let today = self.today();
        let f = self.facts;
        if let Some(last) = f.last_usage.filter(|l| *l <= today) {
            return Some(last);
        }
        let in_window = f.totals.iter().filter(|(d, _)| *d <= today).map(|(d, _)| *d).max();
        let from_bits = f.users.iter().chain(f.names.values()).filter_map(|d| d.last_until(today)).max();
        in_window.max(from_bits).max(f.last_before.filter(|l| *l <= today))
    }

    fn total(&self, from: i64, to: i64) -> i64 {
        self.facts.totals.iter().filter(|(d, _)| (from..=to).contains(d)).map(|(_, n)| n).sum()
    }

    fn active_users(&self, days: u32) -> i64 {
        let to = self.today();
        self.users_between(to - i64::from(days) + 1, to)
    }

    fn users_between(&self, from: i64, to: i64) -> i64 {
        self.facts.users.iter().filter(|u| u.any_in(from, to)).count() as i64
    }

    fn count(&self, name: &str, from: i64, to: i64) -> i64 {
        self.facts
            .counts
            .get(name)
            .map_or(0, |c| c.iter().filter(|(d, _)| (from..=to).contains(d)).map(|(_, n)| n).sum())
    }

    /// A measure source's raw value; None when the account has no data for it.
    pub fn value(&self, source: &Source) -> Option<Decimal> {
        if let Some((_, v)) = self.read.borrow().iter().find(|(s, _)| s == source) {
            return *v;
        }
        let v = self.work_out(source);
        self.read.borrow_mut().push((source.clone(), v));
        v
    }

    fn work_out(&self, source: &Source) -> Option<Decimal> {
        let today = self.today();
        let c = self.contract();
        match source {
            Source::ActiveUsers { days } => self.tracked().then(|| Decimal::from(self.active_users(*days))),
            Source::LicenseUtilization { days } => {
                self.tracked().then_some(())?;
                crate::usage::license_utilization(self.active_users(*days), c.seats)
            }
            Source::FeatureAdoption => {
                self.tracked().then_some(())?;
                let used: BTreeSet<String> = self
                    .facts
                    .names
                    .iter()
                    .filter(|(_, d)| d.any_in(today - 29, today))
                    .map(|(n, _)| n.clone())
                    .collect();
                crate::usage::feature_adoption(&crate::usage::features_used(self.ctx.catalogue, &c.plans, &used))
            }
            Source::Events { event, days } => {
                self.tracked().then(|| Decimal::from(self.count(event, today - i64::from(*days) + 1, today)))
            }
            Source::EventTrend { event, days } => {
                self.tracked().then_some(())?;
                let d = i64::from(*days);
                crate::usage::trend(
                    self.count(event, today - d + 1, today),
                    self.count(event, today - 2 * d + 1, today - d),
                )
            }
            Source::UsageTrend { days } => {
                self.tracked().then_some(())?;
                let d = i64::from(*days);
                crate::usage::trend(self.total(today - d + 1, today), self.total(today - 2 * d + 1, today - d))
            }
            Source::UsersRetained { days, before } => {
                self.tracked().then_some(())?;
                let (recent, base) = (today - i64::from(*days) + 1, today - i64::from(*days));
                let earlier: Vec<_> =
                    self.facts.users.iter().filter(|u| u.any_in(base - i64::from(*before) + 1, base)).collect();
                let kept = earlier.iter().filter(|u| u.any_in(recent, today)).count();
                // Nobody in the earlier window, none now, but people before it: every one of them
                // is gone (quiet is data). A comeback after the silence has nothing to compare.
                let start = base - i64::from(*before) + 1;
                if earlier.is_empty() && self.facts.first_usage.is_some_and(|f| f < start) {
                    return (self.users_between(recent, today) == 0).then_some(Decimal::ZERO);
                }
                crate::usage::percent(Decimal::from(kept as i64), Decimal::from(earlier.len() as i64))
            }
            Source::UsersTrend { days } => {
                self.tracked().then_some(())?;
                let d = i64::from(*days);
                crate::usage::trend(
                    self.users_between(today - d + 1, today),
                    self.users_between(today - 2 * d + 1, today - d),
                )
            }
            Source::DaysSinceActivity => {
                self.tracked().then_some(())?;
                Some(Decimal::from(today - self.last_active()?))
            }
            Source::Mrr => self.mrr(),
            Source::MrrChange { days } => {
                let before = contract(self.facts, self.ctx.day - chrono::Days::new(u64::from(*days)));
                let rate = rate(c.currency.as_deref().or(before.currency.as_deref())?, self.ctx)?;
                let (now, then) = (c.mrr * rate, before.mrr * rate);
                crate::metrics::ratio(now - then, then).map(|r| r.round_dp(2))
            }
            Source::DaysOverdue => {
                Some(Decimal::from(self.facts.invoices.iter().map(|i| i.days_overdue(self.ctx.day)).max().unwrap_or(0)))
            }
            Source::TenureDays => c.tenure_days.map(Decimal::from),
            Source::DaysToRenewal => c.days_to_renewal.map(Decimal::from),
            Source::DowngradedWithin { days } => {
                c.customer_since?;
                let from = self.ctx.day - chrono::Days::new(u64::from(*days));
                let fell = self.facts.periods.iter().flat_map(|p| [Some(p.starts_on), p.ends_on]).flatten().any(|d| {
                    d > from && d <= self.ctx.day && {
                        let (after, before) =
                            (contract(self.facts, d), contract(self.facts, d.pred_opt().unwrap_or(d)));
                        after.mrr > Decimal::ZERO && after.mrr < before.mrr && after.currency == before.currency
                    }
                });
                Some(Decimal::from(u8::from(fell)))
            }
            Source::DaysSinceInteraction => {
                crate::interaction::days_since(&self.facts.interactions, c.customer_since, self.ctx.day)
                    .map(Decimal::from)
            }
            Source::Sentiment => {
                self.facts.sentiments.iter().rev().find(|(d, _)| *d <= self.ctx.day).map(|(_, r)| Decimal::from(*r))
            }
            Source::StripeEvents { event, days } => {
                let from = self.ctx.day - chrono::Days::new(u64::from(*days));
                let n = self.facts.stripe.iter().filter(|(d, t)| *d > from && *d <= self.ctx.day && t == event).count();
                Some(Decimal::from(n))
            }
            Source::Attribute { name } => match self.facts.attributes.get(name)? {
                AttrValue::Number(n) => Some(*n),
                AttrValue::Text(t) => t.trim().parse().ok(),
                AttrValue::Bool(b) => Some(Decimal::from(u8::from(*b))),
                AttrValue::Date(_) => None,
            },
        }
    }
}

fn contract(facts: &Facts, day: NaiveDate) -> Contract {
    let periods: Vec<&Period> = facts.periods.iter().collect();
    Contract::as_of(&periods, day)
}

fn rate(currency: &str, ctx: Context) -> Option<Decimal> {
    if currency == ctx.reporting {
        return Some(Decimal::ONE);
    }
    ctx.fx.get(&(currency.to_owned(), Month::of(ctx.day))).copied()
}

fn convert(c: &Contract, ctx: Context) -> Option<Decimal> {
    match &c.currency {
        None => Some(Decimal::ZERO),
        Some(cur) => Some((c.mrr * rate(cur, ctx)?).round_dp(2)),
    }
}

fn number(d: Option<Decimal>) -> Value {
    d.map_or(Value::Null, Value::Number)
}

fn text(t: &Option<String>) -> Value {
    t.as_ref().map_or(Value::Null, |t| Value::Text(t.clone()))
}

impl Env for AccountDay<'_> {
    fn field(&self, name: &str) -> Value {
        let f = self.facts;
        match name {
            "plan" => text(&f.plan),
            "country" => text(&f.country),
            "industry" => text(&f.industry),
            "employees" => number(f.employees.map(Decimal::from)),
            "stage" => Value::Text(f.stage.clone()),
            "mrr" => number(self.mrr()),
            "arr" => number(self.mrr().map(|m| m * Decimal::from(12))),
            "tenure_days" => number(self.value(&Source::TenureDays)),
            "days_to_renewal" => number(self.value(&Source::DaysToRenewal)),
            "renewal_term_months" => number(self.contract().renewal_term_months.map(Decimal::from)),
            "days_to_churn" => number(self.contract().churns_on.map(|d| Decimal::from((d - self.ctx.day).num_days()))),
            "health" => number(f.health.0),
            "band" => f.health.1.map_or(Value::Null, |b| Value::Text(b.as_str().into())),
            "tags" => Value::List(f.tags.iter().map(|t| Value::Text(t.clone())).collect()),
            other => match other.strip_prefix("attribute.").and_then(|a| f.attributes.get(a)) {
                Some(AttrValue::Number(n)) => Value::Number(*n),
                Some(AttrValue::Text(t)) => Value::Text(t.clone()),
                Some(AttrValue::Bool(b)) => Value::Bool(*b),
                Some(AttrValue::Date(d)) => Value::Text(d.to_string()),
                None => Value::Null,
            },
        }
    }

    fn call(&self, name: &str, args: &[Value]) -> Value {
        number(Source::from_call(name, args).and_then(|s| self.value(&s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{Interval, InvoiceStatus};
    use crate::expr;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn days(list: &[&str]) -> Days {
        let mut out = Days::default();
        for s in list {
            let (b, bit) = day_bit(d(s));
            out.add(b, bit);
        }
        out
    }

    fn period(plan: &str, seats: i64, monthly: i64, from: &str, to: Option<&str>) -> Period {
        Period {
            subscription_id: "s".into(),
            plan: plan.into(),
            quantity: seats,
            currency: "EUR".into(),
            amount: Decimal::from(monthly),
            interval: Interval::Month,
            starts_on: d(from),
            ends_on: to.map(d),
            renews_on: None,
            payment_terms: None,
            term_months: None,
        }
    }

    fn fx() -> FxTable {
        let mut fx = FxTable::new();
        fx.insert(("EUR".into(), Month::of(d("2026-06-30"))), Decimal::new(11, 1));
        fx
    }

    #[test]
    fn a_cancellation_ahead_counts_down_to_its_day() {
        let facts = Facts {
            id: 1,
            periods: vec![period("Growth", 5, 300, "2026-01-01", Some("2026-07-10"))],
            ..Facts::default()
        };
        let fx = fx();
        let on = |day: &str| {
            let ctx = Context { day: d(day), reporting: "USD", fx: &fx, catalogue: &[], fed: Fed::all() };
            expr::parse("days_to_churn", &crate::measure::SCHEMA)
                .map(|_| AccountDay::new(&facts, ctx).field("days_to_churn"))
        };
        assert_eq!(on("2026-06-30").unwrap(), Value::Number(Decimal::from(10)), "at risk, still paying");
        assert_eq!(on("2026-07-10").unwrap(), Value::Null, "gone: churned, no longer scheduled");
    }

    #[test]
    fn day_bits_cross_blocks() {
        assert_eq!(day_number(d("1970-01-02")), 1);
        let a = days(&["2026-05-01", "2026-06-20", "2026-06-28"]);
        let n = |s| day_number(d(s));
        assert!(a.any_in(n("2026-06-01"), n("2026-06-30")));
        assert!(!a.any_in(n("2026-05-02"), n("2026-06-19")));
        assert_eq!(a.last_until(n("2026-06-27")), Some(n("2026-06-20")));
        assert_eq!(a.last_until(n("2026-06-19")), Some(n("2026-05-01")));
        assert_eq!(a.last_until(n("2026-04-30")), None);
        assert_eq!(a.last_until(n("2030-01-01")), Some(n("2026-06-28")));
    }

    #[test]
    fn measure_values_as_of_a_day() {
        // 10 seats at 500 EUR/month from January; 5 seats at 300 from June 10 (a downgrade).
        let facts = Facts {
            id: 1,
            plan: Some("Growth".into()),
            stage: "adoption".into(),
            periods: vec![
                period("Growth", 10, 500, "2026-01-01", Some("2026-06-10")),
                period("Growth", 5, 300, "2026-06-10", None),
            ],
            invoices: vec![Invoice {
                invoice_id: "i".into(),
                currency: "EUR".into(),
                amount: Decimal::from(300),
                issued_on: d("2026-06-10"),
                due_on: Some(d("2026-06-20")),
                paid_on: None,
                status: InvoiceStatus::Open,
            }],
            // Two users: one active on June 25, one last on May 1.
            users: vec![days(&["2026-06-25"]), days(&["2026-05-01"])],
            names: [("Report Built".to_string(), days(&["2026-06-25"]))].into(),
            counts: [("Report Built".to_string(), vec![(day_number(d("2026-06-25")), 7)])].into(),
            sentiments: vec![(d("2026-06-01"), 4)],
            first_usage: Some(day_number(d("2026-05-01"))),
            last_usage: Some(day_number(d("2026-06-25"))),
            ..Facts::default()
        };
        let catalogue = vec![
            Feature { plan: "Growth".into(), feature: "reports".into(), events: vec!["Report Built".into()] },
            Feature { plan: "Growth".into(), feature: "alerts".into(), events: vec!["Alert Set".into()] },
        ];
        let fx = fx();
        let ctx = Context { day: d("2026-06-30"), reporting: "USD", fx: &fx, catalogue: &catalogue, fed: Fed::all() };
        let a = AccountDay::new(&facts, ctx);
        let v = |s: &str| a.value(&Source::parse(s).unwrap());
        let dec = |s: &str| Some(s.parse::<Decimal>().unwrap());
        assert_eq!(v("active_users(30)"), dec("1"));
        assert_eq!(v("active_users(90)"), dec("2"));
        assert_eq!(v("license_utilization()"), dec("20")); // 1 of 5 seats
        assert_eq!(v("feature_adoption()"), dec("50")); // reports of reports and alerts
        assert_eq!(v("events(\"Report Built\", 30)"), dec("7"));
        assert_eq!(v("event_trend(\"Report Built\", 30)"), None); // nothing the 30 days before
        assert_eq!(v("days_since_activity()"), dec("5"));
        assert_eq!(v("mrr"), dec("330")); // 300 EUR at 1.1
        assert_eq!(v("mrr_change(30)"), dec("-40")); // 500 → 300
        assert_eq!(v("downgraded_within(30)"), dec("1"));
        assert_eq!(v("downgraded_within(10)"), dec("0"));
        assert_eq!(v("days_overdue()"), dec("10"));
        assert_eq!(v("tenure_days"), dec("180"));
        assert_eq!(v("days_to_renewal"), None);
        assert_eq!(v("days_since_interaction()"), dec("180")); // never contacted: since the first subscription
        assert_eq!(v("sentiment()"), dec("4"));
        let holds = |src: &str| expr::parse(src, &crate::measure::SCHEMA).unwrap().eval(&a);
        assert!(!holds("days_to_churn >= 0"), "renewing, not cancelled");
        assert!(holds("plan = \"growth\" and mrr > 300 and active_users(30) < 2"));
        assert!(holds("not (health >= 40)"));
        assert!(!holds("license_utilization() > 50"));
    }

    /// Silence is data (DOMAIN.md): an account that stopped using the product has no active users
    /// and a growing days since activity, however long ago it stopped; only one that never sent
    /// usage has none; and a workspace that never fed usage does not apply usage measures at all.
    #[test]
    fn quiet_is_data_and_missing_means_never_used() {
        let n = |s| day_number(d(s));
        let never = Facts { periods: vec![period("Growth", 10, 500, "2026-01-01", None)], ..Facts::default() };
        let fx = fx();
        let ctx = Context { day: d("2026-06-30"), reporting: "EUR", fx: &fx, catalogue: &[], fed: Fed::default() };
        let a = AccountDay::new(&never, ctx);
        assert!(!a.fed(&Source::ActiveUsers { days: 30 }), "no usage in the workspace: not applicable");
        assert_eq!(a.value(&Source::Mrr), Some(Decimal::from(500)));
        let ctx = Context { fed: Fed::all(), ..ctx };
        let a = AccountDay::new(&never, ctx);
        assert!(a.fed(&Source::ActiveUsers { days: 30 }));
        assert!(!a.fed(&Source::FeatureAdoption), "no plan → features catalogue: not applicable");
        assert_eq!(a.value(&Source::ActiveUsers { days: 30 }), None, "never used: missing");
        assert_eq!(a.value(&Source::LicenseUtilization { days: 30 }), None);
        assert_eq!(a.value(&Source::DaysSinceActivity), None);
        // Quiet since March 17 (the demo's Summit Mobility): counted from then, and nobody active.
        let quiet = Facts { first_usage: Some(n("2025-09-01")), last_usage: Some(n("2026-03-17")), ..never.clone() };
        let a = AccountDay::new(&quiet, ctx);
        assert_eq!(a.value(&Source::DaysSinceActivity), Some(Decimal::from(105)));
        assert_eq!(a.value(&Source::ActiveUsers { days: 30 }), Some(Decimal::ZERO));
        assert_eq!(a.value(&Source::LicenseUtilization { days: 30 }), Some(Decimal::ZERO));
        assert_eq!(a.value(&Source::UsageTrend { days: 30 }), None, "nothing before to compare with");
        // A past day, before usage came back: the day before the loaded days says it.
        let back = Facts { last_usage: Some(n("2026-07-20")), last_before: Some(n("2026-03-17")), ..quiet.clone() };
        assert_eq!(AccountDay::new(&back, ctx).value(&Source::DaysSinceActivity), Some(Decimal::from(105)));
        // Before its first usage it had none yet.
        let late = Facts { first_usage: Some(n("2026-07-01")), ..quiet };
        assert_eq!(AccountDay::new(&late, ctx).value(&Source::ActiveUsers { days: 30 }), None);
    }

    /// Worked example: 300 usage events in the last 30 days against 400 the 30 before is −25 %.
    #[test]
    fn users_retained_counts_the_people_of_before_who_are_still_here() {
        let n = |s: &str| day_number(d(s));
        let fx = fx();
        let ctx = Context { day: d("2026-06-30"), reporting: "USD", fx: &fx, catalogue: &[], fed: Fed::all() };
        // Four people used it in the 90 days before June; three of them in June, one left.
        let users = vec![
            days(&["2026-04-10", "2026-06-20"]),
            days(&["2026-03-05", "2026-06-29"]),
            days(&["2026-05-30", "2026-06-01"]),
            days(&["2026-05-15"]),
            days(&["2026-06-15"]),
        ];
        let facts =
            Facts { users, first_usage: Some(n("2026-03-05")), last_usage: Some(n("2026-06-29")), ..Facts::default() };
        let retained = Source::UsersRetained { days: 30, before: 90 };
        assert_eq!(
            AccountDay::new(&facts, ctx).value(&retained),
            Some(Decimal::from(75)),
            "3 of 4; the newcomer does not count"
        );
        // Silent since January: everyone who used it is gone.
        let gone = Facts {
            users: vec![days(&["2026-01-02"])],
            first_usage: Some(n("2026-01-02")),
            last_usage: Some(n("2026-01-02")),
            ..Facts::default()
        };
        assert_eq!(AccountDay::new(&gone, ctx).value(&retained), Some(Decimal::ZERO));
        // New this month: nothing to compare with.
        let new = Facts {
            users: vec![days(&["2026-06-20"])],
            first_usage: Some(n("2026-06-20")),
            last_usage: Some(n("2026-06-20")),
            ..Facts::default()
        };
        assert_eq!(AccountDay::new(&new, ctx).value(&retained), None);
    }

    #[test]
    fn usage_trend_compares_all_events_of_two_windows() {
        let n = |s| day_number(d(s));
        let facts = Facts {
            first_usage: Some(n("2026-01-01")),
            last_usage: Some(n("2026-06-30")),
            totals: vec![(n("2026-05-15"), 400), (n("2026-06-10"), 100), (n("2026-06-30"), 200)],
            ..Facts::default()
        };
        let fx = fx();
        let ctx = Context { day: d("2026-06-30"), reporting: "EUR", fx: &fx, catalogue: &[], fed: Fed::all() };
        assert_eq!(AccountDay::new(&facts, ctx).value(&Source::UsageTrend { days: 30 }), Some(Decimal::from(-25)));
        assert_eq!(parse_counts("3:12,61:4"), vec![(3, 12), (61, 4)]);
    }
}
