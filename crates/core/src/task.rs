//! Tasks a CSM works: what kind, how urgent, when due, whose, about which account. Validation
//! and the inbox's day arithmetic; the store keeps them.

use crate::limits;
use crate::Invalid;
use chrono::{Datelike, NaiveDate};

/// Declares a closed set of words: the enum, its words and a parser naming the choices.
macro_rules! words {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            pub fn parse(s: &str) -> Result<$name, String> {
                let s = s.trim().to_ascii_lowercase();
                $name::ALL.iter().copied().find(|k| k.as_str() == s).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|k| k.as_str()).collect();
                    format!("{s:?} is not a {}: one of {}", $what, all.join(", "))
                })
            }
        }
    };
}

words!(
    /// What a task is about.
    Kind, "kind of task", {
        Risk => "risk",
        Opportunity => "opportunity",
        Onboarding => "onboarding",
        Renewal => "renewal",
        Other => "other",
    }
);

words!(
    /// How urgent a task is, least first.
    Priority, "priority", {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
);

words!(
    /// Where a task stands: open until done or cancelled.
    Status, "task status", {
        Open => "open",
        Done => "done",
        Cancelled => "cancelled",
    }
);

/// A task as a person or a client states it, before validation. Each `None` keeps the default
/// (a new task) or what the task says (a change, see the API's merge).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    pub title: Option<String>,
    pub kind: Option<String>,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub due_on: Option<NaiveDate>,
    pub snoozed_until: Option<NaiveDate>,
    pub owner_id: Option<i64>,
    pub account_id: Option<i64>,
    pub description: Option<String>,
    /// What an automation's task is about (`renewal:123`): one open task per source.
    pub source: Option<String>,
}

/// A valid task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInput {
    pub title: String,
    pub kind: Kind,
    pub priority: Priority,
    pub status: Status,
    pub due_on: Option<NaiveDate>,
    pub snoozed_until: Option<NaiveDate>,
    pub owner_id: Option<i64>,
    pub account_id: Option<i64>,
    pub description: String,
    pub source: Option<String>,
}

/// How far from today a due date may be: ten years.
const DUE_YEARS: i32 = 10;

impl Draft {
    /// Checks every field, naming each that is wrong; `today` bounds the dates.
    pub fn validate(self, today: NaiveDate) -> Result<TaskInput, Invalid> {
        let mut invalid = Invalid::default();
        limits::required_text(&mut invalid, "title", self.title.as_deref(), limits::SUBJECT);
        limits::text(&mut invalid, "description", self.description.as_deref(), limits::BODY);
        limits::text(&mut invalid, "source", self.source.as_deref(), limits::EXTERNAL_ID);
        let mut word = |field: &str, value: Option<&str>, parse: &dyn Fn(&str) -> Result<(), String>| {
            if let Some(Err(e)) = value.map(parse) {
                invalid.push(field, e);
            }
        };
        word("kind", self.kind.as_deref(), &|s| Kind::parse(s).map(drop));
        word("priority", self.priority.as_deref(), &|s| Priority::parse(s).map(drop));
        word("status", self.status.as_deref(), &|s| Status::parse(s).map(drop));
        for (field, day) in [("due_on", self.due_on), ("snoozed_until", self.snoozed_until)] {
            if day.is_some_and(|d| (d.year() - today.year()).abs() > DUE_YEARS) {
                invalid.push(field, format!("is more than {DUE_YEARS} years from today"));
            }
        }
        invalid.into_result(())?;
        Ok(TaskInput {
            title: self.title.unwrap_or_default().trim().to_owned(),
            kind: given(self.kind.as_deref()).map_or(Ok(Kind::Other), Kind::parse).unwrap_or(Kind::Other),
            priority: given(self.priority.as_deref())
                .map_or(Ok(Priority::Normal), Priority::parse)
                .unwrap_or(Priority::Normal),
            status: given(self.status.as_deref()).map_or(Ok(Status::Open), Status::parse).unwrap_or(Status::Open),
            due_on: self.due_on,
            snoozed_until: self.snoozed_until,
            owner_id: self.owner_id,
            account_id: self.account_id,
            description: self.description.unwrap_or_default().trim().to_owned(),
            source: given(self.source.as_deref()).map(str::to_owned),
        })
    }
}

impl From<&TaskInput> for Draft {
    fn from(t: &TaskInput) -> Draft {
        Draft {
            title: Some(t.title.clone()),
            kind: Some(t.kind.as_str().into()),
            priority: Some(t.priority.as_str().into()),
            status: Some(t.status.as_str().into()),
            due_on: t.due_on,
            snoozed_until: t.snoozed_until,
            owner_id: t.owner_id,
            account_id: t.account_id,
            description: Some(t.description.clone()),
            source: t.source.clone(),
        }
    }
}

/// A comment on a task: at most [`limits::BODY`] characters, not blank.
pub fn comment(body: Option<&str>) -> Result<String, Invalid> {
    let mut invalid = Invalid::default();
    limits::required_text(&mut invalid, "body", body, limits::BODY);
    invalid.into_result(body.unwrap_or_default().trim().to_owned())
}

fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Which tasks of an inbox by their due date, as of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Due before the day.
    Overdue,
    /// Due on the day.
    Today,
    /// Due from the day through the Sunday of its ISO week (overdue ones not included).
    Week,
    /// Due on or before the Sunday of the day's week, overdue included: what to do now.
    Now,
    /// Without a due date.
    None,
}

impl Due {
    pub const WORDS: [(&'static str, Due); 5] =
        [("overdue", Due::Overdue), ("today", Due::Today), ("week", Due::Week), ("now", Due::Now), ("none", Due::None)];

    /// The due dates `(from, through)` this means as of `today`: `None` for no bound.
    pub fn range(self, today: NaiveDate) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let sunday = today + chrono::Days::new(6 - u64::from(today.weekday().num_days_from_monday()));
        match self {
            Due::Overdue => (None, today.pred_opt()),
            Due::Today => (Some(today), Some(today)),
            Due::Week => (Some(today), Some(sunday)),
            Due::Now => (None, Some(sunday)),
            Due::None => (None, None),
        }
    }
}

/// Whether a task snoozed until `until` is out of the inbox on `today` (it comes back on that day).
pub fn snoozed(until: Option<NaiveDate>, today: NaiveDate) -> bool {
    until.is_some_and(|u| u > today)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn fields(e: Invalid) -> Vec<String> {
        e.errors.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn a_task_names_what_is_wrong_with_it() {
        let ok = Draft { title: Some(" Call Ann ".into()), kind: Some("Risk".into()), ..Default::default() }
            .validate(day("2026-12-01"))
            .unwrap();
        assert_eq!(
            (ok.title.as_str(), ok.kind, ok.priority, ok.status),
            ("Call Ann", Kind::Risk, Priority::Normal, Status::Open)
        );
        let bad = Draft {
            kind: Some("chore".into()),
            priority: Some("asap".into()),
            status: Some("closed".into()),
            due_on: Some(day("2040-01-01")),
            source: Some("s".repeat(300)),
            ..Default::default()
        };
        assert_eq!(
            fields(bad.validate(day("2026-12-01")).unwrap_err()),
            ["title", "source", "kind", "priority", "status", "due_on"]
        );
    }

    #[test]
    fn the_inbox_reads_due_dates_as_of_a_day() {
        // Tuesday 1 December 2026: its week ends on Sunday the 6th.
        let today = day("2026-12-01");
        assert_eq!(Due::Overdue.range(today), (None, Some(day("2026-11-30"))));
        assert_eq!(Due::Week.range(today), (Some(today), Some(day("2026-12-06"))));
        assert_eq!(Due::Now.range(day("2026-12-06")), (None, Some(day("2026-12-06"))));
        assert!(snoozed(Some(day("2026-12-02")), today));
        assert!(!snoozed(Some(today), today), "a task snoozed until today is back today");
        assert!(!snoozed(None, today));
    }
}
