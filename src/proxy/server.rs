//! The accept loop, the HTTP server side of every client connection (the listener's
//! and each tunnel's), and request routing: absolute-form requests, CONNECT, requests
//! for harp itself, and the handler's decision.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::uri::{Authority, Scheme};
use http::{Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::body::{boxed, text_response, Body, IdleLimited};
use super::stop::{Phase, StopReport, Stopper};
use super::{connect, forward};
use super::{Decision, DynHandler, Handler, RequestContext, Upstream, LOCAL_HOST};
use crate::ca::LeafIssuer;

/// The service future, boxed: erasing its type keeps rustc's Send checking of the
/// spawned connection tasks tractable.
pub(super) type BoxFuture = std::pin::Pin<
    Box<dyn Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send>,
>;

/// Limits and time-outs of the listening side.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// Largest request head accepted (bytes); larger gets 431.
    pub max_header_bytes: usize,
    /// How long to wait after CONNECT for the client's first bytes before treating the
    /// tunnel as a server-speaks-first protocol.
    pub first_bytes_timeout: Duration,
    /// How long a client may take to finish a TLS handshake.
    pub handshake_timeout: Duration,
    /// How long shutdown lets open connections finish their exchanges in flight.
    pub shutdown_grace: Duration,
    /// Most client connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a raw (non-HTTP, non-TLS) tunnel may stay silent both ways before both
    /// sockets are closed.
    pub tunnel_idle_timeout: Duration,
    /// How long a client may pause in the middle of sending a request body.
    pub body_idle_timeout: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 256 * 1024,
            first_bytes_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 4096,
            tunnel_idle_timeout: Duration::from_secs(300),
            body_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Everything a connection task needs, shared.
pub(super) struct Shared {
    pub handler: Arc<dyn DynHandler>,
    pub upstream: Upstream,
    pub tls: Arc<LeafIssuer>,
    pub config: ProxyConfig,
    /// The proxy's own address: absolute-form requests to it are local, not loops.
    pub local_addr: SocketAddr,
    next_id: AtomicU64,
    /// Stopping without loss: connections and taps open.
    pub stopper: Stopper,
    /// Hosts whose certificate a client rejected, warned about once each (bounded).
    rejected_hosts: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    /// True the first time a client rejects harp's certificate for `host` (at most
    /// 1,024 hosts remembered; past that every rejection is reported).
    pub(super) fn first_rejection(&self, host: &str) -> bool {
        let mut seen = self
            .rejected_hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.len() >= 1024 {
            return true;
        }
        seen.insert(host.to_ascii_lowercase())
    }

    pub(super) fn context(&self, intercepted: bool) -> RequestContext {
        RequestContext {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            started: SystemTime::now(),
            intercepted,
            stopping: self.stopper.signal(),
        }
    }
}

/// How requests on a connection are addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// The proxy port: absolute-form requests, CONNECT, and requests for harp itself.
    Listener,
    /// Inside a CONNECT tunnel: origin-form requests for `scheme://authority`.
    Tunnel {
        /// `https` when intercepted, `http` for plain HTTP sent through the tunnel.
        scheme: Scheme,
        /// The CONNECT target.
        authority: Authority,
    },
}

/// Which HTTP versions a connection may speak.
#[derive(Debug, Clone, Copy)]
pub(super) enum Protocols {
    /// Either, by the connection preface.
    Any,
    /// HTTP/1.1 (ALPN said so).
    Http1,
    /// h2 (ALPN said so).
    Http2,
}

/// Serves proxy connections accepted on `listener` until `shutdown` completes. Then it
/// stops accepting, lets every open connection finish what is in flight (at most
/// `config.shutdown_grace`), closes the rest, and returns what it had to force.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    upstream: Upstream,
    tls: Arc<LeafIssuer>,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<StopReport> {
    let local_addr = listener.local_addr()?;
    let grace = config.shutdown_grace;
    let shared = Arc::new(Shared {
        handler: handler as Arc<dyn DynHandler>,
        upstream,
        tls,
        config,
        local_addr,
        next_id: AtomicU64::new(0),
        stopper: Stopper::default(),
        rejected_hosts: Default::default(),
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(
        shared.config.max_connections.max(1),
    ));
    tokio::pin!(shutdown);
    loop {
        // At the connection limit, stop accepting (clients wait in the listen backlog)
        // until one closes.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            _ = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let open = shared.stopper.connections.enter();
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        accepted_connection(shared, stream, addr).await;
                        drop(open);
                        drop(slot);
                    });
                }
                Err(err) => {
                    // Out of file descriptors and similar: back off instead of spinning,
                    // and try again (descriptors free up as connections close).
                    tracing::warn!("accept failed: {err}; retrying in 100 ms");
                    drop(slot);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let report = shared.stopper.stop(grace).await;
    if report.forced > 0 {
        tracing::warn!(
            "{} connection(s) still busy after {} s were closed; what they had received is kept",
            report.forced,
            grace.as_secs()
        );
    }
    Ok(report)
}

/// Serves one accepted connection. One that never sends a byte is closed after the
/// header time-out, not kept forever.
async fn accepted_connection(shared: Arc<Shared>, stream: tokio::net::TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    let limit = shared.config.header_read_timeout;
    match tokio::time::timeout(limit, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {
            serve_http(shared, stream, Route::Listener, addr, Protocols::Any).await
        }
        Ok(_) => {}
        Err(_) => tracing::debug!("{addr} sent nothing for {} s; closed", limit.as_secs()),
    }
}

/// Serves HTTP on one client connection (the listener's, or a tunnel's) until it closes
/// or harp stops. Boxed, for the same reason as [`BoxFuture`].
pub(super) fn serve_http<I>(
    shared: Arc<Shared>,
    io: I,
    route: Route,
    client_addr: SocketAddr,
    protocols: Protocols,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    Box::pin(serve_http_inner(shared, io, route, client_addr, protocols))
}

async fn serve_http_inner<I>(
    shared: Arc<Shared>,
    io: I,
    route: Route,
    client_addr: SocketAddr,
    protocols: Protocols,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc_shared = shared.clone();
    let route = Arc::new(route);
    let service = service_fn(move |req| {
        let shared = svc_shared.clone();
        let route = route.clone();
        let fut: BoxFuture = Box::pin(async move {
            Ok::<_, std::convert::Infallible>(dispatch(shared, req, &route, client_addr).await)
        });
        fut
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_read_timeout)
        .max_buf_size(shared.config.max_header_bytes.max(8192))
        .writev(true);
    builder.http2().timer(TokioTimer::new());
    let builder = match protocols {
        Protocols::Any => builder,
        Protocols::Http1 => builder.http1_only(),
        Protocols::Http2 => builder.http2_only(),
    };
    // Drain: finish what is in flight, then close (h1) or GOAWAY (h2); force: drop.
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => Some(result),
        _ = shared.stopper.reached(Phase::Drain) => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => Some(result),
                _ = shared.stopper.reached(Phase::Force) => None,
            }
        }
    };
    if let Some(Err(err)) = result {
        tracing::debug!("client connection from {client_addr}: {err}");
    }
}

/// Routes one request: CONNECT, harp's own endpoints, or the handler's decision (and
/// the forwarding it asks for).
async fn dispatch(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    route: &Route,
    client_addr: SocketAddr,
) -> Response<Body> {
    if *route == Route::Listener && req.method() == Method::CONNECT {
        return connect::accept(shared, req, client_addr);
    }
    let idle = shared.config.body_idle_timeout;
    let req = req.map(|body| boxed(IdleLimited::new(body, idle)));
    let (scheme, authority, intercepted) = match route {
        Route::Listener => {
            let is_absolute = req.uri().scheme().is_some() && req.uri().authority().is_some();
            if !is_absolute || is_local(req.uri(), shared.local_addr) {
                let ctx = shared.context(false);
                return shared.handler.handle_local(req, ctx).await;
            }
            // `ws://` is HTTP until the upgrade (some WebSocket clients send it so).
            let plain =
                req.uri().scheme() == Some(&Scheme::HTTP) || req.uri().scheme_str() == Some("ws");
            if !plain {
                return text_response(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "harp: absolute-form requests must use http:// (or ws://), got {}; use CONNECT for https and wss",
                        req.uri()
                    ),
                );
            }
            (Scheme::HTTP, None, false)
        }
        Route::Tunnel { scheme, authority } => {
            if req.method() == Method::CONNECT {
                return text_response(
                    StatusCode::BAD_REQUEST,
                    "harp: CONNECT inside a tunnel is not supported",
                );
            }
            if authority.host().eq_ignore_ascii_case(LOCAL_HOST) {
                let ctx = shared.context(*scheme == Scheme::HTTPS);
                return shared.handler.handle_local(req, ctx).await;
            }
            (scheme.clone(), Some(authority), *scheme == Scheme::HTTPS)
        }
    };
    let req = match normalise_uri(req, &scheme, authority) {
        Ok(req) => req,
        Err(reason) => return text_response(StatusCode::BAD_REQUEST, format!("harp: {reason}")),
    };
    let ctx = shared.context(intercepted);
    match shared.handler.decide(req, ctx.clone()).await {
        Decision::Respond(resp) => resp,
        Decision::Forward { request, observer } => {
            forward::forward(&shared.upstream, &shared.stopper, request, ctx, observer).await
        }
    }
}

/// True for URIs addressed to harp itself: the host `harp.local`, or the proxy's own
/// listening address (which would otherwise loop).
pub(super) fn is_local(uri: &Uri, local_addr: SocketAddr) -> bool {
    let Some(host) = uri.host() else { return true };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case(LOCAL_HOST) {
        return true;
    }
    let port = uri.port_u16().unwrap_or(80);
    if port != local_addr.port() {
        return false;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip == local_addr.ip() || (ip.is_loopback() && local_addr.ip().is_loopback()),
        Err(_) => host.eq_ignore_ascii_case("localhost") && local_addr.ip().is_loopback(),
    }
}

/// Rewrites the request URI as `scheme://host[:port]/path?query`, lower-case host,
/// default port dropped. `authority` overrides the URI's (intercepted requests).
pub(super) fn normalise_uri<B>(
    mut req: Request<B>,
    scheme: &Scheme,
    authority: Option<&Authority>,
) -> Result<Request<B>, String> {
    let authority = match authority.or(req.uri().authority()) {
        Some(a) => a.clone(),
        None => return Err("the request names no host".to_string()),
    };
    let authority_text =
        crate::urls::authority(scheme.as_str(), authority.host(), authority.port_u16());
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .to_string();
    let uri = Uri::builder()
        .scheme(scheme.clone())
        .authority(authority_text.as_str())
        .path_and_query(path.as_str())
        .build();
    match uri {
        Ok(uri) => {
            *req.uri_mut() = uri;
            Ok(req)
        }
        Err(err) => Err(format!("invalid request target: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses() {
        let me: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(is_local(
            &"http://harp.local/__harp/calls".parse().unwrap(),
            me
        ));
        assert!(is_local(&"http://127.0.0.1:8080/x".parse().unwrap(), me));
        assert!(is_local(&"http://localhost:8080/x".parse().unwrap(), me));
        assert!(!is_local(&"http://127.0.0.1:9090/x".parse().unwrap(), me));
        assert!(!is_local(&"http://example.com:8080/x".parse().unwrap(), me));
        assert!(is_local(&"/x".parse().unwrap(), me));
    }
}
