//! Validation errors that name the field, so every 4xx and CLI error can say what was wrong.

use serde::Serialize;

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every invalid field of one input, collected rather than stopping at the first.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", .errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid {
    pub errors: Vec<FieldError>,
}

impl Invalid {
    /// An error naming a single field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut invalid = Self::default();
        invalid.push(field, message);
        invalid
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError { field: field.into(), message: message.into() });
    }

    /// Adds the errors of a later check to these, skipping fields already named here (a field of
    /// the wrong type is not also "required"). With no errors at all, the later result stands.
    pub fn and<T>(mut self, later: Result<T, Invalid>) -> Result<T, Invalid> {
        match later {
            Ok(v) if self.errors.is_empty() => Ok(v),
            Ok(_) => Err(self),
            Err(e) => {
                let named: Vec<String> = self.errors.iter().map(|f| f.field.clone()).collect();
                self.errors.extend(e.errors.into_iter().filter(|f| !named.contains(&f.field)));
                Err(self)
            }
        }
    }

    /// `Ok(value)` when nothing was pushed.
    pub fn into_result<T>(self, value: T) -> Result<T, Invalid> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Trims a text field; empty becomes `None`.
pub fn clean(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A plausible e-mail address: one `@`, a local part, a dotted domain, no spaces or control
/// characters, at most 254 bytes.
pub fn is_email(value: &str) -> bool {
    if value.len() > crate::limits::EMAIL || value.chars().any(char::is_control) {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !value.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("ann@example.com"));
        assert!(!is_email("ann@example"));
        assert!(!is_email("ann example.com"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("a@b@example.com"));
    }

    #[test]
    fn invalid_lists_every_field() {
        let mut invalid = Invalid::default();
        invalid.push("name", "is required");
        invalid.push("country", "must be a two-letter ISO code");
        assert_eq!(invalid.to_string(), "name: is required; country: must be a two-letter ISO code");
        assert!(invalid.into_result(()).is_err());
    }

    #[test]
    fn later_errors_join_without_repeating_a_field() {
        let shape = Invalid::field("name", "must be a string");
        let mut later = Invalid::field("name", "is required");
        later.push("country", "bad");
        let all = shape.and::<()>(Err(later)).unwrap_err();
        assert_eq!(all.to_string(), "name: must be a string; country: bad");
        assert_eq!(Invalid::default().and(Ok(1)), Ok(1));
    }
}
