//! Tasks: opened, changed, commented and closed by whoever works them — a CSM on the accounts
//! they own and on their own tasks, a manager on all — and read by everyone. An automation (or
//! another tool through the API) names a `source`: asking again while its task is open updates
//! that task instead of opening a second.

use crate::cause::Caller;
use crate::params::Params;
use crate::refused::{Outcome, Refused};
use keepwell_core::task::{Draft, Due, Kind, Priority, Status};
use keepwell_core::Invalid;
use keepwell_core::Role;
use keepwell_store::tasks::{self as store_tasks, Comment, Task, TaskFilter};
use keepwell_store::{Page, Store, Write};

/// The owner of account `id`, refusing a caller who may not work on it.
async fn account_owner(w: &mut Write, caller: &Caller, id: i64) -> Outcome<Option<i64>> {
    let a = keepwell_store::accounts::load(w, id).await?;
    let owner = a.owner.as_ref().map(|o| o.id);
    if !caller.may_edit(owner) {
        return Err(Refused::Forbidden(format!("a {} works tasks only on the accounts they own", caller.role)));
    }
    Ok(owner)
}

/// [`account_owner`] of the account a body names: one that does not exist is the field's fault.
async fn named_account_owner(w: &mut Write, caller: &Caller, id: i64) -> Outcome<Option<i64>> {
    match account_owner(w, caller, id).await {
        Err(Refused::NotFound(_)) => {
            Err(Refused::Invalid(keepwell_core::Invalid::field("account_id", format!("no account has the id {id}"))))
        }
        other => other,
    }
}

/// Refuses a caller below CSM, and a CSM giving a task without an account to someone else.
fn may_own(caller: &Caller, account: Option<i64>, owner: Option<i64>) -> Outcome<()> {
    if caller.role < Role::Csm {
        return Err(Refused::Forbidden(format!("a {} reads tasks but does not work them", caller.role)));
    }
    if caller.role < Role::Manager && account.is_none() && owner != caller.user_id {
        return Err(Refused::Forbidden("a csm opens tasks without an account only for themselves".into()));
    }
    Ok(())
}

/// Opens a task (default owner: the account's owner, else the caller), or asks its source's open
/// task again. Returns the task and whether it is new.
pub async fn open(store: &Store, caller: &Caller, mut draft: Draft, why: Option<&str>) -> Outcome<(Task, bool)> {
    let mut w = store.write(&caller.actor).await?;
    let today = keepwell_store::instant(w.at()).date_naive();
    let account_owner = match draft.account_id {
        Some(a) => named_account_owner(&mut w, caller, a).await?,
        None => None,
    };
    if draft.owner_id.is_none() {
        draft.owner_id = account_owner.or(caller.user_id);
    }
    let input = draft.validate(today).map_err(Refused::Invalid)?;
    may_own(caller, input.account_id, input.owner_id)?;
    let out = store_tasks::open(&mut w, &input, why).await?;
    w.commit().await?;
    Ok(out)
}

/// Task `id`, if the caller may work it: a manager, its owner, or the owner of its account.
async fn workable(w: &mut Write, caller: &Caller, id: i64) -> Outcome<Task> {
    let task = store_tasks::load(w, id).await?.ok_or_else(|| Refused::NotFound(format!("no task with id {id}")))?;
    if caller.role >= Role::Manager {
        return Ok(task);
    }
    let mine = caller.user_id.is_some() && task.owner.as_ref().map(|o| o.id) == caller.user_id;
    let account_mine = match &task.account {
        Some(a) => account_owner(w, caller, a.id).await.is_ok(),
        None => false,
    };
    if caller.role >= Role::Csm && (mine || account_mine) {
        Ok(task)
    } else {
        Err(Refused::Forbidden(format!("a {} works only their own tasks and those of accounts they own", caller.role)))
    }
}

/// Changes task `id` to what `draft` says (the task as it is, with the change's fields over it):
/// reassign, snooze, complete, cancel, reopen.
pub async fn update(store: &Store, caller: &Caller, id: i64, draft: Draft) -> Outcome<Task> {
    let mut w = store.write(&caller.actor).await?;
    let today = keepwell_store::instant(w.at()).date_naive();
    let before = workable(&mut w, caller, id).await?;
    let input = draft.validate(today).map_err(Refused::Invalid)?;
    if input.source != before.source {
        return Err(Refused::Invalid(keepwell_core::Invalid::field("source", "cannot be changed")));
    }
    if input.account_id != before.account.as_ref().map(|a| a.id) {
        if let Some(a) = input.account_id {
            named_account_owner(&mut w, caller, a).await?;
        }
    }
    let after = store_tasks::update(&mut w, &before, &input).await?;
    w.commit().await?;
    Ok(after)
}

pub async fn comment(store: &Store, caller: &Caller, id: i64, body: Option<&str>) -> Outcome<Comment> {
    let body = keepwell_core::task::comment(body).map_err(Refused::Invalid)?;
    let mut w = store.write(&caller.actor).await?;
    workable(&mut w, caller, id).await?;
    let c = store_tasks::comment(&mut w, id, &body).await?;
    w.commit().await?;
    Ok(c)
}

pub async fn list(store: &Store, filter: &TaskFilter) -> Outcome<Page<Task>> {
    Ok(store.tasks(filter).await?)
}

pub async fn get(store: &Store, id: i64) -> Outcome<Task> {
    store.task(id).await?.ok_or_else(|| Refused::NotFound(format!("no task with id {id}")))
}

pub async fn comments(store: &Store, id: i64) -> Outcome<Vec<Comment>> {
    get(store, id).await?;
    Ok(store.task_comments(id).await?)
}

/// The task as a draft, for a change to be laid over.
pub fn as_draft(t: &Task) -> Draft {
    Draft {
        title: Some(t.title.clone()),
        kind: Some(t.kind.clone()),
        priority: Some(t.priority.clone()),
        status: Some(t.status.clone()),
        due_on: t.due_on,
        snoozed_until: t.snoozed_until,
        owner_id: t.owner.as_ref().map(|o| o.id),
        account_id: t.account.as_ref().map(|a| a.id),
        description: Some(t.description.clone()),
        source: t.source.clone(),
    }
}

/// The inbox's filter from a query (the API's and the inbox page's): `owner`, `account_id`,
/// `status` (default `open`; `all`), `kind`, `priority`, `due` as of `as_of` (default today), and
/// snoozed tasks left out unless `snoozed=include`.
pub fn filter(p: &Params, me: Option<i64>, today: chrono::NaiveDate) -> Result<TaskFilter, Invalid> {
    let mut invalid = Invalid::default();
    let owner = p.owner(me, &mut invalid);
    let account_id = p.id("account_id", &mut invalid);
    let statuses: Vec<(&str, Option<Status>)> =
        Status::ALL.iter().map(|s| (s.as_str(), Some(*s))).chain([("all", None)]).collect();
    let status = p.choice("status", &statuses, Some(Status::Open), &mut invalid);
    let kinds: Vec<(&str, Option<Kind>)> = Kind::ALL.iter().map(|k| (k.as_str(), Some(*k))).collect();
    let kind = p.choice("kind", &kinds, None, &mut invalid);
    let priorities: Vec<(&str, Option<Priority>)> = Priority::ALL.iter().map(|k| (k.as_str(), Some(*k))).collect();
    let priority = p.choice("priority", &priorities, None, &mut invalid);
    let dues: Vec<(&str, Option<Due>)> = Due::WORDS.iter().map(|(w, d)| (*w, Some(*d))).collect();
    let due = p.choice("due", &dues, None, &mut invalid);
    let today = p.date("as_of", &mut invalid).unwrap_or(today);
    let snoozed = p.choice("snoozed", &[("hide", false), ("include", true)], false, &mut invalid);
    let limit = p.limit(&mut invalid);
    invalid.into_result(TaskFilter {
        owner,
        account_id,
        status,
        kind: kind.map(|k| k.as_str().to_owned()),
        priority: priority.map(|k| k.as_str().to_owned()),
        due: due.map_or((None, None), |d| d.range(today)),
        undated: due == Some(Due::None),
        awake_on: (!snoozed).then_some(today),
        limit,
        cursor: p.text("cursor"),
    })
}
