//! The HTTP transport: routes, the GraphQL POST endpoint, health, and the playground's static
//! files. It authenticates the bearer token, hands the request to the schema, and makes sure
//! every refusal is a GraphQL-shaped JSON body with an `extensions.code`.

pub mod metrics;
pub mod serve;
pub mod ws;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{ErrorExtensions, Response as GqlResponse, ServerError};
use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{DefaultBodyLimit, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::{ServeDir, ServeFile};

use crate::domain::identity::{Identity, Token, Viewer};
use crate::error_code::ErrorCode;
use crate::graphql::error::ensure_codes;
use crate::graphql::{RequestAuth, RoomcastSchema};

/// Largest accepted HTTP request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Transport limits and timers.
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// How long a WebSocket may take to send `connection_init` (close 4408 after).
    pub init_timeout: Duration,
    /// Largest accepted WebSocket message.
    pub max_ws_message: usize,
    /// Most operations one WebSocket may run at once.
    pub max_operations: usize,
    /// Largest GraphQL response sent in one HTTP body or WebSocket frame; a bigger result
    /// is replaced by a coded error (ask for fewer items).
    pub max_response_bytes: usize,
    /// graphql-ws keep-alive period (None: no server pings).
    pub keepalive: Option<Duration>,
    /// Deadline for a whole request body to arrive.
    pub body_timeout: Duration,
    /// Where the built playground lives (`index.html`, `graphiql.html`, assets).
    pub playground_dir: PathBuf,
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub schema: RoomcastSchema,
    pub shared: Arc<crate::graphql::shared::SharedMessages>,
    /// Documents of automatic persisted queries, by hash.
    pub persisted: Arc<crate::graphql::persisted::PersistedQueries>,
    pub identity: Identity,
    pub settings: Arc<TransportSettings>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    /// Counters for `/metrics` (the transport's own, and every other layer's to read).
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// The transport's counters.
    pub fn stats(&self) -> &metrics::TransportStats {
        &self.metrics.transport
    }
}

pub fn router(state: AppState) -> Router {
    let dir = state.settings.playground_dir.clone();
    let mut api = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }));
    if state.metrics.access != metrics::MetricsAccess::Off {
        api = api.route("/metrics", get(metrics_get));
    }
    let api = api
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    if dir.join("index.html").is_file() {
        api.route_service("/graphiql", ServeFile::new(dir.join("graphiql.html")))
            .fallback_service(ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html"))))
    } else {
        tracing::warn!(dir = %dir.display(), "playground is not built; serving a placeholder at /");
        api.route("/", get(placeholder))
            .route("/graphiql", get(placeholder))
    }
}

async fn placeholder() -> Html<&'static str> {
    Html(
        "<!doctype html><title>roomcast</title><h1>roomcast</h1>\
         <p>The API is at <code>/graphql</code> (POST, and WebSocket with graphql-transport-ws).</p>\
         <p>The playground is not built: run <code>./scripts/run</code> (or <code>npm ci &amp;&amp; npm run build</code> in <code>playground/</code>).</p>",
    )
}

/// A GraphQL result as `application/json`, which every client accepts.
pub fn json_response(status: StatusCode, response: &GqlResponse) -> Response {
    match serde_json::to_vec(response) {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "serialising a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A request-level error (no position in a document) carrying `extensions.code`.
pub fn coded_error(error: async_graphql::Error) -> ServerError {
    let mut server_error = ServerError::new(error.message, None);
    server_error.extensions = error.extensions;
    server_error
}

/// A response that is not a GraphQL execution result: a JSON body with one coded error.
pub fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let err = async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()));
    json_response(status, &GqlResponse::from_errors(vec![coded_error(err)]))
}

/// The bearer token of the request, if it has an `Authorization` header. A header that is
/// not `Bearer <token>` is returned whole so it fails authentication instead of silently
/// making the request anonymous.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some("\u{0}invalid");
    };
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Some(token.trim())
        }
        _ => Some(value),
    }
}

/// The viewer for a token; an invalid or revoked token is an error, never anonymous.
pub async fn authenticate(
    identity: &Identity,
    token: Option<&str>,
    client: Option<std::net::IpAddr>,
) -> Result<RequestAuth, crate::domain::error::DomainError> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(RequestAuth {
            client,
            ..RequestAuth::default()
        }),
        Some(raw) => {
            let session = identity.authenticate(&Token::from_client(raw)).await?;
            Ok(RequestAuth {
                viewer: Viewer::User(session.user),
                token: Some(raw.to_owned()),
                client,
                session_expires_at: session.expires_at,
                ..RequestAuth::default()
            })
        }
    }
}

/// The client's address, as the accept loop recorded it.
fn client_ip(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v == "application/graphql-response+json")
}

/// `/metrics` in Prometheus' text format, to the clients `--metrics` allows.
async fn metrics_get(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let allowed = match state.metrics.access {
        metrics::MetricsAccess::Open => true,
        metrics::MetricsAccess::Local => {
            client_ip(request.extensions()).is_some_and(|ip| ip.is_loopback())
        }
        metrics::MetricsAccess::Off => false,
    };
    if !allowed {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.render(),
    )
        .into_response()
}

/// `error_response` for a request refused before execution, counted for `/metrics`.
fn refuse(state: &AppState, status: StatusCode, code: ErrorCode, message: &str) -> Response {
    state.stats().count_code(code);
    error_response(status, code, message)
}

#[tracing::instrument(skip_all)]
async fn graphql_post(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    state
        .stats()
        .http_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let headers = request.headers().clone();
    let client = client_ip(request.extensions());
    if !is_json(&headers) {
        return refuse(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadUserInput,
            "send GraphQL requests as POST with Content-Type: application/json",
        );
    }
    // One deadline for the whole body: a client dribbling a byte at a time cannot hold
    // the connection (and its task) open.
    let body = tokio::time::timeout(
        state.settings.body_timeout,
        <Bytes as axum::extract::FromRequest<AppState>>::from_request(request, &state),
    )
    .await;
    let body = match body {
        Err(_) => {
            return refuse(
                &state,
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::BadUserInput,
                &format!(
                    "the request body did not arrive within {} ms",
                    state.settings.body_timeout.as_millis()
                ),
            )
        }
        Ok(Ok(b)) => b,
        Ok(Err(rejection)) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("request body is larger than {MAX_BODY_BYTES} bytes")
            } else {
                "could not read the request body".to_owned()
            };
            return refuse(&state, status, ErrorCode::BadUserInput, &message);
        }
    };
    let mut request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &format!("request body is not a GraphQL request in JSON: {e}"),
            )
        }
    };
    if let Err(refusal) = state.persisted.resolve(&mut request) {
        state.stats().count_code(refusal.code());
        let err = coded_error(refusal.into_gql());
        return json_response(StatusCode::OK, &GqlResponse::from_errors(vec![err]));
    }
    let auth = match authenticate(&state.identity, bearer(&headers), client).await {
        Ok(auth) => auth,
        Err(e) => {
            state.stats().count_code(e.code());
            let err = coded_error(crate::graphql::error::to_gql(e));
            return json_response(StatusCode::OK, &GqlResponse::from_errors(vec![err]));
        }
    };
    let mut response = state.schema.execute(request.data(auth)).await;
    ensure_codes(&mut response);
    state.stats().count_errors(&response.errors);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bounded_json(&response, state.settings.max_response_bytes),
    )
        .into_response()
}

/// A response serialised, or (when it would exceed `max` bytes, or cannot be serialised) a
/// response carrying one coded error instead.
pub fn bounded_json(response: &GqlResponse, max: usize) -> Vec<u8> {
    let refusal = match serde_json::to_vec(response) {
        Ok(body) if body.len() <= max => return body,
        Ok(_) => async_graphql::Error::new(format!(
            "the response would be larger than {max} bytes: ask for fewer items or fields"
        ))
        .extend_with(|_, e| e.set("code", ErrorCode::BadUserInput.as_str())),
        Err(e) => {
            crate::graphql::error::to_gql(crate::domain::error::DomainError::Internal(e.into()))
        }
    };
    let refusal = GqlResponse::from_errors(vec![coded_error(refusal)]);
    serde_json::to_vec(&refusal)
        .unwrap_or_else(|_| crate::graphql::error::internal_error_json().into_bytes())
}

async fn graphql_get(
    State(state): State<AppState>,
    slot: Option<Extension<serve::ConnectionSlot>>,
    client: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let client = client.map(|Extension(c)| c.0.ip());
    match upgrade {
        Ok(upgrade) => ws::upgrade(state, headers, upgrade, slot.map(|Extension(s)| s), client),
        Err(_) => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadUserInput,
            "use POST with a JSON body for queries and mutations, or a WebSocket (graphql-transport-ws) for subscriptions",
        ),
    }
}
