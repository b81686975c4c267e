//! Backtests: how well a scorecard, and each of its measures alone, told the accounts that
//! churned (MRR to zero) within the next N days from those that did not, over a past period;
//! and weights fitted to the workspace's own history by logistic regression (linfa), judged on a
//! later period than the one they were fitted on.

use crate::daily::Plan;
use crate::definitions::Scorecard;
use crate::facts::{AccountDay, Context, Facts};
use crate::health::{auc, Band, Measure, Reading};
use chrono::{Days, NaiveDate};
use linfa::traits::Fit;
use linfa::Dataset;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

/// One account on one day of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub day: NaiveDate,
    /// Its MRR went to zero within the horizon.
    pub churned: bool,
    pub readings: Vec<Reading>,
    pub score: Option<f64>,
    pub band: Option<Band>,
}

/// The days an account's MRR went from above zero to zero.
fn churn_days(facts: &Facts, ctx: Context) -> Vec<NaiveDate> {
    let mut days: Vec<NaiveDate> = facts.periods.iter().filter_map(|p| p.ends_on).collect();
    days.sort_unstable();
    days.dedup();
    days.into_iter()
        .filter(|d| {
            let mrr = |day: NaiveDate| AccountDay::new(facts, Context { day, ..ctx }).contract().mrr;
            mrr(*d) == Decimal::ZERO && d.pred_opt().is_some_and(|p| mrr(p) > Decimal::ZERO)
        })
        .collect()
}

/// Scores every account the scorecard applies to on every `step`-th day from `from` to `to`,
/// and labels each with whether it churned within `horizon` days. Accounts without MRR on a
/// day are not observed (there is nothing left to lose).
pub fn observe(
    plan: &Plan,
    card: &Scorecard,
    ctx: Context,
    facts: &[Facts],
    (from, to, step): (NaiveDate, NaiveDate, u64),
    horizon: u64,
) -> Vec<Observation> {
    let mut out = Vec::new();
    let churns: Vec<Vec<NaiveDate>> = facts.iter().map(|f| churn_days(f, ctx)).collect();
    let mut day = from;
    while day <= to {
        let ctx = Context { day, ..ctx };
        let until = day + Days::new(horizon);
        for (f, churn) in facts.iter().zip(&churns) {
            let env = AccountDay::new(f, ctx);
            if env.contract().mrr <= Decimal::ZERO {
                continue;
            }
            let applies = match (&card.def.segment, card.def.onboarding_days) {
                (Some(key), _) => plan.segments.iter().any(|s| &s.key == key && s.filter.eval(&env)),
                (None, Some(days)) => env.contract().tenure_days.is_none_or(|t| t < i64::from(days)),
                (None, None) => true,
            };
            if !applies {
                continue;
            }
            let readings = card.readings(&env);
            // An account with MRR left is not churned (those without are not observed).
            let outcome = card.score(&readings, false);
            out.push(Observation {
                day,
                churned: churn.iter().any(|c| *c > day && *c <= until),
                readings,
                score: outcome.scored.score.and_then(|s| s.to_f64()),
                band: outcome.band,
            });
        }
        day = day + Days::new(step.max(1));
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BandRow {
    pub band: Band,
    pub account_days: usize,
    pub churned: usize,
    /// Percent of the band's account-days that churned within the horizon.
    pub churn_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MeasureRow {
    pub key: String,
    /// How well this measure alone told churn apart (0.5: no better than chance).
    pub auc: Option<f64>,
    /// Account-days where it had a score.
    pub observations: usize,
    pub weight: f64,
    pub suggested_weight: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Fitted {
    /// The observations the weights were fitted on: the earlier two thirds of the period.
    pub fitted_from: NaiveDate,
    pub fitted_to: NaiveDate,
    /// The later third, which the AUCs below are measured on.
    pub held_out_from: NaiveDate,
    pub held_out_to: NaiveDate,
    pub held_out_auc_current: Option<f64>,
    pub held_out_auc_suggested: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub account_days: usize,
    pub churned: usize,
    /// Percent of all account-days that churned within the horizon.
    pub churn_rate: Option<f64>,
    /// ROC AUC of the score (0.5: chance; 1: perfect).
    pub auc: Option<f64>,
    pub bands: Vec<BandRow>,
    /// The red band's churn rate over the overall one.
    pub red_lift: Option<f64>,
    pub measures: Vec<MeasureRow>,
    /// Points of the ROC curve: (false positive rate, true positive rate), from (0,0) to (1,1).
    pub roc: Vec<(f64, f64)>,
    pub fit: Option<Fitted>,
}

fn percent(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 10_000.0 / whole as f64).round() / 100.0)
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// ROC curve points of `scores` (lower = churn) at up to 50 thresholds.
fn roc(obs: &[(f64, bool)]) -> Vec<(f64, f64)> {
    let pos = obs.iter().filter(|o| o.1).count() as f64;
    let neg = obs.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return Vec::new();
    }
    let mut points = vec![(0.0, 0.0)];
    for t in 1..=50 {
        let threshold = f64::from(t) * 2.0;
        let tp = obs.iter().filter(|o| o.1 && o.0 < threshold).count() as f64;
        let fp = obs.iter().filter(|o| !o.1 && o.0 < threshold).count() as f64;
        points.push((round(fp / neg), round(tp / pos)));
    }
    points.push((1.0, 1.0));
    points.dedup();
    points
}

/// The score of `readings` with `weights` (missing and not applicable left out), 0–100.
fn weighted(readings: &[f64], present: &[bool], weights: &[f64]) -> Option<f64> {
    let (mut sum, mut total) = (0.0, 0.0);
    for ((r, p), w) in readings.iter().zip(present).zip(weights) {
        if *p {
            sum += r * w;
            total += w;
        }
    }
    (total > 0.0).then(|| sum / total)
}

/// Reads a backtest's observations: overall and per-measure AUC, churn per band, the ROC curve,
/// and weights fitted on the earlier two thirds of the days, judged on the later third.
pub fn report(card: &Scorecard, measures: &[Measure], obs: &[Observation]) -> Report {
    let churned = obs.iter().filter(|o| o.churned).count();
    // An unscored account ranks below every scored one: a high minimum coverage that leaves out
    // the accounts it cannot score cannot flatter the AUC.
    let scored: Vec<(f64, bool)> = obs.iter().map(|o| (o.score.unwrap_or(-1.0), o.churned)).collect();
    let bands: Vec<BandRow> = [Band::Red, Band::Yellow, Band::Green, Band::Unscored]
        .into_iter()
        .map(|band| {
            let inside: Vec<&Observation> = obs.iter().filter(|o| o.band == Some(band)).collect();
            let c = inside.iter().filter(|o| o.churned).count();
            BandRow { band, account_days: inside.len(), churned: c, churn_rate: percent(c, inside.len()) }
        })
        .collect();
    let overall = percent(churned, obs.len());
    let red_lift = match (bands[0].churn_rate, overall) {
        (Some(r), Some(o)) if o > 0.0 => Some((r / o * 100.0).round() / 100.0),
        _ => None,
    };
    // Each measure's own score (0–100) for each observation, where it has one.
    let per: Vec<Vec<Option<f64>>> = obs
        .iter()
        .map(|o| {
            measures
                .iter()
                .zip(&o.readings)
                .map(|(m, r)| match (r.applicable, r.value) {
                    (true, Some(v)) => m.scale.score(v).to_f64(),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let fit = fit(card, obs, &per);
    let rows = measures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let pairs: Vec<(f64, bool)> =
                per.iter().zip(obs).filter_map(|(p, o)| p[i].map(|s| (s, o.churned))).collect();
            MeasureRow {
                key: m.key.clone(),
                auc: auc(&pairs).map(round),
                observations: pairs.len(),
                weight: m.weight.to_f64().unwrap_or(0.0),
                suggested_weight: fit.as_ref().map(|f| f.1[i]),
            }
        })
        .collect();
    Report {
        account_days: obs.len(),
        churned,
        churn_rate: overall,
        auc: auc(&scored).map(round),
        bands,
        red_lift,
        measures: rows,
        roc: roc(&scored),
        fit: fit.map(|f| f.0),
    }
}

/// Logistic regression of churn on the measures' scores over the earlier two thirds of the
/// days; the weights are the coefficients by which a higher score means less churn (others 0),
/// scaled to the scorecard's total weight.
fn fit(card: &Scorecard, obs: &[Observation], per: &[Vec<Option<f64>>]) -> Option<(Fitted, Vec<f64>)> {
    let mut days: Vec<NaiveDate> = obs.iter().map(|o| o.day).collect();
    days.sort_unstable();
    days.dedup();
    if days.len() < 3 {
        return None;
    }
    let cut = days[days.len() * 2 / 3];
    let n = card.def.measures.len();
    let (train, test): (Vec<usize>, Vec<usize>) = (0..obs.len()).partition(|&i| obs[i].day < cut);
    // A measure without a score is imputed at its training mean, so that it says nothing.
    let means: Vec<f64> = (0..n)
        .map(|j| {
            let v: Vec<f64> = train.iter().filter_map(|&i| per[i][j]).collect();
            if v.is_empty() {
                50.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        })
        .collect();
    let mut x = Array2::<f64>::zeros((train.len(), n));
    for (row, &i) in train.iter().enumerate() {
        for j in 0..n {
            x[[row, j]] = per[i][j].unwrap_or(means[j]) / 100.0;
        }
    }
    let y: Array1<bool> = train.iter().map(|&i| obs[i].churned).collect();
    let model = LogisticRegression::default().max_iterations(200).fit(&Dataset::new(x, y)).ok()?;
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    // A positive `risk` means a higher score came with more churn.
    let protective: Vec<f64> = model.params().iter().map(|c| (-sign * c).max(0.0)).collect();
    let total: f64 = protective.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let budget: f64 = card.weights().iter().filter_map(|w| w.to_f64()).sum();
    let weights: Vec<f64> = protective.iter().map(|p| (p / total * budget * 10.0).round() / 10.0).collect();
    let current: Vec<f64> = card.weights().iter().map(|w| w.to_f64().unwrap_or(0.0)).collect();
    let held = |w: &[f64]| {
        let pairs: Vec<(f64, bool)> = test
            .iter()
            .filter_map(|&i| {
                let vals: Vec<f64> = per[i].iter().map(|v| v.unwrap_or(0.0)).collect();
                let present: Vec<bool> = per[i].iter().map(Option::is_some).collect();
                weighted(&vals, &present, w).map(|s| (s, obs[i].churned))
            })
            .collect();
        auc(&pairs).map(round)
    };
    let fitted = Fitted {
        fitted_from: days[0],
        fitted_to: cut.pred_opt().unwrap_or(cut),
        held_out_from: cut,
        held_out_to: *days.last()?,
        held_out_auc_current: held(&current),
        held_out_auc_suggested: held(&weights),
    };
    Some((fitted, weights))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::{default_scorecard, ScaleDef};

    fn card() -> Scorecard {
        let mut d = default_scorecard();
        d.measures.truncate(2);
        d.measures[0].scale = ScaleDef::Linear { bad: Decimal::ZERO, good: Decimal::ONE_HUNDRED };
        d.measures[1].scale = ScaleDef::Linear { bad: Decimal::ZERO, good: Decimal::ONE_HUNDRED };
        // The noise weighs more than the signal in the scorecard as configured.
        d.measures[1].weight = Decimal::from(3);
        Scorecard::compile(1, 1, d).unwrap()
    }

    fn obs(day: u32, churned: bool, a: i64, b: i64) -> Observation {
        let readings = vec![
            Reading { value: Some(Decimal::from(a)), applicable: true },
            Reading { value: Some(Decimal::from(b)), applicable: true },
        ];
        let c = card();
        let outcome = c.score(&readings, false);
        Observation {
            day: NaiveDate::from_ymd_opt(2026, 1, day).unwrap(),
            churned,
            readings,
            score: outcome.scored.score.and_then(|s| s.to_f64()),
            band: outcome.band,
        }
    }

    #[test]
    fn a_measure_that_tells_churn_apart_gets_the_weight() {
        // Measure 0 is low exactly for the accounts that churn; measure 1 is noise.
        let mut all = Vec::new();
        for day in 1..=30 {
            for k in 0..20 {
                let churned = k < 4;
                let signal = if churned { 10 + k } else { 60 + k };
                let noise = (k * 37 + day as i64 * 11) % 100;
                all.push(obs(day, churned, signal, noise));
            }
        }
        let c = card();
        let r = report(&c, c.measures(), &all);
        assert_eq!((r.account_days, r.churned), (600, 120));
        assert_eq!(r.churn_rate, Some(20.0));
        assert_eq!(r.measures[0].auc, Some(1.0));
        assert!(r.measures[1].auc.unwrap() > 0.3 && r.measures[1].auc.unwrap() < 0.7);
        let fit = r.fit.expect("fitted");
        assert!(fit.held_out_from > fit.fitted_to);
        let w: Vec<f64> = r.measures.iter().map(|m| m.suggested_weight.unwrap()).collect();
        assert!(w[0] > w[1] * 3.0, "{w:?}");
        assert_eq!(fit.held_out_auc_suggested, Some(1.0));
        assert!(fit.held_out_auc_current.unwrap() < 1.0);
        assert!(r.roc.first() == Some(&(0.0, 0.0)) && r.roc.last() == Some(&(1.0, 1.0)));
        // Churners scored 5–15 on measure 0 (red with the noise), the rest 30–90.
        assert!(r.bands[0].churn_rate.unwrap() > 20.0 && r.red_lift.unwrap() > 1.0);
    }
}
