//! The Stripe events handled, so a retried or repeated event is applied once.

use crate::sql::text;
use crate::{Result, Store, Tx};

impl Store {
    /// Whether a Stripe event was handled before (Stripe retries and may send twice).
    pub async fn stripe_event_seen(&self, tx: &mut Tx, event_id: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM stripe_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some())
    }

    pub async fn record_stripe_event(
        &self,
        tx: &mut Tx,
        event_id: &str,
        event_type: &str,
        created: i64,
        outcome: &str,
        payload: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO stripe_events (event_id, event_type, created, received_at, outcome, payload) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event_id)
        .bind(event_type)
        .bind(created)
        .bind(self.now_micros())
        .bind(outcome)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

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
