//! In-app notifications: the bell. Each member reads and marks only their own.

use crate::cause::Caller;
use crate::refused::{Outcome, Refused};
use keepwell_store::notifications::Notification;
use keepwell_store::{Page, Store};

fn member(caller: &Caller) -> Outcome<i64> {
    caller.user_id.ok_or_else(|| Refused::Forbidden("notifications are a member's; this token has no member".into()))
}

/// A page of the caller's notifications, newest first (only unread ones if `unread`).
pub async fn list(
    store: &Store,
    caller: &Caller,
    unread: bool,
    limit: i64,
    cursor: Option<&str>,
) -> Outcome<Page<Notification>> {
    Ok(store.notifications(member(caller)?, unread, limit, cursor).await?)
}

/// How many of the caller's notifications are unread (up to 100).
pub async fn unread(store: &Store, caller: &Caller) -> Outcome<i64> {
    Ok(store.unread_notifications(member(caller)?).await?)
}

/// Marks the caller's notifications read: those named, or all. Returns how many changed.
pub async fn mark_read(store: &Store, caller: &Caller, ids: Option<&[i64]>) -> Outcome<u64> {
    let user = member(caller)?;
    caller.decide(store, async |w| keepwell_store::notifications::mark_read(w, user, ids).await).await
}
