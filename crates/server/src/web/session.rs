//! The web session middleware: finds the signed-in member from the session cookie, picks the UI
//! language, and checks the CSRF token of every form posted. Handlers read the result as a
//! [`WebSession`] extension; [`crate::auth::Auth`] uses it to authenticate pages.

use crate::i18n::Lang;
use crate::secrets::{hash_secret, random_token};
use crate::state::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use keepwell_store::people::Session;

pub const SESSION_COOKIE: &str = "kw_session";
const LANG_COOKIE: &str = "kw_lang";
const CSRF_COOKIE: &str = "kw_csrf";
/// Sessions last two weeks.
pub const SESSION_TTL_SECS: i64 = 14 * 24 * 3600;

/// What every page knows about its visitor.
#[derive(Clone)]
pub struct WebSession {
    pub session: Option<Session>,
    pub lang: Lang,
    /// The token forms must carry: the session's, or before login the `kw_csrf` cookie's.
    pub csrf: String,
}

#[tracing::instrument(skip_all)]
pub async fn middleware(State(state): State<AppState>, jar: CookieJar, req: Request, next: Next) -> Response {
    let session = match jar.get(SESSION_COOKIE) {
        Some(c) => state.store.session(&hash_secret(c.value())).await.ok().flatten(),
        None => None,
    };
    let lang = session
        .as_ref()
        .and_then(|s| s.user.locale.as_deref())
        .and_then(Lang::parse)
        .or_else(|| jar.get(LANG_COOKIE).and_then(|c| Lang::parse(c.value())))
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En);
    let (csrf, new_cookie) = match (&session, jar.get(CSRF_COOKIE)) {
        (Some(s), _) => (s.csrf_token.clone(), None),
        (None, Some(c)) => (c.value().to_owned(), None),
        (None, None) => {
            let t = random_token();
            (t.clone(), Some(t))
        }
    };
    let web = WebSession { session, lang, csrf };
    // No page takes a NUL in its address or query (PostgreSQL cannot store it, and no id has one).
    let nul_query = req
        .uri()
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k.contains('\0') || v.contains('\0')));
    if nul_query || crate::params::percent_decoded(req.uri().path()).contains('\0') {
        return super::error_page(&state, &web, axum::http::StatusCode::BAD_REQUEST, "error-bad-request");
    }
    let mut req = req;
    if req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = to_bytes(body, 4 * 1024 * 1024).await else {
            return super::error_page(&state, &web, axum::http::StatusCode::PAYLOAD_TOO_LARGE, "error-too-large");
        };
        let sent = form_urlencoded::parse(&bytes).find(|(k, _)| k == "_csrf").map(|(_, v)| v.into_owned());
        if new_cookie.is_some() || sent.as_deref() != Some(web.csrf.as_str()) {
            return super::error_page(&state, &web, axum::http::StatusCode::FORBIDDEN, "error-csrf");
        }
        if form_urlencoded::parse(&bytes).any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return super::error_page(&state, &web, axum::http::StatusCode::UNPROCESSABLE_ENTITY, "error-bad-request");
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(crate::auth::PageVisitor(web.session.clone()));
    req.extensions_mut().insert(web.clone());
    let mut res = next.run(req).await;
    if let Some(crate::auth::PageRefused(status, key)) = res.extensions().get::<crate::auth::PageRefused>().copied() {
        res = super::error_page(&state, &web, status, key);
    }
    match new_cookie {
        Some(t) => {
            let cookie = Cookie::build((CSRF_COOKIE, t))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(state.settings.secure_cookies)
                .build();
            (jar.add(cookie), res).into_response()
        }
        None => res,
    }
}

/// The cookie that carries a new session id.
pub fn session_cookie(id: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time_secs(SESSION_TTL_SECS))
        .build()
}

pub fn lang_cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build((LANG_COOKIE, lang.code()))
        .path("/")
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time_secs(365 * 24 * 3600))
        .build()
}

fn time_secs(s: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(s)
}
