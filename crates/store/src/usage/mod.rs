//! Product usage: Segment events written in groups (one transaction for many requests), who they
//! belong to, and the daily rollups kept up to date in the same transaction.
//!
//! An event's account is its `context.groupId` (external id kind `segment`), else the account its
//! user was last grouped into, else — for an anonymous id an identify linked to a user — that
//! user's. Events that belong to no account yet are kept and attributed (rollups included) when
//! an identify or group call links them.

use crate::contacts::upsert_for_user;
use crate::sql::{in_list, insert_returning, insert_rows, opt_text, text, upsert_rows, Arg, Sql};
use crate::{Actor, Backend, Result, Store, Tx};
use chrono::{DateTime, Utc};
use keepwell_core::account::AccountInput;
use keepwell_core::contact::ContactInput;
use keepwell_core::segment::{Event, Kind};
use serde::Deserialize;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

mod read;
pub use read::{EventFilter, StoredEvent, UsageDay};

/// What a group of events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestSummary {
    /// Events stored.
    pub stored: usize,
    /// Events whose messageId was seen before (in this group or within the dedup window).
    pub duplicates: usize,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The rollup name of a usage event: a track's event name, `page:NAME`/`screen:NAME`, or None for
/// identify and group calls (which are not usage).
pub fn usage_name(kind: Kind, event: Option<&str>) -> Option<String> {
    match (kind, event) {
        (Kind::Track, Some(e)) => Some(e.to_owned()),
        (Kind::Page | Kind::Screen, Some(n)) if !n.is_empty() => Some(format!("{}:{n}", kind.as_str())),
        (Kind::Page | Kind::Screen, _) => Some(kind.as_str().to_owned()),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
struct Traits {
    name: Option<String>,
    email: Option<String>,
    title: Option<String>,
    website: Option<String>,
    industry: Option<String>,
    employees: Option<serde_json::Value>,
    plan: Option<String>,
}

fn traits(e: &Event) -> Traits {
    e.properties.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default()
}

/// A usage event to count: account, day, rollup name, the user (or anonymous id).
type Usage = (i64, String, String, String);

/// Who belongs where, as far as a writer has needed to know: each groupId's account, each
/// user's account, each anonymous id's user — `None` when there is none. Valid while
/// `event_index.links_version` has not moved but for the writer's own changes, which it makes
/// here too.
#[derive(Default)]
struct Links {
    groups: HashMap<String, Option<i64>>,
    users: HashMap<String, Option<i64>>,
    anonymous: HashMap<String, Option<String>>,
}

/// Links a writer keeps at most before it starts again from nothing.
const LINKS_KEPT: usize = 1_000_000;

impl Links {
    fn account_of(&self, e: &Event) -> Option<i64> {
        if let Some(Some(a)) = e.group_id.as_ref().and_then(|g| self.groups.get(g)) {
            return Some(*a);
        }
        let user = e.user_id.as_ref().or_else(|| self.user_of_anonymous(e))?;
        self.users.get(user).copied().flatten()
    }

    fn user_of_anonymous(&self, e: &Event) -> Option<&String> {
        e.anonymous_id.as_ref().and_then(|a| self.anonymous.get(a)).and_then(Option::as_ref)
    }

    fn len(&self) -> usize {
        self.groups.len() + self.users.len() + self.anonymous.len()
    }
}

/// Events a writer leaves out of the bulk index at most, unless told otherwise.
pub const INDEX_EVERY: usize = 200_000;

/// The one writer of events on a node, and what it knows between its transactions: the
/// messageIds of the events it wrote after `event_index.indexed_to` (checked here, in memory;
/// older ones in `event_ids`), and who belongs where. When anyone else wrote events since this
/// writer's last commit (another node, an import, a restart), its memory of the messageIds is
/// not the whole story, so it first indexes every event after `indexed_to`; when anyone else
/// changed who belongs where, it forgets the links.
pub struct EventWriter {
    store: Store,
    tail: HashSet<String>,
    /// The newest event id when this writer last committed.
    last_written: Option<i64>,
    links: Links,
    /// `event_index.links_version` when this writer last committed.
    links_version: Option<i64>,
    index_every: usize,
}

impl Store {
    /// Stores one group of events (see [`EventWriter::write`]) with a writer of its own.
    pub async fn ingest(&self, events: &[Event]) -> Result<IngestSummary> {
        EventWriter::new(self.clone()).write(events).await
    }
}

impl EventWriter {
    pub fn new(store: Store) -> EventWriter {
        EventWriter {
            store,
            tail: HashSet::new(),
            last_written: None,
            links: Links::default(),
            links_version: None,
            index_every: INDEX_EVERY,
        }
    }

    /// Indexes its events once it has left `n` out of the bulk index (tests use a few).
    pub fn index_every(mut self, n: usize) -> EventWriter {
        self.index_every = n.max(1);
        self
    }

    /// Stores a group of events in one transaction: deduplicated on messageId, identify and group
    /// calls applied in order, every event attributed to its account when known, rollups and
    /// users' activity brought up to date. Nothing is written when it fails.
    pub async fn write(&mut self, events: &[Event]) -> Result<IngestSummary> {
        let result = self.write_group(events).await;
        if result.is_err() {
            // What the failed transaction would have added is not in the database.
            self.tail.clear();
            self.last_written = None;
            self.links = Links::default();
            self.links_version = None;
        }
        result
    }

    async fn write_group(&mut self, events: &[Event]) -> Result<IngestSummary> {
        let store = &self.store;
        let backend = store.backend();
        let mut tx = store.begin().await?;
        if backend == Backend::Postgres {
            // One event writer at a time across nodes: ids then commit in the order they were
            // given, which `indexed_to` relies on.
            sqlx::query("SELECT pg_advisory_xact_lock(7251001)").execute(&mut *tx).await?;
        }
        let (mut indexed_to, newest, links_version) = index_state(&mut tx).await?;
        if self.links_version != Some(links_version) || self.links.len() > LINKS_KEPT {
            self.links = Links::default();
        }
        if self.last_written != Some(newest) && newest > indexed_to {
            index_events(&mut tx, indexed_to, newest).await?;
            indexed_to = newest;
        }
        if newest == indexed_to {
            self.tail.clear();
        }
        let fresh = dedup(&mut tx, &self.tail, events).await?;
        let duplicates = events.len() - fresh.len();
        let links = &mut self.links;
        load_links(&mut tx, links, &fresh).await?;
        let mut late: Vec<Usage> = Vec::new();
        for e in fresh.iter().filter(|e| matches!(e.kind, Kind::Identify | Kind::Group)) {
            apply_call(store, &mut tx, links, indexed_to, e, &mut late).await?;
        }
        let mut usage = insert_events(&mut tx, backend, links, &fresh).await?;
        usage.extend(late);
        roll_up(&mut tx, backend, &usage).await?;
        seen(&mut tx, backend, &fresh).await?;
        let (_, written, links_version) = index_state(&mut tx).await?;
        let index_now = self.tail.len() + fresh.len() >= self.index_every;
        if index_now {
            index_events(&mut tx, indexed_to, written).await?;
        }
        tx.commit().await?;
        if index_now {
            self.tail.clear();
        } else {
            self.tail.extend(fresh.iter().map(|e| e.message_id.clone()));
        }
        self.last_written = Some(written);
        self.links_version = Some(links_version);
        Ok(IngestSummary { stored: fresh.len(), duplicates })
    }
}

/// Takes the events after `from` up to `to` into the bulk index: their messageIds into
/// `event_ids`, their accounts into `event_accounts`, each in key order so pages fill in turn.
async fn index_events(tx: &mut Tx, from: i64, to: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO event_ids (message_id, received_at) SELECT message_id, received_at FROM events \
         WHERE id > $1 AND id <= $2 ORDER BY message_id ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(from)
    .bind(to)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO event_accounts (account_id, event_id) SELECT account_id, id FROM events \
         WHERE id > $1 AND id <= $2 AND account_id IS NOT NULL ORDER BY account_id, id \
         ON CONFLICT (account_id, event_id) DO NOTHING",
    )
    .bind(from)
    .bind(to)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE event_index SET indexed_to = $1 WHERE id = 1").bind(to).execute(&mut **tx).await?;
    Ok(())
}

/// `event_index.indexed_to`, the newest event id and `event_index.links_version`.
async fn index_state(tx: &mut Tx) -> Result<(i64, i64, i64)> {
    let row = sqlx::query(
        "SELECT indexed_to, links_version, (SELECT COALESCE(MAX(id), 0) FROM events) AS newest \
         FROM event_index WHERE id = 1",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.try_get("indexed_to")?, row.try_get("newest")?, row.try_get("links_version")?))
}

/// Indexes every event after `event_index.indexed_to`.
pub(crate) async fn index_pending(tx: &mut Tx) -> Result<()> {
    let (indexed_to, newest, _) = index_state(tx).await?;
    index_events(tx, indexed_to, newest).await
}

/// Appends the group's new events, each with its account when known; returns the usage to count.
async fn insert_events(tx: &mut Tx, backend: Backend, links: &Links, fresh: &[&Event]) -> Result<Vec<Usage>> {
    let mut usage: Vec<Usage> = Vec::new();
    let mut rows = Vec::with_capacity(fresh.len());
    for e in fresh {
        let account = links.account_of(e);
        // An anonymous id already linked to a user is that user.
        let user = e.user_id.clone().or_else(|| links.user_of_anonymous(e).cloned());
        if let (Some(a), Some(name)) = (account, usage_name(e.kind, e.event.as_deref())) {
            let day = e.timestamp.date_naive().to_string();
            let who = user.clone().unwrap_or_else(|| e.actor().to_owned());
            usage.push((a, day, name, who));
        }
        rows.push(vec![
            Arg::Text(e.message_id.clone()),
            Arg::Text(e.kind.as_str().into()),
            Arg::MaybeText(e.event.clone()),
            Arg::MaybeText(user),
            Arg::MaybeText(e.anonymous_id.clone()),
            Arg::MaybeText(e.group_id.clone()),
            Arg::MaybeI64(account),
            Arg::I64(micros(e.timestamp)),
            Arg::MaybeI64(e.original_timestamp.map(micros)),
            Arg::MaybeI64(e.sent_at.map(micros)),
            Arg::I64(micros(e.received_at)),
            Arg::MaybeText(e.properties.clone()),
            Arg::MaybeText(e.context.clone()),
        ]);
    }
    let cols = [
        "message_id",
        "kind",
        "event",
        "user_id",
        "anonymous_id",
        "group_id",
        "account_id",
        "timestamp",
        "original_timestamp",
        "sent_at",
        "received_at",
        "properties",
        "context",
    ];
    insert_rows(tx, backend, "events", &cols, rows).await?;
    Ok(usage)
}

/// The events whose messageId is new: first in the group, not in the writer's unindexed tail
/// and not in `event_ids`.
async fn dedup<'e>(tx: &mut Tx, tail: &HashSet<String>, events: &'e [Event]) -> Result<Vec<&'e Event>> {
    let mut firsts: Vec<&Event> = Vec::with_capacity(events.len());
    let mut ids: HashSet<&str> = HashSet::with_capacity(events.len());
    for e in events {
        if !tail.contains(&e.message_id) && ids.insert(e.message_id.as_str()) {
            firsts.push(e);
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    for chunk in firsts.iter().map(|e| e.message_id.as_str()).collect::<Vec<_>>().chunks(500) {
        let mut sql = Sql::new("SELECT message_id FROM event_ids WHERE message_id IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await? {
            seen.insert(text(&r, "message_id")?);
        }
    }
    Ok(firsts.into_iter().filter(|e| !seen.contains(&e.message_id)).collect())
}

/// Reads the links the group needs that the writer does not know yet: its groupIds' accounts,
/// its anonymous ids' users, its users' accounts.
async fn load_links(tx: &mut Tx, links: &mut Links, events: &[&Event]) -> Result<()> {
    let groups = events.iter().filter_map(|e| e.group_id.as_deref()).collect();
    let select = "SELECT value AS k, account_id AS v FROM external_ids WHERE kind = 'segment' AND value IN ";
    fill(tx, select, groups, &mut links.groups, |r| Ok(r.try_get("v")?)).await?;
    let anonymous = events.iter().filter(|e| e.user_id.is_none()).filter_map(|e| e.anonymous_id.as_deref()).collect();
    let select = "SELECT anonymous_id AS k, user_id AS v FROM usage_anonymous WHERE anonymous_id IN ";
    fill(tx, select, anonymous, &mut links.anonymous, |r| Ok(text(r, "v")?)).await?;
    let users: HashSet<String> =
        events.iter().filter_map(|e| e.user_id.clone().or_else(|| links.user_of_anonymous(e).cloned())).collect();
    let select = "SELECT user_id AS k, account_id AS v FROM usage_users WHERE user_id IN ";
    fill(tx, select, users.iter().map(String::as_str).collect(), &mut links.users, |r| Ok(r.try_get("v")?)).await
}

/// Looks up, with `select` (`… IN` to be completed), the keys `known` has no answer for yet,
/// and remembers every answer, "none" included.
async fn fill<V>(
    tx: &mut Tx,
    select: &str,
    keys: HashSet<&str>,
    known: &mut HashMap<String, Option<V>>,
    value: impl Fn(&sqlx::any::AnyRow) -> Result<V>,
) -> Result<()> {
    let missing: Vec<&str> = keys.into_iter().filter(|k| !known.contains_key(*k)).collect();
    for chunk in missing.chunks(500) {
        let mut sql = Sql::new(select);
        in_list(&mut sql, chunk);
        let mut found = HashMap::new();
        for r in sql.query().fetch_all(&mut **tx).await? {
            found.insert(text(&r, "k")?, value(&r)?);
        }
        for k in chunk {
            known.insert((*k).to_owned(), found.remove(*k));
        }
    }
    Ok(())
}

/// An identify (traits, anonymous id → user) or group (user → account, the account created from
/// its traits when unknown) call; events it attributes are added to `late`.
async fn apply_call(
    store: &Store,
    tx: &mut Tx,
    links: &mut Links,
    indexed_to: i64,
    e: &Event,
    late: &mut Vec<Usage>,
) -> Result<()> {
    let Some(user) = e.user_id.clone().or_else(|| e.anonymous_id.clone()) else { return Ok(()) };
    let now = micros(e.timestamp);
    match e.kind {
        Kind::Identify => {
            sqlx::query(
                "INSERT INTO usage_users (user_id, traits, first_seen, last_seen) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET traits = excluded.traits",
            )
            .bind(&user)
            .bind(&e.properties)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            links.users.entry(user.clone()).or_insert(None);
            if let (Some(anon), Some(uid)) = (&e.anonymous_id, &e.user_id) {
                sqlx::query(
                    "INSERT INTO usage_anonymous (anonymous_id, user_id) VALUES ($1, $2) ON CONFLICT (anonymous_id) DO NOTHING",
                )
                .bind(anon)
                .bind(uid)
                .execute(&mut **tx)
                .await?;
                links.anonymous.insert(anon.clone(), Some(uid.clone()));
                // The anonymous id's earlier events become the user's.
                sqlx::query("UPDATE events SET user_id = $1 WHERE anonymous_id = $2 AND user_id IS NULL")
                    .bind(uid)
                    .bind(anon)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Kind::Group => {
            let group = e.group_id.clone().unwrap_or_default();
            let account = match links.groups.get(&group) {
                Some(Some(a)) => *a,
                _ => {
                    let a = create_account(store, tx, &group, &traits(e)).await?;
                    links.groups.insert(group, Some(a));
                    a
                }
            };
            sqlx::query(
                "INSERT INTO usage_users (user_id, account_id, first_seen, last_seen) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET account_id = excluded.account_id",
            )
            .bind(&user)
            .bind(account)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            links.users.insert(user.clone(), Some(account));
        }
        _ => return Ok(()),
    }
    // Whatever the user did before it belonged to an account now counts for the account.
    if let Some(account) = links.users.get(&user).copied().flatten() {
        let rows = sqlx::query(
            "UPDATE events SET account_id = $1 WHERE account_id IS NULL AND user_id = $2 \
             RETURNING id, kind, event, timestamp, user_id",
        )
        .bind(account)
        .bind(&user)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let id: i64 = r.try_get("id")?;
            if id <= indexed_to {
                // Already in the bulk index, under no account.
                sqlx::query("INSERT INTO event_accounts (account_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(account)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            let kind = Kind::parse(&text(&r, "kind")?).unwrap_or(Kind::Identify);
            if let Some(name) = usage_name(kind, opt_text(&r, "event")?.as_deref()) {
                let at: i64 = r.try_get("timestamp")?;
                let day = DateTime::<Utc>::from_timestamp_micros(at).unwrap_or_default().date_naive().to_string();
                late.push((account, day, name, user.clone()));
            }
        }
        contact(tx, account, &user).await?;
    }
    Ok(())
}

/// The account a group call names for the first time, from its traits.
async fn create_account(store: &Store, tx: &mut Tx, group: &str, t: &Traits) -> Result<i64> {
    let full = AccountInput {
        name: Some(t.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| group.to_owned())),
        domain: t.website.clone(),
        industry: t.industry.clone(),
        employees: t.employees.as_ref().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())),
        plan: t.plan.clone(),
        external_ids: vec![("segment".into(), group.to_owned())],
        ..Default::default()
    };
    // Traits a client sent wrong do not stop the account: it is made from its name alone.
    let bare = AccountInput { name: full.name.clone(), external_ids: full.external_ids.clone(), ..Default::default() };
    let new = full.validate().or_else(|_| bare.validate()).map_err(crate::StoreError::from)?;
    Ok(store.create_account_in(tx, &Actor::system("segment"), &new).await?.id)
}

/// Makes the user a contact of `account` once its identify traits carry an email.
async fn contact(tx: &mut Tx, account: i64, user: &str) -> Result<()> {
    let row =
        sqlx::query("SELECT traits FROM usage_users WHERE user_id = $1").bind(user).fetch_optional(&mut **tx).await?;
    let Some(raw) = row.map(|r| opt_text(&r, "traits")).transpose()?.flatten() else { return Ok(()) };
    let t: Traits = serde_json::from_str(&raw).unwrap_or_default();
    let Some(email) = t.email else { return Ok(()) };
    let input = ContactInput {
        account_id: Some(account),
        email: Some(email),
        name: t.name,
        title: t.title,
        external_user_ids: vec![user.to_owned()],
        ..Default::default()
    };
    // An identify whose email is not one leaves the contacts alone; its events still count.
    if let Ok(new) = input.validate() {
        upsert_for_user(tx, account, user, &new).await?;
    }
    Ok(())
}

/// Adds usage to `usage_daily`: counts, and users not yet counted for that account, day and event.
async fn roll_up(tx: &mut Tx, backend: Backend, usage: &[Usage]) -> Result<()> {
    if usage.is_empty() {
        return Ok(());
    }
    let mut counts: HashMap<(i64, &str, &str), (i64, i64)> = HashMap::new();
    let mut user_days: HashSet<(i64, &str, &str, &str)> = HashSet::new();
    for (a, day, name, user) in usage {
        counts.entry((*a, day, name)).or_default().0 += 1;
        user_days.insert((*a, day, name, user));
    }
    let rows = user_days
        .iter()
        .map(|(a, d, n, u)| vec![Arg::I64(*a), Arg::Text((*d).into()), Arg::Text((*n).into()), Arg::Text((*u).into())])
        .collect();
    let added = insert_returning(
        tx,
        backend,
        "usage_user_days",
        &["account_id", "day", "event", "user_key"],
        rows,
        " ON CONFLICT (account_id, day, event, user_key) DO NOTHING RETURNING account_id, day, event",
    )
    .await?;
    let mut new_users: HashMap<(i64, String, String), i64> = HashMap::new();
    for r in &added {
        *new_users.entry((r.try_get("account_id")?, text(r, "day")?, text(r, "event")?)).or_default() += 1;
    }
    for ((a, d, n), c) in counts.iter_mut() {
        c.1 = new_users.get(&(*a, (*d).to_owned(), (*n).to_owned())).copied().unwrap_or(0);
    }
    let rows = counts
        .iter()
        .map(|((a, d, n), (count, users))| {
            vec![Arg::I64(*a), Arg::Text((*d).into()), Arg::Text((*n).into()), Arg::I64(*count), Arg::I64(*users)]
        })
        .collect();
    upsert_rows(
        tx,
        backend,
        "usage_daily",
        &["account_id", "day", "event", "count", "users"],
        rows,
        " ON CONFLICT (account_id, day, event) DO UPDATE SET count = usage_daily.count + excluded.count, \
         users = usage_daily.users + excluded.users",
    )
    .await?;
    Ok(())
}

/// Brings users' first and last seen up to date with the group's events.
async fn seen(tx: &mut Tx, backend: Backend, events: &[&Event]) -> Result<()> {
    let mut span: HashMap<&str, (i64, i64)> = HashMap::new();
    for e in events {
        let Some(u) = e.user_id.as_deref() else { continue };
        let t = micros(e.timestamp);
        let s = span.entry(u).or_insert((t, t));
        s.0 = s.0.min(t);
        s.1 = s.1.max(t);
    }
    let rows = span
        .into_iter()
        .map(|(u, (first, last))| vec![Arg::Text(u.to_owned()), Arg::I64(first), Arg::I64(last)])
        .collect();
    upsert_rows(
        tx,
        backend,
        "usage_users",
        &["user_id", "first_seen", "last_seen"],
        rows,
        " ON CONFLICT (user_id) DO UPDATE SET \
         first_seen = CASE WHEN usage_users.first_seen IS NULL OR excluded.first_seen < usage_users.first_seen \
           THEN excluded.first_seen ELSE usage_users.first_seen END, \
         last_seen = CASE WHEN usage_users.last_seen IS NULL OR excluded.last_seen > usage_users.last_seen \
           THEN excluded.last_seen ELSE usage_users.last_seen END",
    )
    .await?;
    Ok(())
}
