//! The HTTP server: a tiny_http listener and a small pool of worker threads that
//! answer from [`ServerState`].

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::api;
use crate::auth;
use crate::backend::IncidentStore;
use crate::error::ServerError;
use crate::store::Store;

/// Worker threads answering requests.
const WORKERS: usize = 4;
/// Longest request target accepted.
pub(crate) const MAX_URL: usize = 4096;
/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 16 * 1024;
/// How often an idle worker checks for shutdown.
const POLL: Duration = Duration::from_millis(100);

type MetricsFn = Box<dyn Fn() -> String + Send + Sync>;
type HealthFn = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What the server answers from: the store, the daemon's metrics and health, and the
/// optional bearer token.
pub struct ServerState {
    pub(crate) store: Arc<dyn IncidentStore>,
    /// The SQLite store of the model lifecycle (model history, lifecycle log, drift,
    /// allow-list), when this server shows it.
    pub(crate) lifecycle: Option<Arc<Store>>,
    pub(crate) metrics: MetricsFn,
    pub(crate) health: HealthFn,
    pub(crate) token: Option<String>,
}

impl ServerState {
    /// State over `store` (any backend), with empty metrics, always healthy and no
    /// token.
    pub fn new(store: Arc<dyn IncidentStore>) -> ServerState {
        ServerState {
            store,
            lifecycle: None,
            metrics: Box::new(String::new),
            health: Box::new(|| Ok(())),
            token: None,
        }
    }

    /// Serves the model lifecycle's routes (`/api/models`, `/api/lifecycle`,
    /// `/api/drift`, `/api/allowlist`) from `store`, and lets a false positive marked
    /// in the dashboard feed its allow-list. Without it those routes answer 404.
    pub fn with_lifecycle(mut self, store: Option<Arc<Store>>) -> Self {
        self.lifecycle = store;
        self
    }

    /// Sets the function rendering `/metrics` (Prometheus text format 0.0.4).
    pub fn with_metrics(mut self, metrics: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.metrics = Box::new(metrics);
        self
    }

    /// Sets the health check behind `/healthz`: `Err(reason)` answers 503.
    pub fn with_health(
        mut self,
        health: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.health = Box::new(health);
        self
    }

    /// Requires `Authorization: Bearer TOKEN` (or HTTP Basic with TOKEN as the
    /// password) on every route but `/healthz`. `None` disables the check, which
    /// [`Server::start`] only allows on a loopback address.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// The store served.
    pub fn store(&self) -> &Arc<dyn IncidentStore> {
        &self.store
    }
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("store", &self.store.describe())
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// Starts HTTP servers; see [`Server::start`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Binds `addr` (port 0 picks a free port) and answers requests on worker threads
    /// until [`ServerHandle::shutdown`] (or drop). A non-loopback address requires a
    /// token in `state`.
    pub fn start(addr: SocketAddr, state: Arc<ServerState>) -> Result<ServerHandle, ServerError> {
        match &state.token {
            Some(t) if !auth::valid_token(t) => return Err(ServerError::InvalidToken),
            None if !addr.ip().is_loopback() => return Err(ServerError::TokenRequired { addr }),
            _ => {}
        }
        let listener =
            TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| ServerError::Start { addr: local, message: e.to_string() })?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::with_capacity(WORKERS);
        for i in 0..WORKERS {
            let (server, stop, state) = (server.clone(), stop.clone(), state.clone());
            let worker = std::thread::Builder::new()
                .name(format!("anomalog-http-{i}"))
                .spawn(move || work(&server, &stop, &state))
                .map_err(|e| ServerError::Start { addr: local, message: e.to_string() })?;
            workers.push(worker);
        }
        Ok(ServerHandle { addr: local, server: Some(server), stop, workers })
    }
}

/// A running server. Dropping it shuts it down too.
pub struct ServerHandle {
    addr: SocketAddr,
    server: Option<Arc<tiny_http::Server>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address actually bound (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests, lets in-flight requests finish and joins the workers.
    pub fn shutdown(mut self) {
        self.stop_workers();
    }

    fn stop_workers(&mut self) {
        let Some(server) = self.server.take() else { return };
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..self.workers.len() {
            server.unblock();
        }
        for worker in self.workers.drain(..) {
            // A worker only ends by seeing the flag; a panic was already contained.
            let _ = worker.join();
        }
        // The last reference: tiny_http closes its listener on a thread of its own, so
        // wait (briefly, bounded) until the port is free and a restart can bind it.
        drop(server);
        let probe = match self.addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), self.addr.port())
            }
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), self.addr.port())
            }
            _ => self.addr,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while std::time::Instant::now() < deadline
            && std::net::TcpStream::connect_timeout(&probe, POLL).is_ok()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

fn work(server: &tiny_http::Server, stop: &AtomicBool, state: &ServerState) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(POLL) {
            Ok(Some(mut request)) => {
                let reply =
                    std::panic::catch_unwind(AssertUnwindSafe(|| answer(&mut request, state)))
                        .unwrap_or_else(|_| api::Reply::error(500, "internal error"));
                // The client may have gone away; nothing to do about it.
                let _ = request.respond(reply.into_response());
            }
            Ok(None) => {}
            Err(_) if stop.load(Ordering::SeqCst) => break,
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Reads what the handlers need from the request and routes it.
fn answer(request: &mut tiny_http::Request, state: &ServerState) -> api::Reply {
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (authorization, host, content_type) =
        (header("Authorization"), header("Host"), header("Content-Type"));
    let method = request.method().as_str().to_ascii_uppercase();
    let url = request.url().to_string();
    let body = if method == "POST" {
        match read_body(request) {
            Ok(body) => body,
            Err(reply) => return reply,
        }
    } else {
        Vec::new()
    };
    api::route(
        state,
        &api::Incoming {
            method: &method,
            url: &url,
            authorization: authorization.as_deref(),
            host: host.as_deref(),
            content_type: content_type.as_deref(),
            body: &body,
        },
    )
}

fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, api::Reply> {
    let too_large = || api::Reply::error(413, "request body too large");
    if request.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| api::Reply::error(400, "cannot read the request body"))?;
    if body.len() > MAX_BODY { Err(too_large()) } else { Ok(body) }
}
