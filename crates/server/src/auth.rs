//! Who is calling and what they may do. One extractor, [`Auth`], authenticates every route: a web
//! session (set by the session middleware) or an API bearer token; its type parameter names the
//! least role the route needs, so a handler's signature says who may call it.

use crate::cause::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use keepwell_core::Role;
use keepwell_store::Actor;
use std::marker::PhantomData;

/// The least role a route needs.
pub trait MinRole: Send + Sync + 'static {
    const ROLE: Role;
}
pub struct Viewer;
pub struct Csm;
pub struct Manager;
pub struct Admin;
impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for Csm {
    const ROLE: Role = Role::Csm;
}
impl MinRole for Manager {
    const ROLE: Role = Role::Manager;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// The authenticated caller of a route that needs at least role `R`.
pub struct Auth<R: MinRole> {
    pub caller: Caller,
    _role: PhantomData<R>,
}

impl<R: MinRole> std::ops::Deref for Auth<R> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

/// A page's visitor as the pages' session middleware found it (its session, if logged in). The
/// API's requests carry none, and authenticate by token instead.
#[derive(Clone)]
pub struct PageVisitor(pub Option<keepwell_store::people::Session>);

/// A page refused with this status and message key: the pages' session middleware, which knows
/// the visitor's language, renders it as the translated error page.
#[derive(Clone, Copy, Debug)]
pub struct PageRefused(pub axum::http::StatusCode, pub &'static str);

/// Why [`Auth`] refused: the API answers problem+json, pages redirect to the login or show the
/// error page.
pub enum AuthRejection {
    Api(ApiError),
    Login(String),
    Page(PageRefused),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            AuthRejection::Api(e) => e.into_response(),
            AuthRejection::Login(next) => {
                Redirect::to(&format!("/login?next={}", urlencoding::encode(&next))).into_response()
            }
            AuthRejection::Page(refused) => {
                let mut res = refused.0.into_response();
                res.extensions_mut().insert(refused);
                res
            }
        }
    }
}

impl<S, R> FromRequestParts<S> for Auth<R>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    R: MinRole,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = if let Some(PageVisitor(session)) = parts.extensions.get::<PageVisitor>() {
            match session {
                Some(s) => Caller {
                    user_id: Some(s.user.id),
                    role: s.user.role,
                    actor: Actor { user_id: Some(s.user.id), label: s.user.email.clone() },
                },
                None => {
                    let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                    return Err(AuthRejection::Login(next.to_owned()));
                }
            }
        } else {
            let state = AppState::from_ref(state);
            let token = parts
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or(AuthRejection::Api(ApiError::Unauthorized))?;
            let found = state
                .store
                .api_token_by_hash(&crate::secrets::hash_secret(token))
                .await
                .map_err(|e| AuthRejection::Api(e.into()))?
                .ok_or(AuthRejection::Api(ApiError::Unauthorized))?;
            // The lower of the token's role and its member's current one, read on every request.
            let role = found.effective_role.ok_or(AuthRejection::Api(ApiError::Unauthorized))?;
            Caller {
                user_id: found.created_by,
                role,
                actor: Actor { user_id: found.created_by, label: format!("token:{}", found.name) },
            }
        };
        if caller.role < R::ROLE {
            return Err(if parts.extensions.get::<PageVisitor>().is_some() {
                AuthRejection::Page(PageRefused(axum::http::StatusCode::FORBIDDEN, "error-forbidden"))
            } else {
                AuthRejection::Api(ApiError::Forbidden(format!(
                    "this needs the {} role or higher; the caller is {}",
                    R::ROLE,
                    caller.role
                )))
            });
        }
        Ok(Auth { caller, _role: PhantomData })
    }
}
