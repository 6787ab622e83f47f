//! CONNECT: answer 200, then look at the client's first bytes. TLS is intercepted with a
//! leaf certificate for the SNI name (or the CONNECT host) and served as HTTP/1.1 or h2
//! by ALPN; plain HTTP (a request line, or h2's preface) is served like the listener's
//! absolute-form requests, addressed to the CONNECT target; anything else is tunnelled
//! to the target unchanged.

use std::net::SocketAddr;
use std::sync::Arc;

use http::uri::{Authority, Scheme};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;

use super::body::{empty, text_response, Body};
use super::rewind::Rewind;
use super::server::{serve_http, Protocols, Route, Shared};
use super::stop::Phase;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Answers a CONNECT request and takes over the connection once hyper hands it back.
pub(super) fn accept(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    client_addr: SocketAddr,
) -> Response<Body> {
    let authority = match req.uri().authority() {
        Some(a) if a.port_u16().is_some_and(|p| p != 0) => a.clone(),
        _ => {
            return text_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "harp: CONNECT needs host:port with a port from 1 to 65535, got {:?}",
                    req.uri().to_string()
                ),
            )
        }
    };
    let open = shared.stopper.connections.enter();
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => take_over(shared, TokioIo::new(upgraded), authority, client_addr).await,
            Err(err) => {
                tracing::debug!("CONNECT {authority} from {client_addr}: upgrade failed: {err}")
            }
        }
        drop(open);
    });
    Response::new(empty())
}

/// What the first bytes of a tunnel say it carries.
#[derive(Debug, PartialEq, Eq)]
enum Carried {
    Tls,
    Http,
    Other,
}

fn sniff(first: &[u8]) -> Carried {
    if first.first() == Some(&TLS_HANDSHAKE) {
        return Carried::Tls;
    }
    // An HTTP/1.x request line starts with a method token and a space; h2 with prior
    // knowledge starts with "PRI * HTTP/2.0".
    let token_len = first
        .iter()
        .take_while(|b| b.is_ascii_uppercase() || **b == b'-')
        .count();
    if (1..=20).contains(&token_len) && first.get(token_len) == Some(&b' ') {
        Carried::Http
    } else {
        Carried::Other
    }
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
    let carried = sniff(&first);
    let stream = Rewind::new(first, stream);
    match carried {
        Carried::Tls => intercept(shared, stream, authority, client_addr).await,
        Carried::Http => {
            let route = Route::Tunnel {
                scheme: Scheme::HTTP,
                authority,
            };
            serve_http(shared, stream, route, client_addr, Protocols::Any).await;
        }
        Carried::Other => tunnel(shared, stream, authority, client_addr).await,
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
            report_handshake_failure(&shared, &host, client_addr, &err);
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake with {client_addr} for {host} timed out");
            return;
        }
    };
    let protocols = if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        Protocols::Http2
    } else {
        Protocols::Http1
    };
    let route = Route::Tunnel {
        scheme: Scheme::HTTPS,
        authority,
    };
    serve_http(shared, tls, route, client_addr, protocols).await;
}

/// A failed handshake with a client: one WARN per host when the client rejected harp's
/// certificate (it does not trust harp's CA), naming what to do; else a debug line.
fn report_handshake_failure(
    shared: &Shared,
    host: &str,
    client_addr: SocketAddr,
    err: &std::io::Error,
) {
    let text = err.to_string();
    let rejected = [
        "UnknownCA",
        "BadCertificate",
        "CertificateUnknown",
        "unknown ca",
        "bad certificate",
    ]
    .iter()
    .any(|k| text.contains(k));
    if rejected && shared.first_rejection(host) {
        tracing::warn!(
            "a client rejected harp's certificate for {host} ({text}): it does not trust harp's CA; run `harp ca` for how to trust it, or point the client at it (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS; `harp run` sets these)"
        );
    } else {
        tracing::debug!("TLS handshake with {client_addr} for {host} failed: {err}");
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
    let upstream = match shared.upstream.connect_raw(authority.host(), port).await {
        Ok(upstream) => upstream,
        Err(err) => {
            tracing::warn!("tunnel to {authority}: {err}");
            return;
        }
    };
    let idle = shared.config.tunnel_idle_timeout;
    let (mut client_read, mut client_write) = tokio::io::split(stream);
    let (mut up_read, mut up_write) = upstream.into_split();
    // A side that leaves (or stays silent for `idle`) ends the tunnel: the other
    // direction gets a short grace to finish (a half-closed peer still answering), then
    // both sockets are closed.
    let mut up = std::pin::pin!(copy_until_idle(&mut client_read, &mut up_write, idle));
    let mut down = std::pin::pin!(copy_until_idle(&mut up_read, &mut client_write, idle));
    let forced = shared.stopper.reached(Phase::Force);
    let mut forced = std::pin::pin!(forced);
    let up_first = tokio::select! {
        result = &mut up => { log_tunnel_end(result, client_addr, &authority); true }
        result = &mut down => { log_tunnel_end(result, client_addr, &authority); false }
        _ = &mut forced => return,
    };
    let grace = std::time::Duration::from_secs(5).min(idle);
    let rest = async {
        let result = if up_first {
            tokio::time::timeout(grace, &mut down).await
        } else {
            tokio::time::timeout(grace, &mut up).await
        };
        if let Ok(result) = result {
            log_tunnel_end(result, client_addr, &authority);
        }
    };
    tokio::select! {
        _ = rest => {}
        _ = &mut forced => {}
    }
}

fn log_tunnel_end(result: std::io::Result<()>, client_addr: SocketAddr, authority: &Authority) {
    if let Err(err) = result {
        tracing::debug!("tunnel {client_addr} <-> {authority}: {err}");
    }
}

/// Copies until EOF, an error, or `idle` without a byte.
async fn copy_until_idle<R, W>(
    from: &mut R,
    to: &mut W,
    idle: std::time::Duration,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout(idle, from.read(&mut buf)).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("idle for {} s", idle.as_secs()),
                ))
            }
        };
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_what_a_tunnel_carries() {
        assert_eq!(sniff(&[0x16, 3, 1]), Carried::Tls);
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Carried::Http);
        assert_eq!(sniff(b"M-SEARCH * HTTP/1.1\r\n"), Carried::Http);
        assert_eq!(sniff(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Carried::Http);
        assert_eq!(sniff(b"SSH-2.0-OpenSSH\r\n"), Carried::Other);
        assert_eq!(sniff(b""), Carried::Other);
        assert_eq!(sniff(b"get / HTTP/1.1"), Carried::Other);
    }
}
