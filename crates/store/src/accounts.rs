//! Accounts, their tags and external ids.

use crate::audit::{record, Actor};
use crate::deliveries::Subscribers;
use crate::import::{finish_import, resolve_external_id, ImportSummary, RowError};
use crate::sql::{insert_rows, like_contains, opt_text, text, Arg, Cursor, CursorKey, Page, Sql};
use crate::{get_opt_i64, instant, Backend, Result, Store, StoreError, Tx, Write, SQLITE_CACHE};
use chrono::{DateTime, Utc};
use keepwell_core::account::NewAccount;
use keepwell_core::{Attributes, ExternalId, Invalid, LifecycleStage};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// An account's owner, as shown beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Owner {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub country: Option<String>,
    pub plan: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    pub owner: Option<Owner>,
    pub tags: Vec<String>,
    pub external_ids: Vec<ExternalId>,
    #[schema(value_type = HashMap<String, Object>, example = json!({"seats": {"type": "number", "value": "25"}}))]
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the accounts list shows beside the profile (in a list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<crate::figures::Figures>,
}

/// How to order the accounts list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountSort {
    #[default]
    Name,
    Created,
    Updated,
    Employees,
    /// MRR in the reporting currency (ARR orders the same).
    Mrr,
    Renewal,
    LastActive,
    Score,
    Coverage,
    Owner,
}

/// Filters, order and page of the accounts list.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Part of the name or domain, any case.
    pub q: Option<String>,
    /// `Some(None)`: accounts without an owner.
    pub owner: Option<Option<i64>>,
    pub stage: Option<LifecycleStage>,
    pub tag: Option<String>,
    pub country: Option<String>,
    /// Accounts in this health band as of the latest daily pass.
    pub band: Option<keepwell_core::health::Band>,
    pub sort: AccountSort,
    pub descending: bool,
    pub limit: i64,
    pub cursor: Option<String>,
}

const ACCOUNT_COLS: &str = "a.id, a.name, a.domain, a.industry, a.employees, a.country, a.plan, \
    a.lifecycle_stage, a.owner_id, a.tags, a.attributes, a.created_at, a.updated_at, \
    u.name AS owner_name, u.email AS owner_email";

fn account_from(r: &AnyRow) -> Result<Account> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let owner = match get_opt_i64(r, "owner_id")? {
        Some(id) => Some(Owner {
            id,
            name: opt_text(r, "owner_name")?.unwrap_or_default(),
            email: opt_text(r, "owner_email")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Account {
        id: r.try_get("id")?,
        name: text(r, "name")?,
        domain: opt_text(r, "domain")?,
        industry: opt_text(r, "industry")?,
        employees: get_opt_i64(r, "employees")?,
        country: opt_text(r, "country")?,
        plan: opt_text(r, "plan")?,
        lifecycle_stage: text(r, "lifecycle_stage")?.parse().map_err(corrupt)?,
        owner,
        tags: serde_json::from_str(&text(r, "tags")?).map_err(|e| corrupt(e.to_string()))?,
        external_ids: Vec::new(),
        attributes: serde_json::from_str(&text(r, "attributes")?).map_err(|e| corrupt(e.to_string()))?,
        created_at: instant(r.try_get("created_at")?),
        updated_at: instant(r.try_get("updated_at")?),
        figures: None,
    })
}

/// One account of a list page as the database hands it over, one JSON array per account: the
/// profile, the owner, tags and attributes as JSON, the figures, the value the page is ordered by
/// and the external ids. A page crosses the driver as one text value, not row by row (each row of
/// SQLite's driver is a message between threads: most of a list request's time).
#[derive(serde::Deserialize)]
struct Listed(
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
    Vec<String>,
    Attributes,
    i64,
    i64,
    Option<String>,
    Option<String>,
    crate::figures::Stored,
    serde_json::Value,
    Vec<(String, String)>,
);

impl Listed {
    /// The account, and the key its page is ordered by.
    fn account(self) -> Result<(Account, CursorKey)> {
        let Listed(
            id,
            name,
            domain,
            industry,
            employees,
            country,
            plan,
            stage,
            owner_id,
            tags,
            attributes,
            created,
            updated,
            owner_name,
            owner_email,
            figures,
            key,
            ids,
        ) = self;
        let key = match key {
            serde_json::Value::String(t) => CursorKey::Text(t),
            v => CursorKey::Int(v.as_i64().ok_or_else(|| StoreError::Corrupt(format!("sort key {v}")))?),
        };
        let account = Account {
            id,
            name,
            domain,
            industry,
            employees,
            country,
            plan,
            lifecycle_stage: stage.parse().map_err(StoreError::Corrupt)?,
            owner: owner_id.map(|id| Owner {
                id,
                name: owner_name.unwrap_or_default(),
                email: owner_email.unwrap_or_default(),
            }),
            tags,
            external_ids: ids.into_iter().map(|(kind, value)| ExternalId { kind, value }).collect(),
            attributes,
            created_at: instant(created),
            updated_at: instant(updated),
            figures: Some(figures.figures()?),
        };
        Ok((account, key))
    }
}

/// The columns of [`Listed`], as a JSON array per account of `accounts a`, `users u` and
/// `account_figures f`, ordered by `key`.
fn listed_row(backend: Backend, key: &str) -> String {
    let figures = crate::figures::COLS.join(", ");
    let profile = "a.id, a.name, a.domain, a.industry, a.employees, a.country, a.plan, a.lifecycle_stage, a.owner_id";
    let times = "a.created_at, a.updated_at, u.name, u.email";
    match backend {
        Backend::Sqlite => format!(
            "json_array({profile}, json(a.tags), json(a.attributes), {times}, json_array({figures}), {key}, \
             json((SELECT json_group_array(json_array(x.kind, x.value)) FROM \
             (SELECT kind, value FROM external_ids WHERE account_id = a.id ORDER BY kind, value) x)))"
        ),
        Backend::Postgres => format!(
            "CAST(json_build_array({profile}, CAST(a.tags AS json), CAST(a.attributes AS json), {times}, \
             json_build_array({figures}), {key}, \
             (SELECT COALESCE(json_agg(json_build_array(x.kind, x.value) ORDER BY x.kind, x.value), CAST('[]' AS json)) \
             FROM external_ids x WHERE x.account_id = a.id)) AS TEXT)"
        ),
    }
}

impl AccountSort {
    /// The sort key expression, whether it is text, and the id column that breaks ties (the
    /// figures' own, so that their index serves the order).
    fn key(self) -> (&'static str, bool, &'static str) {
        match self {
            AccountSort::Name => ("a.name_key", true, "a.id"),
            AccountSort::Created => ("a.created_at", false, "a.id"),
            AccountSort::Updated => ("a.updated_at", false, "a.id"),
            AccountSort::Employees => ("COALESCE(a.employees, -1)", false, "a.id"),
            AccountSort::Mrr => ("f.mrr_key", false, "f.account_id"),
            AccountSort::Renewal => ("f.renews_on", true, "f.account_id"),
            AccountSort::LastActive => ("f.last_active", false, "f.account_id"),
            AccountSort::Score => ("f.score_key", false, "f.account_id"),
            AccountSort::Coverage => ("f.coverage_key", false, "f.account_id"),
            AccountSort::Owner => ("f.owner_key", true, "f.account_id"),
        }
    }
}

impl Store {
    pub async fn account(&self, id: i64) -> Result<Option<Account>> {
        let mut conn = self.pool().acquire().await?;
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a LEFT JOIN users u ON u.id = a.owner_id WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut account = account_from(&row)?;
        account.external_ids = external_ids_of(&mut conn, &[id]).await?.remove(&id).unwrap_or_default();
        Ok(Some(account))
    }

    /// The account holding `value` as any of its external ids, whatever the kind.
    /// A value held by two accounts is a conflict naming both.
    /// The names of accounts by id (a few thousand at a time).
    pub async fn account_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(5_000) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let rows = sqlx::query(&format!("SELECT id, name FROM accounts WHERE id IN ({})", list.join(",")))
                .fetch_all(self.pool())
                .await?;
            for r in &rows {
                out.insert(r.try_get("id")?, text(r, "name")?);
            }
        }
        Ok(out)
    }

    pub async fn account_by_external_id(&self, value: &str) -> Result<Option<Account>> {
        let mut conn = self.pool().acquire().await?;
        match resolve_external_id(&mut conn, value).await? {
            Some(id) => {
                drop(conn);
                self.account(id).await
            }
            None => Ok(None),
        }
    }

    /// The accounts holding each of `values` as an external id, whatever the kind (more than one
    /// when two accounts hold it under different kinds); values nobody holds are left out.
    pub async fn accounts_by_external_values(&self, values: &[&str]) -> Result<HashMap<String, Vec<i64>>> {
        let mut found: HashMap<String, Vec<i64>> = HashMap::new();
        for chunk in values.chunks(500) {
            let mut sql = Sql::new("SELECT DISTINCT value, account_id FROM external_ids WHERE value IN ");
            crate::sql::in_list(&mut sql, chunk);
            for r in sql.query().fetch_all(self.pool()).await? {
                found.entry(text(&r, "value")?).or_default().push(r.try_get("account_id")?);
            }
        }
        Ok(found)
    }

    /// A page of accounts matching the filter, with their figures and a cursor for the next.
    /// Read in chunks of at most 100 accounts, each one text value from the database, until the
    /// page is full or holds about [`keepwell_core::limits::PAGE_BYTES`] of JSON (always at least
    /// one account): a page of oversized accounts stops early, with its cursor.
    pub async fn accounts(&self, f: &AccountFilter) -> Result<Page<Account>> {
        const CHUNK: i64 = 100;
        let limit = f.limit.clamp(1, 500);
        let mut cursor = match &f.cursor {
            Some(raw) => {
                Some(Cursor::decode(raw).ok_or_else(|| Invalid::field("cursor", "is not a cursor this API gave out"))?)
            }
            None => None,
        };
        let mut conn = self.pool().acquire().await?;
        // SQLite drives an owner's list by the owner's index (a search's by the trigram index)
        // and sorts what matches: right for an owner of 200 accounts, 16 ms for one of 18 000.
        // Counting the matches first (index-only, about a millisecond) tells which: past `WALK`,
        // the order's index is walked instead and the page is found within a few thousand rows.
        const WALK: i64 = 2_000;
        let mut counts = Vec::new();
        if self.backend() == Backend::Sqlite {
            if let Some(owner) = f.owner {
                let count = match owner {
                    Some(id) => sqlx::query("SELECT COUNT(*) FROM accounts WHERE owner_id = $1").bind(id),
                    None => sqlx::query("SELECT COUNT(*) FROM accounts WHERE owner_id IS NULL"),
                };
                counts.push(count.fetch_one(&mut *conn).await?.try_get::<i64, _>(0)?);
            }
            if let Some(phrase) = search_phrase(self.backend(), f) {
                let count =
                    sqlx::query("SELECT COUNT(*) FROM accounts_search WHERE accounts_search MATCH $1").bind(phrase);
                counts.push(count.fetch_one(&mut *conn).await?.try_get::<i64, _>(0)?);
            }
        }
        let walk = !counts.is_empty() && counts.iter().all(|n| *n > WALK);
        let (mut data, mut bytes, mut more) = (Vec::new(), 0usize, false);
        let mut last_key = None;
        loop {
            let want = (limit - data.len() as i64).min(CHUNK);
            let rows = self.listed_chunk(&mut conn, (f, walk), cursor.as_ref(), want + 1).await?;
            let fetched = rows.len() as i64;
            for (account, key) in rows.into_iter().take(want as usize) {
                let full = limit <= keepwell_core::limits::PAGE_ROWS && bytes >= keepwell_core::limits::PAGE_BYTES;
                if full && !data.is_empty() {
                    more = true;
                    break;
                }
                bytes += serde_json::to_vec(&account).map_or(0, |v| v.len());
                cursor = Some(Cursor { key: key.clone(), id: account.id });
                last_key = Some(key);
                data.push(account);
            }
            if more || fetched <= want {
                break;
            }
            if data.len() as i64 >= limit {
                more = true;
                break;
            }
        }
        let next_cursor = match (more, last_key, data.last()) {
            (true, Some(key), Some(a)) => Some(Cursor { key, id: a.id }.encode()),
            _ => None,
        };
        Ok(Page { data, next_cursor })
    }

    /// Up to `n` accounts of the list after `after`, in its order.
    async fn listed_chunk(
        &self,
        conn: &mut sqlx::AnyConnection,
        (f, walk): (&AccountFilter, bool),
        after: Option<&Cursor>,
        n: i64,
    ) -> Result<Vec<(Account, CursorKey)>> {
        let (key, text_key, id) = f.sort.key();
        let dir = if f.descending { "DESC" } else { "ASC" };
        // The page's ids first (the filter, the order, the limit: what the indexes serve), then
        // the JSON of those rows only; the aggregate orders them as the page does, by the
        // database's own collation.
        let mut sql = Sql::new(&format!(
            "SELECT string_agg(row, ',' ORDER BY k {dir}, i {dir}) AS rows FROM (SELECT {} AS row, p.k, p.i \
             FROM (SELECT a.id AS account, {key} AS k, {id} AS i FROM accounts a \
             JOIN account_figures f ON f.account_id = a.id WHERE 1=1",
            listed_row(self.backend(), "p.k")
        ));
        filter_where(&mut sql, self.backend(), f, walk);
        if let Some(c) = after {
            let op = if f.descending { "<" } else { ">" };
            let key_arg = match (&c.key, text_key) {
                (CursorKey::Text(t), true) => Arg::Text(t.clone()),
                (CursorKey::Int(i), false) => Arg::I64(*i),
                _ => return Err(Invalid::field("cursor", "belongs to another sort order").into()),
            };
            sql.push(&format!(" AND ({key} {op} ")).bind(key_arg.clone());
            sql.push(&format!(" OR ({key} = ")).bind(key_arg);
            sql.push(&format!(" AND {id} {op} ")).bind(Arg::I64(c.id)).push("))");
        }
        sql.push(&format!(" ORDER BY {key} {dir}, {id} {dir} LIMIT ")).bind(Arg::I64(n)).push(
            ") p JOIN accounts a ON a.id = p.account JOIN account_figures f ON f.account_id = a.id \
             LEFT JOIN users u ON u.id = a.owner_id) page",
        );
        let rows: Vec<Listed> = crate::sql::fetch_json_rows(&sql, &mut *conn).await?;
        rows.into_iter().map(Listed::account).collect()
    }

    /// The ids of the accounts matching the filter (order, cursor and limit ignored), at most
    /// `max` of them, lowest first.
    pub async fn account_ids(&self, f: &AccountFilter, max: usize) -> Result<Vec<i64>> {
        let mut sql = Sql::new("SELECT a.id FROM accounts a WHERE 1=1");
        filter_where(&mut sql, self.backend(), f, false);
        sql.push(" ORDER BY a.id LIMIT ").bind(Arg::I64(max as i64));
        sql.query().fetch_all(self.pool()).await?.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// How many accounts match the filter (cursor and limit ignored).
    pub async fn count_accounts(&self, f: &AccountFilter) -> Result<i64> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM accounts a WHERE 1=1");
        filter_where(&mut sql, self.backend(), f, false);
        Ok(sql.query().fetch_one(self.pool()).await?.try_get(0)?)
    }

    /// How many accounts are in each lifecycle stage.
    pub async fn account_stage_counts(&self) -> Result<Vec<(LifecycleStage, i64)>> {
        let rows = sqlx::query("SELECT lifecycle_stage, COUNT(*) AS n FROM accounts GROUP BY lifecycle_stage")
            .fetch_all(self.pool())
            .await?;
        let mut counts: Vec<(LifecycleStage, i64)> = LifecycleStage::ALL.iter().map(|s| (*s, 0)).collect();
        for r in rows {
            let stage: LifecycleStage = text(&r, "lifecycle_stage")?.parse().map_err(StoreError::Corrupt)?;
            if let Some(c) = counts.iter_mut().find(|(s, _)| *s == stage) {
                c.1 = r.try_get("n")?;
            }
        }
        Ok(counts)
    }

    /// Distinct values people filter by: tags and countries.
    pub async fn account_facets(&self) -> Result<Facets> {
        let list = |q: &'static str| async move {
            sqlx::query(q)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| Ok(r.try_get::<String, _>(0)?))
                .collect::<Result<Vec<String>>>()
        };
        Ok(Facets {
            tags: list("SELECT DISTINCT tag FROM account_tags ORDER BY tag").await?,
            countries: list("SELECT DISTINCT country FROM accounts WHERE country IS NOT NULL ORDER BY country").await?,
        })
    }

    /// The account holding external id `value` of `kind`.
    pub async fn account_id_by_external_id(&self, kind: &str, value: &str) -> Result<Option<i64>> {
        let mut conn = self.pool().acquire().await?;
        id_by(&mut conn, kind, value).await
    }
}

/// Creates an account. An account a Segment group call made for one of these ids (as its
/// groupId) is adopted instead: updated with these fields, keeping its ids and adding these.
/// The events that waited for its ids are the caller's to give it after the commit
/// ([`Store::pick_up`]).
pub async fn create(w: &mut Write, new: &NewAccount) -> Result<Account> {
    let backend = w.backend;
    create_in(&mut w.tx, w.at, &w.actor, backend, new).await
}

/// [`create`] inside a transaction that is not one decision's (a batch of Segment calls).
pub(crate) async fn create_in(
    tx: &mut Tx,
    at: i64,
    actor: &Actor,
    backend: Backend,
    new: &NewAccount,
) -> Result<Account> {
    let owner = resolve_owner(tx, new, &mut HashMap::new()).await?;
    let values: Vec<&str> = new.external_ids.iter().map(|e| e.value.as_str()).collect();
    if let Some(id) = adoptable(tx, &values).await?.into_values().next() {
        let before = load_in_tx(tx, id).await?;
        check_external_ids(tx, Some(id), &new.external_ids).await?;
        update_row(tx, at, id, new, owner, false).await?;
        let after = load_in_tx(tx, id).await?;
        Subscribers::load(tx)
            .await?
            .account_change(tx, at, (Some(&before), Some(&after)), (None, cause(actor)))
            .await?;
        let id = Some(id.to_string());
        record(tx, at, actor, "account.adopt", "account", id, Some(&before), Some(&after)).await?;
        return Ok(after);
    }
    check_external_ids(tx, None, &new.external_ids).await?;
    let id = insert_batch(tx, backend, at, std::slice::from_ref(new), &[(0, owner)]).await?[0];
    let after = load_in_tx(tx, id).await?;
    Subscribers::load(tx).await?.account_change(tx, at, (None, Some(&after)), (None, cause(actor))).await?;
    record(tx, at, actor, "account.create", "account", Some(id.to_string()), None, Some(&after)).await?;
    Ok(after)
}

/// The account holding external id `value` of `kind`.
pub async fn id_by(conn: &mut sqlx::AnyConnection, kind: &str, value: &str) -> Result<Option<i64>> {
    Ok(sqlx::query("SELECT account_id FROM external_ids WHERE kind = $1 AND value = $2")
        .bind(kind)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()?)
}

/// Renames an account still called `from` (an account first named by a billing system's
/// customer id, whose name arrives later). An account renamed since keeps its name.
pub async fn rename_from(w: &mut Write, id: i64, from: &str, name: &str) -> Result<()> {
    let before = load_in_tx(&mut w.tx, id).await?;
    if before.name != from || before.name == name {
        return Ok(());
    }
    sqlx::query("UPDATE accounts SET name = $1, name_key = $2, updated_at = $3 WHERE id = $4")
        .bind(name)
        .bind(name.to_lowercase())
        .bind(w.at)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    let after = load_in_tx(&mut w.tx, id).await?;
    let cause = cause(&w.actor).to_owned();
    Subscribers::load(&mut w.tx)
        .await?
        .account_change(&mut w.tx, w.at, (Some(&before), Some(&after)), (None, &cause))
        .await?;
    w.audit("account.update", "account", Some(id.to_string()), Some(&before), Some(&after)).await
}

/// The `account.*` webhooks of a change another module made to account `before.id` in the
/// write (its Segment groupId linked): what it was, and what it is now.
pub(crate) async fn emit_changed(w: &mut Write, before: &Account) -> Result<()> {
    let after = load_in_tx(&mut w.tx, before.id).await?;
    let cause = cause(&w.actor).to_owned();
    Subscribers::load(&mut w.tx)
        .await?
        .account_change(&mut w.tx, w.at, (Some(before), Some(&after)), (None, &cause))
        .await
}

/// What a stage change says caused it: `person` for a member (by session or token), else the
/// system actor's label (`stripe`, `segment`, `cli`).
fn cause(actor: &Actor) -> &str {
    if actor.user_id.is_some() {
        "person"
    } else {
        &actor.label
    }
}

/// The account `id` as the write sees it.
pub async fn load(w: &mut Write, id: i64) -> Result<Account> {
    load_in_tx(&mut w.tx, id).await
}

/// An account as it was and as it is after a write.
#[derive(Debug, Clone)]
pub struct Changed {
    pub before: Account,
    pub after: Account,
}

impl Changed {
    /// The external ids the write gave the account (whose waiting events it now picks up).
    pub fn added_ids(&self) -> Vec<ExternalId> {
        self.after.external_ids.iter().filter(|e| !self.before.external_ids.contains(e)).cloned().collect()
    }
}

/// Replaces an account's fields, tags, external ids and attributes.
pub async fn update(w: &mut Write, id: i64, new: &NewAccount) -> Result<Changed> {
    let before = load_in_tx(&mut w.tx, id).await?;
    let owner = resolve_owner(&mut w.tx, new, &mut HashMap::new()).await?;
    check_external_ids(&mut w.tx, Some(id), &new.external_ids).await?;
    update_row(&mut w.tx, w.at, id, new, owner, true).await?;
    let after = load_in_tx(&mut w.tx, id).await?;
    let (from, to) = (before.lifecycle_stage.as_str(), after.lifecycle_stage.as_str());
    crate::health::record_stage_change(&mut w.tx, w.at, &w.actor, id, from, to).await?;
    let cause = cause(&w.actor).to_owned();
    Subscribers::load(&mut w.tx)
        .await?
        .account_change(&mut w.tx, w.at, (Some(&before), Some(&after)), (None, &cause))
        .await?;
    w.audit("account.update", "account", Some(id.to_string()), Some(&before), Some(&after)).await?;
    Ok(Changed { before, after })
}

/// Adds (`present`) or removes one tag of an account; says what it did.
pub async fn set_tag(w: &mut Write, id: i64, tag: &str, present: bool) -> Result<String> {
    let before = load_in_tx(&mut w.tx, id).await?;
    let mut tags = before.tags.clone();
    let has = tags.iter().any(|t| t == tag);
    match (present, has) {
        (true, true) => return Ok(format!("already tagged {tag:?}")),
        (false, false) => return Ok(format!("not tagged {tag:?}")),
        (true, false) => tags.push(tag.to_owned()),
        (false, true) => tags.retain(|t| t != tag),
    }
    sqlx::query("UPDATE accounts SET tags = $1, updated_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(&tags).unwrap_or_default())
        .bind(w.at)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    replace_tags(&mut w.tx, id, &tags).await?;
    let after = load_in_tx(&mut w.tx, id).await?;
    w.audit("account.update", "account", Some(id.to_string()), Some(&before), Some(&after)).await?;
    Ok(if present { format!("tagged {tag:?}") } else { format!("removed tag {tag:?}") })
}

/// Makes member `owner` the account's owner (its `account.updated` webhooks and audit entry with
/// it); says what it did.
pub async fn set_owner(w: &mut Write, id: i64, owner: i64) -> Result<String> {
    let before = load_in_tx(&mut w.tx, id).await?;
    if before.owner.as_ref().is_some_and(|o| o.id == owner) {
        return Ok(format!("member {owner} already owns it"));
    }
    sqlx::query("UPDATE accounts SET owner_id = $1, updated_at = $2 WHERE id = $3")
        .bind(owner)
        .bind(w.at)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    emit_changed(w, &before).await?;
    let after = load_in_tx(&mut w.tx, id).await?;
    w.audit("account.update", "account", Some(id.to_string()), Some(&before), Some(&after)).await?;
    Ok(format!("made member {owner} the owner"))
}

/// Moves the account to lifecycle `stage` (its stage change recorded with the write's actor as
/// the cause, its `account.*` webhooks and audit entry with it); says what it did.
pub async fn set_stage(w: &mut Write, id: i64, stage: &str) -> Result<String> {
    let before = load_in_tx(&mut w.tx, id).await?;
    let from = before.lifecycle_stage.as_str();
    if from == stage {
        return Ok(format!("already in stage {stage}"));
    }
    sqlx::query("UPDATE accounts SET lifecycle_stage = $1, updated_at = $2 WHERE id = $3")
        .bind(stage)
        .bind(w.at)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    crate::health::record_stage_change(&mut w.tx, w.at, &w.actor, id, from, stage).await?;
    emit_changed(w, &before).await?;
    let after = load_in_tx(&mut w.tx, id).await?;
    w.audit("account.update", "account", Some(id.to_string()), Some(&before), Some(&after)).await?;
    Ok(format!("moved from stage {from} to {stage}"))
}

/// Deletes an account with its contacts and external ids; returns it as it was.
pub async fn delete(w: &mut Write, id: i64) -> Result<Account> {
    let before = load_in_tx(&mut w.tx, id).await?;
    sqlx::query("DELETE FROM accounts WHERE id = $1").bind(id).execute(&mut *w.tx).await?;
    Subscribers::load(&mut w.tx).await?.account_change(&mut w.tx, w.at, (Some(&before), None), (None, "")).await?;
    w.audit("account.delete", "account", Some(id.to_string()), Some(&before), None).await?;
    Ok(before)
}

/// Imports accounts all-or-nothing: a row whose external id (same kind and value) is known
/// updates that account, keeping ids it already had; any other row creates one. The first bad row
/// fails the whole write (the caller drops it); a dry run is a write its caller does not commit.
/// The waiting events of the rows' ids are the caller's to pick up after the commit.
pub async fn import(
    w: &mut Write,
    rows: &[NewAccount],
    mut progress: impl FnMut(usize),
) -> Result<ImportSummary, RowError> {
    let fail = |index: usize| move |error: StoreError| RowError { index, error };
    let (at, actor, backend) = (w.at, w.actor.clone(), w.backend);
    let tx = &mut w.tx;
    if backend == Backend::Sqlite {
        // One transaction writes every row and index: a larger page cache keeps it from
        // spilling to the WAL half-way (the connection is back to normal after the import).
        sqlx::query("PRAGMA cache_size=-262144").execute(&mut **tx).await.map_err(|e| fail(0)(e.into()))?;
    }
    let mut summary = ImportSummary::default();
    let mut owners = HashMap::new();
    // New accounts are written in batches (a few statements per hundreds of rows); a row that
    // matches a known id is updated at once. Ids this import wrote are remembered, so a later
    // row naming one of them updates that account instead of colliding with it.
    let mut pending: Vec<(usize, Option<i64>)> = Vec::new();
    let mut pending_ids: HashMap<(String, String), usize> = HashMap::new();
    let mut written: HashMap<(String, String), i64> = HashMap::new();
    // Every account the import wrote, with its stage before it (none: created), for the webhooks.
    let mut changed: std::collections::BTreeMap<i64, Option<String>> = Default::default();
    for (start, chunk) in rows.chunks(IMPORT_BATCH).enumerate().map(|(n, c)| (n * IMPORT_BATCH, c)) {
        let (known, adopt) = held_external_ids(tx, chunk).await.map_err(fail(start))?;
        for (k, new) in chunk.iter().enumerate() {
            let i = start + k;
            let keys: Vec<(String, String)> =
                new.external_ids.iter().map(|e| (e.kind.clone(), e.value.clone())).collect();
            if keys.iter().any(|key| pending_ids.contains_key(key)) {
                let created = insert_batch(tx, backend, at, rows, &pending).await.map_err(fail(i))?;
                changed.extend(created.iter().map(|id| (*id, None)));
                written.extend(pending_ids.drain().map(|(key, n)| (key, created[n])));
                pending.clear();
            }
            let owner = resolve_owner(tx, new, &mut owners).await.map_err(fail(i))?;
            // A row no id of which is held updates (adopts) the account a Segment group call
            // made for one of its ids.
            let adopted = || keys.iter().find_map(|(_, value)| adopt.get(value));
            match keys.iter().find_map(|key| written.get(key).or_else(|| known.get(key))).or_else(adopted).copied() {
                Some(id) => {
                    check_external_ids(tx, Some(id), &new.external_ids).await.map_err(fail(i))?;
                    let stage: String = sqlx::query("SELECT lifecycle_stage FROM accounts WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut **tx)
                        .await
                        .and_then(|r| r.try_get("lifecycle_stage"))
                        .map_err(|e| fail(i)(e.into()))?;
                    update_row(tx, at, id, new, owner, false).await.map_err(fail(i))?;
                    let to = new.lifecycle_stage.as_str();
                    crate::health::record_stage_change(tx, at, &actor, id, &stage, to).await.map_err(fail(i))?;
                    changed.entry(id).or_insert(Some(stage));
                    written.extend(keys.into_iter().map(|key| (key, id)));
                    summary.updated += 1;
                }
                // None of its ids is held, here or earlier in the file: it is new.
                None => {
                    pending_ids.extend(keys.into_iter().map(|key| (key, pending.len())));
                    pending.push((i, owner));
                    summary.created += 1;
                }
            }
            progress(i + 1);
        }
        if pending.len() >= IMPORT_BATCH || start + chunk.len() == rows.len() {
            let created = insert_batch(tx, backend, at, rows, &pending).await.map_err(fail(start))?;
            changed.extend(created.iter().map(|id| (*id, None)));
            written.extend(pending_ids.drain().map(|(key, n)| (key, created[n])));
            pending.clear();
        }
    }
    emit_imported(tx, at, &changed).await.map_err(fail(rows.len()))?;
    if backend == Backend::Sqlite {
        sqlx::query(&format!("PRAGMA cache_size={SQLITE_CACHE}"))
            .execute(&mut **tx)
            .await
            .map_err(|e| fail(rows.len())(e.into()))?;
    }
    finish_import(w, "account", summary).await.map_err(fail(rows.len()))
}

impl Subscribers {
    /// Writes the `account.*` webhooks of one account's change in the transaction that made it:
    /// `account.created` (nothing before), `account.deleted` (nothing after), else
    /// `account.updated`; and `account.stage_changed` when the stage moved (from `before`'s, or
    /// from `from_stage` when only the stage is known of it), saying what caused it.
    pub(crate) async fn account_change(
        &self,
        tx: &mut crate::Tx,
        at: i64,
        (before, after): (Option<&Account>, Option<&Account>),
        (from_stage, cause): (Option<&str>, &str),
    ) -> Result<()> {
        let json = |a: &Account| serde_json::to_value(a).unwrap_or_default();
        match (before, after) {
            (None, Some(a)) if from_stage.is_none() => {
                self.write(tx, at, None, ("account.created", Some(a.id)), &json(a)).await?;
            }
            (Some(b), None) => {
                self.write(tx, at, None, ("account.deleted", Some(b.id)), &json(b)).await?;
            }
            (_, Some(a)) => {
                self.write(tx, at, None, ("account.updated", Some(a.id)), &json(a)).await?;
                let from = before.map(|b| b.lifecycle_stage.as_str()).or(from_stage).unwrap_or_default();
                let to = a.lifecycle_stage.as_str();
                if from != to {
                    let data =
                        serde_json::json!({"account_id": a.id, "name": a.name, "from": from, "to": to, "cause": cause});
                    self.write(tx, at, None, ("account.stage_changed", Some(a.id)), &data).await?;
                }
            }
            (None, None) => {}
        }
        Ok(())
    }
}

/// The `account.*` webhooks of an import, in its write: one event per account it created or
/// updated (however many of its rows named it), as the account stands after the import.
async fn emit_imported(tx: &mut Tx, at: i64, changed: &std::collections::BTreeMap<i64, Option<String>>) -> Result<()> {
    let subscribers = Subscribers::load(tx).await?;
    if !["account.created", "account.updated", "account.stage_changed"].iter().any(|e| subscribers.want(e)) {
        return Ok(());
    }
    for (id, stage) in changed {
        let after = load_in_tx(tx, *id).await?;
        subscribers.account_change(tx, at, (None, Some(&after)), (stage.as_deref(), "import")).await?;
    }
    Ok(())
}

/// Inserts new accounts (`rows[i]` with its owner) with their tags and external ids; returns
/// their ids in order. Ids are reserved first so the children can be inserted in bulk too.
async fn insert_batch(
    tx: &mut Tx,
    backend: Backend,
    now: i64,
    rows: &[NewAccount],
    batch: &[(usize, Option<i64>)],
) -> Result<Vec<i64>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let ids = reserve_ids(tx, backend, "accounts", batch.len()).await?;
    let mut accounts = Vec::with_capacity(batch.len());
    let (mut tags, mut external) = (Vec::new(), Vec::new());
    for ((i, owner), id) in batch.iter().zip(&ids) {
        let new = &rows[*i];
        accounts.push(vec![
            Arg::I64(*id),
            Arg::Text(new.name.clone()),
            Arg::Text(new.name.to_lowercase()),
            Arg::MaybeText(new.domain.clone()),
            Arg::MaybeText(new.industry.clone()),
            Arg::MaybeI64(new.employees),
            Arg::MaybeText(new.country.clone()),
            Arg::MaybeText(new.plan.clone()),
            Arg::Text(new.lifecycle_stage.as_str().into()),
            Arg::MaybeI64(*owner),
            Arg::Text(serde_json::to_string(&new.tags).unwrap_or_default()),
            Arg::Text(serde_json::to_string(&new.attributes).unwrap_or_default()),
            Arg::I64(now),
            Arg::I64(now),
        ]);
        tags.extend(new.tags.iter().map(|t| vec![Arg::I64(*id), Arg::Text(t.clone())]));
        external.extend(
            new.external_ids.iter().map(|e| vec![Arg::I64(*id), Arg::Text(e.kind.clone()), Arg::Text(e.value.clone())]),
        );
    }
    let columns = [
        "id",
        "name",
        "name_key",
        "domain",
        "industry",
        "employees",
        "country",
        "plan",
        "lifecycle_stage",
        "owner_id",
        "tags",
        "attributes",
        "created_at",
        "updated_at",
    ];
    insert_rows(tx, backend, "accounts", &columns, accounts).await?;
    insert_rows(tx, backend, "account_tags", &["account_id", "tag"], tags).await?;
    insert_rows(tx, backend, "external_ids", &["account_id", "kind", "value"], external).await?;
    Ok(ids)
}

/// How many new accounts an import writes per batch.
const IMPORT_BATCH: usize = 500;

/// Which of these rows' external ids are already held, and by which account; and which of their
/// values an adoptable account (made by a Segment group call) holds as its groupId.
async fn held_external_ids(
    tx: &mut Tx,
    rows: &[NewAccount],
) -> Result<(HashMap<(String, String), i64>, HashMap<String, i64>)> {
    let mut values: Vec<&str> = rows.iter().flat_map(|r| r.external_ids.iter().map(|e| e.value.as_str())).collect();
    values.sort_unstable();
    values.dedup();
    let mut held = HashMap::new();
    let mut adopt = HashMap::new();
    for part in values.chunks(5_000) {
        let mut sql = Sql::new(
            "SELECT e.kind, e.value, e.account_id, a.adoptable FROM external_ids e JOIN accounts a ON a.id = e.account_id \
             WHERE e.value IN (",
        );
        for (n, v) in part.iter().enumerate() {
            if n > 0 {
                sql.push(", ");
            }
            sql.bind(Arg::Text((*v).to_owned()));
        }
        sql.push(")");
        for r in sql.query().fetch_all(&mut **tx).await? {
            let (kind, value, account): (String, String, i64) =
                (text(&r, "kind")?, text(&r, "value")?, r.try_get("account_id")?);
            if kind == "segment" && r.try_get::<i64, _>("adoptable")? != 0 {
                adopt.insert(value.clone(), account);
            }
            held.insert((kind, value), account);
        }
    }
    Ok((held, adopt))
}

/// The adoptable accounts (made by a Segment group call) holding one of `values` as groupId.
async fn adoptable(tx: &mut Tx, values: &[&str]) -> Result<HashMap<String, i64>> {
    let mut found = HashMap::new();
    if values.is_empty() {
        return Ok(found);
    }
    let mut sql = Sql::new(
        "SELECT e.value, e.account_id FROM external_ids e JOIN accounts a ON a.id = e.account_id \
         WHERE a.adoptable = 1 AND e.kind = 'segment' AND e.value IN ",
    );
    crate::sql::in_list(&mut sql, values);
    for r in sql.query().fetch_all(&mut **tx).await? {
        found.insert(text(&r, "value")?, r.try_get("account_id")?);
    }
    Ok(found)
}

/// Takes `n` new ids for `table` inside the write transaction: from the sequence on PostgreSQL;
/// on SQLite past both the largest id and the AUTOINCREMENT counter (the write lock is held).
pub(crate) async fn reserve_ids(tx: &mut Tx, backend: Backend, table: &str, n: usize) -> Result<Vec<i64>> {
    match backend {
        Backend::Postgres => {
            sqlx::query(&format!("SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)"))
                .bind(n as i64)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| Ok(r.try_get::<i64, _>(0)?))
                .collect()
        }
        Backend::Sqlite => {
            let base: i64 = sqlx::query(&format!(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), COALESCE((SELECT MAX(id) FROM {table}), 0))"
            ))
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
            Ok((base + 1..=base + n as i64).collect())
        }
    }
}

/// Distinct filter values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facets {
    pub tags: Vec<String>,
    pub countries: Vec<String>,
}

/// The search of `q` in SQLite's trigram index, which finds substrings of three characters or
/// more without a scan (shorter ones, and PostgreSQL, match with LIKE).
fn search_phrase(backend: Backend, f: &AccountFilter) -> Option<String> {
    let q = f.q.as_deref().map(str::trim).filter(|q| backend == Backend::Sqlite && q.chars().count() >= 3)?;
    Some(format!("\"{}\"", q.to_lowercase().replace('"', "\"\"")))
}

/// The filter's conditions. With `walk`, SQLite checks the owner and the search row by row along
/// the order's index (a unary `+` keeps it from driving the query by their own indexes), which
/// finds a page at once when many accounts match; without, their indexes find the matches and
/// those are sorted, which is faster when few do.
fn filter_where(sql: &mut Sql, backend: Backend, f: &AccountFilter, walk: bool) {
    let p = if walk { "+" } else { "" };
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if let Some(phrase) = search_phrase(backend, f) {
            sql.push(&format!(" AND {p}a.id IN (SELECT rowid FROM accounts_search WHERE accounts_search MATCH "))
                .bind(Arg::Text(phrase))
                .push(")");
        } else {
            let pattern = like_contains(q);
            sql.push(" AND (a.name_key LIKE ").bind(Arg::Text(pattern.clone()));
            sql.push(" ESCAPE '\\' OR a.domain LIKE ").bind(Arg::Text(pattern)).push(" ESCAPE '\\')");
        }
    }
    match f.owner {
        Some(Some(id)) => {
            sql.push(&format!(" AND {p}a.owner_id = ")).bind(Arg::I64(id));
        }
        Some(None) => {
            sql.push(&format!(" AND {p}a.owner_id IS NULL"));
        }
        None => {}
    }
    if let Some(s) = f.stage {
        sql.push(" AND a.lifecycle_stage = ").bind(Arg::Text(s.as_str().into()));
    }
    if let Some(t) = f.tag.as_deref().filter(|t| !t.is_empty()) {
        sql.push(" AND EXISTS (SELECT 1 FROM account_tags t WHERE t.account_id = a.id AND t.tag = ")
            .bind(Arg::Text(t.to_lowercase()))
            .push(")");
    }
    if let Some(c) = f.country.as_deref().filter(|c| !c.is_empty()) {
        sql.push(" AND a.country = ").bind(Arg::Text(c.to_ascii_uppercase()));
    }
    if let Some(b) = f.band {
        sql.push(" AND a.id IN (SELECT account_id FROM account_figures WHERE band = ")
            .bind(Arg::Text(b.as_str().into()))
            .push(")");
    }
}

async fn load_in_tx(tx: &mut Tx, id: i64) -> Result<Account> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLS} FROM accounts a LEFT JOIN users u ON u.id = a.owner_id WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("no account with id {id}")))?;
    let mut a = account_from(&row)?;
    a.external_ids = external_ids_of(tx, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(a)
}

async fn external_ids_of(conn: &mut sqlx::AnyConnection, ids: &[i64]) -> Result<HashMap<i64, Vec<ExternalId>>> {
    let mut map: HashMap<i64, Vec<ExternalId>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows = sqlx::query(&format!(
        "SELECT account_id, kind, value FROM external_ids WHERE account_id IN ({list}) ORDER BY kind, value"
    ))
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        map.entry(r.try_get("account_id")?)
            .or_default()
            .push(ExternalId { kind: text(&r, "kind")?, value: text(&r, "value")? });
    }
    Ok(map)
}

async fn resolve_owner(tx: &mut Tx, new: &NewAccount, cache: &mut HashMap<String, i64>) -> Result<Option<i64>> {
    if let Some(id) = new.owner_id {
        let found = sqlx::query("SELECT id FROM users WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
        return match found {
            Some(_) => Ok(Some(id)),
            None => Err(Invalid::field("owner_id", format!("no team member has id {id}")).into()),
        };
    }
    let Some(email) = &new.owner_email else { return Ok(None) };
    if let Some(id) = cache.get(email) {
        return Ok(Some(*id));
    }
    let row = sqlx::query("SELECT id FROM users WHERE email = $1").bind(email).fetch_optional(&mut **tx).await?;
    match row {
        Some(r) => {
            let id: i64 = r.try_get(0)?;
            cache.insert(email.clone(), id);
            Ok(Some(id))
        }
        None => Err(Invalid::field("owner_email", format!("no team member has the e-mail {email}")).into()),
    }
}

/// Fails with a conflict naming the account that already holds one of these ids.
async fn check_external_ids(tx: &mut Tx, this: Option<i64>, ids: &[ExternalId]) -> Result<()> {
    for e in ids {
        let row = sqlx::query(
            "SELECT a.id, a.name FROM external_ids e JOIN accounts a ON a.id = e.account_id WHERE e.kind = $1 AND e.value = $2",
        )
        .bind(&e.kind)
        .bind(&e.value)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(r) = row {
            let holder: i64 = r.try_get(0)?;
            if Some(holder) != this {
                return Err(StoreError::conflict(
                    "external_ids",
                    format!(
                        "external id {}:{} is already held by account {} (id {holder})",
                        e.kind,
                        e.value,
                        text(&r, "name")?
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Writes `new` over account `id`. With `replace_ids` the account's external ids become exactly
/// `new.external_ids`; without (imports), ids are added and existing kinds re-pointed.
async fn update_row(
    tx: &mut Tx,
    at: i64,
    id: i64,
    new: &NewAccount,
    owner: Option<i64>,
    replace_ids: bool,
) -> Result<()> {
    // Written by a person or their import: no longer the bare account a group call made.
    sqlx::query(
        "UPDATE accounts SET name = $1, name_key = $2, domain = $3, industry = $4, employees = $5, country = $6, plan = $7,
         lifecycle_stage = $8, owner_id = $9, tags = $10, attributes = $11, updated_at = $12, adoptable = 0 WHERE id = $13",
    )
    .bind(&new.name)
    .bind(new.name.to_lowercase())
    .bind(&new.domain)
    .bind(&new.industry)
    .bind(new.employees)
    .bind(&new.country)
    .bind(&new.plan)
    .bind(new.lifecycle_stage.as_str())
    .bind(owner)
    .bind(serde_json::to_string(&new.tags).unwrap_or_default())
    .bind(serde_json::to_string(&new.attributes).unwrap_or_default())
    .bind(at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    replace_tags(tx, id, &new.tags).await?;
    if replace_ids {
        sqlx::query("DELETE FROM external_ids WHERE account_id = $1").bind(id).execute(&mut **tx).await?;
    }
    for e in &new.external_ids {
        sqlx::query("DELETE FROM external_ids WHERE account_id = $1 AND kind = $2")
            .bind(id)
            .bind(&e.kind)
            .execute(&mut **tx)
            .await?;
        insert_external_id(tx, id, e).await?;
    }
    Ok(())
}

async fn insert_external_id(tx: &mut Tx, id: i64, e: &ExternalId) -> Result<()> {
    sqlx::query("INSERT INTO external_ids (account_id, kind, value) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(&e.kind)
        .bind(&e.value)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn replace_tags(tx: &mut Tx, id: i64, tags: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM account_tags WHERE account_id = $1").bind(id).execute(&mut **tx).await?;
    for t in tags {
        sqlx::query("INSERT INTO account_tags (account_id, tag) VALUES ($1, $2)")
            .bind(id)
            .bind(t)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
