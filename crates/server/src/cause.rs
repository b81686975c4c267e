//! Who acts: the cause every use case is given and records. Today a member by session or token;
//! the system (CLI, importer, the daily pass) acts as a [`keepwell_store::Actor`] of its own.

use crate::refused::{Outcome, Refused};
use keepwell_core::Role;
use keepwell_store::import::{ImportSummary, RowError};
use keepwell_store::{Actor, Store, Write};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The member acting (for a token: the member who made it).
    pub user_id: Option<i64>,
    pub role: Role,
    pub actor: Actor,
}

impl Caller {
    /// The operator acting through the CLI, the importer or the daily pass: every right, no
    /// member.
    pub fn system(label: &str) -> Caller {
        Caller { user_id: None, role: Role::Admin, actor: Actor::system(label) }
    }

    /// One decision of this caller's: `f` writes it in a write of its own (one transaction, one
    /// instant, the caller as the audit log's actor), committed when `f` succeeds and dropped,
    /// leaving nothing written, when it fails.
    pub async fn decide<T>(
        &self,
        store: &Store,
        f: impl AsyncFnOnce(&mut Write) -> keepwell_store::Result<T>,
    ) -> Outcome<T> {
        let mut w = store.write(&self.actor).await?;
        let out = f(&mut w).await?;
        w.commit().await?;
        Ok(out)
    }

    /// One import of this caller's: `f` writes every row in one write, committed unless it fails or
    /// this is a dry run. A failure to begin is row 0's; a failure to commit, row `rows`'s.
    pub async fn import(
        &self,
        store: &Store,
        (rows, dry_run): (usize, bool),
        f: impl AsyncFnOnce(&mut Write) -> Result<ImportSummary, RowError>,
    ) -> Result<ImportSummary, RowError> {
        let mut w = store.write(&self.actor).await.map_err(|error| RowError { index: 0, error })?;
        let summary = f(&mut w).await?;
        if !dry_run {
            w.commit().await.map_err(|error| RowError { index: rows, error })?;
        }
        Ok(summary)
    }

    /// May the caller edit an account owned by `owner_id`?
    pub fn may_edit(&self, owner_id: Option<i64>) -> bool {
        self.role.may_edit_account(self.user_id, owner_id)
    }

    pub fn require_edit(&self, owner_id: Option<i64>) -> Result<(), Refused> {
        if self.may_edit(owner_id) {
            Ok(())
        } else {
            Err(Refused::Forbidden(format!("a {} may edit only accounts they own", self.role)))
        }
    }
}
