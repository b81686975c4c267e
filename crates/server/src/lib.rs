//! Keepwell's HTTP server: the REST API, the web UI, probes and metrics, in one axum router.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod billing;
mod cache;
pub mod cause;
pub mod contacts;
pub mod daily;
pub mod definitions;
pub mod deliveries;
pub mod digest;
mod download;
pub mod error;
pub mod health;
pub mod i18n;
pub mod ingest;
pub mod input;
pub mod interactions;
pub mod jobs;
pub mod login_limit;
pub mod mail;
pub mod notifications;
mod observe;
pub mod params;
pub mod people;
pub mod playbooks;
pub mod refused;
pub mod renewals;
pub mod revenue;
pub mod secrets;
pub mod state;
pub mod stripe;
pub mod tasks;
pub mod templates;
pub mod timeline;
pub mod usage;
pub mod waiting;
pub mod web;
pub mod webhooks;

use anyhow::Context;
use axum::Router;
use keepwell_store::Store;
use std::net::SocketAddr;
use tokio::net::TcpListener;

pub use state::{AppState, Settings};

/// A bound, ready-to-run server. Built on port 0 in tests; [`Application::local_addr`] says where.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    pub async fn build(store: Store, settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let state = AppState::new(store, settings)?;
        jobs::spawn(state.clone());
        deliveries::spawn(state.clone());
        Ok(Application { listener, router: router(state) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .context("the server stopped with an error")
    }
}

/// What every response carries: pages run only their own script and style (no inline code, so an
/// injected tag does nothing), are never framed (no clickjacking of one-click forms), are not
/// sniffed into another type, and send no path to other sites.
async fn security_headers(mut res: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    res
}

/// Every route, in one place.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(observe::routes())
        .nest("/api/v1", api::routes())
        .merge(webhooks::routes())
        .merge(ingest::routes())
        .merge(web::public_routes())
        .merge(web::routes(state.clone()))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(observe::track))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(8 * 1024 * 1024))
        .with_state(state)
}
