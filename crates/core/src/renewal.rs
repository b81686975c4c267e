//! Renewals: every date a subscription is up, what happened, and the renewal rates.

use crate::metrics::ratio;
use crate::money::Month;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
