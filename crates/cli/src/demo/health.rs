//! The demo's health: segments and lifecycle rules as a team would write them, and CSM
//! sentiment ratings (gloomier before a churn). The demo then replays the daily pass over the
//! last `REPLAY_DAYS` so the pages have history.

use super::Book;
use chrono::{Days, NaiveDate};
use keepwell_core::billing::PeriodInput;
use keepwell_core::definitions::Definitions;
use keepwell_server::cause::Caller;
use keepwell_store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// Days of daily snapshots the demo replays.
pub const REPLAY_DAYS: u64 = 120;

pub const DEFINITIONS: &str = r#"
[[segment]]
key = "enterprise"
name = "Enterprise"
filter = "employees >= 1000 or arr >= 100000"

[[segment]]
key = "at-risk"
name = "At risk"
filter = '(band = "red" and stage != "churned") or days_to_churn >= 0'

[[segment]]
key = "dach"
name = "DACH"
filter = 'country in ["DE", "AT", "CH"]'

[[lifecycle_rule]]
key = "churned"
name = "No revenue left"
stage = "churned"
condition = "mrr = 0 and tenure_days > 0"
priority = 1

[[lifecycle_rule]]
key = "onboarding"
name = "First 90 days"
stage = "onboarding"
condition = "tenure_days < 90"
priority = 2

[[lifecycle_rule]]
key = "adoption"
name = "Onboarded"
stage = "adoption"
condition = 'stage = "onboarding" and tenure_days >= 90'
priority = 3
"#;

const GLOOMY: &[&str] =
    &["budget under review", "champion left", "they are evaluating a competitor", "slow replies to our emails"];
const CHEERY: &[&str] =
    &["happy after the QBR", "rolling out to another team", "great feedback on reports", "steady, no concerns"];

/// Writes the definitions and sentiments; returns how many sentiments.
pub async fn write(
    store: &Store,
    caller: &Caller,
    (seed, book): (u64, Book),
    periods: &[PeriodInput],
    ids: &HashMap<String, i64>,
    today: NaiveDate,
) -> anyhow::Result<usize> {
    let defs = Definitions::from_toml(DEFINITIONS).map_err(anyhow::Error::msg)?;
    keepwell_server::definitions::apply(store, caller, &defs, false, "USD").await?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e47);
    let churns = super::usage::churns(periods);
    let mut sentiments = 0;
    let mut accounts: Vec<(&String, &i64)> = ids.iter().collect();
    accounts.sort();
    for (crm, &id) in accounts {
        let churn = churns.get(crm).and_then(|c| c.iter().copied().filter(|d| *d > today - Days::new(400)).max());
        // In the demo most leavers were seen coming by their CSM, a month or two before; in the
        // drift book fewer, and some who stay worried their CSM for nothing.
        let (seen, false_alarm) = match book {
            Book::Demo => (0.7, 0.0),
            Book::Drift => (0.35, 0.12),
            Book::Billing | Book::Champion => (0.5, 0.05),
        };
        let (day, rating, reason) = match churn {
            Some(c) if rng.gen_bool(seen) => {
                (c - Days::new(rng.gen_range(20..70)), rng.gen_range(1..=2), GLOOMY[rng.gen_range(0..GLOOMY.len())])
            }
            Some(_) => continue,
            None if false_alarm > 0.0 && rng.gen_bool(false_alarm) => {
                (today - Days::new(rng.gen_range(1..200)), rng.gen_range(1..=2), GLOOMY[rng.gen_range(0..GLOOMY.len())])
            }
            None if rng.gen_bool(0.4) => {
                (today - Days::new(rng.gen_range(1..200)), rng.gen_range(3..=5), CHEERY[rng.gen_range(0..CHEERY.len())])
            }
            None => continue,
        };
        if day <= today {
            keepwell_server::health::add_sentiment(store, caller, id, rating, reason, day).await?;
            sentiments += 1;
        }
    }
    Ok(sentiments)
}
