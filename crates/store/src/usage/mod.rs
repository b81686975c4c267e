//! Product usage: Segment events written in groups (one transaction for many requests), who they
//! belong to, and the daily rollups kept up to date in the same transaction.
//!
//! An event's account is its `context.groupId` (external id kind `segment`), else the account its
//! user was last grouped into, else — for an anonymous id an identify linked to a user — that
//! user's. Events that belong to no account yet are kept and attributed (rollups included) when
//! an identify or group call links them.

use crate::contacts::upsert_for_user;
use crate::sql::{in_list, insert_rows, opt_text, text, upsert_rows, Arg, Sql};
use crate::{Actor, Backend, Result, Store, Tx};
use chrono::{DateTime, Utc};
use keepwell_core::account::AccountInput;
use keepwell_core::contact::ContactInput;
use keepwell_core::ingest::{Event, Kind};
use serde::Deserialize;
use sqlx::Row;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};

mod activity;
mod read;
mod waiting;
pub use activity::{set_plan_features, AccountActivity, ActivityQuery, EventTotal, ProductUser, QuietAccount, Ranking};
pub use read::{EventFilter, StoredEvent, UsageDay};
pub use waiting::{link_group, Attributed, Unmatched, Waiting};

/// What a group of events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestSummary {
    /// Events stored.
    pub stored: usize,
    /// Events whose messageId was seen before (in this group or within the dedup window).
    pub duplicates: usize,
    /// The ids of the events written: after the first, up to the second.
    pub ids: (i64, i64),
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The rollup name of a usage event, in SQL over `events`: a track's event name, `page:NAME` or
/// `screen:NAME` (`page`, `screen` without a name). Identify and group calls are not usage.
const USAGE_NAME: &str =
    "CASE WHEN kind = 'track' THEN event WHEN event IS NULL OR event = '' THEN kind ELSE kind || ':' || event END";

/// The UTC day of `events.timestamp` (microseconds), as `YYYY-MM-DD`.
fn day_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "date(timestamp / 1000000, 'unixepoch')",
        Backend::Postgres => "to_char(to_timestamp(timestamp / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
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

/// Who belongs where, as far as a writer has needed to know: each groupId's account, each
/// user's account, each anonymous id's user — `None` when there is none. Valid while
/// `event_index.links_version` has not moved but for the writer's own changes, which it makes
/// here too.
#[derive(Default)]
struct Links {
    groups: HashMap<String, Option<i64>>,
    /// groupIds two accounts hold: their events wait until someone says which is meant.
    ambiguous: HashSet<String>,
    users: HashMap<String, Option<i64>>,
    anonymous: HashMap<String, Option<String>>,
}

/// Links a writer keeps at most before it starts again from nothing.
const LINKS_KEPT: usize = 1_000_000;

impl Links {
    fn account_of(&self, e: &Event) -> Option<i64> {
        if e.account_id.is_some() {
            return e.account_id;
        }
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

/// The digests of the messageIds a writer wrote after `event_index.indexed_to`, by the newest
/// event id of the transaction that wrote them: once the fold job has indexed past a
/// transaction's events, their messageIds are in `event_ids` and the writer forgets them.
#[derive(Default)]
struct Tail {
    all: HashSet<u128>,
    written: VecDeque<(i64, Vec<u128>)>,
}

impl Tail {
    fn contains(&self, digest: &u128) -> bool {
        self.all.contains(digest)
    }

    fn len(&self) -> usize {
        self.all.len()
    }

    fn push(&mut self, upto: i64, digests: HashSet<u128>) {
        if !digests.is_empty() {
            self.written.push_back((upto, digests.iter().copied().collect()));
            self.all.extend(digests);
        }
    }

    fn forget_upto(&mut self, indexed_to: i64) {
        while self.written.front().is_some_and(|(upto, _)| *upto <= indexed_to) {
            for d in self.written.pop_front().into_iter().flat_map(|(_, ds)| ds) {
                self.all.remove(&d);
            }
        }
    }

    fn clear(&mut self) {
        *self = Tail::default();
    }
}

/// Events a writer leaves out of the bulk index at most, unless told otherwise.
pub const INDEX_EVERY: usize = 1_000_000;
/// Events a writer leaves out of the rollups at most, unless told otherwise; the server also
/// folds them in whenever it is idle for a moment or a request reads usage.
pub const FOLD_EVERY: usize = 700_000;

/// The one writer of events on a node. It appends events; every so often, in the same kind of
/// transaction, it folds the events after `event_index.rolled_to` into the rollups and users'
/// activity (in SQL, so a crash or another writer loses nothing: the next fold takes them), and
/// indexes the events after `event_index.indexed_to`.
///
/// What it knows between its transactions: the
/// messageIds of the events it wrote after `event_index.indexed_to` (checked here, in memory;
/// older ones in `event_ids`), and who belongs where. When anyone else wrote events since this
/// writer's last commit (another node, an import, a restart), its memory of the messageIds is
/// not the whole story, so it first indexes every event after `indexed_to`; when anyone else
/// changed who belongs where, it forgets the links.
pub struct EventWriter {
    store: Store,
    tail: Tail,
    /// Keys the 128-bit digests of messageIds in `tail`.
    digest: (RandomState, RandomState),
    /// The newest event id when this writer last committed.
    last_written: Option<i64>,
    links: Links,
    /// `event_index.links_version` when this writer last committed.
    links_version: Option<i64>,
    /// Whether events it wrote are not in the rollups yet.
    unfolded: bool,
    /// Whether the fold job folds and indexes beside it (PostgreSQL's live writer).
    beside_fold_job: bool,
    index_every: usize,
    fold_every: usize,
}

impl Store {
    /// Stores one group of events (see [`EventWriter::write`]) with a writer of its own.
    /// Everything is folded into the rollups before it returns.
    pub async fn ingest(&self, events: &[Event]) -> Result<IngestSummary> {
        EventWriter::new(self.clone()).fold_every(1).write(events).await
    }
}

impl Store {
    /// Folds every event stored when it is called (and not in the rollups or the bulk index
    /// yet) into them, in steps of up to `step` events, oldest first. Each step is a transaction
    /// of its own under the fold lock (see `hold_folds`: a writer that only inserts events does
    /// not wait for it), so the writers are held off for a step at most. It stops at what was
    /// stored when it started: under steady ingest it ends all the same.
    pub async fn fold_stored(&self, step: i64) -> Result<()> {
        let upto = {
            let mut tx = self.begin().await?;
            index_state(&mut tx).await?.newest
        };
        while self.fold_step(step, upto).await? {}
        Ok(())
    }

    /// One step of [`Store::fold_stored`]: whether events up to `upto` are left to do.
    async fn fold_step(&self, limit: i64, upto: i64) -> Result<bool> {
        let backend = self.backend();
        let mut tx = self.begin().await?;
        hold_folds(&mut tx, backend).await?;
        if backend == Backend::Postgres {
            // It changes no one's account: the writers keep their links (migration 0016).
            sqlx::query("SELECT set_config('keepwell.folding', 'on', true)").execute(&mut *tx).await?;
        }
        let state = index_state(&mut tx).await?;
        let upto = upto.min(state.newest);
        let limit = limit.max(1);
        let rolled = upto.min(state.rolled_to + limit).max(state.rolled_to);
        if rolled > state.rolled_to {
            fold(&mut tx, backend, Scope::After(state.rolled_to, rolled), Seen::Count).await?;
            sqlx::query("UPDATE event_index SET rolled_to = $1 WHERE id = 1").bind(rolled).execute(&mut *tx).await?;
        }
        let indexed = upto.min(state.indexed_to + limit).max(state.indexed_to);
        if indexed > state.indexed_to {
            index_events(&mut tx, state.indexed_to, indexed, self.clock().now()).await?;
        }
        tx.commit().await?;
        Ok(rolled.min(indexed) < upto)
    }

    /// Events stored but not in the rollups or the bulk index yet.
    pub async fn unfolded_events(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM events) - CASE WHEN rolled_to < indexed_to THEN rolled_to \
             ELSE indexed_to END AS n FROM event_index WHERE id = 1",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")?.max(0))
    }
}

impl EventWriter {
    pub fn new(store: Store) -> EventWriter {
        EventWriter {
            store,
            tail: Tail::default(),
            digest: Default::default(),
            last_written: None,
            links: Links::default(),
            links_version: None,
            unfolded: false,
            beside_fold_job: false,
            index_every: INDEX_EVERY,
            fold_every: FOLD_EVERY,
        }
    }

    /// Folds its events into the rollups once it has left `n` out.
    pub fn fold_every(mut self, n: usize) -> EventWriter {
        self.fold_every = n.max(1);
        self
    }

    /// Whether events it wrote are not in the rollups yet.
    pub fn unfolded(&self) -> bool {
        self.unfolded
    }

    /// Folds every event not in the rollups yet into them now.
    pub async fn fold(&mut self) -> Result<()> {
        self.write_then(std::iter::empty::<Result<&[Event]>>(), true, true, &mut |_| ()).await.map(drop)
    }

    /// Imports a history file's events, `groups` in turn, all in one transaction (none of them
    /// when any group fails or is an error), folded into the rollups before it returns. With
    /// `dry_run` it does everything, counts, and rolls back.
    pub async fn import<G: AsRef<[Event]> + Send>(
        &mut self,
        groups: impl Iterator<Item = Result<G>> + Send,
        dry_run: bool,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<IngestSummary> {
        self.write_then(groups, true, !dry_run, progress).await
    }

    /// Leaves folding and bulk indexing to the fold job (`Store::fold_step`, run beside it): on
    /// PostgreSQL, its transactions then wait for a fold step only when they write what a step
    /// also writes. It never folds or indexes in bulk itself.
    pub fn beside_fold_job(mut self) -> EventWriter {
        self.beside_fold_job = true;
        self.fold_every = i64::MAX as usize;
        self.index_every = usize::MAX;
        self
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
        self.write_then(std::iter::once(Ok(events)), false, true, &mut |_| ()).await
    }

    async fn write_then<G: AsRef<[Event]> + Send>(
        &mut self,
        groups: impl Iterator<Item = Result<G>> + Send,
        fold: bool,
        keep: bool,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<IngestSummary> {
        let result = self.write_groups(groups, fold, keep, progress).await;
        if result.is_err() || !keep {
            // What the transaction would have added is not in the database.
            self.tail.clear();
            self.last_written = None;
            self.links = Links::default();
            self.links_version = None;
            self.unfolded = true;
        }
        result
    }

    /// Writes `groups` in turn in one transaction, committed when `keep` (else rolled back:
    /// a dry run), calling `progress` with the events written so far after each group.
    // `hold_folds!` re-reads every position wherever it is used; the last use needs fewer.
    #[allow(unused_assignments)]
    async fn write_groups<G: AsRef<[Event]> + Send>(
        &mut self,
        groups: impl Iterator<Item = Result<G>> + Send,
        fold_now: bool,
        keep: bool,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<IngestSummary> {
        let store = &self.store;
        let backend = store.backend();
        let mut tx = store.begin().await?;
        // Beside the fold job, only what it also writes waits for it (see `hold_folds`).
        let beside = self.beside_fold_job && backend == Backend::Postgres;
        let mut folds_held = !beside;
        if beside {
            hold_writers_only(&mut tx, backend).await?;
        } else {
            hold_writers(&mut tx, backend).await?;
        }
        let IndexState { mut indexed_to, rolled_to: mut rolled_before, newest, links_version } =
            index_state(&mut tx).await?;
        let mut rolled_to = rolled_before;
        // Takes the fold lock once, before the first write the fold job also makes, and reads
        // again how far the job has come meanwhile.
        macro_rules! hold_folds {
            () => {
                if !folds_held {
                    hold_folds(&mut tx, backend).await?;
                    folds_held = true;
                    let now = index_state(&mut tx).await?;
                    (indexed_to, rolled_before, rolled_to) = (now.indexed_to, now.rolled_to, now.rolled_to);
                }
            };
        }
        if self.links_version != Some(links_version) || self.links.len() > LINKS_KEPT {
            self.links = Links::default();
        }
        if self.last_written != Some(newest) && newest > indexed_to {
            hold_folds!();
        }
        if self.last_written != Some(newest) && newest > indexed_to {
            index_events(&mut tx, indexed_to, newest, self.store.clock().now()).await?;
            indexed_to = newest;
        }
        // What the fold job (or anyone) has indexed is in `event_ids` now.
        self.tail.forget_upto(indexed_to);
        let mut summary = IngestSummary::default();
        // The messageIds this transaction wrote and has not indexed.
        let mut pending: HashSet<u128> = HashSet::new();
        let mut late: Vec<i64> = Vec::new();
        let mut created: Vec<String> = Vec::new();
        let mut written = newest;
        let mut done = 0;
        for events in groups {
            let events = events?;
            let events = events.as_ref();
            let (fresh, digests) =
                dedup(&mut tx, &self.digest, |d| self.tail.contains(d) || pending.contains(d), events).await?;
            summary.duplicates += events.len() - fresh.len();
            summary.stored += fresh.len();
            if fresh.iter().any(|e| matches!(e.kind, Kind::Identify | Kind::Group) || e.account_id.is_some()) {
                // Calls that move who belongs where, and the events they attribute.
                hold_folds!();
            }
            let links = &mut self.links;
            load_links(&mut tx, links, &fresh).await?;
            link_named_accounts(&mut tx, backend, links, &fresh).await?;
            for e in fresh.iter().filter(|e| matches!(e.kind, Kind::Identify | Kind::Group)) {
                if let Some(group) = apply_call(store, &mut tx, links, (indexed_to, rolled_to), e, &mut late).await? {
                    created.push(group);
                }
            }
            insert_events(&mut tx, backend, links, &fresh).await?;
            pending.extend(digests);
            written = index_state(&mut tx).await?.newest;
            if written - rolled_to >= self.fold_every as i64 {
                hold_folds!();
                fold_late(&mut tx, backend, &mut late).await?;
                fold(&mut tx, backend, Scope::After(rolled_to, written), Seen::Count).await?;
                rolled_to = written;
            }
            if self.tail.len() + pending.len() >= self.index_every {
                hold_folds!();
                index_events(&mut tx, indexed_to, written, self.store.clock().now()).await?;
                indexed_to = written;
                self.tail.clear();
                pending.clear();
            }
            done += events.len();
            progress(done);
        }
        if !late.is_empty() || (written > rolled_to && fold_now) {
            hold_folds!();
        }
        fold_late(&mut tx, backend, &mut late).await?;
        if written > rolled_to && fold_now {
            fold(&mut tx, backend, Scope::After(rolled_to, written), Seen::Count).await?;
            rolled_to = written;
        }
        if rolled_to != rolled_before {
            sqlx::query("UPDATE event_index SET rolled_to = $1 WHERE id = 1").bind(rolled_to).execute(&mut *tx).await?;
        }
        let links_version = index_state(&mut tx).await?.links_version;
        if !keep {
            tx.rollback().await?;
            return Ok(summary);
        }
        tx.commit().await?;
        self.tail.push(written, pending);
        self.last_written = Some(written);
        self.links_version = Some(links_version);
        self.unfolded = written > rolled_to;
        summary.ids = (newest, written);
        // Accounts a group call just made may have events that waited for them.
        if !created.is_empty() {
            self.store.attribute_waiting(&created).await?;
        }
        Ok(summary)
    }
}

/// On PostgreSQL, waits for the other event writers (and attributions) across nodes and holds
/// them off until the transaction ends: ids then commit in the order they were given, which
/// `indexed_to` relies on, and no writer commits events for a groupId under no account after an
/// attribution looked.
pub(crate) async fn hold_writers(tx: &mut Tx, backend: Backend) -> Result<()> {
    hold_writers_only(tx, backend).await?;
    hold_folds(tx, backend).await
}

/// The writers' lock alone: the live PostgreSQL writer inserting events beside the fold job.
async fn hold_writers_only(tx: &mut Tx, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7251001)").execute(&mut **tx).await?;
    }
    Ok(())
}

/// On PostgreSQL, the fold lock: held by the fold job's steps (alone), and by every writer
/// before it writes what a step also writes or reads as settled (rollups, the bulk index, users'
/// links, events' accounts). Taken after the writers' lock by whoever takes both, so the two
/// cannot wait on each other; a writer that only inserts events never waits for a fold.
async fn hold_folds(tx: &mut Tx, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7251002)").execute(&mut **tx).await?;
    }
    Ok(())
}

/// Counts the events attributed late (after they were folded under no account), a bounded
/// number of ids at a time. Their users' first and last seen were counted then.
pub(crate) async fn fold_late(tx: &mut Tx, backend: Backend, late: &mut Vec<i64>) -> Result<()> {
    for ids in late.chunks(10_000) {
        fold(tx, backend, Scope::Ids(ids), Seen::Already).await?;
    }
    late.clear();
    Ok(())
}

/// Puts events just given an account into the bulk index when it already passed them (they
/// were indexed under no account).
pub(crate) async fn index_attributed(tx: &mut Tx, ids: &[i64], indexed_to: i64) -> Result<()> {
    let indexed: Vec<i64> = ids.iter().copied().filter(|id| *id <= indexed_to).collect();
    for chunk in indexed.chunks(10_000) {
        let mut sql = Sql::new(
            "INSERT INTO event_times (account_id, timestamp, event_id) SELECT account_id, timestamp, id FROM events \
             WHERE account_id IS NOT NULL",
        );
        Scope::Ids(chunk).push(&mut sql);
        sql.push(" ON CONFLICT (account_id, timestamp, event_id) DO NOTHING");
        sql.query().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Links the users of events that name their account directly (a CSV import) to that account,
/// unless a group call already put them in one.
async fn link_named_accounts(tx: &mut Tx, backend: Backend, links: &mut Links, events: &[&Event]) -> Result<()> {
    let mut rows = Vec::new();
    for e in events {
        let (Some(account), Some(user)) = (e.account_id, &e.user_id) else { continue };
        if links.users.get(user).copied().flatten().is_none() {
            links.users.insert(user.clone(), Some(account));
            rows.push(vec![Arg::Text(user.clone()), Arg::I64(account)]);
        }
    }
    upsert_rows(
        tx,
        backend,
        "usage_users",
        &["user_id", "account_id"],
        rows,
        " ON CONFLICT (user_id) DO UPDATE SET account_id = COALESCE(usage_users.account_id, excluded.account_id)",
    )
    .await?;
    Ok(())
}

/// How long a messageId deduplicates at least: 7 days after it was indexed (Segment keeps 24
/// hours at least), however old the event.
pub const DEDUP_DAYS: i64 = 7;

/// Takes the events after `from` up to `to` into the bulk index: their messageIds into
/// `event_ids` (dated now, so an imported history deduplicates for [`DEDUP_DAYS`] too), their
/// accounts and times into `event_times`, their times into `event_order`, each in key order so
/// pages fill in turn; and forgets the messageIds indexed more than [`DEDUP_DAYS`] + 1 days ago.
async fn index_events(tx: &mut Tx, from: i64, to: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO event_ids (message_id, received_at) SELECT message_id, $3 FROM events \
         WHERE id > $1 AND id <= $2 ORDER BY message_id ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(from)
    .bind(to)
    .bind(micros(now))
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM event_ids WHERE received_at < $1")
        .bind(micros(now - chrono::Duration::days(DEDUP_DAYS + 1)))
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO event_times (account_id, timestamp, event_id) SELECT account_id, timestamp, id FROM events \
         WHERE id > $1 AND id <= $2 AND account_id IS NOT NULL ORDER BY account_id, timestamp, id \
         ON CONFLICT (account_id, timestamp, event_id) DO NOTHING",
    )
    .bind(from)
    .bind(to)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO event_order (timestamp, event_id) SELECT timestamp, id FROM events \
         WHERE id > $1 AND id <= $2 ORDER BY timestamp, id ON CONFLICT (timestamp, event_id) DO NOTHING",
    )
    .bind(from)
    .bind(to)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE event_index SET indexed_to = $1 WHERE id = 1").bind(to).execute(&mut **tx).await?;
    Ok(())
}

/// Where the bulk index and the rollups stand, and the newest event.
struct IndexState {
    indexed_to: i64,
    rolled_to: i64,
    newest: i64,
    links_version: i64,
}

async fn index_state(tx: &mut Tx) -> Result<IndexState> {
    let row = sqlx::query(
        "SELECT indexed_to, rolled_to, links_version, (SELECT COALESCE(MAX(id), 0) FROM events) AS newest \
         FROM event_index WHERE id = 1",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(IndexState {
        indexed_to: row.try_get("indexed_to")?,
        rolled_to: row.try_get("rolled_to")?,
        newest: row.try_get("newest")?,
        links_version: row.try_get("links_version")?,
    })
}

/// Builds the bulk index of every event anew (after a restore; the rollups are restored as
/// they were, with `rolled_to`).
pub(crate) async fn reindex(tx: &mut Tx, now: DateTime<Utc>) -> Result<()> {
    let state = index_state(tx).await?;
    index_events(tx, 0, state.newest, now).await
}

/// Appends the group's new events, each with its account when known.
async fn insert_events(tx: &mut Tx, backend: Backend, links: &Links, fresh: &[&Event]) -> Result<()> {
    let mut rows = Vec::with_capacity(fresh.len());
    for e in fresh {
        let account = links.account_of(e);
        // An anonymous id already linked to a user is that user.
        let user = e.user_id.clone().or_else(|| links.user_of_anonymous(e).cloned());
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
    Ok(())
}

/// A messageId's 128-bit digest under this writer's random keys: a writer remembers up to a
/// million unindexed messageIds, and 16 bytes each instead of a string keeps that small. Two
/// ids share a digest with a chance of about 10⁻²⁶ among a million.
fn digest(keys: &(RandomState, RandomState), id: &str) -> u128 {
    (u128::from(keys.0.hash_one(id)) << 64) | u128::from(keys.1.hash_one(id))
}

/// The events whose messageId is new, with their digests: first in the group, not among the
/// unindexed messageIds the writer knows (`unindexed`) and not in `event_ids`.
async fn dedup<'e>(
    tx: &mut Tx,
    keys: &(RandomState, RandomState),
    unindexed: impl Fn(&u128) -> bool,
    events: &'e [Event],
) -> Result<(Vec<&'e Event>, Vec<u128>)> {
    let mut firsts: Vec<(&Event, u128)> = Vec::with_capacity(events.len());
    let mut ids: HashSet<&str> = HashSet::with_capacity(events.len());
    for e in events {
        let d = digest(keys, &e.message_id);
        if !unindexed(&d) && ids.insert(e.message_id.as_str()) {
            firsts.push((e, d));
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    for chunk in firsts.iter().map(|(e, _)| e.message_id.as_str()).collect::<Vec<_>>().chunks(500) {
        let mut sql = Sql::new("SELECT message_id FROM event_ids WHERE message_id IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await? {
            seen.insert(text(&r, "message_id")?);
        }
    }
    Ok(firsts.into_iter().filter(|(e, _)| !seen.contains(&e.message_id)).unzip())
}

/// Reads the links the group needs that the writer does not know yet: its groupIds' accounts,
/// its anonymous ids' users, its users' accounts.
async fn load_links(tx: &mut Tx, links: &mut Links, events: &[&Event]) -> Result<()> {
    let groups: Vec<&str> = events
        .iter()
        .filter_map(|e| e.group_id.as_deref())
        .filter(|g| !links.groups.contains_key(*g))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for (g, holder) in resolve_groups(tx, &groups).await? {
        if holder == Holder::Many {
            links.ambiguous.insert(g.clone());
        }
        links.groups.insert(g, holder.account());
    }
    let anonymous = events.iter().filter(|e| e.user_id.is_none()).filter_map(|e| e.anonymous_id.as_deref()).collect();
    let select = "SELECT anonymous_id AS k, user_id AS v FROM usage_anonymous WHERE anonymous_id IN ";
    fill(tx, select, anonymous, &mut links.anonymous, |r| Ok(opt_text(r, "v")?)).await?;
    let users: HashSet<String> =
        events.iter().filter_map(|e| e.user_id.clone().or_else(|| links.user_of_anonymous(e).cloned())).collect();
    // A user seen but never grouped has a row without an account: known, and in none.
    let select = "SELECT user_id AS k, account_id AS v FROM usage_users WHERE user_id IN ";
    fill(tx, select, users.iter().map(String::as_str).collect(), &mut links.users, |r| Ok(r.try_get("v")?)).await
}

/// Who holds a groupId among the accounts' external ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    Nobody,
    One(i64),
    /// Two or more accounts hold the value under other kinds than `segment`: never guessed.
    Many,
}

impl Holder {
    fn account(self) -> Option<i64> {
        match self {
            Holder::One(a) => Some(a),
            _ => None,
        }
    }
}

/// Resolves groupIds to accounts: the account holding the value as kind `segment`, else the one
/// account holding it under any kind (a CRM id, a Stripe customer id…).
pub(crate) async fn resolve_groups(tx: &mut Tx, values: &[&str]) -> Result<HashMap<String, Holder>> {
    let mut holders: HashMap<String, (Option<i64>, HashSet<i64>)> = HashMap::new();
    for chunk in values.chunks(500) {
        let mut sql = Sql::new("SELECT value, kind, account_id FROM external_ids WHERE value IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await? {
            let entry = holders.entry(text(&r, "value")?).or_default();
            let account: i64 = r.try_get("account_id")?;
            if text(&r, "kind")? == "segment" {
                entry.0 = Some(account);
            }
            entry.1.insert(account);
        }
    }
    Ok(values
        .iter()
        .map(|v| {
            let holder = match holders.get(*v) {
                None => Holder::Nobody,
                Some((Some(segment), _)) => Holder::One(*segment),
                Some((None, all)) if all.len() == 1 => Holder::One(*all.iter().next().unwrap_or(&0)),
                Some(_) => Holder::Many,
            };
            ((*v).to_owned(), holder)
        })
        .collect())
}

/// Looks up, with `select` (`… IN` to be completed), the keys `known` has no answer for yet,
/// and remembers every answer, "none" included.
async fn fill<V>(
    tx: &mut Tx,
    select: &str,
    keys: HashSet<&str>,
    known: &mut HashMap<String, Option<V>>,
    value: impl Fn(&sqlx::any::AnyRow) -> Result<Option<V>>,
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
            known.insert((*k).to_owned(), found.remove(*k).flatten());
        }
    }
    Ok(())
}

/// An identify (traits, anonymous id → user) or group (user → account, the account created from
/// its traits when unknown) call. Events it attributes that were folded into the rollups already
/// (under no account) are added to `late`, to be counted now; later ones are counted when folded.
/// Returns the groupId of an account it created.
async fn apply_call(
    store: &Store,
    tx: &mut Tx,
    links: &mut Links,
    (indexed_to, rolled_to): (i64, i64),
    e: &Event,
    late: &mut Vec<i64>,
) -> Result<Option<String>> {
    let Some(user) = e.user_id.clone().or_else(|| e.anonymous_id.clone()) else { return Ok(None) };
    let mut created = None;
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
                // Held by two accounts: which one is meant is not guessed; the user stays ungrouped.
                _ if links.ambiguous.contains(&group) => return Ok(None),
                _ => {
                    let a = create_account(store, tx, &group, &traits(e)).await?;
                    links.groups.insert(group.clone(), Some(a));
                    created = Some(group);
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
        _ => return Ok(None),
    }
    // Whatever the user did before it belonged to an account now counts for the account.
    if let Some(account) = links.users.get(&user).copied().flatten() {
        let rows =
            sqlx::query("UPDATE events SET account_id = $1 WHERE account_id IS NULL AND user_id = $2 RETURNING id")
                .bind(account)
                .bind(&user)
                .fetch_all(&mut **tx)
                .await?;
        let ids = rows.iter().map(|r| r.try_get::<i64, _>("id")).collect::<Result<Vec<_>, _>>()?;
        index_attributed(tx, &ids, indexed_to).await?;
        late.extend(ids.into_iter().filter(|id| *id <= rolled_to));
        contact(tx, store.now_micros(), account, &user).await?;
    }
    Ok(created)
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
    let id =
        crate::accounts::create_in(tx, store.now_micros(), &Actor::system("segment"), store.backend(), &new).await?.id;
    // Made from a groupId alone: a CRM import or API call bringing that id adopts it.
    sqlx::query("UPDATE accounts SET adoptable = 1 WHERE id = $1").bind(id).execute(&mut **tx).await?;
    Ok(id)
}

/// Makes the user a contact of `account` once its identify traits carry an email.
async fn contact(tx: &mut Tx, now: i64, account: i64, user: &str) -> Result<()> {
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
        upsert_for_user(tx, now, account, user, &new).await?;
    }
    Ok(())
}

/// Whether a fold counts its events' users as seen (once, when they are first folded).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Count,
    Already,
}

/// Which events a fold takes.
pub(crate) enum Scope<'a> {
    /// Those after the first id, up to the second.
    After(i64, i64),
    Ids(&'a [i64]),
}

impl Scope<'_> {
    pub(crate) fn push(&self, sql: &mut Sql) {
        match self {
            Scope::After(from, to) => {
                sql.push(" AND id > ").bind(Arg::I64(*from)).push(" AND id <= ").bind(Arg::I64(*to));
            }
            // Ids are the store's own integers: written out, not bound, so ten thousand of them
            // cost no parameter lookups.
            Scope::Ids(ids) => {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                sql.push(&format!(" AND id IN ({})", if list.is_empty() { "NULL".into() } else { list.join(",") }));
            }
        }
    }
}

/// Days of activity for `usage_bits` (a bit per day in 62-day blocks) and `usage_last` (the last
/// day), per account, kind (`u` user, `e` usage name) and name, merged into what is stored.
#[derive(Default)]
pub(crate) struct DayBits {
    bits: HashMap<(i64, &'static str, String, i64), i64>,
    last: HashMap<(i64, &'static str, String), i64>,
}

impl DayBits {
    /// Day `n` (days since 1970-01-01).
    pub fn add(&mut self, account: i64, kind: &'static str, name: String, n: i64) {
        let block = n.div_euclid(keepwell_core::facts::BLOCK_DAYS);
        self.add_block(account, kind, name, block, 1 << n.rem_euclid(keepwell_core::facts::BLOCK_DAYS));
    }

    /// A block's days at once.
    pub fn add_block(&mut self, account: i64, kind: &'static str, name: String, block: i64, bits: i64) {
        let last = block * keepwell_core::facts::BLOCK_DAYS + 63 - i64::from(bits.leading_zeros());
        let l = self.last.entry((account, kind, name.clone())).or_insert(last);
        *l = (*l).max(last);
        *self.bits.entry((account, kind, name, block)).or_default() |= bits;
    }

    pub async fn write(self, tx: &mut Tx, backend: Backend) -> Result<()> {
        let rows = self
            .bits
            .into_iter()
            .map(|((a, kind, name, block), bits)| {
                vec![Arg::I64(a), Arg::Text(kind.into()), Arg::Text(name), Arg::I64(block), Arg::I64(bits)]
            })
            .collect();
        upsert_rows(
            tx,
            backend,
            "usage_bits",
            &["account_id", "kind", "name", "block", "bits"],
            rows,
            " ON CONFLICT (block, account_id, kind, name) DO UPDATE SET bits = usage_bits.bits | excluded.bits",
        )
        .await?;
        let rows = self
            .last
            .into_iter()
            .map(|((a, kind, name), day)| vec![Arg::I64(a), Arg::Text(kind.into()), Arg::Text(name), Arg::I64(day)])
            .collect();
        upsert_rows(
            tx,
            backend,
            "usage_last",
            &["account_id", "kind", "name", "last_day"],
            rows,
            " ON CONFLICT (account_id, kind, name) DO UPDATE SET last_day = CASE \
             WHEN excluded.last_day > usage_last.last_day THEN excluded.last_day ELSE usage_last.last_day END",
        )
        .await?;
        Ok(())
    }
}

/// Each account's usage events per day, all names together, to merge into `usage_totals`
/// (`"offset:count,…"` per 62-day block) and `usage_accounts` (first and last day).
#[derive(Default)]
pub(crate) struct Totals(HashMap<(i64, i64), std::collections::BTreeMap<i64, i64>>);

impl Totals {
    pub(crate) fn add(&mut self, account: i64, day: i64, n: i64) {
        let block = day.div_euclid(keepwell_core::facts::BLOCK_DAYS);
        *self
            .0
            .entry((account, block))
            .or_default()
            .entry(day.rem_euclid(keepwell_core::facts::BLOCK_DAYS))
            .or_default() += n;
    }

    pub(crate) async fn write(mut self, tx: &mut Tx, backend: Backend) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let accounts: Vec<i64> = self.0.keys().map(|(a, _)| *a).collect::<HashSet<_>>().into_iter().collect();
        let (lo, hi) = self.0.keys().fold((i64::MAX, i64::MIN), |(lo, hi), (_, b)| (lo.min(*b), hi.max(*b)));
        for chunk in accounts.chunks(5_000) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let rows = sqlx::query(&format!(
                "SELECT account_id, block, counts FROM usage_totals WHERE account_id IN ({}) AND block >= $1 AND block <= $2",
                list.join(",")
            ))
            .bind(lo)
            .bind(hi)
            .fetch_all(&mut **tx)
            .await?;
            for r in rows {
                let key = (r.try_get::<i64, _>("account_id")?, r.try_get::<i64, _>("block")?);
                if let Some(days) = self.0.get_mut(&key) {
                    for (offset, n) in keepwell_core::facts::parse_counts(&text(&r, "counts")?) {
                        *days.entry(offset).or_default() += n;
                    }
                }
            }
        }
        let mut spans: HashMap<i64, (i64, i64)> = HashMap::new();
        let mut rows = Vec::with_capacity(self.0.len());
        for ((account, block), days) in self.0 {
            let base = block * keepwell_core::facts::BLOCK_DAYS;
            if let (Some(first), Some(last)) = (days.keys().next(), days.keys().next_back()) {
                let span = spans.entry(account).or_insert((base + first, base + last));
                *span = (span.0.min(base + first), span.1.max(base + last));
            }
            let counts: Vec<String> = days.iter().map(|(o, n)| format!("{o}:{n}")).collect();
            rows.push(vec![Arg::I64(account), Arg::I64(block), Arg::Text(counts.join(","))]);
        }
        upsert_rows(
            tx,
            backend,
            "usage_totals",
            &["account_id", "block", "counts"],
            rows,
            " ON CONFLICT (account_id, block) DO UPDATE SET counts = excluded.counts",
        )
        .await?;
        let rows = spans.into_iter().map(|(a, (f, l))| vec![Arg::I64(a), Arg::I64(f), Arg::I64(l)]).collect();
        upsert_rows(
            tx,
            backend,
            "usage_accounts",
            &["account_id", "first_day", "last_day"],
            rows,
            " ON CONFLICT (account_id) DO UPDATE SET \
             first_day = CASE WHEN excluded.first_day < usage_accounts.first_day THEN excluded.first_day ELSE usage_accounts.first_day END, \
             last_day = CASE WHEN excluded.last_day > usage_accounts.last_day THEN excluded.last_day ELSE usage_accounts.last_day END",
        )
        .await?;
        Ok(())
    }
}

/// Counts events into the rollups, in the database: per account, day and usage name, how many
/// and from how many users (`usage_user_days` keeps who was counted); and users' first and last
/// seen. Each event must be folded once (`event_index.rolled_to` says up to where).
async fn fold(tx: &mut Tx, backend: Backend, scope: Scope<'_>, seen: Seen) -> Result<()> {
    let day = day_sql(backend);
    let usage = "kind IN ('track', 'page', 'screen') AND account_id IS NOT NULL";
    let mut sql = Sql::new(&format!(
        "INSERT INTO usage_user_days (account_id, day, event, user_key) \
         SELECT DISTINCT account_id, {day}, {USAGE_NAME}, COALESCE(user_id, anonymous_id) FROM events WHERE {usage}"
    ));
    scope.push(&mut sql);
    sql.push(" ON CONFLICT (account_id, day, event, user_key) DO NOTHING RETURNING account_id, day, event, user_key");
    let mut new_users: HashMap<(i64, String, String), i64> = HashMap::new();
    let mut bits = DayBits::default();
    for r in sql.query().fetch_all(&mut **tx).await? {
        let (account, day, event): (i64, String, String) =
            (r.try_get("account_id")?, text(&r, "day")?, text(&r, "event")?);
        let date = day.parse().map_err(|_| crate::StoreError::Corrupt("day".into()))?;
        let n = keepwell_core::facts::day_number(date);
        bits.add(account, "u", text(&r, "user_key")?, n);
        bits.add(account, "e", event.clone(), n);
        *new_users.entry((account, day, event)).or_default() += 1;
    }
    bits.write(tx, backend).await?;
    let mut sql = Sql::new(&format!(
        "SELECT account_id, {day} AS day, {USAGE_NAME} AS name, COUNT(*) AS n FROM events WHERE {usage}"
    ));
    scope.push(&mut sql);
    sql.push(" GROUP BY 1, 2, 3");
    let mut rows = Vec::new();
    let mut totals = Totals::default();
    for r in sql.query().fetch_all(&mut **tx).await? {
        let key = (r.try_get::<i64, _>("account_id")?, text(&r, "day")?, text(&r, "name")?);
        let date = key.1.parse().map_err(|_| crate::StoreError::Corrupt("day".into()))?;
        totals.add(key.0, keepwell_core::facts::day_number(date), r.try_get("n")?);
        let users = new_users.get(&key).copied().unwrap_or(0);
        rows.push(vec![
            Arg::I64(key.0),
            Arg::Text(key.1),
            Arg::Text(key.2),
            Arg::I64(r.try_get("n")?),
            Arg::I64(users),
        ]);
    }
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
    totals.write(tx, backend).await?;
    if seen == Seen::Already {
        return Ok(());
    }
    let mut sql = Sql::new(
        "INSERT INTO usage_users (user_id, first_seen, last_seen) \
         SELECT user_id, MIN(timestamp), MAX(timestamp) FROM events WHERE user_id IS NOT NULL",
    );
    scope.push(&mut sql);
    sql.push(
        " GROUP BY user_id ON CONFLICT (user_id) DO UPDATE SET \
         first_seen = CASE WHEN usage_users.first_seen IS NULL OR excluded.first_seen < usage_users.first_seen \
           THEN excluded.first_seen ELSE usage_users.first_seen END, \
         last_seen = CASE WHEN usage_users.last_seen IS NULL OR excluded.last_seen > usage_users.last_seen \
           THEN excluded.last_seen ELSE usage_users.last_seen END",
    );
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Tail;

    #[test]
    fn the_tail_forgets_what_was_indexed_beside_it() {
        let mut tail = Tail::default();
        tail.push(10, [1, 2].into());
        tail.push(20, [3].into());
        tail.push(30, Default::default());
        assert_eq!(tail.len(), 3);
        // The fold job indexed up to 15: the first transaction's messageIds are in `event_ids`.
        tail.forget_upto(15);
        assert_eq!((tail.len(), tail.contains(&1), tail.contains(&3)), (1, false, true));
        tail.forget_upto(20);
        assert_eq!(tail.len(), 0);
    }
}
