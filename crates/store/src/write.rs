//! One decision's write: a write transaction, the instant the decision was made and who made it.
//! Store functions that change data take a [`Write`] and never commit: the service that made the
//! decision does, so the change, its audit entries and (issue 16) its side effects commit together
//! or not at all. Dropping a `Write` without [`Write::commit`] writes nothing (a dry run).

use crate::audit::{record, Actor};
use crate::{Backend, Result, Store, Tx};
use serde::Serialize;

pub struct Write {
    pub(crate) tx: Tx,
    pub(crate) at: i64,
    pub(crate) actor: Actor,
    pub(crate) backend: Backend,
    /// The store's reporting currency (what a billing write converts the list's MRR to).
    pub(crate) reporting: std::sync::Arc<str>,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Write").field("at", &self.at).field("actor", &self.actor).finish_non_exhaustive()
    }
}

impl Store {
    /// Begins the write of one decision by `actor`: a write transaction (`BEGIN IMMEDIATE` on
    /// SQLite) and the instant of the decision, read once from the store's clock after the write
    /// lock is held. Every row the write stamps and every audit entry it records carries that instant.
    pub async fn write(&self, actor: &Actor) -> Result<Write> {
        let tx = self.begin().await?;
        let reporting = self.reporting.clone();
        Ok(Write { tx, at: self.now_micros(), actor: actor.clone(), backend: self.backend(), reporting })
    }
}

impl Write {
    /// The instant of the decision, in microseconds since the Unix epoch.
    pub fn at(&self) -> i64 {
        self.at
    }

    /// The day of the decision (UTC).
    pub fn day(&self) -> chrono::NaiveDate {
        crate::instant(self.at).date_naive()
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The transaction, for a read outside the store's own functions that must see what this
    /// write sees (the Stripe use case looks its customer's account up). Writes go through the
    /// store's functions, which audit them.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }

    /// Records in the audit log that this write's actor did `action` to `entity`.
    pub(crate) async fn audit<T: Serialize>(
        &mut self,
        action: &str,
        entity: &str,
        entity_id: Option<String>,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Result<()> {
        record(&mut self.tx, self.at, &self.actor, action, entity, entity_id, before, after).await
    }
}
