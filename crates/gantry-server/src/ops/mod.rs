//! What operators run the server with: the HTTP port (`--http-listen`) beside the gRPC one, serving `/metrics`
//! (Prometheus' text format, `metrics.rs`), `/healthz` (200 while the process serves) and `/readyz` (200 while the
//! store answers and the server is not stopping, else 503 with the reason), and the per-RPC metrics layer
//! (`rpc.rs`). The operators' endpoints carry no data of any execution, so they need no authentication; keep the
//! port inside the cluster all the same. The console (`gantry-console`) is merged in beside them: its pages make
//! gRPC calls through the server's own layers, so they are authenticated as any client's.

mod metrics;
mod rpc;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use self::metrics::{Scrape, recorder};
pub use rpc::RpcMetricsLayer;

/// The running HTTP port.
#[derive(Debug)]
pub struct HttpPort {
    pub local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<std::io::Result<()>>,
}

impl HttpPort {
    /// Binds `addr` and serves the operators' endpoints, and the console's pages when given (`gantry-console`).
    pub async fn start(addr: SocketAddr, scrape: Arc<Scrape>, console: Option<Router>) -> anyhow::Result<HttpPort> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the HTTP port {addr}"))?;
        let local_addr = listener.local_addr()?;
        let router = Router::new()
            .route("/metrics", get(metrics_text))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .with_state(scrape)
            .merge(console.unwrap_or_default());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(HttpPort {
            local_addr,
            stop,
            serving,
        })
    }

    /// Stops serving: the last thing a stopping server does, so that `/readyz` answers 503 while it drains.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.serving.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "the HTTP port failed"),
            Err(error) => tracing::warn!(%error, "the HTTP port's task failed"),
        }
    }
}

async fn metrics_text(State(scrape): State<Arc<Scrape>>) -> impl IntoResponse {
    match scrape.render().await {
        Some(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text,
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "another metrics recorder is installed in this process\n".to_owned(),
        ),
    }
}

async fn ready(State(scrape): State<Arc<Scrape>>) -> impl IntoResponse {
    match scrape.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")),
    }
}
