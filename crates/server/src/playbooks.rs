//! The playbooks use cases, which the API, the pages and the CLI call: save, switch on (enrolling
//! the accounts that already match, or only new occurrences) and off (keeping or closing their
//! open tasks), preview what switching on would do now, and simulate past days.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::refused::Outcome;
use chrono::{Days, NaiveDate};
use keepwell_core::playbook::{Act, ActionDef, Playbook, PlaybookDef, Route, Taken};
use keepwell_core::Invalid;
use keepwell_store::health::Change;
use keepwell_store::playbooks::StoredPlaybook;
use keepwell_store::Store;
use serde::{Deserialize, Serialize};

/// The most days one simulation covers.
pub const MAX_SIMULATED_DAYS: i64 = 366;

/// Saves a playbook by key: a new one is created switched off; a change to a disabled one is its
/// next version; a change to an enabled one is its draft until published.
pub async fn save(store: &Store, caller: &Caller, def: &PlaybookDef) -> Outcome<Change> {
    caller.decide(store, async |w| keepwell_store::playbooks::save(w, def).await).await
}

/// Publishes the playbook's draft as its next version.
pub async fn publish(store: &Store, caller: &Caller, key: &str) -> Outcome<StoredPlaybook> {
    caller.decide(store, async |w| keepwell_store::playbooks::publish(w, key).await).await
}

/// Drops the playbook's draft.
pub async fn discard_draft(store: &Store, caller: &Caller, key: &str) -> Outcome<StoredPlaybook> {
    caller.decide(store, async |w| keepwell_store::playbooks::discard_draft(w, key).await).await
}

/// Accounts a playbook is started for by hand.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Start {
    #[schema(min_items = 1, max_items = 1000)]
    pub account_ids: Vec<i64>,
}

/// What a manual start did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Started {
    pub day: NaiveDate,
    /// The accounts it acted for now.
    pub started: Vec<i64>,
    /// Those it had already acted for today (a start or a firing of the same day): nothing again.
    pub already: Vec<i64>,
}

/// Starts playbook `key` (its version in force, enabled or not) by hand for some accounts as of
/// `today`: its actions, once per account and day.
pub async fn start(
    store: &Store,
    caller: &Caller,
    reporting: &str,
    key: &str,
    s: &Start,
    today: NaiveDate,
) -> ApiResult<Started> {
    let mut invalid = Invalid::default();
    keepwell_core::limits::count(
        &mut invalid,
        "account_ids",
        s.account_ids.len(),
        keepwell_store::playbooks::STARTED,
        "accounts",
    );
    if s.account_ids.is_empty() {
        invalid.push("account_ids", "name at least one account");
    }
    invalid.into_result(()).map_err(ApiError::Invalid)?;
    let p = stored(store, key).await?;
    let playbook = compiled(&p)?;
    // A start ignores the playbook's condition; its branches and a lifecycle rule read the day.
    let judged = store.judge(reporting, &playbook, (&s.account_ids, today), false).await?;
    let started = caller
        .decide(store, async |w| keepwell_store::playbooks::start(w, &playbook, &s.account_ids, today, &judged).await)
        .await?;
    let mut already: Vec<i64> = s.account_ids.iter().copied().filter(|a| !started.contains(a)).collect();
    already.sort_unstable();
    already.dedup();
    Ok(Started { day: today, started, already })
}

pub(crate) async fn stored(store: &Store, key: &str) -> ApiResult<StoredPlaybook> {
    store.playbook(key).await?.ok_or_else(|| ApiError::NotFound(format!("no playbook {key:?}")))
}

fn compiled(p: &StoredPlaybook) -> ApiResult<Playbook> {
    if let Some(problem) = &p.problem {
        return Err(ApiError::Invalid(Invalid::field("definition", format!("the playbook does not check: {problem}"))));
    }
    Playbook::compile(p.id, p.version, p.definition.clone())
        .map_err(|e| ApiError::Invalid(Invalid::field("definition", e)))
}

/// A change of `enabled`, as the API's PATCH states it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    pub enabled: bool,
    /// When enabling: `existing` (accounts that already match are enrolled now, the default) or
    /// `new` (only occurrences that begin from now on count).
    #[serde(default)]
    pub enrol: Option<String>,
    /// When disabling: `keep` (the default) or `close` its open tasks.
    #[serde(default)]
    pub open_tasks: Option<String>,
}

impl Switch {
    /// The choice it records, checked.
    fn choice(&self) -> Result<&str, Invalid> {
        let (field, given, allowed) = if self.enabled {
            ("enrol", self.enrol.as_deref().unwrap_or("existing"), ["existing", "new"])
        } else {
            ("open_tasks", self.open_tasks.as_deref().unwrap_or("keep"), ["keep", "close"])
        };
        let other = if self.enabled { ("open_tasks", &self.open_tasks) } else { ("enrol", &self.enrol) };
        if other.1.is_some() {
            return Err(Invalid::field(
                other.0,
                format!("only when {}", if self.enabled { "disabling" } else { "enabling" }),
            ));
        }
        allowed
            .into_iter()
            .find(|a| *a == given)
            .ok_or_else(|| Invalid::field(field, format!("{given:?} is not one of {}", allowed.join(", "))))
    }
}

/// Switches a playbook on or off as of `today`. Switching on steps its trigger over the days
/// before today (so a run of days already under way counts) and does what it finds for today;
/// switching on what is on, or off what is off, changes nothing.
pub async fn switch(
    store: &Store,
    caller: &Caller,
    reporting: &str,
    key: &str,
    s: &Switch,
    today: NaiveDate,
) -> ApiResult<StoredPlaybook> {
    let choice = s.choice().map_err(ApiError::Invalid)?;
    let p = stored(store, key).await?;
    if p.enabled == s.enabled {
        return Ok(p);
    }
    if !s.enabled {
        return caller
            .decide(store, async |w| keepwell_store::playbooks::switch(w, key, false, choice, &[]).await)
            .await
            .map_err(Into::into);
    }
    let playbook = compiled(&p)?;
    let simulated = store.simulate_playbook(reporting, playbook.clone(), (today, today), choice == "existing").await?;
    Ok(caller.decide(store, async |w| store.enable_playbook(w, &playbook, choice, today, &simulated).await).await?)
}

/// What switching a playbook on today would do, both ways.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub day: NaiveDate,
    /// Accounts it would act for today when the accounts that already match are enrolled.
    pub existing: usize,
    /// … when only occurrences that begin from now on count.
    pub new: usize,
    /// Tasks among those actions (with `existing`): "will open 1 240 tasks".
    pub tasks: usize,
}

pub async fn preview(store: &Store, reporting: &str, key: &str, today: NaiveDate) -> ApiResult<Preview> {
    let p = stored(store, key).await?;
    let playbook = compiled(&p)?;
    // One look-back answers both: enrolling only new occurrences leaves out today's acts for the
    // accounts whose run had already fired in it.
    let sim = store.simulate_playbook(reporting, playbook.clone(), (today, today), true).await?;
    let (mut existing, mut new, mut tasks) = (0, 0, 0);
    for (_, account, act) in &sim.acts {
        let Act::Fire { route, .. } = act else { continue };
        existing += 1;
        new += usize::from(!sim.already.contains(account));
        tasks += route
            .steps
            .iter()
            .filter(|t| matches!(t, Taken::Do(at) if matches!(playbook.action(*at), Some(ActionDef::Task { .. }))))
            .count();
    }
    Ok(Preview { day: today, existing, new, tasks })
}

/// One thing a simulated playbook would have done.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SimulatedAct {
    pub day: NaiveDate,
    pub account_id: i64,
    pub account_name: String,
    /// `fire` (its first steps), `resume` (a run going on after a wait) or `close` (its open
    /// tasks).
    pub act: String,
    /// The first day of the run of days its trigger held.
    pub occurrence: Option<NaiveDate>,
    /// What made it fire.
    #[schema(value_type = Option<Object>)]
    pub values: Option<serde_json::Value>,
    /// The steps it would take that day, in words.
    pub actions: Vec<String>,
    /// What it would do that day, step by step (the pages say it in the member's language).
    #[serde(skip)]
    pub route: Route,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Simulation {
    /// The record it was kept as (apart from what playbooks did).
    pub id: i64,
    pub playbook: String,
    /// The version simulated (a draft's: the version it would become).
    pub version: i64,
    /// Whether the draft was simulated rather than the version in force.
    pub draft: bool,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Whether accounts that already matched on `from` were enrolled then.
    pub enrol: String,
    /// How many acts it found; `data` holds the first 10 000 of them, oldest first.
    pub total: usize,
    /// How many of them fire (the others close tasks), and for how many accounts in all.
    pub fires: usize,
    pub accounts: usize,
    pub data: Vec<SimulatedAct>,
}

/// What playbook `key` (its version in force, enabled or not; or, with `draft`, its draft) would
/// have done each day from
/// `from` to `to`, had it been switched on at the start of `from`. Acts on nothing: what it found
/// is recorded as a simulation, apart from what playbooks did.
pub async fn simulate(
    store: &Store,
    caller: &Caller,
    reporting: &str,
    (key, draft): (&str, bool),
    (from, to): (NaiveDate, NaiveDate),
    enrol: &str,
) -> ApiResult<Simulation> {
    let mut invalid = Invalid::default();
    if to < from {
        invalid.push("to", "is before from");
    } else if (to - from).num_days() >= MAX_SIMULATED_DAYS {
        invalid.push("from", format!("a simulation covers at most {MAX_SIMULATED_DAYS} days"));
    }
    if !matches!(enrol, "existing" | "new") {
        invalid.push("enrol", format!("{enrol:?} is not one of existing, new"));
    }
    invalid.into_result(()).map_err(ApiError::Invalid)?;
    let p = stored(store, key).await?;
    let playbook = match (&p.draft, draft) {
        (_, false) => compiled(&p)?,
        (Some(d), true) => Playbook::compile(p.id, p.version + 1, d.clone())
            .map_err(|e| ApiError::Invalid(Invalid::field("draft", e)))?,
        (None, true) => return Err(ApiError::Invalid(Invalid::field("draft", "the playbook has no draft"))),
    };
    let sim = store.simulate_playbook(reporting, playbook.clone(), (from, to), enrol == "existing").await?;
    // The first of them are answered and kept; `total` counts them all.
    let total = sim.acts.len();
    let fires = sim.acts.iter().filter(|(_, _, a)| matches!(a, Act::Fire { .. })).count();
    let accounts = sim.acts.iter().map(|(_, a, _)| *a).collect::<std::collections::HashSet<_>>().len();
    let kept = keepwell_store::playbooks::SIMULATION_KEPT;
    let names = store.account_names(&sim.acts.iter().take(kept).map(|(_, a, _)| *a).collect::<Vec<_>>()).await?;
    let data = sim
        .acts
        .into_iter()
        .take(kept)
        .map(|(day, account, act)| {
            let account_name = names.get(&account).cloned().unwrap_or_default();
            let (act, occurrence, values, route) = match act {
                Act::Fire { occurrence, values, route } => ("fire", Some(occurrence), Some(values), route),
                Act::Resume { occurrence, route, .. } => ("resume", Some(occurrence), None, route),
                Act::Close => ("close", None, None, Route::default()),
            };
            let actions = match act {
                "close" => vec!["close its open tasks".into()],
                _ => route_words(&playbook, &route, day),
            };
            SimulatedAct { day, account_id: account, account_name, act: act.into(), occurrence, values, actions, route }
        })
        .collect::<Vec<SimulatedAct>>();
    let json: Vec<serde_json::Value> = data.iter().map(|a| serde_json::to_value(a).unwrap_or_default()).collect();
    let id = caller
        .decide(store, async |w| {
            let range = (from, to);
            keepwell_store::playbooks::record_simulation(w, &p.key, playbook.version, range, enrol, (&json, total))
                .await
        })
        .await?;
    Ok(Simulation {
        id,
        playbook: p.key,
        version: playbook.version,
        draft,
        from,
        to,
        enrol: enrol.into(),
        total,
        fires,
        accounts,
        data,
    })
}

/// What a route does on `day`, step by step, in words.
fn route_words(p: &Playbook, route: &Route, day: NaiveDate) -> Vec<String> {
    let mut words: Vec<String> = route
        .steps
        .iter()
        .map(|t| match *t {
            Taken::Do(at) => p.action(at).map(|a| describe(a, day)).unwrap_or_default(),
            Taken::Branch(at, holds) => {
                let condition = p.branch_text(at);
                format!(
                    "{condition:?} {}",
                    if holds { "holds: its then steps" } else { "does not hold: its otherwise steps" }
                )
            }
        })
        .collect();
    if let Some(w) = route.wait {
        words.push(format!("wait until {}", day + Days::new(u64::from(w.days))));
    }
    words
}

/// An action in words, as of the day it would be taken.
fn describe(a: &ActionDef, day: NaiveDate) -> String {
    match a {
        ActionDef::Task { title, task_kind, due_days, .. } => match due_days {
            Some(d) => format!("{task_kind} task {title:?} for the owner, due {}", day + Days::new(u64::from(*d))),
            None => format!("{task_kind} task {title:?} for the owner"),
        },
        ActionDef::Tag { tag } => format!("tag {tag:?}"),
        ActionDef::Untag { tag } => format!("remove tag {tag:?}"),
        ActionDef::Notify { message, email: false } => format!("tell the owner {message:?}"),
        ActionDef::Notify { message, email: true } => format!("tell the owner {message:?} in the app and by e-mail"),
        ActionDef::Assign { member, members, rules } => match (members.is_empty(), rules.is_empty()) {
            (true, true) => format!("make {member} the owner"),
            (false, _) => format!("make the next of {} the owner, in turn", members.join(", ")),
            (true, false) => {
                let each: Vec<String> = rules.iter().map(|r| format!("{} if {:?}", r.member, r.filter)).collect();
                format!("make the owner the first that holds of: {}", each.join("; "))
            }
        },
        ActionDef::Stage { stage } => format!("move to stage {stage} (unless a lifecycle rule holds the account)"),
        ActionDef::Webhook { url, .. } => format!("call the webhook {}", keepwell_core::webhook::origin_only(url)),
        ActionDef::Start { playbook } => format!("start playbook {playbook:?}"),
        ActionDef::Email { to, contact_role, texts } => {
            let subject =
                keepwell_core::playbook::EmailText::pick(texts, None).map(|t| t.subject.as_str()).unwrap_or("");
            match (to.as_str(), contact_role) {
                ("contacts", Some(role)) => format!("e-mail the {role} contacts {subject:?}"),
                ("contacts", None) => format!("e-mail the contacts {subject:?}"),
                _ => format!("e-mail the owner {subject:?}"),
            }
        }
        ActionDef::Wait { days } => format!("wait {days} days"),
        ActionDef::Branch { condition, .. } => format!("branch on {condition:?}"),
    }
}

/// Why playbook `key` did or did not fire for `account` on `day`: the first check that failed.
pub async fn why(
    store: &Store,
    reporting: &str,
    key: &str,
    account: i64,
    day: NaiveDate,
) -> ApiResult<keepwell_core::playbook::Why> {
    let p = stored(store, key).await?;
    let playbook = compiled(&p)?;
    store
        .explain_playbook(reporting, playbook, account, day)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account {account}")))
}
