//! The demo's workspace: a year of calls, meetings, e-mails, notes and QBRs logged by each
//! account's CSM (fewer as an account drifts towards churn, none after it left), and the tasks a
//! team has open — renewals, risks, onboarding steps — some overdue, some snoozed, some done.

use chrono::{DateTime, Days, NaiveDate, Utc};
use keepwell_core::account::AccountInput;
use keepwell_core::billing::PeriodInput;
use keepwell_core::interaction::ImportRow;
use keepwell_core::task::{Draft, TaskInput};
use keepwell_server::cause::Caller;
use keepwell_store::Store;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

const KINDS: &[(&str, u32)] = &[("call", 35), ("email", 25), ("meeting", 20), ("note", 15), ("qbr", 5)];

const SUBJECTS: &[(&str, &[&str])] = &[
    ("call", &["Check-in call", "Renewal check-in", "Call about the reports roll-out", "Support escalation follow-up"]),
    (
        "email",
        &[
            "Sent the onboarding guide",
            "Shared the release notes",
            "Follow-up on the invoice",
            "Intro to the new admin",
        ],
    ),
    ("meeting", &["Onboarding workshop", "Roadmap session", "Training for the new team", "Success plan review"]),
    (
        "note",
        &[
            "Champion is changing roles",
            "Usage dipped after the re-org",
            "Asked for SSO",
            "Happy with the new dashboards",
        ],
    ),
    ("qbr", &["Quarterly business review", "QBR: goals for next quarter"]),
];

const BODIES: &[&str] = &[
    "Went through their goals for the quarter.\n\n- **Adoption:** two more teams in January\n- **Blocker:** SSO rollout",
    "They like the reports; asked for *scheduled exports*. Logged it with product.",
    "Budget is under review until the new fiscal year. Keep an eye on usage.",
    "Walked the admins through seat management. Next step: training for the support team.",
    "Sent the summary and the recording. They will come back with a date for the workshop.",
    "",
];

const TASKS: &[(&str, &str, &str)] = &[
    ("risk", "high", "Find out why usage dropped"),
    ("risk", "urgent", "Call the champion before the budget review"),
    ("renewal", "normal", "Prepare the renewal proposal"),
    ("renewal", "high", "Confirm the renewal date and seats"),
    ("onboarding", "normal", "Schedule the admin training"),
    ("onboarding", "normal", "Check that SSO is set up"),
    ("opportunity", "normal", "Offer the reports add-on"),
    ("opportunity", "low", "Ask for a case study"),
    ("other", "low", "Send the release notes"),
];

fn pick_kind(rng: &mut StdRng) -> &'static str {
    let total: u32 = KINDS.iter().map(|k| k.1).sum();
    let mut n = rng.gen_range(0..total);
    for (k, w) in KINDS {
        if n < *w {
            return k;
        }
        n -= w;
    }
    "call"
}

fn at(day: NaiveDate, rng: &mut StdRng) -> DateTime<Utc> {
    day.and_hms_opt(rng.gen_range(8..18), [0, 15, 30, 45][rng.gen_range(0..4)], 0).unwrap_or_default().and_utc()
}

/// Writes the interactions and tasks; returns how many of each.
pub async fn write(
    store: &Store,
    caller: &Caller,
    seed: u64,
    (inputs, contacts): (&[AccountInput], &HashMap<String, Vec<String>>),
    periods: &[PeriodInput],
    today: NaiveDate,
) -> anyhow::Result<(usize, usize)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7a5c);
    let churns = super::usage::churns(periods);
    let mut since: HashMap<&str, NaiveDate> = HashMap::new();
    for p in periods {
        let (Some(crm), Some(day)) = (p.account_external_id.as_deref(), p.starts_on.as_deref()) else { continue };
        let Ok(day) = day.parse::<NaiveDate>() else { continue };
        since.entry(crm).and_modify(|d| *d = (*d).min(day)).or_insert(day);
    }
    let now = store.clock().now();
    let mut rows = Vec::new();
    let mut tasks = Vec::new();
    for a in inputs {
        let (Some(owner), Some((_, crm))) = (a.owner_email.as_deref(), a.external_ids.first()) else { continue };
        let Some(start) = since.get(crm.as_str()).copied() else { continue };
        let left = churns.get(crm).and_then(|c| c.iter().copied().filter(|d| *d <= today).max());
        let end = left.unwrap_or(today);
        let mut day = start.max(today - Days::new(365)) + Days::new(rng.gen_range(1..20));
        let people = contacts.get(crm).map(Vec::as_slice).unwrap_or_default();
        let mut n = 0;
        while day < end {
            let kind = pick_kind(&mut rng);
            let subjects = SUBJECTS.iter().find(|(k, _)| *k == kind).map_or(&["Check-in"][..], |s| s.1);
            rows.push(ImportRow {
                account_external_id: Some(crm.clone()),
                occurred_at: Some(at(day, &mut rng).to_rfc3339()),
                kind: Some(kind.into()),
                subject: subjects.choose(&mut rng).map(|s| s.to_string()),
                body: BODIES.choose(&mut rng).map(|s| s.to_string()),
                contact_email: people.choose(&mut rng).cloned(),
                user_email: Some(owner.to_owned()),
                external_id: Some(format!("demo-{crm}-{n}")),
            });
            n += 1;
            // Every few weeks; less often in the last months before an account leaves.
            let gap = match left {
                Some(l) if (l - day).num_days() < 90 => rng.gen_range(30..75),
                _ => rng.gen_range(10..45),
            };
            day = day + Days::new(gap);
        }
        if left.is_none() && rng.gen_bool(0.45) {
            let (kind, priority, title) = TASKS[rng.gen_range(0..TASKS.len())];
            let due = (today + Days::new(rng.gen_range(0..35))) - Days::new(10);
            let done = rng.gen_bool(0.25);
            let snoozed = (!done && rng.gen_bool(0.1)).then(|| today + Days::new(rng.gen_range(2..9)));
            tasks.push((crm.clone(), owner.to_owned(), (kind, priority, title), due, done, snoozed));
        }
    }
    // Each CSM logged their own: one import per owner, as that member.
    let mut by_owner: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for r in &rows {
        by_owner.entry(r.user_email.clone().unwrap_or_default()).or_default().push(r.validate(now)?);
    }
    let mut logged = 0;
    for (email, imported) in &by_owner {
        let user = store.user_by_email(email).await?.ok_or_else(|| anyhow::anyhow!("demo member {email}"))?;
        let csm = Caller {
            user_id: Some(user.id),
            role: user.role,
            actor: keepwell_store::Actor { user_id: Some(user.id), label: user.email.clone() },
        };
        keepwell_server::interactions::import(store, &csm, imported, false, |_| {})
            .await
            .map_err(|e| anyhow::anyhow!("demo interactions: {e}"))?;
        logged += imported.len();
    }
    let crms: Vec<&str> = tasks.iter().map(|t| t.0.as_str()).collect();
    let ids = store.accounts_by_external_values(&crms).await?;
    let mut owners = HashMap::new();
    for t in &tasks {
        if !owners.contains_key(&t.1) {
            let id = store.user_by_email(&t.1).await?.map(|u| u.id);
            owners.insert(t.1.clone(), id);
        }
    }
    let written = tasks.len();
    let mut inputs = Vec::with_capacity(written);
    for (crm, owner, (kind, priority, title), due, done, snoozed) in &tasks {
        let draft = Draft {
            title: Some((*title).into()),
            kind: Some((*kind).into()),
            priority: Some((*priority).into()),
            due_on: Some(*due),
            snoozed_until: *snoozed,
            owner_id: owners.get(owner).copied().flatten(),
            account_id: ids.get(crm).and_then(|v| v.first()).copied(),
            ..Default::default()
        };
        inputs.push((draft.validate(today)?, *done));
    }
    open_tasks(store, caller, &inputs).await?;
    Ok((logged, written))
}

/// Opens `tasks` in one write, completing those marked done.
pub async fn open_tasks(store: &Store, caller: &Caller, tasks: &[(TaskInput, bool)]) -> anyhow::Result<()> {
    caller
        .decide(store, async |w| {
            for (input, done) in tasks {
                let (task, _) = keepwell_store::tasks::open(w, input, None).await?;
                if *done {
                    let closed = TaskInput { status: keepwell_core::task::Status::Done, ..input.clone() };
                    keepwell_store::tasks::update(w, &task, &closed).await?;
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("tasks: {e:?}"))
}
