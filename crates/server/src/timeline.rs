//! An account's timeline, worded for people: the store's facts, each titled in the reader's
//! language from its event and arguments (stages, bands and kinds in words, never raw JSON).

use crate::i18n::{I18n, Lang};
use crate::params::Params;
use crate::refused::Outcome;
use keepwell_core::Invalid;
use keepwell_store::timeline::{Cause, Fact, TimelineFilter, KINDS};
use keepwell_store::Store;
use serde::Serialize;

/// One entry of the timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub at: chrono::DateTime<chrono::Utc>,
    /// `interaction`, `task`, `stage`, `health`, `segment`, `sentiment`, `override`,
    /// `subscription`, `invoice`, `usage` or `delivery`.
    pub kind: String,
    pub title: String,
    /// More, as written (an interaction's body is Markdown).
    pub detail: Option<String>,
    pub cause: Cause,
    /// The page it is about (an interaction, a task, a delivery), if any.
    pub link: Option<String>,
}

/// A page of the timeline and the `before` of the next.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    pub data: Vec<Entry>,
    pub next_cursor: Option<String>,
}

/// An argument as words: stages, bands, kinds and statuses by their message, the rest as is.
fn word(i18n: &I18n, lang: Lang, name: &str, value: &str) -> String {
    let key = match name {
        "from" | "to" if value.starts_with(char::is_lowercase) => {
            let band = ["green", "yellow", "red", "unscored"].contains(&value);
            if band {
                format!("band-{value}")
            } else {
                format!("stage-{value}")
            }
        }
        "kind" => format!("interaction-kind-{value}"),
        "status" => format!("delivery-{value}"),
        _ => return value.to_owned(),
    };
    if i18n.has(lang, &key) {
        i18n.text(lang, &key, &[])
    } else {
        value.to_owned()
    }
}

/// The entry a fact reads as in `lang`.
pub fn entry(i18n: &I18n, lang: Lang, f: Fact) -> Entry {
    let args: Vec<(&str, fluent_bundle::FluentValue<'_>)> =
        f.args.iter().map(|(k, v)| (*k, fluent_bundle::FluentValue::from(word(i18n, lang, k, v)))).collect();
    let title = i18n.text(lang, &format!("tl-{}", f.event), &args);
    let link = f.link.map(|(what, id)| match what {
        "task" => format!("/tasks/{id}"),
        "delivery" => format!("/settings/deliveries/{id}"),
        _ => format!("#{what}-{id}"),
    });
    Entry { at: f.at, kind: f.kind.to_owned(), title, detail: f.detail, cause: f.cause, link }
}

/// A page of account `filter.account_id`'s timeline in `lang`.
pub async fn page(store: &Store, i18n: &I18n, lang: Lang, filter: &TimelineFilter) -> Outcome<Timeline> {
    let facts = store.timeline(filter).await?;
    Ok(Timeline {
        data: facts.data.into_iter().map(|f| entry(i18n, lang, f)).collect(),
        next_cursor: facts.next_cursor,
    })
}

/// The timeline's filter from a query (the API's and the account page's).
pub fn filter(p: &Params, account_id: i64, today: chrono::NaiveDate) -> Result<TimelineFilter, Invalid> {
    let mut invalid = Invalid::default();
    let mut kinds = Vec::new();
    for k in p.text("kind").iter().flat_map(|k| k.split(',')).map(str::trim).filter(|k| !k.is_empty()) {
        if KINDS.contains(&k) {
            kinds.push(k.to_owned());
        } else {
            invalid.push("kind", format!("has no kind {k:?}; use a comma-separated list of {}", KINDS.join(", ")));
            break;
        }
    }
    let limit = p.limit(&mut invalid);
    invalid.into_result(TimelineFilter { account_id, kinds, limit, before: p.text("before"), today: Some(today) })
}
