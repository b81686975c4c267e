//! The demo's product usage: the events its accounts' people send, from the billing history
//! alone (same seed, same events). People use it on weekdays more than at weekends, less over
//! the year-end holidays and in August; an account's use ramps up after it signs, grows with
//! its seats (accounts that are about to buy more seats use nearly all they have), and fades in
//! the months before it churns, stopping when it does. Each account adopts some of its plan's
//! features; accounts that will churn adopt fewer.

use chrono::{Datelike, Days, NaiveDate, TimeZone, Utc, Weekday};
use keepwell_core::billing::PeriodInput;
use keepwell_core::segment::{track_row, Event, Kind};
use keepwell_core::usage::Feature;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// Days of usage history the demo writes at most.
pub const USAGE_DAYS: u32 = 365;

/// The demo's features: the first plan (of `super::PLAN_LADDER`) that has it, its name and events.
const FEATURES: &[(usize, &str, &[&str])] = &[
    (0, "reports", &["Report Built", "page:Reports"]),
    (0, "dashboards", &["Dashboard Viewed"]),
    (0, "exports", &["Export Run"]),
    (1, "alerts", &["Alert Created"]),
    (1, "integrations", &["Integration Connected"]),
    (2, "api", &["API Call"]),
    (2, "automations", &["Automation Run"]),
    (3, "sso", &["SSO Login"]),
    (3, "audit_log", &["Audit Log Viewed"]),
];

/// The demo's plan → features catalogue: each plan has the features of the plans below it.
pub fn catalogue() -> Vec<Feature> {
    let mut rows = Vec::new();
    for (k, plan) in super::PLAN_LADDER.iter().enumerate() {
        for (_, feature, events) in FEATURES.iter().filter(|f| f.0 <= k) {
            rows.push(Feature {
                plan: plan.to_string(),
                feature: feature.to_string(),
                events: events.iter().map(|e| e.to_string()).collect(),
            });
        }
    }
    rows
}

/// One subscription period of an account, as far as usage cares.
struct Span {
    plan: String,
    seats: i64,
    from: NaiveDate,
    /// Exclusive; `None` while it runs.
    to: Option<NaiveDate>,
    /// Ended without a renewal.
    ended: bool,
}

fn date(s: &Option<String>) -> Option<NaiveDate> {
    s.as_deref().and_then(|d| d.parse().ok())
}

fn spans(periods: &[PeriodInput]) -> HashMap<String, Vec<Span>> {
    let mut by_account: HashMap<String, Vec<Span>> = HashMap::new();
    for p in periods {
        let (Some(account), Some(from)) = (p.account_external_id.clone(), date(&p.starts_on)) else { continue };
        by_account.entry(account).or_default().push(Span {
            plan: p.plan.clone().unwrap_or_default(),
            seats: p.quantity.as_deref().and_then(|q| q.parse().ok()).unwrap_or(1),
            from,
            to: date(&p.ends_on),
            ended: p.ends_on.is_some(),
        });
    }
    for s in by_account.values_mut() {
        s.sort_by_key(|s| s.from);
    }
    by_account
}

/// The days an account's subscriptions ended without a next period.
fn churn_days(spans: &[Span]) -> Vec<NaiveDate> {
    spans.iter().filter(|s| s.ended).filter_map(|s| s.to).filter(|end| !spans.iter().any(|n| n.from == *end)).collect()
}

/// Every account's churn days, by external id.
pub fn churns(periods: &[PeriodInput]) -> HashMap<String, Vec<NaiveDate>> {
    spans(periods).into_iter().map(|(account, s)| (account, churn_days(&s))).collect()
}

/// How much people use a product on `day`, of a usual weekday: weekends, the year-end holidays
/// and August are quieter.
fn season(day: NaiveDate) -> f64 {
    let weekday = match day.weekday() {
        Weekday::Sat | Weekday::Sun => 0.2,
        Weekday::Fri => 0.85,
        _ => 1.0,
    };
    let holidays = match (day.month(), day.day()) {
        (12, d) if d >= 22 => 0.45,
        (1, d) if d <= 2 => 0.45,
        (8, _) => 0.8,
        _ => 1.0,
    };
    weekday * holidays
}

/// Every account's events over the `USAGE_DAYS` before `today`, one list per account (by its
/// position in `accounts`), for accounts whose ids `ids` gives (external id → account id).
pub fn events(
    seed: u64,
    periods: &[PeriodInput],
    crm_ids: &[String],
    ids: &HashMap<String, i64>,
    today: NaiveDate,
) -> Vec<Vec<Event>> {
    let catalogue = catalogue();
    let spans = spans(periods);
    let first = today - Days::new(u64::from(USAGE_DAYS));
    let mut out = Vec::with_capacity(crm_ids.len());
    for (i, crm) in crm_ids.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9).wrapping_add(i as u64));
        let mut list = Vec::new();
        let (Some(spans), Some(&account)) = (spans.get(crm), ids.get(crm)) else {
            out.push(list);
            continue;
        };
        let churns = churn_days(spans);
        let churner = churns.iter().any(|c| *c > first);
        // How keen its people are, and which of its plans' features it took up.
        let keen: f64 = if churner { rng.gen_range(0.25..0.6) } else { rng.gen_range(0.45..0.95) };
        let adopted: Vec<&Feature> = catalogue
            .iter()
            .filter(|f| {
                rng.gen_bool(if f.feature == "reports" {
                    0.95
                } else if churner {
                    0.35
                } else {
                    0.65
                })
            })
            .collect();
        let signed = spans[0].from;
        let mut day = first.max(signed);
        while day < today {
            let Some(span) = spans.iter().find(|s| s.from <= day && s.to.is_none_or(|t| day < t)) else {
                day = day + Days::new(1);
                continue;
            };
            // Fading for the 90 days before a churn; ramping up over the first 120 days.
            let fade = churns
                .iter()
                .filter(|c| **c > day)
                .map(|c| ((*c - day).num_days() as f64 / 90.0).clamp(0.08, 1.0))
                .fold(1.0, f64::min);
            let ramp = (0.35 + (day - signed).num_days() as f64 / 120.0).min(1.0);
            // Seats bought soon: it had grown into the ones it had.
            let growing = spans.iter().any(|n| n.from > day && (n.from - day).num_days() <= 75 && n.seats > span.seats);
            let keen = if growing { keen.max(0.92) } else { keen };
            let users = span.seats.min(40);
            let features: Vec<&&Feature> = adopted.iter().filter(|f| f.plan == span.plan).collect();
            for k in 0..users {
                // Some people use it daily, some now and then.
                let habit = 0.25 + 0.75 * ((k * 7919 + i as i64) % 10) as f64 / 10.0;
                if !rng.gen_bool((keen * habit * fade * ramp * season(day) * 0.45).clamp(0.0, 1.0)) {
                    continue;
                }
                let user = format!("usr_{}_{k}", i + 1);
                for n in 0..rng.gen_range(1..=2) {
                    let name = match features.choose(&mut rng) {
                        Some(f) if rng.gen_bool(0.8) => f.events.choose(&mut rng).cloned().unwrap_or_default(),
                        _ => "page:Home".to_string(),
                    };
                    let at = Utc.from_utc_datetime(
                        &day.and_hms_opt(rng.gen_range(7..19), rng.gen_range(0..60), 0).unwrap_or_default(),
                    );
                    let id = format!("demo-{i}-{day}-{k}-{n}");
                    let mut e = track_row(account, user.clone(), name, at, None, id);
                    if let Some(page) = e.event.as_deref().and_then(|n| n.strip_prefix("page:")) {
                        e.event = Some(page.to_owned());
                        e.kind = Kind::Page;
                    }
                    list.push(e);
                }
            }
            day = day + Days::new(1);
        }
        out.push(list);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(
        account: &str,
        plan: &str,
        seats: u32,
        from: &str,
        ends: Option<&str>,
        renews: Option<&str>,
    ) -> PeriodInput {
        PeriodInput {
            account_external_id: Some(account.into()),
            subscription_id: Some(format!("{account}-{from}")),
            plan: Some(plan.into()),
            quantity: Some(seats.to_string()),
            starts_on: Some(from.into()),
            ends_on: ends.map(Into::into),
            renews_on: renews.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn usage_fades_before_churn_and_rests_at_weekends() {
        let today: NaiveDate = "2026-06-01".parse().unwrap();
        let periods = vec![
            period("stays", "Growth", 20, "2024-01-01", None, Some("2027-01-01")),
            period("leaves", "Growth", 20, "2024-01-01", Some("2026-03-01"), None),
        ];
        let crm = vec!["stays".to_string(), "leaves".to_string()];
        let ids = HashMap::from([("stays".to_string(), 1), ("leaves".to_string(), 2)]);
        let a = events(7, &periods, &crm, &ids, today);
        assert_eq!(a, events(7, &periods, &crm, &ids, today), "the same seed, the same events");
        let per = |list: &[Event], from: &str, to: &str| {
            let (from, to): (NaiveDate, NaiveDate) = (from.parse().unwrap(), to.parse().unwrap());
            list.iter().filter(|e| (from..to).contains(&e.timestamp.date_naive())).count()
        };
        let (stays, leaves) = (&a[0], &a[1]);
        assert!(per(leaves, "2026-03-01", "2026-06-01") == 0, "nothing after the churn");
        let before = per(leaves, "2025-09-01", "2025-11-01");
        let last = per(leaves, "2026-01-01", "2026-03-01");
        assert!(last * 2 < before, "fading: {before} then {last}");
        assert!(per(stays, "2026-01-01", "2026-03-01") > last * 2);
        let weekend = stays.iter().filter(|e| e.timestamp.weekday().num_days_from_monday() >= 5).count();
        assert!(weekend * 7 < stays.len(), "weekends are quiet: {weekend} of {}", stays.len());
        assert!(stays.iter().all(|e| e.account_id == Some(1)));
    }
}
