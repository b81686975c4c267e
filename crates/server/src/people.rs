//! The team's use cases: members, their passwords, API tokens and write keys.

use crate::cause::Caller;
use crate::refused::Outcome;
use keepwell_core::Role;
use keepwell_store::people::{self, ApiToken, NewUser, NotificationSettings, User, WriteKey};
use keepwell_store::Store;

pub async fn create_user(store: &Store, caller: &Caller, new: &NewUser<'_>) -> Outcome<User> {
    caller.decide(store, async |w| people::create_user(w, new).await).await
}

/// Changes a member's name, role or whether they may sign in; returns the tokens a disabling
/// stopped. The last active admin cannot be demoted or disabled.
pub async fn update_user(
    store: &Store,
    caller: &Caller,
    id: i64,
    name: Option<&str>,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Outcome<(User, Vec<ApiToken>)> {
    caller.decide(store, async |w| people::update_user(w, id, name, role, disabled).await).await
}

/// Replaces a member's password hash and ends their sessions but `keep_session`.
pub async fn set_password(
    store: &Store,
    caller: &Caller,
    id: i64,
    hash: &str,
    keep_session: Option<&str>,
) -> Outcome<()> {
    caller.decide(store, async |w| people::set_password(w, id, hash, keep_session).await).await
}

/// Makes a token for the caller's member, or the operator's when the caller is none (the CLI).
pub async fn create_api_token(
    store: &Store,
    caller: &Caller,
    name: &str,
    role: Role,
    (hash, prefix): (&str, &str),
) -> Outcome<ApiToken> {
    caller.decide(store, async |w| people::create_api_token(w, name, role, hash, prefix).await).await
}

pub async fn revoke_api_token(store: &Store, caller: &Caller, id: i64) -> Outcome<()> {
    caller.decide(store, async |w| people::revoke_api_token(w, id).await).await
}

pub async fn create_write_key(
    store: &Store,
    caller: &Caller,
    name: &str,
    (hash, prefix): (&str, &str),
) -> Outcome<WriteKey> {
    caller.decide(store, async |w| people::create_write_key(w, name, hash, prefix).await).await
}

pub async fn revoke_write_key(store: &Store, caller: &Caller, id: i64) -> Outcome<()> {
    caller.decide(store, async |w| people::revoke_write_key(w, id).await).await
}

/// A member's notification settings: their own, or anyone's for an admin.
pub async fn notifications(store: &Store, caller: &Caller, user: i64) -> Outcome<NotificationSettings> {
    may_set_notifications(caller, user)?;
    if store.user(user).await?.is_none() {
        return Err(crate::refused::Refused::NotFound(format!("no team member with id {user}")));
    }
    Ok(store.notification_settings(user).await?)
}

/// Replaces a member's notification settings (their own, or anyone's for an admin); the time zone
/// must be an IANA name.
pub async fn set_notifications(
    store: &Store,
    caller: &Caller,
    user: i64,
    settings: &NotificationSettings,
) -> Outcome<NotificationSettings> {
    may_set_notifications(caller, user)?;
    let mut invalid = keepwell_core::Invalid::default();
    keepwell_core::limits::required_text(&mut invalid, "time_zone", Some(&settings.time_zone), 64);
    invalid.into_result(())?;
    if settings.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(keepwell_core::Invalid::field(
            "time_zone",
            format!("{:?} is not a time zone: use an IANA name such as Europe/Berlin or UTC", settings.time_zone),
        )
        .into());
    }
    caller.decide(store, async |w| people::set_notification_settings(w, user, settings).await).await?;
    Ok(settings.clone())
}

fn may_set_notifications(caller: &Caller, user: i64) -> Outcome<()> {
    if caller.user_id == Some(user) || caller.role == Role::Admin {
        Ok(())
    } else {
        Err(crate::refused::Refused::Forbidden(
            "a member sets only their own notifications; an admin sets anyone's".into(),
        ))
    }
}
