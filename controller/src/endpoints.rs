//! The controller's HTTP endpoints: `/metrics` for Prometheus, `/healthz` for the liveness
//! probe (the runtime answers), `/readyz` for the readiness probe.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

use crate::metrics::Readiness;

#[derive(Clone)]
struct Endpoints {
    registry: Arc<Registry>,
    readiness: Arc<Readiness>,
    webhook: Arc<Readiness>,
}

/// Binds `address` now (so a taken port fails the start), then serves until `shutdown`.
pub async fn serve(
    address: SocketAddr,
    registry: Registry,
    readiness: Arc<Readiness>,
    webhook: Arc<Readiness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("binding the metrics address {address}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(Endpoints {
            registry: Arc::new(registry),
            readiness,
            webhook,
        });
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "metrics server stopped");
        }
    }))
}

async fn metrics(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &endpoints.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            error.to_string(),
        ),
    }
}

/// Ready once the caches are synced (or while standing by) and, when the webhook is on, once it
/// serves: the webhook's Service sends the API server's reviews to ready pods only, so a pod
/// still without its certificate must not receive them.
async fn ready(State(endpoints): State<Endpoints>) -> (StatusCode, &'static str) {
    if !endpoints.webhook.get() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the webhook has no certificate yet",
        )
    } else if !endpoints.readiness.get() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: waiting for the API server",
        )
    } else {
        (StatusCode::OK, "ok")
    }
}
