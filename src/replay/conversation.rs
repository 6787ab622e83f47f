//! Replaying a recorded WebSocket conversation (`_webSocketMessages`, as Chrome,
//! Playwright and harp write it).
//!
//! The server's messages that came before the client's first message are sent as soon
//! as the connection opens. Each message the client sends is matched to a recorded
//! client message: the first unused one with the same content (opcode and data), else
//! the next unused one by position; the server messages that followed it in the
//! recording (up to the next client message) are sent in answer, a recorded close
//! frame closing the connection with its code. A client message with no recorded
//! counterpart left is reported as unmatched and answered with nothing. With
//! `--latency recorded` (or `scale=F`) every server message waits its recorded distance
//! from what preceded it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

use crate::har::Entry;
use crate::pacing::{Latency, MAX_DELAY};
use crate::proxy::websocket::{message_of, note_of, ServerSocket};

/// One recorded message.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    /// Sent by the client (`"type": "send"`).
    pub from_client: bool,
    /// When, in seconds (any origin; only differences count).
    pub at: f64,
    /// 1 text, 2 binary, 8 close.
    pub opcode: u8,
    /// The payload (binary decoded from base64).
    pub data: Bytes,
}

/// A recorded conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// The messages in recorded order.
    pub messages: Vec<Scripted>,
}

impl Script {
    /// The conversation `entry` recorded; None when it has no `_webSocketMessages`.
    pub fn of(entry: &Entry) -> Option<Self> {
        let list = entry
            .extra
            .get(crate::har::format::WEBSOCKET_MESSAGES)?
            .as_array()?;
        let messages = list
            .iter()
            .filter_map(|m| {
                let opcode = m.get("opcode").and_then(Value::as_u64).unwrap_or(1) as u8;
                let text = m.get("data").and_then(Value::as_str).unwrap_or("");
                let data = if opcode == 2 {
                    Bytes::from(crate::har::decode_text(text, Some("base64")).ok()?)
                } else {
                    Bytes::copy_from_slice(text.as_bytes())
                };
                Some(Scripted {
                    from_client: m.get("type").and_then(Value::as_str) == Some("send"),
                    at: m.get("time").and_then(Value::as_f64).unwrap_or(0.0),
                    opcode,
                    data,
                })
            })
            .filter(|m| matches!(m.opcode, 1 | 2 | 8))
            .collect();
        Some(Self { messages })
    }
}

/// Where a conversation stands: which recorded client messages were used.
#[derive(Debug)]
pub struct Player {
    script: Arc<Script>,
    used: Vec<bool>,
}

impl Player {
    /// A conversation at its start.
    pub fn new(script: Arc<Script>) -> Self {
        let used = vec![false; script.messages.len()];
        Self { script, used }
    }

    /// The server's messages before the client's first (sent on open).
    pub fn opening(&self) -> Vec<Scripted> {
        self.script
            .messages
            .iter()
            .take_while(|m| !m.from_client)
            .cloned()
            .collect()
    }

    /// The recorded client message a message sent now stands for (by content, else the
    /// next by position), and the server messages that answered it; None when every
    /// recorded client message was used.
    pub fn answer(&mut self, opcode: u8, data: &[u8]) -> Option<(Scripted, Vec<Scripted>)> {
        let messages = &self.script.messages;
        let unused = |i: &usize| messages[*i].from_client && !self.used[*i];
        let i = (0..messages.len())
            .filter(unused)
            .find(|&i| messages[i].opcode == opcode && messages[i].data == data)
            .or_else(|| (0..messages.len()).find(unused))?;
        self.used[i] = true;
        let replies = messages[i + 1..]
            .iter()
            .take_while(|m| !m.from_client)
            .cloned()
            .collect();
        Some((messages[i].clone(), replies))
    }
}

/// How long a recorded distance of `seconds` lasts under `latency`.
fn delay(latency: Latency, seconds: f64) -> Duration {
    let factor = match latency {
        Latency::Recorded => 1.0,
        Latency::Scale(f) => f,
        Latency::None | Latency::Fixed { .. } => return Duration::ZERO,
    };
    Duration::from_secs_f64((seconds * factor).clamp(0.0, MAX_DELAY.as_secs_f64()))
}

/// Sends `replies` (recorded after `after`), each at its recorded distance; true when one
/// of them closed the connection.
async fn send_all(
    socket: &mut futures_util::stream::SplitSink<
        ServerSocket,
        tokio_tungstenite::tungstenite::Message,
    >,
    after: f64,
    replies: &[Scripted],
    latency: Latency,
) -> bool {
    let start = tokio::time::Instant::now();
    for m in replies {
        let wait = delay(latency, m.at - after);
        tokio::time::sleep_until(start + wait).await;
        if socket.send(message_of(m.opcode, &m.data)).await.is_err() || m.opcode == 8 {
            return true;
        }
    }
    false
}

/// Plays `script` to the client on `socket` until either side closes; `miss` gets each
/// client message (as text) that had no recorded counterpart left.
pub async fn play(
    socket: ServerSocket,
    script: Arc<Script>,
    latency: Latency,
    miss: impl Fn(String),
) {
    let (mut tx, mut rx) = socket.split();
    let mut player = Player::new(script);
    let opening = player.opening();
    let first = player.script.messages.first().map_or(0.0, |m| m.at);
    if send_all(&mut tx, first, &opening, latency).await {
        return;
    }
    while let Some(Ok(message)) = rx.next().await {
        let Some((opcode, data)) = note_of(&message) else {
            continue; // pings are answered by tungstenite
        };
        if opcode == 8 {
            break;
        }
        match player.answer(opcode, &data) {
            Some((recorded, replies)) => {
                if send_all(&mut tx, recorded.at, &replies, latency).await {
                    return;
                }
            }
            None => miss(crate::calllog::clip(
                &String::from_utf8_lossy(&data),
                crate::calllog::MAX_URL_TEXT,
            )),
        }
    }
    let _ = tx.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(from_client: bool, at: f64, data: &str) -> Scripted {
        Scripted {
            from_client,
            at,
            opcode: 1,
            data: Bytes::copy_from_slice(data.as_bytes()),
        }
    }

    fn script() -> Arc<Script> {
        Arc::new(Script {
            messages: vec![
                m(false, 0.0, "hello"),
                m(false, 0.1, "motd"),
                m(true, 1.0, "ping"),
                m(false, 1.2, "pong"),
                m(true, 2.0, "subscribe a"),
                m(false, 2.1, "ok a"),
                m(false, 2.5, "tick a"),
                m(true, 3.0, "subscribe b"),
                m(false, 3.1, "ok b"),
            ],
        })
    }

    #[test]
    fn opens_with_the_greeting_and_answers_by_content_then_position() {
        let mut p = Player::new(script());
        let texts = |v: &[Scripted]| -> Vec<String> {
            v.iter()
                .map(|m| String::from_utf8_lossy(&m.data).into_owned())
                .collect()
        };
        assert_eq!(texts(&p.opening()), ["hello", "motd"]);
        // Out of order, by content.
        let (rec, replies) = p.answer(1, b"subscribe b").unwrap();
        assert_eq!(rec.at, 3.0);
        assert_eq!(texts(&replies), ["ok b"]);
        let (_, replies) = p.answer(1, b"subscribe a").unwrap();
        assert_eq!(texts(&replies), ["ok a", "tick a"]);
        // Unknown content: the next unused by position.
        let (rec, replies) = p.answer(1, b"something else").unwrap();
        assert_eq!(String::from_utf8_lossy(&rec.data), "ping");
        assert_eq!(texts(&replies), ["pong"]);
        assert!(p.answer(1, b"ping").is_none(), "nothing left");
    }

    #[test]
    fn reads_chromes_format_and_delays_by_latency() {
        let entry: Entry = serde_json::from_value(serde_json::json!({
            "startedDateTime": "2024-01-01T00:00:00Z", "time": 1,
            "request": {"method": "GET", "url": "wss://x.test/", "httpVersion": "HTTP/1.1",
                "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 101, "statusText": "", "httpVersion": "HTTP/1.1",
                "headers": [], "cookies": [], "content": {"size": 0, "mimeType": ""},
                "redirectURL": "", "headersSize": -1, "bodySize": 0},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
            "_webSocketMessages": [
                {"type": "send", "time": 1700000000.5, "opcode": 1, "data": "hi"},
                {"type": "receive", "time": 1700000001.0, "opcode": 2, "data": "AQI="},
                {"type": "receive", "time": 1700000001.1, "opcode": 9, "data": ""}
            ]
        }))
        .unwrap();
        let s = Script::of(&entry).unwrap();
        assert_eq!(s.messages.len(), 2, "unknown opcodes left out");
        assert!(s.messages[0].from_client);
        assert_eq!(&s.messages[1].data[..], &[1, 2]);
        assert_eq!(delay(Latency::Recorded, 0.5), Duration::from_millis(500));
        assert_eq!(delay(Latency::Scale(2.0), 0.5), Duration::from_secs(1));
        assert_eq!(delay(Latency::None, 0.5), Duration::ZERO);
    }
}
