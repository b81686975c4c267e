//! Interactions: logged by whoever may edit the account (a CSM on the accounts they own, a
//! manager on all), changed or deleted by their author or a manager, read by everyone.

use crate::cause::Caller;
use crate::refused::{Outcome, Refused};
use keepwell_core::interaction::{Draft, Imported};
use keepwell_core::Role;
use keepwell_store::import::{ImportSummary, RowError};
use keepwell_store::interactions::{self as store_interactions, Interaction, InteractionFilter};
use keepwell_store::{Page, Store, Write};

/// Logs an interaction on `account`, as of the write's instant.
pub async fn log(store: &Store, caller: &Caller, reporting: &str, account: i64, draft: Draft) -> Outcome<Interaction> {
    let mut w = store.write(&caller.actor).await?;
    let a = keepwell_store::accounts::load(&mut w, account).await?;
    caller.require_edit(a.owner.as_ref().map(|o| o.id))?;
    let input = draft.validate(keepwell_store::instant(w.at())).map_err(Refused::Invalid)?;
    let i = store_interactions::create(&mut w, account, &input).await?;
    w.commit().await?;
    // The playbooks that wait for an interaction act now; what fails here the day's pass redoes.
    if let Err(e) = store.act_on_interaction(reporting, account, i.occurred_at.date_naive()).await {
        tracing::warn!(error = %e, account, "interaction-triggered playbooks could not act; the day's pass will");
    }
    Ok(i)
}

/// The interaction `id`, if the caller may change it: its author, or a manager.
async fn own(w: &mut Write, caller: &Caller, id: i64) -> Outcome<Interaction> {
    let i = store_interactions::load(w, id)
        .await?
        .ok_or_else(|| Refused::NotFound(format!("no interaction with id {id}")))?;
    may_change(caller, &i)?;
    Ok(i)
}

/// Refuses a caller who may not change `i`: only its author (a CSM or above) or a manager may.
pub fn may_change(caller: &Caller, i: &Interaction) -> Outcome<()> {
    let author = caller.user_id.is_some() && caller.user_id == i.author_id;
    if caller.role < Role::Manager && !(caller.role >= Role::Csm && author) {
        return Err(Refused::Forbidden(format!("a {} may change only the interactions they logged", caller.role)));
    }
    Ok(())
}

/// Changes interaction `id` to what `draft` says (the interaction as it was, with the change's
/// fields over it).
pub async fn update(store: &Store, caller: &Caller, id: i64, draft: Draft) -> Outcome<Interaction> {
    let mut w = store.write(&caller.actor).await?;
    let before = own(&mut w, caller, id).await?;
    let input = draft.validate(keepwell_store::instant(w.at())).map_err(Refused::Invalid)?;
    let after = store_interactions::update(&mut w, &before, &input).await?;
    w.commit().await?;
    Ok(after)
}

pub async fn delete(store: &Store, caller: &Caller, id: i64) -> Outcome<()> {
    let mut w = store.write(&caller.actor).await?;
    let before = own(&mut w, caller, id).await?;
    store_interactions::delete(&mut w, &before).await?;
    w.commit().await?;
    Ok(())
}

pub async fn list(store: &Store, filter: &InteractionFilter) -> Outcome<Page<Interaction>> {
    Ok(store.interactions(filter).await?)
}

pub async fn get(store: &Store, id: i64) -> Outcome<Interaction> {
    store.interaction(id).await?.ok_or_else(|| Refused::NotFound(format!("no interaction with id {id}")))
}

/// Imports interactions from a file's valid rows, all or nothing (`keepwell import interactions`).
pub async fn import(
    store: &Store,
    caller: &Caller,
    rows: &[Imported],
    dry_run: bool,
    progress: impl Fn(usize),
) -> Result<ImportSummary, RowError> {
    caller.import(store, (rows.len(), dry_run), async |w| store_interactions::import(w, rows, progress).await).await
}
