//! The forward proxy core: listener, CONNECT with TLS interception, plain absolute-form
//! HTTP, the upstream client and hop-by-hop rules.
//!
//! It knows nothing of HAR: every request goes to a [`Handler`], which answers it itself
//! (replay, mock) or forwards it through the [`Upstream`] it is given (record).

pub mod body;
mod connect;
mod headers;
mod rewind;
mod server;
mod shutdown;
mod upgrade;
pub mod upstream;

use std::future::Future;
use std::net::SocketAddr;
use std::time::SystemTime;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

pub use body::{Body, BoxError};
pub use headers::strip_hop_by_hop;
pub use server::{serve, ProxyConfig};
pub use upgrade::is_upgrade;
pub use upstream::{FailureKind, Upstream, UpstreamConfig, UpstreamError, UpstreamResponse};

/// What the proxy knows about a request besides the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Arrival order across the whole proxy, starting at 0.
    pub id: u64,
    /// When the request head arrived.
    pub started: SystemTime,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// True when the request came through an intercepted CONNECT tunnel (HTTPS).
    pub intercepted: bool,
}

/// Reacts to proxied requests. Record, replay and mock implement it.
pub trait Handler: Send + Sync + 'static {
    /// Answers a request whose URI is absolute (`http://` or `https://`, default port
    /// removed). Forward it with `upstream`, or answer it directly.
    fn handle(
        &self,
        req: Request<Incoming>,
        ctx: RequestContext,
        upstream: &Upstream,
    ) -> impl Future<Output = Response<Body>> + Send;

    /// Answers a request meant for harp itself: origin-form requests sent to the proxy
    /// port, and anything for the host `harp.local`. The default says how to use a proxy.
    fn handle_local(
        &self,
        req: Request<Incoming>,
        ctx: RequestContext,
    ) -> impl Future<Output = Response<Body>> + Send {
        let _ = ctx;
        async move {
            body::text_response(
                StatusCode::NOT_FOUND,
                format!(
                    "harp: {} {} is not for a proxy: point HTTP_PROXY/HTTPS_PROXY at harp and request absolute URLs",
                    req.method(),
                    req.uri()
                ),
            )
        }
    }

    /// Whether a CONNECT tunnel that does not carry TLS may be passed through to
    /// `authority` unchanged. Default: yes.
    fn allow_tunnel(&self, authority: &str) -> bool {
        let _ = authority;
        true
    }
}

/// A boxed future of a response, as the type-erased handler returns.
pub(crate) type ResponseFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// [`Handler`] with its futures boxed, so the connection code is not generic (which also
/// keeps rustc's Send checking of spawned tasks out of its higher-ranked-lifetime bugs).
pub(crate) trait DynHandler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        req: Request<Incoming>,
        ctx: RequestContext,
        upstream: &'a Upstream,
    ) -> ResponseFuture<'a>;
    fn handle_local(&self, req: Request<Incoming>, ctx: RequestContext) -> ResponseFuture<'_>;
    fn allow_tunnel(&self, authority: &str) -> bool;
}

impl<H: Handler> DynHandler for H {
    fn handle<'a>(
        &'a self,
        req: Request<Incoming>,
        ctx: RequestContext,
        upstream: &'a Upstream,
    ) -> ResponseFuture<'a> {
        Box::pin(Handler::handle(self, req, ctx, upstream))
    }

    fn handle_local(&self, req: Request<Incoming>, ctx: RequestContext) -> ResponseFuture<'_> {
        Box::pin(Handler::handle_local(self, req, ctx))
    }

    fn allow_tunnel(&self, authority: &str) -> bool {
        Handler::allow_tunnel(self, authority)
    }
}

/// The host name that always reaches harp's own endpoints.
pub const LOCAL_HOST: &str = "harp.local";
