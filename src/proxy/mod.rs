//! The forward proxy core: listener, CONNECT with TLS interception (and plain HTTP
//! inside tunnels), the upstream client, and forwarding.
//!
//! It knows nothing of HAR. Every request goes to a [`Handler`], which *decides*: answer
//! it ([`Decision::Respond`]) or have the core forward it ([`Decision::Forward`]). The
//! core forwards in one place (header rules, `Host`/`:authority`, `te: trailers`,
//! upgrades, versions), streams every body through, and when asked hands a tap of the
//! finished exchange to an [`Observer`] (recording is one).

pub mod body;
mod connect;
mod forward;
mod headers;
mod rewind;
mod server;
mod stop;
pub(crate) mod tap;
mod upgrade;
pub mod upstream;
mod via;
pub mod websocket;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

pub use body::{boxed, full, Body, BoxError};
pub(crate) use headers::to_pairs;
pub(crate) use headers::{is_framing, is_proxy_only, tokens as header_tokens};
pub use server::{serve, ProxyConfig};
pub use stop::StopReport;
pub use tap::{BodyEnd, Captured, Settled, TapLimits, Tapped};
pub use upstream::{Upstream, UpstreamConfig, UpstreamError};
pub use via::UpstreamProxy;

/// What the proxy knows about a request besides the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Arrival order across the whole proxy, starting at 0.
    pub id: u64,
    /// When the request head arrived.
    pub started: SystemTime,
    /// True when the request came through an intercepted CONNECT tunnel (HTTPS).
    pub intercepted: bool,
    /// Resolves when harp starts stopping: long-lived answers (event streams) end then,
    /// so stopping does not wait out the grace period for them.
    pub stopping: StopSignal,
}

/// A handle that says when harp starts stopping.
#[derive(Debug, Clone)]
pub struct StopSignal(tokio::sync::watch::Receiver<stop::Phase>);

impl StopSignal {
    /// Resolves once harp is draining (or at once if it already is).
    pub async fn stopping(mut self) {
        let _ = self.0.wait_for(|p| *p != stop::Phase::Run).await;
    }
}

/// What a handler decided for one request.
pub enum Decision {
    /// Answer with this response; nothing goes upstream.
    Respond(Response<Body>),
    /// Forward this request (absolute URI) upstream and stream the answer back; with an
    /// observer, it gets the finished exchange.
    Forward {
        /// The request to send.
        request: Request<Body>,
        /// Who gets the finished exchange, if anyone.
        observer: Option<Arc<dyn Observer>>,
    },
}

impl Decision {
    /// Forward `request` unobserved.
    pub fn forward(request: Request<Body>) -> Self {
        Decision::Forward {
            request,
            observer: None,
        }
    }
}

/// The request side of a finished exchange.
#[derive(Debug)]
pub struct RequestSeen {
    /// Method.
    pub method: Method,
    /// Absolute URI.
    pub uri: Uri,
    /// The client's HTTP version.
    pub version: Version,
    /// Headers as the client sent them.
    pub headers: HeaderMap,
    /// The body as it went upstream.
    pub body: Captured,
}

impl RequestSeen {
    /// A request head, its body not seen yet.
    pub(crate) fn head(method: &Method, uri: &Uri, version: Version, headers: &HeaderMap) -> Self {
        Self {
            method: method.clone(),
            uri: uri.clone(),
            version,
            headers: headers.clone(),
            body: Captured::empty(),
        }
    }
}

/// The response side of a finished exchange.
#[derive(Debug)]
pub struct ResponseSeen {
    /// Status.
    pub status: StatusCode,
    /// The upstream's HTTP version.
    pub version: Version,
    /// Headers as the upstream sent them.
    pub headers: HeaderMap,
    /// The body as the upstream sent it (content codings not undone).
    pub body: Captured,
}

/// One forwarded exchange, handed to an [`Observer`] when it ends.
#[derive(Debug)]
pub struct FinishedExchange {
    /// The request's context.
    pub ctx: RequestContext,
    /// The request.
    pub request: RequestSeen,
    /// The response, or why there is none.
    pub response: Result<ResponseSeen, String>,
    /// The upstream's address, when known.
    pub server_addr: Option<SocketAddr>,
    /// From sending the request to the response head.
    pub wait: Duration,
    /// From the response head to the end of its body.
    pub receive: Duration,
    /// A WebSocket conversation's messages, in order (empty for other exchanges).
    pub messages: Vec<websocket::WsMessage>,
}

/// Gets finished exchanges. `exchange` runs on the serving thread before the client
/// sees the end of the response, so it must be quick (no network call); it may return
/// a [`Settled`] the end of the response waits for (a recording: its journal line
/// written by whichever thread writes the next group).
pub trait Observer: Send + Sync + 'static {
    /// How much of each body to keep, and where to spill it.
    fn limits(&self) -> TapLimits;
    /// One exchange ended (completely, with an error, or cut off); the response's end
    /// goes on once the returned receiver resolves (or at once for None).
    fn exchange(&self, exchange: FinishedExchange) -> Option<Settled>;
}

/// Decides what happens to proxied requests. Record, replay and mock implement it.
pub trait Handler: Send + Sync + 'static {
    /// Decides for a request (its body fails if the client stalls past the body idle
    /// time-out) whose URI is absolute (`http://` or `https://`, lower-case
    /// host, default port removed).
    fn decide(
        &self,
        req: Request<Body>,
        ctx: RequestContext,
    ) -> impl Future<Output = Decision> + Send;

    /// Answers a request meant for harp itself: origin-form requests sent to the proxy
    /// port, and anything for the host `harp.local`. The default says how to use a proxy.
    fn handle_local(
        &self,
        req: Request<Body>,
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

    /// Whether a CONNECT tunnel that carries neither TLS nor HTTP may be passed through
    /// to `authority` unchanged. Default: yes.
    fn allow_tunnel(&self, authority: &str) -> bool {
        let _ = authority;
        true
    }
}

/// A boxed future of a response, as the type-erased handler returns.
pub(crate) type ResponseFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// A boxed future of a decision.
pub(crate) type DecisionFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Decision> + Send + 'a>>;

/// [`Handler`] with its futures boxed, so the connection code is not generic (which also
/// keeps rustc's Send checking of spawned tasks out of its higher-ranked-lifetime bugs).
pub(crate) trait DynHandler: Send + Sync + 'static {
    fn decide(&self, req: Request<Body>, ctx: RequestContext) -> DecisionFuture<'_>;
    fn handle_local(&self, req: Request<Body>, ctx: RequestContext) -> ResponseFuture<'_>;
    fn allow_tunnel(&self, authority: &str) -> bool;
}

impl<H: Handler> DynHandler for H {
    fn decide(&self, req: Request<Body>, ctx: RequestContext) -> DecisionFuture<'_> {
        Box::pin(Handler::decide(self, req, ctx))
    }

    fn handle_local(&self, req: Request<Body>, ctx: RequestContext) -> ResponseFuture<'_> {
        Box::pin(Handler::handle_local(self, req, ctx))
    }

    fn allow_tunnel(&self, authority: &str) -> bool {
        Handler::allow_tunnel(self, authority)
    }
}

/// The host name that always reaches harp's own endpoints.
pub(crate) const LOCAL_HOST: &str = "harp.local";
