//! What a request says: its query or form parameters read by name, its path ids, its JSON body
//! (with NUL refused) — read alike by the API and the pages.

use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use keepwell_core::Invalid;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A URL path with its `%XX` escapes decoded (invalid UTF-8 replaced).
pub fn percent_decoded(path: &str) -> String {
    String::from_utf8_lossy(&urlencoding::decode_binary(path.as_bytes())).into_owned()
}
/// The JSON path of the first string or key holding NUL, which no text may hold. Walks without
/// recursion; serde_json already bounds nesting at 128 levels.
pub fn nul_path(v: &Value) -> Option<String> {
    let mut stack = vec![(String::from("body"), v)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return Some(path),
            Value::Array(items) => stack.extend(items.iter().enumerate().map(|(i, x)| (format!("{path}[{i}]"), x))),
            Value::Object(map) => {
                for (k, x) in map {
                    if k.contains('\0') {
                        return Some(path);
                    }
                    let at = if path == "body" { k.clone() } else { format!("{path}.{k}") };
                    stack.push((at, x));
                }
            }
            _ => {}
        }
    }
    None
}
/// 422 naming the first field of `v` that holds NUL.
pub fn refuse_nul(v: &Value) -> ApiResult<()> {
    match nul_path(v) {
        Some(field) => Err(ApiError::invalid(&field, "holds the control character U+0000; remove it")),
        None => Ok(()),
    }
}
/// Parses a JSON object body, answering 400 with the position of a syntax error.
pub fn json_object(body: &Bytes) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) if nul_path(&v).is_some() => refuse_nul(&v).map(|_| Map::new()),
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(ApiError::BadRequest(format!(
            "the body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}
/// Query parameters, read by name with errors that name the parameter.
pub struct Params(pub HashMap<String, String>);
impl Params {
    /// A page's query: a form's empty field (an "any" option, a blank search) means "not given".
    pub fn form(q: &HashMap<String, String>) -> Params {
        Params(q.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// A free text: trimmed, empty as absent.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A typed parameter as sent: present but empty (`as_of=`) is an error, not a default.
    fn typed(&self, name: &str, invalid: &mut Invalid) -> Option<String> {
        let v = self.0.get(name)?.trim();
        if v.is_empty() {
            invalid.push(name, "is empty; leave it out for the default");
            return None;
        }
        Some(v.to_owned())
    }

    /// `limit` between 1 and 500, 50 when absent.
    pub fn limit(&self, invalid: &mut Invalid) -> i64 {
        match self.typed("limit", invalid) {
            None => 50,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=500).contains(&n) => n,
                _ => {
                    invalid.push("limit", format!("{l:?} is not a whole number from 1 to 500"));
                    50
                }
            },
        }
    }

    /// `owner`: a team member id, `me` (`me`'s id) or `none` (`Some(None)`: no owner).
    pub fn owner(&self, me: Option<i64>, invalid: &mut Invalid) -> Option<Option<i64>> {
        match self.typed("owner", invalid).as_deref() {
            None => None,
            Some("none") => Some(None),
            Some("me") => Some(me),
            Some(v) => match v.parse() {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    invalid.push("owner", format!("{v:?} is not a team member id, \"me\" or \"none\""));
                    None
                }
            },
        }
    }

    /// One of `options` (word → value), `default` when absent.
    pub fn choice<T: Copy>(&self, name: &str, options: &[(&str, T)], default: T, invalid: &mut Invalid) -> T {
        let Some(v) = self.typed(name, invalid) else { return default };
        if let Some((_, t)) = options.iter().find(|(word, _)| *word == v) {
            return *t;
        }
        let words: Vec<&str> = options.iter().map(|(word, _)| *word).collect();
        let (last, rest) = words.split_last().unwrap_or((&"", &[]));
        let listed = if rest.is_empty() { last.to_string() } else { format!("{} or {last}", rest.join(", ")) };
        invalid.push(name, format!("{v:?}: use {listed}"));
        default
    }

    /// A value parsed by `parse`, whose error is the message.
    pub fn parsed<T>(&self, name: &str, invalid: &mut Invalid, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let v = self.typed(name, invalid)?;
        parse(&v).map_err(|e| invalid.push(name, e)).ok()
    }

    /// A whole number of days from 1 to `max`, `default` when absent.
    pub fn days(&self, name: &str, max: u64, default: u64, invalid: &mut Invalid) -> u64 {
        let Some(v) = self.typed(name, invalid) else { return default };
        v.parse().ok().filter(|d| (1..=max).contains(d)).unwrap_or_else(|| {
            invalid.push(name, format!("{v:?} is not a number of days from 1 to {max}"));
            default
        })
    }

    /// A `YYYY-MM-DD` date.
    pub fn date(&self, name: &str, invalid: &mut Invalid) -> Option<chrono::NaiveDate> {
        self.parsed(name, invalid, keepwell_core::money::date)
    }

    /// `from`..`to` (both included): default the `default_days` to today, at most `max_days`.
    pub fn range(
        &self,
        default_days: u64,
        max_days: u64,
        today: chrono::NaiveDate,
        invalid: &mut Invalid,
    ) -> (chrono::NaiveDate, chrono::NaiveDate) {
        let to = self.date("to", invalid).unwrap_or(today);
        let from = self.date("from", invalid).unwrap_or(to - chrono::Days::new(default_days - 1));
        if invalid.errors.is_empty() && from > to {
            invalid.push("from", format!("{from} is after `to` ({to})"));
        } else if invalid.errors.is_empty() && from + chrono::Days::new(max_days) <= to {
            invalid.push("from", format!("the range is longer than {max_days} days; ask for less at a time"));
        }
        (from, to)
    }

    pub fn id(&self, name: &str, invalid: &mut Invalid) -> Option<i64> {
        self.parsed(name, invalid, |v| v.parse().map_err(|_| format!("{v:?} is not an id")))
    }
}
/// Parses a path id, naming it when it is not a number.
pub fn path_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::NotFound(format!("{raw:?} is not an id")))
}
