//! Tasks (migration 0018): the row, its comments, and the inbox's pages, soonest due first with a
//! keyset cursor on (due_sort, id). Writes run on the [`Write`] they are given and are audited;
//! one open task per `source`, under a unique index, so an automation asking twice updates the
//! task it opened instead of opening a second.

use crate::accounts::Owner;
use crate::sql::{opt_text, page_rows, text, Arg, Cursor, CursorKey, Page, Sql};
use crate::{get_opt_i64, instant, Result, Store, StoreError, Write};
use chrono::{DateTime, NaiveDate, Utc};
use keepwell_core::task::{Status, TaskInput};
use keepwell_core::Invalid;
use serde::Serialize;
use sqlx::Row;

/// The account a task is about.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: i64,
    pub title: String,
    /// `risk`, `opportunity`, `onboarding`, `renewal` or `other`.
    pub kind: String,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// The member who works it.
    pub owner: Option<Owner>,
    /// The account it is about.
    pub account: Option<AccountRef>,
    pub due_on: Option<NaiveDate>,
    /// Out of the inbox until this day.
    pub snoozed_until: Option<NaiveDate>,
    /// Markdown.
    pub description: String,
    /// What an automation's task is about (`renewal:123`); none for a task a person opened.
    pub source: Option<String>,
    /// The key of the playbook that opened it, if one did.
    pub playbook: Option<String>,
    /// Who opened it: an e-mail, `token:NAME`, `cli`, `playbook:KEY`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was done or cancelled, and by whom.
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    /// How many comments it has.
    pub comments: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: i64,
    pub task_id: i64,
    /// Markdown.
    pub body: String,
    pub author: String,
    pub author_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// Which tasks a list holds.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// A member's (`Some(None)`: nobody's).
    pub owner: Option<Option<i64>>,
    pub account_id: Option<i64>,
    /// None: every status.
    pub status: Option<Status>,
    pub kind: Option<String>,
    pub priority: Option<String>,
    /// Due from, through (inclusive).
    pub due: (Option<NaiveDate>, Option<NaiveDate>),
    /// Only tasks without a due date.
    pub undated: bool,
    /// Leaves out tasks snoozed past this day.
    pub awake_on: Option<NaiveDate>,
    pub limit: i64,
    pub cursor: Option<String>,
}

/// What sorts last: no due date.
const NO_DUE: &str = "9999-12-31";

const COLS: &str = "t.id, t.title, t.kind, t.status, t.priority, t.owner_id, u.name AS owner_name, \
                    u.email AS owner_email, t.account_id, a.name AS account_name, t.due_on, t.due_sort, \
                    t.snoozed_until, t.description, t.source, t.created_by, t.created_at, t.updated_at, \
                    t.closed_at, t.closed_by, (SELECT COUNT(*) FROM task_comments c WHERE c.task_id = t.id) AS comments";

const FROM: &str = "FROM tasks t LEFT JOIN users u ON u.id = t.owner_id LEFT JOIN accounts a ON a.id = t.account_id";

fn day(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<NaiveDate>> {
    opt_text(r, col)?.map(|t| t.parse().map_err(|_| StoreError::Corrupt(format!("tasks.{col}: {t:?}")))).transpose()
}

fn row_of(r: &sqlx::any::AnyRow) -> Result<Task> {
    let owner = match get_opt_i64(r, "owner_id")? {
        Some(id) => Some(Owner { id, name: text(r, "owner_name")?, email: text(r, "owner_email")? }),
        None => None,
    };
    let account = match get_opt_i64(r, "account_id")? {
        Some(id) => Some(AccountRef { id, name: text(r, "account_name")? }),
        None => None,
    };
    Ok(Task {
        id: r.try_get("id")?,
        title: text(r, "title")?,
        kind: text(r, "kind")?,
        status: text(r, "status")?,
        priority: text(r, "priority")?,
        owner,
        account,
        due_on: day(r, "due_on")?,
        snoozed_until: day(r, "snoozed_until")?,
        description: text(r, "description")?,
        playbook: opt_text(r, "source")?.as_deref().and_then(playbook_of),
        source: opt_text(r, "source")?,
        created_by: text(r, "created_by")?,
        created_at: instant(r.try_get("created_at")?),
        updated_at: instant(r.try_get("updated_at")?),
        closed_at: get_opt_i64(r, "closed_at")?.map(instant),
        closed_by: opt_text(r, "closed_by")?,
        comments: r.try_get("comments")?,
    })
}

pub async fn load(w: &mut Write, id: i64) -> Result<Option<Task>> {
    load_on(&mut w.tx, id).await
}

async fn load_on(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<Task>> {
    let row = sqlx::query(&format!("SELECT {COLS} {FROM} WHERE t.id = $1")).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(row_of).transpose()
}

async fn loaded(w: &mut Write, id: i64) -> Result<Task> {
    load(w, id).await?.ok_or_else(|| StoreError::NotFound(format!("no task with id {id}")))
}

/// The playbook a task's source names (`playbook:KEY:ACCOUNT:STEP`).
fn playbook_of(source: &str) -> Option<String> {
    source.strip_prefix("playbook:")?.split(':').next().map(str::to_owned)
}

/// The open task of `source`, if any.
pub async fn open_of_source(w: &mut Write, source: &str) -> Result<Option<Task>> {
    let row = sqlx::query(&format!("SELECT {COLS} {FROM} WHERE t.source = $1 AND t.status = 'open'"))
        .bind(source)
        .fetch_optional(&mut *w.tx)
        .await?;
    row.as_ref().map(row_of).transpose()
}

/// Checks that the owner is a member and the account exists.
async fn check_refs(w: &mut Write, input: &TaskInput) -> Result<()> {
    let mut invalid = Invalid::default();
    if let Some(o) = input.owner_id {
        if sqlx::query("SELECT id FROM users WHERE id = $1 AND disabled_at IS NULL")
            .bind(o)
            .fetch_optional(&mut *w.tx)
            .await?
            .is_none()
        {
            invalid.push("owner_id", format!("{o} is not an active member of the team"));
        }
    }
    if let Some(a) = input.account_id {
        if sqlx::query("SELECT id FROM accounts WHERE id = $1").bind(a).fetch_optional(&mut *w.tx).await?.is_none() {
            invalid.push("account_id", format!("no account has the id {a}"));
        }
    }
    invalid.into_result(()).map_err(StoreError::Invalid)
}

fn due_sort(input: &TaskInput) -> String {
    input.due_on.map_or_else(|| NO_DUE.to_owned(), |d| d.to_string())
}

/// Opens a task, or — when its `source` already has an open task — asks that one again: its due
/// date and priority become the new ones and a comment says who asked and why (`why`, else the
/// new task's description). The owner of a new task is told it is theirs. Returns the task and
/// whether it is new.
pub async fn open(w: &mut Write, input: &TaskInput, why: Option<&str>) -> Result<(Task, bool)> {
    let (task, new) = open_untold(w, input, why).await?;
    if new {
        tell_owner(w, &task).await?;
    }
    Ok((task, new))
}

/// [`open`] without telling the owner of a new task: the caller tells them ([`tell_owner`]) or
/// words it in a notification of its own.
pub(crate) async fn open_untold(w: &mut Write, input: &TaskInput, why: Option<&str>) -> Result<(Task, bool)> {
    check_refs(w, input).await?;
    if input.status != Status::Open {
        return Err(Invalid::field("status", "a new task is open").into());
    }
    let inserted = sqlx::query(
        "INSERT INTO tasks (title, kind, status, priority, owner_id, account_id, due_on, due_sort, snoozed_until, \
         description, source, created_by, created_by_id, created_at, updated_at) \
         VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
         ON CONFLICT (source) WHERE status = 'open' AND source IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(&input.title)
    .bind(input.kind.as_str())
    .bind(input.priority.as_str())
    .bind(input.owner_id)
    .bind(input.account_id)
    .bind(input.due_on.map(|d| d.to_string()))
    .bind(due_sort(input))
    .bind(input.snoozed_until.map(|d| d.to_string()))
    .bind(&input.description)
    .bind(input.source.as_deref())
    .bind(&w.actor.label)
    .bind(w.actor.user_id)
    .bind(w.at)
    .fetch_optional(&mut *w.tx)
    .await?;
    if let Some(row) = inserted {
        let id: i64 = row.try_get("id")?;
        let task = loaded(w, id).await?;
        w.audit("task.create", "task", Some(id.to_string()), None, Some(&task)).await?;
        return Ok((task, true));
    }
    let source = input.source.as_deref().unwrap_or_default();
    let before = open_of_source(w, source)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("task source {source:?}: neither inserted nor open")))?;
    sqlx::query("UPDATE tasks SET due_on = $1, due_sort = $2, priority = $3, updated_at = $4 WHERE id = $5")
        .bind(input.due_on.map(|d| d.to_string()))
        .bind(due_sort(input))
        .bind(input.priority.as_str())
        .bind(w.at)
        .bind(before.id)
        .execute(&mut *w.tx)
        .await?;
    let due = input.due_on.map_or_else(|| "no due date".to_owned(), |d| format!("due {d}"));
    let mut note = format!("Asked again by {}: {due}, priority {}.", w.actor.label, input.priority.as_str());
    if let Some(why) = why.or(Some(input.description.as_str())).filter(|w| !w.trim().is_empty()) {
        note.push(' ');
        note.push_str(why.trim());
    }
    insert_comment(w, before.id, &note).await?;
    let after = loaded(w, before.id).await?;
    w.audit("task.reask", "task", Some(before.id.to_string()), Some(&before), Some(&after)).await?;
    Ok((after, false))
}

/// Closes (done) the open task of `source`, if any, by the write's actor, with a comment saying
/// why: what an automation does once what it asked for no longer applies.
pub async fn close_of_source(w: &mut Write, source: &str, why: &str) -> Result<()> {
    let Some(before) = open_of_source(w, source).await? else { return Ok(()) };
    sqlx::query(
        "UPDATE tasks SET status = 'done', closed_at = $1, closed_by = $2, closed_by_id = $3, updated_at = $1 WHERE id = $4",
    )
    .bind(w.at)
    .bind(&w.actor.label)
    .bind(w.actor.user_id)
    .bind(before.id)
    .execute(&mut *w.tx)
    .await?;
    insert_comment(w, before.id, why).await?;
    let after = loaded(w, before.id).await?;
    w.audit("task.update", "task", Some(before.id.to_string()), Some(&before), Some(&after)).await
}

/// Changes task `before.id` to `input`. Leaving `open` records when and by whom; reopening clears it.
pub async fn update(w: &mut Write, before: &Task, input: &TaskInput) -> Result<Task> {
    check_refs(w, input).await?;
    let was_open = before.status == Status::Open.as_str();
    let closing = was_open && input.status != Status::Open;
    let reopening = !was_open && input.status == Status::Open;
    if let (true, Some(source)) = (reopening, input.source.as_deref()) {
        if let Some(other) = open_of_source(w, source).await? {
            return Err(StoreError::conflict(
                "status",
                format!("task {} is already open for {source:?}; work that one", other.id),
            ));
        }
    }
    sqlx::query(
        "UPDATE tasks SET title = $1, kind = $2, status = $3, priority = $4, owner_id = $5, account_id = $6, \
         due_on = $7, due_sort = $8, snoozed_until = $9, description = $10, updated_at = $11 WHERE id = $12",
    )
    .bind(&input.title)
    .bind(input.kind.as_str())
    .bind(input.status.as_str())
    .bind(input.priority.as_str())
    .bind(input.owner_id)
    .bind(input.account_id)
    .bind(input.due_on.map(|d| d.to_string()))
    .bind(due_sort(input))
    .bind(input.snoozed_until.map(|d| d.to_string()))
    .bind(&input.description)
    .bind(w.at)
    .bind(before.id)
    .execute(&mut *w.tx)
    .await?;
    if closing || reopening {
        let (at, by, by_id) =
            if closing { (Some(w.at), Some(w.actor.label.clone()), w.actor.user_id) } else { (None, None, None) };
        sqlx::query("UPDATE tasks SET closed_at = $1, closed_by = $2, closed_by_id = $3 WHERE id = $4")
            .bind(at)
            .bind(by)
            .bind(by_id)
            .bind(before.id)
            .execute(&mut *w.tx)
            .await?;
    }
    let after = loaded(w, before.id).await?;
    if after.owner.as_ref().map(|o| o.id) != before.owner.as_ref().map(|o| o.id) {
        tell_owner(w, &after).await?;
    }
    w.audit("task.update", "task", Some(before.id.to_string()), Some(before), Some(&after)).await?;
    Ok(after)
}

/// Tells the task's owner it is theirs now, unless they gave it to themselves.
pub(crate) async fn tell_owner(w: &mut Write, task: &Task) -> Result<()> {
    let Some(owner) = &task.owner else { return Ok(()) };
    if Some(owner.id) == w.actor.user_id {
        return Ok(());
    }
    let account = task.account.as_ref();
    let by = match w.actor.user_id {
        Some(id) => sqlx::query("SELECT name, email FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *w.tx)
            .await?
            .map(|r| -> Result<String> {
                let name = text(&r, "name")?;
                Ok(if name.trim().is_empty() { text(&r, "email")? } else { name })
            })
            .transpose()?,
        None => None,
    };
    let by = by.unwrap_or_else(|| w.actor.label.clone());
    let data = serde_json::json!({"title": task.title, "account": account.map(|a| &a.name), "by": by});
    let occurrence = format!("task_assigned:{}:{}", task.id, w.at);
    let what = ("task_assigned", account.map(|a| a.id), Some(task.id));
    crate::notifications::notify(&mut w.tx, w.at, owner.id, &occurrence, what, &data).await
}

async fn insert_comment(w: &mut Write, task: i64, body: &str) -> Result<Comment> {
    let id: i64 = sqlx::query(
        "INSERT INTO task_comments (task_id, body, author, author_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(task)
    .bind(body)
    .bind(&w.actor.label)
    .bind(w.actor.user_id)
    .bind(w.at)
    .fetch_one(&mut *w.tx)
    .await?
    .try_get("id")?;
    sqlx::query("UPDATE tasks SET updated_at = $1 WHERE id = $2").bind(w.at).bind(task).execute(&mut *w.tx).await?;
    Ok(Comment {
        id,
        task_id: task,
        body: body.to_owned(),
        author: w.actor.label.clone(),
        author_id: w.actor.user_id,
        created_at: instant(w.at),
    })
}

/// Adds a comment to task `task`, audited.
pub async fn comment(w: &mut Write, task: i64, body: &str) -> Result<Comment> {
    let c = insert_comment(w, task, body).await?;
    w.audit("task.comment", "task", Some(task.to_string()), None, Some(&c)).await?;
    Ok(c)
}

fn comment_of(r: &sqlx::any::AnyRow) -> Result<Comment> {
    Ok(Comment {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        body: text(r, "body")?,
        author: text(r, "author")?,
        author_id: get_opt_i64(r, "author_id")?,
        created_at: instant(r.try_get("created_at")?),
    })
}

impl Store {
    /// A page of tasks, soonest due first (undated last), then oldest first.
    pub async fn tasks(&self, f: &TaskFilter) -> Result<Page<Task>> {
        let mut sql = Sql::new(&format!("SELECT {COLS} {FROM} WHERE 1=1"));
        match f.owner {
            Some(Some(o)) => sql.push(" AND t.owner_id = ").bind(Arg::I64(o)),
            Some(None) => sql.push(" AND t.owner_id IS NULL"),
            None => &mut sql,
        };
        if let Some(a) = f.account_id {
            sql.push(" AND t.account_id = ").bind(Arg::I64(a));
        }
        if let Some(s) = f.status {
            sql.push(" AND t.status = ").bind(Arg::Text(s.as_str().into()));
        }
        if let Some(k) = &f.kind {
            sql.push(" AND t.kind = ").bind(Arg::Text(k.clone()));
        }
        if let Some(p) = &f.priority {
            sql.push(" AND t.priority = ").bind(Arg::Text(p.clone()));
        }
        if let Some(from) = f.due.0 {
            sql.push(" AND t.due_sort >= ").bind(Arg::Text(from.to_string()));
        }
        if let Some(through) = f.due.1 {
            sql.push(" AND t.due_sort <= ").bind(Arg::Text(through.to_string()));
        }
        if f.undated {
            sql.push(" AND t.due_sort = ").bind(Arg::Text(NO_DUE.into()));
        }
        if let Some(d) = f.awake_on {
            sql.push(" AND (t.snoozed_until IS NULL OR t.snoozed_until <= ").bind(Arg::Text(d.to_string())).push(")");
        }
        if let Some(raw) = &f.cursor {
            let (key, id) = Cursor::decode(raw)
                .and_then(|c| match c.key {
                    CursorKey::Text(k) => Some((k, c.id)),
                    CursorKey::Int(_) => None,
                })
                .ok_or_else(|| StoreError::Invalid(Invalid::field("cursor", "is not a cursor this API gave out")))?;
            sql.push(" AND (t.due_sort > ").bind(Arg::Text(key.clone()));
            sql.push(" OR (t.due_sort = ").bind(Arg::Text(key)).push(" AND t.id > ").bind(Arg::I64(id)).push("))");
        }
        let limit = f.limit.clamp(1, keepwell_core::limits::PAGE_ROWS);
        sql.push(" ORDER BY t.due_sort, t.id LIMIT ").bind(Arg::I64(limit + 1));
        let mut conn = self.pool().acquire().await?;
        let (data, more) = page_rows(&sql, &mut conn, limit, row_of).await?;
        let next_cursor = more
            .then(|| {
                data.last().map(|t| {
                    let key = t.due_on.map_or_else(|| NO_DUE.to_owned(), |d| d.to_string());
                    Cursor { key: CursorKey::Text(key), id: t.id }.encode()
                })
            })
            .flatten();
        Ok(Page { data, next_cursor })
    }

    pub async fn task(&self, id: i64) -> Result<Option<Task>> {
        load_on(&mut *self.pool().acquire().await?, id).await
    }

    /// A task's comments, oldest first (at most the newest 500).
    pub async fn task_comments(&self, task: i64) -> Result<Vec<Comment>> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT id, task_id, body, author, author_id, created_at FROM task_comments \
             WHERE task_id = $1 ORDER BY id DESC LIMIT 500) c ORDER BY id",
        )
        .bind(task)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(comment_of).collect()
    }

    /// How many open tasks `owner` (everyone's: none) has awake on `today`: overdue, and due by
    /// `through` (overdue included).
    pub async fn task_counts(&self, owner: Option<i64>, today: NaiveDate, through: NaiveDate) -> Result<(i64, i64)> {
        let mine = if owner.is_some() { " AND owner_id = $3" } else { " AND $3 = $3" };
        let row = sqlx::query(&format!(
            "SELECT COALESCE(SUM(CASE WHEN due_sort < $1 THEN 1 ELSE 0 END), 0) AS overdue, COUNT(*) AS due \
             FROM tasks WHERE status = 'open' AND due_sort <= $2 AND (snoozed_until IS NULL OR snoozed_until <= $1){mine}"
        ))
        .bind(today.to_string())
        .bind(through.to_string())
        .bind(owner.unwrap_or_default())
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("overdue")?, row.try_get("due")?))
    }
}
