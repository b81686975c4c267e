//! Renewals: every date a subscription is up, what happened, and the renewal rates.

use crate::metrics::{ratio, FxTable};
use crate::money::Month;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What came of a renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Renewed,
    RenewedWithUpsell,
    RenewedWithDownsell,
    Churned,
}

impl Outcome {
    pub const ALL: [Outcome; 4] =
        [Outcome::Renewed, Outcome::RenewedWithUpsell, Outcome::RenewedWithDownsell, Outcome::Churned];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Renewed => "renewed",
            Outcome::RenewedWithUpsell => "renewed_with_upsell",
            Outcome::RenewedWithDownsell => "renewed_with_downsell",
            Outcome::Churned => "churned",
        }
    }
    pub fn parse(raw: &str) -> Result<Outcome, String> {
        let s = raw.trim().to_ascii_lowercase();
        Outcome::ALL.into_iter().find(|o| o.as_str() == s).ok_or_else(|| {
            format!(
                "{raw:?} is not an outcome: expected renewed, renewed_with_upsell, renewed_with_downsell or churned"
            )
        })
    }
    /// The outcome a continuation at `new_arr` after `arr` means.
    pub fn from_change(arr: Decimal, new_arr: Decimal) -> Outcome {
        if new_arr.is_zero() {
            Outcome::Churned
        } else if new_arr > arr {
            Outcome::RenewedWithUpsell
        } else if new_arr < arr {
            Outcome::RenewedWithDownsell
        } else {
            Outcome::Renewed
        }
    }
}

/// Where a renewal stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing decided yet: a CSM's to work.
    Pending,
    /// A cancellation dated ahead (billing shows the subscription ending on the due day): at
    /// risk and still saveable until that day.
    ScheduledToChurn,
    Decided,
}

impl Status {
    /// A person's record decides at once; what billing shows decides too, except an end still
    /// ahead of `day`, which is scheduled churn until its day comes.
    pub fn of(outcome: Option<Outcome>, source: Option<&str>, due_on: NaiveDate, day: NaiveDate) -> Status {
        match outcome {
            None => Status::Pending,
            Some(Outcome::Churned) if source == Some("billing") && due_on > day => Status::ScheduledToChurn,
            Some(_) => Status::Decided,
        }
    }
}

/// Which renewals a list or a rate counts. A contract renewal ends a committed term of at least
/// the workspace's contract months; shorter terms (month-to-month) renew by themselves and are
/// watched through churn, not worked as renewals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Terms {
    #[default]
    Contract,
    Monthly,
    All,
}

impl Terms {
    pub const ALL: [Terms; 3] = [Terms::Contract, Terms::Monthly, Terms::All];
    pub fn as_str(self) -> &'static str {
        match self {
            Terms::Contract => "contract",
            Terms::Monthly => "monthly",
            Terms::All => "all",
        }
    }
    /// Whether a renewal ending a term of `term_months` is counted, contracts being terms of at
    /// least `contract_months`.
    pub fn holds(self, term_months: u32, contract_months: u32) -> bool {
        match self {
            Terms::Contract => term_months >= contract_months,
            Terms::Monthly => term_months < contract_months,
            Terms::All => true,
        }
    }
}

/// The rate a renewal's amount is converted with: its due month's own, else the latest known
/// as of `today`'s month — and which month's that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub rate: Decimal,
    pub month: Month,
    /// A later or earlier month's rate stood in for the due month's.
    pub borrowed: bool,
}

/// FX rates by currency, for renewals due in months that may have no rate yet.
pub struct Converter<'a> {
    reporting: &'a str,
    today: Month,
    by: HashMap<&'a str, BTreeMap<Month, Decimal>>,
}

impl<'a> Converter<'a> {
    pub fn new(fx: &'a FxTable, reporting: &'a str, today: Month) -> Converter<'a> {
        let mut by: HashMap<&str, BTreeMap<Month, Decimal>> = HashMap::new();
        for ((currency, month), rate) in fx {
            by.entry(currency.as_str()).or_default().insert(*month, *rate);
        }
        Converter { reporting, today, by }
    }
    pub fn reporting(&self) -> &str {
        self.reporting
    }
    /// The rate for `currency` in `month`; `None` when no rate up to today is known at all.
    pub fn rate(&self, currency: &str, month: Month) -> Option<Rate> {
        if currency == self.reporting {
            return Some(Rate { rate: Decimal::ONE, month, borrowed: false });
        }
        let rates = self.by.get(currency)?;
        if let Some(rate) = rates.get(&month) {
            return Some(Rate { rate: *rate, month, borrowed: false });
        }
        let (m, rate) = rates.range(..=self.today).next_back()?;
        Some(Rate { rate: *rate, month: *m, borrowed: true })
    }
}

/// A recorded outcome, checked: upsell and downsell need the new ARR and must move the right
/// way; churn needs a reason and means a new ARR of zero.
pub fn check_outcome(
    outcome: Outcome,
    arr: Decimal,
    new_arr: Option<Decimal>,
    reason: Option<&str>,
) -> Result<Decimal, crate::Invalid> {
    use crate::Invalid;
    match outcome {
        Outcome::Renewed => Ok(new_arr.unwrap_or(arr)),
        Outcome::Churned if reason.is_none_or(|r| r.trim().is_empty()) => {
            Err(Invalid::field("reason", "is required when the outcome is churned"))
        }
        Outcome::Churned => Ok(Decimal::ZERO),
        Outcome::RenewedWithUpsell | Outcome::RenewedWithDownsell => {
            let Some(new) = new_arr else {
                return Err(Invalid::field("new_arr", format!("is required when the outcome is {}", outcome.as_str())));
            };
            let up = outcome == Outcome::RenewedWithUpsell;
            if (up && new <= arr) || (!up && (new >= arr || new.is_zero())) {
                let word = if up { "above" } else { "below (and above zero)" };
                return Err(Invalid::field("new_arr", format!("must be {word} the current ARR {arr}")));
            }
            Ok(new)
        }
    }
}

/// A renewal reduced to what its rates need, amounts in the reporting currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub due: Month,
    pub arr: Decimal,
    /// `None` while undecided.
    pub new_arr: Option<Decimal>,
}

/// One month of renewals by due date.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RateRow {
    pub month: String,
    pub due: u64,
    pub decided: u64,
    /// Renewed ARR, capped at the ARR up for renewal, ÷ ARR up for renewal (decided ones) × 100.
    pub gross_rate: Option<f64>,
    /// ARR after renewal, upsells and downsells included, ÷ ARR up for renewal × 100.
    pub net_rate: Option<f64>,
}

pub fn rates(renewals: &[Decided], from: Month, to: Month) -> Vec<RateRow> {
    #[derive(Default)]
    struct Acc {
        due: u64,
        decided: u64,
        base: Decimal,
        gross: Decimal,
        net: Decimal,
    }
    let mut by: BTreeMap<Month, Acc> = from.through(to).map(|m| (m, Acc::default())).collect();
    for r in renewals {
        let Some(acc) = by.get_mut(&r.due) else { continue };
        acc.due += 1;
        if let Some(new) = r.new_arr {
            acc.decided += 1;
            acc.base += r.arr;
            acc.gross += new.min(r.arr);
            acc.net += new;
        }
    }
    by.into_iter()
        .map(|(m, a)| RateRow {
            month: m.to_string(),
            due: a.due,
            decided: a.decided,
            gross_rate: ratio(a.gross, a.base).map(crate::money::percent),
            net_rate: ratio(a.net, a.base).map(crate::money::percent),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gross_caps_upsell_net_counts_it() {
        let m: Month = "2026-05".parse().unwrap();
        let d = Decimal::from;
        let rows = rates(
            &[
                Decided { due: m, arr: d(1000), new_arr: Some(d(1500)) },
                Decided { due: m, arr: d(1000), new_arr: Some(d(0)) },
                Decided { due: m, arr: d(1000), new_arr: Some(d(800)) },
                Decided { due: m, arr: d(1000), new_arr: None },
            ],
            m,
            m,
        );
        assert_eq!((rows[0].due, rows[0].decided), (4, 3));
        assert_eq!(rows[0].gross_rate, Some(60.0), "(1000 + 0 + 800) ÷ 3000");
        assert_eq!(rows[0].net_rate, Some(76.666667), "(1500 + 0 + 800) ÷ 3000");
    }

    #[test]
    fn a_cancellation_ahead_is_scheduled_until_its_day() {
        let (due, d) = ("2026-12-20".parse().unwrap(), |s: &str| s.parse::<NaiveDate>().unwrap());
        let billing = Some("billing");
        assert_eq!(Status::of(Some(Outcome::Churned), billing, due, d("2026-12-01")), Status::ScheduledToChurn);
        assert_eq!(Status::of(Some(Outcome::Churned), billing, due, d("2026-12-20")), Status::Decided);
        assert_eq!(Status::of(Some(Outcome::Churned), Some("person"), due, d("2026-12-01")), Status::Decided);
        assert_eq!(Status::of(Some(Outcome::Renewed), billing, due, d("2026-12-01")), Status::Decided);
        assert_eq!(Status::of(None, None, due, d("2027-01-01")), Status::Pending);
    }

    #[test]
    fn contract_terms_are_three_months_or_more_by_default() {
        assert!(Terms::Contract.holds(12, 3) && Terms::Contract.holds(3, 3) && !Terms::Contract.holds(1, 3));
        assert!(Terms::Monthly.holds(1, 3) && !Terms::Monthly.holds(12, 3));
        assert!(Terms::All.holds(1, 3) && Terms::All.holds(12, 3));
    }

    #[test]
    fn a_month_without_a_rate_borrows_the_latest_known_and_says_so() {
        let m = |s: &str| s.parse::<Month>().unwrap();
        let mut fx = FxTable::new();
        fx.insert(("EUR".into(), m("2026-10")), Decimal::new(108, 2));
        fx.insert(("EUR".into(), m("2026-11")), Decimal::new(110, 2));
        fx.insert(("EUR".into(), m("2027-06")), Decimal::new(120, 2));
        let c = Converter::new(&fx, "USD", m("2026-12"));
        assert_eq!(
            c.rate("EUR", m("2026-10")),
            Some(Rate { rate: Decimal::new(108, 2), month: m("2026-10"), borrowed: false })
        );
        assert_eq!(
            c.rate("EUR", m("2027-02")),
            Some(Rate { rate: Decimal::new(110, 2), month: m("2026-11"), borrowed: true }),
            "a rate entered for a later month is not known as of today"
        );
        assert_eq!(c.rate("USD", m("2027-02")).unwrap().rate, Decimal::ONE);
        assert_eq!(c.rate("GBP", m("2026-11")), None);
    }

    #[test]
    fn outcomes_are_checked() {
        let d = Decimal::from;
        assert_eq!(Outcome::from_change(d(100), d(120)), Outcome::RenewedWithUpsell);
        assert_eq!(check_outcome(Outcome::Renewed, d(100), None, None).unwrap(), d(100));
        assert!(check_outcome(Outcome::Churned, d(100), None, Some(" ")).is_err());
        assert!(check_outcome(Outcome::RenewedWithUpsell, d(100), Some(d(90)), None).is_err());
        assert_eq!(check_outcome(Outcome::RenewedWithDownsell, d(100), Some(d(90)), None).unwrap(), d(90));
        assert_eq!(Outcome::parse("renewed_with_upsell").unwrap(), Outcome::RenewedWithUpsell);
    }
}
