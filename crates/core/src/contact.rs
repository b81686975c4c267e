//! Contacts: the people at an account.

use crate::attribute::{self, AttrValue, Attributes};
use crate::invalid::{clean, is_email, Invalid};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// What a contact is to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    Champion,
    DecisionMaker,
    User,
    Billing,
}

impl ContactRole {
    pub const ALL: [ContactRole; 4] =
        [ContactRole::Champion, ContactRole::DecisionMaker, ContactRole::User, ContactRole::Billing];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactRole::Champion => "champion",
            ContactRole::DecisionMaker => "decision_maker",
            ContactRole::User => "user",
            ContactRole::Billing => "billing",
        }
    }
}

impl fmt::Display for ContactRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContactRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        ContactRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown contact role {s:?}: expected champion, decision_maker, user or billing"))
    }
}

/// A contact as entered, before validation. The account is named by id or by any external id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactInput {
    pub account_id: Option<i64>,
    pub account_external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub title: Option<String>,
    pub role: Option<String>,
    pub locale: Option<String>,
    pub external_user_ids: Vec<String>,
    pub attributes: Vec<(String, Option<AttrValue>)>,
}

/// Which account a contact belongs to, before the store resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AccountRef {
    Id(i64),
    ExternalId(String),
}

/// A valid contact, ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewContact {
    pub account: AccountRef,
    pub email: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub role: Option<ContactRole>,
    pub locale: Option<String>,
    pub external_user_ids: Vec<String>,
    pub attributes: Attributes,
}

impl ContactInput {
    pub fn validate(self) -> Result<NewContact, Invalid> {
        let mut invalid = Invalid::default();
        let account = match (self.account_id, clean(self.account_external_id.as_deref())) {
            (Some(id), _) => Some(AccountRef::Id(id)),
            (None, Some(ext)) => Some(AccountRef::ExternalId(ext)),
            (None, None) => {
                invalid.push("account_external_id", "is required: name the contact's account");
                None
            }
        };
        use crate::limits;
        limits::text(&mut invalid, "account_external_id", self.account_external_id.as_deref(), limits::EXTERNAL_ID);
        let email = clean(self.email.as_deref()).map(|e| e.to_ascii_lowercase());
        match &email {
            None => invalid.push("email", "is required"),
            Some(e) if !is_email(e) => invalid.push("email", format!("{e:?} is not an e-mail address")),
            _ => {}
        }
        limits::text(&mut invalid, "name", self.name.as_deref(), limits::NAME);
        limits::text(&mut invalid, "title", self.title.as_deref(), limits::SHORT_TEXT);
        let role = match clean(self.role.as_deref()) {
            None => None,
            Some(r) => match r.parse() {
                Ok(r) => Some(r),
                Err(e) => {
                    invalid.push("role", e);
                    None
                }
            },
        };
        let locale = match clean(self.locale.as_deref()) {
            None => None,
            Some(l) if is_locale(&l) => Some(l),
            Some(l) => {
                invalid.push("locale", format!("{l:?} is not a language tag (e.g. en, ru, de-DE)"));
                None
            }
        };
        let mut external_user_ids: Vec<String> = self.external_user_ids.iter().filter_map(|u| clean(Some(u))).collect();
        external_user_ids.sort();
        external_user_ids.dedup();
        for id in &external_user_ids {
            limits::text(&mut invalid, "external_user_ids", Some(id), limits::EXTERNAL_ID);
        }
        limits::count(&mut invalid, "external_user_ids", external_user_ids.len(), limits::EXTERNAL_IDS, "user ids");
        let attributes = attribute::collect(self.attributes, &mut invalid);
        let result = NewContact {
            account: account.unwrap_or(AccountRef::Id(0)),
            email: email.unwrap_or_default(),
            name: clean(self.name.as_deref()),
            title: clean(self.title.as_deref()),
            role,
            locale,
            external_user_ids,
            attributes,
        };
        invalid.into_result(result)
    }
}

/// A BCP 47 language tag as people write them: `en`, `ru`, `pt-BR`, `zh-Hant-TW`.
pub fn is_locale(tag: &str) -> bool {
    let mut parts = tag.split(['-', '_']);
    let lang_ok =
        parts.next().is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
    lang_ok && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_validates() {
        let c = ContactInput {
            account_external_id: Some("crm-1".into()),
            email: Some("Ann@Acme.de".into()),
            role: Some("Decision Maker".into()),
            locale: Some("de-DE".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(c.email, "ann@acme.de");
        assert_eq!(c.role, Some(ContactRole::DecisionMaker));
        assert_eq!(c.account, AccountRef::ExternalId("crm-1".into()));
    }

    #[test]
    fn bad_contact_names_fields() {
        let err = ContactInput {
            email: Some("nope".into()),
            role: Some("boss".into()),
            locale: Some("english!".into()),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["account_external_id", "email", "role", "locale"]);
    }
}
