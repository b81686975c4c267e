//! `/api/v1/users`: team members, for admins.

use crate::auth::{Admin, Auth, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::params::{json_object, path_id};
use crate::secrets::{generate_password, hash_password};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::{Invalid, Role};
use keepwell_store::people::{NewUser, NotificationSettings, User};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A new member: `password` is optional (12–128 characters); when absent one is generated and
/// returned once.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserBody {
    #[schema(max_length = 254)]
    email: String,
    #[schema(max_length = 200)]
    name: String,
    role: Role,
    password: Option<String>,
}

/// Changes to a member.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserPatch {
    #[schema(max_length = 200)]
    name: Option<String>,
    role: Option<Role>,
    /// A disabled member cannot sign in; their sessions end.
    disabled: Option<bool>,
}

/// A changed member, with the API tokens a disabling stopped (they act again if the member is
/// enabled again).
#[derive(Serialize, ToSchema)]
pub struct UpdatedUser {
    #[serde(flatten)]
    user: User,
    stopped_tokens: Vec<StoppedToken>,
}

/// A token that no longer acts.
#[derive(Serialize, ToSchema)]
pub struct StoppedToken {
    id: i64,
    name: String,
    prefix: String,
}

/// A created member, with the generated password when none was given.
#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    #[serde(flatten)]
    user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

fn str_field<'a>(body: &'a serde_json::Map<String, Value>, k: &str, invalid: &mut Invalid) -> Option<&'a str> {
    match body.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            invalid.push(k, "must be a string");
            None
        }
    }
}

fn role_field(body: &serde_json::Map<String, Value>, invalid: &mut Invalid) -> Option<Role> {
    str_field(body, "role", invalid).and_then(|r| r.parse().map_err(|e| invalid.push("role", e)).ok())
}

/// UserPage: every member (one page: a team is small).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserPage {
    data: Vec<User>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = UserPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(_auth: Auth<Admin>, State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let users = state.store.users().await?;
    Ok(Json(serde_json::json!({ "data": users, "next_cursor": null })))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn show(_auth: Auth<Admin>, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<User>> {
    let id = path_id(&id)?;
    state.store.user(id).await?.map(Json).ok_or_else(|| ApiError::NotFound(format!("no team member with id {id}")))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserBody,
    responses((status = 201, body = CreatedUser), (status = 422, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn create(
    auth: Auth<Admin>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let body = json_object(&body)?;
    let mut invalid = Invalid::default();
    let email = str_field(&body, "email", &mut invalid).unwrap_or_default().to_owned();
    let name = str_field(&body, "name", &mut invalid).unwrap_or_default().to_owned();
    if !keepwell_core::invalid::is_email(email.trim()) {
        invalid.push("email", format!("{email:?} is not an e-mail address"));
    }
    if name.trim().is_empty() {
        invalid.push("name", "is required");
    }
    let role = role_field(&body, &mut invalid);
    if role.is_none() && !invalid.errors.iter().any(|e| e.field == "role") {
        invalid.push("role", "is required: admin, manager, csm or viewer");
    }
    let given = str_field(&body, "password", &mut invalid).map(str::to_owned);
    if let Some(p) = &given {
        if let Err(e) = keepwell_core::people::check_password(p) {
            invalid.push("password", e);
        }
    }
    for k in body.keys().filter(|k| !["email", "name", "role", "password"].contains(&k.as_str())) {
        invalid.push(k.as_str(), "is not a field; expected email, name, role, password");
    }
    invalid.into_result(())?;
    let generated = given.is_none().then(generate_password);
    let password = given.or(generated.clone()).unwrap_or_default();
    let hash = hash_password(password).await?;
    let user = crate::people::create_user(
        &state.store,
        &auth,
        &NewUser { email: &email, name: &name, role: role.unwrap_or(Role::Viewer), password_hash: &hash },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { user, password: generated })))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserPatch, params(("id" = i64, Path)),
    description = "Changes a member's name, role or whether they may sign in. Disabling ends their sessions and stops their API tokens (listed in `stopped_tokens`). The last active admin cannot be demoted or disabled (409).",
    responses((status = 200, body = UpdatedUser), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state, body))]
pub async fn update(
    auth: Auth<Admin>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<UpdatedUser>> {
    let id = path_id(&id)?;
    let body = json_object(&body)?;
    let mut invalid = Invalid::default();
    let name = str_field(&body, "name", &mut invalid);
    let role = role_field(&body, &mut invalid);
    let disabled = match body.get("disabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            invalid.push("disabled", "must be true or false");
            None
        }
    };
    for k in body.keys().filter(|k| !["name", "role", "disabled"].contains(&k.as_str())) {
        invalid.push(k.as_str(), "is not a field; expected name, role, disabled");
    }
    invalid.into_result(())?;
    if auth.user_id == Some(id) && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin)) {
        return Err(ApiError::Forbidden("admins cannot disable or demote themselves; ask another admin".into()));
    }
    let (user, stopped) = crate::people::update_user(&state.store, &auth, id, name, role, disabled).await?;
    let stopped_tokens =
        stopped.into_iter().map(|t| StoppedToken { id: t.id, name: t.name, prefix: t.prefix }).collect();
    Ok(Json(UpdatedUser { user, stopped_tokens }))
}

#[utoipa::path(get, path = "/api/v1/users/{id}/notifications", tag = "users", params(("id" = i64, Path)),
    description = "What the member is told by e-mail: their own, or anyone's for an admin.",
    responses((status = 200, body = NotificationSettings), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state))]
pub async fn notifications(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(crate::people::notifications(&state.store, &auth, path_id(&id)?).await?))
}

#[utoipa::path(put, path = "/api/v1/users/{id}/notifications", tag = "users", request_body = NotificationSettings, params(("id" = i64, Path)),
    description = "Replaces what the member is told by e-mail (`band_changed`: a daily summary of their accounts' band changes, on unless turned off; `weekly_digest`; `time_zone`, an IANA name). A member sets their own; an admin anyone's.",
    responses((status = 200, body = NotificationSettings), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip(auth, state, raw))]
pub async fn set_notifications(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult<Json<NotificationSettings>> {
    let body: NotificationsBody = crate::health::body(&raw)?;
    let settings = NotificationSettings {
        band_changed: body.band_changed,
        weekly_digest: body.weekly_digest,
        time_zone: body.time_zone.trim().to_owned(),
    };
    Ok(Json(crate::people::set_notifications(&state.store, &auth, path_id(&id)?, &settings).await?))
}

/// The whole of a member's notification settings.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsBody {
    band_changed: bool,
    weekly_digest: bool,
    time_zone: String,
}
