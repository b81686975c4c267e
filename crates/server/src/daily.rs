//! The daily pass, one way for everyone who runs it: the server's timer and a definition change,
//! `keepwell tick` and `keepwell replay`. Each runs under the pass's leader lock (a PostgreSQL
//! advisory lock; on SQLite a lock file beside the database), so two nodes, or a `tick` beside a
//! running `serve`, never run it at once: one waits, or says plainly who holds it.

use crate::state::AppState;
use chrono::{Days, NaiveDate};
use keepwell_core::daily::Day;
use keepwell_store::health::Lead;
use keepwell_store::Store;
use std::time::Duration;

/// Which days a pass runs.
#[derive(Clone, Copy, Debug)]
pub enum PassDays {
    /// Every day after the last pass before this one, through it (only this day when no pass
    /// ran before it): what the timer and `tick` run.
    CatchUpTo(NaiveDate),
    /// These days, oldest first, whatever ran before (`replay`).
    Range(NaiveDate, NaiveDate),
}

/// The most days one catch-up runs (a year): a server down longer, or a tick far after the last
/// pass, runs the last year and says which days it left to `keepwell replay`.
pub const MAX_CATCH_UP_DAYS: u64 = 366;

/// What a pass did.
#[derive(Debug)]
pub enum Passed {
    /// The days run; `left` the days since the last pass older than a catch-up reaches.
    Ran { from: NaiveDate, to: NaiveDate, left: Option<(NaiveDate, NaiveDate)> },
    /// Another process leads the pass (and did not finish within the wait): who, in words.
    HeldBy(String),
}

/// Attributes usage still waiting for an account that now exists (a crash or a race left it),
/// then runs the pass for `days` as the leader, waiting up to `wait` for another process's pass
/// to end. `progress` hears of each day written. Usage is folded by the caller beforehand (the
/// server's ingest worker, or the CLI's writer).
#[tracing::instrument(skip(store, reporting, progress))]
pub async fn run(
    store: &Store,
    reporting: &str,
    days: PassDays,
    wait: Duration,
    progress: impl FnMut(NaiveDate, &Day),
) -> anyhow::Result<Passed> {
    store.attribute_all_waiting().await?;
    let leader = match store.lead_pass(wait).await? {
        Lead::Leader(leader) => leader,
        Lead::HeldBy(who) => return Ok(Passed::HeldBy(who)),
    };
    let acting = matches!(days, PassDays::CatchUpTo(_));
    let (from, to, left) = match days {
        PassDays::Range(from, to) => (from, to, None),
        PassDays::CatchUpTo(day) => {
            let after_last = store.last_pass_before(day).await?.map_or(day, |last| last + Days::new(1));
            let reach = day - Days::new(MAX_CATCH_UP_DAYS - 1);
            let left = (after_last < reach).then(|| (after_last, reach - Days::new(1)));
            (after_last.max(reach), day, left)
        }
    };
    let t = std::time::Instant::now();
    // The days since the last pass are lived through: playbooks act. A replay rewrites history
    // and never acts.
    let result = if acting {
        store.act_days(reporting, from, to, progress).await
    } else {
        store.run_days(reporting, from, to, progress).await
    };
    leader.release().await?;
    result?;
    tracing::info!(%from, %to, took_ms = t.elapsed().as_millis() as u64, "daily pass");
    if let Some((first, last)) = left {
        tracing::warn!(%first, %last, "days since the last pass older than a year were not run: keepwell replay --from {first} --to {last} runs them");
    }
    Ok(Passed::Ran { from, to, left })
}

/// The server's pass of `day`: usage folded, then every day since the last pass through it, as
/// the leader (waiting for a `replay` another process runs). What the `daily_pass` job runs.
#[tracing::instrument(skip(state))]
pub async fn pass_of(state: &AppState, day: NaiveDate) -> anyhow::Result<()> {
    let _one = state.daily.lock().await;
    state.ingest.fold().await.map_err(|e| anyhow::anyhow!("folding usage: {e}"))?;
    let reporting = &state.settings.reporting_currency;
    match run(&state.store, reporting, PassDays::CatchUpTo(day), Duration::from_secs(60), |_, _| {}).await? {
        Passed::HeldBy(who) => anyhow::bail!("{who}"),
        Passed::Ran { .. } => Ok(()),
    }
}
