//! Product usage figures of an account as of a day: active users over windows ending that day,
//! license utilisation, feature adoption and the trend against the previous period. Pure: the
//! store counts, this decides what the counts mean. Rates are percent (`Decimal`), `None` when
//! undefined (no seats, no features in the plan, nothing in the previous period).

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

/// The window of `days` days ending on `as_of` (both included): `(first, last)`.
pub fn window(as_of: NaiveDate, days: u64) -> (NaiveDate, NaiveDate) {
    (as_of - Days::new(days.max(1) - 1), as_of)
}

/// The window of the same length just before [`window`].
pub fn previous_window(as_of: NaiveDate, days: u64) -> (NaiveDate, NaiveDate) {
    window(as_of - Days::new(days.max(1)), days)
}

/// `part ÷ whole` in percent, to hundredths, as the metrics compute their rates.
pub fn percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    crate::metrics::ratio(part, whole).map(|r| r.round_dp(2))
}

/// License utilisation = users active in the last 30 days ÷ licensed seats, in percent. Above
/// 100 when more people use it than are licensed (a sign of expansion).
pub fn license_utilization(active_users_30d: i64, seats: i64) -> Option<Decimal> {
    (seats > 0).then_some(())?;
    percent(Decimal::from(active_users_30d), Decimal::from(seats))
}

/// One feature of a plan: the event names (`Report Built`, `page:Settings`) that count as using it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Feature {
    pub plan: String,
    pub feature: String,
    pub events: Vec<String>,
}

/// Which features of `plans` were used, given the event names used in the window: for each
/// feature (once, even when two plans list it), whether any of its events was used.
pub fn features_used<'a>(catalogue: &'a [Feature], plans: &[String], used: &BTreeSet<String>) -> Vec<(&'a str, bool)> {
    let mut seen = BTreeSet::new();
    catalogue
        .iter()
        .filter(|f| plans.contains(&f.plan) && seen.insert(f.feature.as_str()))
        .map(|f| (f.feature.as_str(), f.events.iter().any(|e| used.contains(e))))
        .collect()
}

/// Feature adoption = features used in the last 30 days ÷ features the plan includes, in percent.
pub fn feature_adoption(features: &[(&str, bool)]) -> Option<Decimal> {
    let used = features.iter().filter(|(_, u)| *u).count();
    percent(Decimal::from(used), Decimal::from(features.len()))
}

/// Trend = (this period − the previous one) ÷ the previous one, in percent: −25 when usage fell
/// by a quarter. Undefined when the previous period had nothing.
pub fn trend(current: i64, previous: i64) -> Option<Decimal> {
    percent(Decimal::from(current - previous), Decimal::from(previous))
}

/// Features a catalogue holds at most.
pub const CATALOGUE_ROWS: usize = 2_000;

/// Checks a plan → features catalogue: names present, no feature twice in a plan, at least one
/// event per feature. Errors name the row (`features[2].events`).
pub fn check_catalogue(rows: &[Feature]) -> Result<(), crate::Invalid> {
    let mut invalid = crate::Invalid::default();
    let mut keys = BTreeSet::new();
    crate::limits::count(&mut invalid, "features", rows.len(), CATALOGUE_ROWS, "features");
    for (i, f) in rows.iter().enumerate() {
        crate::limits::text(&mut invalid, &format!("features[{i}].plan"), Some(&f.plan), crate::limits::SHORT_TEXT);
        crate::limits::text(&mut invalid, &format!("features[{i}].feature"), Some(&f.feature), crate::limits::NAME);
        crate::limits::count(&mut invalid, &format!("features[{i}].events"), f.events.len(), 100, "events");
        for (k, e) in f.events.iter().enumerate() {
            crate::limits::text(
                &mut invalid,
                &format!("features[{i}].events[{k}]"),
                Some(e),
                crate::limits::EVENT_NAME,
            );
        }
        if f.plan.trim().is_empty() {
            invalid.push(format!("features[{i}].plan"), "is empty");
        }
        if f.feature.trim().is_empty() {
            invalid.push(format!("features[{i}].feature"), "is empty");
        } else if !keys.insert((f.plan.as_str(), f.feature.as_str())) {
            invalid.push(
                format!("features[{i}].feature"),
                format!("{:?} is listed twice for plan {:?}", f.feature, f.plan),
            );
        }
        if f.events.iter().all(|e| e.trim().is_empty()) {
            invalid.push(format!("features[{i}].events"), "names no event");
        }
    }
    invalid.into_result(())
}

/// The catalogue as text, one feature per line: `plan: feature = Event, page:Name`.
pub fn catalogue_text(rows: &[Feature]) -> String {
    rows.iter().map(|f| format!("{}: {} = {}\n", f.plan, f.feature, f.events.join(", "))).collect()
}

/// Reads [`catalogue_text`] back; blank lines and lines starting with `#` are skipped. Errors
/// name the line (`line 3`).
pub fn parse_catalogue(text: &str) -> Result<Vec<Feature>, crate::Invalid> {
    let mut invalid = crate::Invalid::default();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once('=').and_then(|(left, events)| {
            let (plan, feature) = left.split_once(':')?;
            let events = events.split(',').map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect();
            Some(Feature { plan: plan.trim().into(), feature: feature.trim().into(), events })
        });
        match parsed {
            Some(f) => rows.push((i + 1, f)),
            None => invalid.push(format!("line {}", i + 1), "is not `plan: feature = Event, Event`"),
        }
    }
    let features: Vec<Feature> = rows.iter().map(|(_, f)| f.clone()).collect();
    if let Err(e) = check_catalogue(&features) {
        for err in e.errors {
            // `features[2].events` → the line the third feature is on.
            let k: usize =
                err.field.trim_start_matches("features[").split(']').next().and_then(|k| k.parse().ok()).unwrap_or(0);
            let field = err.field.rsplit('.').next().unwrap_or_default();
            invalid.push(format!("line {}", rows[k].0), format!("{field} {}", err.message));
        }
    }
    invalid.into_result(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn windows_end_on_the_day_and_the_previous_one_touches_it() {
        assert_eq!(window(d("2026-03-31"), 30), (d("2026-03-02"), d("2026-03-31")));
        assert_eq!(previous_window(d("2026-03-31"), 30), (d("2026-01-31"), d("2026-03-01")));
        assert_eq!(window(d("2026-03-31"), 1), (d("2026-03-31"), d("2026-03-31")));
    }

    #[test]
    fn license_utilization_is_active_users_over_seats() {
        // 45 users active in 30 days on a 50-seat subscription: 90 %.
        assert_eq!(license_utilization(45, 50), Some(Decimal::from(90)));
        assert_eq!(license_utilization(60, 50), Some(Decimal::from(120)));
        assert_eq!(license_utilization(1, 3), Some(Decimal::new(3333, 2)));
        assert_eq!(license_utilization(5, 0), None);
    }

    #[test]
    fn adoption_counts_each_feature_of_the_plan_once() {
        let f = |plan: &str, feature: &str, events: &[&str]| Feature {
            plan: plan.into(),
            feature: feature.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
        };
        let catalogue = vec![
            f("pro", "reports", &["Report Built", "page:Reports"]),
            f("pro", "exports", &["Export Run"]),
            f("pro", "alerts", &["Alert Created"]),
            f("pro", "api", &["API Call"]),
            f("pro", "sso", &["SSO Login"]),
            f("enterprise", "reports", &["Report Built"]),
            f("starter", "reports", &["Report Built"]),
        ];
        let used: BTreeSet<String> = ["page:Reports", "Export Run", "API Call", "Signed In"].map(String::from).into();
        let features = features_used(&catalogue, &["pro".into(), "enterprise".into()], &used);
        assert_eq!(features.len(), 5, "reports counted once across the two plans");
        // 3 of the plan's 5 features used in 30 days: 60 %.
        assert_eq!(feature_adoption(&features), Some(Decimal::from(60)));
        assert_eq!(feature_adoption(&features_used(&catalogue, &["basic".into()], &used)), None);
    }

    #[test]
    fn trend_is_the_relative_change_against_the_previous_period() {
        // 300 events this month, 400 the month before: −25 %.
        assert_eq!(trend(300, 400), Some(Decimal::from(-25)));
        assert_eq!(trend(500, 400), Some(Decimal::from(25)));
        assert_eq!(trend(10, 0), None);
    }

    #[test]
    fn a_catalogue_names_each_bad_row() {
        let rows = vec![
            Feature { plan: "pro".into(), feature: "reports".into(), events: vec!["Report Built".into()] },
            Feature { plan: "pro".into(), feature: "reports".into(), events: vec!["x".into()] },
            Feature { plan: "".into(), feature: "alerts".into(), events: vec![] },
        ];
        let e = check_catalogue(&rows).unwrap_err();
        let fields: Vec<&str> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["features[1].feature", "features[2].plan", "features[2].events"]);
    }

    #[test]
    fn the_catalogue_reads_back_from_its_text() {
        let text = "# plan: feature = events\npro: reports = Report Built, page:Reports\n\npro: exports = Export Run\n";
        let rows = parse_catalogue(text).unwrap();
        assert_eq!(rows[0].events, ["Report Built", "page:Reports"]);
        assert_eq!(parse_catalogue(&catalogue_text(&rows)).unwrap(), rows);
        let e = parse_catalogue("pro reports\npro: exports =\npro: exports = X\n").unwrap_err();
        let got: Vec<(String, String)> = e.errors.into_iter().map(|e| (e.field, e.message)).collect();
        assert_eq!(got[0], ("line 1".into(), "is not `plan: feature = Event, Event`".into()));
        assert_eq!(got[1], ("line 2".into(), "events names no event".into()));
        assert_eq!(got[2].0, "line 3");
    }
}
