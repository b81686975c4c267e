//! Who acts: the cause every use case is given and records. Today a member by session or token;
//! the system (CLI, importer, the daily pass) acts as a [`keepwell_store::Actor`] of its own.

use crate::error::ApiError;
use keepwell_core::Role;
use keepwell_store::Actor;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The member acting (for a token: the member who made it).
    pub user_id: Option<i64>,
    pub role: Role,
    pub actor: Actor,
}

impl Caller {
    /// May the caller edit an account owned by `owner_id`?
    pub fn may_edit(&self, owner_id: Option<i64>) -> bool {
        self.role.may_edit_account(self.user_id, owner_id)
    }

    pub fn require_edit(&self, owner_id: Option<i64>) -> Result<(), ApiError> {
        if self.may_edit(owner_id) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("a {} may edit only accounts they own", self.role)))
        }
    }
}
