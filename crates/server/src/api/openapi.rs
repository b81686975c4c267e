//! The OpenAPI document, generated from the handlers' annotations and snapshot-tested.

use axum::Json;
use serde_json::{json, Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Keepwell API", description = "Accounts, contacts, people, billing, revenue metrics, renewals, product usage, health scores, segments, lifecycle stages and playbooks of a Keepwell workspace. \
        Authenticate with `Authorization: Bearer TOKEN` (`keepwell token create`). Collections are paged with \
        `limit` and `cursor`; errors are application/problem+json."),
    paths(
        super::accounts::list, super::accounts::create, super::accounts::show, super::accounts::update,
        super::accounts::delete, super::accounts::by_external_id, super::accounts::bulk, super::accounts::export,
        super::contacts::list, super::contacts::of_account, super::contacts::create, super::contacts::show,
        super::contacts::update, super::contacts::delete,
        super::users::list, super::users::show, super::users::create, super::users::update,
        super::users::notifications, super::users::set_notifications,
        super::audit::list,
        super::billing::periods, super::billing::save_period, super::billing::delete_period,
        super::billing::invoices, super::billing::save_invoice, super::billing::contract,
        super::billing::fx_rates, super::billing::save_fx_rates,
        super::metrics::show,
        super::renewals::list, super::renewals::rates_view, super::renewals::record,
        super::usage::days, super::usage::events, super::usage::summary, super::usage::activity,
        super::usage::plan_features, super::usage::set_plan_features,
        super::waiting::list, super::waiting::link, super::waiting::replay,
        super::health::show, super::health::history, super::health::sentiments, super::health::add_sentiment,
        super::health::overrides, super::health::add_override, super::health::clear_override, super::health::stages,
        super::health::backtest,
        super::interactions::of_account, super::interactions::list, super::interactions::create,
        super::interactions::show, super::interactions::update, super::interactions::delete,
        super::timeline::of_account, super::timeline::notifications, super::timeline::read,
        super::tasks::list, super::tasks::create, super::tasks::show, super::tasks::update,
        super::tasks::comments, super::tasks::comment,
        super::definitions::segments, super::definitions::save_segment, super::definitions::segment,
        super::definitions::delete_segment, super::definitions::members, super::definitions::history,
        super::definitions::preview, super::definitions::scorecards, super::definitions::scorecard,
        super::definitions::save_scorecard, super::definitions::delete_scorecard, super::definitions::set_weights,
        super::definitions::rules, super::definitions::save_rule, super::definitions::delete_rule,
        super::deliveries::endpoints, super::deliveries::create_endpoint, super::deliveries::delete_endpoint,
        super::deliveries::rotate_secret, super::deliveries::enable_endpoint, super::deliveries::delivery,
        super::deliveries::deliveries, super::deliveries::retry,
        super::playbooks::list, super::playbooks::show, super::playbooks::save, super::playbooks::switch,
        super::playbooks::preview, super::playbooks::simulation, super::playbooks::runs, super::playbooks::why,
        super::playbooks::publish, super::playbooks::discard_draft, super::playbooks::start,
    ),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served: the handlers' annotations, with the answers every operation can give
/// added once here rather than repeated on sixty handlers — 401 (no or bad token), 403 (role),
/// 422 (a parameter or field refused), 503 (the database busy, with `Retry-After`), 404 where the
/// path names something, 400 where a body is read — all `application/problem+json`.
pub fn spec() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let shared = [
        ("BadRequest", "400", "The body is not JSON, or not an object."),
        ("Unauthorized", "401", "No token, or one that is unknown, revoked or whose member is disabled."),
        ("Forbidden", "403", "The token's role (the lower of its own and its member's) does not allow this."),
        ("NotFound", "404", "Nothing has this id or key."),
        ("Invalid", "422", "A parameter or field is refused; `errors` names each."),
        ("TooLarge", "413", "The body is larger than 2 MiB."),
        ("Busy", "503", "Every database connection is in use; retry after `Retry-After` seconds."),
    ];
    let responses: Map<String, Value> = shared
        .iter()
        .map(|(name, _, description)| {
            let mut r = json!({"description": description, "content": problem});
            if *name == "Busy" {
                r["headers"] =
                    json!({"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}});
            }
            (name.to_string(), r)
        })
        .collect();
    doc["components"]["responses"] = Value::Object(responses);
    open_flattened(&mut doc);
    patch_bodies(&mut doc);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, op) in item.iter_mut() {
                if !["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                // Handler names repeat across features (`create`, `update`): the id is the tag's too.
                let tag = op["tags"][0].as_str().unwrap_or("api").to_owned();
                if let Some(id) = op["operationId"].as_str().map(|id| format!("{tag}_{id}")) {
                    op["operationId"] = Value::String(id);
                }
                let has_body = op.get("requestBody").is_some();
                let Some(answers) = op["responses"].as_object_mut() else { continue };
                for (code, r) in answers.iter_mut() {
                    let error = code.starts_with('4') || code.starts_with('5');
                    if let (true, Some(content)) = (error, r.get_mut("content").and_then(Value::as_object_mut)) {
                        if let Some(c) = content.remove("application/json") {
                            content.insert("application/problem+json".into(), c);
                        }
                    }
                }
                for (name, code, _) in shared {
                    let applies = match code {
                        "400" | "413" => has_body,
                        "404" => path.contains('{'),
                        _ => true,
                    };
                    if applies && !answers.contains_key(code) {
                        answers.insert(code.into(), json!({"$ref": format!("#/components/responses/{name}")}));
                    }
                }
            }
        }
    }
    doc
}

/// A stored definition is the definition (`#[serde(flatten)]`) plus its id: `allOf` of the
/// definition's schema, which refuses unknown fields as a request body, and the id's. Inside an
/// `allOf` that refusal would forbid the id, so there the definition is inlined without it.
fn open_flattened(doc: &mut Value) {
    let schemas = doc["components"]["schemas"].clone();
    let Some(all) = doc["components"]["schemas"].as_object_mut() else { return };
    for schema in all.values_mut() {
        let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) else { continue };
        for part in parts.iter_mut() {
            let target = part["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/"));
            if let Some(closed) = target.map(|t| &schemas[t]).filter(|t| t["additionalProperties"] == false) {
                let mut open = closed.clone();
                if let Some(o) = open.as_object_mut() {
                    o.remove("additionalProperties");
                }
                *part = open;
            }
        }
    }
}

/// A PATCH changes only the fields it names, so its body is the create body with nothing
/// required, under a name of its own (`AccountBodyPatch`): one schema, two meanings, would let a
/// client (or a fuzzer learning from 422s) carry "required on create" over to an update.
fn patch_bodies(doc: &mut Value) {
    let mut patched = Map::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let body = item.pointer_mut("/patch/requestBody/content/application~1json/schema/$ref");
            let Some(body) = body else { continue };
            let Some(name) = body.as_str().and_then(|r| r.strip_prefix("#/components/schemas/")).map(str::to_owned)
            else {
                continue;
            };
            *body = Value::String(format!("#/components/schemas/{name}Patch"));
            patched.insert(name, Value::Null);
        }
    }
    for name in patched.keys() {
        let mut schema = doc["components"]["schemas"][name].clone();
        if let Some(o) = schema.as_object_mut() {
            o.remove("required");
        }
        doc["components"]["schemas"][format!("{name}Patch")] = schema;
    }
}

pub async fn document() -> Json<Value> {
    Json(spec())
}
