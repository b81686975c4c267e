//! Files a person or a script saves: a response with its type and a file name for the day.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A CSV file to save as `STEM-YYYY-MM-DD.csv`.
pub fn csv(stem: &str, today: chrono::NaiveDate, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{stem}-{today}.csv\"")),
        ],
        body,
    )
        .into_response()
}
