//! Billing: subscription periods at a price, invoices and FX rates, as entered and as validated.

use crate::invalid::{clean, Invalid};
use crate::money::{self, Month};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How often a period's amount is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
    pub fn parse(raw: &str) -> Result<Interval, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "month" | "monthly" => Ok(Interval::Month),
            "year" | "yearly" | "annual" => Ok(Interval::Year),
            _ => Err(format!("{raw:?} is not an interval: expected month or year")),
        }
    }
    /// Months in one interval.
    pub fn months(self) -> u32 {
        match self {
            Interval::Month => 1,
            Interval::Year => 12,
        }
    }
}

/// The longest committed term a period may state, in months (ten years).
pub const MAX_TERM_MONTHS: u32 = 120;

/// Payment terms as contracts write them: `prepaid`, `postpaid`, `net30`, `30/70` (30 % upfront,
/// 70 % on delivery; the parts add up to 100).
pub fn payment_terms(raw: &str) -> Result<String, String> {
    let t = raw.trim().to_ascii_lowercase().replace(' ', "");
    let ok = match t.as_str() {
        "prepaid" | "postpaid" => true,
        _ if t.starts_with("net") => t[3..].parse::<u16>().is_ok_and(|d| d <= 365),
        _ => {
            let parts: Option<Vec<u32>> = t.split('/').map(|p| p.parse().ok()).collect();
            parts.is_some_and(|p| p.len() >= 2 && p.iter().sum::<u32>() == 100)
        }
    };
    if ok {
        Ok(t)
    } else {
        Err(format!("{raw:?} is not a payment term: use prepaid, postpaid, net30 or a split like 30/70"))
    }
}

/// One period of a subscription as a CSV row or API call gives it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodInput {
    pub account_external_id: Option<String>,
    pub subscription_id: Option<String>,
    pub plan: Option<String>,
    pub quantity: Option<String>,
    pub currency: Option<String>,
    pub amount: Option<String>,
    pub interval: Option<String>,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
    pub renews_on: Option<String>,
    pub payment_terms: Option<String>,
    /// The committed term in months when it is not one interval (an annual contract billed
    /// monthly is `12` with interval `month`).
    pub term_months: Option<String>,
}

/// A valid period: from `starts_on` (inclusive) to `ends_on` (exclusive; open when `None`), at
/// `amount` per `interval`. A change to a subscription is a new period with the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub subscription_id: String,
    pub plan: String,
    pub quantity: i64,
    pub currency: String,
    pub amount: Decimal,
    pub interval: Interval,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub renews_on: Option<NaiveDate>,
    pub payment_terms: Option<String>,
    /// The committed term in months; `None`: one interval.
    pub term_months: Option<u32>,
}

impl Period {
    /// The committed term in months: as stated, else one billing interval. Each renewal of the
    /// period is the end of one such term.
    pub fn term(&self) -> u32 {
        self.term_months.unwrap_or_else(|| self.interval.months())
    }
    /// Monthly recurring revenue in the period's own currency: the amount, or a year's ÷ 12.
    pub fn mrr(&self) -> Decimal {
        mrr(self.amount, self.interval)
    }
    /// Whether the period is in force at 00:00 UTC of `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.starts_on <= day && self.ends_on.is_none_or(|end| day < end)
    }
    pub fn overlaps(&self, other: &Period) -> bool {
        self.starts_on < other.ends_on.unwrap_or(NaiveDate::MAX)
            && other.starts_on < self.ends_on.unwrap_or(NaiveDate::MAX)
    }
    /// When the contract is up: the renewal date, else the end.
    pub fn due_on(&self) -> Option<NaiveDate> {
        self.renews_on.or(self.ends_on)
    }
}

pub fn mrr(amount: Decimal, interval: Interval) -> Decimal {
    match interval {
        Interval::Month => amount,
        Interval::Year => amount / Decimal::from(12),
    }
}

fn required<T>(
    invalid: &mut Invalid,
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    match clean(value) {
        None => {
            invalid.push(field, "is required");
            None
        }
        Some(v) => optional(invalid, field, Some(&v), parse),
    }
}

fn optional<T>(
    invalid: &mut Invalid,
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    let v = clean(value)?;
    parse(&v).map_err(|e| invalid.push(field, e)).ok()
}

fn id_text(field: &'static str) -> impl Fn(&str) -> Result<String, String> {
    move |v: &str| {
        if v.chars().count() > crate::limits::EXTERNAL_ID {
            Err(format!("{field} is longer than {} characters", crate::limits::EXTERNAL_ID))
        } else if let Some(e) = crate::limits::control_character(v) {
            Err(format!("{field} {e}"))
        } else {
            Ok(v.to_owned())
        }
    }
}

fn non_negative(v: &str) -> Result<Decimal, String> {
    let d = money::amount(v)?;
    if d.is_sign_negative() && !d.is_zero() {
        Err(format!("{v:?} is negative"))
    } else {
        Ok(d)
    }
}

impl PeriodInput {
    /// Checks every field; returns the account's external id and the period, or every problem.
    pub fn validate(&self) -> Result<(String, Period), Invalid> {
        let mut invalid = Invalid::default();
        let account = required(&mut invalid, "account_external_id", self.account_external_id.as_deref(), id_text("id"));
        let subscription_id = required(&mut invalid, "subscription_id", self.subscription_id.as_deref(), id_text("id"));
        let plan = required(&mut invalid, "plan", self.plan.as_deref(), id_text("plan"));
        let quantity = optional(&mut invalid, "quantity", self.quantity.as_deref(), |v| {
            v.parse::<i64>().ok().filter(|q| *q >= 0).ok_or_else(|| format!("{v:?} is not a whole number of seats"))
        });
        let currency = required(&mut invalid, "currency", self.currency.as_deref(), money::currency);
        let amount = required(&mut invalid, "amount", self.amount.as_deref(), non_negative);
        let interval = required(&mut invalid, "interval", self.interval.as_deref(), Interval::parse);
        let starts_on = required(&mut invalid, "starts_on", self.starts_on.as_deref(), money::date);
        let ends_on = optional(&mut invalid, "ends_on", self.ends_on.as_deref(), money::date);
        let renews_on = optional(&mut invalid, "renews_on", self.renews_on.as_deref(), money::date);
        let payment_terms = optional(&mut invalid, "payment_terms", self.payment_terms.as_deref(), payment_terms);
        let term_months = optional(&mut invalid, "term_months", self.term_months.as_deref(), |v| {
            v.parse::<u32>()
                .ok()
                .filter(|m| (1..=MAX_TERM_MONTHS).contains(m))
                .ok_or_else(|| format!("{v:?} is not a term: a whole number of months from 1 to {MAX_TERM_MONTHS}"))
        });
        if let (Some(start), Some(end)) = (starts_on, ends_on) {
            if end <= start {
                invalid.push("ends_on", format!("{end} is not after starts_on {start}"));
            }
        }
        if let (Some(start), Some(renew)) = (starts_on, renews_on) {
            if renew <= start {
                invalid.push("renews_on", format!("{renew} is not after starts_on {start}"));
            }
        }
        if !invalid.errors.is_empty() {
            return Err(invalid);
        }
        let (
            Some(account),
            Some(subscription_id),
            Some(plan),
            Some(currency),
            Some(amount),
            Some(interval),
            Some(starts_on),
        ) = (account, subscription_id, plan, currency, amount, interval, starts_on)
        else {
            return Err(invalid);
        };
        let period = Period {
            subscription_id,
            plan,
            quantity: quantity.unwrap_or(1),
            currency,
            amount,
            interval,
            starts_on,
            ends_on,
            renews_on,
            payment_terms,
            term_months,
        };
        Ok((account, period))
    }
}

/// The first pair of overlapping periods of one subscription, as indexes into `periods`.
pub fn first_overlap(periods: &[&Period]) -> Option<(usize, usize)> {
    let mut order: Vec<usize> = (0..periods.len()).collect();
    order.sort_by_key(|&i| (&periods[i].subscription_id, periods[i].starts_on));
    order.windows(2).find_map(|w| {
        let (a, b) = (periods[w[0]], periods[w[1]]);
        (a.subscription_id == b.subscription_id && a.overlaps(b)).then(|| (w[0].min(w[1]), w[0].max(w[1])))
    })
}

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Void,
    Uncollectible,
    Failed,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 5] = [
        InvoiceStatus::Open,
        InvoiceStatus::Paid,
        InvoiceStatus::Void,
        InvoiceStatus::Uncollectible,
        InvoiceStatus::Failed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
            InvoiceStatus::Uncollectible => "uncollectible",
            InvoiceStatus::Failed => "failed",
        }
    }
    pub fn parse(raw: &str) -> Result<InvoiceStatus, String> {
        let s = raw.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            format!("{raw:?} is not an invoice status: expected open, paid, void, uncollectible or failed")
        })
    }
}

/// An invoice as a CSV row or API call gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceInput {
    pub account_external_id: Option<String>,
    pub invoice_id: Option<String>,
    pub currency: Option<String>,
    pub amount: Option<String>,
    pub issued_on: Option<String>,
    pub due_on: Option<String>,
    pub paid_on: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    pub invoice_id: String,
    pub currency: String,
    pub amount: Decimal,
    pub issued_on: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub paid_on: Option<NaiveDate>,
    pub status: InvoiceStatus,
}

impl Invoice {
    /// Unpaid after its due date, as of `day`.
    pub fn overdue(&self, day: NaiveDate) -> bool {
        self.days_overdue(day) > 0
    }
    /// Days past due on `day`: issued by then, due before it and not paid by then (an invoice
    /// paid late was overdue until it was paid).
    pub fn days_overdue(&self, day: NaiveDate) -> i64 {
        let unpaid = match self.paid_on {
            Some(paid) => paid > day,
            None => matches!(self.status, InvoiceStatus::Open | InvoiceStatus::Failed),
        };
        match self.due_on {
            Some(due) if unpaid && self.issued_on <= day && day > due => (day - due).num_days(),
            _ => 0,
        }
    }
}

impl InvoiceInput {
    pub fn validate(&self) -> Result<(String, Invoice), Invalid> {
        let mut invalid = Invalid::default();
        let account = required(&mut invalid, "account_external_id", self.account_external_id.as_deref(), id_text("id"));
        let invoice_id = required(&mut invalid, "invoice_id", self.invoice_id.as_deref(), id_text("id"));
        let currency = required(&mut invalid, "currency", self.currency.as_deref(), money::currency);
        let amount = required(&mut invalid, "amount", self.amount.as_deref(), money::amount);
        let issued_on = required(&mut invalid, "issued_on", self.issued_on.as_deref(), money::date);
        let due_on = optional(&mut invalid, "due_on", self.due_on.as_deref(), money::date);
        let paid_on = optional(&mut invalid, "paid_on", self.paid_on.as_deref(), money::date);
        let status = required(&mut invalid, "status", self.status.as_deref(), InvoiceStatus::parse);
        if let (Some(issued), Some(due)) = (issued_on, due_on) {
            if due < issued {
                invalid.push("due_on", format!("{due} is before issued_on {issued}"));
            }
        }
        if status == Some(InvoiceStatus::Paid) && paid_on.is_none() && clean(self.paid_on.as_deref()).is_none() {
            invalid.push("paid_on", "is required when status is paid");
        }
        let (Some(account), Some(invoice_id), Some(currency), Some(amount), Some(issued_on), Some(status)) =
            (account, invoice_id, currency, amount, issued_on, status)
        else {
            return Err(invalid);
        };
        invalid.into_result((account, Invoice { invoice_id, currency, amount, issued_on, due_on, paid_on, status }))
    }
}

/// A dated exchange rate: units of the reporting currency per unit of `currency`, for a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FxRate {
    pub currency: String,
    pub month: Month,
    pub rate: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FxRateInput {
    pub currency: Option<String>,
    pub month: Option<String>,
    pub rate: Option<String>,
}

impl FxRateInput {
    pub fn validate(&self) -> Result<FxRate, Invalid> {
        let mut invalid = Invalid::default();
        let currency = required(&mut invalid, "currency", self.currency.as_deref(), money::currency);
        let month = required(&mut invalid, "month", self.month.as_deref(), str::parse::<Month>);
        let rate = required(&mut invalid, "rate", self.rate.as_deref(), |v| {
            money::amount(v).ok().filter(|r| r.is_sign_positive() && !r.is_zero()).ok_or_else(|| {
                format!("{v:?} is not a positive decimal rate (units of the reporting currency per unit)")
            })
        });
        let (Some(currency), Some(month), Some(rate)) = (currency, month, rate) else {
            return Err(invalid);
        };
        invalid.into_result(FxRate { currency, month, rate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sub: &str, starts: &str, ends: &str) -> PeriodInput {
        PeriodInput {
            account_external_id: Some("A1".into()),
            subscription_id: Some(sub.into()),
            plan: Some("pro".into()),
            quantity: Some("10".into()),
            currency: Some("eur".into()),
            amount: Some("1200".into()),
            interval: Some("year".into()),
            starts_on: Some(starts.into()),
            ends_on: Some(ends.into()).filter(|e: &String| !e.is_empty()),
            ..Default::default()
        }
    }

    #[test]
    fn an_annual_contract_is_a_twelfth_a_month() {
        let (account, p) = row("s1", "2026-01-15", "2027-01-15").validate().unwrap();
        assert_eq!(account, "A1");
        assert_eq!(p.currency, "EUR");
        assert_eq!(p.mrr(), Decimal::from(100));
        assert!(p.active_on("2026-02-01".parse().unwrap()));
        assert!(!p.active_on("2027-01-15".parse().unwrap()), "ends_on is exclusive");
        assert_eq!(p.due_on(), Some("2027-01-15".parse().unwrap()));
    }

    #[test]
    fn bad_rows_name_every_field() {
        let mut r = row("s1", "2026-03-01", "2026-02-01");
        r.currency = Some("EURO".into());
        r.amount = Some("12,00".into());
        r.interval = Some("week".into());
        r.term_months = Some("0".into());
        let e = r.validate().unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["currency", "amount", "interval", "term_months", "ends_on"]);
        let mut r = row("s1", "2026-03-01", "");
        r.term_months = Some("24".into());
        assert_eq!(r.validate().unwrap().1.term(), 24);
        assert_eq!(row("s1", "2026-03-01", "").validate().unwrap().1.term(), 12, "one interval");
    }

    #[test]
    fn overlapping_periods_of_one_subscription_are_found() {
        let a = row("s1", "2026-01-01", "2026-06-01").validate().unwrap().1;
        let b = row("s1", "2026-06-01", "").validate().unwrap().1;
        let c = row("s1", "2026-05-01", "2026-07-01").validate().unwrap().1;
        let other = row("s2", "2026-01-01", "").validate().unwrap().1;
        assert_eq!(first_overlap(&[&a, &b, &other]), None);
        assert_eq!(first_overlap(&[&a, &b, &c, &other]), Some((0, 2)));
    }

    #[test]
    fn payment_terms_forms() {
        assert_eq!(payment_terms("Net30").unwrap(), "net30");
        assert_eq!(payment_terms("30/70").unwrap(), "30/70");
        assert!(payment_terms("30/60").is_err());
        assert!(payment_terms("soon").is_err());
    }

    #[test]
    fn overdue_is_unpaid_after_the_due_date() {
        let inv = InvoiceInput {
            account_external_id: Some("A1".into()),
            invoice_id: Some("in_1".into()),
            currency: Some("USD".into()),
            amount: Some("99.00".into()),
            issued_on: Some("2026-03-01".into()),
            due_on: Some("2026-03-31".into()),
            status: Some("open".into()),
            ..Default::default()
        };
        let (_, i) = inv.validate().unwrap();
        assert!(!i.overdue("2026-03-31".parse().unwrap()));
        assert_eq!(i.days_overdue("2026-04-10".parse().unwrap()), 10);
        let paid = InvoiceInput { status: Some("paid".into()), ..inv };
        assert_eq!(paid.validate().unwrap_err().errors[0].field, "paid_on");
    }
}

/// An account's contract as of a day: what is in force, what it is worth, and when it is up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contract {
    pub plans: Vec<String>,
    pub seats: i64,
    /// In the currency of the periods in force (the first one's, when they differ).
    pub currency: Option<String>,
    pub mrr: Decimal,
    /// MRR × the months of the committed term (one interval unless stated); ARR when open-ended.
    pub contract_value: Decimal,
    pub payment_terms: Option<String>,
    pub customer_since: Option<NaiveDate>,
    pub tenure_days: Option<i64>,
    pub next_renewal: Option<NaiveDate>,
    pub days_to_renewal: Option<i64>,
    /// The committed term, in months, of what renews next (the longest, when several do that day):
    /// a monthly subscription's renewal is not a contract's.
    pub renewal_term_months: Option<u32>,
    /// The day a cancellation dated ahead takes effect: every period in force ends by then and
    /// nothing follows. Until that day the account is at risk, not churned.
    pub churns_on: Option<NaiveDate>,
}

impl Contract {
    pub fn as_of(periods: &[&Period], day: NaiveDate) -> Contract {
        let mut c = Contract::default();
        let paid: Vec<&&Period> = periods.iter().filter(|p| p.amount > Decimal::ZERO).collect();
        c.customer_since = paid.iter().map(|p| p.starts_on).filter(|s| *s <= day).min();
        c.tenure_days = c.customer_since.map(|s| (day - s).num_days());
        for p in periods.iter().filter(|p| p.active_on(day)) {
            let currency = c.currency.get_or_insert_with(|| p.currency.clone());
            if *currency != p.currency {
                continue;
            }
            if !c.plans.contains(&p.plan) {
                c.plans.push(p.plan.clone());
            }
            c.seats += p.quantity;
            c.mrr += p.mrr();
            c.contract_value += match p.due_on() {
                Some(_) => p.mrr() * Decimal::from(p.term()),
                None => p.mrr() * Decimal::from(12),
            };
            c.payment_terms = c.payment_terms.take().or_else(|| p.payment_terms.clone());
            if let Some(due) = p.due_on().filter(|d| *d >= day) {
                c.renewal_term_months = match c.next_renewal {
                    Some(n) if n < due => c.renewal_term_months,
                    Some(n) if n == due => c.renewal_term_months.max(Some(p.term())),
                    _ => Some(p.term()),
                };
                c.next_renewal = Some(c.next_renewal.map_or(due, |n| n.min(due)));
            }
        }
        c.days_to_renewal = c.next_renewal.map(|n| (n - day).num_days());
        let in_force: Vec<&&Period> = periods.iter().filter(|p| p.active_on(day)).collect();
        let follows = periods.iter().any(|p| p.starts_on > day);
        if !in_force.is_empty() && !follows && in_force.iter().all(|p| p.ends_on.is_some() && p.renews_on.is_none()) {
            c.churns_on = in_force.iter().filter_map(|p| p.ends_on).max();
        }
        c
    }
}

#[cfg(test)]
mod contract_tests {
    use super::*;

    #[test]
    fn an_annual_contract_seen_mid_term() {
        let p = Period {
            subscription_id: "s".into(),
            plan: "pro".into(),
            quantity: 10,
            currency: "EUR".into(),
            amount: Decimal::from(12_000),
            interval: Interval::Year,
            starts_on: "2026-01-01".parse().unwrap(),
            ends_on: None,
            renews_on: Some("2027-01-01".parse().unwrap()),
            payment_terms: Some("net30".into()),
            term_months: None,
        };
        let c = Contract::as_of(&[&p], "2026-10-03".parse().unwrap());
        assert_eq!((c.mrr, c.contract_value, c.seats), (Decimal::from(1000), Decimal::from(12_000), 10));
        assert_eq!((c.tenure_days, c.days_to_renewal), (Some(275), Some(90)));
        assert_eq!(c.payment_terms.as_deref(), Some("net30"));

        // A month-to-month plan a year old is worth one month, not the year it has run; an
        // annual contract billed monthly says its term.
        let monthly = Period {
            amount: Decimal::from(100),
            interval: Interval::Month,
            starts_on: "2025-10-01".parse().unwrap(),
            renews_on: Some("2026-11-01".parse().unwrap()),
            ..p.clone()
        };
        let on = "2026-10-03".parse().unwrap();
        assert_eq!(Contract::as_of(&[&monthly], on).contract_value, Decimal::from(100));
        let committed = Period { term_months: Some(12), ..monthly.clone() };
        assert_eq!((committed.term(), Contract::as_of(&[&committed], on).contract_value), (12, Decimal::from(1200)));

        // Cancelled to end on 2026-11-01: scheduled to churn then, unless a period follows it.
        let cancelled = Period { renews_on: None, ends_on: Some("2026-11-01".parse().unwrap()), ..monthly };
        assert_eq!(Contract::as_of(&[&cancelled], on).churns_on, Some("2026-11-01".parse().unwrap()));
        assert_eq!(Contract::as_of(&[&p], on).churns_on, None, "renewing");
        let next = Period { starts_on: "2026-11-01".parse().unwrap(), ends_on: None, ..cancelled.clone() };
        assert_eq!(Contract::as_of(&[&cancelled, &next], on).churns_on, None, "a change, not an end");
    }
}
