//! The HTTP listener: `/metrics` (Prometheus text), `/healthz` (the processing loop is alive)
//! `/readyz` (joined the group and not shutting down) and `/usecases` (the loaded use cases, with
//! id, version, status and checksum, and the last refused reload).

use crate::engine::Status;
use crate::metrics::Metrics;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    status: Arc<Status>,
}

/// A processing loop silent for this long is considered stuck.
const STALE_AFTER: Duration = Duration::from_secs(60);

async fn serve_metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

async fn serve_healthz(State(app): State<AppState>) -> impl IntoResponse {
    if app.status.heartbeat_age() < STALE_AFTER {
        (StatusCode::OK, "ok\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("processing loop silent for {:?}\n", app.status.heartbeat_age()),
        )
    }
}

async fn serve_readyz(State(app): State<AppState>) -> impl IntoResponse {
    match app.status.not_ready_reason() {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}

async fn serve_usecases(State(app): State<AppState>) -> impl IntoResponse {
    let loaded = app.status.use_cases.snapshot();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&loaded).unwrap_or_default(),
    )
}

pub struct HttpServer {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `listen` and serves in a background thread with its own small runtime.
    pub fn start(listen: &str, metrics: Arc<Metrics>, status: Arc<Status>) -> std::io::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/metrics", get(serve_metrics))
            .route("/healthz", get(serve_healthz))
            .route("/readyz", get(serve_readyz))
            .route("/usecases", get(serve_usecases))
            .with_state(AppState { metrics, status });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("http".into()).spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        })?;
        Ok(HttpServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
