//! Each write of the stories as one decision, the way the services compose the store's functions:
//! a write of its own, committed unless it fails (or is a dry run), then the waiting events its
//! external ids pick up. The stories test the store; the services' own tests test theirs.

use chrono::NaiveDate;
use keepwell_core::account::NewAccount;
use keepwell_core::billing::{FxRate, Invoice, Period};
use keepwell_core::contact::NewContact;
use keepwell_core::definitions::Definitions;
use keepwell_core::renewal::Outcome;
use keepwell_core::Role;
use keepwell_store::accounts::{self, Account};
use keepwell_store::billing::{self, Renewal};
use keepwell_store::contacts::{self, Contact};
use keepwell_store::health::{self, Change, Override, Sentiment};
use keepwell_store::import::{ImportSummary, RowError};
use keepwell_store::people::{self, ApiToken, NewUser, User, WriteKey};
use keepwell_store::usage::{self, Attributed};
use keepwell_store::{Actor, Result, Store, Write};
use rust_decimal::Decimal;

async fn decide<T>(store: &Store, actor: &Actor, f: impl AsyncFnOnce(&mut Write) -> Result<T>) -> Result<T> {
    let mut w = store.write(actor).await?;
    let out = f(&mut w).await?;
    w.commit().await?;
    Ok(out)
}

async fn import(
    store: &Store,
    actor: &Actor,
    dry_run: bool,
    n: usize,
    f: impl AsyncFnOnce(&mut Write) -> Result<ImportSummary, RowError>,
) -> Result<ImportSummary, RowError> {
    let mut w = store.write(actor).await.map_err(|error| RowError { index: 0, error })?;
    let summary = f(&mut w).await?;
    if !dry_run {
        w.commit().await.map_err(|error| RowError { index: n, error })?;
    }
    Ok(summary)
}

#[allow(async_fn_in_trait)]
pub trait Writes {
    async fn create_account(&self, actor: &Actor, new: &NewAccount) -> Result<Account>;
    async fn update_account(&self, actor: &Actor, id: i64, new: &NewAccount) -> Result<Account>;
    async fn delete_account(&self, actor: &Actor, id: i64) -> Result<()>;
    async fn import_accounts(
        &self,
        actor: &Actor,
        rows: &[NewAccount],
        dry_run: bool,
        progress: impl FnMut(usize),
    ) -> Result<ImportSummary, RowError>;
    async fn create_contact(&self, actor: &Actor, new: &NewContact) -> Result<Contact>;
    async fn delete_contact(&self, actor: &Actor, id: i64) -> Result<()>;
    async fn import_contacts(
        &self,
        actor: &Actor,
        rows: &[NewContact],
        dry_run: bool,
        progress: impl FnMut(usize),
    ) -> Result<ImportSummary, RowError>;
    async fn create_user(&self, actor: &Actor, u: &NewUser<'_>) -> Result<User>;
    async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        name: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<(User, Vec<ApiToken>)>;
    async fn create_api_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        hash: &str,
        prefix: &str,
    ) -> Result<ApiToken>;
    async fn revoke_api_token(&self, actor: &Actor, id: i64) -> Result<()>;
    async fn create_write_key(&self, actor: &Actor, name: &str, hash: &str, prefix: &str) -> Result<WriteKey>;
    async fn revoke_write_key(&self, actor: &Actor, id: i64) -> Result<()>;
    async fn import_periods(
        &self,
        actor: &Actor,
        rows: &[(String, Period)],
        dry_run: bool,
        progress: impl Fn(usize),
    ) -> Result<ImportSummary, RowError>;
    async fn import_invoices(
        &self,
        actor: &Actor,
        rows: &[(String, Invoice)],
        dry_run: bool,
        progress: impl Fn(usize),
    ) -> Result<ImportSummary, RowError>;
    async fn save_fx_rates(&self, actor: &Actor, rates: &[FxRate], dry_run: bool) -> Result<ImportSummary>;
    async fn record_renewal(
        &self,
        actor: &Actor,
        id: i64,
        outcome: Outcome,
        new_arr: Decimal,
        reason: Option<&str>,
    ) -> Result<Renewal>;
    async fn apply(&self, actor: &Actor, defs: &Definitions, dry_run: bool) -> Result<Vec<Change>>;
    async fn delete_definition(&self, actor: &Actor, kind: &str, key: &str) -> Result<()>;
    async fn add_sentiment(
        &self,
        actor: &Actor,
        account: i64,
        rating: i64,
        reason: &str,
        on: NaiveDate,
    ) -> Result<Sentiment>;
    async fn add_override(
        &self,
        actor: &Actor,
        account: i64,
        score: Decimal,
        reason: &str,
        on: NaiveDate,
        expires_on: NaiveDate,
    ) -> Result<Override>;
    async fn clear_override(&self, actor: &Actor, account: i64) -> Result<bool>;
    async fn link_group(&self, actor: &Actor, group_id: &str, account: i64) -> Result<Attributed>;
}

impl Writes for Store {
    async fn create_account(&self, actor: &Actor, new: &NewAccount) -> Result<Account> {
        let a = decide(self, actor, async |w| accounts::create(w, new).await).await?;
        self.pick_up(&a.external_ids).await?;
        Ok(a)
    }

    async fn update_account(&self, actor: &Actor, id: i64, new: &NewAccount) -> Result<Account> {
        let changed = decide(self, actor, async |w| accounts::update(w, id, new).await).await?;
        self.pick_up(&changed.added_ids()).await?;
        Ok(changed.after)
    }

    async fn delete_account(&self, actor: &Actor, id: i64) -> Result<()> {
        decide(self, actor, async |w| accounts::delete(w, id).await).await.map(drop)
    }

    async fn import_accounts(
        &self,
        actor: &Actor,
        rows: &[NewAccount],
        dry_run: bool,
        progress: impl FnMut(usize),
    ) -> Result<ImportSummary, RowError> {
        let mut summary =
            import(self, actor, dry_run, rows.len(), async |w| accounts::import(w, rows, progress).await).await?;
        if !dry_run {
            let ids: Vec<_> = rows.iter().flat_map(|r| r.external_ids.iter().cloned()).collect();
            summary.attributed =
                self.pick_up(&ids).await.map_err(|error| RowError { index: rows.len(), error })?.events;
        }
        Ok(summary)
    }

    async fn create_contact(&self, actor: &Actor, new: &NewContact) -> Result<Contact> {
        decide(self, actor, async |w| contacts::create(w, new).await).await
    }

    async fn delete_contact(&self, actor: &Actor, id: i64) -> Result<()> {
        decide(self, actor, async |w| contacts::delete(w, id).await).await.map(drop)
    }

    async fn import_contacts(
        &self,
        actor: &Actor,
        rows: &[NewContact],
        dry_run: bool,
        progress: impl FnMut(usize),
    ) -> Result<ImportSummary, RowError> {
        import(self, actor, dry_run, rows.len(), async |w| contacts::import(w, rows, progress).await).await
    }

    async fn create_user(&self, actor: &Actor, u: &NewUser<'_>) -> Result<User> {
        decide(self, actor, async |w| people::create_user(w, u).await).await
    }

    async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        name: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<(User, Vec<ApiToken>)> {
        decide(self, actor, async |w| people::update_user(w, id, name, role, disabled).await).await
    }

    async fn create_api_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        hash: &str,
        prefix: &str,
    ) -> Result<ApiToken> {
        decide(self, actor, async |w| people::create_api_token(w, name, role, hash, prefix).await).await
    }

    async fn revoke_api_token(&self, actor: &Actor, id: i64) -> Result<()> {
        decide(self, actor, async |w| people::revoke_api_token(w, id).await).await
    }

    async fn create_write_key(&self, actor: &Actor, name: &str, hash: &str, prefix: &str) -> Result<WriteKey> {
        decide(self, actor, async |w| people::create_write_key(w, name, hash, prefix).await).await
    }

    async fn revoke_write_key(&self, actor: &Actor, id: i64) -> Result<()> {
        decide(self, actor, async |w| people::revoke_write_key(w, id).await).await
    }

    async fn import_periods(
        &self,
        actor: &Actor,
        rows: &[(String, Period)],
        dry_run: bool,
        progress: impl Fn(usize),
    ) -> Result<ImportSummary, RowError> {
        import(self, actor, dry_run, rows.len(), async |w| billing::import_periods(w, rows, progress).await).await
    }

    async fn import_invoices(
        &self,
        actor: &Actor,
        rows: &[(String, Invoice)],
        dry_run: bool,
        progress: impl Fn(usize),
    ) -> Result<ImportSummary, RowError> {
        import(self, actor, dry_run, rows.len(), async |w| billing::import_invoices(w, rows, progress).await).await
    }

    async fn save_fx_rates(&self, actor: &Actor, rates: &[FxRate], dry_run: bool) -> Result<ImportSummary> {
        let mut w = self.write(actor).await?;
        let summary = billing::save_fx_rates(&mut w, rates).await?;
        if !dry_run {
            w.commit().await?;
        }
        Ok(summary)
    }

    async fn record_renewal(
        &self,
        actor: &Actor,
        id: i64,
        outcome: Outcome,
        new_arr: Decimal,
        reason: Option<&str>,
    ) -> Result<Renewal> {
        decide(self, actor, async |w| billing::record_renewal(w, id, outcome, new_arr, reason).await).await
    }

    async fn apply(&self, actor: &Actor, defs: &Definitions, dry_run: bool) -> Result<Vec<Change>> {
        let mut w = self.write(actor).await?;
        let changes = health::apply(&mut w, defs).await?;
        if !dry_run {
            w.commit().await?;
        }
        Ok(changes)
    }

    async fn delete_definition(&self, actor: &Actor, kind: &str, key: &str) -> Result<()> {
        decide(self, actor, async |w| health::delete_definition(w, kind, key).await).await
    }

    async fn add_sentiment(
        &self,
        actor: &Actor,
        account: i64,
        rating: i64,
        reason: &str,
        on: NaiveDate,
    ) -> Result<Sentiment> {
        decide(self, actor, async |w| health::add_sentiment(w, account, rating, reason, on).await).await
    }

    async fn add_override(
        &self,
        actor: &Actor,
        account: i64,
        score: Decimal,
        reason: &str,
        on: NaiveDate,
        expires_on: NaiveDate,
    ) -> Result<Override> {
        decide(self, actor, async |w| health::add_override(w, account, score, reason, on, expires_on).await).await
    }

    async fn clear_override(&self, actor: &Actor, account: i64) -> Result<bool> {
        let today = self.clock().today();
        decide(self, actor, async |w| health::clear_override(w, account, today).await).await
    }

    async fn link_group(&self, actor: &Actor, group_id: &str, account: i64) -> Result<Attributed> {
        let group = decide(self, actor, async |w| usage::link_group(w, group_id, account).await).await?;
        self.attribute_waiting(&[group]).await
    }
}
