//! Custom attributes: typed values (text, number, date, bool) a workspace adds to its accounts.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// A typed custom attribute value. Serialised as `{"type": "number", "value": "12.5"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum AttrValue {
    Text(String),
    Number(Decimal),
    Date(NaiveDate),
    Bool(bool),
}

/// Attributes by name, sorted so output is stable.
pub type Attributes = BTreeMap<String, AttrValue>;

impl AttrValue {
    /// Infers a type from a CSV cell: `true`/`false`, a decimal number, an ISO date, else text.
    pub fn infer(cell: &str) -> Option<AttrValue> {
        let cell = cell.trim();
        if cell.is_empty() {
            return None;
        }
        Some(match cell.to_ascii_lowercase().as_str() {
            "true" => AttrValue::Bool(true),
            "false" => AttrValue::Bool(false),
            _ => {
                if let Ok(d) = NaiveDate::parse_from_str(cell, "%Y-%m-%d") {
                    AttrValue::Date(d)
                } else if let Some(n) = parse_number(cell) {
                    AttrValue::Number(n)
                } else {
                    AttrValue::Text(cell.to_owned())
                }
            }
        })
    }

    /// Reads a JSON value: a bare string, number or bool (type inferred, strings stay text unless
    /// they are ISO dates), or an explicit `{"type", "value"}` object.
    pub fn from_json(value: &serde_json::Value) -> Result<Option<AttrValue>, String> {
        use serde_json::Value;
        match value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(AttrValue::Bool(*b))),
            Value::Number(n) => Decimal::from_str(&n.to_string())
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .map(|d| Some(AttrValue::Number(d)))
                .map_err(|_| format!("{n} is not a decimal number")),
            Value::String(s) => Ok(Some(match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => AttrValue::Date(d),
                Err(_) => AttrValue::Text(s.clone()),
            })),
            Value::Object(_) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| format!("expected {{\"type\": text|number|date|bool, \"value\": …}}: {e}")),
            Value::Array(_) => Err("must be a text, number, date or bool, not a list".into()),
        }
    }

    /// The value as a person reads it.
    pub fn display(&self) -> String {
        match self {
            AttrValue::Text(s) => s.clone(),
            AttrValue::Number(n) => n.normalize().to_string(),
            AttrValue::Date(d) => d.to_string(),
            AttrValue::Bool(b) => b.to_string(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::Text(_) => "text",
            AttrValue::Number(_) => "number",
            AttrValue::Date(_) => "date",
            AttrValue::Bool(_) => "bool",
        }
    }
}

fn parse_number(cell: &str) -> Option<Decimal> {
    let looks_numeric = cell.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
        && cell.chars().any(|c| c.is_ascii_digit());
    // Leading zeros ("007", zip codes) are identifiers, not numbers.
    let leading_zero = cell.len() > 1 && cell.starts_with('0') && !cell.starts_with("0.");
    if !looks_numeric || leading_zero {
        return None;
    }
    Decimal::from_str(cell).ok()
}

/// An attribute name: 1–64 characters of letters, digits, `_`, `-`, `.` or space.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err("attribute names are 1 to 64 characters".into());
    }
    if !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ')) {
        return Err(format!("attribute name {name:?} may hold only letters, digits, '_', '-', '.' and spaces"));
    }
    Ok(())
}

/// Checks attribute names and keeps the ones with a value; bad names are pushed to `invalid`.
pub fn collect(values: Vec<(String, Option<AttrValue>)>, invalid: &mut crate::Invalid) -> Attributes {
    let mut attributes = Attributes::new();
    for (name, value) in values {
        let field = format!("attributes.{name}");
        match check_name(&name) {
            Ok(()) => {
                if let Some(AttrValue::Text(t)) = &value {
                    crate::limits::text(invalid, &field, Some(t), crate::limits::ATTRIBUTE_TEXT);
                }
                if let Some(v) = value {
                    attributes.insert(name, v);
                }
            }
            Err(e) => invalid.push(field, e),
        }
    }
    crate::limits::count(invalid, "attributes", attributes.len(), crate::limits::ATTRIBUTES, "attributes");
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn infers_types_from_cells() {
        assert_eq!(AttrValue::infer("true"), Some(AttrValue::Bool(true)));
        assert_eq!(AttrValue::infer("12.50"), Some(AttrValue::Number(Decimal::new(1250, 2))));
        assert_eq!(
            AttrValue::infer("2026-01-31"),
            Some(AttrValue::Date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()))
        );
        assert_eq!(AttrValue::infer("00731"), Some(AttrValue::Text("00731".into())));
        assert_eq!(AttrValue::infer("  "), None);
    }

    #[test]
    fn json_round_trip_is_typed() {
        let v = AttrValue::Number(Decimal::new(5, 0));
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j, json!({"type": "number", "value": "5"}));
        assert_eq!(AttrValue::from_json(&j).unwrap(), Some(v));
        assert_eq!(AttrValue::from_json(&json!(3)).unwrap(), Some(AttrValue::Number(Decimal::new(3, 0))));
        assert!(AttrValue::from_json(&json!([1])).is_err());
        assert!(AttrValue::from_json(&json!({"type": "number", "value": "x"})).is_err());
    }
}
