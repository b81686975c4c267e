//! `keepwell bench health`: one daily pass over N accounts (default 100 000) with the default
//! scorecard's 10 measures reading 90 days of usage rollups; a replay of 365 days over a tenth
//! of them; a segment's live count over all of them.

use super::{metrics_workspace, rss_mb};
use anyhow::Context as _;
use chrono::{Days, NaiveDate};
use keepwell_core::definitions::{Definitions, SegmentDef};
use keepwell_core::expr;
use keepwell_core::facts::{day_number, BLOCK_DAYS};
use keepwell_core::measure::SCHEMA;
use keepwell_server::cause::Caller;
use keepwell_store::health::Scope;
use keepwell_store::Store;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Usage bits for `accounts` over the `days` before `to`: 2–8 users each, active on most
/// weekdays, and 6 usage names of which each account uses a few.
pub(super) async fn usage(store: &Store, accounts: &[i64], to: NaiveDate, days: u64) -> anyhow::Result<usize> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let from = to - Days::new(days);
    let (first, last) = (day_number(from), day_number(to));
    let mut rows = Vec::new();
    let mut written = 0;
    for &a in accounts {
        let users = rng.gen_range(2..=8);
        let keen: f64 = rng.gen_range(0.05..0.9);
        let mut add = |kind: &'static str, name: String, p: f64, rng: &mut rand::rngs::StdRng| {
            let mut blocks: std::collections::BTreeMap<i64, i64> = Default::default();
            for n in first..=last {
                if rng.gen_bool(p) {
                    *blocks.entry(n.div_euclid(BLOCK_DAYS)).or_default() |= 1 << n.rem_euclid(BLOCK_DAYS);
                }
            }
            for (block, bits) in blocks {
                rows.push((a, kind, name.clone(), block, bits));
            }
        };
        for u in 0..users {
            add("u", format!("user-{a}-{u}"), keen * 0.7, &mut rng);
        }
        for e in ["Report Built", "Dashboard Viewed", "Alert Set", "Export Run", "Invite Sent", "page:Settings"] {
            if rng.gen_bool(0.6) {
                add("e", e.to_owned(), keen, &mut rng);
            }
        }
        if rows.len() > 200_000 {
            written += rows.len();
            store.write_usage_bits(std::mem::take(&mut rows)).await?;
        }
    }
    written += rows.len();
    store.write_usage_bits(rows).await?;
    Ok(written)
}

pub async fn run(url: &str, accounts: usize, replay_days: u64) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    metrics_workspace(&store, accounts).await?;
    let today = keepwell_store::Clock::system().today();
    let ids: Vec<i64> =
        store.pass_facts(Scope::All, today, today, &Default::default()).await?.iter().map(|f| f.id).collect();
    if !store.usage_tracked().await? {
        let t = Instant::now();
        let rows = usage(&store, &ids, today, 90).await?;
        println!(
            "workspace: {rows} usage bit rows (90 days of users and usage names) written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let caller = Caller::system("bench");
        for (i, id) in ids.iter().step_by(50).enumerate() {
            keepwell_server::health::add_sentiment(
                &store,
                &caller,
                *id,
                (i % 5) as i64 + 1,
                "bench",
                today - Days::new((i % 60) as u64),
            )
            .await?;
        }
    }
    let plan = store.plan().await?;
    let needs = plan.needs();
    println!(
        "scorecards: {} (default: {} measures), look back {} days",
        plan.scorecards.len(),
        plan.scorecards.iter().find(|c| c.def.is_default()).map_or(0, |c| c.def.measures.len()),
        needs.lookback_days
    );

    // One pass over every account, three times (the first reads a cold cache).
    for run in 1..=3 {
        let t = Instant::now();
        let facts = store.pass_facts(Scope::All, today, today, &needs).await?;
        let load = t.elapsed();
        let fx = store.fx_table().await?;
        let catalogue = store.plan_features().await?;
        let mut members = store.members_before(Scope::All, today).await?;
        let mut facts = facts;
        let t2 = Instant::now();
        let ctx = keepwell_core::facts::Context {
            day: today,
            reporting: "USD",
            fx: &fx,
            catalogue: &catalogue,
            fed: keepwell_core::facts::Fed::all(),
        };
        let out = keepwell_core::daily::run(&plan, ctx, &mut facts, &mut members);
        let scored = out.snapshots.len();
        let compute = t2.elapsed();
        let t3 = Instant::now();
        store.write_days(&plan, "USD", None, &[(today, out)], today).await?;
        let write = t3.elapsed();
        println!(
            "pass {run}: {} accounts scored in {:.0} ms (load {:.0} ms, score {:.0} ms, write {:.0} ms); RSS {:.0} MB (target < 2 000 ms)",
            scored,
            t.elapsed().as_secs_f64() * 1000.0,
            load.as_secs_f64() * 1000.0,
            compute.as_secs_f64() * 1000.0,
            write.as_secs_f64() * 1000.0,
            rss_mb(std::process::id())
        );
    }

    // The segment builder's live count, warm, over every account.
    let filters = [
        "plan = \"Growth\" and country in [\"DE\", \"FR\", \"US\"]",
        "mrr >= 1000 and tenure_days > 365",
        "health < 40 or band = \"red\"",
        "active_users(30) < 3 and license_utilization() < 50",
    ];
    for f in filters {
        let e = expr::parse(f, &SCHEMA).map_err(|e| anyhow::anyhow!("{e}"))?;
        let needs = keepwell_core::daily::needs_of(&[&e], Vec::new());
        let t = Instant::now();
        let live = store.live_facts(&needs, today).await?;
        let (n, _) = live.count("USD", &e, 20);
        let cold = t.elapsed().as_secs_f64() * 1000.0;
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let _ = store.live_version().await?;
            live.count("USD", &e, 20);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "live count {f:?}: {n} accounts, first {cold:.0} ms (reads what it needs), then {:.0} ms while the data is unchanged (target < 200 ms)",
            times[2]
        );
    }

    // A replay of a year over the first tenth of the accounts, in a database of their own.
    if replay_days == 0 {
        return Ok(());
    }
    let tenth = (accounts / 10).max(1);
    let replay_url = format!("{url}-replay");
    let replay = if url.starts_with("sqlite:") { Some(Store::connect(&replay_url).await?) } else { None };
    match replay {
        Some(r) => {
            r.migrate().await?;
            metrics_workspace(&r, tenth).await?;
            let ids: Vec<i64> =
                r.pass_facts(Scope::All, today, today, &Default::default()).await?.iter().map(|f| f.id).collect();
            if !r.usage_tracked().await? {
                usage(&r, &ids, today, replay_days + 90).await?;
            }
            let defs = Definitions {
                segments: vec![SegmentDef {
                    key: "idle".into(),
                    name: "Idle".into(),
                    filter: "active_users(30) < 2".into(),
                }],
                ..Definitions::default()
            };
            keepwell_server::definitions::apply(&r, &Caller::system("bench"), &defs, false, "USD").await?;
            let from = today - Days::new(replay_days - 1);
            let t = Instant::now();
            let mut snapshots = 0;
            r.run_days("USD", from, today, |_, out| snapshots += out.snapshots.len()).await.context("replay")?;
            println!(
                "replay: {replay_days} days x {} accounts ({snapshots} snapshots) in {:.1} s (target for 365 days: < 60 s)",
                ids.len(),
                t.elapsed().as_secs_f64()
            );
        }
        None => println!("replay: measured on SQLite only (run without --target)"),
    }
    Ok(())
}
