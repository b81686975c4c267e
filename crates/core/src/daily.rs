//! The daily pass over every account, pure: lifecycle rules move stages, segments gain and lose
//! members, and each account is scored with its scorecard. The store loads the facts and writes
//! what this returns; `tick`, `replay` and the backtest all run it.

use crate::definitions::{choose, Scorecard};
use crate::expr::Expr;
use crate::facts::{AccountDay, Context, Facts, Waiting};
use crate::health::{Band, Reading};
use crate::measure::Source;
use crate::playbook::{Act, Playbook, Scored, Seen};
use rust_decimal::Decimal;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Segment {
    pub id: i64,
    pub key: String,
    pub filter: Expr,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub key: String,
    pub stage: String,
    pub condition: Expr,
}

/// Everything the pass applies: rules by priority, segments, scorecards by priority.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub rules: Vec<Rule>,
    pub segments: Vec<Segment>,
    pub scorecards: Vec<Scorecard>,
    /// The playbooks the pass acts on (the enabled ones, for a pass that acts; the one being
    /// simulated; none for a replay, which never acts).
    pub playbooks: Vec<Playbook>,
    /// Stored definitions left out because they no longer check.
    pub skipped: Vec<Skipped>,
}

/// A stored definition the pass leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `segment`, `lifecycle_rule` or `scorecard`.
    pub kind: &'static str,
    pub key: String,
    pub problem: String,
}

/// What the loader must read for a plan or an expression.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Whether any usage source is read (usage bits).
    pub usage: bool,
    /// The longest look back of any usage source, in days.
    pub lookback_days: i64,
    /// Usage names whose daily counts some source reads.
    pub counted: BTreeSet<String>,
    /// Every account's usage events per day, all names (usage trends).
    pub totals: bool,
    /// Each account's last day of usage on a past day (days since activity).
    pub last_active: bool,
    /// Subscriptions (MRR, seats, plans, tenure, renewal).
    pub billing: bool,
    pub invoices: bool,
    pub sentiments: bool,
    /// Interactions' days (days since interaction).
    pub interactions: bool,
    /// The types of the Stripe events applied to accounts that some source counts.
    pub stripe: BTreeSet<String>,
    /// Tags and custom attributes.
    pub profile: bool,
    /// The previous day's score (`health`, `band`) and overrides.
    pub health: bool,
}

/// Every field and source an expression reads.
fn walk(e: &Expr, fields: &mut BTreeSet<String>, sources: &mut Vec<Source>) {
    use crate::expr::Operand;
    let mut operand = |o: &Operand| match o {
        Operand::Field(f) => {
            fields.insert(f.clone());
        }
        Operand::Call(name, args) => sources.extend(Source::from_call(name, args)),
        _ => {}
    };
    match e {
        Expr::Or(terms) | Expr::And(terms) => {
            for t in terms {
                walk(t, fields, sources);
            }
        }
        Expr::Not(a) => walk(a, fields, sources),
        Expr::Compare(a, _, b) | Expr::In(a, b) | Expr::Contains(a, b) => {
            operand(a);
            operand(b);
        }
        Expr::Truthy(a) => operand(a),
    }
}

impl Plan {
    /// The key of the first lifecycle rule that holds the account that day, if any: where a rule
    /// applies, it decides the stage.
    pub fn ruling(&self, env: &AccountDay) -> Option<&str> {
        self.rules.iter().find(|r| r.condition.eval(env)).map(|r| r.key.as_str())
    }

    /// Whether the segment `key` holds an account, given which of the plan's segments do (`inside`).
    pub fn in_segment(&self, inside: &[bool], key: &str) -> bool {
        self.segments.iter().zip(inside).any(|(s, is)| *is && s.key == key)
    }

    pub fn needs(&self) -> Needs {
        let mut exprs: Vec<&Expr> = self.rules.iter().map(|r| &r.condition).collect();
        exprs.extend(self.segments.iter().map(|s| &s.filter));
        let mut sources: Vec<Source> = Vec::new();
        for c in &self.scorecards {
            sources.extend(c.sources().iter().cloned());
            exprs.extend(c.conditions());
        }
        for p in &self.playbooks {
            exprs.extend(p.exprs());
        }
        let mut needs = needs_of(&exprs, sources);
        if !self.scorecards.is_empty() {
            // The onboarding scorecard goes by tenure; scores follow overrides.
            needs.billing = true;
            needs.health = true;
        }
        needs
    }
}

/// What the loader must read to evaluate `exprs` and `sources`.
pub fn needs_of(exprs: &[&Expr], mut sources: Vec<Source>) -> Needs {
    let mut fields = BTreeSet::new();
    for e in exprs {
        walk(e, &mut fields, &mut sources);
    }
    let mut needs = Needs::default();
    for f in &fields {
        match f.as_str() {
            "mrr" | "arr" | "tenure_days" | "days_to_renewal" | "days_to_churn" => needs.billing = true,
            "health" | "band" => needs.health = true,
            "tags" => needs.profile = true,
            f if f.starts_with("attribute.") => needs.profile = true,
            _ => {}
        }
    }
    for s in &sources {
        let days = match s {
            Source::ActiveUsers { days } | Source::Events { days, .. } => i64::from(*days),
            Source::EventTrend { days, .. } | Source::UsersTrend { days } => 2 * i64::from(*days),
            Source::UsersRetained { days, before } => i64::from(*days) + i64::from(*before),
            Source::LicenseUtilization { days } => {
                needs.billing = true;
                i64::from(*days)
            }
            Source::FeatureAdoption => {
                needs.billing = true;
                30
            }
            Source::UsageTrend { days } => {
                needs.totals = true;
                2 * i64::from(*days)
            }
            Source::DaysSinceActivity => {
                needs.last_active = true;
                1
            }
            Source::Mrr
            | Source::MrrChange { .. }
            | Source::TenureDays
            | Source::DaysToRenewal
            | Source::DowngradedWithin { .. } => {
                needs.billing = true;
                continue;
            }
            Source::DaysOverdue => {
                needs.invoices = true;
                continue;
            }
            Source::Sentiment => {
                needs.sentiments = true;
                continue;
            }
            Source::StripeEvents { event, days } => {
                needs.stripe.insert(event.clone());
                needs.lookback_days = needs.lookback_days.max(i64::from(*days));
                continue;
            }
            Source::Attribute { .. } => {
                needs.profile = true;
                continue;
            }
            Source::DaysSinceInteraction => {
                // Never contacted, it counts from the first subscription.
                needs.interactions = true;
                needs.billing = true;
                continue;
            }
        };
        needs.usage = true;
        needs.lookback_days = needs.lookback_days.max(days);
        if let Source::Events { event, .. } | Source::EventTrend { event, .. } = s {
            needs.counted.insert(event.clone());
        }
    }
    needs
}

/// Segment membership carried from one day to the next: segment id → member accounts.
pub type Members = HashMap<i64, HashSet<i64>>;

/// One account's snapshot of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub account: i64,
    /// Index into the plan's scorecards.
    pub scorecard: usize,
    pub score: Option<Decimal>,
    pub band: Option<Band>,
    /// The score in force: an unexpired override's, else `score`.
    pub effective: Option<Decimal>,
    pub effective_band: Option<Band>,
    /// The weight of measures with data over the weight that applies, in percent.
    pub coverage: Option<Decimal>,
    /// A person's override sets `effective`.
    pub overridden: bool,
    pub readings: Vec<Reading>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMove {
    pub account: i64,
    pub from: String,
    pub to: String,
    pub rule: String,
}

/// What one day's pass decided.
#[derive(Debug, Clone, Default)]
pub struct Day {
    pub snapshots: Vec<Snapshot>,
    /// (segment id, account id, entered)
    pub membership: Vec<(i64, i64, bool)>,
    pub stages: Vec<StageMove>,
    /// What the playbooks do, in the plan's playbook order within each account.
    pub acts: Vec<PlaybookAct>,
    /// Every enrolment that changed: (playbook id, account, where it stands now).
    pub enrolments: Vec<(i64, i64, crate::facts::Enrolment)>,
}

/// A playbook's act for an account on the day.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaybookAct {
    /// Index into the plan's playbooks.
    pub playbook: usize,
    pub account: i64,
    pub act: Act,
}

/// One account's part of a day: its stage move, which segments hold it, its snapshot, what its
/// playbooks do and which enrolments changed.
struct AccountOutcome {
    stage: Option<StageMove>,
    inside: Vec<bool>,
    snapshot: Option<Snapshot>,
    acts: Vec<PlaybookAct>,
    enrolments: Vec<(i64, i64, crate::facts::Enrolment)>,
}

/// Steps every playbook of the plan for one account, after it was scored (`inside`: which of the
/// plan's segments hold it that day).
fn step_playbooks(
    plan: &Plan,
    ctx: Context,
    facts: &mut Facts,
    (card, snapshot): (Option<&Scorecard>, Option<&Snapshot>),
    (inside, before): (&[bool], &Members),
) -> (Vec<PlaybookAct>, Vec<(i64, i64, crate::facts::Enrolment)>) {
    let (mut acts, mut changed) = (Vec::new(), Vec::new());
    if plan.playbooks.is_empty() {
        return (acts, changed);
    }
    let mut enrolments = std::mem::take(&mut facts.enrolments);
    let mut waiting = std::mem::take(&mut facts.waiting);
    {
        let env = AccountDay::new(facts, ctx);
        let scored = card.zip(snapshot).map(|(card, s)| Scored {
            measures: card.measures(),
            bands: card.bands,
            readings: &s.readings,
            score: s.effective,
            band: s.effective_band,
        });
        let in_segment = |key: &str| plan.in_segment(inside, key);
        let id = facts.id;
        let was_in_segment = |key: &str| {
            plan.segments.iter().any(|s| s.key == key && before.get(&s.id).is_some_and(|m| m.contains(&id)))
        };
        let seen = Seen { scored, in_segment: &in_segment, was_in_segment: &was_in_segment };
        // What a route does that day, with the lifecycle rule holding the account for a playbook
        // that sets the stage; a wait it reaches is carried on, and a playbook it starts begins
        // the same day (a run of it waiting at its first step).
        let go = |p: &Playbook, occurrence, from, waiting: &mut Vec<Waiting>| {
            let mut route = p.route(from, Some(&env));
            if p.sets_stage() {
                route.rule = plan.ruling(&env).map(str::to_owned);
            }
            if let Some(w) = route.wait {
                let on = ctx.day + chrono::Days::new(u64::from(w.days));
                waiting.push(Waiting { playbook: p.id, version: p.version, occurrence, next: w.next, on });
            }
            for key in route.steps.iter().filter_map(|t| p.started(*t)) {
                if let Some(t) = plan.playbooks.iter().find(|t| t.def.key == key && !t.resume_only) {
                    waiting.push(Waiting {
                        playbook: t.id,
                        version: t.version,
                        occurrence: ctx.day,
                        next: 0,
                        on: ctx.day,
                    });
                }
            }
            route
        };
        // Runs that waited until today go on, each at its own version; says whether any did.
        let resume_due = |waiting: &mut Vec<Waiting>, acts: &mut Vec<PlaybookAct>| {
            let mut went_on = false;
            for w in std::mem::take(waiting) {
                let found = plan.playbooks.iter().position(|p| p.id == w.playbook && p.version == w.version);
                match found {
                    Some(i) if w.on <= ctx.day => {
                        let route = go(&plan.playbooks[i], w.occurrence, w.next, waiting);
                        let act = Act::Resume { occurrence: w.occurrence, from: w.next, route };
                        acts.push(PlaybookAct { playbook: i, account: facts.id, act });
                        went_on = true;
                    }
                    _ => waiting.push(w),
                }
            }
            went_on
        };
        resume_due(&mut waiting, &mut acts);
        for (i, p) in plan.playbooks.iter().enumerate().filter(|(_, p)| !p.resume_only) {
            // No entry is where nothing stands (the store keeps no row of it either): most
            // accounts, for most playbooks, so they cost no entry day after day.
            let before = enrolments.get(&p.id).copied().unwrap_or_default();
            let mut e = before;
            if let Some(mut act) = p.step(&mut e, ctx.day, p.observe(&env, seen), || p.condition_holds(&env)) {
                if let Act::Fire { values, route, occurrence } = &mut act {
                    *route = go(p, *occurrence, 0, &mut waiting);
                    if let (Some(rule), Some(map)) = (&route.rule, values.as_object_mut()) {
                        map.insert("lifecycle_rule".into(), rule.clone().into());
                    }
                }
                acts.push(PlaybookAct { playbook: i, account: facts.id, act });
            }
            if e != before {
                changed.push((p.id, facts.id, e));
                match e == crate::facts::Enrolment::default() {
                    true => enrolments.remove(&p.id),
                    false => enrolments.insert(p.id, e),
                };
            }
        }
        // The playbooks those started, and the ones they start in turn: a chain is as long as
        // there are playbooks at most, since playbooks that would start themselves are refused.
        for _ in 0..plan.playbooks.len() {
            if !resume_due(&mut waiting, &mut acts) {
                break;
            }
        }
    }
    facts.waiting = waiting;
    facts.enrolments = enrolments;
    (acts, changed)
}

fn account_day(plan: &Plan, ctx: Context, facts: &mut Facts, before: &Members) -> AccountOutcome {
    let moved = {
        let env = AccountDay::new(facts, ctx);
        plan.rules.iter().find(|r| r.condition.eval(&env)).filter(|r| r.stage != facts.stage).cloned()
    };
    let stage = moved.map(|rule| StageMove {
        account: facts.id,
        from: std::mem::replace(&mut facts.stage, rule.stage.clone()),
        to: rule.stage,
        rule: rule.key,
    });
    let env = AccountDay::new(facts, ctx);
    let inside: Vec<bool> = plan.segments.iter().map(|s| s.filter.eval(&env)).collect();
    let in_segment = |key: &str| plan.in_segment(&inside, key);
    let Some(card) = choose(&plan.scorecards, env.contract().tenure_days, in_segment) else {
        let (acts, enrolments) = step_playbooks(plan, ctx, facts, (None, None), (&inside, before));
        return AccountOutcome { stage, inside, snapshot: None, acts, enrolments };
    };
    let index = plan.scorecards.iter().position(|c| std::ptr::eq(c, card)).unwrap_or(0);
    let readings = card.readings(&env);
    let churned = env.churned();
    let outcome = card.score(&readings, churned);
    // An override is a person's judgement of a customer; a churned account has none to judge.
    let overridden = facts.overrides.iter().find(|o| o.0 <= ctx.day && ctx.day < o.1).map(|o| o.2);
    let effective = if churned { None } else { overridden.or(outcome.scored.score) };
    let effective_band = effective.map(|s| card.bands.of(s)).or(outcome.band);
    facts.health = (effective, effective_band);
    let snapshot = Snapshot {
        account: facts.id,
        scorecard: index,
        score: outcome.scored.score,
        band: outcome.band,
        effective,
        effective_band,
        coverage: outcome.scored.coverage,
        overridden: !churned && overridden.is_some(),
        readings,
    };
    let (acts, enrolments) = step_playbooks(plan, ctx, facts, (Some(card), Some(&snapshot)), (&inside, before));
    AccountOutcome { stage, inside, snapshot: Some(snapshot), acts, enrolments }
}

/// Runs the pass for `ctx.day` over `accounts`, updating their stage and last score and the
/// segment membership in `members`. Accounts are worked on by every core at once.
pub fn run(plan: &Plan, ctx: Context, accounts: &mut [Facts], members: &mut Members) -> Day {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = accounts.len().div_ceil(threads).max(1);
    // Segment membership as of the day before, for the playbooks that watch an account leave.
    let before: &Members = members;
    let outcomes: Vec<AccountOutcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = accounts
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || part.iter_mut().map(|f| account_day(plan, ctx, f, before)).collect::<Vec<_>>())
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let mut day = Day::default();
    for (facts, o) in accounts.iter().zip(outcomes) {
        let AccountOutcome { stage, inside, snapshot, acts, enrolments } = o;
        day.acts.extend(acts);
        day.enrolments.extend(enrolments);
        day.stages.extend(stage);
        for (s, is) in plan.segments.iter().zip(inside) {
            let set = members.entry(s.id).or_default();
            if is != set.contains(&facts.id) {
                day.membership.push((s.id, facts.id, is));
                if is {
                    set.insert(facts.id);
                } else {
                    set.remove(&facts.id);
                }
            }
        }
        day.snapshots.extend(snapshot);
    }
    day
}

/// A snapshot's raw values as stored: a JSON array of numbers, `null` (no data) and `false`
/// (not applicable).
pub fn encode(readings: &[Reading]) -> String {
    let items: Vec<String> = readings
        .iter()
        .map(|r| match (r.applicable, r.value) {
            (false, _) => "false".to_owned(),
            (true, None) => "null".to_owned(),
            (true, Some(v)) => v.normalize().to_string(),
        })
        .collect();
    format!("[{}]", items.join(","))
}

pub fn decode(text: &str) -> Option<Vec<Reading>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(|item| match item.trim() {
            "false" => Some(Reading { value: None, applicable: false }),
            "null" => Some(Reading { value: None, applicable: true }),
            n => Decimal::from_str(n).ok().map(|v| Reading { value: Some(v), applicable: true }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{Interval, Period};
    use crate::definitions::{default_scorecard, Scorecard};
    use crate::expr::parse;
    use crate::facts::{day_bit, Days};
    use crate::measure::SCHEMA;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn account(id: i64, seats: i64, active: &[&str]) -> Facts {
        let mut users = Vec::new();
        for day in active {
            let mut u = Days::default();
            let (b, bit) = day_bit(d(day));
            u.add(b, bit);
            users.push(u);
        }
        Facts {
            id,
            stage: "adoption".into(),
            periods: vec![Period {
                subscription_id: format!("s{id}"),
                plan: "Growth".into(),
                quantity: seats,
                currency: "USD".into(),
                amount: Decimal::from(100 * seats),
                interval: Interval::Month,
                starts_on: d("2025-01-01"),
                ends_on: None,
                renews_on: None,
                payment_terms: None,
                term_months: None,
            }],
            first_usage: active.iter().map(|a| crate::facts::day_number(d(a))).min(),
            last_usage: active.iter().map(|a| crate::facts::day_number(d(a))).max(),
            totals: active.iter().map(|a| (crate::facts::day_number(d(a)), 1)).collect(),
            users,
            ..Facts::default()
        }
    }

    #[test]
    fn a_day_moves_stages_segments_and_scores_and_the_same_day_again_changes_nothing() {
        let plan = Plan {
            rules: vec![Rule {
                key: "big".into(),
                stage: "expansion".into(),
                condition: parse("mrr >= 1000", &SCHEMA).unwrap(),
            }],
            segments: vec![Segment {
                id: 7,
                key: "idle".into(),
                filter: parse("active_users(30) = 0", &SCHEMA).unwrap(),
            }],
            scorecards: vec![Scorecard::compile(1, 1, default_scorecard()).unwrap()],
            playbooks: Vec::new(),
            skipped: Vec::new(),
        };
        assert_eq!(plan.needs().lookback_days, 120, "users retained reads 30 days and the 90 before");
        let fx = Default::default();
        // A workspace with usage, but no sentiment or interaction recorded yet.
        let fed = crate::facts::Fed { usage: true, sentiments: false, interactions: false, stripe: false };
        let ctx = Context { day: d("2026-06-30"), reporting: "USD", fx: &fx, catalogue: &[], fed };
        let mut accounts = vec![account(1, 10, &["2026-06-29"; 10]), account(2, 5, &["2026-01-02"])];
        let mut members = Members::new();
        let day = run(&plan, ctx, &mut accounts, &mut members);
        assert_eq!(
            day.stages,
            vec![StageMove { account: 1, from: "adoption".into(), to: "expansion".into(), rule: "big".into() }]
        );
        assert_eq!(day.membership, vec![(7, 2, true)]);
        // Account 1: 10 of 10 seats active yesterday. Account 2: nobody since January: license
        // utilisation, active users, users retained (everyone of before is gone) and days since
        // activity score 0, weights 1 + 1 + 3 + 2; billing is clean (MRR change, downgrade, overdue
        // 100 with weights 1.25 each, tenure 100 with 0.5); its usage trend has nothing to compare
        // (missing, 1.5); adoption (no catalogue), interaction and sentiment (never recorded) do
        // not apply: (3.75 × 100 + 0.5 × 100) ÷ 11.25 = 37.78, red, on a coverage of
        // 11.25 ÷ 12.75 = 88.24 %.
        let scores: Vec<(Option<Decimal>, Option<Band>)> = day.snapshots.iter().map(|s| (s.score, s.band)).collect();
        assert_eq!(
            scores,
            vec![(Some(Decimal::from(100)), Some(Band::Green)), (Some(Decimal::new(3778, 2)), Some(Band::Red))]
        );
        let scored = crate::health::score(plan.scorecards[0].measures(), &day.snapshots[1].readings);
        assert_eq!(scored.coverage, Some(Decimal::new(8824, 2)));
        let again = run(&plan, ctx, &mut accounts, &mut members);
        assert!(again.stages.is_empty() && again.membership.is_empty());
        assert_eq!(again.snapshots, day.snapshots);
    }

    /// A playbook with a wait and a branch: the steps before the wait on the day it fires, the
    /// rest on the day the wait ends (three days later), its branch as each account reads then.
    #[test]
    fn a_run_waits_then_branches_as_the_account_reads_that_day() {
        use crate::playbook::{Playbook, PlaybookDef, Route, Taken, Waits};
        let def: PlaybookDef = serde_json::from_value(serde_json::json!({
            "key": "follow-up", "name": "Follow up", "reenrol": "once",
            "trigger": {"kind": "condition", "condition": "mrr > 0"},
            "actions": [
                {"kind": "task", "title": "Call"},
                {"kind": "wait", "days": 3},
                {"kind": "branch", "condition": "mrr >= 1000",
                 "then": [{"kind": "tag", "tag": "big"}], "otherwise": [{"kind": "notify", "message": "small"}]},
                {"kind": "untag", "tag": "new"}
            ]
        }))
        .unwrap();
        let mut invalid = crate::Invalid::default();
        crate::playbook::check_playbook(&def, "", &mut invalid);
        assert!(invalid.errors.is_empty(), "{invalid}");
        let p = Playbook::compile(9, 1, def).unwrap();
        // Steps: 0 task, 1 wait, 2 branch (otherwise at 5), 3 tag, 4 jump to 6, 5 notify, 6 untag.
        assert_eq!(p.program().len(), 7);
        assert!(!p.branches_from(0) && p.branches_from(2));
        let plan = Plan {
            rules: Vec::new(),
            segments: Vec::new(),
            scorecards: Vec::new(),
            playbooks: vec![p],
            skipped: Vec::new(),
        };
        let fx = Default::default();
        // MRR 1 000 and 500.
        let mut accounts = vec![account(1, 10, &["2026-06-01"]), account(2, 5, &["2026-06-01"])];
        let mut members = Members::new();
        let mut seen = Vec::new();
        for n in 1..=8 {
            let day = d(&format!("2026-06-0{n}"));
            let ctx = Context { day, reporting: "USD", fx: &fx, catalogue: &[], fed: Default::default() };
            for a in run(&plan, ctx, &mut accounts, &mut members).acts {
                seen.push((n, a.account, a.act));
            }
        }
        let waits = Some(Waits { at: 1, days: 3, next: 2 });
        let fired = Route { steps: vec![Taken::Do(0)], wait: waits, rule: None };
        let went_on = |holds: bool, then: usize| Route {
            steps: vec![Taken::Branch(2, holds), Taken::Do(then), Taken::Do(6)],
            wait: None,
            rule: None,
        };
        let on = d("2026-06-01");
        let expected = vec![
            (
                1,
                1,
                Act::Fire {
                    occurrence: on,
                    values: serde_json::json!({"condition": "mrr > 0", "held_days": 1}),
                    route: fired.clone(),
                },
            ),
            (
                1,
                2,
                Act::Fire {
                    occurrence: on,
                    values: serde_json::json!({"condition": "mrr > 0", "held_days": 1}),
                    route: fired.clone(),
                },
            ),
            (4, 1, Act::Resume { occurrence: on, from: 2, route: went_on(true, 3) }),
            (4, 2, Act::Resume { occurrence: on, from: 2, route: went_on(false, 5) }),
        ];
        assert_eq!(seen, expected);
        assert!(accounts.iter().all(|a| a.waiting.is_empty()));
    }

    #[test]
    fn values_are_stored_compactly_and_read_back() {
        let r = vec![
            Reading { value: Some(Decimal::new(1250, 2)), applicable: true },
            Reading { value: None, applicable: true },
            Reading { value: None, applicable: false },
        ];
        assert_eq!(encode(&r), "[12.5,null,false]");
        assert_eq!(decode(&encode(&r)).unwrap(), r);
    }
}
