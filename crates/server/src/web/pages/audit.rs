//! The audit log page: who changed what, before → after.

use super::{failure, PageResult};
use crate::auth::{Auth, Manager};
use crate::state::AppState;
use crate::web::render;
use crate::web::session::WebSession;
use axum::extract::{Query, State};
use axum::Extension;
use keepwell_store::audit::AuditFilter;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// One changed field.
#[derive(Serialize)]
pub struct Change {
    field: String,
    before: String,
    after: String,
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The fields that differ between two snapshots of an object.
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> =
        b.keys().chain(a.keys()).filter(|k| !["updated_at", "created_at"].contains(&k.as_str())).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| Change { field: k.clone(), before: show(b.get(k)), after: show(a.get(k)) })
        .collect()
}

#[tracing::instrument(skip_all)]
pub async fn page(
    _auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let f = AuditFilter {
        entity: q.get("entity").filter(|v| !v.is_empty()).cloned(),
        entity_id: q.get("entity_id").filter(|v| !v.is_empty()).cloned(),
        limit: 50,
        cursor: q.get("cursor").cloned(),
    };
    let page = state.store.audit_log(&f).await.map_err(|e| failure(&state, &web, e))?;
    let entries: Vec<_> = page
        .data
        .iter()
        .map(|e| context! { entry => e, changes => changes(e.before.as_ref(), e.after.as_ref()) })
        .collect();
    let next_url = page.next_cursor.map(|c| {
        form_urlencoded::Serializer::new(String::from("/audit?"))
            .append_pair("entity", f.entity.as_deref().unwrap_or(""))
            .append_pair("cursor", &c)
            .finish()
    });
    Ok(render(&state, &web, "audit.html", context! { nav => "audit", entries, next_url, entity => f.entity }).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_list_only_what_differs() {
        let c = changes(
            Some(&json!({"name": "A", "plan": "pro", "updated_at": 1})),
            Some(&json!({"name": "B", "plan": "pro", "updated_at": 2})),
        );
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].field.as_str(), c[0].before.as_str(), c[0].after.as_str()), ("name", "A", "B"));
    }
}
