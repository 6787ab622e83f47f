//! End-to-end tests: a local origin (HTTP and HTTPS with its own test CA), the real
//! `harp` binary on port 0, and real clients (reqwest over h2 and HTTP/1.1, curl, raw
//! TCP) driving it over loopback; and real peers (nginx with TLS and HTTP/2, gRPC,
//! curl, Python) for transparency.

mod fuzz_regressions;
mod harness;
mod peers;

mod browser;
mod ca_cmd;
mod deploy;
mod fire;
mod inspector;
mod matching;
mod mock;
mod openapi;
mod record;
mod replay;
mod stacks;
mod storage;
mod transparent;
mod websocket;
