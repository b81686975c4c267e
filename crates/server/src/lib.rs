//! Keepwell's HTTP server: the REST API, the web UI, probes and metrics, in one axum router.

pub mod api;
pub mod auth;
mod cache;
pub mod daily;
pub mod error;
pub mod ingest;
mod observe;
pub mod revenue;
pub mod state;
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
        if let Some(every) = state.settings.pass_every {
            daily::spawn(state.clone(), every);
        }
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

/// Every route, in one place.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(observe::routes())
        .nest("/api/v1", api::routes())
        .merge(webhooks::routes())
        .merge(ingest::routes())
        .merge(web::routes(state.clone()))
        .layer(axum::middleware::from_fn(observe::track))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(8 * 1024 * 1024))
        .with_state(state)
}
