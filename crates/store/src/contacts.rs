//! Contacts: the people at an account, each with one e-mail and any number of product user ids.

use crate::import::{finish_import, resolve_external_id, ImportSummary, RowError};
use crate::sql::{like_contains, opt_text, text, Arg, Cursor, CursorKey, Page, Sql};
use crate::{instant, Result, Store, StoreError, Tx, Write};
use chrono::{DateTime, Utc};
use keepwell_core::contact::{AccountRef, NewContact};
use keepwell_core::{Attributes, ContactRole, Invalid};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub email: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub role: Option<ContactRole>,
    pub locale: Option<String>,
    pub external_user_ids: Vec<String>,
    #[schema(value_type = HashMap<String, Object>, example = json!({"seats": {"type": "number", "value": "25"}}))]
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which contacts to list.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub account_id: Option<i64>,
    /// Part of the e-mail or name, any case.
    pub q: Option<String>,
    pub limit: i64,
    pub cursor: Option<String>,
}

const CONTACT_COLS: &str = "c.id, c.account_id, a.name AS account_name, c.email, c.name, c.title, c.role, c.locale, \
    c.attributes, c.created_at, c.updated_at";

fn contact_from(r: &AnyRow) -> Result<Contact> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    Ok(Contact {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        account_name: text(r, "account_name")?,
        email: text(r, "email")?,
        name: opt_text(r, "name")?,
        title: opt_text(r, "title")?,
        role: opt_text(r, "role")?.map(|s| s.parse()).transpose().map_err(corrupt)?,
        locale: opt_text(r, "locale")?,
        external_user_ids: Vec::new(),
        attributes: serde_json::from_str(&text(r, "attributes")?).map_err(|e| corrupt(e.to_string()))?,
        created_at: instant(r.try_get("created_at")?),
        updated_at: instant(r.try_get("updated_at")?),
    })
}

impl Store {
    pub async fn contact(&self, id: i64) -> Result<Option<Contact>> {
        let mut conn = self.pool().acquire().await?;
        match load(&mut conn, id).await {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page of contacts, ordered by e-mail.
    pub async fn contacts(&self, f: &ContactFilter) -> Result<Page<Contact>> {
        let mut sql = Sql::new(&format!(
            "SELECT {CONTACT_COLS} FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE 1=1"
        ));
        if let Some(id) = f.account_id {
            sql.push(" AND c.account_id = ").bind(Arg::I64(id));
        }
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let p = like_contains(q);
            sql.push(" AND (c.email LIKE ").bind(Arg::Text(p.clone()));
            sql.push(" ESCAPE '\\' OR lower(c.name) LIKE ").bind(Arg::Text(p)).push(" ESCAPE '\\')");
        }
        if let Some(raw) = &f.cursor {
            let c = Cursor::decode(raw).ok_or_else(|| Invalid::field("cursor", "is not a cursor this API gave out"))?;
            let CursorKey::Text(email) = c.key else {
                return Err(Invalid::field("cursor", "is not a cursor this API gave out").into());
            };
            sql.push(" AND c.email > ").bind(Arg::Text(email));
        }
        let limit = f.limit.clamp(1, 500);
        sql.push(" ORDER BY c.email LIMIT ").bind(Arg::I64(limit + 1));
        let mut conn = self.pool().acquire().await?;
        let (mut data, more) = crate::sql::page_rows(&sql, &mut conn, limit, contact_from).await?;
        let next_cursor = more
            .then(|| data.last().map(|c| Cursor { key: CursorKey::Text(c.email.clone()), id: c.id }.encode()))
            .flatten();
        let ids: Vec<i64> = data.iter().map(|c| c.id).collect();
        let mut uids = user_ids_of(&mut conn, &ids).await?;
        for c in &mut data {
            c.external_user_ids = uids.remove(&c.id).unwrap_or_default();
        }
        Ok(Page { data, next_cursor })
    }
}

pub async fn create(w: &mut Write, new: &NewContact) -> Result<Contact> {
    let account_id = resolve_account(&mut w.tx, &new.account).await?;
    check_unique(&mut w.tx, None, new).await?;
    let id = insert(&mut w.tx, w.at, account_id, new).await?;
    let after = load(&mut w.tx, id).await?;
    w.audit("contact.create", "contact", Some(id.to_string()), None, Some(&after)).await?;
    Ok(after)
}

pub async fn update(w: &mut Write, id: i64, new: &NewContact) -> Result<Contact> {
    let before = load(&mut w.tx, id).await?;
    let account_id = resolve_account(&mut w.tx, &new.account).await?;
    check_unique(&mut w.tx, Some(id), new).await?;
    update_row(&mut w.tx, w.at, id, account_id, new).await?;
    let after = load(&mut w.tx, id).await?;
    w.audit("contact.update", "contact", Some(id.to_string()), Some(&before), Some(&after)).await?;
    Ok(after)
}

/// Unsubscribes contact `id`'s address from playbook e-mails (one click, RFC 8058): no later send
/// reaches it, whatever becomes of the contact. Returns the address and whether it had
/// unsubscribed already (nothing changes then); None when there is no such contact.
pub async fn unsubscribe(w: &mut Write, id: i64) -> Result<Option<(String, bool)>> {
    let Some(row) = sqlx::query("SELECT email FROM contacts WHERE id = $1").bind(id).fetch_optional(&mut *w.tx).await?
    else {
        return Ok(None);
    };
    let email = crate::sql::text(&row, "email")?;
    let added = sqlx::query(
        "INSERT INTO unsubscribed (email, contact_id, at) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING",
    )
    .bind(email.to_lowercase())
    .bind(id)
    .bind(w.at)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Ok(Some((email, true)));
    }
    let after = serde_json::json!({"email": email, "unsubscribed": true});
    w.audit("contact.unsubscribe", "contact", Some(id.to_string()), None, Some(&after)).await?;
    Ok(Some((email, false)))
}

impl Store {
    /// Whether `email` unsubscribed from playbook e-mails.
    pub async fn unsubscribed(&self, email: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS x FROM unsubscribed WHERE email = $1")
            .bind(email.to_lowercase())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }
}

pub async fn delete(w: &mut Write, id: i64) -> Result<Contact> {
    let before = load(&mut w.tx, id).await?;
    sqlx::query("DELETE FROM contacts WHERE id = $1").bind(id).execute(&mut *w.tx).await?;
    w.audit("contact.delete", "contact", Some(id.to_string()), Some(&before), None).await?;
    Ok(before)
}

/// Imports contacts all-or-nothing (the caller commits the write, or drops it for a dry run); a
/// known e-mail updates that contact.
pub async fn import(
    w: &mut Write,
    rows: &[NewContact],
    mut progress: impl FnMut(usize),
) -> Result<ImportSummary, RowError> {
    let fail = |index: usize| move |error: StoreError| RowError { index, error };
    let at = w.at;
    let tx = &mut w.tx;
    let mut summary = ImportSummary::default();
    let mut accounts: HashMap<String, i64> = HashMap::new();
    for (i, new) in rows.iter().enumerate() {
        let account_id = match &new.account {
            AccountRef::ExternalId(v) if accounts.contains_key(v) => accounts[v],
            r => {
                let id = resolve_account(tx, r).await.map_err(fail(i))?;
                if let AccountRef::ExternalId(v) = r {
                    accounts.insert(v.clone(), id);
                }
                id
            }
        };
        let existing = sqlx::query("SELECT id FROM contacts WHERE email = $1")
            .bind(&new.email)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| fail(i)(e.into()))?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()
            .map_err(|e| fail(i)(e.into()))?;
        check_unique(tx, existing, new).await.map_err(fail(i))?;
        match existing {
            Some(id) => {
                update_row(tx, at, id, account_id, new).await.map_err(fail(i))?;
                summary.updated += 1;
            }
            None => {
                insert(tx, at, account_id, new).await.map_err(fail(i))?;
                summary.created += 1;
            }
        }
        progress(i + 1);
    }
    finish_import(w, "contact", summary).await.map_err(fail(rows.len()))
}

async fn resolve_account(tx: &mut Tx, r: &AccountRef) -> Result<i64> {
    match r {
        AccountRef::Id(id) => {
            let found =
                sqlx::query("SELECT id FROM accounts WHERE id = $1").bind(*id).fetch_optional(&mut **tx).await?;
            found.map(|_| *id).ok_or_else(|| Invalid::field("account_id", format!("no account has id {id}")).into())
        }
        AccountRef::ExternalId(v) => resolve_external_id(tx, v).await?.ok_or_else(|| {
            Invalid::field("account_external_id", format!("no account has the external id {v:?}")).into()
        }),
    }
}

async fn check_unique(tx: &mut Tx, this: Option<i64>, new: &NewContact) -> Result<()> {
    let holder =
        sqlx::query("SELECT c.id, a.name FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.email = $1")
            .bind(&new.email)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(r) = holder {
        let id: i64 = r.try_get(0)?;
        if Some(id) != this {
            return Err(StoreError::conflict(
                "email",
                format!("{} is already a contact (id {id}) at {}", new.email, text(&r, "name")?),
            ));
        }
    }
    for uid in &new.external_user_ids {
        let holder = sqlx::query("SELECT contact_id FROM contact_user_ids WHERE user_id = $1")
            .bind(uid)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(r) = holder {
            let id: i64 = r.try_get(0)?;
            if Some(id) != this {
                return Err(StoreError::conflict(
                    "external_user_ids",
                    format!("user id {uid:?} already belongs to contact {id}"),
                ));
            }
        }
    }
    Ok(())
}

async fn insert(tx: &mut Tx, now: i64, account_id: i64, new: &NewContact) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO contacts (account_id, email, name, title, role, locale, attributes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(account_id)
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.title)
    .bind(new.role.map(|r| r.as_str()))
    .bind(&new.locale)
    .bind(serde_json::to_string(&new.attributes).unwrap_or_default())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    replace_user_ids(tx, id, &new.external_user_ids).await?;
    Ok(id)
}

async fn update_row(tx: &mut Tx, now: i64, id: i64, account_id: i64, new: &NewContact) -> Result<()> {
    sqlx::query(
        "UPDATE contacts SET account_id = $1, email = $2, name = $3, title = $4, role = $5, locale = $6, attributes = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(account_id)
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.title)
    .bind(new.role.map(|r| r.as_str()))
    .bind(&new.locale)
    .bind(serde_json::to_string(&new.attributes).unwrap_or_default())
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    replace_user_ids(tx, id, &new.external_user_ids).await
}

/// The contact behind a Segment user, once its account and email are known: the one holding
/// the user id (its name and title brought up to date), else the one with the email (gaining
/// the user id), else a new one.
pub(crate) async fn upsert_for_user(
    tx: &mut Tx,
    now: i64,
    account_id: i64,
    user_id: &str,
    new: &NewContact,
) -> Result<()> {
    let held = sqlx::query("SELECT contact_id FROM contact_user_ids WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(r) = held {
        let id: i64 = r.try_get(0)?;
        sqlx::query(
            "UPDATE contacts SET name = COALESCE($1, name), title = COALESCE($2, title), updated_at = $3 WHERE id = $4",
        )
        .bind(&new.name)
        .bind(&new.title)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        return Ok(());
    }
    let by_email =
        sqlx::query("SELECT id FROM contacts WHERE email = $1").bind(&new.email).fetch_optional(&mut **tx).await?;
    match by_email {
        Some(r) => {
            sqlx::query("INSERT INTO contact_user_ids (contact_id, user_id) VALUES ($1, $2)")
                .bind(r.try_get::<i64, _>(0)?)
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        None => {
            insert(tx, now, account_id, new).await?;
        }
    }
    Ok(())
}

async fn replace_user_ids(tx: &mut Tx, id: i64, uids: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM contact_user_ids WHERE contact_id = $1").bind(id).execute(&mut **tx).await?;
    for u in uids {
        sqlx::query("INSERT INTO contact_user_ids (contact_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(u)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn load(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Contact> {
    let row = sqlx::query(&format!(
        "SELECT {CONTACT_COLS} FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("no contact with id {id}")))?;
    let mut c = contact_from(&row)?;
    c.external_user_ids = user_ids_of(conn, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(c)
}

async fn user_ids_of(conn: &mut sqlx::AnyConnection, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    for r in sqlx::query(&format!(
        "SELECT contact_id, user_id FROM contact_user_ids WHERE contact_id IN ({list}) ORDER BY user_id"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        map.entry(r.try_get("contact_id")?).or_default().push(text(&r, "user_id")?);
    }
    Ok(map)
}
