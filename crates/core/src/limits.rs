//! Limits on what people and clients send. Every text, list and nesting has one, checked before
//! any work is done, so no input can make the server hold or scan more than a page's worth: the
//! README lists them, and the API's problem+json names the field and the limit.
//!
//! The figures are generous for real data (the longest company name in Crunchbase's export is
//! under 150 characters; CRM exports carry a few dozen tags at most) and small enough that a list
//! page of 500 rows stays under a few megabytes.

use crate::Invalid;

/// Names of people, accounts, tokens, segments, scorecards: characters.
pub const NAME: usize = 200;
/// Short descriptive texts: industry, plan, title, locale.
pub const SHORT_TEXT: usize = 200;
/// An e-mail address (RFC 5321's path limit).
pub const EMAIL: usize = 254;
/// An id in another system (CRM, Stripe, Segment, product user ids).
pub const EXTERNAL_ID: usize = 255;
/// External ids of one account, and product user ids of one contact.
pub const EXTERNAL_IDS: usize = 20;
/// A tag, in characters.
pub const TAG: usize = 50;
/// Tags on one account.
pub const TAGS: usize = 100;
/// Custom attributes on one account or contact.
pub const ATTRIBUTES: usize = 100;
/// A custom attribute's text value, in characters.
pub const ATTRIBUTE_TEXT: usize = 1_000;
/// A product event's name (a track's `event`, a page's or screen's name).
pub const EVENT_NAME: usize = 255;
/// A Stripe event type (`customer.subscription.deleted`).
pub const STRIPE_EVENT_TYPE: usize = 100;
/// A reason or note a person writes (sentiment, override, renewal outcome).
pub const REASON: usize = 2_000;
/// An interaction's subject, in characters.
pub const SUBJECT: usize = 300;
/// An interaction's body (Markdown), in characters: a long meeting's notes.
pub const BODY: usize = 20_000;
/// People on one side of an interaction (contacts, or members).
pub const PEOPLE: usize = 50;
/// Measures of one scorecard.
pub const MEASURES: usize = 50;
/// Bands of one measure's scale.
pub const SCALE_BANDS: usize = 20;
/// Actions of one playbook.
pub const ACTIONS: usize = 20;
/// The longest a playbook's trigger may be asked to hold, or wait, in days.
pub const PLAYBOOK_DAYS: u32 = 365;
/// Definitions in one file or request.
pub const DEFINITIONS: usize = 1_000;
/// The most rows a list page holds (`limit` of the API and the pages).
pub const PAGE_ROWS: i64 = 500;
/// A list API page's JSON, in bytes: a page stops early (with its cursor) rather than grow past it.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// What is wrong with a tag (trimmed, in lower case), if anything: its length first, then a
/// control character.
pub fn tag(tag: &str) -> Option<String> {
    if tag.chars().count() > TAG {
        Some(format!("is longer than {TAG} characters"))
    } else {
        control_character(tag)
    }
}

/// Why a text is refused before its length: NUL and the other control characters (tab and line
/// breaks aside) have no place in what people type, and PostgreSQL cannot store NUL at all.
pub fn control_character(value: &str) -> Option<String> {
    value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| format!("holds the control character U+{:04X}; remove it", c as u32))
}

/// Checks an optional text against `max` characters and control characters.
pub fn text(invalid: &mut Invalid, field: &str, value: Option<&str>, max: usize) {
    let Some(v) = value else { return };
    if let Some(e) = control_character(v) {
        invalid.push(field, e);
    } else if v.chars().count() > max {
        invalid.push(field, format!("is longer than {max} characters"));
    }
}

/// [`text`], and present (not empty once trimmed).
pub fn required_text(invalid: &mut Invalid, field: &str, value: Option<&str>, max: usize) {
    match value.map(str::trim) {
        None | Some("") => invalid.push(field, "is required"),
        Some(v) => text(invalid, field, Some(v), max),
    }
}

/// Why a definition's key is refused: 1–64 lowercase letters, digits, `_` or `-`.
pub fn key_error(key: &str) -> Option<String> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    (!ok).then(|| "a key is 1–64 lowercase letters, digits, _ or -".to_owned())
}

/// A definition's name at `{at}name`: required, at most [`NAME`] characters.
pub fn definition_name(name: &str, at: &str, invalid: &mut Invalid) {
    if name.trim().is_empty() {
        invalid.push(format!("{at}name"), "a name is required");
    } else {
        text(invalid, &format!("{at}name"), Some(name), NAME);
    }
}

/// Checks a list's length against `max` items.
pub fn count(invalid: &mut Invalid, field: &str, n: usize, max: usize, what: &str) {
    if n > max {
        invalid.push(field, format!("has {n} {what}; the limit is {max}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_their_limit_and_control_characters() {
        let mut invalid = Invalid::default();
        text(&mut invalid, "industry", Some(&"x".repeat(201)), SHORT_TEXT);
        text(&mut invalid, "plan", Some("Gro\0wth"), SHORT_TEXT);
        text(&mut invalid, "title", Some("line\nbreak\tand tab"), SHORT_TEXT);
        required_text(&mut invalid, "name", Some("   "), NAME);
        count(&mut invalid, "tags", 101, TAGS, "tags");
        assert_eq!(
            invalid.to_string(),
            "industry: is longer than 200 characters; plan: holds the control character U+0000; remove it; \
             name: is required; tags: has 101 tags; the limit is 100"
        );
    }
}
