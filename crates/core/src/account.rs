//! Accounts: the companies a CS team looks after.

use crate::attribute::{self, AttrValue, Attributes};
use crate::invalid::{clean, Invalid};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Where an account stands in its journey. Every account is in exactly one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    Onboarding,
    Adoption,
    Value,
    Expansion,
    Advocacy,
    Renewal,
    Churned,
}

impl LifecycleStage {
    pub const ALL: [LifecycleStage; 7] = [
        LifecycleStage::Onboarding,
        LifecycleStage::Adoption,
        LifecycleStage::Value,
        LifecycleStage::Expansion,
        LifecycleStage::Advocacy,
        LifecycleStage::Renewal,
        LifecycleStage::Churned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Onboarding => "onboarding",
            LifecycleStage::Adoption => "adoption",
            LifecycleStage::Value => "value",
            LifecycleStage::Expansion => "expansion",
            LifecycleStage::Advocacy => "advocacy",
            LifecycleStage::Renewal => "renewal",
            LifecycleStage::Churned => "churned",
        }
    }
}

impl fmt::Display for LifecycleStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LifecycleStage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        LifecycleStage::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            format!(
                "unknown lifecycle stage {s:?}: expected one of {}",
                LifecycleStage::ALL.map(|s| s.as_str()).join(", ")
            )
        })
    }
}

/// One of an account's ids in another system. Unique per kind across the workspace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExternalId {
    pub kind: String,
    pub value: String,
}

impl ExternalId {
    /// The kind an import's `external_id` column and the API's `external_id` field carry.
    pub const CRM: &'static str = "crm";

    pub fn new(kind: &str, value: &str) -> Result<ExternalId, String> {
        let kind = kind.trim().to_ascii_lowercase();
        let value = value.trim();
        if kind.is_empty()
            || kind.len() > 32
            || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("kind {kind:?} must be 1 to 32 letters, digits, '_' or '-'"));
        }
        if value.is_empty() || value.chars().count() > crate::limits::EXTERNAL_ID {
            return Err(format!("value must be 1 to {} characters", crate::limits::EXTERNAL_ID));
        }
        if let Some(e) = crate::limits::control_character(value) {
            return Err(format!("value {e}"));
        }
        Ok(ExternalId { kind, value: value.to_owned() })
    }
}

/// An account as entered by a person, a CSV row or an API call, before validation.
/// Owner is given by e-mail (CSV, forms) or id (API); the store resolves e-mails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountInput {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub employees: Option<String>,
    pub country: Option<String>,
    pub plan: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub owner_email: Option<String>,
    pub owner_id: Option<i64>,
    pub tags: Vec<String>,
    pub external_ids: Vec<(String, String)>,
    pub attributes: Vec<(String, Option<AttrValue>)>,
}

/// The profile fields of an account, as text comes in: named alike in CSV files, JSON bodies and the
/// account form. The one list: the importer's columns, the API's fields and the form build on it.
pub const PROFILE_FIELDS: [&str; 7] = ["name", "domain", "industry", "employees", "country", "plan", "lifecycle_stage"];

/// `before`, then [`PROFILE_FIELDS`], then `after`: a field list that holds the profile fields.
pub const fn around_profile<const N: usize>(before: &[&'static str], after: &[&'static str]) -> [&'static str; N] {
    assert!(N == before.len() + PROFILE_FIELDS.len() + after.len(), "N is the length of all three");
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        let p = PROFILE_FIELDS.len();
        out[i] = if i < before.len() {
            before[i]
        } else if i < before.len() + p {
            PROFILE_FIELDS[i - before.len()]
        } else {
            after[i - before.len() - p]
        };
        i += 1;
    }
    out
}

impl AccountInput {
    /// A profile field as entered; None when not given or when `field` is not one.
    pub fn profile(&self, field: &str) -> Option<&str> {
        match field {
            "name" => self.name.as_deref(),
            "domain" => self.domain.as_deref(),
            "industry" => self.industry.as_deref(),
            "employees" => self.employees.as_deref(),
            "country" => self.country.as_deref(),
            "plan" => self.plan.as_deref(),
            "lifecycle_stage" => self.lifecycle_stage.as_deref(),
            _ => None,
        }
    }

    /// Sets a profile field; false when `field` is not one of [`PROFILE_FIELDS`].
    pub fn set_profile(&mut self, field: &str, value: Option<String>) -> bool {
        let slot = match field {
            "name" => &mut self.name,
            "domain" => &mut self.domain,
            "industry" => &mut self.industry,
            "employees" => &mut self.employees,
            "country" => &mut self.country,
            "plan" => &mut self.plan,
            "lifecycle_stage" => &mut self.lifecycle_stage,
            _ => return false,
        };
        *slot = value;
        true
    }
}

/// A valid account, ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAccount {
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub country: Option<String>,
    pub plan: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    pub owner_email: Option<String>,
    pub owner_id: Option<i64>,
    pub tags: Vec<String>,
    pub external_ids: Vec<ExternalId>,
    pub attributes: Attributes,
}

impl AccountInput {
    /// Checks every field and returns the account, or every invalid field at once.
    pub fn validate(self) -> Result<NewAccount, Invalid> {
        let mut invalid = Invalid::default();
        use crate::limits;
        let name = clean(self.name.as_deref());
        limits::required_text(&mut invalid, "name", name.as_deref(), limits::NAME);
        limits::text(&mut invalid, "industry", self.industry.as_deref(), limits::SHORT_TEXT);
        limits::text(&mut invalid, "plan", self.plan.as_deref(), limits::SHORT_TEXT);
        let domain = match clean(self.domain.as_deref()).map(|d| normalize_domain(&d)) {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                invalid.push("domain", e);
                None
            }
            None => None,
        };
        let employees = match clean(self.employees.as_deref()) {
            None => None,
            Some(e) => match e.replace([',', '_'], "").parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    invalid.push("employees", format!("{e:?} is not a whole number of people"));
                    None
                }
            },
        };
        let country = match clean(self.country.as_deref()) {
            None => None,
            Some(c) if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => Some(c.to_ascii_uppercase()),
            Some(c) => {
                invalid.push("country", format!("{c:?} is not a two-letter ISO 3166 country code (e.g. DE, US)"));
                None
            }
        };
        let lifecycle_stage = match clean(self.lifecycle_stage.as_deref()) {
            None => LifecycleStage::Onboarding,
            Some(s) => s.parse().unwrap_or_else(|e: String| {
                invalid.push("lifecycle_stage", e);
                LifecycleStage::Onboarding
            }),
        };
        let owner_email = clean(self.owner_email.as_deref()).map(|e| e.to_ascii_lowercase());
        if let Some(e) = &owner_email {
            if !crate::invalid::is_email(e) {
                invalid.push("owner_email", format!("{e:?} is not an e-mail address"));
            }
        }
        // The list as sent is what the limit counts, before any work on it (blank ones and
        // repeats included).
        limits::count(&mut invalid, "tags", self.tags.len(), limits::TAGS, "tags");
        let mut tags: Vec<String> =
            self.tags.iter().take(limits::TAGS).filter_map(|t| clean(Some(t))).map(|t| t.to_lowercase()).collect();
        tags.sort();
        tags.dedup();
        if let Some(e) = tags.iter().find_map(|t| limits::tag(t)) {
            invalid.push("tags", format!("a tag {e}"));
        }
        limits::count(&mut invalid, "external_ids", self.external_ids.len(), limits::EXTERNAL_IDS, "external ids");
        let mut external_ids = Vec::new();
        for (i, (kind, value)) in self.external_ids.iter().enumerate() {
            match ExternalId::new(kind, value) {
                Ok(id) => {
                    if external_ids.iter().any(|e: &ExternalId| e.kind == id.kind) {
                        invalid.push(
                            format!("external_ids[{i}]"),
                            format!("kind {:?} is given twice; an account has one id per kind", id.kind),
                        );
                    }
                    external_ids.push(id)
                }
                Err(e) => invalid.push(format!("external_ids[{i}]"), e),
            }
        }
        let attributes = attribute::collect(self.attributes, &mut invalid);
        invalid.into_result(NewAccount {
            name: name.unwrap_or_default(),
            domain,
            industry: clean(self.industry.as_deref()),
            employees,
            country,
            plan: clean(self.plan.as_deref()),
            lifecycle_stage,
            owner_email,
            owner_id: self.owner_id,
            tags,
            external_ids,
            attributes,
        })
    }
}

/// Splits a tag list as people write it: commas or semicolons.
pub fn split_tags(cell: &str) -> Vec<String> {
    cell.split([',', ';']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// `https://www.Example.com/pricing` → `example.com`.
pub fn normalize_domain(raw: &str) -> Result<String, String> {
    let mut d = raw.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = d.strip_prefix(prefix) {
            d = rest.to_owned();
        }
    }
    if let Some(rest) = d.strip_prefix("www.") {
        d = rest.to_owned();
    }
    let d = d.split(['/', '?', '#']).next().unwrap_or_default().to_owned();
    let valid = d.contains('.')
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty() && !label.starts_with('-') && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if valid {
        Ok(d)
    } else {
        Err(format!("{raw:?} is not a domain name (e.g. example.com)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AccountInput {
        AccountInput {
            name: Some(" Acme GmbH ".into()),
            domain: Some("https://www.Acme.de/about".into()),
            employees: Some("1,200".into()),
            country: Some("de".into()),
            lifecycle_stage: Some("Adoption".into()),
            tags: vec!["Enterprise".into(), "enterprise".into(), " beta ".into()],
            external_ids: vec![("CRM".into(), "0015g00000ABC".into())],
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_account_is_normalised() {
        let a = input().validate().unwrap();
        assert_eq!(a.name, "Acme GmbH");
        assert_eq!(a.domain.as_deref(), Some("acme.de"));
        assert_eq!(a.employees, Some(1200));
        assert_eq!(a.country.as_deref(), Some("DE"));
        assert_eq!(a.lifecycle_stage, LifecycleStage::Adoption);
        assert_eq!(a.tags, vec!["beta", "enterprise"]);
        assert_eq!(a.external_ids[0].kind, "crm");
    }

    /// The tag limit counts the list as sent: 101 blank tags are refused, not dropped to none.
    #[test]
    fn too_many_tags_are_refused_even_blank_ones() {
        let err = AccountInput { tags: vec![String::new(); 101], ..input() }.validate().unwrap_err();
        assert_eq!(err.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["tags"]);
        assert!(AccountInput { tags: vec!["a".into(); 100], ..input() }.validate().is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = AccountInput {
            name: None,
            domain: Some("not a domain".into()),
            employees: Some("-3".into()),
            country: Some("Germany".into()),
            lifecycle_stage: Some("happy".into()),
            owner_email: Some("bob".into()),
            external_ids: vec![("crm".into(), "1".into()), ("crm".into(), "2".into())],
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "domain", "employees", "country", "lifecycle_stage", "owner_email", "external_ids[1]"]
        );
    }

    #[test]
    fn tags_split_on_commas_and_semicolons() {
        assert_eq!(split_tags("a, b;c,,"), vec!["a", "b", "c"]);
    }
}
