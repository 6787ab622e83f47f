//! Protocol upgrades (WebSocket and other `Upgrade:` handshakes) passed through to the
//! upstream: a dedicated HTTP/1.1 connection (TLS with ALPN http/1.1 for `https`), the
//! handshake forwarded with its `Connection`/`Upgrade` headers, and after a `101` both
//! upgraded streams joined byte for byte.

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::body::{boxed, empty, Body};
use super::upstream::{FailureKind, Upstream, UpstreamError};

/// True when the request asks to switch protocols (`Connection: upgrade` + `Upgrade`),
/// other than to `h2c`: that offer is dropped and the request forwarded as it is.
pub fn is_upgrade<B>(req: &Request<B>) -> bool {
    let to_h2c_only = req
        .headers()
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .all(|p| p.trim().eq_ignore_ascii_case("h2c"));
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && !to_h2c_only
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Forwards an upgrade handshake and, on `101`, joins the two upgraded connections.
/// Returns what the client gets: the upstream's answer, or a 502 naming the failure.
pub(super) async fn pass_through<B>(
    mut req: Request<B>,
    upstream: &Upstream,
    tls: Arc<rustls::ClientConfig>,
    response_timeout: Duration,
) -> Result<Response<Body>, UpstreamError> {
    let uri = req.uri().clone();
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = format!("{host}:{port}");
    let fail = |kind: FailureKind, reason: String| UpstreamError::Exchange {
        authority: authority.clone(),
        kind,
        reason,
    };
    let client_side = hyper::upgrade::on(&mut req);

    let tcp = match upstream.connect_raw(&host, port).await {
        Ok(tcp) => tcp,
        Err(e) => {
            let kind = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => FailureKind::Refused,
                std::io::ErrorKind::TimedOut => FailureKind::Timeout,
                _ => FailureKind::Other,
            };
            return Err(fail(kind, format!("tcp connect error: {e}")));
        }
    };
    let io: Box<dyn Stream> = if https {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| fail(FailureKind::Tls, format!("invalid server name: {e}")))?;
        let tls_stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                fail(
                    FailureKind::Tls,
                    super::upstream::with_hint(FailureKind::Tls, e.to_string()),
                )
            })?;
        Box::new(tls_stream)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(io))
        .await
        .map_err(|e| fail(FailureKind::Other, e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("upgraded upstream connection: {e}");
        }
    });

    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let mut forward = Request::builder()
        .method(req.method().clone())
        .uri(path)
        .version(Version::HTTP_11);
    for (name, value) in req.headers() {
        if name != "proxy-authorization" && name != "proxy-connection" {
            forward = forward.header(name, value);
        }
    }
    let mut forward = forward
        .body(empty())
        .map_err(|e| fail(FailureKind::Other, e.to_string()))?;
    if !forward.headers().contains_key(header::HOST) {
        let host_header = match (https, port) {
            (true, 443) | (false, 80) => host.clone(),
            _ => authority.clone(),
        };
        if let Ok(v) = HeaderValue::from_str(&host_header) {
            forward.headers_mut().insert(header::HOST, v);
        }
    }
    let mut response =
        match tokio::time::timeout(response_timeout, sender.send_request(forward)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(fail(FailureKind::Other, e.to_string())),
            Err(_) => {
                return Err(fail(
                    FailureKind::Timeout,
                    format!("no response within {} s", response_timeout.as_secs_f64()),
                ))
            }
        };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response.map(boxed));
    }
    let upstream_side = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        match tokio::try_join!(client_side, upstream_side) {
            Ok((client, upstream)) => {
                let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!("upgraded connection to {authority}: {e}");
                }
            }
            Err(e) => tracing::debug!("upgrade to {authority} failed: {e}"),
        }
    });
    let (parts, _) = response.into_parts();
    Ok(Response::from_parts(parts, empty()))
}
