//! The demo's product usage: the events its accounts' people send, from the billing history
//! alone (same seed, same events). People use it on weekdays more than at weekends, less over
//! the year-end holidays and in August; an account's use ramps up after it signs, grows with
//! its seats (accounts that are about to buy more seats use nearly all they have), and fades in
//! the months before it churns, stopping when it does. Each account adopts some of its plan's
//! features; accounts that will churn adopt fewer.

use super::Book;
use chrono::{Datelike, Days, NaiveDate, TimeZone, Utc, Weekday};
use keepwell_core::billing::PeriodInput;
use keepwell_core::ingest::{track_row, Event, Kind};
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
    book: Book,
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
        // The other books' own choices come from a stream of their own, so the demo stays as it was.
        let mut own = StdRng::seed_from_u64(seed ^ 0xb00c ^ (i as u64).wrapping_mul(0x2545_f491));
        let shape = Shape::draw(book, churner, first, today, &mut own);
        // How keen its people are, and which of its plans' features it took up.
        let keen: f64 = match book {
            Book::Demo if churner => rng.gen_range(0.25..0.6),
            Book::Demo => rng.gen_range(0.45..0.95),
            // Leavers were no less keen than anyone until something changed.
            Book::Drift | Book::Billing | Book::Champion => rng.gen_range(0.3..0.95),
        };
        let adopted: Vec<&Feature> = catalogue
            .iter()
            .filter(|f| {
                rng.gen_bool(match book {
                    _ if f.feature == "reports" => 0.95,
                    Book::Demo if churner => 0.35,
                    Book::Demo => 0.65,
                    Book::Drift | Book::Champion => 0.5,
                    Book::Billing if churner => 0.45,
                    Book::Billing => 0.6,
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
            // Fading before a churn (in the demo, over the 90 days before it); ramping up over
            // the first 120 days.
            let fade = match book {
                Book::Demo => churns
                    .iter()
                    .filter(|c| **c > day)
                    .map(|c| ((*c - day).num_days() as f64 / 90.0).clamp(0.08, 1.0))
                    .fold(1.0, f64::min),
                Book::Drift | Book::Billing | Book::Champion => shape.pace(&churns, day),
            };
            let ramp = (0.35 + (day - signed).num_days() as f64 / 120.0).min(1.0);
            // Seats bought soon: it had grown into the ones it had.
            let growing = spans.iter().any(|n| n.from > day && (n.from - day).num_days() <= 75 && n.seats > span.seats);
            let keen = if growing { keen.max(0.92) } else { keen };
            let most = if book == Book::Champion { 8 } else { 40 };
            let users = ((span.seats as f64 / shape.oversold).ceil() as i64).clamp(1, most);
            let habit_of = |k: i64| 0.25 + 0.75 * ((k * 7919 + i as i64) % 10) as f64 / 10.0;
            let champion = (0..users).max_by(|a, b| habit_of(*a).total_cmp(&habit_of(*b)).then(b.cmp(a)));
            let features: Vec<&&Feature> = adopted.iter().filter(|f| f.plan == span.plan).collect();
            for k in 0..users {
                // Some people use it daily, some now and then.
                let habit = habit_of(k);
                let gone = shape.left(&churns, day, (k, users, habit), champion == Some(k));
                if gone || !rng.gen_bool((keen * habit * fade * ramp * season(day) * 0.45).clamp(0.0, 1.0)) {
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

/// How one account of a book other than the demo behaves over the year: whether and how its
/// people leave before a churn, and the lulls and spare seats of accounts that stay.
struct Shape {
    book: Book,
    /// Its usage shows nothing of a coming churn (a budget cut, a merger).
    silent: bool,
    /// Drift: people stop, most of them at once, this many days before the churn.
    drop_days: i64,
    /// Drift: the share of people who keep going after the drop.
    kept: f64,
    /// A stayer's quiet stretch (holidays, a project paused): from, days, and how much is left.
    lull: Option<(NaiveDate, i64, f64)>,
    /// Champion: a stayer's champion moves on this day (the account carries on without them).
    moved_on: Option<NaiveDate>,
    /// Seats bought ÷ people using them (over-provisioned accounts use a third of theirs).
    oversold: f64,
}

impl Shape {
    fn draw(book: Book, churner: bool, first: NaiveDate, today: NaiveDate, rng: &mut StdRng) -> Shape {
        let days = (today - first).num_days().max(61);
        let mut shape =
            Shape { book, silent: false, drop_days: 0, kept: 1.0, lull: None, moved_on: None, oversold: 1.0 };
        match book {
            Book::Demo => {}
            Book::Drift => {
                shape.silent = churner && rng.gen_bool(0.2);
                shape.drop_days = rng.gen_range(20..150);
                shape.kept = rng.gen_range(0.1..0.6);
                if !churner && rng.gen_bool(0.2) {
                    let from = first + Days::new(rng.gen_range(0..days - 60) as u64);
                    shape.lull = Some((from, rng.gen_range(20..60), rng.gen_range(0.1..0.3)));
                }
                if !churner && rng.gen_bool(0.25) {
                    shape.oversold = rng.gen_range(2.0..4.0);
                }
            }
            Book::Champion => {
                shape.silent = churner && rng.gen_bool(0.3);
                shape.drop_days = rng.gen_range(30..90);
                if !churner && rng.gen_bool(0.15) {
                    shape.moved_on = Some(first + Days::new(rng.gen_range(0..days) as u64));
                }
            }
            Book::Billing => {
                shape.silent = churner && rng.gen_bool(0.5);
                if !churner && rng.gen_bool(0.1) {
                    let from = first + Days::new(rng.gen_range(0..days - 60) as u64);
                    shape.lull = Some((from, rng.gen_range(14..45), rng.gen_range(0.2..0.5)));
                }
            }
        }
        shape
    }

    /// How much of its usual use the account has on `day`: less in a lull, and (champion) a
    /// third less over the 60 days before a churn its usage shows.
    fn pace(&self, churns: &[NaiveDate], day: NaiveDate) -> f64 {
        let slowing = self.book == Book::Champion
            && !self.silent
            && churns.iter().any(|c| *c > day && (*c - day).num_days() <= 60);
        match self.lull {
            Some((from, days, left)) if day >= from && (day - from).num_days() < days => left,
            _ if slowing => 0.67,
            _ => 1.0,
        }
    }

    /// Whether user `k` of `users` (with their `habit`) has stopped on `day` ahead of a churn.
    /// Drift: all but the `kept` share stop at once, `drop_days` before. Billing: in the last
    /// 30 days only the habitual users keep going, so events fall less than users do.
    /// Champion: the most habitual user stops `drop_days` before (and a stayer's may move on).
    fn left(&self, churns: &[NaiveDate], day: NaiveDate, (k, users, habit): (i64, i64, f64), champion: bool) -> bool {
        if champion && self.moved_on.is_some_and(|m| day >= m) {
            return true;
        }
        if self.silent {
            return false;
        }
        let Some(until) = churns.iter().filter(|c| **c > day).map(|c| (*c - day).num_days()).min() else {
            return false;
        };
        match self.book {
            Book::Demo => false,
            Book::Drift => until <= self.drop_days && k as f64 >= (users as f64 * self.kept).ceil(),
            Book::Billing => until <= 30 && habit < 0.6,
            Book::Champion => champion && until <= self.drop_days,
        }
    }
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
        let a = events(7, Book::Demo, &periods, &crm, &ids, today);
        assert_eq!(a, events(7, Book::Demo, &periods, &crm, &ids, today), "the same seed, the same events");
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
