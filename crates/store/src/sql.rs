//! A small builder for dynamic SQL with `$N` placeholders, and keyset pagination cursors.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyArguments;
use sqlx::{Arguments, Row};

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I64(i64),
    Text(String),
    /// A nullable value keeps its type, so PostgreSQL accepts its NULL for the column.
    MaybeI64(Option<i64>),
    MaybeText(Option<String>),
}

/// SQL text and its arguments, numbered as they are pushed.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    args: Vec<Arg>,
    /// Write anonymous `?` placeholders (SQLite only) instead of `$N`.
    anonymous: bool,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql { text: text.to_owned(), args: Vec::new(), anonymous: false }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        if self.anonymous {
            self.text.push('?');
        } else {
            self.text.push_str(&format!("${}", self.args.len()));
        }
        self
    }

    pub fn arguments(&self) -> AnyArguments<'_> {
        let mut a = AnyArguments::default();
        for arg in &self.args {
            // Adding to AnyArguments cannot fail for these types.
            let _ = match arg {
                Arg::I64(v) => a.add(*v),
                Arg::Text(v) => a.add(v.clone()),
                Arg::MaybeI64(v) => a.add(*v),
                Arg::MaybeText(v) => a.add(v.clone()),
            };
        }
        a
    }

    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, AnyArguments<'_>> {
        sqlx::query_with(&self.text, self.arguments())
    }
}

/// `(?, ?, …)`: a parenthesised list of text values, for `IN`.
pub(crate) fn in_list(sql: &mut Sql, values: &[&str]) {
    sql.push("(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Arg::Text((*v).to_owned()));
    }
    sql.push(")");
}

/// Inserts many rows with multi-row `INSERT … VALUES`, in statements small enough for both
/// backends' limits on bound parameters.
///
/// On SQLite the placeholders are anonymous `?`: sqlx binds each parameter by asking SQLite for its
/// name, and SQLite finds a named parameter by walking a list, so thousands of `$N` cost O(n²).
pub(crate) async fn insert_rows(
    tx: &mut crate::Tx,
    backend: crate::Backend,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Arg>>,
) -> Result<(), sqlx::Error> {
    upsert_rows(tx, backend, table, columns, rows, "").await
}

/// [`insert_rows`] with a trailing clause, such as `ON CONFLICT (…) DO UPDATE SET …`.
pub(crate) async fn upsert_rows(
    tx: &mut crate::Tx,
    backend: crate::Backend,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Arg>>,
    on_conflict: &str,
) -> Result<(), sqlx::Error> {
    insert_returning(tx, backend, table, columns, rows, on_conflict).await.map(drop)
}

/// [`upsert_rows`] whose clause ends in `RETURNING …`: the rows every statement returned.
pub(crate) async fn insert_returning(
    tx: &mut crate::Tx,
    backend: crate::Backend,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Arg>>,
    on_conflict: &str,
) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
    let mut out = Vec::new();
    let per_statement = (30_000 / columns.len().max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut sql = Sql::new(&format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")));
        sql.anonymous = backend == crate::Backend::Sqlite;
        for (n, row) in rows.by_ref().take(per_statement).enumerate() {
            sql.push(if n == 0 { "(" } else { ", (" });
            for (k, arg) in row.into_iter().enumerate() {
                if k > 0 {
                    sql.push(", ");
                }
                sql.bind(arg);
            }
            sql.push(")");
        }
        sql.push(on_conflict);
        out.extend(sql.query().fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// `SELECT` of every row of `rest` (`FROM … WHERE …`) as one JSON text, `[c1, c2, …],[…]`:
/// decoding a single value and parsing it is many times faster than decoding hundreds of
/// thousands of rows through the driver, and JSON escapes whatever the text columns hold.
pub(crate) fn json_rows(backend: crate::Backend, columns: &str, rest: &str) -> Sql {
    let row = match backend {
        crate::Backend::Sqlite => format!("json_array({columns})"),
        crate::Backend::Postgres => format!("CAST(json_build_array({columns}) AS TEXT)"),
    };
    Sql::new(&format!("SELECT string_agg({row}, ',') AS rows {rest}"))
}

/// Runs a [`json_rows`] query and parses its rows.
pub(crate) async fn fetch_json_rows<T: serde::de::DeserializeOwned>(
    sql: &Sql,
    conn: impl sqlx::Executor<'_, Database = sqlx::Any>,
) -> crate::Result<Vec<T>> {
    let t = std::time::Instant::now();
    let rows: Option<String> = sql.query().fetch_one(conn).await?.try_get("rows")?;
    let rows = rows.unwrap_or_default();
    let mut raw = String::with_capacity(rows.len() + 2);
    raw.push('[');
    raw.push_str(&rows);
    raw.push(']');
    drop(rows);
    let queried = t.elapsed();
    let rows: Vec<T> = serde_json::from_str(&raw).map_err(|e| crate::StoreError::Corrupt(format!("bulk rows: {e}")))?;
    tracing::debug!(
        sql = %sql.text.chars().take(90).collect::<String>(),
        rows = rows.len(),
        bytes = raw.len(),
        query_ms = queried.as_millis() as u64,
        parse_ms = (t.elapsed() - queried).as_millis() as u64,
        "bulk rows"
    );
    Ok(rows)
}

/// Reads the rows of a page query (ordered, with `LIMIT limit + 1`) one at a time, decoding
/// each, until `limit` rows or about [`keepwell_core::limits::PAGE_BYTES`] of their JSON are
/// held (always at least one row): a page of oversized rows stops early instead of holding
/// hundreds of them in memory. Returns the rows and whether more follow. A read of more rows
/// than a page holds ([`keepwell_core::limits::PAGE_ROWS`]: tests and benchmarks reading
/// everything back) is not a page, and is bounded by its `limit` alone.
pub(crate) async fn page_rows<T: Serialize>(
    sql: &Sql,
    conn: &mut sqlx::AnyConnection,
    limit: i64,
    decode: impl Fn(&sqlx::any::AnyRow) -> crate::Result<T>,
) -> crate::Result<(Vec<T>, bool)> {
    use futures_util::TryStreamExt;
    let mut rows = sql.query().fetch(conn);
    let (mut out, mut bytes) = (Vec::new(), 0usize);
    while let Some(row) = rows.try_next().await? {
        let full = limit <= keepwell_core::limits::PAGE_ROWS && bytes >= keepwell_core::limits::PAGE_BYTES;
        if out.len() as i64 >= limit || (full && !out.is_empty()) {
            return Ok((out, true));
        }
        let item = decode(&row)?;
        bytes += serde_json::to_vec(&item).map_or(0, |v| v.len());
        out.push(item);
    }
    Ok((out, false))
}

/// One page of a collection and where the next one starts.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// One page of `sql` (a `SELECT … WHERE …` over a table with an `id`), newest (highest id) first,
/// after the row the cursor names: at most `limit` rows (1–500) and about a MiB of JSON.
pub(crate) async fn newest_first<T: Serialize>(
    mut sql: Sql,
    pool: &sqlx::AnyPool,
    (limit, cursor): (i64, Option<&str>),
    decode: impl Fn(&sqlx::any::AnyRow) -> crate::Result<T>,
    id_of: impl Fn(&T) -> i64,
) -> crate::Result<Page<T>> {
    if let Some(raw) = cursor {
        let c = Cursor::decode(raw).ok_or_else(|| {
            crate::StoreError::Invalid(keepwell_core::Invalid::field("cursor", "is not a cursor this API gave out"))
        })?;
        sql.push(" AND id < ").bind(Arg::I64(c.id));
    }
    let limit = limit.clamp(1, 500);
    sql.push(" ORDER BY id DESC LIMIT ").bind(Arg::I64(limit + 1));
    let mut conn = pool.acquire().await?;
    let (data, more) = page_rows(&sql, &mut conn, limit, decode).await?;
    let next_cursor = more
        .then(|| data.last().map(|row| Cursor { key: CursorKey::Int(id_of(row)), id: id_of(row) }.encode()))
        .flatten();
    Ok(Page { data, next_cursor })
}

/// A keyset position: the sort key of the last row and its id, opaque to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub key: CursorKey,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum CursorKey {
    Int(i64),
    Text(String),
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(raw: &str) -> Option<Cursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_contains(q: &str) -> String {
    let mut p = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(crate) fn text(row: &sqlx::any::AnyRow, col: &str) -> Result<String, sqlx::Error> {
    row.try_get::<String, _>(col)
}

pub(crate) fn opt_text(row: &sqlx::any::AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(col)
}

/// A stored value that does not read back as what was written.
pub(crate) fn corrupt(what: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(what.to_owned())
}

/// A stored day (`YYYY-MM-DD`).
pub(crate) fn day(row: &sqlx::any::AnyRow, col: &str) -> crate::Result<chrono::NaiveDate> {
    text(row, col)?.parse().map_err(|_| corrupt(col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor { key: CursorKey::Text("acme".into()), id: 7 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("garbage!"), None);
    }

    #[test]
    fn like_patterns_escape() {
        assert_eq!(like_contains("50%_A"), "%50\\%\\_a%");
    }

    #[test]
    fn placeholders_are_numbered() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.bind(Arg::I64(1)).push(" AND b = ").bind(Arg::Text("x".into()));
        assert_eq!(s.text, "SELECT 1 WHERE a = $1 AND b = $2");
    }
}
