//! The people of a workspace and what each role may do.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// A team member's role. Ordered from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Edits the accounts they own and their tasks.
    Csm,
    /// Edits every account.
    Manager,
    /// Also manages users, tokens, write keys and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Csm, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Csm => "csm",
            Role::Viewer => "viewer",
        }
    }

    /// May this role edit an account owned by `owner_id`, acting as `user_id`?
    pub fn may_edit_account(self, user_id: Option<i64>, owner_id: Option<i64>) -> bool {
        match self {
            Role::Admin | Role::Manager => true,
            Role::Csm => user_id.is_some() && user_id == owner_id,
            Role::Viewer => false,
        }
    }

    /// May this role create accounts? A CSM may, and becomes their owner.
    pub fn may_create_accounts(self) -> bool {
        self >= Role::Csm
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown role {s:?}: expected admin, manager, csm or viewer"))
    }
}

/// The 10 000 most common passwords, most common first, lowercase: the top of the ranked list
/// zxcvbn ships (MIT licence), itself drawn from leaked password sets.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Passwords are 12 to 128 characters (OWASP: at least 12, allow at least 64), hold no control
/// characters, are not only whitespace nor one character repeated, and are not among the 10 000
/// most common passwords. No composition rules beyond that (NIST SP 800-63B).
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    let mut chars = password.chars();
    let first = chars.next();
    if n < 12 {
        Err("must be at least 12 characters".into())
    } else if n > 128 {
        Err("must be at most 128 characters".into())
    } else if password.chars().any(char::is_control) {
        Err("must not hold control characters".into())
    } else if password.chars().all(char::is_whitespace) {
        Err("must not be only spaces".into())
    } else if chars.all(|c| Some(c) == first) {
        Err("must not be one character repeated".into())
    } else if COMMON_PASSWORDS.lines().any(|p| p == password.to_lowercase()) {
        Err("is one of the 10 000 most common passwords; choose another".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csm_edits_only_own_accounts() {
        assert!(Role::Csm.may_edit_account(Some(3), Some(3)));
        assert!(!Role::Csm.may_edit_account(Some(3), Some(4)));
        assert!(!Role::Csm.may_edit_account(Some(3), None));
        assert!(Role::Manager.may_edit_account(Some(3), Some(4)));
        assert!(!Role::Viewer.may_edit_account(Some(3), Some(3)));
    }

    #[test]
    fn roles_parse() {
        assert_eq!("CSM".parse::<Role>(), Ok(Role::Csm));
        assert!("owner".parse::<Role>().unwrap_err().contains("unknown role"));
    }

    #[test]
    fn password_length() {
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
    }

    #[test]
    fn weak_passwords_say_why() {
        assert_eq!(check_password(&" ".repeat(12)).unwrap_err(), "must not be only spaces");
        assert_eq!(check_password(&"\0".repeat(12)).unwrap_err(), "must not hold control characters");
        assert_eq!(check_password("correct horse\u{7}battery").unwrap_err(), "must not hold control characters");
        assert_eq!(check_password(&"a".repeat(20)).unwrap_err(), "must not be one character repeated");
        assert_eq!(check_password(&"\u{3000}".repeat(12)).unwrap_err(), "must not be only spaces");
        assert!(check_password("1qaz2wsx3edc").unwrap_err().contains("most common"));
        assert!(check_password("QazWsxEdcRfv").unwrap_err().contains("most common"), "any case");
        assert!(check_password("correct horse battery").is_ok());
        assert_eq!(COMMON_PASSWORDS.lines().count(), 10_000);
    }
}
