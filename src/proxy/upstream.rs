//! The client side: one pooled HTTP/1.1 + h2 client (ALPN-negotiated over TLS) that
//! forwards requests to real servers, with its trust store and time limits.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{HttpConnector, HttpInfo};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::body::{text_response, Body};
use super::via::{Connector, UpstreamProxy};
use tokio::net::TcpStream;

/// How the client reaches and trusts upstream servers.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Extra PEM files of CA certificates to trust beside the webpki roots.
    pub extra_ca_files: Vec<PathBuf>,
    /// Skip certificate verification entirely (loudly warned about by the CLI).
    pub insecure: bool,
    /// Limit on establishing TCP (per address tried).
    pub connect_timeout: Duration,
    /// Limit from sending the request to receiving the response head.
    pub response_timeout: Duration,
    /// Reach the network through this HTTP proxy (`--upstream-proxy`).
    pub proxy: Option<UpstreamProxy>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            extra_ca_files: Vec::new(),
            insecure: false,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            proxy: None,
        }
    }
}

/// Why an upstream exchange failed, grouped for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// Nothing listens there (connection refused).
    Refused,
    /// Connecting or waiting for the response took too long.
    Timeout,
    /// The TLS handshake failed, usually certificate verification.
    Tls,
    /// The name did not resolve.
    Dns,
    /// Anything else (reset, protocol error…).
    Other,
}

/// What can go wrong setting up or using the upstream client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// An `--upstream-ca` file could not be read or holds no certificate.
    #[error("{path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The TLS client could not be set up.
    #[error("upstream TLS set-up: {0}")]
    Tls(#[source] rustls::Error),
    /// The exchange with the upstream failed.
    #[error("upstream {authority} failed: {reason}")]
    Exchange {
        /// `host:port` of the upstream.
        authority: String,
        /// The failure class.
        kind: FailureKind,
        /// The whole error chain, readable.
        reason: String,
    },
}

impl UpstreamError {
    /// The failure class, for an exchange failure.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            Self::Exchange { kind, .. } => Some(*kind),
            Self::CaFile { .. } | Self::Tls(_) => None,
        }
    }

    /// The 502 answer a client gets for this failure.
    pub(crate) fn to_response(&self) -> Response<Body> {
        let mut resp = text_response(StatusCode::BAD_GATEWAY, format!("harp: {self}"));
        resp.headers_mut()
            .insert("x-harp-error", http::HeaderValue::from_static("upstream"));
        resp
    }
}

/// A forwarded response and what harp learnt about the connection.
pub struct UpstreamResponse {
    /// The response, body still streaming.
    pub response: Response<Incoming>,
    /// The server's address, when the connector reported it.
    pub remote_addr: Option<SocketAddr>,
}

/// The shared upstream client.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<Connector>, Body>,
    proxy: Option<UpstreamProxy>,
    /// The same trust, offering only http/1.1: for protocol upgrades.
    tls_http1: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl Upstream {
    /// Builds the client: webpki roots plus `extra_ca_files`, or no verification at all.
    pub fn new(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(UpstreamError::Tls)?;
        let tls = if config.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for path in &config.extra_ca_files {
                for cert in load_pem_certs(path)? {
                    roots.add(cert).map_err(|e| UpstreamError::CaFile {
                        path: path.clone(),
                        reason: format!("unusable certificate: {e}"),
                    })?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        let mut tls_http1 = tls.clone();
        tls_http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(Connector::new(
                http,
                config.proxy.clone(),
                config.connect_timeout,
            ));
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(Self {
            client,
            proxy: config.proxy.clone(),
            tls_http1: Arc::new(tls_http1),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
        })
    }

    /// Sends `req` (absolute URI, headers already prepared for the upstream) and waits
    /// for the response head within the response time limit.
    pub async fn send(&self, mut req: Request<Body>) -> Result<UpstreamResponse, UpstreamError> {
        let authority = authority_of(&req);
        // The pooled connection decides between HTTP/1.1 and h2; the client rejects an
        // HTTP/2-versioned request on an HTTP/1.1 connection, so always ask for 1.1.
        *req.version_mut() = Version::HTTP_11;
        if let Some(auth) = self.proxy.as_ref().and_then(|p| p.authorization()) {
            if req.uri().scheme_str() == Some("http") {
                req.headers_mut()
                    .insert(http::header::PROXY_AUTHORIZATION, auth.clone());
            }
        }
        let result = tokio::time::timeout(self.response_timeout, self.client.request(req)).await;
        match result {
            Err(_) => Err(UpstreamError::Exchange {
                authority,
                kind: FailureKind::Timeout,
                reason: format!(
                    "no response within {} s",
                    self.response_timeout.as_secs_f64()
                ),
            }),
            Ok(Err(err)) => {
                let kind = classify(&err);
                Err(UpstreamError::Exchange {
                    authority,
                    kind,
                    reason: with_hint(kind, describe(&err)),
                })
            }
            Ok(Ok(response)) => {
                let remote_addr = response
                    .extensions()
                    .get::<HttpInfo>()
                    .map(|info| info.remote_addr());
                Ok(UpstreamResponse {
                    response,
                    remote_addr,
                })
            }
        }
    }

    /// Passes a protocol upgrade (WebSocket) through to the upstream: the handshake is
    /// forwarded on a dedicated HTTP/1.1 connection and, on `101`, both sides are joined.
    pub(crate) async fn upgrade<B>(
        &self,
        req: Request<B>,
        conversation: Option<super::websocket::Conversation>,
    ) -> Result<Response<Body>, UpstreamError> {
        super::upgrade::pass_through(
            req,
            self,
            self.tls_http1.clone(),
            self.response_timeout,
            conversation,
        )
        .await
    }

    /// A raw TCP connection to `host:port` (tunnels, upgrades): direct, or through the
    /// upstream proxy's CONNECT.
    pub(crate) async fn connect_raw(&self, host: &str, port: u16) -> std::io::Result<TcpStream> {
        if let Some(proxy) = &self.proxy {
            return proxy.tunnel(host, port, self.connect_timeout).await;
        }
        let connect = TcpStream::connect((host, port));
        let tcp = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

fn authority_of<B>(req: &Request<B>) -> String {
    let (_, port) = crate::urls::host_port(req.uri());
    format!("{}:{port}", req.uri().host().unwrap_or("?"))
}

fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, UpstreamError> {
    let err = |reason: String| UpstreamError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = crate::input::read_regular_file(path, 16 << 20)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(err("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// Walks the error chain, looking inside `io::Error`s too (their `source()` skips the
/// wrapped error), and returns every distinct message and error found.
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        out.push(e);
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// The reason, with what to do about it where harp knows.
pub(super) fn with_hint(kind: FailureKind, reason: String) -> String {
    match kind {
        FailureKind::Tls => format!(
            "{reason} (harp does not trust the upstream's certificate: add its CA with --upstream-ca PEM, or use --insecure-upstream for a test server)"
        ),
        _ => reason,
    }
}

fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(err) {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn classify(err: &(dyn StdError + 'static)) -> FailureKind {
    for e in chain(err) {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return FailureKind::Tls;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return FailureKind::Refused,
                std::io::ErrorKind::TimedOut => return FailureKind::Timeout,
                _ => {}
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return FailureKind::Dns;
        }
        if text.contains("tcp connect error") && text.contains("timed out") {
            return FailureKind::Timeout;
        }
    }
    FailureKind::Other
}

/// Accepts any server certificate (`--insecure-upstream`), still checking signatures.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
