//! The demo's health: segments and lifecycle rules as a team would write them, CSM sentiment
//! ratings (gloomier before a churn), and the daily pass replayed over recent months so the
//! pages have history.

use chrono::{Days, NaiveDate};
use keepwell_core::billing::PeriodInput;
use keepwell_core::definitions::Definitions;
use keepwell_store::{Actor, Store};
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

/// Writes the definitions and sentiments, then replays the last `REPLAY_DAYS` days; returns
/// how many sentiments and snapshots.
pub async fn write(
    store: &Store,
    actor: &Actor,
    seed: u64,
    periods: &[PeriodInput],
    ids: &HashMap<String, i64>,
    reporting: &str,
    today: NaiveDate,
) -> anyhow::Result<(usize, usize)> {
    let defs = Definitions::from_toml(DEFINITIONS).map_err(anyhow::Error::msg)?;
    store.apply(actor, &defs, false).await?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e47);
    let churns = super::usage::churns(periods);
    let mut sentiments = 0;
    let mut accounts: Vec<(&String, &i64)> = ids.iter().collect();
    accounts.sort();
    for (crm, &id) in accounts {
        let churn = churns.get(crm).and_then(|c| c.iter().copied().filter(|d| *d > today - Days::new(400)).max());
        let (day, rating, reason) = match churn {
            // Most leavers were seen coming by their CSM, a month or two before.
            Some(c) if rng.gen_bool(0.7) => {
                (c - Days::new(rng.gen_range(20..70)), rng.gen_range(1..=2), GLOOMY[rng.gen_range(0..GLOOMY.len())])
            }
            Some(_) => continue,
            None if rng.gen_bool(0.4) => {
                (today - Days::new(rng.gen_range(1..200)), rng.gen_range(3..=5), CHEERY[rng.gen_range(0..CHEERY.len())])
            }
            None => continue,
        };
        if day <= today {
            store.add_sentiment(actor, id, rating, reason, day).await?;
            sentiments += 1;
        }
    }
    let mut snapshots = 0;
    store
        .run_days(reporting, today - Days::new(REPLAY_DAYS - 1), today, |_, out| snapshots += out.snapshots.len())
        .await?;
    Ok((sentiments, snapshots))
}
