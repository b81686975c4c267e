//! The Stripe events handled, so a retried or repeated event is applied once.

use crate::sql::text;
use crate::{Result, Store, Write};

/// Whether a Stripe event was handled before (Stripe retries and may send twice).
pub async fn stripe_event_seen(w: &mut Write, event_id: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM stripe_events WHERE event_id = $1")
        .bind(event_id)
        .fetch_optional(&mut *w.tx)
        .await?
        .is_some())
}

/// Records a handled Stripe event (`event`: its id, type and creation time) with what came of it
/// and the account it was applied to, if any.
pub async fn record_stripe_event(
    w: &mut Write,
    event: (&str, &str, i64),
    account: Option<i64>,
    outcome: &str,
    payload: &str,
) -> Result<()> {
    let (event_id, event_type, created) = event;
    sqlx::query(
        "INSERT INTO stripe_events (event_id, event_type, created, received_at, outcome, payload, account_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event_id)
    .bind(event_type)
    .bind(created)
    .bind(w.at)
    .bind(outcome)
    .bind(payload)
    .bind(account)
    .execute(&mut *w.tx)
    .await?;
    if account.is_some() {
        // What `stripe_events()` reads changed: live counts and cached ledgers are read again.
        sqlx::query("UPDATE revenue_version SET version = version + 1 WHERE id = 1").execute(&mut *w.tx).await?;
    }
    Ok(())
}

impl Store {
    /// The Stripe events received, newest first: (id, type, outcome).
    pub async fn stripe_events(&self, limit: i64) -> Result<Vec<(String, String, String)>> {
        sqlx::query("SELECT event_id, event_type, outcome FROM stripe_events ORDER BY received_at DESC LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((text(r, "event_id")?, text(r, "event_type")?, text(r, "outcome")?)))
            .collect()
    }
}
