//! Product usage: Segment events written in groups (one transaction for many requests), who they
//! belong to, and the daily rollups kept up to date in the same transaction.
//!
//! An event's account is its `context.groupId` (external id kind `segment`), else the account its
//! user was last grouped into, else — for an anonymous id an identify linked to a user — that
//! user's. Events that belong to no account yet are kept and attributed (rollups included) when
//! an identify or group call links them.

use crate::contacts::upsert_for_user;
use crate::sql::{in_list, insert_returning, opt_text, text, upsert_rows, Arg, Sql};
use crate::{Actor, Backend, Result, Store, Tx};
use chrono::{DateTime, Utc};
use keepwell_core::account::AccountInput;
use keepwell_core::contact::ContactInput;
use keepwell_core::segment::{Event, Kind};
use serde::Deserialize;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

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

/// Who belongs where, as known inside one write: loaded for the group's ids, updated by its calls.
#[derive(Default)]
struct Links {
    groups: HashMap<String, i64>,
    users: HashMap<String, Option<i64>>,
    anonymous: HashMap<String, String>,
}

impl Links {
    fn account_of(&self, e: &Event) -> Option<i64> {
        if let Some(g) = &e.group_id {
            if let Some(a) = self.groups.get(g) {
                return Some(*a);
            }
        }
        let user = e.user_id.as_ref().or_else(|| e.anonymous_id.as_ref().and_then(|a| self.anonymous.get(a)))?;
        self.users.get(user).copied().flatten()
    }
}

impl Store {
    /// Stores a group of events in one transaction: deduplicated on messageId, identify and group
    /// calls applied in order, every event attributed to its account when known, rollups and
    /// users' activity brought up to date. Nothing is written when it fails.
    pub async fn ingest(&self, events: &[Event]) -> Result<IngestSummary> {
        let backend = self.backend();
        let mut tx = self.begin().await?;
        let fresh = dedup(&mut tx, backend, events).await?;
        let duplicates = events.len() - fresh.len();
        let mut links = load_links(&mut tx, &fresh).await?;
        let mut late: Vec<Usage> = Vec::new();
        for e in fresh.iter().filter(|e| matches!(e.kind, Kind::Identify | Kind::Group)) {
            apply_call(self, &mut tx, &mut links, e, &mut late).await?;
        }
        let mut usage: Vec<Usage> = Vec::new();
        let mut rows = Vec::with_capacity(fresh.len());
        for e in &fresh {
            let account = links.account_of(e);
            // An anonymous id already linked to a user is that user.
            let user =
                e.user_id.clone().or_else(|| e.anonymous_id.as_ref().and_then(|a| links.anonymous.get(a)).cloned());
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
        upsert_rows(&mut tx, backend, "events", &cols, rows, "").await?;
        usage.extend(late);
        roll_up(&mut tx, backend, &usage).await?;
        seen(&mut tx, backend, &fresh).await?;
        tx.commit().await?;
        Ok(IngestSummary { stored: fresh.len(), duplicates })
    }
}

/// The events whose messageId is new: first in the group and not in `event_ids`.
async fn dedup<'e>(tx: &mut Tx, backend: Backend, events: &'e [Event]) -> Result<Vec<&'e Event>> {
    let mut firsts: Vec<&Event> = Vec::with_capacity(events.len());
    let mut ids: HashSet<&str> = HashSet::with_capacity(events.len());
    for e in events {
        if ids.insert(e.message_id.as_str()) {
            firsts.push(e);
        }
    }
    let rows = firsts.iter().map(|e| vec![Arg::Text(e.message_id.clone()), Arg::I64(micros(e.received_at))]).collect();
    let new: HashSet<String> = insert_returning(
        tx,
        backend,
        "event_ids",
        &["message_id", "received_at"],
        rows,
        " ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
    )
    .await?
    .iter()
    .map(|r| text(r, "message_id"))
    .collect::<Result<_, _>>()?;
    Ok(firsts.into_iter().filter(|e| new.contains(&e.message_id)).collect())
}

/// Reads the links the group needs: its groupIds' accounts, its users' accounts, its anonymous
/// ids' users.
async fn load_links(tx: &mut Tx, events: &[&Event]) -> Result<Links> {
    let mut links = Links::default();
    let groups: HashSet<&str> = events.iter().filter_map(|e| e.group_id.as_deref()).collect();
    for chunk in groups.into_iter().collect::<Vec<_>>().chunks(500) {
        let mut sql = Sql::new("SELECT value, account_id FROM external_ids WHERE kind = 'segment' AND value IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await? {
            links.groups.insert(text(&r, "value")?, r.try_get("account_id")?);
        }
    }
    let anonymous: HashSet<&str> =
        events.iter().filter(|e| e.user_id.is_none()).filter_map(|e| e.anonymous_id.as_deref()).collect();
    for chunk in anonymous.into_iter().collect::<Vec<_>>().chunks(500) {
        let mut sql = Sql::new("SELECT anonymous_id, user_id FROM usage_anonymous WHERE anonymous_id IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await? {
            links.anonymous.insert(text(&r, "anonymous_id")?, text(&r, "user_id")?);
        }
    }
    let users: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.user_id.as_deref())
        .chain(links.anonymous.values().map(String::as_str))
        .collect();
    for chunk in users.into_iter().collect::<Vec<_>>().chunks(500) {
        let mut sql = Sql::new("SELECT user_id, account_id FROM usage_users WHERE user_id IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await? {
            links.users.insert(text(&r, "user_id")?, r.try_get("account_id")?);
        }
    }
    Ok(links)
}

/// An identify (traits, anonymous id → user) or group (user → account, the account created from
/// its traits when unknown) call; events it attributes are added to `late`.
async fn apply_call(store: &Store, tx: &mut Tx, links: &mut Links, e: &Event, late: &mut Vec<Usage>) -> Result<()> {
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
                links.anonymous.insert(anon.clone(), uid.clone());
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
                Some(a) => *a,
                None => {
                    let a = create_account(store, tx, &group, &traits(e)).await?;
                    links.groups.insert(group, a);
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
             RETURNING kind, event, timestamp, user_id",
        )
        .bind(account)
        .bind(&user)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
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

/// One row of an account's daily usage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UsageDay {
    pub date: String,
    pub event: String,
    pub count: i64,
    pub users: i64,
}

impl Store {
    /// An account's usage per day and event, `from` to `to` (dates, both included).
    pub async fn usage_days(&self, account_id: i64, from: &str, to: &str) -> Result<Vec<UsageDay>> {
        sqlx::query(
            "SELECT day, event, count, users FROM usage_daily WHERE account_id = $1 AND day >= $2 AND day <= $3 \
             ORDER BY day, event",
        )
        .bind(account_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(UsageDay {
                date: text(r, "day")?,
                event: text(r, "event")?,
                count: r.try_get("count")?,
                users: r.try_get("users")?,
            })
        })
        .collect()
    }

    /// How many events are stored (all, or of one account).
    pub async fn count_events(&self, account_id: Option<i64>) -> Result<i64> {
        let row = match account_id {
            Some(a) => sqlx::query("SELECT COUNT(*) FROM events WHERE account_id = $1").bind(a),
            None => sqlx::query("SELECT COUNT(*) FROM events"),
        }
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get(0)?)
    }
}
