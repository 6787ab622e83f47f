//! Reaching the network through another HTTP proxy (`--upstream-proxy`, a corporate
//! proxy): `https` and every raw connection (tunnels, upgrades) go through `CONNECT`;
//! plain `http` requests are sent to the proxy in absolute form. Credentials in the
//! proxy URL (`http://user:pass@host:port`) become `Proxy-Authorization: Basic`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest CONNECT answer head read from the proxy.
const MAX_CONNECT_HEAD: usize = 16 * 1024;

/// Why an `--upstream-proxy` value is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamProxyError {
    /// Not a URL.
    #[error("{text:?}: {source}")]
    Url {
        /// The value given.
        text: String,
        /// The parser's complaint.
        source: url::ParseError,
    },
    /// A scheme other than `http`.
    #[error("{0:?}: only http:// proxies are supported (harp speaks CONNECT to them)")]
    Scheme(String),
    /// No host.
    #[error("{0:?} names no host")]
    NoHost(String),
    /// Credentials that cannot form a `Proxy-Authorization` header.
    #[error("{0:?}: the credentials cannot be sent in a header")]
    Credentials(String),
}

/// A parsed `--upstream-proxy`.
#[derive(Debug, Clone)]
pub struct UpstreamProxy {
    host: String,
    port: u16,
    auth: Option<HeaderValue>,
}

impl UpstreamProxy {
    /// Parses `http://[user:pass@]host[:port]` (port 80 when absent; a bare
    /// `host:port` is taken as http).
    pub fn parse(text: &str) -> Result<Self, UpstreamProxyError> {
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|source| UpstreamProxyError::Url {
            text: text.to_string(),
            source,
        })?;
        if url.scheme() != "http" {
            return Err(UpstreamProxyError::Scheme(text.to_string()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| UpstreamProxyError::NoHost(text.to_string()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let auth = if url.username().is_empty() {
            None
        } else {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let pair = format!(
                "{}:{}",
                decode(url.username()),
                decode(url.password().unwrap_or(""))
            );
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            );
            Some(
                HeaderValue::from_str(&value)
                    .map_err(|_| UpstreamProxyError::Credentials(text.to_string()))?,
            )
        };
        Ok(Self {
            host,
            port: url.port().unwrap_or(80),
            auth,
        })
    }

    /// The `Proxy-Authorization` value, when the URL had credentials.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.auth.as_ref()
    }

    /// `host:port` of the proxy, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Connects to the proxy itself.
    async fn connect_proxy(&self, timeout: Duration) -> io::Result<TcpStream> {
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let tcp = tokio::time::timeout(timeout, connect).await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connecting to the upstream proxy {} timed out",
                    self.address()
                ),
            )
        })??;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }

    /// A raw connection to `host:port` through the proxy's `CONNECT`.
    pub async fn tunnel(&self, host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
        let mut tcp = self.connect_proxy(timeout).await?;
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(auth) = &self.auth {
            head.push_str("Proxy-Authorization: ");
            head.push_str(auth.to_str().unwrap_or_default());
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).await?;
        let answer = tokio::time::timeout(timeout, read_head(&mut tcp))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the upstream proxy {} did not answer CONNECT",
                        self.address()
                    ),
                )
            })??;
        let status_line = answer.lines().next().unwrap_or("").to_string();
        let status = status_line.split_whitespace().nth(1).unwrap_or("");
        if !status.starts_with('2') {
            return Err(io::Error::other(format!(
                "the upstream proxy {} refused CONNECT {target}: {status_line}",
                self.address()
            )));
        }
        Ok(tcp)
    }
}

/// Reads a response head byte by byte (nothing past it: the tunnel starts there).
async fn read_head(tcp: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the upstream proxy closed the connection during CONNECT",
            ));
        }
        head.push(byte[0]);
        if head.len() > MAX_CONNECT_HEAD {
            return Err(io::Error::other(
                "the upstream proxy's CONNECT answer is too long",
            ));
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// The client's connector: direct, or through an [`UpstreamProxy`].
#[derive(Clone)]
pub(super) struct Connector {
    direct: HttpConnector,
    proxy: Option<UpstreamProxy>,
    timeout: Duration,
}

impl Connector {
    pub(super) fn new(
        direct: HttpConnector,
        proxy: Option<UpstreamProxy>,
        timeout: Duration,
    ) -> Self {
        Self {
            direct,
            proxy,
            timeout,
        }
    }
}

/// A connection made by [`Connector`]: says whether requests on it go to a proxy (then
/// hyper writes absolute-form targets).
pub(super) struct Conn {
    io: TokioIo<TcpStream>,
    to_proxy: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.to_proxy)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower_service::Service::<Uri>::poll_ready(&mut self.direct, cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(proxy) = self.proxy.clone() else {
            let fut = tower_service::Service::call(&mut self.direct, dst);
            return Box::pin(async move {
                let io = fut.await?;
                Ok(Conn {
                    io,
                    to_proxy: false,
                })
            });
        };
        let timeout = self.timeout;
        Box::pin(async move {
            let https = dst.scheme_str() == Some("https");
            let (host, port) = crate::urls::host_port(&dst);
            let host = host.to_string();
            let host = host.as_str();
            if https {
                let tcp = proxy.tunnel(host, port, timeout).await?;
                Ok(Conn {
                    io: TokioIo::new(tcp),
                    to_proxy: false,
                })
            } else {
                let tcp = proxy.connect_proxy(timeout).await?;
                Ok(Conn {
                    io: TokioIo::new(tcp),
                    to_proxy: true,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_urls() {
        let p = UpstreamProxy::parse("http://corp:3128").unwrap();
        assert_eq!(p.address(), "corp:3128");
        assert!(p.authorization().is_none());
        let p = UpstreamProxy::parse("proxy.internal:8080").unwrap();
        assert_eq!(p.address(), "proxy.internal:8080");
        let p = UpstreamProxy::parse("http://al%40ice:s3cret@127.0.0.1").unwrap();
        assert_eq!(p.address(), "127.0.0.1:80");
        // base64("al@ice:s3cret")
        assert_eq!(p.authorization().unwrap(), "Basic YWxAaWNlOnMzY3JldA==");
        assert!(UpstreamProxy::parse("https://corp:443").is_err());
        assert!(UpstreamProxy::parse("socks5://corp:1080").is_err());
    }
}
