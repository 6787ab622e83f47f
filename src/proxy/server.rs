//! The accept loop and the plain (first-hop) HTTP/1.1 connection: absolute-form
//! requests, CONNECT, and requests for harp itself.

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
use tokio::net::{TcpListener, TcpStream};

use super::body::{text_response, Body};
use super::connect;
use super::shutdown::InFlight;
use super::{DynHandler, Handler, RequestContext, Upstream, LOCAL_HOST};
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
    /// How long shutdown waits for in-flight exchanges.
    pub shutdown_grace: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 256 * 1024,
            first_bytes_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(10),
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
    /// Exchanges being handled, waited for at shutdown.
    pub in_flight: Arc<InFlight>,
}

impl Shared {
    pub fn context(&self, client_addr: SocketAddr, intercepted: bool) -> RequestContext {
        RequestContext {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            started: SystemTime::now(),
            client_addr,
            intercepted,
        }
    }
}

/// Serves proxy connections accepted on `listener` until `shutdown` completes, then stops
/// accepting and waits (at most `config.shutdown_grace`) for open exchanges to finish.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    upstream: Upstream,
    tls: Arc<LeafIssuer>,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let local_addr = listener.local_addr()?;
    let grace = config.shutdown_grace;
    let shared = Arc::new(Shared {
        handler: handler as Arc<dyn DynHandler>,
        upstream,
        tls,
        config,
        local_addr,
        next_id: AtomicU64::new(0),
        in_flight: Arc::new(InFlight::default()),
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_plain(shared.clone(), stream, addr));
                }
                Err(err) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    if !shared.in_flight.wait_idle(grace).await {
        tracing::warn!(
            "some exchanges were still in flight after {} s; leaving them unfinished",
            grace.as_secs()
        );
    }
    Ok(())
}

async fn serve_plain(shared: Arc<Shared>, stream: TcpStream, client_addr: SocketAddr) {
    let svc_shared = shared.clone();
    let service = service_fn(move |req| {
        let shared = svc_shared.clone();
        let fut: BoxFuture = Box::pin(async move {
            Ok::<_, std::convert::Infallible>(dispatch_plain(shared, req, client_addr).await)
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
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let result = conn.await;
    if let Err(err) = result {
        tracing::debug!("client connection from {client_addr}: {err}");
    }
}

async fn dispatch_plain(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    client_addr: SocketAddr,
) -> Response<Body> {
    if req.method() == Method::CONNECT {
        return connect::accept(shared, req, client_addr);
    }
    let _in_flight = shared.in_flight.enter();
    let ctx = shared.context(client_addr, false);
    let is_absolute = req.uri().scheme().is_some() && req.uri().authority().is_some();
    if !is_absolute || is_local(req.uri(), shared.local_addr) {
        return shared.handler.handle_local(req, ctx).await;
    }
    if req.uri().scheme() != Some(&Scheme::HTTP) {
        return text_response(
            StatusCode::BAD_REQUEST,
            format!(
                "harp: absolute-form requests must use http://, got {}; use CONNECT for https",
                req.uri()
            ),
        );
    }
    let req = match normalise_uri(req, &Scheme::HTTP, None) {
        Ok(req) => req,
        Err(reason) => return text_response(StatusCode::BAD_REQUEST, format!("harp: {reason}")),
    };
    shared.handler.handle(req, ctx, &shared.upstream).await
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
pub(super) fn normalise_uri(
    mut req: Request<Incoming>,
    scheme: &Scheme,
    authority: Option<&Authority>,
) -> Result<Request<Incoming>, String> {
    let authority = match authority.or(req.uri().authority()) {
        Some(a) => a.clone(),
        None => return Err("the request names no host".to_string()),
    };
    let default_port = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    let host = authority.host().to_ascii_lowercase();
    let authority_text = match authority.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host,
    };
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
