//! The waiting use cases, which the API and the pages both call.

use crate::error::ApiResult;
use crate::state::AppState;
use chrono::NaiveDate;
use keepwell_core::Invalid;
use keepwell_store::usage::{Attributed, Unmatched};
use serde::Serialize;
use serde_json::Value;

/// UnmatchedPage: groupIds (and ungrouped users) whose events wait for an account.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UnmatchedPage {
    data: Vec<Unmatched>,
    next_cursor: Option<String>,
}

/// `{"links": [{"group_id": "0015g00000ABC", "account_external_id": "crm-42"}, …]}` (or
/// `account_id`).
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LinksBody {
    #[schema(max_items = 1000)]
    links: Vec<LinkBody>,
}

#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LinkBody {
    #[schema(max_length = 255)]
    group_id: String,
    account_id: Option<i64>,
    /// Any of the account's external ids.
    #[schema(max_length = 255)]
    account_external_id: Option<String>,
}

/// What linking did: the events that reached their accounts, and the days a replay redoes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Linked {
    #[serde(flatten)]
    pub attributed: Attributed,
}

/// A link as given: the groupId and the account it means.
#[derive(Debug)]
pub struct Link {
    pub group_id: String,
    pub account: keepwell_core::contact::AccountRef,
}

/// Reads the links of a body, naming each bad one.
pub(crate) fn links_of(body: &serde_json::Map<String, Value>) -> Result<Vec<Link>, Invalid> {
    let mut invalid = Invalid::default();
    crate::input::only(body, &["links"], &mut invalid);
    let Some(Value::Array(items)) = body.get("links") else {
        invalid.push("links", "must be a list of {group_id, account_id or account_external_id}");
        return Err(invalid);
    };
    keepwell_core::limits::count(&mut invalid, "links", items.len(), 1000, "links");
    let mut links = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("links[{i}].{f}");
        let Value::Object(o) = item else {
            invalid.push(format!("links[{i}]"), "must be an object");
            continue;
        };
        crate::input::only(o, &["group_id", "account_id", "account_external_id"], &mut invalid);
        let group = o.get("group_id").and_then(|v| crate::input::text(&at("group_id"), v, &mut invalid));
        let account = match (o.get("account_id"), o.get("account_external_id")) {
            (Some(Value::Number(n)), None) if n.is_i64() => n.as_i64().map(keepwell_core::contact::AccountRef::Id),
            (None, Some(Value::String(s))) if !s.trim().is_empty() => {
                Some(keepwell_core::contact::AccountRef::ExternalId(s.trim().to_owned()))
            }
            _ => {
                invalid
                    .push(at("account_id"), "give the account by `account_id` or `account_external_id` (one of them)");
                None
            }
        };
        match (group.filter(|g| !g.trim().is_empty()), account) {
            (Some(group_id), Some(account)) => links.push(Link { group_id, account }),
            (None, _) => invalid.push(at("group_id"), "is required"),
            _ => {}
        }
    }
    invalid.into_result(links)
}

/// Links each groupId to its account: adds it as one of the account's external ids, moves its
/// waiting events and counts them; all links are checked before any is made.
pub async fn link_all(state: &AppState, caller: &crate::cause::Caller, links: &[Link]) -> ApiResult<Attributed> {
    let mut accounts = Vec::new();
    let mut invalid = Invalid::default();
    for (i, l) in links.iter().enumerate() {
        let found = match &l.account {
            keepwell_core::contact::AccountRef::Id(id) => state.store.account(*id).await?.map(|a| a.id),
            keepwell_core::contact::AccountRef::ExternalId(v) => {
                state.store.account_by_external_id(v).await?.map(|a| a.id)
            }
        };
        match found {
            Some(a) => accounts.push(a),
            None => invalid.push(format!("links[{i}].account"), "no such account"),
        }
    }
    invalid.into_result(())?;
    let mut done = Attributed::default();
    for (l, account) in links.iter().zip(accounts) {
        let group = caller
            .decide(&state.store, async |w| keepwell_store::usage::link_group(w, &l.group_id, account).await)
            .await?;
        done.add(state.store.attribute_waiting(&[group]).await?);
    }
    Ok(done)
}

/// `{"accounts": [1, 2], "from": "2026-01-01", "to": "2026-06-30"}`
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    #[schema(max_items = 10000)]
    pub accounts: Vec<i64>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Replayed {
    pub accounts: usize,
    pub days: i64,
    pub snapshots: usize,
}

/// A two-column CSV (`group_id,account_external_id`, header optional) as links, naming the line
/// of the first bad one.
pub fn links_from_csv(text: &str) -> Result<Vec<Link>, String> {
    let mut links = Vec::new();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {}: {e}", n + 1))?;
        let cells: Vec<&str> = record.iter().map(str::trim).collect();
        if cells.iter().all(|c| c.is_empty()) || (n == 0 && cells.first() == Some(&"group_id")) {
            continue;
        }
        match cells.as_slice() {
            [group, account] if !group.is_empty() && !account.is_empty() => links.push(Link {
                group_id: (*group).to_owned(),
                account: keepwell_core::contact::AccountRef::ExternalId((*account).to_owned()),
            }),
            _ => return Err(format!("line {}: expected group_id,account_external_id", n + 1)),
        }
        if links.len() > 1000 {
            return Err("at most 1 000 links at once".into());
        }
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_of_links_names_its_bad_line() {
        let links = links_from_csv("group_id,account_external_id\n0015g00000ABC,crm-1\n\ng-2, cus_9\n").unwrap();
        assert_eq!(links.iter().map(|l| l.group_id.as_str()).collect::<Vec<_>>(), ["0015g00000ABC", "g-2"]);
        assert_eq!(links_from_csv("a,b\nonly-one\n").unwrap_err(), "line 2: expected group_id,account_external_id");
    }
}
