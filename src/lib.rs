//! harp: record HTTP(S) traffic into HAR files through an intercepting forward proxy,
//! replay it offline, and serve Postman-style mocks.
//!
//! # Layout
//! - [`ca`]: the local root CA and per-host leaf certificates.
//! - [`proxy`]: listener, CONNECT + TLS interception (and plain HTTP in tunnels), the one
//!   forwarding function, body taps, upstream client; asks a [`proxy::Handler`] to decide
//!   and hands finished exchanges to a [`proxy::Observer`]. Knows nothing of HAR.
//! - [`record`]: the handler that has everything forwarded and the observer that turns
//!   exchanges into HAR entries (WebSocket messages into `_webSocketMessages`).
//! - [`replay`]: the handler that answers from a HAR (index, matcher, diagnostics, and
//!   the player of recorded WebSocket conversations).
//! - [`pacing`]: `--latency`: when a served answer's head and body parts go out.
//! - [`fire`]: `harp fire`: a saved request sent to an application, signed, retried.
//! - [`har`]: the HAR model, lenient reading, layouts, journal.
//! - [`collection`]: Postman collections: HAR and OpenAPI conversion, the mock matcher
//!   and handler, a collection item's request (for `harp fire`).
//! - [`glob`]: Playwright-style URL globs.
//! - [`urls`]: URLs in one place: splitting, the normal form the proxy and replay share,
//!   `Location` resolution (the `url` crate), Postman path and query helpers.
//! - [`rules`]: matching rules (ignore, redact), JSON paths, GraphQL, canonical bodies.
//! - [`inspector`]: the inspector page and its routes, live feed and call details.
//! - [`codec`]: content codings and MIME helpers.
//! - [`input`]: reading user-named files (regular files only, bounded).
//! - [`output`]: writing whole files atomically (temporary file, sync, rename, sync folder).
//! - [`calllog`]: the bounds of what replay and mock log about calls.
//!
//! Dependencies point one way: `record`, `replay` and `collection` use `proxy`, `har` and
//! `ca`; replay and collection never import record, collection never imports replay
//! (HAR-format facts such as times, versions and redaction live in [`har::format`]; URL
//! rules in [`urls`]; header rules in `proxy::headers`; the one atomic write in
//! [`output`]). `fuzzing` is the entry points of the fuzz targets. Items are
//! `pub(crate)` unless the binary, the tests, the benches or the fuzz targets use them.
//!
//! The command line lives in the binary; nothing here reads the environment, prints or
//! exits.

#![warn(unreachable_pub)]

pub mod ca;
pub mod calllog;
pub mod codec;
pub mod collection;
pub mod fire;
#[doc(hidden)]
pub mod fuzzing;
pub mod glob;
pub mod har;
pub mod input;
pub mod inspector;
pub mod output;
pub mod pacing;
pub mod proxy;
pub mod record;
pub mod replay;
pub mod rules;
pub mod urls;
