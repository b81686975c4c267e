//! In-app notifications (the bell, migration 0018): one row per member and occurrence, written
//! in the write of the decision that causes it, read or not.

use crate::sql::{newest_first, text, Arg, Page, Sql};
use crate::{get_opt_i64, instant, Result, Store, Tx, Write};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    /// `task_assigned` or `band_changed`.
    pub kind: String,
    pub account_id: Option<i64>,
    pub task_id: Option<i64>,
    /// What the page says, by kind (`title`, `account`, `from`, `to`, `by`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Tells `user` about `occurrence` once (a second write of the same occurrence adds nothing).
pub(crate) async fn notify(
    tx: &mut Tx,
    at: i64,
    user: i64,
    occurrence: &str,
    (kind, account_id, task_id): (&str, Option<i64>, Option<i64>),
    data: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (user_id, occurrence, kind, account_id, task_id, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, occurrence) DO NOTHING",
    )
    .bind(user)
    .bind(occurrence)
    .bind(kind)
    .bind(account_id)
    .bind(task_id)
    .bind(data.to_string())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A playbook's word to `user` about `account`, joined to the member's own notification of the
/// account's band change on `day` (one delivery for one occurrence): appended to its `playbooks`,
/// and the task it opened linked when the bell had none. False when there was no such change.
pub(crate) async fn join_band_change(
    tx: &mut Tx,
    user: i64,
    (account, day): (i64, chrono::NaiveDate),
    word: serde_json::Value,
    task_id: Option<i64>,
) -> Result<bool> {
    // The change's occurrence is one of a few keys (from and to each a band or none): looked up
    // exactly on the unique (user_id, occurrence) index, as an owner of many accounts has a long
    // list and every task a playbook opens asks.
    let bands = || {
        std::iter::once(serde_json::Value::Null)
            .chain(keepwell_core::health::Band::ALL.iter().map(|b| serde_json::json!(b.as_str())))
    };
    let mut keys = Vec::new();
    for from in bands() {
        keys.extend(bands().filter(|to| *to != from).map(|to| band_changed(account, day, &from, &to)));
    }
    let mut sql = Sql::new("SELECT id, data FROM notifications WHERE user_id = ");
    sql.bind(Arg::I64(user)).push(" AND occurrence IN ");
    crate::sql::in_list(&mut sql, &keys.iter().map(String::as_str).collect::<Vec<_>>());
    // No ORDER BY: SQLite would then walk the member's (user_id, id) index, every row of it. The
    // newest of the few found is picked here.
    let mut newest = None;
    for r in sql.query().fetch_all(&mut **tx).await? {
        let id: i64 = r.try_get("id")?;
        if newest.as_ref().is_none_or(|(n, _)| id > *n) {
            newest = Some((id, r));
        }
    }
    let Some((id, r)) = newest else { return Ok(false) };
    let mut data: serde_json::Value = serde_json::from_str(&text(&r, "data")?).unwrap_or_default();
    let Some(obj) = data.as_object_mut() else { return Ok(false) };
    let words = obj.entry("playbooks").or_insert_with(|| serde_json::json!([]));
    match words.as_array_mut() {
        Some(list) if list.len() < JOINED => list.push(word),
        // More than a bell line holds: the rest stays in each run's record.
        Some(_) => {}
        None => *words = serde_json::json!([word]),
    }
    sqlx::query("UPDATE notifications SET data = $1, task_id = COALESCE(task_id, $2) WHERE id = $3")
        .bind(data.to_string())
        .bind(task_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// The occurrence of telling an owner that `account`'s band went `from` → `to` on `day`.
pub(crate) fn band_changed(
    account: i64,
    day: chrono::NaiveDate,
    from: &serde_json::Value,
    to: &serde_json::Value,
) -> String {
    format!("band_changed:{account}:{day}:{from}:{to}")
}

/// The most playbook words one notification (or band-change e-mail) carries.
pub(crate) const JOINED: usize = 20;

/// Marks `user`'s notifications read: those named, or all.
pub async fn mark_read(w: &mut Write, user: i64, ids: Option<&[i64]>) -> Result<u64> {
    let mut sql = Sql::new("UPDATE notifications SET read_at = ");
    sql.bind(Arg::I64(w.at)).push(" WHERE read_at IS NULL AND user_id = ").bind(Arg::I64(user));
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        sql.push(" AND id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Arg::I64(*id));
        }
        sql.push(")");
    }
    Ok(sql.query().execute(&mut *w.tx).await?.rows_affected())
}

fn row_of(r: &sqlx::any::AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: r.try_get("id")?,
        kind: text(r, "kind")?,
        account_id: get_opt_i64(r, "account_id")?,
        task_id: get_opt_i64(r, "task_id")?,
        data: serde_json::from_str(&text(r, "data")?).unwrap_or_default(),
        created_at: instant(r.try_get("created_at")?),
        read_at: get_opt_i64(r, "read_at")?.map(instant),
    })
}

impl Store {
    /// A page of `user`'s notifications, newest first.
    pub async fn notifications(
        &self,
        user: i64,
        unread: bool,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<Page<Notification>> {
        let mut sql = Sql::new("SELECT * FROM notifications WHERE user_id = ");
        sql.bind(Arg::I64(user));
        if unread {
            sql.push(" AND read_at IS NULL");
        }
        newest_first(sql, self.pool(), (limit, cursor), row_of, |n| n.id).await
    }

    /// Forgets notifications read before `read_before` and any made before `made_before`, so the
    /// bell's table stays the size of what members still care about. Returns how many.
    pub async fn prune_notifications(&self, read_before: i64, made_before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM notifications WHERE (read_at IS NOT NULL AND read_at < $1) OR created_at < $2")
            .bind(read_before)
            .bind(made_before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// How many of `user`'s notifications are unread (counted up to 100: the bell shows "99+").
    pub async fn unread_notifications(&self, user: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM notifications WHERE user_id = $1 AND read_at IS NULL LIMIT 100) t",
        )
        .bind(user)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }
}
