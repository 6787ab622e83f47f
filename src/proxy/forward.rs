//! Forwarding, in one place: the header rules of [`super::headers`], protocol upgrades
//! joined after `101`, versions chosen per side, and, when an observer asks, both bodies
//! tapped as they stream so it gets the finished exchange.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::{Request, Response, Version};

use super::body::{boxed, Body};
use super::headers;
use super::stop::Stopper;
use super::tap::{BodyEnd, Captured, Tap, Tapped};
use super::upgrade::is_upgrade;
use super::upstream::Upstream;
use super::websocket::Conversation;
use super::{FinishedExchange, Observer, RequestContext, RequestSeen, ResponseSeen};

/// Forwards `req` (absolute URI) and returns what the client gets: the upstream's
/// answer streaming, or a 502 naming the failure.
pub(super) async fn forward(
    upstream: &Upstream,
    stopper: &Stopper,
    mut req: Request<Body>,
    ctx: RequestContext,
    observer: Option<Arc<dyn Observer>>,
) -> Response<Body> {
    if is_upgrade(&req) {
        return upgrade(upstream, stopper, req, ctx, observer).await;
    }
    match observer {
        Some(observer) => observed(upstream, stopper, req, ctx, observer).await,
        None => {
            headers::for_upstream(req.headers_mut());
            match upstream.send(req).await {
                Ok(up) => for_client(up.response.map(boxed)),
                Err(err) => {
                    tracing::warn!("{err}");
                    err.to_response()
                }
            }
        }
    }
}

/// The request body as the tap captured it, once the body has ended.
#[derive(Clone, Default)]
struct RequestCapture(Arc<Mutex<Option<Captured>>>);

impl RequestCapture {
    /// `seen` with the captured body (an empty, closed one when none came).
    fn complete(&self, mut seen: RequestSeen) -> RequestSeen {
        seen.body = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or(Captured {
                body: Tapped::Memory(Default::default()),
                trailers: None,
                end: BodyEnd::Closed,
                chunks: Vec::new(),
            });
        seen
    }
}

/// Forwards with both bodies tapped; the observer gets the exchange when the response
/// body ends (or at once when the upstream fails).
async fn observed(
    upstream: &Upstream,
    stopper: &Stopper,
    req: Request<Body>,
    ctx: RequestContext,
    observer: Arc<dyn Observer>,
) -> Response<Body> {
    let limits = observer.limits();
    let (mut parts, body) = req.into_parts();
    let capture = RequestCapture::default();
    let slot = capture.clone();
    // A request with no body (most GETs) goes on untapped: a tap cannot say it is
    // already at its end before the observer has it, so the upstream would get the
    // head without its end and an empty DATA frame after it (HTTP/2).
    let body = if http_body::Body::is_end_stream(&body) {
        *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Captured::empty());
        body
    } else {
        boxed(Tap::new(body, limits.clone(), None, move |c| {
            *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
            None
        }))
    };
    // The observer sees the request as the client sent it; the upstream gets it
    // prepared.
    let seen = RequestSeen::head(&parts.method, &parts.uri, parts.version, &parts.headers);
    headers::for_upstream(&mut parts.headers);
    let sent = Instant::now();
    let up = match upstream.send(Request::from_parts(parts, body)).await {
        Ok(up) => up,
        Err(err) => {
            tracing::warn!("{err}");
            let settled = observer.exchange(FinishedExchange {
                ctx,
                request: capture.complete(seen),
                response: Err(err.to_string()),
                server_addr: None,
                wait: sent.elapsed(),
                receive: Default::default(),
                messages: Vec::new(),
            });
            if let Some(settled) = settled {
                let _ = settled.await;
            }
            return err.to_response();
        }
    };
    let wait = sent.elapsed();
    let head_at = Instant::now();
    let (parts, body) = up.response.into_parts();
    let (status, version, upstream_headers) = (parts.status, parts.version, parts.headers.clone());
    let server_addr = up.remote_addr;
    let body = Tap::new(body, limits, Some(&stopper.taps), move |captured| {
        observer.exchange(FinishedExchange {
            ctx,
            request: capture.complete(seen),
            response: Ok(ResponseSeen {
                status,
                version,
                headers: upstream_headers,
                body: captured,
            }),
            server_addr,
            wait,
            receive: head_at.elapsed(),
            messages: Vec::new(),
        })
    });
    for_client(Response::from_parts(parts, boxed(body)))
}

/// The upstream's response as the client gets it.
fn for_client(resp: Response<Body>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    headers::for_client(&mut parts.headers);
    parts.version = Version::HTTP_11;
    Response::from_parts(parts, body)
}

/// What an upgrade's observer gets, once: by the conversation when it ends, or at once.
type Pending = Arc<Mutex<Option<(Arc<dyn Observer>, RequestContext, RequestSeen)>>>;

/// The relay's hand-over of a WebSocket conversation to the observer waiting in
/// `pending` (None when nobody waits).
fn conversation(pending: &Pending, stopper: &Stopper, sent: Instant) -> Option<Conversation> {
    let stopping = pending
        .lock()
        .ok()?
        .as_ref()
        .map(|(_, ctx, _)| ctx.stopping.clone())?;
    let slot = pending.clone();
    Some(Conversation {
        stopping,
        guard: stopper.taps.enter(),
        done: Box::new(move |status, headers, messages| {
            let taken = slot.lock().ok().and_then(|mut p| p.take());
            if let Some((observer, ctx, seen)) = taken {
                observer.exchange(FinishedExchange {
                    ctx,
                    request: seen,
                    response: Ok(ResponseSeen {
                        status,
                        version: Version::HTTP_11,
                        headers,
                        body: Captured::empty(),
                    }),
                    server_addr: None,
                    wait: sent.elapsed(),
                    receive: Default::default(),
                    messages,
                });
            }
        }),
    })
}

/// A protocol upgrade: the handshake is passed through and, on `101`, both sides are
/// joined. With an observer, a WebSocket is relayed message by message and the observer
/// gets the handshake with the conversation when it ends; another upgrade (or a refused
/// one) is reported at once, handshake only.
async fn upgrade(
    upstream: &Upstream,
    stopper: &Stopper,
    req: Request<Body>,
    ctx: RequestContext,
    observer: Option<Arc<dyn Observer>>,
) -> Response<Body> {
    let seen = RequestSeen::head(req.method(), req.uri(), req.version(), req.headers());
    let sent = Instant::now();
    // What the observer gets, taken by whichever path reports it.
    let pending: Pending = Arc::new(Mutex::new(observer.map(|o| (o, ctx, seen))));
    let conversation = super::websocket::is_websocket(req.headers())
        .then(|| conversation(&pending, stopper, sent))
        .flatten();
    let result = upstream.upgrade(req, conversation).await;
    let wait = sent.elapsed();
    let (resp, response) = match result {
        Ok(resp) => {
            let seen = ResponseSeen {
                status: resp.status(),
                version: Version::HTTP_11,
                headers: resp.headers().clone(),
                body: Captured::empty(),
            };
            (resp, Ok(seen))
        }
        Err(err) => {
            tracing::warn!("{err}");
            (err.to_response(), Err(err.to_string()))
        }
    };
    // A WebSocket that switched is reported when its conversation ends.
    let relayed = response
        .as_ref()
        .is_ok_and(|r| r.status == http::StatusCode::SWITCHING_PROTOCOLS)
        && super::websocket::is_websocket(resp.headers());
    if !relayed {
        let taken = pending.lock().ok().and_then(|mut p| p.take());
        if let Some((observer, ctx, seen)) = taken {
            observer.exchange(FinishedExchange {
                ctx,
                request: seen,
                response,
                server_addr: None,
                wait,
                receive: Default::default(),
                messages: Vec::new(),
            });
        }
    }
    resp
}
