//! CONNECT: answer 200, then look at the client's first bytes. TLS is intercepted with a
//! leaf certificate for the SNI name (or the CONNECT host) and served as HTTP/1.1 or h2
//! by ALPN; anything else is tunnelled to the CONNECT target unchanged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;

use super::body::{empty, text_response, Body};
use super::rewind::Rewind;
use super::server::{normalise_uri, BoxFuture, Shared};
use super::LOCAL_HOST;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Answers a CONNECT request and takes over the connection once hyper hands it back.
pub(super) fn accept(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    client_addr: SocketAddr,
) -> Response<Body> {
    let authority = match req.uri().authority() {
        Some(a) if a.port_u16().is_some() => a.clone(),
        _ => {
            return text_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "harp: CONNECT needs host:port, got {:?}",
                    req.uri().to_string()
                ),
            )
        }
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => take_over(shared, TokioIo::new(upgraded), authority, client_addr).await,
            Err(err) => {
                tracing::debug!("CONNECT {authority} from {client_addr}: upgrade failed: {err}")
            }
        }
    });
    Response::new(empty())
}

async fn take_over<S>(
    shared: Arc<Shared>,
    mut stream: S,
    authority: Authority,
    client_addr: SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut first = vec![0u8; 4096];
    let n = match tokio::time::timeout(shared.config.first_bytes_timeout, stream.read(&mut first))
        .await
    {
        Ok(Ok(0)) => return,
        Ok(Ok(n)) => n,
        Ok(Err(err)) => {
            tracing::debug!("CONNECT {authority} from {client_addr}: {err}");
            return;
        }
        // Nothing yet: a protocol where the server speaks first. Tunnel it.
        Err(_) => 0,
    };
    first.truncate(n);
    let is_tls = first.first() == Some(&TLS_HANDSHAKE);
    let stream = Rewind::new(first, stream);
    if is_tls {
        intercept(shared, stream, authority, client_addr).await;
    } else {
        tunnel(shared, stream, authority, client_addr).await;
    }
}

async fn intercept<S>(shared: Arc<Shared>, stream: S, authority: Authority, client_addr: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limit = shared.config.handshake_timeout;
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let start = match tokio::time::timeout(limit, acceptor).await {
        Ok(Ok(start)) => start,
        Ok(Err(err)) => {
            tracing::debug!("TLS from {client_addr} for {authority}: bad ClientHello: {err}");
            return;
        }
        Err(_) => return,
    };
    let host = start
        .client_hello()
        .server_name()
        .map(str::to_string)
        .unwrap_or_else(|| authority.host().to_string());
    let config = match shared.tls.server_config(&host) {
        Ok(config) => config,
        Err(err) => {
            tracing::warn!("cannot issue a certificate for {host:?}: {err}");
            return;
        }
    };
    let tls = match tokio::time::timeout(limit, start.into_stream(config)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::debug!(
                "TLS handshake with {client_addr} for {host} failed: {err} (does the client trust harp's CA?)"
            );
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake with {client_addr} for {host} timed out");
            return;
        }
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let svc_shared = shared.clone();
    let svc_authority = authority.clone();
    let service = service_fn(move |req| {
        let shared = svc_shared.clone();
        let authority = svc_authority.clone();
        let fut: BoxFuture = Box::pin(async move {
            Ok::<_, std::convert::Infallible>(
                dispatch_intercepted(shared, req, &authority, client_addr).await,
            )
        });
        fut
    });
    let io = TokioIo::new(tls);
    let result = if h2 {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(io, service);
        conn.await
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(shared.config.header_read_timeout)
            .max_buf_size(shared.config.max_header_bytes.max(8192))
            .serve_connection(io, service)
            .with_upgrades();
        conn.await
    };
    if let Err(err) = result {
        tracing::debug!("intercepted connection {client_addr} -> {authority}: {err}");
    }
}

async fn dispatch_intercepted(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    authority: &Authority,
    client_addr: SocketAddr,
) -> Response<Body> {
    let _in_flight = shared.in_flight.enter();
    let ctx = shared.context(client_addr, true);
    if authority.host().eq_ignore_ascii_case(LOCAL_HOST) {
        return shared.handler.handle_local(req, ctx).await;
    }
    match normalise_uri(req, &Scheme::HTTPS, Some(authority)) {
        Ok(req) => shared.handler.handle(req, ctx, &shared.upstream).await,
        Err(reason) => text_response(StatusCode::BAD_REQUEST, format!("harp: {reason}")),
    }
}

async fn tunnel<S>(
    shared: Arc<Shared>,
    mut stream: S,
    authority: Authority,
    client_addr: SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !shared.handler.allow_tunnel(authority.as_str()) {
        tracing::info!("refused a non-TLS tunnel to {authority} from {client_addr}");
        let _ = stream.shutdown().await;
        return;
    }
    let port = authority.port_u16().unwrap_or(443);
    let connect = TcpStream::connect((authority.host().to_string(), port));
    let mut upstream = match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(err)) => {
            tracing::warn!("tunnel to {authority}: {err}");
            return;
        }
        Err(_) => {
            tracing::warn!("tunnel to {authority}: connect timed out");
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    if let Err(err) = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await {
        tracing::debug!("tunnel {client_addr} <-> {authority}: {err}");
    }
}
