//! Interactions logged on accounts (migration 0017): the row, the contacts and members on both
//! sides, newest first by when they happened. Writes run on the [`Write`] they are given and are
//! audited; reads are pages with a keyset cursor on (occurred_at, id).

use crate::import::{finish_import, first_row, with_account_ids, ImportSummary, RowError};
use crate::sql::{opt_text, page_rows, text, Arg, Cursor, CursorKey, Page, Sql};
use crate::{get_opt_i64, instant, Result, Store, StoreError, Write};
use chrono::{DateTime, Utc};
use keepwell_core::interaction::{Imported, InteractionInput};
use keepwell_core::Invalid;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// Someone on one side of an interaction: a contact of the account, or a member of the team.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Interaction {
    pub id: i64,
    pub account_id: i64,
    pub account_name: String,
    /// `email`, `call`, `meeting`, `note` or `qbr`.
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub subject: String,
    /// Markdown, as written.
    pub body: String,
    /// Its id in the tool it was imported from, if any.
    pub external_id: Option<String>,
    /// The account's contacts who took part.
    pub contacts: Vec<Person>,
    /// The team's members who took part.
    pub users: Vec<Person>,
    /// Who logged it: an e-mail, `token:NAME`, `cli`.
    pub author: String,
    /// The member who logged it (none for an import or a token without one).
    pub author_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which interactions a list holds: of one account or all, of one kind, before a cursor.
#[derive(Debug, Clone, Default)]
pub struct InteractionFilter {
    pub account_id: Option<i64>,
    pub kind: Option<String>,
    /// Only those of accounts this member owns.
    pub owner: Option<i64>,
    pub limit: i64,
    pub cursor: Option<String>,
}

const COLS: &str = "i.id, i.account_id, a.name AS account_name, i.kind, i.occurred_at, i.subject, i.body, \
                    i.external_id, i.author, i.author_id, i.created_at, i.updated_at";

fn row_of(r: &sqlx::any::AnyRow) -> Result<Interaction> {
    Ok(Interaction {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        account_name: text(r, "account_name")?,
        kind: text(r, "kind")?,
        occurred_at: instant(r.try_get("occurred_at")?),
        subject: text(r, "subject")?,
        body: text(r, "body")?,
        external_id: opt_text(r, "external_id")?,
        contacts: Vec::new(),
        users: Vec::new(),
        author: text(r, "author")?,
        author_id: get_opt_i64(r, "author_id")?,
        created_at: instant(r.try_get("created_at")?),
        updated_at: instant(r.try_get("updated_at")?),
    })
}

/// Fills in the people of `rows` (a page's worth).
async fn with_people(conn: &mut sqlx::AnyConnection, rows: &mut [Interaction]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    // Ids read from the database (integers): written into the statement.
    let ids = rows.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join(", ");
    let mut contacts: HashMap<i64, Vec<Person>> = HashMap::new();
    let mut users: HashMap<i64, Vec<Person>> = HashMap::new();
    let sides = [
        ("SELECT x.interaction_id, c.id, c.email, c.name FROM interaction_contacts x JOIN contacts c ON c.id = x.contact_id", &mut contacts),
        ("SELECT x.interaction_id, u.id, u.email, u.name FROM interaction_members x JOIN users u ON u.id = x.user_id", &mut users),
    ];
    for (select, into) in sides {
        let sql = format!("{select} WHERE x.interaction_id IN ({ids}) ORDER BY 3");
        for r in sqlx::query(&sql).fetch_all(&mut *conn).await? {
            let person = Person { id: r.try_get(1)?, email: text(&r, "email")?, name: opt_text(&r, "name")? };
            into.entry(r.try_get("interaction_id")?).or_default().push(person);
        }
    }
    for row in rows {
        row.contacts = contacts.remove(&row.id).unwrap_or_default();
        row.users = users.remove(&row.id).unwrap_or_default();
    }
    Ok(())
}

/// The interaction `id` as the write sees it.
pub async fn load(w: &mut Write, id: i64) -> Result<Option<Interaction>> {
    load_on(&mut w.tx, id).await
}

async fn load_on(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<Interaction>> {
    let row = sqlx::query(&format!(
        "SELECT {COLS} FROM interactions i JOIN accounts a ON a.id = i.account_id WHERE i.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut rows = [row_of(&row)?];
    with_people(conn, &mut rows).await?;
    let [row] = rows;
    Ok(Some(row))
}

/// Checks that the contacts are the account's and the members exist, naming the first that is not.
async fn check_people(w: &mut Write, account: i64, input: &InteractionInput) -> Result<()> {
    let mut invalid = Invalid::default();
    for (field, ids, select) in [
        ("contact_ids", &input.contact_ids, "SELECT id FROM contacts WHERE account_id = $1 AND id = $2"),
        ("user_ids", &input.user_ids, "SELECT id FROM users WHERE $1 = $1 AND id = $2"),
    ] {
        for id in ids {
            if sqlx::query(select).bind(account).bind(id).fetch_optional(&mut *w.tx).await?.is_none() {
                let what = if field == "contact_ids" { "a contact of this account" } else { "a member of the team" };
                invalid.push(field, format!("{id} is not {what}"));
                break;
            }
        }
    }
    invalid.into_result(()).map_err(StoreError::Invalid)
}

/// Writes the people of interaction `id`, replacing those it had unless it is `fresh` (just
/// inserted, so it has none: an import of a million rows saves two statements a row).
async fn write_people(w: &mut Write, id: i64, input: &InteractionInput, fresh: bool) -> Result<()> {
    for table in ["interaction_contacts", "interaction_members"].iter().filter(|_| !fresh) {
        sqlx::query(&format!("DELETE FROM {table} WHERE interaction_id = $1")).bind(id).execute(&mut *w.tx).await?;
    }
    for c in &input.contact_ids {
        sqlx::query("INSERT INTO interaction_contacts (interaction_id, contact_id) VALUES ($1, $2)")
            .bind(id)
            .bind(c)
            .execute(&mut *w.tx)
            .await?;
    }
    for u in &input.user_ids {
        sqlx::query("INSERT INTO interaction_members (interaction_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(u)
            .execute(&mut *w.tx)
            .await?;
    }
    Ok(())
}

/// Refuses an external id another interaction holds.
async fn check_external_id(w: &mut Write, id: Option<i64>, input: &InteractionInput) -> Result<()> {
    let Some(e) = &input.external_id else { return Ok(()) };
    let held = sqlx::query("SELECT id FROM interactions WHERE external_id = $1 AND id <> $2")
        .bind(e)
        .bind(id.unwrap_or(0))
        .fetch_optional(&mut *w.tx)
        .await?;
    match held {
        Some(r) => Err(StoreError::conflict(
            "external_id",
            format!("interaction {} already has the external id {e:?}", r.try_get::<i64, _>("id")?),
        )),
        None => Ok(()),
    }
}

/// Moves the counter the live scores watch (once per write is enough).
async fn bump(w: &mut Write) -> Result<()> {
    sqlx::query("UPDATE interaction_version SET version = version + 1 WHERE id = 1").execute(&mut *w.tx).await?;
    Ok(())
}

/// Writes a new interaction and its people, unchecked and unaudited.
async fn insert(w: &mut Write, account: i64, input: &InteractionInput) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO interactions (account_id, kind, occurred_at, occurred_on, subject, body, external_id, author_id, \
         author, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(account)
    .bind(input.kind.as_str())
    .bind(input.occurred_at.timestamp_micros())
    .bind(input.occurred_at.date_naive().to_string())
    .bind(&input.subject)
    .bind(&input.body)
    .bind(input.external_id.as_deref())
    .bind(w.actor.user_id)
    .bind(&w.actor.label)
    .bind(w.at)
    .fetch_one(&mut *w.tx)
    .await?
    .try_get("id")?;
    write_people(w, id, input, true).await?;
    Ok(id)
}

/// Rewrites interaction `id` with `input` (its account and author stay), unchecked and unaudited.
async fn rewrite(w: &mut Write, id: i64, input: &InteractionInput) -> Result<()> {
    sqlx::query(
        "UPDATE interactions SET kind = $1, occurred_at = $2, occurred_on = $3, subject = $4, body = $5, \
         external_id = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(input.kind.as_str())
    .bind(input.occurred_at.timestamp_micros())
    .bind(input.occurred_at.date_naive().to_string())
    .bind(&input.subject)
    .bind(&input.body)
    .bind(input.external_id.as_deref())
    .bind(w.at)
    .bind(id)
    .execute(&mut *w.tx)
    .await?;
    write_people(w, id, input, false).await
}

async fn loaded(w: &mut Write, id: i64) -> Result<Interaction> {
    load(w, id).await?.ok_or_else(|| StoreError::NotFound(format!("no interaction with id {id}")))
}

/// Logs an interaction on account `account`, by the write's actor.
pub async fn create(w: &mut Write, account: i64, input: &InteractionInput) -> Result<Interaction> {
    check_people(w, account, input).await?;
    check_external_id(w, None, input).await?;
    let id = insert(w, account, input).await?;
    bump(w).await?;
    let after = loaded(w, id).await?;
    w.audit("interaction.create", "interaction", Some(id.to_string()), None, Some(&after)).await?;
    Ok(after)
}

/// Replaces what interaction `before.id` says with `input` (its account and author stay).
pub async fn update(w: &mut Write, before: &Interaction, input: &InteractionInput) -> Result<Interaction> {
    check_people(w, before.account_id, input).await?;
    check_external_id(w, Some(before.id), input).await?;
    rewrite(w, before.id, input).await?;
    bump(w).await?;
    let after = loaded(w, before.id).await?;
    w.audit("interaction.update", "interaction", Some(before.id.to_string()), Some(before), Some(&after)).await?;
    Ok(after)
}

pub async fn delete(w: &mut Write, before: &Interaction) -> Result<()> {
    sqlx::query("DELETE FROM interactions WHERE id = $1").bind(before.id).execute(&mut *w.tx).await?;
    bump(w).await?;
    w.audit("interaction.delete", "interaction", Some(before.id.to_string()), Some(before), None).await
}

/// The ids of the people `emails` name: contacts of `account`, or members (`account` none);
/// the first unknown address fails.
async fn people_by_email(
    w: &mut Write,
    account: Option<i64>,
    emails: &[String],
    known: &mut HashMap<(Option<i64>, String), i64>,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(emails.len());
    for e in emails {
        let key = (account, e.clone());
        if let Some(id) = known.get(&key) {
            ids.push(*id);
            continue;
        }
        let row = match account {
            Some(a) => {
                sqlx::query("SELECT id FROM contacts WHERE account_id = $1 AND lower(email) = $2")
                    .bind(a)
                    .bind(e)
                    .fetch_optional(&mut *w.tx)
                    .await?
            }
            None => {
                sqlx::query("SELECT id FROM users WHERE lower(email) = $1").bind(e).fetch_optional(&mut *w.tx).await?
            }
        };
        let Some(row) = row else {
            return Err(match account {
                Some(_) => Invalid::field(
                    "contact_email",
                    format!("no contact of this account has the e-mail {e}; import contacts first"),
                ),
                None => Invalid::field("user_email", format!("no member of the team has the e-mail {e}")),
            }
            .into());
        };
        let id: i64 = row.try_get("id")?;
        known.insert(key, id);
        ids.push(id);
    }
    Ok(ids)
}

/// The interaction already there that `input` repeats: the one with its external id, or else one
/// of the same account saying the same thing at the same time.
async fn already_there(w: &mut Write, account: i64, input: &InteractionInput) -> Result<Option<Interaction>> {
    let row = match &input.external_id {
        Some(e) => {
            sqlx::query("SELECT id FROM interactions WHERE external_id = $1").bind(e).fetch_optional(&mut *w.tx).await?
        }
        None => sqlx::query(
            "SELECT id FROM interactions WHERE account_id = $1 AND occurred_at = $2 AND kind = $3 AND subject = $4 \
             AND body = $5 AND external_id IS NULL",
        )
        .bind(account)
        .bind(input.occurred_at.timestamp_micros())
        .bind(input.kind.as_str())
        .bind(&input.subject)
        .bind(&input.body)
        .fetch_optional(&mut *w.tx)
        .await?,
    };
    match row {
        Some(r) => load(w, r.try_get("id")?).await,
        None => Ok(None),
    }
}

/// Whether `i` already says what `input` says.
fn same(i: &Interaction, input: &InteractionInput) -> bool {
    let ids = |people: &[Person]| {
        let mut v: Vec<i64> = people.iter().map(|p| p.id).collect();
        v.sort_unstable();
        v
    };
    let sorted = |v: &[i64]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    };
    i.kind == input.kind.as_str()
        && i.occurred_at.timestamp_micros() == input.occurred_at.timestamp_micros()
        && i.subject == input.subject
        && i.body == input.body
        && ids(&i.contacts) == sorted(&input.contact_ids)
        && ids(&i.users) == sorted(&input.user_ids)
}

/// Imports interactions in one write: each row names its account by external id and its people
/// by e-mail. A row with a known external id updates that interaction (on the same account); a
/// row without one that repeats an interaction already there adds nothing, so a re-import of the
/// same file adds nothing. Audited once.
pub async fn import(w: &mut Write, rows: &[Imported], progress: impl Fn(usize)) -> Result<ImportSummary, RowError> {
    let keyed: Vec<(String, &Imported)> = rows.iter().map(|r| (r.account_external_id.clone(), r)).collect();
    let rows = with_account_ids(&mut w.tx, &keyed).await?;
    let mut known = HashMap::new();
    let mut summary = ImportSummary::default();
    for (index, (account, row)) in rows.iter().enumerate() {
        let at = |error: StoreError| RowError { index, error };
        let mut input = row.input.clone();
        input.contact_ids = people_by_email(w, Some(*account), &row.contact_emails, &mut known).await.map_err(at)?;
        input.user_ids = people_by_email(w, None, &row.user_emails, &mut known).await.map_err(at)?;
        match already_there(w, *account, &input).await.map_err(at)? {
            Some(i) if i.account_id != *account => {
                return Err(at(StoreError::conflict(
                    "external_id",
                    format!("interaction {} with this external id is on another account ({})", i.id, i.account_name),
                )))
            }
            Some(i) if same(&i, &input) => summary.unchanged += 1,
            Some(i) => {
                rewrite(w, i.id, &input).await.map_err(at)?;
                summary.updated += 1;
            }
            None => {
                insert(w, *account, &input).await.map_err(at)?;
                summary.created += 1;
            }
        }
        if index % 1000 == 999 {
            progress(index + 1);
        }
    }
    progress(rows.len());
    if summary.created + summary.updated > 0 {
        bump(w).await.map_err(first_row)?;
    }
    finish_import(w, "interaction", summary).await.map_err(first_row)
}

impl Store {
    /// A page of interactions, newest first by when they happened.
    pub async fn interactions(&self, f: &InteractionFilter) -> Result<Page<Interaction>> {
        let mut sql =
            Sql::new(&format!("SELECT {COLS} FROM interactions i JOIN accounts a ON a.id = i.account_id WHERE 1=1"));
        if let Some(a) = f.account_id {
            sql.push(" AND i.account_id = ").bind(Arg::I64(a));
        }
        if let Some(k) = &f.kind {
            sql.push(" AND i.kind = ").bind(Arg::Text(k.clone()));
        }
        if let Some(o) = f.owner {
            sql.push(" AND a.owner_id = ").bind(Arg::I64(o));
        }
        if let Some(raw) = &f.cursor {
            let c = Cursor::decode(raw)
                .and_then(|c| match c.key {
                    CursorKey::Int(at) => Some((at, c.id)),
                    CursorKey::Text(_) => None,
                })
                .ok_or_else(|| StoreError::Invalid(Invalid::field("cursor", "is not a cursor this API gave out")))?;
            sql.push(" AND (i.occurred_at < ").bind(Arg::I64(c.0));
            sql.push(" OR (i.occurred_at = ").bind(Arg::I64(c.0)).push(" AND i.id < ").bind(Arg::I64(c.1)).push("))");
        }
        let limit = f.limit.clamp(1, keepwell_core::limits::PAGE_ROWS);
        sql.push(" ORDER BY i.occurred_at DESC, i.id DESC LIMIT ").bind(Arg::I64(limit + 1));
        let mut conn = self.pool().acquire().await?;
        let (mut data, more) = page_rows(&sql, &mut conn, limit, row_of).await?;
        with_people(&mut conn, &mut data).await?;
        let next_cursor = more
            .then(|| {
                data.last().map(|r| Cursor { key: CursorKey::Int(r.occurred_at.timestamp_micros()), id: r.id }.encode())
            })
            .flatten();
        Ok(Page { data, next_cursor })
    }

    pub async fn interaction(&self, id: i64) -> Result<Option<Interaction>> {
        load_on(&mut *self.pool().acquire().await?, id).await
    }
}
