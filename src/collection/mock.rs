//! The mock handler: answers requests (plain, origin-form as a mock URL is used, or
//! proxied) with the saved example Postman's algorithm chooses; reloads the collection
//! when the file changes; private mocks, delays, dynamic variables, a call log.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};

use serde::Serialize;
use serde_json::json;

use super::dynamic::fill;
use super::matcher::{choose_indexed, path_captures, Choice, MatchOptions, MockRequest};
use super::model::{Examples, Variables};
use super::{load_examples, CollectionError};
use crate::calllog::{clip, CallLog, MAX_URL_TEXT};
use crate::har::format::iso8601;
use crate::inspector::{self, CallDetail, Details, Feed, Inspect, ResponseDetail};
use crate::proxy::body::{full, json_response, read_limited};
use crate::proxy::{Body, Decision, Handler, RequestContext};

/// How the mock behaves.
#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    /// Private mock: requests need `x-api-key` with this value.
    pub api_key: Option<String>,
    /// Added before every response.
    pub delay: Duration,
    /// When an example's answer goes out (`--latency`; `recorded` and `scale` use the
    /// timing a converted HAR entry carries, none for a Postman example).
    pub latency: crate::pacing::Latency,
    /// Body and header matching switches.
    pub matching: MatchOptions,
}

/// One served (or refused) call.
#[derive(Debug, Clone, Serialize)]
pub struct MockCall {
    /// Arrival number.
    pub id: u64,
    /// When.
    pub time: String,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// The example served: `item / example`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// For a miss: the closest examples, with their scores and why they lost.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closest: Vec<serde_json::Value>,
}

/// The mock handler.
pub struct Mock {
    source: PathBuf,
    env: Variables,
    options: MockOptions,
    examples: RwLock<Arc<Examples>>,
    /// (modified time, length) of the source when last loaded.
    stamp: Mutex<Option<(SystemTime, u64)>>,
    calls: CallLog<MockCall>,
    served: AtomicU64,
    not_found: AtomicU64,
    unauthorized: AtomicU64,
    /// Times each example (`item / name`) was served.
    uses: Mutex<std::collections::HashMap<String, u64>>,
    /// Live events for the inspector.
    feed: Feed,
    /// What the last calls carried, for the inspector.
    details: Details,
}

fn stamp_of(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Mock {
    /// Loads `source` (a collection, or a HAR converted in memory).
    pub fn load(
        source: &Path,
        env: Variables,
        options: MockOptions,
    ) -> Result<Self, CollectionError> {
        let stamp = stamp_of(source);
        let examples = load_examples(source, &env)?;
        Ok(Self {
            source: source.to_path_buf(),
            env,
            options,
            examples: RwLock::new(Arc::new(examples)),
            stamp: Mutex::new(stamp),
            calls: CallLog::default(),
            served: AtomicU64::new(0),
            not_found: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            uses: Mutex::default(),
            feed: Feed::default(),
            details: Details::default(),
        })
    }

    /// The examples being served.
    pub fn examples(&self) -> Arc<Examples> {
        self.examples.read().map(|e| e.clone()).unwrap_or_default()
    }

    /// Reloads the source when it changed on disk. `None`: unchanged. `Some(Ok(n))`: now
    /// serving `n` examples. `Some(Err(why))`: the new file cannot be used; the old
    /// examples stay.
    pub fn reload_if_changed(&self) -> Option<Result<usize, CollectionError>> {
        let now = stamp_of(&self.source);
        {
            let mut last = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
            if now.is_none() || *last == now {
                return None;
            }
            *last = now;
        }
        Some(match load_examples(&self.source, &self.env) {
            Ok(examples) => {
                let n = examples.examples.len();
                if let Ok(mut slot) = self.examples.write() {
                    *slot = Arc::new(examples);
                }
                Ok(n)
            }
            Err(err) => Err(err),
        })
    }

    /// (served, not found, unauthorized) so far.
    pub fn summary(&self) -> (u64, u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.not_found.load(Ordering::Relaxed),
            self.unauthorized.load(Ordering::Relaxed),
        )
    }

    /// The call log, oldest first: `limit` calls after skipping `offset`, and how many
    /// the log holds.
    pub fn calls(&self, offset: usize, limit: usize) -> (Vec<MockCall>, usize) {
        self.calls.page(offset, limit)
    }

    fn log(&self, call: MockCall) {
        self.feed.send("call", &call);
        self.calls.push(call);
    }

    async fn serve(&self, req: Request<Body>, ctx: RequestContext) -> Response<Body> {
        let method = req.method().as_str().to_string();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| clip(p.as_str(), MAX_URL_TEXT))
            .unwrap_or_else(|| "/".into());
        let call = MockCall {
            id: ctx.id,
            time: iso8601(ctx.started),
            method: method.clone(),
            path: path.clone(),
            status: 401,
            example: None,
            closest: Vec::new(),
        };
        if let Some(refused) = self.refuse_without_key(&req) {
            self.log(call);
            return refused;
        }
        let (parts, body) = req.into_parts();
        let body: Bytes = match read_limited(body, 64 << 20).await {
            Ok(bytes) => bytes,
            Err(err) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": {"name": "badRequest", "message": format!("reading the request body failed: {err}")}}),
                )
            }
        };
        let headers = crate::proxy::to_pairs(&parts.headers);
        let examples = self.examples();
        let detail = CallDetail::of_request(headers.clone(), &body);
        let mreq = MockRequest::new(&method, &path, &headers, &body);
        let choice = choose_indexed(
            &examples.examples,
            &examples.index,
            &mreq,
            &self.options.matching,
        );
        let (response, wait) = match choice {
            Choice::Example(i) => {
                let e = &examples.examples[i];
                let captures = path_captures(&e.path, mreq.path);
                self.served_example(e, &parts.method, &captures, call, detail)
            }
            Choice::NotFound(scored) => (
                self.not_found(&examples, &scored, call, detail),
                Duration::ZERO,
            ),
        };
        let wait = wait + self.options.delay;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        response
    }

    /// Answers with example `e`, counting and logging it; also how long to wait before
    /// the head (`--latency`), its body paced when the latency says so.
    fn served_example(
        &self,
        e: &super::Example,
        method: &Method,
        captures: &[(String, String)],
        call: MockCall,
        mut detail: CallDetail,
    ) -> (Response<Body>, Duration) {
        self.served.fetch_add(1, Ordering::Relaxed);
        let label = format!("{} / {}", e.item, e.name);
        *self
            .uses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(label.clone())
            .or_insert(0) += 1;
        let (resp, served) = respond(e, method, captures);
        detail.response = Some(ResponseDetail {
            status: resp.status().as_u16(),
            headers: crate::proxy::to_pairs(resp.headers()),
            body: inspector::shown(&served),
            body_len: served.len(),
        });
        self.details.keep(call.id, detail);
        self.log(MockCall {
            status: e.code,
            example: Some(label),
            ..call
        });
        let plan = crate::pacing::plan(self.options.latency, &e.timing, served.len());
        let resp = if plan.is_paced() {
            let (head, _) = resp.into_parts();
            Response::from_parts(head, crate::pacing::paced_body(served, plan.parts, None))
        } else {
            resp
        };
        (resp, plan.head)
    }

    /// The 404 for a request no example matches, naming the closest ones.
    fn not_found(
        &self,
        examples: &Examples,
        scored: &[super::matcher::Scored],
        call: MockCall,
        detail: CallDetail,
    ) -> Response<Body> {
        self.not_found.fetch_add(1, Ordering::Relaxed);
        let closest: Vec<serde_json::Value> = scored
            .iter()
            .take(3)
            .map(|s| {
                let e = &examples.examples[s.index];
                json!({"item": e.item, "name": e.name, "method": e.method, "code": e.code,
                       "score": s.score, "why": s.note})
            })
            .collect();
        let message = format!(
            "No example in {} matches {} {}",
            self.source.display(),
            call.method,
            call.path
        );
        self.details.keep(call.id, detail);
        self.log(MockCall {
            status: 404,
            closest: closest.clone(),
            ..call
        });
        json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"name": "mockRequestNotFoundError", "message": message, "closest": closest}}),
        )
    }
}

/// The example's response, with dynamic variables filled and the request's path
/// variables (`vars`) in place of `{{name}}`.
fn respond(
    e: &super::Example,
    method: &Method,
    vars: &[(String, String)],
) -> (Response<Body>, Bytes) {
    let body: Vec<u8> = if e.body_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(e.body.as_bytes())
            .unwrap_or_else(|_| e.body.clone().into_bytes())
    } else {
        fill(&e.body, vars).into_bytes()
    };
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::OK);
    let bodiless = method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let body = if bodiless {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut resp = Response::new(full(body.clone()));
    *resp.status_mut() = status;
    for (k, v) in &e.headers {
        let lower = k.to_ascii_lowercase();
        // A saved example often says `content-encoding: gzip` over a plain-text body.
        if crate::proxy::is_framing(&lower) || lower == "content-encoding" {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_str(&fill(v, vars)),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    if !resp.headers().contains_key(header::CONTENT_TYPE) {
        let guess = if e.body.trim_start().starts_with(['{', '[']) {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(guess));
    }
    (resp, body)
}

/// Compares in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Mock {
    /// For a private mock, the 401 answer when `req` lacks the key.
    /// harp's own pages may also carry the key as `?key=` (a browser cannot add a
    /// header to a page it opens, nor to an event stream).
    fn refuse_without_key(&self, req: &Request<Body>) -> Option<Response<Body>> {
        let key = self.options.api_key.as_ref()?;
        let header = req
            .headers()
            .get("x-api-key")
            .map(|v| v.as_bytes().to_vec());
        let query = req
            .uri()
            .path()
            .starts_with("/__harp")
            .then(|| {
                form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "key")
                    .map(|(_, v)| v.into_owned().into_bytes())
            })
            .flatten();
        let given = header.or(query).unwrap_or_default();
        if constant_time_eq(&given, key.as_bytes()) {
            return None;
        }
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
        Some(json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": {"name": "AuthenticationError", "header": "x-api-key",
                "message": "This is a private mock: send the mock's API key in the x-api-key header."}}),
        ))
    }
}

impl Inspect for Mock {
    fn overview(&self) -> serde_json::Value {
        let (served, not_found, unauthorized) = self.summary();
        json!({
            "kind": "mock",
            "source": self.source.display().to_string(),
            "entries": self.examples().examples.len(),
            "summary": {"served": served, "notFound": not_found, "unauthorized": unauthorized},
        })
    }

    fn calls(&self, offset: usize, limit: usize) -> serde_json::Value {
        let (served, not_found, unauthorized) = self.summary();
        let (calls, total) = Mock::calls(self, offset, limit);
        json!({
            "source": self.source.display().to_string(),
            "examples": self.examples().examples.len(),
            "summary": {"served": served, "notFound": not_found, "unauthorized": unauthorized},
            "total": total,
            "offset": offset,
            "limit": limit,
            "calls": calls,
        })
    }

    fn call(&self, id: u64) -> Option<serde_json::Value> {
        let call = self.calls.find(|c| c.id == id)?;
        let detail = self.details.get(id);
        Some(json!({
            "call": call,
            "request": detail.as_deref().map(inspector::request_json),
            "response": detail.as_deref().and_then(|d| d.response.as_ref()).map(inspector::response_json),
        }))
    }

    fn entries(&self) -> serde_json::Value {
        let uses = self.uses.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let list: Vec<serde_json::Value> = self
            .examples()
            .examples
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let label = format!("{} / {}", e.item, e.name);
                json!({
                    "entry": i,
                    "method": e.method,
                    "url": format!("/{}", e.path.iter().map(|s| match s {
                        super::model::Segment::Text(t) => t.clone(),
                        super::model::Segment::Var(v) => format!(":{v}"),
                    }).collect::<Vec<_>>().join("/")),
                    "status": e.code,
                    "name": label,
                    "uses": uses.get(&label).copied().unwrap_or(0),
                })
            })
            .collect();
        json!({"kind": "mock", "source": self.source.display().to_string(), "entries": list})
    }

    fn feed(&self) -> &Feed {
        &self.feed
    }
}

impl Handler for Mock {
    async fn decide(&self, req: Request<Body>, ctx: RequestContext) -> Decision {
        Decision::Respond(self.serve(req, ctx).await)
    }

    async fn handle_local(&self, req: Request<Body>, ctx: RequestContext) -> Response<Body> {
        let root = inspector::is_harp_local(&req);
        if req.uri().path().starts_with("/__harp") || (req.uri().path() == "/" && root) {
            // harp's own endpoints hold callers' paths and tokens: a private mock keeps
            // them private too.
            if let Some(refused) = self.refuse_without_key(&req) {
                return refused;
            }
            if let Some(resp) = inspector::answer(self, &req, &ctx, root) {
                return resp;
            }
        }
        self.serve(req, ctx).await
    }

    fn allow_tunnel(&self, _authority: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_in_constant_time() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
