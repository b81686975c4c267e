//! Who is calling and what they may do. One extractor, [`Auth`], authenticates every route: a web
//! session (set by the session middleware) or an API bearer token; its type parameter names the
//! least role the route needs, so a handler's signature says who may call it.

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::session::WebSession;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use keepwell_core::Role;
use keepwell_store::Actor;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Why [`Auth`] refused: the API answers problem+json, pages redirect to the login.
pub enum AuthRejection {
    Api(ApiError),
    Login(String),
    Page(Response),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            AuthRejection::Api(e) => e.into_response(),
            AuthRejection::Login(next) => {
                Redirect::to(&format!("/login?next={}", urlencoding::encode(&next))).into_response()
            }
            AuthRejection::Page(res) => res,
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
        let caller = if let Some(web) = parts.extensions.get::<WebSession>() {
            match &web.session {
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
                .api_token_by_hash(&hash_secret(token))
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
            return Err(if let Some(web) = parts.extensions.get::<WebSession>() {
                let state = AppState::from_ref(state);
                AuthRejection::Page(crate::web::error_page(
                    &state,
                    web,
                    axum::http::StatusCode::FORBIDDEN,
                    "error-forbidden",
                ))
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

/// Hashes a password with Argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane), off the async
/// threads: it is deliberately slow.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash, off the async threads. With no hash (unknown user) it
/// still does the work, so timing does not tell which e-mails exist.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        const DUMMY: &str =
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Jp6Gm4Yw0m1JrOnxFO6IoqLl0dm3fW0qzzHdbL0tn3s";
        let stored = hash.as_deref().unwrap_or(DUMMY);
        let ok = PasswordHash::new(stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// 32 random bytes, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 128 random bits as hex: session ids.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A readable generated password: 20 characters from an unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect()
}

/// SHA-256 of a high-entropy secret (token, key, session id) as stored. Passwords use Argon2.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new secret with its kind's prefix (`kw_` tokens, `wk_` write keys), its hash, and the
/// prefix shown in lists so people can tell secrets apart.
pub fn new_secret(kind: &str) -> (String, String, String) {
    let secret = format!("{kind}_{}", random_token());
    let shown = secret.chars().take(kind.len() + 7).collect();
    let hash = hash_secret(&secret);
    (secret, hash, shown)
}

/// Counts login attempts per e-mail and per client address in a fixed window. An attempt is
/// reserved before its password is checked, so a hundred concurrent guesses cannot all slip in
/// before the first failure is counted; a success clears its e-mail's count.
#[derive(Default)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    const WINDOW: Duration = Duration::from_secs(15 * 60);
    const PER_EMAIL: u32 = 10;
    const PER_ADDRESS: u32 = 50;

    /// An e-mail as the limiter keys it: at most an address's 254 bytes, so a flood of made-up
    /// megabyte-long ones cannot fill memory.
    fn email_key(email: &str) -> String {
        let email = email.trim().to_ascii_lowercase();
        let mut end = email.len().min(keepwell_core::limits::EMAIL);
        while !email.is_char_boundary(end) {
            end -= 1;
        }
        format!("e:{}", &email[..end])
    }

    fn keys(email: &str, address: &str) -> [(String, u32); 2] {
        [(Self::email_key(email), Self::PER_EMAIL), (format!("a:{address}"), Self::PER_ADDRESS)]
    }

    /// Takes one attempt for this e-mail and address, or says how long until one is free.
    pub fn reserve(&self, email: &str, address: &str) -> Result<(), Duration> {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() <= Self::WINDOW);
        }
        let keys = Self::keys(email, address);
        let mut wait = Duration::ZERO;
        for (k, limit) in &keys {
            if let Some((n, since)) = map.get(k) {
                if since.elapsed() <= Self::WINDOW && n >= limit {
                    wait = wait.max(Self::WINDOW.saturating_sub(since.elapsed()));
                }
            }
        }
        if wait > Duration::ZERO {
            return Err(wait.max(Duration::from_secs(1)));
        }
        for (k, _) in keys {
            let entry = map.entry(k).or_insert((0, Instant::now()));
            if entry.1.elapsed() > Self::WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
        Ok(())
    }

    /// A reserved attempt succeeded: the e-mail starts afresh (its address keeps counting).
    pub fn succeeded(&self, email: &str) {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&Self::email_key(email));
    }
}

/// Addresses whose `X-Forwarded-For` is believed (`KEEPWELL_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Reads `10.0.0.0/8, 192.168.1.10, ::1`: addresses or CIDR ranges, separated by commas.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for part in text.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            let net = part
                .parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{part:?} is neither an IP address nor a CIDR range"))?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the rightmost
    /// address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client(&self, peer: std::net::IpAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<std::net::IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded.into_iter().rev().find(|a| !self.trusts(*a)).unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
    }

    #[test]
    fn secrets_are_prefixed_and_hashed() {
        let (s, h, shown) = new_secret("kw");
        assert!(s.starts_with("kw_") && s.len() > 40);
        assert_eq!(h, hash_secret(&s));
        assert!(s.starts_with(&shown));
    }

    #[test]
    fn limiter_reserves_ten_attempts_per_email() {
        let l = LoginLimiter::default();
        for _ in 0..10 {
            assert!(l.reserve("a@b.c", "1.1.1.1").is_ok());
        }
        let wait = l.reserve("A@b.c", "2.2.2.2").unwrap_err();
        assert!(wait > Duration::from_secs(14 * 60), "{wait:?}");
        assert!(l.reserve("other@b.c", "1.1.1.1").is_ok());
        l.succeeded("a@b.c");
        assert!(l.reserve("a@b.c", "1.1.1.1").is_ok(), "a success starts the e-mail afresh");
        assert_eq!(LoginLimiter::email_key(&"é".repeat(1000)).len(), 2 + 254, "keys stay small");
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.1.1.1".parse().unwrap());
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(trusted.client(ip("10.0.0.2"), &h), ip("198.51.100.7"), "the rightmost untrusted hop");
        assert_eq!(trusted.client(ip("192.0.2.1"), &h), ip("192.0.2.1"), "a stranger's header is ignored");
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.2"), &h), ip("10.0.0.2"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }
}
