//! Segment's tracking API, as Segment itself reads it: the calls (`identify`, `group`, `track`,
//! `page`, `screen`, and `batch` of them), its limits, and its timestamp correction. Pure: the
//! server hands in the body and the instant it was received, and gets events or the reason the
//! whole request is refused.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Segment's limits: one call, one batch request, calls per batch.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
pub const MAX_BATCH_EVENTS: usize = 2_500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Identify,
    Group,
    Track,
    Page,
    Screen,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Identify, Kind::Group, Kind::Track, Kind::Page, Kind::Screen];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Identify => "identify",
            Kind::Group => "group",
            Kind::Track => "track",
            Kind::Page => "page",
            Kind::Screen => "screen",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One call, checked and with its timestamp corrected.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: Kind,
    pub message_id: String,
    /// A track's event name, or a page's or screen's name.
    pub event: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// A group call's `groupId`, else `context.groupId`.
    pub group_id: Option<String>,
    /// The account, when the source named it directly (a CSV import) rather than by groupId.
    pub account_id: Option<i64>,
    /// `received_at − (sent_at − original_timestamp)`, when the client sent both.
    pub timestamp: DateTime<Utc>,
    pub original_timestamp: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// `properties` (track, page, screen) or `traits` (identify, group), as JSON text.
    pub properties: Option<String>,
    pub context: Option<String>,
    /// The corrected time was impossible (before 2000, or more than a day after it arrived), so
    /// `timestamp` is the arrival time; the client's own stays in `original_timestamp`.
    pub time_replaced: bool,
}

/// No event happened before this (Segment did not exist; a client clock at 1970 is unset).
pub const EARLIEST: DateTime<Utc> = DateTime::from_timestamp_nanos(946_684_800_000_000_000);

/// Whether an event's time cannot be true: before [`EARLIEST`], or more than a day after it
/// arrived (clock skew is corrected by `sentAt`; a day covers time zones and late flushes).
pub fn impossible(time: DateTime<Utc>, arrived: DateTime<Utc>) -> bool {
    time < EARLIEST || time > arrived + chrono::Duration::days(1)
}

/// An id or name a call carries: bounded and free of control characters.
fn check_text(at: Option<usize>, field: &str, value: Option<&str>, max: usize) -> Result<(), Refused> {
    let Some(v) = value else { return Ok(()) };
    if v.chars().count() > max {
        return Err(refuse(at, format!("`{field}` is longer than {max} characters")));
    }
    match crate::limits::control_character(v) {
        Some(e) => Err(refuse(at, format!("`{field}` {e}"))),
        None => Ok(()),
    }
}

impl Event {
    /// Who did it: the user id, else the anonymous id.
    pub fn actor(&self) -> &str {
        self.user_id.as_deref().or(self.anonymous_id.as_deref()).unwrap_or_default()
    }
}

/// Why a request is refused. Nothing of a refused request is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The call's position in `batch`, for batch requests.
    pub index: Option<usize>,
    pub reason: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "batch[{i}]: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

fn refuse(index: Option<usize>, reason: impl Into<String>) -> Refused {
    Refused { index, reason: reason.into() }
}

/// An id as clients send it: a string, or a number some libraries send.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Number(serde_json::Number),
}

impl Id<'_> {
    fn into_string(self) -> String {
        match self {
            Id::Text(t) => t.into_owned(),
            Id::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Call<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message_id: Option<Id<'a>>,
    #[serde(borrow)]
    user_id: Option<Id<'a>>,
    #[serde(borrow)]
    anonymous_id: Option<Id<'a>>,
    #[serde(borrow)]
    group_id: Option<Id<'a>>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    original_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sent_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    properties: Option<&'a RawValue>,
    #[serde(borrow)]
    traits: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    #[serde(borrow)]
    write_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    received_at: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Batch<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    sent_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    #[serde(borrow)]
    write_key: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    #[serde(borrow)]
    group_id: Option<Id<'a>>,
}

/// A parsed request: its calls, and the write key its body named (if any).
#[derive(Debug)]
pub struct Request {
    pub events: Vec<Event>,
    pub write_key: Option<String>,
}

/// Reads the body of `POST /v1/{kind}` (`kind` None: `/v1/batch`). `new_id` makes a message id
/// for calls that came without one.
pub fn parse(
    kind: Option<Kind>,
    body: &[u8],
    received_at: DateTime<Utc>,
    mut new_id: impl FnMut() -> String,
) -> Result<Request, Refused> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(refuse(None, format!("the request is {} bytes; the limit is {MAX_BATCH_BYTES}", body.len())));
    }
    let text = std::str::from_utf8(body).map_err(|_| refuse(None, "the body is not UTF-8"))?;
    match kind {
        Some(kind) => {
            if body.len() > MAX_EVENT_BYTES {
                return Err(refuse(None, format!("the call is {} bytes; the limit is {MAX_EVENT_BYTES}", body.len())));
            }
            let call: Call = serde_json::from_str(text).map_err(|e| refuse(None, format!("invalid JSON: {e}")))?;
            let write_key = call.write_key.as_deref().map(str::to_owned);
            let event = event(None, Some(kind), call, None, None, received_at, &mut new_id)?;
            Ok(Request { events: vec![event], write_key })
        }
        None => {
            let b: Batch = serde_json::from_str(text).map_err(|e| refuse(None, format!("invalid JSON: {e}")))?;
            let calls = b.batch.ok_or_else(|| refuse(None, "a batch request needs a `batch` array"))?;
            if calls.len() > MAX_BATCH_EVENTS {
                return Err(refuse(
                    None,
                    format!("the batch has {} calls; the limit is {MAX_BATCH_EVENTS}", calls.len()),
                ));
            }
            let sent_at = b.sent_at.as_deref().map(|t| instant(t, "sentAt", None)).transpose()?;
            let mut events = Vec::with_capacity(calls.len());
            for (i, raw) in calls.into_iter().enumerate() {
                let at = Some(i);
                let size = raw.get().len();
                if size > MAX_EVENT_BYTES {
                    return Err(refuse(at, format!("the call is {size} bytes; the limit is {MAX_EVENT_BYTES}")));
                }
                let call: Call =
                    serde_json::from_str(raw.get()).map_err(|e| refuse(at, format!("invalid call: {e}")))?;
                events.push(event(at, None, call, sent_at, b.context, received_at, &mut new_id)?);
            }
            Ok(Request { events, write_key: b.write_key.map(Cow::into_owned) })
        }
    }
}

fn event(
    at: Option<usize>,
    kind: Option<Kind>,
    call: Call,
    batch_sent_at: Option<DateTime<Utc>>,
    batch_context: Option<&RawValue>,
    received_at: DateTime<Utc>,
    new_id: &mut impl FnMut() -> String,
) -> Result<Event, Refused> {
    let kind = match (kind, call.kind.as_deref()) {
        (Some(k), _) => k,
        (None, Some(t)) => Kind::parse(t).ok_or_else(|| {
            refuse(at, format!("unknown type {t:?}: expected identify, group, track, page or screen"))
        })?,
        (None, None) => return Err(refuse(at, "a call in a batch needs `type`")),
    };
    let text = |id: Option<Id>| id.map(Id::into_string).filter(|s| !s.is_empty());
    let user_id = text(call.user_id);
    let anonymous_id = text(call.anonymous_id);
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(refuse(at, format!("a {} call needs `userId` or `anonymousId`", kind.as_str())));
    }
    let name = match kind {
        Kind::Track => Some(
            call.event
                .filter(|e| !e.trim().is_empty())
                .ok_or_else(|| refuse(at, "a track call needs `event`"))?
                .into_owned(),
        ),
        Kind::Page | Kind::Screen => call.name.map(Cow::into_owned),
        Kind::Identify | Kind::Group => None,
    };
    let context = call.context.or(batch_context);
    let context_group = match context {
        Some(c) => serde_json::from_str::<Context>(c.get()).ok().and_then(|c| text(c.group_id)),
        None => None,
    };
    let group_id = match kind {
        Kind::Group => Some(text(call.group_id).ok_or_else(|| refuse(at, "a group call needs `groupId`"))?),
        _ => context_group,
    };
    let original = match call.original_timestamp.as_deref().or(call.timestamp.as_deref()) {
        Some(t) => Some(instant(t, "timestamp", at)?),
        None => None,
    };
    let sent_at = match call.sent_at.as_deref() {
        Some(t) => Some(instant(t, "sentAt", at)?),
        None => batch_sent_at,
    };
    let timestamp = correct(original, sent_at, received_at);
    // Segment's libraries do not resend a 400, so an impossible time does not refuse the call:
    // the arrival time stands in, and the client's own is kept.
    let time_replaced = impossible(timestamp, received_at);
    let timestamp = if time_replaced { received_at } else { timestamp };
    let message_id = text(call.message_id);
    use crate::limits::{EVENT_NAME, EXTERNAL_ID};
    check_text(at, "messageId", message_id.as_deref(), EXTERNAL_ID)?;
    check_text(at, "userId", user_id.as_deref(), EXTERNAL_ID)?;
    check_text(at, "anonymousId", anonymous_id.as_deref(), EXTERNAL_ID)?;
    check_text(at, "groupId", group_id.as_deref(), EXTERNAL_ID)?;
    check_text(at, if kind == Kind::Track { "event" } else { "name" }, name.as_deref(), EVENT_NAME)?;
    let properties = match kind {
        Kind::Identify | Kind::Group => call.traits,
        _ => call.properties,
    };
    Ok(Event {
        kind,
        message_id: message_id.unwrap_or_else(new_id),
        event: name,
        user_id,
        anonymous_id,
        group_id,
        account_id: None,
        timestamp,
        original_timestamp: original,
        sent_at,
        received_at,
        properties: properties.map(|p| p.get().to_owned()),
        context: context.map(|c| c.get().to_owned()),
        time_replaced,
    })
}

/// One call of a history file (a line of NDJSON as Segment archives them). Its time is its own:
/// `receivedAt` when the record has it (Segment's correction applies against it), else the
/// client's `timestamp` as it stands. A record without any time, or with an impossible one
/// (before 2000, or more than a day after it arrived or after `now`), is refused.
pub fn parse_record(line: &str, now: DateTime<Utc>, new_id: impl FnOnce() -> String) -> Result<Event, Refused> {
    let mut call: Call = serde_json::from_str(line).map_err(|e| refuse(None, format!("invalid JSON: {e}")))?;
    let received = match call.received_at.take() {
        Some(t) => instant(&t, "receivedAt", None)?,
        None => {
            let own = call.original_timestamp.as_deref().or(call.timestamp.as_deref());
            let own = own.ok_or_else(|| refuse(None, "a call in a history file needs `timestamp`"))?;
            call.sent_at = None;
            instant(own, "timestamp", None)?
        }
    };
    let mut new_id = Some(new_id);
    let e = event(None, None, call, None, None, received, &mut || new_id.take().map(|f| f()).unwrap_or_default())?;
    if e.time_replaced || impossible(e.received_at, now) {
        let shown = e.original_timestamp.unwrap_or(e.received_at).to_rfc3339();
        return Err(refuse(
            None,
            format!(
                "the time {shown} is impossible: before 2000 or more than a day after it arrived; fix or drop the line"
            ),
        ));
    }
    Ok(e)
}

/// A track call from a row of a CSV history file, for an account the file names directly.
pub fn track_row(
    account_id: i64,
    user_id: String,
    event: String,
    timestamp: DateTime<Utc>,
    properties: Option<String>,
    message_id: String,
) -> Event {
    Event {
        kind: Kind::Track,
        message_id,
        event: Some(event),
        user_id: Some(user_id),
        anonymous_id: None,
        group_id: None,
        account_id: Some(account_id),
        timestamp,
        original_timestamp: Some(timestamp),
        sent_at: None,
        received_at: timestamp,
        properties,
        context: None,
        time_replaced: false,
    }
}

/// Segment's correction for clients whose clocks are off: `receivedAt − (sentAt − originalTimestamp)`.
/// Without `sentAt` the client's own time stands; without either, the time it was received.
pub fn correct(
    original: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> DateTime<Utc> {
    match (original, sent_at) {
        // Past the calendar's range the result is clamped, and then impossible.
        (Some(o), Some(s)) => received_at.checked_sub_signed(s.signed_duration_since(o)).unwrap_or(if s > o {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        }),
        (Some(o), None) => o,
        (None, _) => received_at,
    }
}

/// An ISO 8601 instant; without an offset it is taken as UTC.
pub fn instant(text: &str, field: &str, at: Option<usize>) -> Result<DateTime<Utc>, Refused> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(t) = DateTime::parse_from_str(text, f) {
            return Ok(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(text, f) {
            return Ok(t.and_utc());
        }
    }
    Err(refuse(at, format!("`{field}` {text:?} is not an ISO 8601 time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        instant(s, "t", None).unwrap()
    }
    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("gen-{n}")
        }
    }
    fn batch(body: &str) -> Result<Request, Refused> {
        parse(None, body.as_bytes(), t("2026-11-23T12:00:00Z"), ids())
    }

    #[test]
    fn timestamps_are_corrected_as_segment_does() {
        // The client's clock is 10 minutes fast: it stamped the event at 12:09 and sent it at
        // 12:10 by its clock; we received it at 12:00:05. The event happened 1 minute earlier.
        let r = batch(
            r#"{"sentAt":"2026-11-23T12:10:00Z","batch":[{"type":"track","userId":"u1","event":"Login","timestamp":"2026-11-23T12:09:00Z"}]}"#,
        )
        .unwrap();
        let e = &r.events[0];
        assert_eq!(e.original_timestamp, Some(t("2026-11-23T12:09:00Z")));
        assert_eq!(e.sent_at, Some(t("2026-11-23T12:10:00Z")));
        assert_eq!(e.timestamp, t("2026-11-23T11:59:00Z"));
        assert_eq!(correct(None, None, t("2026-11-23T12:00:00Z")), t("2026-11-23T12:00:00Z"));
        assert_eq!(
            correct(Some(t("2026-01-01T00:00:00Z")), None, t("2026-11-23T12:00:00Z")),
            t("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn reasons_name_the_batch_index() {
        let cases = [
            (
                r#"{"batch":[{"type":"track","userId":"u","event":"a"},{"type":"track","userId":"u"}]}"#,
                "batch[1]: a track call needs `event`",
            ),
            (r#"{"batch":[{"type":"track","event":"a"}]}"#, "batch[0]: a track call needs `userId` or `anonymousId`"),
            (r#"{"batch":[{"type":"alias","userId":"u"}]}"#, "batch[0]: unknown type \"alias\""),
            (r#"{"batch":[{"type":"group","userId":"u"}]}"#, "batch[0]: a group call needs `groupId`"),
            (
                r#"{"batch":[{"type":"page","userId":"u","timestamp":"yesterday"}]}"#,
                "batch[0]: `timestamp` \"yesterday\"",
            ),
            (r#"{"batch":[{"type":"page","userId":"u"},"#, "invalid JSON"),
            (r#"{"events":[]}"#, "a batch request needs a `batch` array"),
        ];
        for (body, reason) in cases {
            let err = batch(body).unwrap_err().to_string();
            assert!(err.starts_with(reason), "{body}: {err}");
        }
    }

    #[test]
    fn limits_are_segments() {
        let big = "x".repeat(MAX_EVENT_BYTES);
        let body = format!(r#"{{"batch":[{{"type":"track","userId":"u","event":"a","properties":{{"p":"{big}"}}}}]}}"#);
        assert!(batch(&body).unwrap_err().to_string().starts_with("batch[0]: the call is"));
        let one = r#"{"type":"track","userId":"u","event":"a"}"#;
        let many = format!(r#"{{"batch":[{}]}}"#, vec![one; MAX_BATCH_EVENTS + 1].join(","));
        assert!(batch(&many).unwrap_err().to_string().contains("2501 calls"));
        let ok = format!(r#"{{"batch":[{}]}}"#, vec![one; MAX_BATCH_EVENTS].join(","));
        assert_eq!(batch(&ok).unwrap().events.len(), MAX_BATCH_EVENTS);
        let huge = format!(r#"{{"batch":[],"pad":"{}"}}"#, "x".repeat(MAX_BATCH_BYTES));
        assert!(batch(&huge).unwrap_err().to_string().contains("the limit is 512000"));
    }

    #[test]
    fn calls_read_ids_groups_and_keys() {
        let r = parse(
            Some(Kind::Track),
            br#"{"writeKey":"wk_1","userId":42,"event":"Report Built","properties":{"n":1},"context":{"groupId":"acme"}}"#,
            t("2026-11-23T12:00:00Z"),
            ids(),
        )
        .unwrap();
        assert_eq!(r.write_key.as_deref(), Some("wk_1"));
        let e = &r.events[0];
        assert_eq!((e.user_id.as_deref(), e.group_id.as_deref()), (Some("42"), Some("acme")));
        assert_eq!((e.message_id.as_str(), e.event.as_deref()), ("gen-1", Some("Report Built")));
        assert_eq!(e.properties.as_deref(), Some(r#"{"n":1}"#));
        let r = batch(
            r#"{"batch":[{"type":"group","anonymousId":"a1","groupId":"g1","traits":{"name":"Acme"},"messageId":"m1"},{"type":"identify","userId":"u1","traits":{"email":"a@b.c"}}]}"#,
        )
        .unwrap();
        assert_eq!(r.events[0].group_id.as_deref(), Some("g1"));
        assert_eq!(r.events[0].actor(), "a1");
        assert_eq!(r.events[0].message_id, "m1");
        assert_eq!(r.events[1].properties.as_deref(), Some(r#"{"email":"a@b.c"}"#));
        assert_eq!(r.events[1].timestamp, t("2026-11-23T12:00:00Z"));
    }

    #[test]
    fn naive_times_are_utc() {
        assert_eq!(t("2026-11-23T12:00:00.5"), t("2026-11-23T12:00:00.500Z"));
        assert_eq!(t("2026-11-23T14:00:00+02:00"), t("2026-11-23T12:00:00Z"));
    }

    #[test]
    fn history_records_keep_their_own_time() {
        // Archived by Segment: received 10 s after it was sent, the client clock 60 s fast.
        let r = parse_record(
            r#"{"type":"track","userId":"u1","event":"Ran","timestamp":"2025-06-01T10:01:00Z","sentAt":"2025-06-01T10:01:05Z","receivedAt":"2025-06-01T10:00:15Z","messageId":"m1"}"#,
            t("2026-11-23T12:00:00Z"),
            || "gen".into(),
        )
        .unwrap();
        assert_eq!(r.timestamp, t("2025-06-01T10:00:10Z"));
        assert_eq!(r.received_at, t("2025-06-01T10:00:15Z"));
        // Without receivedAt the client's time stands, sentAt or not.
        let r = parse_record(
            r#"{"type":"page","anonymousId":"a","timestamp":"2025-06-01T10:00:00Z","sentAt":"2026-01-01T00:00:00Z"}"#,
            t("2026-11-23T12:00:00Z"),
            || "gen".into(),
        )
        .unwrap();
        assert_eq!((r.timestamp, r.message_id.as_str()), (t("2025-06-01T10:00:00Z"), "gen"));
        let e =
            parse_record(r#"{"type":"track","userId":"u1","event":"Ran"}"#, t("2026-11-23T12:00:00Z"), || "gen".into())
                .unwrap_err();
        assert_eq!(e.reason, "a call in a history file needs `timestamp`");
        assert!(parse_record(r#"{"type":"track","userId":"u1"#, t("2026-11-23T12:00:00Z"), || "gen".into())
            .unwrap_err()
            .reason
            .starts_with("invalid JSON"));
    }

    #[test]
    fn impossible_times_are_replaced_live_and_refused_in_history() {
        // Year −7973 and +12025 parse as ISO 8601 with an expanded year; 1999 and a week ahead
        // are ordinary dates that cannot be true.
        for when in ["-7973-01-01T00:00:00", "+12025-01-01T00:00:00", "1999-12-31T23:59:59Z", "2026-11-30T12:00:00Z"] {
            let body = format!(r#"{{"batch":[{{"type":"track","userId":"u","event":"a","timestamp":"{when}"}}]}}"#);
            let e = &batch(&body).unwrap().events[0];
            assert!(e.time_replaced, "{when}");
            assert_eq!(e.timestamp, t("2026-11-23T12:00:00Z"), "the arrival time stands in for {when}");
            assert!(e.original_timestamp.is_some(), "the client's own time is kept");
            let line = format!(r#"{{"type":"track","userId":"u","event":"a","timestamp":"{when}"}}"#);
            let refused = parse_record(&line, t("2026-11-23T12:00:00Z"), || "gen".into()).unwrap_err();
            assert!(refused.reason.contains("is impossible"), "{when}: {}", refused.reason);
        }
        let fine = r#"{"batch":[{"type":"track","userId":"u","event":"a","timestamp":"2026-11-24T06:00:00Z"}]}"#;
        assert!(!batch(fine).unwrap().events[0].time_replaced, "within a day ahead is clock skew");
        // A correction past the calendar's end is impossible too, not a panic.
        let far = r#"{"batch":[{"type":"track","userId":"u","event":"a","timestamp":"-200000-01-01T00:00:00","sentAt":"+200000-01-01T00:00:00"}]}"#;
        assert!(batch(far).unwrap().events[0].time_replaced);
    }

    #[test]
    fn ids_and_names_are_bounded_and_plain() {
        let long = "x".repeat(256);
        for (body, reason) in [
            (
                format!(r#"{{"batch":[{{"type":"track","userId":"{long}","event":"a"}}]}}"#),
                "batch[0]: `userId` is longer than 255",
            ),
            (
                format!(r#"{{"batch":[{{"type":"track","userId":"u","event":"{long}"}}]}}"#),
                "batch[0]: `event` is longer than 255",
            ),
            (
                r#"{"batch":[{"type":"group","userId":"u","groupId":"a\u0000b"}]}"#.to_owned(),
                "batch[0]: `groupId` holds the control character U+0000",
            ),
        ] {
            let err = batch(&body).unwrap_err().to_string();
            assert!(err.starts_with(reason), "{err}");
        }
    }
}
