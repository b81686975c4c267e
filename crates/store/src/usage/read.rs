//! Reading usage back: an account's daily rollups and the raw events explorer.

use crate::sql::{opt_text, text, Arg, Cursor, CursorKey, Page, Sql};
use crate::{Invalid, Result, Store};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// One row of an account's daily usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageDay {
    pub date: String,
    pub event: String,
    pub count: i64,
    pub users: i64,
}

/// Which raw events to list, latest received first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub account_id: Option<i64>,
    pub user_id: Option<String>,
    /// A track's event name or a page's or screen's name, exactly.
    pub event: Option<String>,
    /// Corrected timestamps from (included) and to (excluded).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: i64,
}

/// An event as stored. `properties` and `context` are the JSON the client sent.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub id: i64,
    pub message_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub event: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub group_id: Option<String>,
    pub account_id: Option<i64>,
    pub timestamp: DateTime<Utc>,
    pub original_timestamp: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub properties: Option<Box<serde_json::value::RawValue>>,
    pub context: Option<Box<serde_json::value::RawValue>>,
}

const EVENT_COLS: &str = "id, message_id, kind, event, user_id, anonymous_id, group_id, account_id, timestamp, \
    original_timestamp, sent_at, received_at, properties, context";

/// The filters other than the account, on columns of `events` named with `prefix`.
fn event_filters(sql: &mut Sql, f: &EventFilter, prefix: &str) {
    if let Some(u) = &f.user_id {
        sql.push(&format!(" AND {prefix}user_id = ")).bind(Arg::Text(u.clone()));
    }
    if let Some(e) = &f.event {
        sql.push(&format!(" AND {prefix}event = ")).bind(Arg::Text(e.clone()));
    }
    if let Some(t) = f.from {
        sql.push(&format!(" AND {prefix}timestamp >= ")).bind(Arg::I64(t.timestamp_micros()));
    }
    if let Some(t) = f.to {
        sql.push(&format!(" AND {prefix}timestamp < ")).bind(Arg::I64(t.timestamp_micros()));
    }
}

pub(super) fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default()
}

fn raw_json(row: &sqlx::any::AnyRow, col: &str) -> Result<Option<Box<serde_json::value::RawValue>>> {
    Ok(opt_text(row, col)?.and_then(|t| serde_json::value::RawValue::from_string(t).ok()))
}

fn stored_event(r: &sqlx::any::AnyRow) -> Result<StoredEvent> {
    Ok(StoredEvent {
        id: r.try_get("id")?,
        message_id: text(r, "message_id")?,
        kind: text(r, "kind")?,
        event: opt_text(r, "event")?,
        user_id: opt_text(r, "user_id")?,
        anonymous_id: opt_text(r, "anonymous_id")?,
        group_id: opt_text(r, "group_id")?,
        account_id: r.try_get("account_id")?,
        timestamp: instant(r.try_get("timestamp")?),
        original_timestamp: r.try_get::<Option<i64>, _>("original_timestamp")?.map(instant),
        sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(instant),
        received_at: instant(r.try_get("received_at")?),
        properties: raw_json(r, "properties")?,
        context: raw_json(r, "context")?,
    })
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

    /// How many usage events the daily rollups count, over every account and day.
    pub async fn count_usage(&self) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM usage_daily")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Raw events matching the filter, latest first (by event time, then arrival), a page at a
    /// time, paged by (time, id) so a page never repeats or skips an event. The caller bounds
    /// `limit`. Events are found through the bulk index (`event_times` for an account's,
    /// `event_order` for all) and, after it, by reading the newest events.
    pub async fn events(&self, f: &EventFilter) -> Result<Page<StoredEvent>> {
        let before = match &f.cursor {
            None => None,
            Some(raw) => match Cursor::decode(raw) {
                Some(Cursor { key: CursorKey::Int(t), id }) => Some((t, id)),
                _ => return Err(Invalid::field("cursor", "is not a cursor this API gave out").into()),
            },
        };
        let older = |sql: &mut Sql, time: &str, id: &str| {
            if let Some((t, i)) = before {
                sql.push(&format!(" AND ({time} < ")).bind(Arg::I64(t));
                sql.push(&format!(" OR ({time} = ")).bind(Arg::I64(t));
                sql.push(&format!(" AND {id} < ")).bind(Arg::I64(i)).push("))");
            }
        };
        let limit = f.limit.max(1);
        // The bulk-indexed events through their time index (an account's, or every one's), then
        // those after it read from events; each part's newest `limit + 1`, merged.
        let cols = EVENT_COLS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ");
        let mut sql = Sql::new("SELECT * FROM (SELECT ");
        match f.account_id {
            Some(a) => {
                sql.push(&format!(
                    "{cols} FROM event_times x JOIN events e ON e.id = x.event_id WHERE x.account_id = "
                ))
                .bind(Arg::I64(a));
            }
            None => {
                sql.push(&format!("{cols} FROM event_order x JOIN events e ON e.id = x.event_id WHERE 1=1"));
            }
        }
        older(&mut sql, "x.timestamp", "x.event_id");
        event_filters(&mut sql, f, "e.");
        sql.push(" ORDER BY x.timestamp DESC, x.event_id DESC LIMIT ").bind(Arg::I64(limit + 1));
        sql.push(&format!(
            ") a UNION ALL SELECT * FROM (SELECT {EVENT_COLS} FROM events \
             WHERE id > (SELECT indexed_to FROM event_index WHERE id = 1)"
        ));
        if let Some(a) = f.account_id {
            sql.push(" AND account_id = ").bind(Arg::I64(a));
        }
        older(&mut sql, "timestamp", "id");
        event_filters(&mut sql, f, "");
        sql.push(" ORDER BY timestamp DESC, id DESC LIMIT ").bind(Arg::I64(limit + 1)).push(") b");
        sql.push(" ORDER BY timestamp DESC, id DESC LIMIT ").bind(Arg::I64(limit + 1));
        let mut conn = self.pool().acquire().await?;
        let (data, more) = crate::sql::page_rows(&sql, &mut conn, limit, stored_event).await?;
        let next_cursor = more
            .then(|| {
                data.last().map(|e| Cursor { key: CursorKey::Int(e.timestamp.timestamp_micros()), id: e.id }.encode())
            })
            .flatten();
        Ok(Page { data, next_cursor })
    }
}
