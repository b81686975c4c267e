//! Usage that reached no account yet: what waits, linking a waiting groupId to an account, and a
//! replay of the days it touched for those accounts only.

use super::{json_object, Params};
use crate::auth::{Auth, Manager, Viewer};
use crate::error::ApiResult;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use chrono::NaiveDate;
use keepwell_core::Invalid;
use keepwell_store::usage::{Attributed, Unmatched};
use keepwell_store::Page;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// UnmatchedPage: groupIds (and ungrouped users) whose events wait for an account.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UnmatchedPage {
    data: Vec<Unmatched>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/usage/unmatched", tag = "usage",
    description = "Usage events that reached no account, by groupId (or by user, for events without one), most events \
                   first: how many, from how many users, first and last seen, and why they wait. They reach their account \
                   as soon as one holds the groupId as an external id (of kind `segment`, else of any kind when one \
                   account alone holds it), or when linked here.",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = UnmatchedPage)), security(("bearer" = [])))]
pub async fn list(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Unmatched>>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let limit = p.limit(&mut invalid);
    invalid.into_result(())?;
    super::usage::folded(&state).await?;
    Ok(Json(state.store.unmatched(limit, p.text("cursor").as_deref()).await?))
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
    attributed: Attributed,
}

/// A link as given: the groupId and the account it means.
#[derive(Debug)]
pub struct Link {
    pub group_id: String,
    pub account: keepwell_core::contact::AccountRef,
}

/// Reads the links of a body, naming each bad one.
fn links_of(body: &serde_json::Map<String, Value>) -> Result<Vec<Link>, Invalid> {
    let mut invalid = Invalid::default();
    super::input::only(body, &["links"], &mut invalid);
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
        super::input::only(o, &["group_id", "account_id", "account_external_id"], &mut invalid);
        let group = o.get("group_id").and_then(|v| super::input::text(&at("group_id"), v, &mut invalid));
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
pub async fn link_all(state: &AppState, actor: &keepwell_store::Actor, links: &[Link]) -> ApiResult<Attributed> {
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
        done.add(state.store.link_group(actor, &l.group_id, account).await?);
    }
    Ok(done)
}

#[utoipa::path(post, path = "/api/v1/usage/unmatched/links", tag = "usage", request_body = LinksBody,
    description = "Links waiting groupIds to existing accounts (managers): each becomes one of its account's external ids \
                   (kind `segment`, or `segment-2`… when it has one), its waiting events reach the account and are \
                   counted at once. The answer names the accounts and days touched: `POST /api/v1/health/replay` with them \
                   rebuilds those days' scores.",
    responses((status = 200, body = Linked)), security(("bearer" = [])))]
pub async fn link(auth: Auth<Manager>, State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Linked>> {
    let links = links_of(&json_object(&body)?)?;
    super::usage::folded(&state).await?;
    Ok(Json(Linked { attributed: link_all(&state, &auth.actor, &links).await? }))
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

#[utoipa::path(post, path = "/api/v1/health/replay", tag = "health", request_body = ReplayBody,
    description = "Reruns the daily pass from `from` to `to` for these accounts only (managers): their snapshots, segment \
                   membership and rule-made stage changes of those days are rebuilt from the data as it is now; every other \
                   account is left alone. At most 10 000 accounts and 400 days at once.",
    responses((status = 200, body = Replayed)), security(("bearer" = [])))]
pub async fn replay(_auth: Auth<Manager>, State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Replayed>> {
    let r: ReplayBody = super::health::body(&body)?;
    let mut invalid = Invalid::default();
    if r.from > r.to {
        invalid.push("from", format!("{} is after `to` ({})", r.from, r.to));
    } else if (r.to - r.from).num_days() >= 400 {
        invalid.push("from", "at most 400 days at once");
    }
    if r.accounts.is_empty() {
        invalid.push("accounts", "name at least one account");
    }
    keepwell_core::limits::count(&mut invalid, "accounts", r.accounts.len(), 10_000, "accounts");
    invalid.into_result(())?;
    super::usage::folded(&state).await?;
    let mut snapshots = 0;
    let reporting = &state.settings.reporting_currency;
    state
        .store
        .run_days_of(reporting, Some(&r.accounts), r.from, r.to, |_, out| snapshots += out.snapshots.len())
        .await?;
    Ok(Json(Replayed { accounts: r.accounts.len(), days: (r.to - r.from).num_days() + 1, snapshots }))
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
