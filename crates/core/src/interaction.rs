//! Interactions a CSM logs on an account: what kind, when, about what, with whom. Validation
//! only; the store keeps them and the pass counts `days_since_interaction()` from them.

use crate::limits;
use crate::Invalid;
use chrono::{DateTime, Utc};

/// What kind of interaction it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    Call,
    Meeting,
    Note,
    Qbr,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Email, Kind::Call, Kind::Meeting, Kind::Note, Kind::Qbr];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Call => "call",
            Kind::Meeting => "meeting",
            Kind::Note => "note",
            Kind::Qbr => "qbr",
        }
    }

    pub fn parse(s: &str) -> Result<Kind, String> {
        let s = s.trim().to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a kind of interaction: one of email, call, meeting, note, qbr"))
    }
}

/// An interaction as a person or a client states it, before validation.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub kind: Option<String>,
    /// Default now.
    pub occurred_at: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub contact_ids: Vec<i64>,
    pub user_ids: Vec<i64>,
    pub external_id: Option<String>,
}

/// A valid interaction: a kind, a time no more than a year ahead, a subject (the body's first
/// line when none is given), a body of at most [`limits::BODY`] characters, and at most
/// [`limits::PEOPLE`] contacts and members, each named once.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionInput {
    pub kind: Kind,
    pub occurred_at: DateTime<Utc>,
    pub subject: String,
    pub body: String,
    pub contact_ids: Vec<i64>,
    pub user_ids: Vec<i64>,
    pub external_id: Option<String>,
}

/// The characters of a body's first line that stand for a subject when none is given.
const SUBJECT_FROM_BODY: usize = 120;

impl Draft {
    /// Checks every field, naming each that is wrong; `now` bounds the time.
    pub fn validate(self, now: DateTime<Utc>) -> Result<InteractionInput, Invalid> {
        let mut invalid = Invalid::default();
        let kind = match self.kind.as_deref() {
            None => {
                invalid.push("kind", "say what kind: email, call, meeting, note or qbr");
                None
            }
            Some(k) => Kind::parse(k).map_err(|e| invalid.push("kind", e)).ok(),
        };
        let occurred_at = self.occurred_at.unwrap_or(now);
        if occurred_at > now + chrono::Duration::days(366) {
            invalid.push("occurred_at", "is more than a year ahead");
        }
        limits::text(&mut invalid, "subject", self.subject.as_deref(), limits::SUBJECT);
        limits::text(&mut invalid, "body", self.body.as_deref(), limits::BODY);
        limits::text(&mut invalid, "external_id", self.external_id.as_deref(), limits::EXTERNAL_ID);
        let body = self.body.unwrap_or_default().trim().to_owned();
        let mut subject = self.subject.unwrap_or_default().trim().to_owned();
        if subject.is_empty() {
            let first = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
            subject = first.trim_start_matches('#').trim().chars().take(SUBJECT_FROM_BODY).collect();
        }
        if subject.is_empty() {
            invalid.push("subject", "give a subject or a body");
        }
        for (field, ids) in [("contact_ids", &self.contact_ids), ("user_ids", &self.user_ids)] {
            limits::count(&mut invalid, field, ids.len(), limits::PEOPLE, "people");
            let mut seen = std::collections::HashSet::new();
            if let Some(twice) = ids.iter().find(|id| !seen.insert(**id)) {
                invalid.push(field, format!("names {twice} twice"));
            }
        }
        let external_id = self.external_id.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
        let kind = invalid.into_result(kind)?;
        Ok(InteractionInput {
            kind: kind.unwrap_or(Kind::Note),
            occurred_at,
            subject,
            body,
            contact_ids: self.contact_ids,
            user_ids: self.user_ids,
            external_id,
        })
    }
}

impl From<&InteractionInput> for Draft {
    fn from(i: &InteractionInput) -> Draft {
        Draft {
            kind: Some(i.kind.as_str().into()),
            occurred_at: Some(i.occurred_at),
            subject: Some(i.subject.clone()),
            body: Some(i.body.clone()),
            contact_ids: i.contact_ids.clone(),
            user_ids: i.user_ids.clone(),
            external_id: i.external_id.clone(),
        }
    }
}

/// One row of an interactions file, as written.
#[derive(Debug, Clone, Default)]
pub struct ImportRow {
    pub account_external_id: Option<String>,
    pub occurred_at: Option<String>,
    pub kind: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// Contacts of the account by e-mail, `;`-separated.
    pub contact_email: Option<String>,
    /// Members of the team by e-mail, `;`-separated.
    pub user_email: Option<String>,
    pub external_id: Option<String>,
}

/// A valid row: the account it names, the interaction, and its people by e-mail (the store
/// finds them).
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub account_external_id: String,
    pub input: InteractionInput,
    pub contact_emails: Vec<String>,
    pub user_emails: Vec<String>,
}

/// An instant in ISO 8601 (without an offset, UTC) or a bare date (its midnight, UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    crate::ingest::instant(text, "occurred_at", None).ok().or_else(|| {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_time(Default::default()).and_utc())
    })
}

/// `a@x.com; b@y.com` as distinct lower-case addresses, naming the first that is not one.
fn emails(invalid: &mut Invalid, field: &str, list: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in list.unwrap_or_default().split(';').map(str::trim).filter(|e| !e.is_empty()) {
        if !crate::invalid::is_email(e) {
            invalid.push(field, format!("{e:?} is not an e-mail address"));
            return Vec::new();
        }
        let e = e.to_lowercase();
        if !out.contains(&e) {
            out.push(e);
        }
    }
    limits::count(invalid, field, out.len(), limits::PEOPLE, "people");
    out
}

impl ImportRow {
    /// Checks every cell, naming each that is wrong; `now` bounds the time.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<Imported, Invalid> {
        let mut invalid = Invalid::default();
        limits::required_text(
            &mut invalid,
            "account_external_id",
            self.account_external_id.as_deref(),
            limits::EXTERNAL_ID,
        );
        let occurred_at = match self.occurred_at.as_deref().map(str::trim) {
            None | Some("") => {
                invalid.push("occurred_at", "is required");
                None
            }
            Some(t) => parse_time(t).or_else(|| {
                invalid.push("occurred_at", format!("{t:?} is not a time: write 2026-11-30T14:00:00Z or 2026-11-30"));
                None
            }),
        };
        let contact_emails = emails(&mut invalid, "contact_email", self.contact_email.as_deref());
        let user_emails = emails(&mut invalid, "user_email", self.user_email.as_deref());
        let draft = Draft {
            kind: self.kind.clone(),
            occurred_at: occurred_at.or(Some(now)),
            subject: self.subject.clone(),
            body: self.body.clone(),
            contact_ids: Vec::new(),
            user_ids: Vec::new(),
            external_id: self.external_id.clone(),
        };
        let input = match draft.validate(now) {
            Ok(i) => Some(i),
            Err(e) => {
                invalid.errors.extend(e.errors);
                None
            }
        };
        let input = invalid.into_result(input)?;
        Ok(Imported {
            account_external_id: self.account_external_id.as_deref().unwrap_or_default().trim().to_owned(),
            input: input.ok_or_else(|| Invalid::field("kind", "is required"))?,
            contact_emails,
            user_emails,
        })
    }
}

/// Days from the last interaction on or before `day` to `day`; an account never contacted
/// counts from `customer_since` (the start of its first subscription); none without either.
/// `interactions` are the days of its interactions, oldest first.
pub fn days_since(
    interactions: &[chrono::NaiveDate],
    customer_since: Option<chrono::NaiveDate>,
    day: chrono::NaiveDate,
) -> Option<i64> {
    let last = interactions.iter().rev().find(|d| **d <= day).copied();
    let from = last.or(customer_since.filter(|s| *s <= day))?;
    Some((day - from).num_days())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn fields(e: Invalid) -> Vec<String> {
        e.errors.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn an_interaction_names_what_is_wrong_with_it() {
        let ok = Draft { kind: Some("Call".into()), subject: Some(" Renewal talk ".into()), ..Default::default() }
            .validate(noon())
            .unwrap();
        assert_eq!((ok.kind, ok.subject.as_str(), ok.occurred_at), (Kind::Call, "Renewal talk", noon()));
        let bad = Draft {
            kind: Some("fax".into()),
            occurred_at: Some(noon() + chrono::Duration::days(400)),
            body: Some("x".repeat(limits::BODY + 1)),
            contact_ids: vec![1, 1],
            user_ids: (0..51).collect(),
            ..Default::default()
        };
        assert_eq!(
            fields(bad.validate(noon()).unwrap_err()),
            ["kind", "occurred_at", "body", "contact_ids", "user_ids"]
        );
        let empty = Draft { kind: Some("note".into()), ..Default::default() };
        assert_eq!(fields(empty.validate(noon()).unwrap_err()), ["subject"]);
    }

    #[test]
    fn a_note_without_a_subject_takes_its_first_line() {
        let d = Draft {
            kind: Some("note".into()),
            body: Some("\n# Champion left\n\nSarah moved on.".into()),
            ..Default::default()
        };
        assert_eq!(d.validate(noon()).unwrap().subject, "Champion left");
    }

    #[test]
    fn an_imported_row_names_its_people_by_email() {
        let row = ImportRow {
            account_external_id: Some("crm-1".into()),
            occurred_at: Some("2026-11-30".into()),
            kind: Some("qbr".into()),
            subject: Some("Q4 review".into()),
            contact_email: Some("Ann@Acme.com; bob@acme.com;ann@acme.com".into()),
            user_email: Some("csm@keepwell.test".into()),
            ..Default::default()
        };
        let ok = row.validate(noon()).unwrap();
        assert_eq!(ok.input.occurred_at, Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap());
        assert_eq!(ok.contact_emails, ["ann@acme.com", "bob@acme.com"]);
        assert_eq!(ok.user_emails, ["csm@keepwell.test"]);
        let bad = ImportRow {
            occurred_at: Some("yesterday".into()),
            kind: Some("fax".into()),
            contact_email: Some("ann at acme".into()),
            ..Default::default()
        };
        assert_eq!(
            fields(bad.validate(noon()).unwrap_err()),
            ["account_external_id", "occurred_at", "contact_email", "kind", "subject"]
        );
    }

    #[test]
    fn days_since_the_last_interaction_or_else_the_first_subscription() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let calls = [d("2026-10-01"), d("2026-11-20")];
        assert_eq!(days_since(&calls, Some(d("2026-01-01")), d("2026-12-01")), Some(11));
        // As of a day between the two calls, the later one has not happened yet.
        assert_eq!(days_since(&calls, Some(d("2026-01-01")), d("2026-11-01")), Some(31));
        // Never contacted: from the start of the first subscription; without one, no value.
        assert_eq!(days_since(&[], Some(d("2026-11-01")), d("2026-12-01")), Some(30));
        assert_eq!(days_since(&[], None, d("2026-12-01")), None);
        assert_eq!(days_since(&calls, None, d("2026-09-01")), None);
    }
}
