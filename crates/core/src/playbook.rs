//! Playbooks: a trigger that must hold for some consecutive days, a condition that must hold on
//! the day it fires, and actions. Pure: the daily pass observes each account's trigger, carries
//! its [`Enrolment`] from day to day and hands the store what to do; simulation runs the same
//! steps over past days and writes nothing.
//!
//! ```toml
//! [[playbook]]
//! key = "messages-red"
//! name = "Messages received red for a week"
//! trigger = { kind = "measure", measure = "messages_received", band = "red", days = 7 }
//! condition = 'mrr > 0'          # optional, checked on the day it would fire
//! reenrol = "every_time"         # or "once", or "after_days" with reenrol_days = 30
//! close_after_days = 3           # its open tasks close once the trigger cleared for 3 days
//!
//! [[playbook.actions]]
//! kind = "task"
//! title = "Reach out"
//! task_kind = "risk"
//! due_days = 3
//! ```

use crate::expr::{self, Cmp, Expr, Operand, Value as Lit};
use crate::facts::{AccountDay, Enrolment};
use crate::health::{Band, Bands, Measure, Reading};
use crate::limits::{definition_name, key_error, PLAYBOOK_DAYS};
use crate::measure::Source;
use crate::measure::SCHEMA;
use crate::task::{Kind, Priority};
use crate::Invalid;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

fn one() -> u32 {
    1
}

fn risk() -> String {
    "risk".into()
}

fn normal() -> String {
    "normal".into()
}

/// A playbook as `keepwell apply` reads it from TOML and the API from JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybookDef {
    #[schema(max_length = 64)]
    pub key: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(max_length = 2000)]
    pub description: String,
    pub trigger: TriggerDef,
    /// A filter-language condition that must also hold on the day the playbook fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 4096)]
    pub condition: Option<String>,
    /// `every_time` (each new run of the trigger), `once` (once per account ever) or `after_days`
    /// (at most once per `reenrol_days`).
    #[serde(default)]
    pub reenrol: Reenrol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reenrol_days: Option<u32>,
    /// Its open tasks close themselves once the trigger has not held for this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_after_days: Option<u32>,
    #[schema(max_items = 20)]
    pub actions: Vec<ActionDef>,
    /// In a definitions file only: switches it on (enrolling the accounts that already match) or
    /// off (keeping its open tasks) when applied. Not part of its versions; `export` writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// What a playbook watches; each must hold `days` consecutive days (1: the day it first holds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerDef {
    /// The measure's own 0–100 score falls in `band` of the scorecard in force that day (found by
    /// its key there; where the scorecard has none, or it has no data, it does not hold).
    Measure {
        #[schema(max_length = 64)]
        measure: String,
        band: Band,
        #[serde(default = "one")]
        days: u32,
    },
    /// The account's health band in force is `band`.
    Health {
        band: Band,
        #[serde(default = "one")]
        days: u32,
    },
    /// A filter-language condition holds, such as `license_utilization() >= 90`.
    Condition {
        #[schema(max_length = 4096)]
        condition: String,
        #[serde(default = "one")]
        days: u32,
    },
    /// The account is in the segment (by key) that day: it holds from the day the account enters.
    Segment {
        #[schema(max_length = 64)]
        segment: String,
        #[serde(default = "one")]
        days: u32,
    },
    /// A usage event of this name (a Segment `track`) reached the account: acted on within seconds
    /// of its arrival, once per account and day the event happened.
    Event {
        #[schema(max_length = 255)]
        event: String,
    },
    /// An interaction (e-mail, call, meeting, note, QBR) was logged on the account: acted on as it
    /// is logged, once per account and day it happened.
    Interaction {},
    /// The account left the segment (by key) that day: in it the day before, not that day. Each
    /// day it leaves is an occurrence of its own.
    LeftSegment {
        #[schema(max_length = 64)]
        segment: String,
    },
    /// On a schedule: `every` is `day`, a weekday (`monday` … `sunday`) or `month` (its first
    /// day). Each scheduled day is an occurrence of its own; the condition picks the accounts.
    Schedule {
        #[schema(max_length = 10)]
        every: String,
    },
    /// No usage event (or none named `event`) has reached the account for `days` days: it holds
    /// from the `days`th quiet day until the account is used again. An account that never had
    /// usage data is not quiet but unconnected: it does not hold.
    NoEvent {
        #[serde(default)]
        #[schema(max_length = 255)]
        event: Option<String>,
        days: u32,
    },
    /// No interaction has been logged on the account for `days` days (counted from its first
    /// subscription when it never had one): it holds from the `days`th day until one is logged.
    NoInteraction { days: u32 },
    /// A Stripe event of this type (`invoice.payment_failed`, `customer.subscription.deleted`)
    /// was applied to the account: acted on as it arrives, once per account and day it happened.
    StripeEvent {
        #[schema(max_length = 100)]
        event: String,
    },
    /// The account's lifecycle stage is `stage` that day: it holds from the day it moves there.
    Stage {
        #[schema(max_length = 20)]
        stage: String,
        #[serde(default = "one")]
        days: u32,
    },
}

impl TriggerDef {
    pub fn days(&self) -> u32 {
        match self {
            TriggerDef::Measure { days, .. }
            | TriggerDef::Health { days, .. }
            | TriggerDef::Condition { days, .. }
            | TriggerDef::Segment { days, .. }
            | TriggerDef::Stage { days, .. } => *days,
            TriggerDef::Event { .. }
            | TriggerDef::Interaction {}
            | TriggerDef::LeftSegment { .. }
            | TriggerDef::Schedule { .. }
            | TriggerDef::NoEvent { .. }
            | TriggerDef::NoInteraction { .. }
            | TriggerDef::StripeEvent { .. } => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reenrol {
    #[default]
    EveryTime,
    Once,
    AfterDays,
}

/// What a playbook does when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionDef {
    /// A task for the account's owner; asked again (not duplicated) while it is open.
    Task {
        #[schema(max_length = 300)]
        title: String,
        /// `risk`, `opportunity`, `onboarding`, `renewal` or `other`.
        #[serde(default = "risk")]
        task_kind: String,
        /// `low`, `normal`, `high` or `urgent`.
        #[serde(default = "normal")]
        priority: String,
        /// Due this many days after the day it fired; none: no due date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_days: Option<u32>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        #[schema(max_length = 2000)]
        description: String,
    },
    /// Adds a tag to the account.
    Tag {
        #[schema(max_length = 50)]
        tag: String,
    },
    /// Removes a tag from the account.
    Untag {
        #[schema(max_length = 50)]
        tag: String,
    },
    /// Tells the account's owner, in the app (the bell), once per occurrence; by e-mail too when
    /// `email` is true.
    Notify {
        #[schema(max_length = 300)]
        message: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        email: bool,
    },
    /// Makes a team member the account's owner: `member` (an e-mail); or, in turn, the next of
    /// `members` (round robin, skipping any since disabled); or the `member` of the first of
    /// `rules` whose `filter` holds for the account that day (none holding: the owner stays).
    /// Later steps of the run address the new owner.
    Assign {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        #[schema(max_length = 254)]
        member: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(max_items = 20)]
        members: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(max_items = 10)]
        rules: Vec<AssignRule>,
    },
    /// Moves the account to lifecycle `stage` — unless a lifecycle rule holds the account that day:
    /// the rules decide where they apply, so the two never move an account back and forth.
    Stage {
        #[schema(max_length = 20)]
        stage: String,
    },
    /// Calls the webhook endpoint subscribed at `url` (Settings → Webhooks) once per occurrence:
    /// a `playbook.fired` event signed as Standard Webhooks says, or, to a Slack-compatible
    /// endpoint, `message` as its text.
    Webhook {
        #[schema(max_length = 2048)]
        url: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        #[schema(max_length = 300)]
        message: String,
    },
    /// E-mails the account's owner (`to = "owner"`) or its contacts (`"contacts"`, those with
    /// `contact_role` when given; the first 20): the `subject` and `body` of `texts` in the
    /// recipient's language (by code, `en` or the first when there is none of theirs), with
    /// `{account}`, `{name}` (the recipient's) and `{owner}` filled in. A contact's e-mail carries a
    /// one-click unsubscribe (RFC 8058) that every later send honours, replies go to the owner,
    /// and no contact gets more than three playbook e-mails in seven days.
    Email {
        #[serde(default = "owner_word")]
        #[schema(max_length = 10)]
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(max_length = 20)]
        contact_role: Option<String>,
        texts: std::collections::BTreeMap<String, EmailText>,
    },
    /// Starts the playbook `playbook` (by key; switched on) for the account the same day, as a
    /// manual start does: its steps from the first, once per account and day. Playbooks that
    /// would start themselves, directly or through others, are refused when saved.
    Start {
        #[schema(max_length = 64)]
        playbook: String,
    },
    /// Waits `days` days (of `as_of`) before the steps after it: the run goes on in the pass of
    /// that day, at the version it started with; switching the playbook off stops it.
    Wait { days: u32 },
    /// Takes the `then` steps when `condition` (the filter language) holds on the day the run
    /// reaches it, else the `otherwise` steps, then goes on after it. Its steps cannot branch again.
    Branch {
        #[schema(max_length = 4096)]
        condition: String,
        #[serde(default)]
        #[schema(max_items = 20, no_recursion)]
        then: Vec<ActionDef>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(max_items = 20, no_recursion)]
        otherwise: Vec<ActionDef>,
    },
}

fn owner_word() -> String {
    "owner".into()
}

/// An e-mail's text in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailText {
    #[schema(max_length = 300)]
    pub subject: String,
    #[schema(max_length = 20000)]
    pub body: String,
}

impl EmailText {
    /// The text for language `lang` (`ru`, `ru-RU`) among `texts`: that one, else `en`, else the
    /// first.
    pub fn pick<'a>(
        texts: &'a std::collections::BTreeMap<String, EmailText>,
        lang: Option<&str>,
    ) -> Option<&'a EmailText> {
        let lang = lang.and_then(|l| l.split(['-', '_']).next()).map(str::to_ascii_lowercase);
        lang.and_then(|l| texts.get(&l)).or_else(|| texts.get("en")).or_else(|| texts.values().next())
    }

    /// `{account}`, `{name}` and `{owner}` filled in, in one pass (a value that itself holds
    /// `{owner}` stays as it is).
    pub fn fill(text: &str, account: &str, name: &str, owner: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('{') {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            let value = [("{account}", account), ("{name}", name), ("{owner}", owner)]
                .into_iter()
                .find(|(p, _)| rest.starts_with(p));
            match value {
                Some((p, v)) => {
                    out.push_str(v);
                    rest = &rest[p.len()..];
                }
                None => {
                    out.push('{');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// A subject on one line: line breaks become spaces.
    pub fn one_line(subject: &str) -> String {
        subject.split(['\r', '\n']).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// The languages an e-mail's texts are in.
pub const EMAIL_LANGUAGES: [&str; 2] = ["en", "ru"];

/// One rule of an assignment: the account goes to `member` when `filter` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRule {
    #[schema(max_length = 4096)]
    pub filter: String,
    #[schema(max_length = 254)]
    pub member: String,
}

/// The most members a round robin names, and rules an assignment has.
pub const ASSIGN_MEMBERS: usize = 20;
pub const ASSIGN_RULES: usize = 10;

impl ActionDef {
    /// Its kind as runs and pages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            ActionDef::Task { .. } => "task",
            ActionDef::Tag { .. } => "tag",
            ActionDef::Untag { .. } => "untag",
            ActionDef::Notify { .. } => "notify",
            ActionDef::Assign { .. } => "assign",
            ActionDef::Stage { .. } => "stage",
            ActionDef::Webhook { .. } => "webhook",
            ActionDef::Start { .. } => "start",
            ActionDef::Email { .. } => "email",
            ActionDef::Wait { .. } => "wait",
            ActionDef::Branch { .. } => "branch",
        }
    }

    /// Every step of `actions` and inside them, in order (a branch, its `then` steps, its
    /// `otherwise` steps), each with its path (`actions[2].then[0]`): one level deep, as a
    /// branch's own steps cannot branch.
    pub fn each(actions: &[ActionDef]) -> Vec<(String, &ActionDef)> {
        let mut all = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let at = format!("actions[{i}]");
            if let ActionDef::Branch { then, otherwise, .. } = a {
                all.push((at.clone(), a));
                all.extend(then.iter().enumerate().map(|(j, t)| (format!("{at}.then[{j}]"), t)));
                all.extend(otherwise.iter().enumerate().map(|(j, o)| (format!("{at}.otherwise[{j}]"), o)));
            } else {
                all.push((at, a));
            }
        }
        all
    }
}

fn days_in_range(invalid: &mut Invalid, field: String, days: u32) {
    if days == 0 || days > PLAYBOOK_DAYS {
        invalid.push(field, format!("a number of days from 1 to {PLAYBOOK_DAYS}"));
    }
}

/// Checks a playbook definition, every error named by its path under `at`.
pub fn check_playbook(p: &PlaybookDef, at: &str, invalid: &mut Invalid) {
    if let Some(m) = key_error(&p.key) {
        invalid.push(format!("{at}key"), m);
    }
    definition_name(&p.name, at, invalid);
    crate::limits::text(invalid, &format!("{at}description"), Some(&p.description), crate::limits::REASON);
    let t = format!("{at}trigger.");
    match &p.trigger {
        TriggerDef::Measure { measure, band, .. } => {
            if let Some(m) = key_error(measure) {
                invalid.push(format!("{t}measure"), m);
            }
            if !band.is_scored() {
                invalid.push(format!("{t}band"), "a measure's band is red, yellow or green");
            }
        }
        TriggerDef::Health { .. } => {}
        TriggerDef::Condition { condition, .. } => {
            if let Err(e) = expr::parse(condition, &SCHEMA) {
                invalid.push(format!("{t}condition"), e.to_string());
            }
        }
        TriggerDef::Segment { segment, .. } => {
            if let Some(m) = key_error(segment) {
                invalid.push(format!("{t}segment"), m);
            }
        }
        TriggerDef::Event { event } => {
            crate::limits::required_text(invalid, &format!("{t}event"), Some(event), crate::limits::EVENT_NAME);
        }
        TriggerDef::Interaction {} => {}
        TriggerDef::NoEvent { event, days } => {
            if let Some(event) = event {
                crate::limits::required_text(invalid, &format!("{t}event"), Some(event), crate::limits::EVENT_NAME);
            }
            days_in_range(invalid, format!("{t}days"), *days);
        }
        TriggerDef::NoInteraction { days } => days_in_range(invalid, format!("{t}days"), *days),
        TriggerDef::StripeEvent { event } => {
            if let Some(m) = crate::stripe::type_error(event) {
                invalid.push(format!("{t}event"), m);
            }
        }
        TriggerDef::LeftSegment { segment } => {
            if let Some(m) = key_error(segment) {
                invalid.push(format!("{t}segment"), m);
            }
        }
        TriggerDef::Schedule { every } => {
            if every.len() > 10 || Every::parse(every).is_none() {
                invalid.push(format!("{t}every"), "day, a weekday (monday … sunday) or month");
            }
        }
        TriggerDef::Stage { stage, .. } => {
            if let Err(e) = stage.parse::<crate::account::LifecycleStage>() {
                invalid.push(format!("{t}stage"), e.to_string());
            }
        }
    }
    days_in_range(invalid, format!("{t}days"), p.trigger.days());
    if let Some(Err(e)) = p.condition.as_deref().map(|c| expr::parse(c, &SCHEMA)) {
        invalid.push(format!("{at}condition"), e.to_string());
    }
    match (p.reenrol, p.reenrol_days) {
        (Reenrol::AfterDays, Some(d)) => days_in_range(invalid, format!("{at}reenrol_days"), d),
        (Reenrol::AfterDays, None) => invalid.push(format!("{at}reenrol_days"), "is required with after_days"),
        (_, Some(_)) => invalid.push(format!("{at}reenrol_days"), "only with reenrol = \"after_days\""),
        (_, None) => {}
    }
    if let Some(d) = p.close_after_days {
        days_in_range(invalid, format!("{at}close_after_days"), d);
    }
    if p.actions.is_empty() {
        invalid.push(format!("{at}actions"), "a playbook needs at least one action");
    }
    let steps = ActionDef::each(&p.actions).len();
    crate::limits::count(invalid, &format!("{at}actions"), steps, crate::limits::ACTIONS, "steps");
    if steps <= crate::limits::ACTIONS {
        check_actions(&p.actions, &format!("{at}actions"), true, invalid);
    }
}

/// Checks a list of steps named `at` (`actions`, `actions[2].then`); a branch's own steps
/// (`branches` false) cannot branch again.
fn check_actions(actions: &[ActionDef], at: &str, branches: bool, invalid: &mut Invalid) {
    if matches!(actions.last(), Some(ActionDef::Wait { .. })) {
        invalid.push(format!("{at}[{}]", actions.len() - 1), "a wait needs a step after it");
    }
    for (i, a) in actions.iter().enumerate() {
        let at = format!("{at}[{i}].");
        match a {
            ActionDef::Task { title, task_kind, priority, due_days, description } => {
                crate::limits::required_text(invalid, &format!("{at}title"), Some(title), crate::limits::SUBJECT);
                if let Err(e) = Kind::parse(task_kind) {
                    invalid.push(format!("{at}task_kind"), e);
                }
                if let Err(e) = Priority::parse(priority) {
                    invalid.push(format!("{at}priority"), e);
                }
                if let Some(d) = due_days {
                    if *d > PLAYBOOK_DAYS {
                        invalid.push(format!("{at}due_days"), format!("at most {PLAYBOOK_DAYS}"));
                    }
                }
                crate::limits::text(invalid, &format!("{at}description"), Some(description), crate::limits::REASON);
            }
            ActionDef::Tag { tag } | ActionDef::Untag { tag } => {
                crate::limits::required_text(invalid, &format!("{at}tag"), Some(tag), crate::limits::TAG);
            }
            ActionDef::Notify { message, .. } => {
                crate::limits::required_text(invalid, &format!("{at}message"), Some(message), crate::limits::SUBJECT);
            }
            ActionDef::Assign { member, members, rules } => {
                let given =
                    usize::from(!member.is_empty()) + usize::from(!members.is_empty()) + usize::from(!rules.is_empty());
                if given != 1 {
                    invalid.push(format!("{at}member"), "name one of member, members (in turn) or rules");
                }
                let email = |invalid: &mut Invalid, field: String, m: &str| {
                    crate::limits::required_text(invalid, &field, Some(m), crate::limits::EMAIL);
                    if !m.contains('@') {
                        invalid.push(field, "a team member's e-mail address");
                    }
                };
                if !member.is_empty() {
                    email(invalid, format!("{at}member"), member);
                }
                crate::limits::count(invalid, &format!("{at}members"), members.len(), ASSIGN_MEMBERS, "members");
                for (j, m) in members.iter().enumerate().take(ASSIGN_MEMBERS) {
                    email(invalid, format!("{at}members[{j}]"), m);
                }
                crate::limits::count(invalid, &format!("{at}rules"), rules.len(), ASSIGN_RULES, "rules");
                for (j, r) in rules.iter().enumerate().take(ASSIGN_RULES) {
                    if let Err(e) = expr::parse(&r.filter, &SCHEMA) {
                        invalid.push(format!("{at}rules[{j}].filter"), e.to_string());
                    }
                    email(invalid, format!("{at}rules[{j}].member"), &r.member);
                }
            }
            ActionDef::Stage { stage } => {
                if let Err(e) = stage.parse::<crate::account::LifecycleStage>() {
                    invalid.push(format!("{at}stage"), e.to_string());
                }
            }
            ActionDef::Webhook { url, message } => {
                crate::limits::required_text(invalid, &format!("{at}url"), Some(url), crate::webhook::MAX_URL);
                crate::limits::text(invalid, &format!("{at}message"), Some(message), crate::limits::SUBJECT);
            }
            ActionDef::Email { to, contact_role, texts } => {
                if !matches!(to.as_str(), "owner" | "contacts") {
                    invalid.push(format!("{at}to"), "owner or contacts");
                }
                match (to.as_str(), contact_role) {
                    ("contacts", Some(r)) if r.chars().count() > 20 => {
                        invalid.push(format!("{at}contact_role"), "champion, decision_maker, user or billing")
                    }
                    ("contacts", Some(r)) => {
                        if let Err(e) = r.parse::<crate::contact::ContactRole>() {
                            invalid.push(format!("{at}contact_role"), e);
                        }
                    }
                    (_, Some(_)) => invalid.push(format!("{at}contact_role"), "only with to = \"contacts\""),
                    _ => {}
                }
                if texts.is_empty() {
                    invalid.push(format!("{at}texts"), "an e-mail needs its text in at least one language (en, ru)");
                }
                crate::limits::count(invalid, &format!("{at}texts"), texts.len(), EMAIL_LANGUAGES.len(), "languages");
                for (lang, t) in texts.iter().take(EMAIL_LANGUAGES.len() + 1) {
                    if !EMAIL_LANGUAGES.contains(&lang.as_str()) {
                        invalid.push(
                            format!("{at}texts.{}", lang.chars().take(10).collect::<String>()),
                            "a language: en or ru",
                        );
                        continue;
                    }
                    crate::limits::required_text(
                        invalid,
                        &format!("{at}texts.{lang}.subject"),
                        Some(&t.subject),
                        crate::limits::SUBJECT,
                    );
                    crate::limits::required_text(
                        invalid,
                        &format!("{at}texts.{lang}.body"),
                        Some(&t.body),
                        crate::limits::BODY,
                    );
                }
            }
            ActionDef::Start { playbook } => {
                if let Some(m) = key_error(playbook) {
                    invalid.push(format!("{at}playbook"), m);
                }
            }
            ActionDef::Wait { days } => days_in_range(invalid, format!("{at}days"), *days),
            ActionDef::Branch { condition, then, otherwise } => {
                if !branches {
                    invalid.push(format!("{at}kind"), "a branch's steps cannot branch again");
                    continue;
                }
                if let Err(e) = expr::parse(condition, &SCHEMA) {
                    invalid.push(format!("{at}condition"), e.to_string());
                }
                if then.is_empty() && otherwise.is_empty() {
                    invalid.push(format!("{at}then"), "a branch needs a step to take");
                }
                check_actions(then, &format!("{at}then"), false, invalid);
                check_actions(otherwise, &format!("{at}otherwise"), false, invalid);
            }
        }
    }
}

enum Trigger {
    Measure {
        key: String,
        band: Band,
    },
    Health {
        band: Band,
    },
    Condition(Expr),
    Segment(String),
    Stage(String),
    /// The event's name, and `events(NAME, 1) > 0`: what the day's facts say of it.
    Event(String, Expr),
    /// The Stripe event type, and `stripe_events(TYPE, 1) > 0`.
    Stripe(String, Expr),
    /// `days_since_interaction() = 0`: an interaction happened that day.
    Interaction(Expr),
    LeftSegment(String),
    Schedule(Every),
    /// No event (or interaction) for some days: the check, what it counts (`days_since_activity`
    /// or `days_since_interaction`), what the values say of it, and for how many days the account
    /// must have been in use (a named event not seen: an account connected yesterday is not quiet).
    Quiet(Expr, Source, Value, u32),
}

/// A call of a filter-language function, as an operand.
fn call(name: &str, args: Vec<Lit>) -> Operand {
    Operand::Call(name.into(), args)
}

/// `name(args) >= at_least`.
fn at_least(name: &str, args: Vec<Lit>, at_least: Decimal) -> Expr {
    Expr::Compare(call(name, args), Cmp::Ge, Operand::Value(Lit::Number(at_least)))
}

/// The days a schedule trigger holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Every {
    Day,
    Weekday(chrono::Weekday),
    Month,
}

impl Every {
    fn parse(s: &str) -> Option<Every> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Some(Every::Day),
            "month" => Some(Every::Month),
            w @ ("monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday") => {
                w.parse().ok().map(Every::Weekday)
            }
            _ => None,
        }
    }

    fn holds(self, day: NaiveDate) -> bool {
        use chrono::Datelike;
        match self {
            Every::Day => true,
            Every::Weekday(w) => day.weekday() == w,
            Every::Month => day.day() == 1,
        }
    }
}

/// One step of a playbook's program: its actions, waits and branches laid out in order, so that
/// where a run stands is a step number, and each action's step is part of its idempotency key.
/// A playbook without branches has its actions' positions as steps.
#[derive(Debug, Clone)]
pub enum Op {
    Do(ActionDef),
    Wait(u32),
    /// Goes on at the next step when `condition` holds, else at step `otherwise`.
    Branch {
        condition: Expr,
        text: String,
        otherwise: usize,
    },
    /// Goes on at step `to` (past the `otherwise` steps, at the end of the `then` steps).
    Jump(usize),
}

/// What a run does on one day from the step it stands at: the actions and branches it takes,
/// in order, and the wait it then reaches, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    pub steps: Vec<Taken>,
    pub wait: Option<Waits>,
    /// The lifecycle rule holding the account that day (for a playbook that sets the stage): a
    /// stage action then fails rather than move it against the rule.
    pub rule: Option<String>,
}

/// A step a run took: an action, or a branch with whether its condition held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Taken {
    Do(usize),
    Branch(usize, bool),
}

/// A wait a run reached: at step `at`, for `days`, going on at step `next`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waits {
    pub at: usize,
    pub days: u32,
    pub next: usize,
}

/// Lays `actions` out as steps onto `program`; a branch's own steps (`depth` 1) are laid out
/// once more and no deeper.
fn lay_out(actions: &[ActionDef], depth: u8, program: &mut Vec<Op>) -> Result<(), String> {
    for a in actions {
        match a {
            ActionDef::Wait { days } => program.push(Op::Wait(*days)),
            ActionDef::Branch { condition, then, otherwise } => {
                if depth > 0 {
                    return Err("a branch's steps cannot branch again".into());
                }
                let condition_expr = expr::parse(condition, &SCHEMA).map_err(|e| format!("branch condition: {e}"))?;
                let at = program.len();
                program.push(Op::Branch { condition: condition_expr, text: condition.clone(), otherwise: 0 });
                lay_out(then, depth + 1, program)?;
                let jump = program.len();
                program.push(Op::Jump(0));
                let else_at = program.len();
                lay_out(otherwise, depth + 1, program)?;
                let end = program.len();
                program[jump] = Op::Jump(end);
                if let Op::Branch { otherwise, .. } = &mut program[at] {
                    *otherwise = else_at;
                }
            }
            // Rules: a branch per rule, the first that holds assigns its member.
            ActionDef::Assign { rules, .. } if !rules.is_empty() => {
                let mut ends = Vec::new();
                for r in rules {
                    let filter = expr::parse(&r.filter, &SCHEMA).map_err(|e| format!("assign rule: {e}"))?;
                    let at = program.len();
                    program.push(Op::Branch { condition: filter, text: r.filter.clone(), otherwise: 0 });
                    let one = ActionDef::Assign { member: r.member.clone(), members: Vec::new(), rules: Vec::new() };
                    program.push(Op::Do(one));
                    ends.push(program.len());
                    program.push(Op::Jump(0));
                    let next = program.len();
                    if let Op::Branch { otherwise, .. } = &mut program[at] {
                        *otherwise = next;
                    }
                }
                let end = program.len();
                for j in ends {
                    program[j] = Op::Jump(end);
                }
            }
            other => program.push(Op::Do(other.clone())),
        }
    }
    Ok(())
}

/// A checked playbook ready for the pass, at one version.
#[derive(Clone)]
pub struct Playbook {
    pub id: i64,
    pub version: i64,
    pub def: PlaybookDef,
    /// Only its waiting runs go on (an older version than the one in force): its trigger is not
    /// stepped.
    pub resume_only: bool,
    trigger: std::sync::Arc<Trigger>,
    condition: Option<Expr>,
    program: std::sync::Arc<Vec<Op>>,
}

impl std::fmt::Debug for Playbook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playbook")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("key", &self.def.key)
            .finish()
    }
}

/// What a scorecard said of an account on a day, as a trigger reads it.
#[derive(Clone, Copy)]
pub struct Scored<'a> {
    pub measures: &'a [Measure],
    pub bands: Bands,
    pub readings: &'a [Reading],
    /// The score and band in force.
    pub score: Option<Decimal>,
    pub band: Option<Band>,
}

/// What the day's pass knows of an account besides its facts, as a trigger reads it: its score,
/// and whether it is in a segment (by key) that day.
#[derive(Clone, Copy)]
pub struct Seen<'a> {
    pub scored: Option<Scored<'a>>,
    pub in_segment: &'a dyn Fn(&str) -> bool,
    /// Whether it was in a segment (by key) the day before.
    pub was_in_segment: &'a dyn Fn(&str) -> bool,
}

/// Why a playbook did or did not fire for an account on a day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Why {
    pub fired: bool,
    /// Whether the trigger held that day, and what it read.
    pub trigger_held: bool,
    #[schema(value_type = Object)]
    pub values: Value,
    /// The first day of the run of days the trigger held, as of that day.
    pub since: Option<NaiveDate>,
    pub held_days: i64,
    pub needed_days: i64,
    /// Whether the playbook's condition held (none without one).
    pub condition_held: Option<bool>,
    /// The first check that failed, in words (or that it fired).
    pub reason: String,
}

/// What the pass does for a playbook and an account on a day.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// The trigger has held `held` days since `occurrence` (its first day) and the condition holds:
    /// do the actions. `values` are what made it fire.
    /// `route` is what it does that day (filled in by the pass, which reads the account).
    Fire { occurrence: NaiveDate, values: Value, route: Route },
    /// A run of this version for the occurrence waited until today: it goes on from step `from`.
    Resume { occurrence: NaiveDate, from: usize, route: Route },
    /// The trigger has not held for `close_after_days` since it fired: close its open tasks.
    Close,
}

impl Playbook {
    /// Compiles a checked definition (an unchecked one fails on its first error).
    pub fn compile(id: i64, version: i64, def: PlaybookDef) -> Result<Playbook, String> {
        let trigger = match &def.trigger {
            TriggerDef::Measure { measure, band, .. } => Trigger::Measure { key: measure.clone(), band: *band },
            TriggerDef::Health { band, .. } => Trigger::Health { band: *band },
            TriggerDef::Condition { condition, .. } => {
                Trigger::Condition(expr::parse(condition, &SCHEMA).map_err(|e| format!("trigger.condition: {e}"))?)
            }
            TriggerDef::Segment { segment, .. } => Trigger::Segment(segment.clone()),
            TriggerDef::Stage { stage, .. } => Trigger::Stage(stage.trim().to_ascii_lowercase()),
            TriggerDef::Event { event } => {
                let that_day = call("events", vec![Lit::Text(event.clone()), Lit::Number(Decimal::ONE)]);
                Trigger::Event(
                    event.clone(),
                    Expr::Compare(that_day, Cmp::Gt, Operand::Value(Lit::Number(Decimal::ZERO))),
                )
            }
            TriggerDef::StripeEvent { event } => {
                let that_day = call("stripe_events", vec![Lit::Text(event.clone()), Lit::Number(Decimal::ONE)]);
                Trigger::Stripe(
                    event.clone(),
                    Expr::Compare(that_day, Cmp::Gt, Operand::Value(Lit::Number(Decimal::ZERO))),
                )
            }
            TriggerDef::LeftSegment { segment } => Trigger::LeftSegment(segment.clone()),
            TriggerDef::Schedule { every } => Trigger::Schedule(
                Every::parse(every).ok_or_else(|| format!("trigger.every: {every:?} is no schedule"))?,
            ),
            TriggerDef::Interaction {} => {
                let since = call("days_since_interaction", Vec::new());
                Trigger::Interaction(Expr::Compare(since, Cmp::Eq, Operand::Value(Lit::Number(Decimal::ZERO))))
            }
            TriggerDef::NoEvent { event, days } => {
                let quiet = match event {
                    // Used at all (days since activity known), and not this event for `days`.
                    Some(e) => Expr::And(vec![
                        at_least("days_since_activity", Vec::new(), Decimal::ZERO),
                        Expr::Compare(
                            call("events", vec![Lit::Text(e.clone()), Lit::Number((*days).into())]),
                            Cmp::Eq,
                            Operand::Value(Lit::Number(Decimal::ZERO)),
                        ),
                    ]),
                    None => at_least("days_since_activity", Vec::new(), (*days).into()),
                };
                let used_for = if event.is_some() { *days } else { 0 };
                Trigger::Quiet(quiet, Source::DaysSinceActivity, json!({"no_event": event, "days": days}), used_for)
            }
            TriggerDef::NoInteraction { days } => Trigger::Quiet(
                at_least("days_since_interaction", Vec::new(), (*days).into()),
                Source::DaysSinceInteraction,
                json!({"no_interaction": true, "days": days}),
                0,
            ),
        };
        let condition = def
            .condition
            .as_deref()
            .map(|c| expr::parse(c, &SCHEMA))
            .transpose()
            .map_err(|e| format!("condition: {e}"))?;
        let mut program = Vec::new();
        lay_out(&def.actions, 0, &mut program)?;
        Ok(Playbook {
            id,
            version,
            def,
            resume_only: false,
            trigger: std::sync::Arc::new(trigger),
            condition,
            program: std::sync::Arc::new(program),
        })
    }

    /// The expressions it evaluates (what the pass must load for them).
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut all: Vec<&Expr> = self.condition.iter().collect();
        if let Trigger::Condition(e)
        | Trigger::Event(_, e)
        | Trigger::Stripe(_, e)
        | Trigger::Interaction(e)
        | Trigger::Quiet(e, ..) = &*self.trigger
        {
            all.push(e);
        }
        all.extend(self.program.iter().filter_map(|op| match op {
            Op::Branch { condition, .. } => Some(condition),
            _ => None,
        }));
        all
    }

    /// Its steps, in order.
    pub fn program(&self) -> &[Op] {
        &self.program
    }

    /// The action at step `at`.
    pub fn action(&self, at: usize) -> Option<&ActionDef> {
        match self.program.get(at) {
            Some(Op::Do(a)) => Some(a),
            _ => None,
        }
    }

    /// The condition of the branch at step `at`, as written ("" when that step is no branch).
    pub fn branch_text(&self, at: usize) -> &str {
        match self.program.get(at) {
            Some(Op::Branch { text, .. }) => text,
            _ => "",
        }
    }

    /// The playbook a step taken starts, if it is a start.
    pub fn started(&self, taken: Taken) -> Option<&str> {
        match taken {
            Taken::Do(at) => match self.action(at) {
                Some(ActionDef::Start { playbook }) => Some(playbook),
                _ => None,
            },
            Taken::Branch(..) => None,
        }
    }

    /// What a run does on a day from step `from`: it takes the steps in order, each branch as
    /// its condition reads the account that day (`env`; without one, a branch goes the
    /// `otherwise` way — callers pass one whenever [`Playbook::branches_from`] says so), until
    /// it reaches a wait or its end. Steps only ever jump forward, so each is visited once.
    pub fn route(&self, from: usize, env: Option<&AccountDay>) -> Route {
        let mut route = Route::default();
        let mut pc = from;
        while let Some(op) = self.program.get(pc) {
            match op {
                Op::Do(_) => {
                    route.steps.push(Taken::Do(pc));
                    pc += 1;
                }
                Op::Wait(days) => {
                    route.wait = Some(Waits { at: pc, days: *days, next: pc + 1 });
                    break;
                }
                Op::Branch { condition, otherwise, .. } => {
                    let holds = env.is_some_and(|env| condition.eval(env));
                    route.steps.push(Taken::Branch(pc, holds));
                    pc = if holds { pc + 1 } else { *otherwise };
                }
                Op::Jump(to) => pc = (*to).max(pc + 1),
            }
        }
        route
    }

    /// Whether a run from step `from` reaches a branch before a wait: what it does then depends
    /// on the account's facts of the day.
    pub fn branches_from(&self, from: usize) -> bool {
        let mut pc = from;
        while let Some(op) = self.program.get(pc) {
            match op {
                Op::Do(_) => pc += 1,
                Op::Wait(_) => return false,
                Op::Branch { .. } => return true,
                Op::Jump(to) => pc = (*to).max(pc + 1),
            }
        }
        false
    }

    /// The usage event it waits for, when its trigger is one: acted on as events arrive, not in
    /// the daily pass (which simulation and why-not still step, a day at a time).
    pub fn event(&self) -> Option<&str> {
        match &*self.trigger {
            Trigger::Event(name, _) => Some(name),
            _ => None,
        }
    }

    /// Whether one of its actions sets the stage (its firings then say which lifecycle rule, if
    /// any, holds the account: `lifecycle_rule`).
    pub fn sets_stage(&self) -> bool {
        self.program.iter().any(|op| matches!(op, Op::Do(ActionDef::Stage { .. })))
    }

    /// The Stripe event type it acts on as such events are applied, when its trigger is one.
    pub fn on_stripe(&self) -> Option<&str> {
        match &*self.trigger {
            Trigger::Stripe(kind, _) => Some(kind),
            _ => None,
        }
    }

    /// Whether it acts as interactions are logged.
    pub fn on_interaction(&self) -> bool {
        matches!(&*self.trigger, Trigger::Interaction(_))
    }

    /// Whether the trigger holds for the account today, with the values it read; None when not.
    pub fn observe(&self, env: &AccountDay, seen: Seen) -> Option<Value> {
        match self.read_as(env, seen, false) {
            (true, values) => values,
            (false, _) => None,
        }
    }

    /// What the trigger reads of the account today, and whether it holds.
    pub fn read(&self, env: &AccountDay, seen: Seen) -> (bool, Value) {
        let (holds, values) = self.read_as(env, seen, true);
        (holds, values.unwrap_or_default())
    }

    /// Whether the trigger holds, and what it read: built only when it holds or `always` (the
    /// pass steps every playbook for every account each day, and mostly it does not hold).
    fn read_as(&self, env: &AccountDay, seen: Seen, always: bool) -> (bool, Option<Value>) {
        let Seen { scored, in_segment, was_in_segment } = seen;
        let number = |d: Option<Decimal>| d.map(|d| d.normalize().to_string());
        let out = |holds: bool, values: &dyn Fn() -> Value| (holds, (holds || always).then(values));
        match &*self.trigger {
            Trigger::Measure { key, band } => {
                let Some(s) = scored else { return out(false, &|| json!({"measure": key, "scorecard": null})) };
                let Some(i) = s.measures.iter().position(|m| &m.key == key) else {
                    return out(false, &|| json!({"measure": key, "in_scorecard": false}));
                };
                let value = s.readings.get(i).filter(|r| r.applicable).and_then(|r| r.value);
                let Some(value) = value else {
                    return out(false, &|| json!({"measure": key, "value": null}));
                };
                let score = s.measures[i].scale.score(value);
                let is = s.bands.of(score);
                out(
                    is == *band,
                    &|| json!({"measure": key, "value": number(Some(value)), "score": number(Some(score)), "band": is.as_str()}),
                )
            }
            Trigger::Health { band } => {
                let is = scored.and_then(|s| s.band);
                let score = scored.and_then(|s| s.score);
                out(is == Some(*band), &|| json!({"score": number(score), "band": is.map(|b| b.as_str())}))
            }
            Trigger::Condition(e) => out(e.eval(env), &|| json!({"condition": self.trigger_text()})),
            Trigger::Segment(key) => out(in_segment(key), &|| json!({"segment": key})),
            Trigger::Stage(stage) => out(&env.facts.stage == stage, &|| json!({"stage": env.facts.stage})),
            Trigger::Event(name, e) => out(e.eval(env), &|| json!({"event": name})),
            Trigger::Stripe(kind, e) => out(e.eval(env), &|| json!({"stripe_event": kind})),
            Trigger::Interaction(e) => out(e.eval(env), &|| json!({"interaction": true})),
            Trigger::LeftSegment(key) => out(was_in_segment(key) && !in_segment(key), &|| json!({"left_segment": key})),
            Trigger::Schedule(every) => out(every.holds(env.ctx.day), &|| json!({"scheduled": self.trigger_every()})),
            Trigger::Quiet(e, since, what, used_for) => {
                let today = crate::facts::day_number(env.ctx.day);
                let used = env.facts.first_usage.is_some_and(|first| today - first + 1 >= i64::from(*used_for));
                out(used && e.eval(env), &|| {
                    let mut values = what.clone();
                    values["days_since"] = json!(number(env.value(since)));
                    values
                })
            }
        }
    }

    /// Why the playbook did or did not fire for an account on `day`, given where it stood the
    /// day before (`before`), what the trigger read that day and whether the condition held: the
    /// first check of [`Playbook::step`] that failed, in words.
    pub fn explain(&self, before: &Enrolment, day: NaiveDate, (held, values): (bool, Value), condition: bool) -> Why {
        let needed = i64::from(self.def.trigger.days());
        let mut e = *before;
        let act = self.step(&mut e, day, held.then(|| values.clone()), || condition);
        let since = e.since;
        let held_days = since.map_or(0, |s| (day - s).num_days() + 1);
        let reason = match (&act, held) {
            (Some(Act::Fire { .. }), _) => "it fired".to_owned(),
            (Some(Act::Resume { .. }), _) => "a run of it went on after a wait".to_owned(),
            (Some(Act::Close), _) => {
                "its trigger had cleared for the closing margin: it closed its open tasks".to_owned()
            }
            (None, false) => "the trigger did not hold that day".to_owned(),
            (None, true) if held_days < needed => {
                format!("the trigger had held {held_days} of the {needed} consecutive days it needs")
            }
            (None, true) if before.fired && before.since == since => {
                format!(
                    "it already fired for this run of days (since {})",
                    since.map(|d| d.to_string()).unwrap_or_default()
                )
            }
            (None, true) => match (self.def.reenrol, before.last_fired) {
                (Reenrol::Once, Some(last)) => format!("it fires once per account and fired on {last}"),
                (Reenrol::AfterDays, Some(last))
                    if (day - last).num_days() < i64::from(self.def.reenrol_days.unwrap_or(0)) =>
                {
                    format!("it fired on {last}, less than {} days before", self.def.reenrol_days.unwrap_or(0))
                }
                _ => format!("the condition {:?} did not hold", self.def.condition.clone().unwrap_or_default()),
            },
        };
        Why {
            fired: matches!(act, Some(Act::Fire { .. })),
            trigger_held: held,
            values,
            since,
            held_days,
            needed_days: needed,
            condition_held: self.def.condition.is_some().then_some(condition),
            reason,
        }
    }

    fn trigger_every(&self) -> &str {
        match &self.def.trigger {
            TriggerDef::Schedule { every } => every,
            _ => "",
        }
    }

    /// Whether each day it holds is an occurrence of its own (an event, an interaction, a
    /// schedule, leaving a segment), rather than a run of consecutive days.
    fn per_day(&self) -> bool {
        matches!(
            &*self.trigger,
            Trigger::Event(..)
                | Trigger::Stripe(..)
                | Trigger::Interaction(_)
                | Trigger::LeftSegment(_)
                | Trigger::Schedule(_)
        )
    }

    fn trigger_text(&self) -> &str {
        match &self.def.trigger {
            TriggerDef::Condition { condition, .. } => condition,
            _ => "",
        }
    }

    /// Whether the playbook's own condition holds today (true without one).
    pub fn condition_holds(&self, env: &AccountDay) -> bool {
        self.condition.as_ref().is_none_or(|c| c.eval(env))
    }

    /// Moves an account's enrolment on by `day`, given what the trigger observed and whether the
    /// condition holds then (asked only when it would fire), and says what to do.
    pub fn step(
        &self,
        e: &mut Enrolment,
        day: NaiveDate,
        observed: Option<Value>,
        condition: impl FnOnce() -> bool,
    ) -> Option<Act> {
        let Some(mut values) = observed else {
            if e.since.take().is_some() && std::mem::take(&mut e.fired) {
                e.cleared_on = Some(day);
            }
            let margin = self.def.close_after_days?;
            let cleared = e.cleared_on?;
            if (day - cleared).num_days() + 1 >= i64::from(margin) {
                e.cleared_on = None;
                return Some(Act::Close);
            }
            return None;
        };
        e.cleared_on = None;
        // A per-day trigger's occurrence is its day: each day it holds is a new run.
        if self.per_day() && e.since != Some(day) {
            e.since = None;
        }
        let since = match e.since {
            Some(s) => s,
            None => {
                e.fired = false;
                *e.since.insert(day)
            }
        };
        let held = (day - since).num_days() + 1;
        if e.fired || held < i64::from(self.def.trigger.days()) {
            return None;
        }
        let allowed = match self.def.reenrol {
            Reenrol::EveryTime => true,
            Reenrol::Once => e.last_fired.is_none(),
            Reenrol::AfterDays => {
                e.last_fired.is_none_or(|last| (day - last).num_days() >= i64::from(self.def.reenrol_days.unwrap_or(0)))
            }
        };
        if !allowed || !condition() {
            return None;
        }
        e.fired = true;
        e.last_fired = Some(day);
        if let Some(map) = values.as_object_mut() {
            map.insert("held_days".into(), json!(held));
        }
        Some(Act::Fire { occurrence: since, values, route: Route::default() })
    }
}

/// The playbooks a new workspace starts with, disabled.
pub fn built_in() -> Vec<PlaybookDef> {
    let task = |title: &str, kind: &str, description: &str| ActionDef::Task {
        title: title.into(),
        task_kind: kind.into(),
        priority: "normal".into(),
        due_days: Some(7),
        description: description.into(),
    };
    let def = |key: &str, name: &str, trigger: TriggerDef, action: ActionDef| PlaybookDef {
        key: key.into(),
        name: name.into(),
        description: String::new(),
        trigger,
        condition: None,
        reenrol: Reenrol::EveryTime,
        reenrol_days: None,
        close_after_days: None,
        actions: vec![action],
        enabled: None,
    };
    vec![
        def(
            "low-usage",
            "Low usage for a week",
            TriggerDef::Condition { condition: "license_utilization(7) < 20".into(), days: 7 },
            task(
                "Low usage: under a fifth of the seats active",
                "risk",
                "Users active in the last 7 days have been below 20 % of the licensed seats for 7 days.",
            ),
        ),
        def(
            "health-red",
            "Health turned red",
            TriggerDef::Health { band: Band::Red, days: 1 },
            task("Health is red: find out why", "risk", "The account's health score turned red."),
        ),
        // Each checkpoint day is an occurrence of its own, and asks the same task (one source per
        // account and step) again while it is open: one renewal task per renewal. A contract's
        // renewal: a monthly subscription is 30 days from renewing every month.
        PlaybookDef {
            condition: Some("days_to_renewal in [90, 60, 30] and renewal_term_months >= 12".into()),
            ..def(
                "renewal-reminders",
                "Contract renewal in 90, 60 and 30 days",
                TriggerDef::Schedule { every: "day".into() },
                ActionDef::Task {
                    title: "Prepare the renewal".into(),
                    task_kind: "renewal".into(),
                    priority: "normal".into(),
                    due_days: Some(14),
                    description: "The contract renews in 90, 60 or 30 days; each checkpoint asks this task again."
                        .into(),
                },
            )
        },
        def(
            "invoice-overdue",
            "Invoice overdue 15 days",
            TriggerDef::Condition { condition: "days_overdue() >= 15".into(), days: 1 },
            ActionDef::Notify { message: "An invoice is 15 days overdue.".into(), email: false },
        ),
        def(
            "reference-candidates",
            "Reference candidates",
            TriggerDef::Condition { condition: "band = \"green\" and days_since_activity() <= 7".into(), days: 60 },
            ActionDef::Tag { tag: "reference-candidate".into() },
        ),
        def(
            "seats-nearly-full",
            "Seats nearly full",
            TriggerDef::Condition { condition: "license_utilization() >= 90".into(), days: 1 },
            task("Upsell: seats nearly full", "opportunity", "Nine in ten licensed seats are in use."),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Context, Facts};
    use crate::health::{Missing, Scale};

    fn playbook(toml_text: &str) -> Playbook {
        #[derive(Deserialize)]
        struct File {
            playbook: Vec<PlaybookDef>,
        }
        let def = toml::from_str::<File>(toml_text).unwrap().playbook.remove(0);
        let mut invalid = Invalid::default();
        check_playbook(&def, "", &mut invalid);
        assert!(invalid.errors.is_empty(), "{invalid}");
        Playbook::compile(1, 1, def).unwrap()
    }

    const EXAMPLE: &str = r#"
[[playbook]]
key = "messages-red"
name = "Messages received red for a week"
trigger = { kind = "measure", measure = "messages_received", band = "red", days = 7 }
close_after_days = 3

[[playbook.actions]]
kind = "task"
title = "Reach out"
"#;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
    }

    fn in_no_segment(_: &str) -> bool {
        false
    }

    fn seen(scored: Option<Scored>) -> Seen {
        Seen { scored, in_segment: &in_no_segment, was_in_segment: &in_no_segment }
    }

    /// A segment trigger holds from the day the account enters it, a stage trigger from the day it
    /// moves there; each fires once its days have passed, and again only after it left and came back.
    #[test]
    fn entering_a_segment_or_a_stage_and_staying() {
        let toml_text = |trigger: &str| {
            format!("[[playbook]]\nkey = \"p\"\nname = \"P\"\ntrigger = {trigger}\n[[playbook.actions]]\nkind = \"tag\"\ntag = \"t\"\n")
        };
        let segment = playbook(&toml_text(r#"{ kind = "segment", segment = "big", days = 2 }"#));
        let stage = playbook(&toml_text(r#"{ kind = "stage", stage = "Renewal" }"#));
        let (fx, catalogue): (crate::metrics::FxTable, Vec<crate::usage::Feature>) = Default::default();
        // In the segment on days 2–4 and 7–9; in the renewal stage from day 3.
        let inside = |d: u32| (2..=4).contains(&d) || (7..=9).contains(&d);
        let (mut in_seg, mut in_stage) = (Enrolment::default(), Enrolment::default());
        let (mut by_segment, mut by_stage) = (Vec::new(), Vec::new());
        for d in 1..=10 {
            let facts = Facts { stage: if d >= 3 { "renewal" } else { "adoption" }.into(), ..Facts::default() };
            let ctx =
                Context { day: day(d), reporting: "USD", fx: &fx, catalogue: &catalogue, fed: Default::default() };
            let env = AccountDay::new(&facts, ctx);
            let holds = |key: &str| key == "big" && inside(d);
            let seen = Seen { scored: None, in_segment: &holds, was_in_segment: &in_no_segment };
            if let Some(Act::Fire { occurrence, values, .. }) =
                segment.step(&mut in_seg, day(d), segment.observe(&env, seen), || true)
            {
                by_segment.push((d, occurrence, values["segment"].clone()));
            }
            if let Some(Act::Fire { occurrence, values, .. }) =
                stage.step(&mut in_stage, day(d), stage.observe(&env, seen), || true)
            {
                by_stage.push((d, occurrence, values["stage"].clone()));
            }
        }
        assert_eq!(by_segment, [(3, day(2), json!("big")), (8, day(7), json!("big"))]);
        assert_eq!(by_stage, [(3, day(3), json!("renewal"))]);
        let wrong: PlaybookDef = serde_json::from_value(json!({"key": "p", "name": "P",
            "trigger": {"kind": "stage", "stage": "nope"}, "actions": [{"kind": "tag", "tag": "t"}]}))
        .unwrap();
        let mut invalid = Invalid::default();
        check_playbook(&wrong, "", &mut invalid);
        assert_eq!(invalid.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["trigger.stage"]);
    }

    /// Quiet triggers: no usage for 14 days fires on the 14th quiet day for that run, again only
    /// after the account was used and went quiet once more; an account never used is not quiet.
    /// No interaction for 30 days counts from the last one logged.
    #[test]
    fn no_event_or_no_interaction_for_days() {
        let toml_text = |trigger: &str| {
            format!("[[playbook]]\nkey = \"p\"\nname = \"P\"\ntrigger = {trigger}\n[[playbook.actions]]\nkind = \"tag\"\ntag = \"t\"\n")
        };
        let quiet = playbook(&toml_text(r#"{ kind = "no_event", days = 14 }"#));
        let no_login = playbook(&toml_text(r#"{ kind = "no_event", event = "Logged In", days = 3 }"#));
        let no_call = playbook(&toml_text(r#"{ kind = "no_interaction", days = 30 }"#));
        let (fx, catalogue): (crate::metrics::FxTable, Vec<crate::usage::Feature>) = Default::default();
        let number = |d: NaiveDate| crate::facts::day_number(d);
        let start = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        // Used on Oct 1 and again on Nov 1 (a `Page Viewed`, never `Logged In`); a call on Oct 5.
        let (mut e_quiet, mut e_login, mut e_call) = Default::default();
        let (mut fired_quiet, mut fired_login, mut fired_call) = (Vec::new(), Vec::new(), Vec::new());
        for offset in 0..60 {
            let today = start + chrono::Days::new(offset);
            let last = if today >= day(1) { day(1) } else { start };
            let facts = Facts {
                first_usage: Some(number(start)),
                last_usage: Some(number(last)),
                interactions: vec![start + chrono::Days::new(4)],
                ..Facts::default()
            };
            let fed = crate::facts::Fed::all();
            let ctx = Context { day: today, reporting: "USD", fx: &fx, catalogue: &catalogue, fed };
            let env = AccountDay::new(&facts, ctx);
            for (p, e, fired) in [
                (&quiet, &mut e_quiet, &mut fired_quiet),
                (&no_login, &mut e_login, &mut fired_login),
                (&no_call, &mut e_call, &mut fired_call),
            ] {
                if let Some(Act::Fire { occurrence, values, .. }) =
                    p.step(e, today, p.observe(&env, seen(None)), || true)
                {
                    fired.push((occurrence, values["days_since"].clone()));
                }
            }
        }
        let d = |m: u32, n: u32| NaiveDate::from_ymd_opt(2026, m, n).unwrap();
        assert_eq!(fired_quiet, [(d(10, 15), json!("14")), (d(11, 15), json!("14"))]);
        // Never logged in, but used: quiet for that event once in use for 3 days, one run.
        assert_eq!(fired_login, [(d(10, 3), json!("2"))]);
        assert_eq!(fired_call, [(d(11, 4), json!("30"))]);
        // Never used at all: no usage trigger holds.
        let never = Facts::default();
        let ctx =
            Context { day: d(11, 30), reporting: "USD", fx: &fx, catalogue: &catalogue, fed: crate::facts::Fed::all() };
        assert_eq!(quiet.observe(&AccountDay::new(&never, ctx), seen(None)), None);
        assert_eq!(no_login.observe(&AccountDay::new(&never, ctx), seen(None)), None);
        // Days out of range are refused, naming the field.
        let wrong: PlaybookDef = serde_json::from_value(json!({"key": "p", "name": "P",
            "trigger": {"kind": "no_event", "days": 0}, "actions": [{"kind": "tag", "tag": "t"}]}))
        .unwrap();
        let mut invalid = Invalid::default();
        check_playbook(&wrong, "", &mut invalid);
        assert_eq!(invalid.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["trigger.days"]);
    }

    /// A Stripe event trigger holds on each day an event of its type was applied (one occurrence
    /// per day, so two failed payments a week apart fire twice), not on a day of another type.
    #[test]
    fn a_stripe_event_fires_on_each_day_it_was_applied() {
        let p = playbook(
            "[[playbook]]\nkey = \"p\"\nname = \"P\"\ntrigger = { kind = \"stripe_event\", event = \"invoice.payment_failed\" }\n[[playbook.actions]]\nkind = \"tag\"\ntag = \"t\"\n",
        );
        assert_eq!(p.on_stripe(), Some("invoice.payment_failed"));
        let d = |n: u32| NaiveDate::from_ymd_opt(2026, 11, n).unwrap();
        let facts = Facts {
            stripe: vec![
                (d(3), "invoice.payment_failed".into()),
                (d(3), "invoice.payment_failed".into()),
                (d(5), "invoice.paid".into()),
                (d(10), "invoice.payment_failed".into()),
            ],
            ..Facts::default()
        };
        let (fx, catalogue): (crate::metrics::FxTable, Vec<crate::usage::Feature>) = Default::default();
        let (mut e, mut fired) = (Enrolment::default(), Vec::new());
        for n in 1..=14 {
            let ctx =
                Context { day: d(n), reporting: "USD", fx: &fx, catalogue: &catalogue, fed: crate::facts::Fed::all() };
            let env = AccountDay::new(&facts, ctx);
            if let Some(Act::Fire { occurrence, values, .. }) =
                p.step(&mut e, d(n), p.observe(&env, seen(None)), || true)
            {
                fired.push((occurrence, values));
            }
        }
        let failed = json!({"stripe_event": "invoice.payment_failed", "held_days": 1});
        assert_eq!(fired, [(d(3), failed.clone()), (d(10), failed)]);
        // A type is checked before it is saved, naming the field.
        for wrong in ["", "Invoice Payment Failed", &"x".repeat(101)] {
            let def: PlaybookDef = serde_json::from_value(json!({"key": "p", "name": "P",
                "trigger": {"kind": "stripe_event", "event": wrong}, "actions": [{"kind": "tag", "tag": "t"}]}))
            .unwrap();
            let mut invalid = Invalid::default();
            check_playbook(&def, "", &mut invalid);
            assert_eq!(invalid.errors.first().map(|e| e.field.as_str()), Some("trigger.event"), "{wrong:?}");
        }
    }

    /// The issue's example: a measure red for 7 consecutive days fires once, on the 7th day, for
    /// the run that began on day 1; a day back in yellow starts the count again; once cleared for
    /// the margin it closes what it opened.
    #[test]
    fn a_measure_red_for_seven_days_fires_once_on_the_seventh() {
        let p = playbook(EXAMPLE);
        let measures = [Measure {
            key: "messages_received".into(),
            weight: Decimal::ONE,
            scale: Scale::Linear { bad: Decimal::ZERO, good: Decimal::from(10) },
            missing: Missing::Skip,
        }];
        let facts = Facts::default();
        let (fx, catalogue): (crate::metrics::FxTable, Vec<crate::usage::Feature>) = Default::default();
        let ctx = Context { day: day(1), reporting: "USD", fx: &fx, catalogue: &catalogue, fed: Default::default() };
        let env = AccountDay::new(&facts, ctx);
        // Messages per day: 2 (score 20, red) for days 1–3, 5 (yellow) on day 4, then red from day 5.
        let value = |d: u32| if d == 4 { 5 } else { 2 };
        let mut e = Enrolment::default();
        let mut fired = Vec::new();
        for d in 1..=20 {
            let readings =
                [Reading { value: Some(Decimal::from(if d > 13 { 9 } else { value(d) })), applicable: true }];
            let scored =
                Scored { measures: &measures, bands: Bands::default(), readings: &readings, score: None, band: None };
            if let Some(act) = p.step(&mut e, day(d), p.observe(&env, seen(Some(scored))), || true) {
                fired.push((d, act));
            }
        }
        // Red again from day 5: the 7th red day is day 11. Green from day 14: closed on day 16.
        assert_eq!(fired.len(), 2, "{fired:?}");
        let Act::Fire { occurrence, values, .. } = &fired[0].1 else { panic!("{fired:?}") };
        assert_eq!((fired[0].0, *occurrence), (11, day(5)));
        assert_eq!(values["score"], "20");
        assert_eq!(values["held_days"], 7);
        assert_eq!(fired[1], (16, Act::Close));
    }

    #[test]
    fn reenrolment_once_or_after_days() {
        let mut p = playbook(EXAMPLE);
        p.def.trigger = TriggerDef::Measure { measure: "m".into(), band: Band::Red, days: 1 };
        let on = |p: &Playbook, pattern: &[bool]| -> Vec<usize> {
            let mut e = Enrolment::default();
            (0..pattern.len())
                .filter(|i| {
                    let obs = pattern[*i].then(|| json!({}));
                    matches!(p.step(&mut e, day(1 + *i as u32), obs, || true), Some(Act::Fire { .. }))
                })
                .collect()
        };
        let pattern = [true, false, true, false, true, false, true];
        assert_eq!(on(&p, &pattern), vec![0, 2, 4, 6]);
        p.def.reenrol = Reenrol::Once;
        assert_eq!(on(&p, &pattern), vec![0]);
        p.def.reenrol = Reenrol::AfterDays;
        p.def.reenrol_days = Some(4);
        assert_eq!(on(&p, &pattern), vec![0, 4]);
        // Why not: each check in words.
        let mut e = Enrolment::default();
        let why = |p: &Playbook, e: &Enrolment, d: u32, held: bool, cond: bool| {
            p.explain(e, day(d), (held, json!({})), cond).reason
        };
        assert_eq!(why(&p, &e, 1, false, true), "the trigger did not hold that day");
        p.def.trigger = TriggerDef::Measure { measure: "m".into(), band: Band::Red, days: 3 };
        p.step(&mut e, day(1), Some(json!({})), || true);
        assert_eq!(why(&p, &e, 2, true, true), "the trigger had held 2 of the 3 consecutive days it needs");
        p.def.condition = Some("mrr > 0".into());
        assert_eq!(why(&p, &e, 3, true, false), "the condition \"mrr > 0\" did not hold");
        assert_eq!(why(&p, &e, 3, true, true), "it fired");
        p.step(&mut e, day(2), Some(json!({})), || true);
        p.step(&mut e, day(3), Some(json!({})), || true);
        assert_eq!(why(&p, &e, 4, true, true), "it already fired for this run of days (since 2026-11-01)");
        p.def.trigger = TriggerDef::Measure { measure: "m".into(), band: Band::Red, days: 1 };
        p.def.condition = None;
        // The condition is asked only on the day it would fire, and a failed one fires later.
        p.def.reenrol = Reenrol::EveryTime;
        let mut e = Enrolment::default();
        assert_eq!(p.step(&mut e, day(1), Some(json!({})), || false), None);
        assert!(
            matches!(p.step(&mut e, day(2), Some(json!({})), || true), Some(Act::Fire { occurrence, .. }) if occurrence == day(1))
        );
    }

    #[test]
    fn an_email_is_filled_in_once_and_in_the_recipients_language() {
        assert_eq!(
            EmailText::fill("Hi {name}, {account} ({owner}) {x}", "Acme {owner}", "Ana", "Dee"),
            "Hi Ana, Acme {owner} (Dee) {x}"
        );
        assert_eq!(EmailText::one_line("Hello\r\nBcc: x@y"), "Hello Bcc: x@y");
        let text = |s: &str| EmailText { subject: s.into(), body: s.into() };
        let texts = std::collections::BTreeMap::from([("en".to_owned(), text("en")), ("ru".to_owned(), text("ru"))]);
        let pick = |l: Option<&str>| EmailText::pick(&texts, l).unwrap().subject.clone();
        assert_eq!((pick(Some("ru-RU")), pick(Some("de")), pick(None)), ("ru".into(), "en".into(), "en".into()));
    }

    #[test]
    fn definitions_name_what_is_wrong() {
        let def: PlaybookDef = serde_json::from_value(json!({
            "key": "Bad Key", "name": "", "trigger": {"kind": "measure", "measure": "m", "band": "churned", "days": 0},
            "condition": "mrr >", "reenrol": "after_days", "actions": [
                {"kind": "task", "title": "", "task_kind": "chore", "priority": "now"}, {"kind": "tag", "tag": ""}
            ]
        }))
        .unwrap();
        let mut invalid = Invalid::default();
        check_playbook(&def, "playbook[0].", &mut invalid);
        let fields: Vec<&str> = invalid.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "playbook[0].key",
                "playbook[0].name",
                "playbook[0].trigger.band",
                "playbook[0].trigger.days",
                "playbook[0].condition",
                "playbook[0].reenrol_days",
                "playbook[0].actions[0].title",
                "playbook[0].actions[0].task_kind",
                "playbook[0].actions[0].priority",
                "playbook[0].actions[1].tag",
            ]
        );
        assert!(serde_json::from_value::<PlaybookDef>(
            json!({"key": "k", "name": "n", "trigger": {"kind": "health", "band": "red", "extra": 1}, "actions": []})
        )
        .is_err());
        for def in built_in() {
            let mut invalid = Invalid::default();
            check_playbook(&def, "", &mut invalid);
            assert!(invalid.errors.is_empty(), "{}: {invalid}", def.key);
        }
    }
}
