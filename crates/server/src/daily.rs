//! The daily pass in the server: run after a definition changes, and on a timer by one leader
//! (a PostgreSQL advisory lock; trivially the only process on SQLite), catching up missed days.

use crate::state::AppState;
use chrono::Days;
use std::time::Duration;

/// Days a restarted server catches up at most.
const CATCH_UP_DAYS: u64 = 31;

/// Folds pending usage and runs the pass for every day from the day after the last pass (at
/// most a month back) through today. Nothing when another node leads.
pub async fn pass_today(state: &AppState) -> anyhow::Result<()> {
    let _one = state.daily.lock().await;
    state.ingest.fold().await.map_err(|e| anyhow::anyhow!("folding usage: {e}"))?;
    // Whatever still waits for an account that now exists (a crash or a race left it).
    state.store.attribute_all_waiting().await?;
    let Some(leader) = state.store.lead_pass().await? else { return Ok(()) };
    let today = state.store.clock().today();
    let from = match state.store.last_pass_before(today).await? {
        Some(last) => (last + Days::new(1)).max(today - Days::new(CATCH_UP_DAYS)),
        None => today,
    };
    let t = std::time::Instant::now();
    let reporting = &state.settings.reporting_currency;
    let result = state.store.run_days(reporting, from, today, |_, _| {}).await;
    leader.release().await?;
    result?;
    tracing::info!(%from, %today, took_ms = t.elapsed().as_millis() as u64, "daily pass");
    Ok(())
}

/// Runs [`pass_today`] every `every`, the first time shortly after start.
pub fn spawn(state: AppState, every: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        loop {
            if let Err(e) = pass_today(&state).await {
                tracing::error!(error = %format!("{e:#}"), "the daily pass failed; it runs again at the next turn");
            }
            tokio::time::sleep(every).await;
        }
    });
}
