//! The simulator as a service: shared state, routes, the gate every ARM request passes
//! (request IDs, authentication, api-version, faults, throttling, the request log), and the
//! HTTPS server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::ServiceExt as _;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tower::Layer as _;

use crate::clock::Clock;
use crate::entra::{self, TokenError, Tokens};
use crate::error::ArmError;
use crate::faults::{DropConnection, Faults};
use crate::inventory::Inventory;
use crate::settings::Settings;
use crate::state::{Persistence, World};
use crate::throttle::{RequestClass, Throttle};
use crate::{admin, arm, tls};

/// How many requests the log keeps (the oldest are dropped first).
const REQUEST_LOG_CAPACITY: usize = 200_000;

/// The simulator's shared state, cheap to clone.
#[derive(Clone)]
pub struct Sim(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub clock: Clock,
    pub tokens: Tokens,
    pub faults: Faults,
    pub throttle: Throttle,
    pub requests: Mutex<VecDeque<RequestRecord>>,
    /// When this process started serving (real time).
    pub started: std::time::Instant,
    /// Link speed of initial replication (megabits per second).
    pub replication_mbps: f64,
    inventory: Mutex<Arc<Inventory>>,
    world: Mutex<World>,
    persistence: Persistence,
    /// Writers waiting for the next save; the saver takes them in batches.
    saves:
        std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<tokio::sync::oneshot::Sender<()>>>,
    /// Saves made (each covering one or more writes).
    pub saves_made: std::sync::atomic::AtomicU64,
    base_url: String,
}

impl Deref for Sim {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// One ARM request as the log keeps it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// Simulated time of the request.
    pub time: String,
    /// Real milliseconds since the simulator started (to check waits such as `Retry-After`).
    pub elapsed_ms: u64,
    pub request_id: String,
    /// The connection was closed without an answer (an injected fault).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// The JSON body of a PUT, PATCH or POST, so a client's requests can be checked against
    /// the service's models (tests/conformance/contract.py).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl RequestRecord {
    fn new(
        sim: &Sim,
        method: &Method,
        path: String,
        query: String,
        status: u16,
        request_id: String,
    ) -> RequestRecord {
        RequestRecord {
            method: method.to_string(),
            path,
            query,
            status,
            time: sim.now().to_string(),
            elapsed_ms: u64::try_from(sim.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            request_id,
            dropped: false,
            body: None,
        }
    }
}

/// The saver: takes every writer waiting, serializes the world once for all of them, writes it
/// on a blocking thread, then lets them answer. Ends with the simulator.
async fn save_in_batches(
    sim: std::sync::Weak<Inner>,
    mut waiting: tokio::sync::mpsc::UnboundedReceiver<tokio::sync::oneshot::Sender<()>>,
) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = waiting.try_recv() {
            batch.push(next);
        }
        let Some(inner) = sim.upgrade() else { return };
        let sim = Sim(inner);
        match sim.snapshot() {
            Ok(bytes) => {
                let persistence = sim.persistence.clone();
                match tokio::task::spawn_blocking(move || persistence.save_bytes(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::error!(%error, "saving state"),
                    Err(error) => tracing::error!(%error, "saving state"),
                }
            }
            Err(error) => tracing::error!(%error, "serializing state"),
        }
        sim.saves_made
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        drop(sim);
        for writer in batch {
            let _ = writer.send(());
        }
    }
}

/// The largest request body the log keeps (ARM's own limit on a request is 4 MB).
const LOGGED_BODY_LIMIT: usize = 4 * 1024 * 1024;

impl Sim {
    pub fn new(
        settings: Settings,
        persistence: Persistence,
        base_url: String,
    ) -> anyhow::Result<Sim> {
        let world = persistence.load()?;
        let start = world.saved_at.unwrap_or_else(jiff::Timestamp::now);
        let mut inventory = settings.inventory.clone();
        inventory.merge(&world.inventory_additions);
        Ok(Sim(Arc::new(Inner {
            clock: Clock::new(start, settings.time_scale),
            replication_mbps: settings.replication_mbps,
            inventory: Mutex::new(Arc::new(inventory)),
            settings,
            tokens: Tokens::restore(world.tokens.clone()),
            faults: Faults::default(),
            throttle: Throttle::default(),
            requests: Mutex::new(VecDeque::new()),
            started: std::time::Instant::now(),
            world: Mutex::new(world),
            persistence,
            saves: std::sync::OnceLock::new(),
            saves_made: Default::default(),
            base_url,
        })))
    }

    fn log_request(&self, record: RequestRecord) {
        tracing::debug!(method = %record.method, path = %record.path, status = record.status, dropped = record.dropped, "arm request");
        let mut log = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == REQUEST_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(record);
    }

    /// The client secret Entra accepts now: the configured one until `/_sim/identity` rotates it.
    pub fn client_secret(&self) -> String {
        self.world()
            .rotated_client_secret
            .clone()
            .unwrap_or_else(|| self.settings.client_secret.clone())
    }

    /// `https://127.0.0.1:PORT`: ARM endpoint and authority host alike.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The world, with whatever finished by now applied and every source whose vault exists
    /// registered.
    pub fn world(&self) -> MutexGuard<'_, World> {
        let inventory = self.inventory();
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.clock.now();
        world.settle(now);
        crate::asr::register_ready_sources(
            &mut world,
            &inventory,
            &self.settings.subscription,
            now,
        );
        world
    }

    /// The source inventory as it is now.
    pub fn inventory(&self) -> Arc<Inventory> {
        self.inventory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the source inventory (machines added while running).
    pub fn set_inventory(&self, inventory: Inventory) {
        *self.inventory.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(inventory);
    }

    /// Saves the world when `--state` asks for it, returning once a save that began after this
    /// call has reached the disk: a write is answered only once it would survive a kill, as
    /// ARM's are. Writes that arrive while a save is under way share the next one (a group
    /// commit), and the file is written off the runtime's threads, so the cost of a save is
    /// paid once per batch rather than once per request.
    pub async fn persist(&self) {
        if self.persistence.path.is_none() {
            return;
        }
        let saver = self.saves.get_or_init(|| {
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(save_in_batches(Arc::downgrade(&self.0), receiver));
            sender
        });
        let (done, saved) = tokio::sync::oneshot::channel();
        if saver.send(done).is_ok() {
            let _ = saved.await;
        }
    }

    /// The world as a save writes it, with the simulated time it was taken at.
    fn snapshot(&self) -> serde_json::Result<Vec<u8>> {
        let mut world = self.world();
        world.saved_at = Some(self.clock.now());
        serde_json::to_vec(&*world)
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }
}

/// All routes: Entra ID, ARM behind the gate, and the admin API.
pub fn router(sim: Sim) -> Router {
    let entra = Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(entra::openid_configuration),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route(
            "/metadata/endpoints",
            get(arm::subscriptions::metadata_endpoints),
        );
    let arm = arm::routes().layer(middleware::from_fn_with_state(sim.clone(), gate));
    Router::new()
        .merge(entra)
        .merge(arm)
        .nest(
            "/_sim",
            admin::routes().layer(middleware::from_fn(loopback_only)),
        )
        .with_state(sim)
}

/// Rewrites ARM's keywords in the path to one casing before routing: ARM matches them
/// case-insensitively and SDKs differ (`resourcegroups` vs `resourceGroups`).
fn canonicalize<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    *request.uri_mut() = canonical_uri(request.uri());
    request
}

fn canonical_uri(uri: &Uri) -> Uri {
    let path = uri
        .path()
        .split('/')
        .map(|segment| arm::canonical_segment(segment).unwrap_or(segment))
        .collect::<Vec<_>>()
        .join("/");
    let rebuilt = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    rebuilt.parse().unwrap_or_else(|_| uri.clone())
}

/// Every ARM request passes here.
async fn gate(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = request
        .headers()
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let class = RequestClass::of(&method);
    let scope = sim.settings.subscription.clone();

    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut request = request;
    let mut body = None;
    if matches!(method, Method::PUT | Method::PATCH | Method::POST) {
        let (parts, content) = request.into_parts();
        let bytes = axum::body::to_bytes(content, LOGGED_BODY_LIMIT)
            .await
            .unwrap_or_default();
        if !bytes.is_empty() {
            body = Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }));
        }
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    let mut dropped = None;
    let mut response = match admit(
        &sim,
        &method,
        &path,
        &query,
        authorization.as_deref(),
        &scope,
    )
    .await
    {
        Ok(_)
            if let Err(refused) =
                crate::contract::check(method.as_str(), &path, &query, body.as_ref()) =>
        {
            refused.into_response()
        }
        Ok(admitted) => {
            if let Some(failure) = admitted.fail_job {
                request
                    .extensions_mut()
                    .insert(crate::asr::InjectedJobFailure(failure));
            }
            if let Some(failure) = admitted.fail_operation {
                request.extensions_mut().insert(failure);
            }
            dropped = admitted.drop_connection;
            if dropped == Some(DropConnection::Before) {
                drop_connection(&sim, &method, &path, &query, 0, request_id);
            }
            let mutating = method != Method::GET && method != Method::HEAD;
            let response = next.run(request).await;
            if mutating && response.status().is_success() {
                sim.persist().await;
            }
            response
        }
        Err(error) => error.into_response(),
    };
    if dropped == Some(DropConnection::After) {
        let status = response.status().as_u16();
        drop_connection(&sim, &method, &path, &query, status, request_id);
    }

    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ms-request-id", &request_id),
        ("x-ms-correlation-request-id", &correlation_id),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let remaining = sim
        .throttle
        .remaining(&scope, &sim.settings.client_id, class);
    for (scope_word, left) in [
        ("subscription", remaining.principal),
        ("subscription-global", remaining.global),
    ] {
        if let Ok(name) = axum::http::HeaderName::from_bytes(
            format!("x-ms-ratelimit-remaining-{scope_word}-{}", class.as_str()).as_bytes(),
        ) {
            headers.insert(name, HeaderValue::from(left));
        }
    }

    let status = response.status().as_u16();
    let mut record = RequestRecord::new(&sim, &method, path, query, status, request_id);
    record.body = body;
    sim.log_request(record);
    response
}

/// Ends the connection without an answer, as a network failure would: the request is logged
/// as dropped, and unwinding out of the connection's task closes its socket. `resume_unwind`
/// skips the panic hook, so nothing is printed.
fn drop_connection(
    sim: &Sim,
    method: &Method,
    path: &str,
    query: &str,
    status: u16,
    request_id: String,
) -> ! {
    let mut record = RequestRecord::new(
        sim,
        method,
        path.to_owned(),
        query.to_owned(),
        status,
        request_id,
    );
    record.dropped = true;
    sim.log_request(record);
    std::panic::resume_unwind(Box::new("azure-sim dropped the connection"))
}

/// What [`admit`] lets through: the effects of a fault that still let the request in.
struct Admitted {
    fail_job: Option<crate::asr::model::ServiceError>,
    drop_connection: Option<DropConnection>,
    fail_operation: Option<crate::faults::OperationFailure>,
}

/// Whether ARM would look at this request at all, in ARM's order of checks; on success,
/// the job failure a fault asks for, if any.
async fn admit(
    sim: &Sim,
    method: &Method,
    path: &str,
    query: &str,
    authorization: Option<&str>,
    scope: &str,
) -> Result<Admitted, ArmError> {
    if let Err(reason) = sim.tokens.check(authorization) {
        return Err(unauthorized(reason));
    }
    let class = RequestClass::of(method);
    if let Some(subscription) = path
        .strip_prefix("/subscriptions/")
        .and_then(|rest| rest.split('/').next())
        && !subscription.eq_ignore_ascii_case(&sim.settings.subscription)
    {
        return Err(ArmError::subscription_not_found(subscription));
    }
    if !query
        .split('&')
        .any(|pair| pair.starts_with("api-version=") && pair.len() > "api-version=".len())
    {
        return Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    if let Some(refused) = arm::providers::check_registered(sim, method.as_str(), path) {
        return Err(refused);
    }
    let effect = sim.faults.apply(method.as_str(), path);
    if effect.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(effect.latency_ms)).await;
    }
    if let Some(error) = effect.error {
        return Err(error);
    }
    let admitted = Admitted {
        fail_job: effect.fail_job,
        drop_connection: effect.drop_connection,
        fail_operation: effect.fail_operation,
    };
    if sim.settings.throttling
        && let Err(throttled) = sim.throttle.take(scope, &sim.settings.client_id, class)
    {
        let kind = class.as_str().trim_end_matches('s');
        let mut error = ArmError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "SubscriptionRequestsThrottled",
            format!(
                "Number of '{kind}' requests for subscription '{scope}' actor '{}' exceeded. Please try again after '{}' seconds after the last request.",
                sim.settings.client_id, throttled.retry_after_seconds
            ),
        );
        error.retry_after = Some(throttled.retry_after_seconds);
        return Err(error);
    }
    Ok(admitted)
}

fn unauthorized(reason: TokenError) -> ArmError {
    let (code, message) = match reason {
        TokenError::Missing => (
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".to_owned(),
        ),
        TokenError::Unknown => (
            "InvalidAuthenticationToken",
            "The access token is invalid.".to_owned(),
        ),
        TokenError::Expired => (
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.".to_owned(),
        ),
        TokenError::WrongAudience(audience) => (
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences {}.",
                crate::entra::ARM_AUDIENCES
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
    };
    ArmError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The admin API answers loopback clients only.
async fn loopback_only(request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if peer.is_some_and(|ip| !ip.is_loopback()) {
        return (
            StatusCode::FORBIDDEN,
            "the /_sim admin API answers loopback clients only",
        )
            .into_response();
    }
    next.run(request).await
}

/// A running simulator.
pub struct Running {
    pub sim: Sim,
    pub address: SocketAddr,
    /// PEM of the certificate clients must trust.
    pub certificate_pem: String,
    handle: axum_server::Handle<SocketAddr>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn base_url(&self) -> &str {
        self.sim.base_url()
    }

    /// Stops accepting requests and waits for the server to finish.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(2)));
        let _ = self.server.await;
    }
}

/// Binds `listen`, generates the certificate, and serves until shut down.
pub async fn start(
    listen: SocketAddr,
    settings: Settings,
    persistence: Persistence,
    tls_dir: Option<&std::path::Path>,
) -> anyhow::Result<Running> {
    let listener = std::net::TcpListener::bind(listen)?;
    let address = listener.local_addr()?;
    let base_url = format!("https://{address}");
    let (tls_config, certificate_pem) = tls::server_config(address.ip(), tls_dir)?;
    let sim = Sim::new(settings, persistence, base_url)?;
    let app = tower::util::MapRequestLayer::new(canonicalize).layer(router(sim.clone()));
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls_config)?.handle(handle.clone());
    let server =
        tokio::spawn(server.serve(app.into_make_service_with_connect_info::<SocketAddr>()));
    Ok(Running {
        sim,
        address,
        certificate_pem,
        handle,
        server,
    })
}
