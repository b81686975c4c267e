//! One error type for the API: RFC 9457 problem+json naming the field for bad input; 5xx logged
//! with their cause and answered without internals.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use keepwell_core::{FieldError, Invalid};
use keepwell_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid API token is required: send Authorization: Bearer TOKEN")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Invalid(Invalid),
    #[error("{message}")]
    Conflict { field: String, message: String },
    #[error("{0}")]
    TooMany(String),
    /// The body is larger than a request may be (2 MiB).
    #[error("the body is larger than 2 MiB")]
    TooLarge,
    /// The database has no connection free in time (every one busy): try again shortly.
    #[error("the server is busy: every database connection is in use; retry in a few seconds")]
    Unavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The problem document (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(e: FieldError) -> Self {
        ProblemField { field: e.field, message: e.message }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(i) => ApiError::Invalid(i),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict { field, message } => ApiError::Conflict { field, message },
            e if e.is_busy() => ApiError::Unavailable,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::refused::Refused> for ApiError {
    fn from(e: crate::refused::Refused) -> Self {
        use crate::refused::Refused;
        match e {
            Refused::Invalid(i) => ApiError::Invalid(i),
            Refused::NotFound(m) => ApiError::NotFound(m),
            Refused::Forbidden(m) => ApiError::Forbidden(m),
            Refused::Conflict { field, message } => ApiError::Conflict { field, message },
            Refused::Busy => ApiError::Unavailable,
            Refused::Failed(e) => ApiError::Internal(e.into()),
        }
    }
}

/// An import's failed row: the API writes one body, so the row is the body.
impl From<keepwell_store::import::RowError> for ApiError {
    fn from(e: keepwell_store::import::RowError) -> Self {
        e.error.into()
    }
}

impl From<Invalid> for ApiError {
    fn from(i: Invalid) -> Self {
        ApiError::Invalid(i)
    }
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(Invalid::field(field, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors) = match self {
            ApiError::Invalid(i) => (
                format!("the request has {} invalid field(s): {i}", i.errors.len()),
                i.errors.iter().cloned().map(ProblemField::from).collect(),
            ),
            ApiError::Conflict { field, message } => {
                (message.clone(), vec![ProblemField { field: field.clone(), message: message.clone() }])
            }
            other => (other.to_string(), Vec::new()),
        };
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (self.status(), [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
        if matches!(self, ApiError::Unauthorized) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::TooMany(_)) {
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        }
        if matches!(self, ApiError::Unavailable) {
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection busy (the pool timed out) is a 503 with `Retry-After`, not a 500: the
    /// client should come back, and nothing is broken.
    #[test]
    fn a_busy_database_is_503_with_retry_after() {
        let e = ApiError::from(StoreError::Db(sqlx_pool_timed_out()));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let res = e.into_response();
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/problem+json");
    }

    fn sqlx_pool_timed_out() -> keepwell_store::DbError {
        keepwell_store::DbError::PoolTimedOut
    }
}
