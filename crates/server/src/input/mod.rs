//! JSON request bodies turned into the core's inputs, with every wrong field named. Bodies are read
//! as JSON objects rather than fixed structs so a number sent as a string, a `null` that clears a
//! field and an unknown field each get a precise answer.

use keepwell_core::account::AccountInput;
use keepwell_core::contact::ContactInput;
use keepwell_core::{AttrValue, Invalid};
use keepwell_store::accounts::Account;
use keepwell_store::contacts::Contact;
use serde_json::{Map, Value};
use utoipa::ToSchema;

mod workspace;
pub use workspace::*;

/// Fields a client may send back unchanged from a GET; they are ignored.
const READ_ONLY: &[&str] = &["id", "created_at", "updated_at", "owner", "account_name"];

/// A text field: a string (null clears it); anything else is named as the wrong type.
pub(crate) fn text(field: &str, v: &Value, invalid: &mut Invalid) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => {
            invalid.push(field, "must be a string");
            None
        }
    }
}

/// A whole-number field: a JSON integer (null clears it), as text for the core's checks.
pub(crate) fn integer(field: &str, v: &Value, invalid: &mut Invalid) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => {
            invalid.push(field, "must be a whole number");
            None
        }
    }
}

/// An exact decimal: a decimal in a string (`"1250.00"`), or a JSON number (null clears it).
pub(crate) fn decimal(field: &str, v: &Value, invalid: &mut Invalid) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => {
            invalid.push(field, "must be a decimal in a string, such as \"1250.00\"");
            None
        }
    }
}

/// A field that is one of a fixed set of words, spelt exactly as the API documents them (a CSV
/// import forgives case and spaces; a JSON client gets the enum it was given).
fn word(field: &str, v: &Value, words: &[&str], invalid: &mut Invalid) -> Option<String> {
    let t = text(field, v, invalid)?;
    if words.contains(&t.as_str()) {
        Some(t)
    } else {
        invalid.push(field, format!("{t:?} is not one of {}", words.join(", ")));
        None
    }
}

/// Names every field of `body` that is not one of `known`.
pub(crate) fn only(body: &Map<String, Value>, known: &[&str], invalid: &mut Invalid) {
    for k in body.keys().filter(|k| !known.contains(&k.as_str())) {
        unknown(k, known, invalid);
    }
}

fn strings(field: &str, v: &Value, invalid: &mut Invalid) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => keepwell_core::account::split_tags(s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Value::String(s) => Some(s.clone()),
                _ => {
                    invalid.push(format!("{field}[{i}]"), "must be a string");
                    None
                }
            })
            .collect(),
        _ => {
            invalid.push(field, "must be a list of strings");
            Vec::new()
        }
    }
}

fn merge_attributes(current: &mut Vec<(String, Option<AttrValue>)>, v: &Value, invalid: &mut Invalid) {
    let Value::Object(map) = v else {
        if !v.is_null() {
            invalid.push("attributes", "must be an object of name → value");
        } else {
            current.clear();
        }
        return;
    };
    for (name, value) in map {
        match AttrValue::from_json(value) {
            Ok(parsed) => {
                current.retain(|(n, _)| n != name);
                current.push((name.clone(), parsed));
            }
            Err(e) => invalid.push(format!("attributes.{name}"), e),
        }
    }
}

/// A PATCH that sends `null` or an empty text for a field every record keeps (an account's
/// name, a contact's e-mail) is told it cannot remove it, not that the field "is required": a
/// PATCH may leave out any field, and the answer must not say otherwise.
pub(crate) fn kept(body: &Map<String, Value>, mut e: Invalid) -> Invalid {
    for f in &mut e.errors {
        let emptied =
            body.get(&f.field).is_some_and(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()));
        if emptied && f.message.starts_with("is required") {
            f.message = "cannot be removed; send a new value instead".into();
        }
    }
    e
}

fn unknown(field: &str, known: &[&str], invalid: &mut Invalid) {
    invalid.push(field, format!("is not a field; expected one of {}", known.join(", ")));
}

/// An account body (POST, or PATCH over `base`): the CSV's field names plus `external_ids`,
/// `owner_id` and `attributes`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AccountBody {
    #[schema(max_length = 200)]
    name: String,
    /// A domain name (at most 253 characters once `https://www.` and any path are taken off).
    domain: Option<String>,
    #[schema(max_length = 200)]
    industry: Option<String>,
    #[schema(minimum = 0)]
    employees: Option<i64>,
    /// ISO 3166 alpha-2.
    country: Option<String>,
    #[schema(max_length = 200)]
    plan: Option<String>,
    lifecycle_stage: Option<keepwell_core::LifecycleStage>,
    #[schema(max_length = 254)]
    owner_email: Option<String>,
    owner_id: Option<i64>,
    /// At most 100 tags of at most 50 characters each.
    #[schema(max_items = 100)]
    tags: Option<Vec<String>>,
    /// The CRM id (external id kind `crm`).
    #[schema(max_length = 255)]
    external_id: Option<String>,
    /// Replaces the account's external ids (at most 20).
    #[schema(max_items = 20)]
    external_ids: Option<Vec<keepwell_core::ExternalId>>,
    /// Merged: a `null` value removes an attribute. Values are strings (at most 1 000
    /// characters), numbers, booleans, `YYYY-MM-DD` dates or `{"type", "value"}`; at most 100.
    #[schema(value_type = Option<Object>)]
    attributes: Option<Value>,
    /// Read-only, ignored: a GET's body may be sent back as it is.
    id: Option<Value>,
    /// Read-only, ignored.
    owner: Option<Value>,
    /// Read-only, ignored.
    created_at: Option<Value>,
    /// Read-only, ignored.
    updated_at: Option<Value>,
}

/// The input and the errors of its shape (types, unknown fields); validation adds the rest.
pub fn account_input(body: &Map<String, Value>, mut a: AccountInput) -> (AccountInput, Invalid) {
    const KNOWN: [&str; 13] = keepwell_core::account::around_profile(
        &[],
        &["owner_email", "owner_id", "tags", "external_id", "external_ids", "attributes"],
    );
    let mut invalid = Invalid::default();
    let mut crm = None;
    for (k, v) in body {
        match k.as_str() {
            "employees" => a.employees = integer(k, v, &mut invalid),
            "lifecycle_stage" => {
                let stages = keepwell_core::LifecycleStage::ALL.map(|s| s.as_str());
                a.lifecycle_stage = word(k, v, &stages, &mut invalid)
            }
            k if keepwell_core::account::PROFILE_FIELDS.contains(&k) => {
                a.set_profile(k, text(k, v, &mut invalid));
            }
            "owner_email" => {
                a.owner_email = text(k, v, &mut invalid);
                a.owner_id = None;
            }
            "owner_id" => match v {
                Value::Null => a.owner_id = None,
                Value::Number(n) if n.as_i64().is_some() => {
                    a.owner_id = n.as_i64();
                    a.owner_email = None;
                }
                _ => invalid.push(k, "must be a team member's id"),
            },
            "tags" => a.tags = strings(k, v, &mut invalid),
            "external_id" => crm = Some(text(k, v, &mut invalid)),
            "external_ids" => {
                let Value::Array(items) = v else {
                    invalid.push(k, "must be a list of {\"kind\", \"value\"}");
                    continue;
                };
                a.external_ids.clear();
                for (i, item) in items.iter().enumerate() {
                    let field = format!("external_ids[{i}]");
                    match (item.get("kind").and_then(Value::as_str), item.get("value")) {
                        (Some(kind), Some(value)) => {
                            if let Some(value) = text(&field, value, &mut invalid) {
                                a.external_ids.push((kind.to_owned(), value))
                            }
                        }
                        _ => invalid.push(field, "must be {\"kind\": \"…\", \"value\": \"…\"}"),
                    }
                }
            }
            "attributes" => merge_attributes(&mut a.attributes, v, &mut invalid),
            k if READ_ONLY.contains(&k) => {}
            k => unknown(k, &KNOWN, &mut invalid),
        }
    }
    // `external_id` is the CRM id, whatever `external_ids` says about kind crm.
    if let Some(value) = crm {
        a.external_ids.retain(|(kind, _)| kind != "crm");
        if let Some(value) = value {
            a.external_ids.insert(0, ("crm".into(), value));
        }
    }
    (a, invalid)
}

/// The input that would recreate `a`, for PATCH and edit forms.
pub fn account_as_input(a: &Account) -> AccountInput {
    AccountInput {
        name: Some(a.name.clone()),
        domain: a.domain.clone(),
        industry: a.industry.clone(),
        employees: a.employees.map(|e| e.to_string()),
        country: a.country.clone(),
        plan: a.plan.clone(),
        lifecycle_stage: Some(a.lifecycle_stage.to_string()),
        owner_email: None,
        owner_id: a.owner.as_ref().map(|o| o.id),
        tags: a.tags.clone(),
        external_ids: a.external_ids.iter().map(|e| (e.kind.clone(), e.value.clone())).collect(),
        attributes: a.attributes.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(),
    }
}

/// A contact body: its account by `account_id` or any external id (`account_external_id`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ContactBody {
    account_id: Option<i64>,
    #[schema(max_length = 255)]
    account_external_id: Option<String>,
    /// Unique in the workspace.
    #[schema(max_length = 254)]
    email: String,
    #[schema(max_length = 200)]
    name: Option<String>,
    #[schema(max_length = 200)]
    title: Option<String>,
    /// `champion`, `decision_maker`, `user` or `billing`, in any case, with a space or hyphen
    /// for the underscore (`"Decision Maker"`), as CRM exports write them.
    role: Option<String>,
    /// A language tag such as `en` or `ru`.
    locale: Option<String>,
    /// Product user ids (at most 20, each at most 255 characters).
    #[schema(max_items = 20)]
    external_user_ids: Option<Vec<String>>,
    /// One product user id (the same as `external_user_ids` with one).
    #[schema(max_length = 255)]
    external_user_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    attributes: Option<Value>,
    /// Read-only, ignored: a GET's body may be sent back as it is.
    id: Option<Value>,
    /// Read-only, ignored.
    account_name: Option<Value>,
    /// Read-only, ignored.
    created_at: Option<Value>,
    /// Read-only, ignored.
    updated_at: Option<Value>,
}

pub fn contact_input(body: &Map<String, Value>, mut c: ContactInput) -> (ContactInput, Invalid) {
    const KNOWN: &[&str] = &[
        "account_id",
        "account_external_id",
        "email",
        "name",
        "title",
        "role",
        "locale",
        "external_user_id",
        "external_user_ids",
        "attributes",
    ];
    let mut invalid = Invalid::default();
    for (k, v) in body {
        match k.as_str() {
            "account_id" => match v.as_i64() {
                Some(id) => {
                    c.account_id = Some(id);
                    c.account_external_id = None;
                }
                None => invalid.push(k, "must be an account id"),
            },
            "account_external_id" => {
                c.account_external_id = text(k, v, &mut invalid);
                c.account_id = None;
            }
            "email" => c.email = text(k, v, &mut invalid),
            "name" => c.name = text(k, v, &mut invalid),
            "title" => c.title = text(k, v, &mut invalid),
            "role" => c.role = text(k, v, &mut invalid),
            "locale" => c.locale = text(k, v, &mut invalid),
            "external_user_id" => c.external_user_ids = text(k, v, &mut invalid).into_iter().collect(),
            "external_user_ids" => c.external_user_ids = strings(k, v, &mut invalid),
            "attributes" => merge_attributes(&mut c.attributes, v, &mut invalid),
            k if READ_ONLY.contains(&k) => {}
            k => unknown(k, KNOWN, &mut invalid),
        }
    }
    (c, invalid)
}

pub fn contact_as_input(c: &Contact) -> ContactInput {
    ContactInput {
        account_id: Some(c.account_id),
        account_external_id: None,
        email: Some(c.email.clone()),
        name: c.name.clone(),
        title: c.title.clone(),
        role: c.role.map(|r| r.to_string()),
        locale: c.locale.clone(),
        external_user_ids: c.external_user_ids.clone(),
        attributes: c.attributes.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn account_body_names_each_bad_field() {
        let (_, err) = account_input(
            &obj(json!({"name": ["x"], "employees": true, "colour": "red", "external_ids": [{"kind": "crm"}]})),
            AccountInput::default(),
        );
        let mut fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["colour", "employees", "external_ids[0]", "name"]);
    }

    #[test]
    fn external_id_is_the_crm_id_and_attributes_merge() {
        let base = AccountInput {
            external_ids: vec![("crm".into(), "old".into()), ("stripe".into(), "cus_1".into())],
            attributes: vec![("a".into(), AttrValue::infer("1")), ("b".into(), AttrValue::infer("2"))],
            ..Default::default()
        };
        let (a, err) = account_input(&obj(json!({"external_id": "new", "attributes": {"a": null, "c": true}})), base);
        assert!(err.errors.is_empty());
        assert_eq!(
            a.external_ids,
            vec![("crm".to_string(), "new".to_string()), ("stripe".to_string(), "cus_1".to_string())]
        );
        let names: Vec<_> = a.attributes.iter().filter(|(_, v)| v.is_some()).map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
    }
}
