//! `keepwell bench backtest`: the default scorecard of a new workspace, with no configuration,
//! backtested on books whose churn is known: the demo, and books generated differently from it
//! (see `demo::Book`). For each: ROC AUC of the score against churn within 90 days (unscored
//! accounts count as the lowest scores), the churn rate per band, and each measure's own AUC.

use crate::demo::{self, Book, DemoArgs};
use anyhow::{anyhow, bail, Context as _};
use chrono::Days;
use keepwell_core::definitions::{default_scorecard, Definitions};
use keepwell_server::cause::Caller;
use keepwell_store::Store;
use std::path::PathBuf;
use std::time::Instant;

/// Days the observations cover, ending `HORIZON` days ago (so every outcome is known).
const WINDOW: u64 = 210;
const HORIZON: u64 = 90;

pub struct BacktestArgs {
    pub accounts: usize,
    pub scorecard: Option<PathBuf>,
    pub books: Option<PathBuf>,
    pub seed: u64,
}

pub async fn run(args: &BacktestArgs) -> anyhow::Result<()> {
    let today = keepwell_store::Clock::system().today();
    let (from, to) = (today - Days::new(HORIZON + WINDOW), today - Days::new(HORIZON + 1));
    // The scorecard under test, applied to every book (a reused book may hold another's).
    let card = match &args.scorecard {
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            let defs = Definitions::from_toml(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            if !defs.scorecards.iter().any(|c| c.key == "default") {
                bail!("{} has no [[scorecard]] with key \"default\"", file.display());
            }
            defs
        }
        None => Definitions { scorecards: vec![default_scorecard()], ..Definitions::default() },
    };
    println!(
        "{} scorecard, churn within {HORIZON} days, observed {from} to {to}; unscored ranks lowest",
        if args.scorecard.is_some() { "the given" } else { "the default" }
    );
    for book in Book::ALL {
        let seed = book.seed().wrapping_add(args.seed);
        let (dir, keep) = match &args.books {
            Some(d) => (d.clone(), true),
            None => (std::env::temp_dir().join(format!("keepwell-backtest-{}", std::process::id())), false),
        };
        std::fs::create_dir_all(&dir)?;
        let file = dir.join(format!("{}-{seed}-{}.db", book.name(), args.accounts));
        let fresh = !file.exists();
        let store = Store::connect(&format!("sqlite://{}", file.display())).await?;
        store.migrate().await?;
        let t = Instant::now();
        if fresh {
            demo::write_book(&store, &DemoArgs { accounts: args.accounts, book, seed, ..DemoArgs::default() }).await?;
        }
        let written = t.elapsed().as_secs_f64();
        keepwell_server::definitions::apply(&store, &Caller::system("bench"), &card, false, "USD").await?;
        let Some((step, r)) = store.backtest("USD", "default", HORIZON, from, to).await? else {
            bail!("no default scorecard");
        };
        let auc = r.auc.map_or("—".into(), |a| format!("{a:.3}"));
        println!(
            "\n{} (seed {seed}): {}\n  AUC {auc} over {} account-days (every {step} days), {} churned ({:.1} %); {}",
            book.name(),
            book.about(),
            r.account_days,
            r.churned,
            r.churn_rate.unwrap_or(0.0),
            if fresh { format!("written in {written:.0} s") } else { "reused".into() }
        );
        let bands: Vec<String> = r
            .bands
            .iter()
            .map(|b| format!("{} {} ({:.1} % churn)", b.band.as_str(), b.account_days, b.churn_rate.unwrap_or(0.0)))
            .collect();
        println!("  bands: {}", bands.join(", "));
        let measures: Vec<String> = r
            .measures
            .iter()
            .map(|m| format!("{} {} (n={})", m.key, m.auc.map_or("—".into(), |a| format!("{a:.2}")), m.observations))
            .collect();
        println!("  measures: {}", measures.join(", "));
        if let Some(f) = &r.fit {
            let show = |a: Option<f64>| a.map_or("—".into(), |a| format!("{a:.3}"));
            println!(
                "  for reference, weights fitted to this book's own {} to {}: AUC {} on {} to {} (these weights: {})",
                f.fitted_from,
                f.fitted_to,
                show(f.held_out_auc_suggested),
                f.held_out_from,
                f.held_out_to,
                show(f.held_out_auc_current)
            );
        }
        store.close().await;
        if !keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(())
}
