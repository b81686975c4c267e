//! An account's timeline: everything that happened to it, newest first, merged from every table
//! that records it — interactions, tasks opened and closed, stage, band and segment changes,
//! sentiment and overrides, subscriptions, invoices, usage milestones, deliveries. Each fact
//! names what happened (an event key and its arguments, which the server words per language)
//! and who or what caused it.
//!
//! Paging is by a stable cursor on (instant, source, id): every source reads the rows at or
//! before the cursor's instant (indexed per account), the merge drops those not strictly after
//! it in that order, and the page ends at `limit`. A source reads at most `limit` +
//! [`SAME_INSTANT`] rows a page, so more than that many facts of one source at one instant
//! would be skipped (a day holds a handful).

use crate::sql::{opt_text, text, Cursor, CursorKey};
use crate::{get_opt_i64, instant, Result, Store, StoreError};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use keepwell_core::Invalid;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// Who or what caused a fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Cause {
    /// `member`, `token`, `system`, `import`, `stripe`, `rule`, `segment`, `pass`, `usage` or `customer`.
    pub kind: String,
    /// The member, segment, rule… it names, when it has an id.
    pub id: Option<i64>,
    pub name: String,
}

/// One thing that happened, before it is worded.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub at: DateTime<Utc>,
    /// The filter's word: `interaction`, `task`, `stage`, `health`, `segment`, `sentiment`,
    /// `override`, `subscription`, `invoice`, `usage` or `delivery`.
    pub kind: &'static str,
    /// What happened, as a message key's tail (`invoice-paid`).
    pub event: &'static str,
    /// The message's arguments.
    pub args: Vec<(&'static str, String)>,
    /// More: an interaction's body (Markdown), a reason.
    pub detail: Option<String>,
    pub cause: Cause,
    /// Where it links: an interaction's, task's or delivery's id.
    pub link: Option<(&'static str, i64)>,
    source: u8,
    id: i64,
}

/// The kinds a timeline can be filtered by.
pub const KINDS: [&str; 11] = [
    "interaction",
    "task",
    "stage",
    "health",
    "segment",
    "sentiment",
    "override",
    "subscription",
    "invoice",
    "usage",
    "delivery",
];

/// How many facts of one source at one instant a page can step over (see the module).
const SAME_INSTANT: i64 = 200;

/// Days without activity after which an account has gone quiet.
pub const QUIET_DAYS: i64 = 14;

/// A page of facts and the cursor after its last.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub data: Vec<Fact>,
    pub next_cursor: Option<String>,
}

/// What a timeline holds.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub account_id: i64,
    /// Only these kinds (none: all).
    pub kinds: Vec<String>,
    pub limit: i64,
    pub before: Option<String>,
    /// The day that says what is overdue or quiet.
    pub today: Option<NaiveDate>,
}

/// The cause an actor label names: a member by e-mail (and id), a token, or the system.
pub fn cause_of(label: &str, user_id: Option<i64>) -> Cause {
    let (kind, name) = if let Some(t) = label.strip_prefix("token:") {
        ("token", t)
    } else if label.contains('@') || user_id.is_some() {
        ("member", label)
    } else if matches!(label, "import" | "stripe" | "segment" | "pass") {
        (label, label)
    } else {
        ("system", label)
    };
    Cause { kind: kind.to_owned(), id: user_id, name: name.to_owned() }
}

fn cause(kind: &str, id: Option<i64>, name: &str) -> Cause {
    Cause { kind: kind.into(), id, name: name.into() }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn day_of(s: &str) -> Result<NaiveDate> {
    s.parse().map_err(|_| StoreError::Corrupt(format!("timeline: {s:?} is not a date")))
}

/// The position of a fact in the timeline's order: later first, then by source, then by id.
fn key(f: &Fact) -> (i64, u8, i64) {
    (f.at.timestamp_micros(), f.source, f.id)
}

struct Reader<'a> {
    conn: &'a mut sqlx::AnyConnection,
    account: i64,
    /// Rows at or before this instant (micros).
    upto: i64,
    rows: i64,
    today: NaiveDate,
    out: Vec<Fact>,
}

impl Reader<'_> {
    fn push(&mut self, f: Fact) {
        if f.at.timestamp_micros() <= self.upto {
            self.out.push(f);
        }
    }

    async fn interactions(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id, kind, occurred_at, subject, body, author, author_id FROM interactions \
             WHERE account_id = $1 AND occurred_at <= $2 ORDER BY occurred_at DESC, id DESC LIMIT $3",
        )
        .bind(self.account)
        .bind(self.upto)
        .bind(self.rows)
        .fetch_all(&mut *self.conn)
        .await?;
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let body = text(&r, "body")?;
            self.push(Fact {
                at: instant(r.try_get("occurred_at")?),
                kind: "interaction",
                event: "interaction",
                args: vec![("kind", text(&r, "kind")?), ("subject", text(&r, "subject")?)],
                detail: Some(body).filter(|b| !b.is_empty()),
                cause: cause_of(&text(&r, "author")?, get_opt_i64(&r, "author_id")?),
                link: Some(("interaction", id)),
                source: 10,
                id,
            });
        }
        Ok(())
    }

    async fn tasks(&mut self) -> Result<()> {
        for (closed, at_col) in [(false, "created_at"), (true, "closed_at")] {
            let rows = sqlx::query(&format!(
                "SELECT id, title, status, created_by, created_by_id, closed_by, closed_by_id, {at_col} AS at FROM tasks \
                 WHERE account_id = $1 AND {at_col} <= $2 ORDER BY {at_col} DESC, id DESC LIMIT $3"
            ))
            .bind(self.account)
            .bind(self.upto)
            .bind(self.rows)
            .fetch_all(&mut *self.conn)
            .await?;
            for r in rows {
                let id: i64 = r.try_get("id")?;
                let status = text(&r, "status")?;
                let (event, who) = match (closed, status.as_str()) {
                    (false, _) => {
                        ("task-opened", cause_of(&text(&r, "created_by")?, get_opt_i64(&r, "created_by_id")?))
                    }
                    (true, status) => (
                        if status == "cancelled" { "task-cancelled" } else { "task-done" },
                        cause_of(&opt_text(&r, "closed_by")?.unwrap_or_default(), get_opt_i64(&r, "closed_by_id")?),
                    ),
                };
                self.push(Fact {
                    at: instant(r.try_get("at")?),
                    kind: "task",
                    event,
                    args: vec![("title", text(&r, "title")?)],
                    detail: None,
                    cause: who,
                    link: Some(("task", id)),
                    source: if closed { 9 } else { 8 },
                    id,
                });
            }
        }
        Ok(())
    }

    async fn stages(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id, day, at, from_stage, to_stage, cause, actor FROM stage_changes \
             WHERE account_id = $1 AND day <= $2 ORDER BY day DESC, id DESC LIMIT $3",
        )
        .bind(self.account)
        .bind(self.upto_day().to_string())
        .bind(self.rows)
        .fetch_all(&mut *self.conn)
        .await?;
        for r in rows {
            let why = text(&r, "cause")?;
            // A rule moves an account as of its pass's day (a replay writes the past); a person, now.
            let (who, at) = match why.strip_prefix("rule:") {
                Some(rule) => (cause("rule", None, rule), midnight(day_of(&text(&r, "day")?)?)),
                None => (cause_of(&text(&r, "actor")?, None), instant(r.try_get("at")?)),
            };
            self.push(Fact {
                at,
                kind: "stage",
                event: "stage-changed",
                args: vec![
                    ("from", opt_text(&r, "from_stage")?.unwrap_or_else(|| "none".into())),
                    ("to", text(&r, "to_stage")?),
                ],
                detail: None,
                cause: who,
                link: None,
                source: 7,
                id: r.try_get("id")?,
            });
        }
        Ok(())
    }

    async fn sentiments(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id, day, created_at, rating, reason, author FROM sentiments \
             WHERE account_id = $1 AND day <= $2 ORDER BY day DESC, id DESC LIMIT $3",
        )
        .bind(self.account)
        .bind(self.upto_day().to_string())
        .bind(self.rows)
        .fetch_all(&mut *self.conn)
        .await?;
        for r in rows {
            let reason = text(&r, "reason")?;
            // On the day it is about: when it was written that day, else that day's start (a
            // rating recorded later for an earlier day).
            let day = day_of(&text(&r, "day")?)?;
            let written = instant(r.try_get("created_at")?);
            self.push(Fact {
                at: if written.date_naive() == day { written } else { midnight(day) },
                kind: "sentiment",
                event: "sentiment",
                args: vec![("rating", r.try_get::<i64, _>("rating")?.to_string())],
                detail: Some(reason).filter(|r| !r.is_empty()),
                cause: cause_of(&text(&r, "author")?, None),
                link: None,
                source: 6,
                id: r.try_get("id")?,
            });
        }
        let rows = sqlx::query(
            "SELECT id, created_at, score, reason, expires_on, author FROM health_overrides \
             WHERE account_id = $1 AND created_at <= $2 ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(self.account)
        .bind(self.upto)
        .bind(self.rows)
        .fetch_all(&mut *self.conn)
        .await?;
        for r in rows {
            let reason = text(&r, "reason")?;
            self.push(Fact {
                at: instant(r.try_get("created_at")?),
                kind: "override",
                event: "override",
                args: vec![("score", text(&r, "score")?), ("until", text(&r, "expires_on")?)],
                detail: Some(reason).filter(|r| !r.is_empty()),
                cause: cause_of(&text(&r, "author")?, None),
                link: None,
                source: 5,
                id: r.try_get("id")?,
            });
        }
        Ok(())
    }

    async fn segments(&mut self) -> Result<()> {
        let day = self.upto_day();
        let rows = sqlx::query(
            "SELECT c.segment_id, c.day, c.entered, s.name FROM segment_changes c JOIN segments s ON s.id = c.segment_id \
             WHERE c.account_id = $1 AND c.day <= $2 ORDER BY c.day DESC LIMIT $3",
        )
        .bind(self.account)
        .bind(day.to_string())
        .bind(self.rows)
        .fetch_all(&mut *self.conn)
        .await?;
        for r in rows {
            let segment: i64 = r.try_get("segment_id")?;
            let entered = r.try_get::<i64, _>("entered")? != 0;
            let name = text(&r, "name")?;
            let day = day_of(&text(&r, "day")?)?;
            self.push(Fact {
                at: midnight(day),
                kind: "segment",
                event: if entered { "segment-entered" } else { "segment-left" },
                args: vec![("segment", name.clone())],
                detail: None,
                cause: cause("segment", Some(segment), &name),
                link: None,
                source: 3,
                id: segment,
            });
        }
        Ok(())
    }

    /// The day of the cursor's instant; without a cursor, a day after every stored one (the
    /// stored days compare as `YYYY-MM-DD` text).
    fn upto_day(&self) -> NaiveDate {
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default();
        chrono::DateTime::from_timestamp_micros(self.upto).map_or(last, |d| d.date_naive().min(last))
    }

    /// Band changes from one day's snapshot to the next.
    async fn bands(&mut self) -> Result<()> {
        // Only the days whose band differs from the day before's, each with that day: not every
        // snapshot of the account's years.
        let rows = sqlx::query(
            "SELECT day, band, prev_day, prev FROM (SELECT day, band, LAG(day) OVER (ORDER BY day) AS prev_day, \
             LAG(band) OVER (ORDER BY day) AS prev FROM health_snapshots WHERE account_id = $1 AND day <= $2) t \
             WHERE prev_day IS NOT NULL AND band IS DISTINCT FROM prev ORDER BY day",
        )
        .bind(self.account)
        .bind(self.upto_day().to_string())
        .fetch_all(&mut *self.conn)
        .await?;
        let pass = cause("pass", None, "daily pass");
        let word = |b: Option<String>| b.unwrap_or_else(|| "unscored".into());
        for r in rows {
            let day = day_of(&text(&r, "day")?)?;
            if day_of(&text(&r, "prev_day")?)? + chrono::Days::new(1) != day {
                continue;
            }
            self.push(Fact {
                at: midnight(day),
                kind: "health",
                event: "band-changed",
                args: vec![("from", word(opt_text(&r, "prev")?)), ("to", word(opt_text(&r, "band")?))],
                detail: None,
                cause: pass.clone(),
                link: None,
                source: 4,
                id: day.num_days_from_ce().into(),
            });
        }
        Ok(())
    }

    /// Subscriptions started, changed (a period following another of the same subscription) and
    /// ended (a last period's end, once it has come).
    async fn subscriptions(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id, subscription_id, plan, quantity, currency, amount, billing_interval, starts_on, ends_on, source \
             FROM subscription_periods WHERE account_id = $1 ORDER BY subscription_id, starts_on",
        )
        .bind(self.account)
        .fetch_all(&mut *self.conn)
        .await?;
        let mut last_of: HashMap<String, usize> = HashMap::new();
        let mut periods = Vec::with_capacity(rows.len());
        for r in rows {
            let sub = text(&r, "subscription_id")?;
            let price =
                format!("{} {} / {}", text(&r, "amount")?, text(&r, "currency")?, text(&r, "billing_interval")?);
            let p = (
                r.try_get::<i64, _>("id")?,
                sub.clone(),
                text(&r, "plan")?,
                price,
                day_of(&text(&r, "starts_on")?)?,
                opt_text(&r, "ends_on")?.map(|d| day_of(&d)).transpose()?,
                text(&r, "source")?,
            );
            last_of.insert(sub, periods.len());
            periods.push(p);
        }
        for (i, (id, sub, plan, price, starts, ends, source)) in periods.iter().enumerate() {
            let follows = i > 0 && periods[i - 1].1 == *sub;
            let who = cause_of(source, None);
            self.push(Fact {
                at: midnight(*starts),
                kind: "subscription",
                event: if follows { "subscription-changed" } else { "subscription-started" },
                args: vec![("plan", plan.clone()), ("price", price.clone()), ("subscription", sub.clone())],
                detail: None,
                cause: who.clone(),
                link: None,
                source: 2,
                id: *id * 2,
            });
            if let (Some(ends), true) = (ends, last_of.get(sub) == Some(&i)) {
                if *ends <= self.today {
                    self.push(Fact {
                        at: midnight(*ends),
                        kind: "subscription",
                        event: "subscription-ended",
                        args: vec![("plan", plan.clone()), ("subscription", sub.clone())],
                        detail: None,
                        cause: who,
                        link: None,
                        source: 2,
                        id: *id * 2 + 1,
                    });
                }
            }
        }
        Ok(())
    }

    /// Invoices paid, failed, and overdue (the day after the due date passed unpaid).
    async fn invoices(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id, invoice_id, currency, amount, issued_on, due_on, paid_on, status, source FROM invoices \
             WHERE account_id = $1 ORDER BY issued_on DESC LIMIT 5000",
        )
        .bind(self.account)
        .fetch_all(&mut *self.conn)
        .await?;
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let args = vec![
                ("invoice", text(&r, "invoice_id")?),
                ("amount", format!("{} {}", text(&r, "amount")?, text(&r, "currency")?)),
            ];
            let who = cause_of(&text(&r, "source")?, None);
            let paid = opt_text(&r, "paid_on")?.map(|d| day_of(&d)).transpose()?;
            let due = opt_text(&r, "due_on")?.map(|d| day_of(&d)).transpose()?;
            let fact = |event: &'static str, day: NaiveDate, n: i64| Fact {
                at: midnight(day),
                kind: "invoice",
                event,
                args: args.clone(),
                detail: None,
                cause: who.clone(),
                link: None,
                source: 1,
                id: id * 3 + n,
            };
            let mut facts = Vec::new();
            if let Some(p) = paid {
                facts.push(fact("invoice-paid", p, 0));
            }
            if text(&r, "status")? == "failed" {
                facts.push(fact("invoice-failed", day_of(&text(&r, "issued_on")?)?, 1));
            }
            if let Some(d) = due {
                let late = d + chrono::Days::new(1);
                if paid.is_none_or(|p| p > d)
                    && late <= self.today
                    && !matches!(text(&r, "status")?.as_str(), "void" | "uncollectible")
                {
                    facts.push(fact("invoice-overdue", late, 2));
                }
            }
            for f in facts {
                self.push(f);
            }
        }
        Ok(())
    }

    /// Usage milestones: the first active day, going quiet after [`QUIET_DAYS`] without activity,
    /// and coming back.
    async fn usage(&mut self) -> Result<()> {
        let rows = sqlx::query("SELECT DISTINCT day FROM usage_daily WHERE account_id = $1 ORDER BY day")
            .bind(self.account)
            .fetch_all(&mut *self.conn)
            .await?;
        let days = rows.iter().map(|r| day_of(&text(r, "day")?)).collect::<Result<Vec<_>>>()?;
        let who = cause("usage", None, "product usage");
        let fact = |event: &'static str, day: NaiveDate, n: i64, args| Fact {
            at: midnight(day),
            kind: "usage",
            event,
            args,
            detail: None,
            cause: who.clone(),
            link: None,
            source: 0,
            id: i64::from(day.num_days_from_ce()) * 3 + n,
        };
        let mut facts = Vec::new();
        if let Some(first) = days.first() {
            facts.push(fact("usage-first", *first, 0, vec![]));
        }
        let quiet = chrono::Days::new(QUIET_DAYS as u64);
        for pair in days.windows(2) {
            let (last, next) = (pair[0], pair[1]);
            if last + quiet < next {
                facts.push(fact("usage-quiet", last + quiet, 1, vec![("days", QUIET_DAYS.to_string())]));
                facts.push(fact("usage-back", next, 2, vec![("days", (next - last).num_days().to_string())]));
            }
        }
        if let Some(last) = days.last() {
            if *last + quiet <= self.today {
                facts.push(fact("usage-quiet", *last + quiet, 1, vec![("days", QUIET_DAYS.to_string())]));
            }
        }
        for f in facts {
            self.push(f);
        }
        Ok(())
    }

    async fn deliveries(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id, channel, recipient, event, status, created_at FROM deliveries \
             WHERE account_id = $1 AND created_at <= $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(self.account)
        .bind(self.upto)
        .bind(self.rows)
        .fetch_all(&mut *self.conn)
        .await?;
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let channel = text(&r, "channel")?;
            let recipient = if channel == "email" { text(&r, "recipient")? } else { String::new() };
            self.push(Fact {
                at: instant(r.try_get("created_at")?),
                kind: "delivery",
                event: if channel == "email" { "delivery-email" } else { "delivery-webhook" },
                args: vec![("event", text(&r, "event")?), ("status", text(&r, "status")?), ("recipient", recipient)],
                detail: None,
                cause: cause("system", None, "Keepwell"),
                link: Some(("delivery", id)),
                source: 11,
                id,
            });
        }
        Ok(())
    }
}

/// Names the members behind causes by their name: a member known by id or e-mail, and a token by
/// the member who made it (a token acts for its member).
async fn name_members(conn: &mut sqlx::pool::PoolConnection<sqlx::Any>, facts: &mut [Fact]) -> Result<()> {
    let mut ids: Vec<i64> = facts
        .iter()
        .filter_map(|f| f.cause.id.filter(|_| f.cause.kind == "member" || f.cause.kind == "token"))
        .collect();
    let mut emails: Vec<String> = facts
        .iter()
        .filter(|f| f.cause.kind == "member" && f.cause.id.is_none())
        .map(|f| f.cause.name.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    emails.sort_unstable();
    emails.dedup();
    if ids.is_empty() && emails.is_empty() {
        return Ok(());
    }
    let mut sql = crate::sql::Sql::new("SELECT id, email, name FROM users WHERE id IN (0");
    for id in &ids {
        sql.push(", ").bind(crate::sql::Arg::I64(*id));
    }
    sql.push(") OR email IN (''");
    for e in &emails {
        sql.push(", ").bind(crate::sql::Arg::Text(e.clone()));
    }
    sql.push(")");
    let mut by_id = HashMap::new();
    let mut by_email = HashMap::new();
    for r in sql.query().fetch_all(&mut **conn).await? {
        let (id, email, name): (i64, String, String) = (r.try_get("id")?, text(&r, "email")?, text(&r, "name")?);
        let shown = if name.trim().is_empty() { email.clone() } else { name };
        by_email.insert(email, (id, shown.clone()));
        by_id.insert(id, shown);
    }
    for f in facts.iter_mut() {
        let c = &mut f.cause;
        let found = match (c.kind.as_str(), c.id) {
            ("member" | "token", Some(id)) => by_id.get(&id).map(|n| (id, n.clone())),
            ("member", None) => by_email.get(&c.name).cloned(),
            _ => None,
        };
        if let Some((id, name)) = found {
            *c = Cause { kind: "member".into(), id: Some(id), name };
        }
    }
    Ok(())
}

impl Store {
    /// A page of an account's timeline, newest first.
    pub async fn timeline(&self, f: &TimelineFilter) -> Result<Facts> {
        for k in &f.kinds {
            if !KINDS.contains(&k.as_str()) {
                return Err(Invalid::field("kind", format!("{k:?}: use {}", KINDS.join(", "))).into());
            }
        }
        let cursor = match &f.before {
            None => None,
            Some(raw) => Some(
                Cursor::decode(raw)
                    .and_then(|c| match c.key {
                        CursorKey::Text(k) => {
                            let (at, source) = k.split_once(':')?;
                            Some((at.parse::<i64>().ok()?, source.parse::<u8>().ok()?, c.id))
                        }
                        CursorKey::Int(_) => None,
                    })
                    .ok_or_else(|| {
                        StoreError::Invalid(Invalid::field("before", "is not a cursor this API gave out"))
                    })?,
            ),
        };
        let limit = f.limit.clamp(1, keepwell_core::limits::PAGE_ROWS);
        let mut conn = self.pool().acquire().await?;
        let mut r = Reader {
            conn: &mut conn,
            account: f.account_id,
            upto: cursor.map_or(i64::MAX, |c| c.0),
            rows: limit + SAME_INSTANT,
            today: f.today.unwrap_or_else(|| self.clock().today()),
            out: Vec::new(),
        };
        let wants = |k: &str| f.kinds.is_empty() || f.kinds.iter().any(|w| w == k);
        if wants("interaction") {
            r.interactions().await?;
        }
        if wants("task") {
            r.tasks().await?;
        }
        if wants("stage") {
            r.stages().await?;
        }
        if wants("sentiment") || wants("override") {
            r.sentiments().await?;
        }
        if wants("segment") {
            r.segments().await?;
        }
        if wants("health") {
            r.bands().await?;
        }
        if wants("subscription") {
            r.subscriptions().await?;
        }
        if wants("invoice") {
            r.invoices().await?;
        }
        if wants("usage") {
            r.usage().await?;
        }
        if wants("delivery") {
            r.deliveries().await?;
        }
        let mut facts: Vec<Fact> = std::mem::take(&mut r.out)
            .into_iter()
            .filter(|x| wants(x.kind) && cursor.is_none_or(|c| key(x) < c))
            .collect();
        facts.sort_by_key(|x| std::cmp::Reverse(key(x)));
        let more = facts.len() as i64 > limit;
        facts.truncate(limit as usize);
        name_members(&mut conn, &mut facts).await?;
        let next_cursor = more
            .then(|| {
                facts.last().map(|x| {
                    let (at, source, id) = key(x);
                    Cursor { key: CursorKey::Text(format!("{at}:{source}")), id }.encode()
                })
            })
            .flatten();
        Ok(Facts { data: facts, next_cursor })
    }
}
