//! What a use case answers when it does not do what was asked: the one error type of the
//! services. The API turns it into problem+json, the pages into a translated page or form errors,
//! the CLI into a one-line message. One type rather than one per feature: every feature's refusals
//! are these same kinds (ARCHITECTURE.md, *The application layer*).

use keepwell_core::Invalid;
use keepwell_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The input was checked and found wrong; each field is named.
    #[error(transparent)]
    Invalid(Invalid),
    #[error("{0}")]
    NotFound(String),
    /// The cause may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The change would break a uniqueness or integrity rule; the message says whose.
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// The database had no connection free in time: nothing is broken, try again.
    #[error("the database is busy: every connection is in use; retry in a few seconds")]
    Busy,
    #[error("{0}")]
    Failed(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(i) => Refused::Invalid(i),
            StoreError::NotFound(m) => Refused::NotFound(m),
            StoreError::Conflict { field, message } => Refused::Conflict { field, message },
            e if e.is_busy() => Refused::Busy,
            other => Refused::Failed(other),
        }
    }
}

impl From<Invalid> for Refused {
    fn from(i: Invalid) -> Self {
        Refused::Invalid(i)
    }
}

pub type Outcome<T> = Result<T, Refused>;
