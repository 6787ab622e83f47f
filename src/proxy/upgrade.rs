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
use super::headers::tokens;
use super::upstream::{FailureKind, Upstream, UpstreamError};
use super::websocket::Conversation;

/// True when the request asks to switch protocols (`Connection: upgrade` + `Upgrade`),
/// other than to `h2c`: that offer is dropped and the request forwarded as it is.
pub(crate) fn is_upgrade<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    let to_h2c_only = tokens(headers, header::UPGRADE).all(|p| p.eq_ignore_ascii_case("h2c"));
    req.version() == Version::HTTP_11
        && headers.contains_key(header::UPGRADE)
        && !to_h2c_only
        && tokens(headers, header::CONNECTION).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Where an upgrade goes: `host:port`, and whether over TLS.
struct Target {
    host: String,
    port: u16,
    https: bool,
    /// `host:port`, for messages.
    authority: String,
}

impl Target {
    fn of(uri: &http::Uri) -> Self {
        let (host, port) = crate::urls::host_port(uri);
        Self {
            host: host.to_string(),
            port,
            https: uri.scheme_str() == Some("https"),
            authority: format!("{host}:{port}"),
        }
    }

    fn fail(&self, kind: FailureKind, reason: String) -> UpstreamError {
        UpstreamError::Exchange {
            authority: self.authority.clone(),
            kind,
            reason,
        }
    }
}

/// Forwards an upgrade handshake and, on `101`, joins the two upgraded connections.
/// Returns what the client gets: the upstream's answer, or a 502 naming the failure.
pub(super) async fn pass_through<B>(
    mut req: Request<B>,
    upstream: &Upstream,
    tls: Arc<rustls::ClientConfig>,
    response_timeout: Duration,
    conversation: Option<Conversation>,
) -> Result<Response<Body>, UpstreamError> {
    let target = Target::of(req.uri());
    let client_side = hyper::upgrade::on(&mut req);
    let io = connect(&target, upstream, tls).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(io))
        .await
        .map_err(|e| target.fail(FailureKind::Other, e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("upgraded upstream connection: {e}");
        }
    });
    let mut forward = handshake_of(&req, &target)?;
    if conversation.is_some() {
        // Relayed message by message: no compression to undo (the server then answers
        // without `permessage-deflate`, and the client sees that).
        forward
            .headers_mut()
            .remove(http::header::SEC_WEBSOCKET_EXTENSIONS);
    }
    let mut response =
        match tokio::time::timeout(response_timeout, sender.send_request(forward)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(target.fail(FailureKind::Other, e.to_string())),
            Err(_) => {
                return Err(target.fail(
                    FailureKind::Timeout,
                    format!("no response within {} s", response_timeout.as_secs_f64()),
                ))
            }
        };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response.map(boxed));
    }
    let upstream_side = hyper::upgrade::on(&mut response);
    let head = (response.status(), response.headers().clone());
    tokio::spawn(join(
        client_side,
        upstream_side,
        target.authority,
        head,
        conversation,
    ));
    let (parts, _) = response.into_parts();
    Ok(Response::from_parts(parts, empty()))
}

/// Once both sides have switched: relays a conversation message by message (handing
/// it over when it ends), or joins the two connections byte for byte.
async fn join(
    client_side: hyper::upgrade::OnUpgrade,
    upstream_side: hyper::upgrade::OnUpgrade,
    authority: String,
    head: (StatusCode, http::HeaderMap),
    conversation: Option<Conversation>,
) {
    match (tokio::try_join!(client_side, upstream_side), conversation) {
        (Ok((client, upstream)), Some(c)) => {
            let messages = super::websocket::relay(client, upstream, c.stopping).await;
            (c.done)(head.0, head.1, messages);
            drop(c.guard);
        }
        (Ok((client, upstream)), None) => {
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!("upgraded connection to {authority}: {e}");
            }
        }
        (Err(e), conversation) => {
            tracing::debug!("upgrade to {authority} failed: {e}");
            if let Some(c) = conversation {
                (c.done)(head.0, head.1, Vec::new());
            }
        }
    }
}

/// A dedicated connection to the target: TCP, then TLS (ALPN http/1.1) for `https`.
async fn connect(
    target: &Target,
    upstream: &Upstream,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Box<dyn Stream>, UpstreamError> {
    let tcp = upstream
        .connect_raw(&target.host, target.port)
        .await
        .map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => FailureKind::Refused,
                std::io::ErrorKind::TimedOut => FailureKind::Timeout,
                _ => FailureKind::Other,
            };
            target.fail(kind, format!("tcp connect error: {e}"))
        })?;
    if !target.https {
        return Ok(Box::new(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(target.host.clone())
        .map_err(|e| target.fail(FailureKind::Tls, format!("invalid server name: {e}")))?;
    let tls_stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            target.fail(
                FailureKind::Tls,
                super::upstream::with_hint(FailureKind::Tls, e.to_string()),
            )
        })?;
    Ok(Box::new(tls_stream))
}

/// The handshake as sent upstream: origin-form target, the client's headers minus the
/// proxy's own, and `Host` when the client sent none.
fn handshake_of<B>(req: &Request<B>, target: &Target) -> Result<Request<Body>, UpstreamError> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let mut forward = Request::builder()
        .method(req.method().clone())
        .uri(path)
        .version(Version::HTTP_11);
    for (name, value) in req.headers() {
        if !super::headers::is_proxy_only(name.as_str()) {
            forward = forward.header(name, value);
        }
    }
    let mut forward = forward
        .body(empty())
        .map_err(|e| target.fail(FailureKind::Other, e.to_string()))?;
    if !forward.headers().contains_key(header::HOST) {
        let scheme = if target.https { "https" } else { "http" };
        let host_header = if Some(target.port) == crate::urls::default_port(scheme) {
            target.host.clone()
        } else {
            target.authority.clone()
        };
        if let Ok(v) = HeaderValue::from_str(&host_header) {
            forward.headers_mut().insert(header::HOST, v);
        }
    }
    Ok(forward)
}
