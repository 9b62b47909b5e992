//! One serving layer for every listener rampart opens (webhook, ingest, dashboard, metrics):
//! HTTP/1.1 and HTTP/2, plain or TLS, with the same limits and timeouts everywhere.
//!
//! A security tool that anyone who reaches its port can stall is itself a hole: an admission
//! webhook with `failurePolicy: Fail` that stops answering blocks pod creation cluster-wide,
//! and with `Ignore` it switches enforcement off. So every connection is bounded in time at
//! each stage, and the slots are shared fairly:
//!
//! * **handshake** — a TLS handshake must finish within [`Limits::handshake_timeout`];
//! * **first request** — a new connection must deliver a complete request head within
//!   [`Limits::header_timeout`] after its handshake (this also covers the HTTP/1-or-2 preface,
//!   which hyper's auto builder waits for without a timer); HTTP/1 requests after the first
//!   get the same header timeout from hyper;
//! * **request** — from its head to its response, body read included, a request gets
//!   [`Limits::request_timeout`] (the API server gives a webhook 10 s at most, so the body has
//!   to arrive well before that); past it the client gets `408` and the connection closes
//!   (HTTP/2: a GOAWAY, so one slow stream cannot keep a connection forever);
//! * **idle** — an HTTP/1 connection waiting for its next request is closed by hyper's header
//!   timeout; an HTTP/2 connection with no stream in flight for [`Limits::idle_timeout`] gets a
//!   GOAWAY; HTTP/2 peers are pinged so dead ones are noticed;
//! * **slots** — open connections are capped process-wide, across listeners, below the
//!   file-descriptor limit, and per peer address. When a cap is reached a connection makes
//!   room: first one that never sent a request (oldest first), then the one idle the longest,
//!   and a peer over its own cap only ever displaces its own connections, so a connect flood
//!   from one address cannot push out the API server's. A connection with a request in flight
//!   is not evicted unless it has been busy without a pause for twice the request timeout
//!   (a client that keeps one slow stream open forever).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Time and size limits of every connection, the same for every listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at once, across every listener of the process. Capped further by
    /// [`fd_budget`] at start-up.
    pub max_connections: usize,
    /// Open connections at once from one peer address.
    pub max_connections_per_peer: usize,
    /// A TLS handshake must finish within this.
    pub handshake_timeout: Duration,
    /// A request head must arrive within this (after the handshake, or the previous response).
    pub header_timeout: Duration,
    /// From a request's head to its response, body read included.
    pub request_timeout: Duration,
    /// A connection with no request in flight is closed after this. Longer than the 90 s
    /// idle timeout of Go's HTTP client (the API server's), so the client closes first and
    /// never races a request against our close.
    pub idle_timeout: Duration,
    /// HTTP/2 keep-alive ping interval.
    pub h2_keepalive_interval: Duration,
    /// An HTTP/2 peer that does not answer a ping within this is dropped.
    pub h2_keepalive_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// Request header fields (HTTP/1) per request.
    pub max_headers: usize,
    /// Request header bytes (HTTP/2 header list; HTTP/1 read buffer).
    pub max_header_bytes: u32,
    /// HTTP/2 flow-control windows (stream, connection): what a peer may send before the
    /// handler reads it, so a thousand connections cannot park a gigabyte of bodies.
    pub h2_windows: (u32, u32),
    /// On shutdown, requests in flight get this long to finish.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_connections_per_peer: 256,
            handshake_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            h2_keepalive_interval: Duration::from_secs(20),
            h2_keepalive_timeout: Duration::from_secs(10),
            h2_max_concurrent_streams: 64,
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            h2_windows: (64 * 1024, 256 * 1024),
            drain: Duration::from_secs(20),
        }
    }
}

/// Raises the soft file-descriptor limit to the hard one (as Go's runtime does) and returns
/// how many connections fit in half of it: the other half stays for the Kubernetes client,
/// files and the listeners themselves. `None` when the limit cannot be read.
pub fn fd_budget() -> Option<usize> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    // `None` is "unlimited".
    let soft = limit.current.unwrap_or(1 << 20);
    usize::try_from(soft / 2).ok()
}

/// Why a connection was closed by the server.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum CloseReason {
    /// The TLS handshake did not finish in time.
    HandshakeTimeout,
    /// The TLS handshake failed.
    HandshakeFailed,
    /// No complete request head in time after connecting.
    HeaderTimeout,
    /// No request in flight for the idle timeout.
    Idle,
    /// Closed to make room for a new connection.
    Evicted,
    /// Refused: its peer was at its connection cap with every connection busy.
    PeerLimit,
    /// A request took longer than the request timeout.
    RequestTimeout,
}

impl CloseReason {
    /// The metric label (snake case, as Prometheus labels go).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::HandshakeTimeout => "handshake_timeout",
            CloseReason::HandshakeFailed => "handshake_failed",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::Idle => "idle",
            CloseReason::Evicted => "evicted",
            CloseReason::PeerLimit => "peer_limit",
            CloseReason::RequestTimeout => "request_timeout",
        }
    }
}

/// Labels of the closed-connections counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// Why: [`CloseReason::as_str`].
    pub reason: &'static str,
}

/// Connection metrics of the serving layer.
#[derive(Debug, Clone, Default)]
pub struct ServeMetrics {
    /// Connections open now, across listeners.
    pub open: Gauge,
    /// Connections the server closed, by reason.
    pub closed: Family<CloseLabels, Counter>,
}

impl ServeMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(registry: &mut Registry) -> ServeMetrics {
        let m = ServeMetrics::default();
        registry.register(
            "http_connections",
            "HTTP connections open now, across listeners",
            m.open.clone(),
        );
        registry.register(
            "http_connections_closed",
            "HTTP connections closed by the server (timeouts, eviction), by reason",
            m.closed.clone(),
        );
        m
    }

    fn closed(&self, reason: CloseReason) {
        self.closed
            .get_or_create(&CloseLabels {
                reason: reason.as_str(),
            })
            .inc();
    }
}

/// Milliseconds since the server's epoch: an atomic clock cheap to store per connection.
fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `busy_since` of a connection with nothing in flight.
const NOT_BUSY: u64 = u64::MAX;

/// What the server knows about one open connection.
#[derive(Debug)]
struct ConnState {
    /// The peer's address (per-peer cap).
    peer: IpAddr,
    /// Last request start or end, in ms since the server's epoch.
    last_active: AtomicU64,
    /// Requests in flight.
    in_flight: AtomicU32,
    /// Since when requests have been in flight without a pause (ms), or [`NOT_BUSY`].
    busy_since: AtomicU64,
    /// Whether a request head ever arrived.
    served: AtomicBool,
    /// Cancelled to close the connection (eviction, a request that timed out).
    close: CancellationToken,
}

impl ConnState {
    /// The eviction order of an evictable connection (lowest first), `None` when it is busy:
    /// never-served connections first, then by how long they have been idle (or stuck).
    fn eviction_key(&self, now: u64, stuck_after: u64) -> Option<(bool, u64)> {
        let served = self.served.load(Ordering::Acquire);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            return Some((served, self.last_active.load(Ordering::Relaxed)));
        }
        let since = self.busy_since.load(Ordering::Acquire);
        (since != NOT_BUSY && now.saturating_sub(since) > stuck_after).then_some((served, since))
    }
}

/// The open connections, and how many each peer holds (kept with them, so the per-peer cap
/// costs no scan on every accept).
#[derive(Debug, Default)]
struct Conns {
    by_id: HashMap<u64, Arc<ConnState>>,
    per_peer: HashMap<IpAddr, usize>,
}

impl Conns {
    fn add(&mut self, id: u64, state: Arc<ConnState>) {
        *self.per_peer.entry(state.peer).or_default() += 1;
        self.by_id.insert(id, state);
    }

    fn take(&mut self, id: u64) -> Option<Arc<ConnState>> {
        let state = self.by_id.remove(&id)?;
        if let Some(n) = self.per_peer.get_mut(&state.peer) {
            *n -= 1;
            if *n == 0 {
                self.per_peer.remove(&state.peer);
            }
        }
        Some(state)
    }
}

/// Every open connection of the process.
#[derive(Debug)]
struct Table {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<Conns>,
    freed: tokio::sync::Notify,
}

impl Table {
    fn len(&self) -> usize {
        self.conns.lock().map(|c| c.by_id.len()).unwrap_or(0)
    }

    fn insert(&self, peer: IpAddr) -> (u64, Arc<ConnState>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            peer,
            last_active: AtomicU64::new(millis_since(self.epoch)),
            in_flight: AtomicU32::new(0),
            busy_since: AtomicU64::new(NOT_BUSY),
            served: AtomicBool::new(false),
            close: CancellationToken::new(),
        });
        if let Ok(mut c) = self.conns.lock() {
            c.add(id, state.clone());
        }
        (id, state)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut c) = self.conns.lock() {
            c.take(id);
        }
        self.freed.notify_waiters();
    }

    /// Connections open from `peer`.
    fn count_from(&self, peer: IpAddr) -> usize {
        self.conns
            .lock()
            .map(|c| c.per_peer.get(&peer).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Closes the first evictable connection (of `peer` only, when given) in
    /// [`ConnState::eviction_key`] order; `false` when none is evictable. The evicted
    /// connection leaves the table at once, so the next check does not evict a second one for
    /// the same slot.
    fn evict(&self, peer: Option<IpAddr>, stuck_after: Duration) -> bool {
        let now = millis_since(self.epoch);
        let stuck_after = u64::try_from(stuck_after.as_millis()).unwrap_or(u64::MAX);
        let Ok(mut c) = self.conns.lock() else {
            return false;
        };
        let victim = c
            .by_id
            .iter()
            .filter(|(_, s)| peer.is_none_or(|p| s.peer == p))
            .filter_map(|(id, s)| s.eviction_key(now, stuck_after).map(|k| (k, *id)))
            .min()
            .map(|(_, id)| id);
        match victim.and_then(|id| c.take(id)) {
            Some(s) => {
                s.close.cancel();
                true
            }
            None => false,
        }
    }
}

/// Removes a connection from the table however its task ends.
struct Slot {
    table: Arc<Table>,
    id: u64,
    metrics: ServeMetrics,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.remove(self.id);
        self.metrics.open.dec();
    }
}

/// The serving layer: one per process, shared by every listener so the connection cap and
/// eviction see all of them.
#[derive(Debug, Clone)]
pub struct Server {
    limits: Limits,
    table: Arc<Table>,
    metrics: ServeMetrics,
}

impl Server {
    /// A server with `limits` (its connection cap lowered to `fd_budget` when given).
    pub fn new(mut limits: Limits, fd_budget: Option<usize>, metrics: ServeMetrics) -> Server {
        if let Some(b) = fd_budget {
            limits.max_connections = limits.max_connections.min(b.max(1));
        }
        Server {
            limits,
            table: Arc::new(Table {
                epoch: Instant::now(),
                next_id: AtomicU64::new(0),
                conns: Mutex::new(Conns::default()),
                freed: tokio::sync::Notify::new(),
            }),
            metrics,
        }
    }

    /// The serving layer of this process: `limits` capped by [`fd_budget`] (which raises the
    /// soft file-descriptor limit), logged once. Every listener of the process shares it.
    pub fn for_process(limits: Limits, metrics: ServeMetrics) -> Server {
        let server = Server::new(limits, fd_budget(), metrics);
        tracing::info!(limits = ?server.limits(), "serving limits");
        server
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.table.len()
    }

    /// Serves `router` on `listener` (over TLS with `tls`) until `cancel`, then gives requests
    /// in flight up to [`Limits::drain`] to finish.
    pub async fn serve(
        &self,
        listener: TcpListener,
        tls: Option<Arc<ServerConfig>>,
        router: axum::Router,
        cancel: CancellationToken,
    ) {
        let acceptor = tls.map(TlsAcceptor::from);
        let builder = self.builder();
        // Tasks of this listener, so shutdown waits for this listener's connections only.
        let tasks = tokio_util::task::TaskTracker::new();
        loop {
            let (tcp, peer) = tokio::select! {
                () = cancel.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors (EMFILE, ENFILE): free one by closing a
                        // connection. Either way back off a little instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        if matches!(e.raw_os_error(), Some(23 | 24))
                            && self.table.evict(None, self.stuck_after())
                        {
                            self.metrics.closed(CloseReason::Evicted);
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
            };
            // Room is made when a connection arrives, never ahead of one.
            match self.make_room(peer.ip(), &cancel).await {
                Room::Made => {}
                Room::Refused => {
                    self.metrics.closed(CloseReason::PeerLimit);
                    continue;
                }
                Room::Cancelled => break,
            }
            // Responses are small and latency matters more than segment count.
            let _ = tcp.set_nodelay(true);
            let (id, state) = self.table.insert(peer.ip());
            self.metrics.open.inc();
            let slot = Slot {
                table: self.table.clone(),
                id,
                metrics: self.metrics.clone(),
            };
            let conn = Conn {
                state,
                limits: self.limits,
                epoch: self.table.epoch,
                metrics: self.metrics.clone(),
                peer,
                shutdown: cancel.clone(),
            };
            let router = router.clone();
            let builder = builder.clone();
            let acceptor = acceptor.clone();
            tasks.spawn(async move {
                let _slot = slot;
                conn.run(tcp, acceptor, builder, router).await;
            });
        }
        // New connections are refused at once instead of queuing in the kernel while draining.
        drop(listener);
        tasks.close();
        if tokio::time::timeout(self.limits.drain, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "connections still open after {:?}; closing",
                self.limits.drain
            );
        }
    }

    /// A connection busy without a pause for this long may be evicted.
    fn stuck_after(&self) -> Duration {
        self.limits.request_timeout * 2
    }

    /// Makes room for a connection from `peer`: a peer at its own cap displaces one of its own
    /// connections (or is refused), and at the global cap an evictable connection is closed;
    /// when every connection is busy, waits (each busy one is bounded by the request timeout,
    /// a stuck one becomes evictable).
    async fn make_room(&self, peer: IpAddr, cancel: &CancellationToken) -> Room {
        if self.table.count_from(peer) >= self.limits.max_connections_per_peer {
            if !self.table.evict(Some(peer), self.stuck_after()) {
                return Room::Refused;
            }
            self.metrics.closed(CloseReason::Evicted);
        }
        loop {
            if self.table.len() < self.limits.max_connections {
                return Room::Made;
            }
            if self.table.evict(None, self.stuck_after()) {
                self.metrics.closed(CloseReason::Evicted);
                return Room::Made;
            }
            let freed = self.table.freed.notified();
            tokio::select! {
                () = cancel.cancelled() => return Room::Cancelled,
                () = freed => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    fn builder(&self) -> auto::Builder<TokioExecutor> {
        let l = &self.limits;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(l.header_timeout)
            .max_headers(l.max_headers)
            .max_buf_size((l.max_header_bytes as usize).max(8192));
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(l.h2_keepalive_interval)
            .keep_alive_timeout(l.h2_keepalive_timeout)
            .max_concurrent_streams(l.h2_max_concurrent_streams)
            .max_header_list_size(l.max_header_bytes)
            .initial_stream_window_size(l.h2_windows.0)
            .initial_connection_window_size(l.h2_windows.1);
        builder
    }
}

/// What [`Server::make_room`] decided.
enum Room {
    Made,
    /// The peer is at its cap with every connection busy.
    Refused,
    Cancelled,
}

/// One accepted connection.
struct Conn {
    state: Arc<ConnState>,
    limits: Limits,
    epoch: Instant,
    metrics: ServeMetrics,
    peer: SocketAddr,
    shutdown: CancellationToken,
}

impl Conn {
    async fn run(
        self,
        tcp: tokio::net::TcpStream,
        acceptor: Option<TlsAcceptor>,
        builder: auto::Builder<TokioExecutor>,
        router: axum::Router,
    ) {
        let mut service = ConnService {
            verified_client: false,
            router,
            peer: self.peer,
            state: self.state.clone(),
            epoch: self.epoch,
            request_timeout: self.limits.request_timeout,
            metrics: self.metrics.clone(),
        };
        match acceptor {
            None => self.http(TokioIo::new(tcp), builder, service).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(tcp));
                let tls = tokio::select! {
                    r = handshake => r,
                    () = self.state.close.cancelled() => return,
                    () = self.shutdown.cancelled() => return,
                };
                match tls {
                    Ok(Ok(s)) => {
                        // A certificate presented is one the verifier accepted.
                        service.verified_client = s
                            .get_ref()
                            .1
                            .peer_certificates()
                            .is_some_and(|c| !c.is_empty());
                        // The header clock starts after the handshake.
                        self.state
                            .last_active
                            .store(millis_since(self.epoch), Ordering::Relaxed);
                        self.http(TokioIo::new(s), builder, service).await;
                    }
                    Ok(Err(e)) => {
                        self.metrics.closed(CloseReason::HandshakeFailed);
                        tracing::debug!(peer = %self.peer, "TLS handshake failed: {e}");
                    }
                    Err(_) => {
                        self.metrics.closed(CloseReason::HandshakeTimeout);
                        tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                    }
                }
            }
        }
    }

    async fn http<I>(&self, io: I, builder: auto::Builder<TokioExecutor>, service: ConnService)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        // With upgrades: the guard's gate passes WebSocket upgrades through.
        let conn = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(conn);
        let grace = tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    // hyper's own HTTP/1 header timer may fire before ours.
                    if e.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_timeout) {
                        self.metrics.closed(CloseReason::HeaderTimeout);
                    }
                    tracing::debug!(peer = %self.peer, "connection ended: {e}");
                }
                return;
            }
            reason = self.expiry() => {
                self.metrics.closed(reason);
                Duration::from_secs(1)
            }
            // Evicted, or a request timed out: a request that just started (eviction races
            // with it) or other streams still in flight get their full time.
            () = self.state.close.cancelled() => {
                if self.state.in_flight.load(Ordering::Acquire) > 0 {
                    self.limits.request_timeout
                } else {
                    Duration::from_secs(1)
                }
            }
            () = self.shutdown.cancelled() => self.limits.drain,
        };
        // HTTP/2 gets a GOAWAY, HTTP/1 closes after the response in progress, if any.
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(grace, conn).await;
    }

    /// Resolves when the connection has been without a request in flight for too long: the
    /// header timeout before its first request, the idle timeout after.
    async fn expiry(&self) -> CloseReason {
        loop {
            let s = &self.state;
            let (limit, reason) = if s.served.load(Ordering::Acquire) {
                (self.limits.idle_timeout, CloseReason::Idle)
            } else {
                (self.limits.header_timeout, CloseReason::HeaderTimeout)
            };
            let since =
                millis_since(self.epoch).saturating_sub(s.last_active.load(Ordering::Relaxed));
            let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
            if s.in_flight.load(Ordering::Acquire) == 0 && since >= limit_ms {
                return reason;
            }
            // Busy or not yet due: look again when it could be due.
            let wait = if s.in_flight.load(Ordering::Acquire) > 0 {
                limit_ms
            } else {
                limit_ms - since
            };
            tokio::time::sleep(Duration::from_millis(wait.max(10))).await;
        }
    }
}

/// The per-connection service: tags requests with the peer address, tracks them in flight
/// and bounds each by the request timeout.
#[derive(Clone)]
struct ConnService {
    router: axum::Router,
    peer: SocketAddr,
    /// The client presented a certificate the TLS configuration's client verifier accepted.
    verified_client: bool,
    state: Arc<ConnState>,
    epoch: Instant,
    request_timeout: Duration,
    metrics: ServeMetrics,
}

/// A request extension: the connection's client certificate was verified against the
/// listener's client CA (see [`crate::tls::server_config_with_clients`]). Handlers may take it
/// as authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedClient;

/// Counts a request in flight until dropped (also when the client goes away mid-request).
struct InFlight {
    state: Arc<ConnState>,
    epoch: Instant,
}

impl InFlight {
    fn start(state: Arc<ConnState>, epoch: Instant) -> InFlight {
        let now = millis_since(epoch);
        if state.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            state.busy_since.store(now, Ordering::Release);
        }
        state.served.store(true, Ordering::Release);
        state.last_active.store(now, Ordering::Relaxed);
        InFlight { state, epoch }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state
            .last_active
            .store(millis_since(self.epoch), Ordering::Relaxed);
        if self.state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.state.busy_since.store(NOT_BUSY, Ordering::Release);
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn call(&self, mut req: Request<Incoming>) -> BoxFuture {
        let guard = InFlight::start(self.state.clone(), self.epoch);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        if self.verified_client {
            req.extensions_mut().insert(VerifiedClient);
        }
        let router = self.router.clone();
        let limit = self.request_timeout;
        let metrics = self.metrics.clone();
        let peer = self.peer;
        let close = self.state.close.clone();
        Box::pin(async move {
            let response = match tokio::time::timeout(limit, router.oneshot(req)).await {
                Ok(r) => r,
                Err(_) => {
                    metrics.closed(CloseReason::RequestTimeout);
                    // HTTP/2 drops `Connection: close`: end the connection ourselves.
                    close.cancel();
                    tracing::debug!(%peer, "request timed out after {limit:?}");
                    let mut r = (
                        StatusCode::REQUEST_TIMEOUT,
                        format!("request not completed within {limit:?}\n"),
                    )
                        .into_response();
                    // The body may be half read: the connection cannot carry another request.
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    Ok(r)
                }
            };
            drop(guard);
            response
        })
    }
}
