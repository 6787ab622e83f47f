//! `harp fire`: send one saved request (a webhook payload from a collection item or a HAR
//! entry) to the application, signed the way a provider signs it, retried with backoff
//! while the receiver fails, and say whether it was accepted.
//!
//! Retry policy: a 2xx is accepted; a 408, 429, 5xx or a failure to connect or answer is
//! tried again after `backoff`, doubled each time up to `max_backoff` (a `Retry-After` in
//! seconds within that bound is honoured instead); any other status is a refusal and is
//! not retried. Each attempt is signed afresh (Stripe's timestamp moves on).

pub mod sign;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::BodyExt;

use crate::collection::request::{ItemError, ItemRequest};
use crate::har::{HarError, HarFile};
use crate::proxy::{full, Upstream};
use crate::record::retries::invites_retry;
pub use sign::Scheme;

/// Most bytes of the receiver's answer kept for the report.
pub const MAX_ANSWER: usize = 64 * 1024;

/// A request to send.
#[derive(Debug, Clone)]
pub struct Payload {
    /// Where it came from, for messages (`entry 3 (POST https://…)`).
    pub origin: String,
    /// The method.
    pub method: Method,
    /// Headers as saved, minus those that describe one transfer (length, framing, host).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

/// What `harp fire` cannot work with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FireError {
    /// `--entry N` past the end.
    #[error("{path}: entry {index} does not exist (the HAR has {len} entries, numbered from 0)")]
    NoEntry {
        /// The HAR.
        path: String,
        /// The index asked for.
        index: usize,
        /// How many entries there are.
        len: usize,
    },
    /// The HAR could not give the body.
    #[error(transparent)]
    Har(#[from] HarError),
    /// The collection has no such item, or it cannot be sent.
    #[error(transparent)]
    Item(#[from] ItemError),
    /// A method that is not an HTTP token.
    #[error("{0:?} is not an HTTP method")]
    Method(String),
}

impl Payload {
    /// Entry `index` of `file`'s request.
    pub fn from_entry(file: &HarFile, index: usize) -> Result<Self, FireError> {
        let entries = &file.har.log.entries;
        let entry = entries.get(index).ok_or_else(|| FireError::NoEntry {
            path: file.path.display().to_string(),
            index,
            len: entries.len(),
        })?;
        let request = &entry.request;
        Ok(Self {
            origin: format!(
                "entry {index} ({} {})",
                request.method,
                crate::calllog::clip(&request.url, 200)
            ),
            method: method(&request.method)?,
            headers: sendable(
                request
                    .headers
                    .iter()
                    .map(|h| (h.name.clone(), h.value.clone())),
            ),
            body: file.request_body(index)?.unwrap_or_default(),
        })
    }

    /// A collection item's request.
    pub fn from_item(item: ItemRequest) -> Result<Self, FireError> {
        let mut headers = sendable(item.headers.into_iter());
        if let Some(mime) = item.implied_type {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), mime.into()));
            }
        }
        Ok(Self {
            origin: format!("item {:?} ({} {})", item.path, item.method, item.url),
            method: method(&item.method)?,
            headers,
            body: Bytes::from(item.body),
        })
    }
}

fn method(text: &str) -> Result<Method, FireError> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| FireError::Method(text.to_string()))
}

/// Headers worth sending again: HTTP/2 pseudo-headers, framing and `Host` left out.
fn sendable(headers: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    headers
        .filter(|(k, _)| {
            !k.starts_with(':') && !crate::proxy::is_framing(k) && !k.eq_ignore_ascii_case("host")
        })
        .collect()
}

/// How a payload is signed.
#[derive(Debug, Clone)]
pub struct Signing {
    /// The scheme.
    pub scheme: Scheme,
    /// The shared secret.
    pub secret: Vec<u8>,
    /// The header the signature goes in (the scheme's own unless overridden).
    pub header: HeaderName,
}

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// The wait after the first failure, doubled after each further one.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

/// One attempt: the receiver's status and the start of its answer, or why there was
/// none.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The status and the first [`MAX_ANSWER`] bytes of the answer.
    pub answer: Result<(StatusCode, Bytes), String>,
    /// How long it took.
    pub took: Duration,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Accepted,
    /// The receiver answered a status that retrying will not change (3xx, 4xx but 408
    /// and 429).
    Refused,
    /// Every attempt failed or was answered 408, 429 or 5xx.
    GaveUp,
}

/// Every attempt and how it ended.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The attempts, in order.
    pub attempts: Vec<Attempt>,
    /// The outcome.
    pub outcome: Outcome,
}

/// Sends `payload` to `to` under `policy`, signed with `signing` when given.
pub async fn deliver(
    upstream: &Upstream,
    payload: &Payload,
    to: &Uri,
    signing: Option<&Signing>,
    policy: Policy,
) -> Delivery {
    let mut attempts = Vec::new();
    let mut wait = policy.backoff;
    for number in 1..=policy.attempts.max(1) {
        let started = std::time::Instant::now();
        let (answer, retry_after) = match build(payload, to, signing) {
            Ok(req) => send(upstream, req).await,
            Err(why) => (Err(why), None),
        };
        let outcome = match &answer {
            Ok((status, _)) if status.is_success() => Some(Outcome::Accepted),
            Ok((status, _)) if invites_retry(status.as_u16()) => None,
            Ok(_) => Some(Outcome::Refused),
            Err(_) => None,
        };
        attempts.push(Attempt {
            answer,
            took: started.elapsed(),
        });
        if let Some(outcome) = outcome {
            return Delivery { attempts, outcome };
        }
        if number < policy.attempts {
            let pause = retry_after
                .filter(|r| *r <= policy.max_backoff)
                .unwrap_or(wait);
            tokio::time::sleep(pause).await;
            wait = (wait * 2).min(policy.max_backoff);
        }
    }
    Delivery {
        attempts,
        outcome: Outcome::GaveUp,
    }
}

/// The request of one attempt: the saved headers (a saved signature replaced), the
/// signature, the body.
fn build(
    payload: &Payload,
    to: &Uri,
    signing: Option<&Signing>,
) -> Result<Request<crate::proxy::Body>, String> {
    let mut req = Request::builder()
        .method(payload.method.clone())
        .uri(to.clone());
    for (name, value) in &payload.headers {
        if signing.is_some_and(|s| s.header.as_str().eq_ignore_ascii_case(name)) {
            continue;
        }
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some(s) = signing {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let value = s.scheme.sign(&s.secret, &payload.body, now);
        let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
        req = req.header(s.header.clone(), value);
    }
    req.body(full(payload.body.clone()))
        .map_err(|e| format!("cannot build the request: {e}"))
}

/// Sends one attempt: the status and the start of the answer, and a `Retry-After` in
/// seconds when the receiver gave one.
async fn send(
    upstream: &Upstream,
    req: Request<crate::proxy::Body>,
) -> (Result<(StatusCode, Bytes), String>, Option<Duration>) {
    let response = match upstream.send(req).await {
        Ok(up) => up.response,
        Err(err) => return (Err(err.to_string()), None),
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = response.into_body();
    let mut kept = Vec::new();
    while kept.len() < MAX_ANSWER {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_ANSWER - kept.len();
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(err)) => return (Err(format!("the answer broke off: {err}")), retry_after),
            None => break,
        }
    }
    (Ok((status, Bytes::from(kept))), retry_after)
}
