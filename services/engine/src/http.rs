//! The HTTP listener: `/metrics` (Prometheus text), `/healthz` (the processing loop is alive)
//! `/readyz` (joined the group and not shutting down), `/usecases` (the loaded use cases, with
//! id, version, status and checksum, and the last refused reload) and, when
//! `http.customer_api` enables it, `GET /customers/{id}` (a customer's state, explained; bearer
//! token; answered by the engine thread, see [`crate::customers`]).

use crate::customers::{AskError, CustomerQuery, CustomerReply};
use crate::metrics::Metrics;
use crate::status::Status;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
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

/// How long a customer query waits for the engine loop (busy restoring, or a long checkpoint).
const CUSTOMER_TIMEOUT: Duration = Duration::from_secs(10);

fn json_error(code: StatusCode, message: &str) -> axum::response::Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let scheme = value.get(..7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then(|| &value[7..])
}

async fn serve_customer(
    State(app): State<AppState>,
    Path(customer_id): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    let customers = &app.status.customers;
    let disabled = || {
        json_error(
            StatusCode::NOT_FOUND,
            "the customer API is disabled (http.customer_api.enabled)",
        )
    };
    if !customers.enabled() {
        return disabled();
    }
    if !bearer(&headers).is_some_and(|token| customers.authorized(token)) {
        let mut response = json_error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return response;
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    match customers.ask(CustomerQuery { customer_id, reply }) {
        Ok(()) => {}
        Err(AskError::Disabled) => return disabled(),
        Err(AskError::Busy) => return json_error(StatusCode::SERVICE_UNAVAILABLE, "the engine is busy; retry shortly"),
    }
    match tokio::time::timeout(CUSTOMER_TIMEOUT, answer).await {
        Ok(Ok(CustomerReply::Found(state))) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string_pretty(&state).unwrap_or_default(),
        )
            .into_response(),
        Ok(Ok(CustomerReply::NotHere)) => json_error(StatusCode::NOT_FOUND, "customer not on this instance"),
        Ok(Ok(CustomerReply::Failed(message))) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &message),
        // the engine loop ended, or did not get to the question in time (restoring a partition)
        Ok(Err(_)) | Err(_) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine did not answer in time (restoring or stopping); retry shortly",
        ),
    }
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
            .route("/customers/{id}", get(serve_customer))
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
