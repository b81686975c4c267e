//! Health scoring, pure (DOMAIN.md, *Health scores*): each measure's raw value mapped to 0–100,
//! the account's score the weighted mean of its applicable measures, each measure's contribution,
//! the red / yellow / green band, and ROC AUC for backtests.
//!
//! A measure that does not apply (its `applies_if` is false) is left out, never counted as 0. A
//! measure without data is shown as missing and, by default, left out too. Contributions are
//! rounded to hundredths and the score is their sum, so they always add up to it exactly.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How a measure's raw value becomes a 0–100 score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Scale {
    /// 0 at `bad`, 100 at `good`, linear between, clamped outside. `good` may be below `bad`
    /// (fewer days since the last login is better).
    Linear { bad: Decimal, good: Decimal },
    /// `(from, score)` pairs: a value scores as the highest `from` it reaches; below the lowest, 0.
    Bands { bands: Vec<(Decimal, Decimal)> },
}

impl Scale {
    pub fn score(&self, value: Decimal) -> Decimal {
        let hundred = Decimal::ONE_HUNDRED;
        match self {
            Scale::Linear { bad, good } if bad == good => {
                if value >= *good {
                    hundred
                } else {
                    Decimal::ZERO
                }
            }
            Scale::Linear { bad, good } => ((value - bad) / (good - bad) * hundred).clamp(Decimal::ZERO, hundred),
            Scale::Bands { bands } => bands
                .iter()
                .filter(|(from, _)| value >= *from)
                .max_by_key(|(from, _)| *from)
                .map_or(Decimal::ZERO, |(_, s)| (*s).clamp(Decimal::ZERO, hundred)),
        }
    }
}

/// What a measure without data counts as.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind", content = "score")]
pub enum Missing {
    /// Left out of the score (the default).
    #[default]
    Skip,
    /// Counted as this score.
    Score(Decimal),
}

/// A measure of a scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub key: String,
    pub weight: Decimal,
    pub scale: Scale,
    pub missing: Missing,
}

/// A measure's reading for one account: its raw value (None: no data) and whether it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub value: Option<Decimal>,
    pub applicable: bool,
}

/// One line of a score's explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub key: String,
    pub value: Option<Decimal>,
    /// 0–100; None when missing and skipped, or not applicable.
    pub score: Option<Decimal>,
    pub weight: Decimal,
    /// Points of the overall score this measure brings (0 when left out).
    pub contribution: Decimal,
    pub applicable: bool,
    pub missing: bool,
}

/// An account's score and its explanation. `score` is None when no measure counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub score: Option<Decimal>,
    pub lines: Vec<Line>,
    /// What the score rests on, percent: the weight of applicable measures with data ÷ the
    /// weight of all applicable measures (a `missing_score` stand-in counts as without data).
    /// None when no measure applies.
    pub coverage: Option<Decimal>,
}

/// Coverage of `lines`, percent, to hundredths (DOMAIN.md: weights 2, 1, 1.5 and 1.5 apply,
/// only the last two have data: 3 ÷ 6 = 50 %).
pub fn coverage(lines: &[Line]) -> Option<Decimal> {
    let applicable: Decimal = lines.iter().filter(|l| l.applicable).map(|l| l.weight).sum();
    let with_data: Decimal = lines.iter().filter(|l| l.applicable && !l.missing).map(|l| l.weight).sum();
    (applicable > Decimal::ZERO).then(|| (with_data / applicable * Decimal::ONE_HUNDRED).round_dp(2))
}

/// Scores `readings` (in the order of `measures`) with the weighted mean of the measures that
/// apply and count.
pub fn score(measures: &[Measure], readings: &[Reading]) -> Scored {
    let mut lines: Vec<Line> = measures
        .iter()
        .zip(readings)
        .map(|(m, r)| {
            let missing = r.value.is_none();
            let score = match (r.applicable, r.value, m.missing) {
                (false, _, _) => None,
                (true, Some(v), _) => Some(m.scale.score(v).round_dp(2)),
                (true, None, Missing::Score(s)) => Some(s),
                (true, None, Missing::Skip) => None,
            };
            Line {
                key: m.key.clone(),
                value: r.value,
                score,
                weight: m.weight,
                contribution: Decimal::ZERO,
                applicable: r.applicable,
                missing,
            }
        })
        .collect();
    let coverage = coverage(&lines);
    let total: Decimal = lines.iter().filter(|l| l.score.is_some()).map(|l| l.weight).sum();
    if total <= Decimal::ZERO {
        return Scored { score: None, lines, coverage };
    }
    // The score is the exact weighted mean rounded to hundredths; each contribution is its
    // share cut to hundredths, and the cents the cuts lost go to the largest remainders, so the
    // contributions add up to the score exactly and it never leaves 0–100 by rounding.
    let exact: Vec<(usize, Decimal)> =
        lines.iter().enumerate().filter_map(|(i, l)| l.score.map(|s| (i, s * l.weight / total))).collect();
    let score = exact.iter().map(|(_, c)| *c).sum::<Decimal>().round_dp(2);
    let cent = Decimal::new(1, 2);
    for (i, c) in &exact {
        lines[*i].contribution = c.trunc_with_scale(2);
    }
    let mut short = ((score - lines.iter().map(|l| l.contribution).sum::<Decimal>()) / cent).round();
    let mut by_remainder: Vec<(usize, Decimal)> = exact.iter().map(|(i, c)| (*i, *c - c.trunc_with_scale(2))).collect();
    by_remainder.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (i, _) in by_remainder {
        if short <= Decimal::ZERO {
            break;
        }
        lines[i].contribution += cent;
        short -= Decimal::ONE;
    }
    Scored { score: Some(score), lines, coverage }
}

/// Red, yellow or green; or why there is no score: `unscored` (too little data: coverage below
/// the scorecard's minimum), `churned` (revenue gone: not scored, not counted in the bands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Red,
    Yellow,
    Green,
    Unscored,
    Churned,
}

/// Where the bands start: red below `yellow`, green from `green` (defaults 40 and 70).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bands {
    pub yellow: Decimal,
    pub green: Decimal,
}

impl Default for Bands {
    fn default() -> Self {
        Bands { yellow: Decimal::from(40), green: Decimal::from(70) }
    }
}

impl Band {
    pub const ALL: [Band; 5] = [Band::Red, Band::Yellow, Band::Green, Band::Unscored, Band::Churned];

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Red => "red",
            Band::Yellow => "yellow",
            Band::Green => "green",
            Band::Unscored => "unscored",
            Band::Churned => "churned",
        }
    }

    pub fn parse(s: &str) -> Option<Band> {
        Band::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// A colour of a score (not a reason for having none).
    pub fn is_scored(self) -> bool {
        matches!(self, Band::Red | Band::Yellow | Band::Green)
    }
}

impl Bands {
    pub fn of(&self, score: Decimal) -> Band {
        if score < self.yellow {
            Band::Red
        } else if score < self.green {
            Band::Yellow
        } else {
            Band::Green
        }
    }
}

/// ROC AUC of `scores` at telling the positives (`true`: churned) from the negatives, where a
/// *lower* score should mean churn: the chance that a random churned account scored below a
/// random retained one, ties counting half. None without both kinds.
pub fn auc(observations: &[(f64, bool)]) -> Option<f64> {
    let mut sorted: Vec<(f64, bool)> = observations.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|o| o.1).count() as f64;
    let negatives = sorted.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // For each run of tied scores: its churned accounts score below every retained one above
    // the run, and half of the retained ones in it.
    let (mut wins, mut retained_above) = (0.0, negatives);
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().position(|o| o.0 != sorted[i].0).map_or(sorted.len(), |k| i + k);
        let churned = sorted[i..j].iter().filter(|o| o.1).count() as f64;
        let retained = (j - i) as f64 - churned;
        retained_above -= retained;
        wins += churned * (retained_above + retained / 2.0);
        i = j;
    }
    Some(wins / (positives * negatives))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn linear(key: &str, weight: &str, bad: &str, good: &str) -> Measure {
        Measure {
            key: key.into(),
            weight: d(weight),
            scale: Scale::Linear { bad: d(bad), good: d(good) },
            missing: Missing::Skip,
        }
    }

    /// DOMAIN.md: measures of weights 2, 1, 1.5 and 1.5 apply; only the last two have data;
    /// coverage = 3 ÷ 6 = 50 %. A `missing_score` stand-in is not data; a measure that does not
    /// apply is in neither weight.
    #[test]
    fn coverage_is_the_weight_with_data_over_the_weight_that_applies() {
        let mut fallback = linear("b", "1", "0", "10");
        fallback.missing = Missing::Score(d("50"));
        let measures =
            [linear("a", "2", "0", "10"), fallback, linear("c", "1.5", "0", "10"), linear("d", "1.5", "0", "10")];
        let read = |v: Option<&str>| Reading { value: v.map(d), applicable: true };
        let scored = score(&measures, &[read(None), read(None), read(Some("10")), read(Some("5"))]);
        assert_eq!(scored.coverage, Some(d("50")));
        // The stand-in still counts in the score: (50 × 1 + 100 × 1.5 + 50 × 1.5) ÷ 4.
        assert_eq!(scored.score, Some(d("68.75")));
        let off = Reading { value: None, applicable: false };
        let scored = score(&measures, &[off.clone(), off, read(Some("10")), read(None)]);
        assert_eq!(scored.coverage, Some(d("50")), "1.5 of 3");
        let none = Reading { value: None, applicable: false };
        assert_eq!(score(&measures[..1], &[none]).coverage, None);
    }

    #[test]
    fn scales_map_values_to_0_100_either_way() {
        let utilisation = Scale::Linear { bad: d("20"), good: d("80") };
        assert_eq!(utilisation.score(d("50")), d("50"));
        assert_eq!(utilisation.score(d("95")), d("100"));
        assert_eq!(utilisation.score(d("5")), d("0"));
        // Days since the last interaction: 7 is good, 60 bad.
        let silence = Scale::Linear { bad: d("60"), good: d("7") };
        assert_eq!(silence.score(d("7")), d("100"));
        assert_eq!(silence.score(d("33.5")), d("50"));
        let overdue = Scale::Bands { bands: vec![(d("0"), d("100")), (d("1"), d("60")), (d("30"), d("0"))] };
        assert_eq!(overdue.score(d("0")), d("100"));
        assert_eq!(overdue.score(d("12")), d("60"));
        assert_eq!(overdue.score(d("45")), d("0"));
    }

    #[test]
    fn the_score_is_the_weighted_mean_of_what_applies_and_contributions_add_up() {
        // Usage 3×, adoption 2× (its plan lacks the feature), silence 1×, overdue 1× (no data).
        let measures = [
            linear("license_utilization", "3", "20", "80"),
            linear("feature_adoption", "2", "0", "100"),
            linear("days_since_interaction", "1", "60", "7"),
            linear("days_overdue", "1", "30", "0"),
        ];
        let readings = [
            Reading { value: Some(d("65")), applicable: true },   // scores 75
            Reading { value: Some(d("10")), applicable: false },  // left out, not 0
            Reading { value: Some(d("33.5")), applicable: true }, // scores 50
            Reading { value: None, applicable: true },            // missing: skipped
        ];
        let s = score(&measures, &readings);
        // (3 × 75 + 1 × 50) ÷ 4 = 68.75.
        assert_eq!(s.score, Some(d("68.75")));
        let contributions: Vec<Decimal> = s.lines.iter().map(|l| l.contribution).collect();
        assert_eq!(contributions, [d("56.25"), d("0"), d("12.50"), d("0")]);
        assert_eq!(contributions.iter().sum::<Decimal>(), s.score.unwrap());
        assert!(s.lines[3].missing && s.lines[3].score.is_none());
        assert_eq!(Bands::default().of(s.score.unwrap()), Band::Yellow);
        // Equal weights are the arithmetic mean; a missing value may count as configured.
        let mut equal = measures.clone().map(|m| Measure { weight: d("1"), ..m });
        equal[3].missing = Missing::Score(d("0"));
        let s = score(&equal, &readings);
        assert_eq!(s.score, Some(d("41.67")), "(75 + 50 + 0) ÷ 3");
        assert_eq!(s.lines.iter().map(|l| l.contribution).sum::<Decimal>(), d("41.67"));
    }

    #[test]
    fn rounding_never_breaks_the_sum_and_nothing_to_count_is_no_score() {
        let m = [linear("a", "1", "0", "3"), linear("b", "1", "0", "3"), linear("c", "1", "0", "3")];
        let r = [1, 1, 1].map(|_| Reading { value: Some(d("1")), applicable: true });
        let s = score(&m, &r);
        assert_eq!(s.score, Some(d("33.33")));
        assert_eq!(s.lines.iter().map(|l| l.contribution).sum::<Decimal>(), d("33.33"));
        let none = score(&m, &[1, 1, 1].map(|_| Reading { value: None, applicable: true }));
        assert_eq!(none.score, None);
    }

    #[test]
    fn bands_follow_the_domain_defaults() {
        let b = Bands::default();
        assert_eq!(
            (b.of(d("39.99")), b.of(d("40")), b.of(d("69.99")), b.of(d("70"))),
            (Band::Red, Band::Yellow, Band::Yellow, Band::Green)
        );
    }

    #[test]
    fn auc_is_the_chance_a_churner_scored_lower() {
        // Perfect: every churned account below every retained one.
        assert_eq!(auc(&[(10.0, true), (20.0, true), (70.0, false), (90.0, false)]), Some(1.0));
        assert_eq!(auc(&[(10.0, false), (20.0, false), (70.0, true), (90.0, true)]), Some(0.0));
        // One churner is below both retained accounts, the other ties one: (1 + 1 + 0.5 + 1) ÷ 4.
        assert_eq!(auc(&[(30.0, true), (50.0, true), (50.0, false), (80.0, false)]), Some(0.875));
        assert_eq!(auc(&[(30.0, true)]), None);
    }
}
