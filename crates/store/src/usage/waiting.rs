//! Events that reached no account yet ("waiting"): reported by groupId (or by user, when they
//! carry none), linked to an account by hand, and picked up when an account with their id
//! appears — in chunks of their own transactions, after the write that made the account, so
//! live ingestion waits for one chunk at most.

use super::{fold_late, hold_writers, index_attributed, index_state, resolve_groups, Holder, Scope};
use crate::sql::{in_list, opt_text, text, Arg, Cursor, CursorKey, Page, Sql};
use crate::{Result, Store, StoreError, Write};
use chrono::{DateTime, NaiveDate, Utc};
use keepwell_core::{ExternalId, Invalid};
use serde::Serialize;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Events a chunk of attribution moves at most, in one transaction.
const CHUNK: usize = 20_000;

/// Waiting event ids an attribution reads at once (a round; 8 bytes each).
const COLLECT: usize = 1_000_000;

/// The usage kinds (identify and group calls are not usage).
const USAGE: &str = "kind IN ('track', 'page', 'screen')";

/// What waits for one groupId (or, for events without a groupId, one user).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Unmatched {
    /// The groupId the events name (null: they name none, and their user belongs to no account).
    pub group_id: Option<String>,
    /// The user, for events without a groupId.
    pub user_id: Option<String>,
    pub events: i64,
    pub users: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Why they wait and what to do.
    pub reason: String,
}

/// What an import left waiting, or a pick-up moved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Waiting {
    /// Usage events that reached no account.
    pub events: i64,
    /// Usage events that reached their account.
    pub reached: i64,
    /// The groupIds with the most waiting events, most first (at most 10).
    pub top: Vec<(String, i64)>,
}

/// What attribution did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attributed {
    /// Events that now have their account.
    pub events: i64,
    /// The accounts they went to.
    pub accounts: BTreeSet<i64>,
    /// The days they happened on, first and last: the days a replay of those accounts redoes.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Attributed {
    pub fn add(&mut self, other: Attributed) {
        self.events += other.events;
        self.accounts.extend(other.accounts);
        self.from = self.from.into_iter().chain(other.from).min();
        self.to = self.to.into_iter().chain(other.to).max();
    }
}

impl Store {
    /// What waits, most events first, a page at a time (the cursor is the last row's position).
    pub async fn unmatched(&self, limit: i64, cursor: Option<&str>) -> Result<Page<Unmatched>> {
        let skip = match cursor {
            None => 0,
            Some(raw) => match Cursor::decode(raw) {
                Some(Cursor { key: CursorKey::Int(n), .. }) if n >= 0 => n,
                _ => return Err(Invalid::field("cursor", "is not a cursor this API gave out").into()),
            },
        };
        let limit = limit.clamp(1, 500);
        let rows = sqlx::query(&format!(
            "SELECT group_id, CASE WHEN group_id IS NULL THEN COALESCE(user_id, anonymous_id) END AS user_key, \
             COUNT(*) AS n, COUNT(DISTINCT COALESCE(user_id, anonymous_id)) AS users, \
             MIN(timestamp) AS first_seen, MAX(timestamp) AS last_seen \
             FROM events WHERE account_id IS NULL AND {USAGE} \
             GROUP BY group_id, CASE WHEN group_id IS NULL THEN COALESCE(user_id, anonymous_id) END \
             ORDER BY n DESC, group_id, user_key LIMIT $1 OFFSET $2"
        ))
        .bind(limit + 1)
        .bind(skip)
        .fetch_all(self.pool())
        .await?;
        let groups: Vec<String> = rows.iter().filter_map(|r| opt_text(r, "group_id").ok().flatten()).collect();
        // Who holds each by the rule attribution follows; the names only of those it will not pick.
        let mut tx = self.begin_read().await?;
        let held = resolve_groups(&mut tx, &groups.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        let many: Vec<String> = groups.iter().filter(|g| held.get(*g) == Some(&Holder::Many)).cloned().collect();
        let names = holders_of(&mut tx, &many).await?;
        tx.rollback().await?;
        let mut data = Vec::new();
        for r in rows.iter().take(limit as usize) {
            let group_id = opt_text(r, "group_id")?;
            let reason = match &group_id {
                None => "its user was never grouped into an account (no group call, no groupId)".to_owned(),
                Some(g) => match held.get(g) {
                    Some(Holder::Many) => {
                        let names = names.get(g).cloned().unwrap_or_default();
                        format!("held by {} accounts ({}): link it to the one it means", names.len(), names.join(", "))
                    }
                    Some(Holder::One(_)) => "its account was found; the next pass attributes them".to_owned(),
                    _ => "no account has this id: import the accounts, or link it to one".to_owned(),
                },
            };
            data.push(Unmatched {
                group_id,
                user_id: opt_text(r, "user_key")?,
                events: r.try_get("n")?,
                users: r.try_get("users")?,
                first_seen: crate::instant(r.try_get("first_seen")?),
                last_seen: crate::instant(r.try_get("last_seen")?),
                reason,
            });
        }
        let next_cursor =
            (rows.len() as i64 > limit).then(|| Cursor { key: CursorKey::Int(skip + limit), id: 0 }.encode());
        Ok(Page { data, next_cursor })
    }

    /// The usage events among ids `after`..=`upto` (an import's) that reached their account and
    /// those that reached none, with the groupIds most of the latter name.
    pub async fn waiting_between(&self, after: i64, upto: i64) -> Result<Waiting> {
        let rows = sqlx::query(&format!(
            "SELECT CASE WHEN account_id IS NULL THEN COALESCE(group_id, '') END AS g, COUNT(*) AS n FROM events \
             WHERE id > $1 AND id <= $2 AND {USAGE} GROUP BY 1 ORDER BY 2 DESC"
        ))
        .bind(after)
        .bind(upto)
        .fetch_all(self.pool())
        .await?;
        let mut w = Waiting::default();
        for r in &rows {
            let n: i64 = r.try_get("n")?;
            let Some(g) = opt_text(r, "g")? else {
                w.reached += n;
                continue;
            };
            w.events += n;
            if !g.is_empty() && w.top.len() < 10 {
                w.top.push((g, n));
            }
        }
        Ok(w)
    }

    /// Gives every waiting event whose groupId is one of `values` the account that now holds it
    /// (as kind `segment`, else the one account holding it under any kind), counts them in the
    /// rollups, and says which accounts and days that touched. The events are taken in id order
    /// (so a chunk reads rows that lie together), a chunk per transaction.
    pub async fn attribute_waiting(&self, values: &[String]) -> Result<Attributed> {
        let mut done = Attributed::default();
        let mut values: Vec<&str> = values.iter().map(String::as_str).collect();
        values.sort_unstable();
        values.dedup();
        if values.is_empty() || !self.any_waiting().await? {
            return Ok(done);
        }
        for part in values.chunks(500) {
            // Until a look with the event writers held off finds none left (a writer that
            // resolved these groupIds before their account existed has committed by then).
            loop {
                let ids = self.waiting_ids(part).await?;
                let mut rows = 0;
                for chunk in ids.chunks(CHUNK) {
                    let (moved, n) = self.attribute_chunk(part, chunk).await?;
                    done.add(moved);
                    rows += n;
                }
                if ids.len() < COLLECT || rows == 0 {
                    break;
                }
            }
        }
        if done.events > 0 {
            tracing::info!(
                events = done.events,
                accounts = done.accounts.len(),
                "waiting events reached their accounts"
            );
        }
        Ok(done)
    }

    /// Gives an account's ids their waiting events, after the write that gave it the ids (in
    /// transactions of its own, a chunk at a time).
    pub async fn pick_up(&self, ids: &[ExternalId]) -> Result<Attributed> {
        let values: Vec<String> = ids.iter().map(|e| e.value.clone()).collect();
        self.attribute_waiting(&values).await
    }

    /// [`Store::attribute_waiting`] for every groupId that waits (the daily pass's catch-up:
    /// whatever a crash or a race left behind).
    pub async fn attribute_all_waiting(&self) -> Result<Attributed> {
        let groups: Vec<String> =
            sqlx::query("SELECT DISTINCT group_id FROM events WHERE account_id IS NULL AND group_id IS NOT NULL")
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| text(r, "group_id"))
                .collect::<Result<_, _>>()?;
        self.attribute_waiting(&groups).await
    }

    async fn any_waiting(&self) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE account_id IS NULL AND group_id IS NOT NULL LIMIT 1) t",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// The ids of the waiting events (of any kind) whose groupId one account holds, in id order,
    /// at most [`COLLECT`]; read with the event writers held off.
    async fn waiting_ids(&self, values: &[&str]) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        hold_writers(&mut tx, self.backend()).await?;
        let held: Vec<String> = resolve_groups(&mut tx, values)
            .await?
            .into_iter()
            .filter_map(|(g, h)| matches!(h, Holder::One(_)).then_some(g))
            .collect();
        let mut ids = Vec::new();
        if !held.is_empty() {
            let keys: Vec<&str> = held.iter().map(String::as_str).collect();
            let mut sql = Sql::new("SELECT id FROM events WHERE account_id IS NULL AND group_id IN ");
            in_list(&mut sql, &keys);
            sql.push(" LIMIT ").bind(Arg::I64(COLLECT as i64));
            for r in sql.query().fetch_all(&mut *tx).await? {
                ids.push(r.try_get::<i64, _>("id")?);
            }
        }
        tx.commit().await?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// Moves the events among `ids` that still wait and whose groupId (one of `values`) one
    /// account holds, with what the group calls among them bring: the events their users sent
    /// without a groupId. Returns what it moved and how many events of any kind.
    async fn attribute_chunk(&self, values: &[&str], ids: &[i64]) -> Result<(Attributed, usize)> {
        let mut tx = self.begin().await?;
        hold_writers(&mut tx, self.backend()).await?;
        let state = index_state(&mut tx).await?;
        let accounts: BTreeMap<String, i64> = resolve_groups(&mut tx, values)
            .await?
            .into_iter()
            .filter_map(|(g, h)| match h {
                Holder::One(a) => Some((g, a)),
                _ => None,
            })
            .collect();
        let mut moved = Attributed::default();
        let mut sql = Sql::new(
            "SELECT id, group_id, timestamp, kind, COALESCE(user_id, anonymous_id) AS who FROM events \
             WHERE account_id IS NULL",
        );
        Scope::Ids(ids).push(&mut sql);
        let rows = sql.query().fetch_all(&mut *tx).await?;
        let mut to: Vec<(i64, i64)> = Vec::new();
        // A user once, however many of their group calls waited.
        let mut grouped: BTreeSet<(String, i64)> = BTreeSet::new();
        let mut taken: std::collections::HashSet<i64> = Default::default();
        let count = |r: &sqlx::any::AnyRow, moved: &mut Attributed| -> Result<()> {
            if matches!(text(r, "kind")?.as_str(), "track" | "page" | "screen") {
                let day = crate::instant(r.try_get("timestamp")?).date_naive();
                moved.from = Some(moved.from.map_or(day, |d| d.min(day)));
                moved.to = Some(moved.to.map_or(day, |d| d.max(day)));
                moved.events += 1;
            }
            Ok(())
        };
        for r in &rows {
            let Some(group) = opt_text(r, "group_id")? else { continue };
            let Some(a) = accounts.get(&group) else { continue };
            let id: i64 = r.try_get("id")?;
            to.push((id, *a));
            taken.insert(id);
            count(r, &mut moved)?;
            // A group call that waited puts its user in the account now, with what it did
            // without a groupId.
            if let (true, Some(who)) = (text(r, "kind")? == "group", opt_text(r, "who")?) {
                grouped.insert((who, *a));
            }
        }
        for (who, account) in &grouped {
            sqlx::query("UPDATE usage_users SET account_id = $1 WHERE user_id = $2 AND account_id IS NULL")
                .bind(account)
                .bind(who)
                .execute(&mut *tx)
                .await?;
            let theirs = sqlx::query(
                "SELECT id, timestamp, kind FROM events WHERE account_id IS NULL AND group_id IS NULL \
                 AND (user_id = $1 OR anonymous_id = $1)",
            )
            .bind(who)
            .fetch_all(&mut *tx)
            .await?;
            for r in &theirs {
                let id: i64 = r.try_get("id")?;
                // Counted once: an event of both a user id and an anonymous id of the chunk.
                if taken.insert(id) {
                    to.push((id, *account));
                    count(r, &mut moved)?;
                }
            }
        }
        to.sort_unstable();
        for part in to.chunks(10_000) {
            // One statement a chunk: the pairs are the store's own integers, written out.
            let pairs: Vec<String> = part.iter().map(|(id, a)| format!("({id},{a})")).collect();
            sqlx::query(&format!(
                "UPDATE events SET account_id = v.column2 FROM (VALUES {}) AS v \
                 WHERE events.id = v.column1 AND events.account_id IS NULL",
                pairs.join(",")
            ))
            .execute(&mut *tx)
            .await?;
        }
        let ids: Vec<i64> = to.iter().map(|(id, _)| *id).collect();
        index_attributed(&mut tx, &ids, state.indexed_to).await?;
        moved.accounts.extend(to.iter().map(|(_, a)| *a));
        let mut late: Vec<i64> = ids.into_iter().filter(|id| *id <= state.rolled_to).collect();
        fold_late(&mut tx, self.backend(), &mut late).await?;
        tx.commit().await?;
        Ok((moved, to.len()))
    }
}

/// Links a waiting groupId to an account by hand: adds it as one of the account's external
/// ids (kind `segment`, or `segment-2`… when it has one). Returns the groupId, whose events the
/// caller attributes after the commit ([`Store::attribute_waiting`]).
pub async fn link_group(w: &mut Write, group_id: &str, account: i64) -> Result<String> {
    let group_id = group_id.trim();
    let id = ExternalId::new("segment", group_id).map_err(|e| Invalid::field("group_id", e))?;
    let exists = sqlx::query("SELECT id FROM accounts WHERE id = $1").bind(account).fetch_optional(&mut *w.tx).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("no account with id {account}")));
    }
    let held = sqlx::query("SELECT account_id, kind FROM external_ids WHERE value = $1")
        .bind(&id.value)
        .fetch_all(&mut *w.tx)
        .await?;
    // Already the account's groupId: only its events are left to move. (Held by it under
    // another kind, it still becomes its groupId: that is what settles two holders.)
    let own_segment = |r: &sqlx::any::AnyRow| {
        r.try_get::<i64, _>("account_id").is_ok_and(|a| a == account)
            && text(r, "kind").is_ok_and(|k| k.starts_with("segment"))
    };
    if !held.iter().any(own_segment) {
        if let Some(r) = held.iter().find(|r| text(r, "kind").is_ok_and(|k| k.starts_with("segment"))) {
            let holder: i64 = r.try_get("account_id")?;
            return Err(StoreError::conflict(
                "group_id",
                format!("{group_id:?} is already the Segment groupId of account {holder}"),
            ));
        }
        let kinds: Vec<String> = sqlx::query("SELECT kind FROM external_ids WHERE account_id = $1")
            .bind(account)
            .fetch_all(&mut *w.tx)
            .await?
            .iter()
            .map(|r| text(r, "kind"))
            .collect::<Result<_, _>>()?;
        let kind = std::iter::once("segment".to_owned())
            .chain((2..).map(|n| format!("segment-{n}")))
            .find(|k| !kinds.contains(k))
            .unwrap_or_default();
        let before = crate::accounts::load(w, account).await?;
        sqlx::query("INSERT INTO external_ids (account_id, kind, value) VALUES ($1, $2, $3)")
            .bind(account)
            .bind(&kind)
            .bind(&id.value)
            .execute(&mut *w.tx)
            .await?;
        crate::accounts::emit_changed(w, &before).await?;
        let after = ExternalId { kind, value: id.value.clone() };
        w.audit("account.link_group", "account", Some(account.to_string()), None, Some(&after)).await?;
    }
    Ok(id.value)
}

/// The names of the accounts holding each value.
async fn holders_of(tx: &mut crate::Tx, values: &[String]) -> Result<std::collections::HashMap<String, Vec<String>>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    for chunk in values.chunks(500) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let mut sql = Sql::new(
            "SELECT DISTINCT e.value, a.id, a.name FROM external_ids e JOIN accounts a ON a.id = e.account_id WHERE e.value IN ",
        );
        in_list(&mut sql, &refs);
        for r in sql.query().fetch_all(&mut **tx).await? {
            let name = format!("{} (id {})", text(&r, "name")?, r.try_get::<i64, _>("id")?);
            out.entry(text(&r, "value")?).or_default().push(name);
        }
    }
    Ok(out)
}
