//! WebSocket conversations, frames by `tungstenite`: relaying the messages of an upgraded
//! connection between client and server while noting each one (for a recording), and the
//! server side of a handshake (for replay).
//!
//! Limits: at most [`MAX_NOTED`] messages and [`MAX_NOTED_BYTES`] bytes are noted per
//! connection (later ones still pass); messages up to tungstenite's defaults (64 MiB,
//! frames 16 MiB). When harp stops, a relayed conversation is closed on both sides with
//! 1001 (going away) and what was noted is kept.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::StopSignal;

/// Most messages noted per connection.
pub const MAX_NOTED: usize = 10_000;
/// Most message bytes noted per connection.
pub const MAX_NOTED_BYTES: usize = 16 << 20;

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsMessage {
    /// Sent by the client (else by the server).
    pub from_client: bool,
    /// When harp saw it.
    pub at: SystemTime,
    /// 1 text, 2 binary, 8 close (`data`: the code, a space, the reason).
    pub opcode: u8,
    /// The payload.
    pub data: Bytes,
}

/// A server-side WebSocket over an upgraded connection.
pub type ServerSocket = WebSocketStream<TokioIo<Upgraded>>;

/// The server side of a connection the client upgraded.
pub async fn server_side(upgraded: Upgraded) -> ServerSocket {
    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.trim().as_bytes())
}

/// A message as noted: its opcode and payload; None for pings and pongs.
pub fn note_of(message: &Message) -> Option<(u8, Bytes)> {
    match message {
        Message::Text(t) => Some((1, Bytes::copy_from_slice(t.as_bytes()))),
        Message::Binary(b) => Some((2, b.clone())),
        Message::Close(frame) => {
            let text = frame.as_ref().map_or_else(
                || "1005".to_string(),
                |f| format!("{} {}", u16::from(f.code), f.reason),
            );
            Some((8, Bytes::from(text.trim_end().to_string())))
        }
        _ => None,
    }
}

/// The message for a noted opcode and payload (a close frame from `"<code> <reason>"`).
pub fn message_of(opcode: u8, data: &Bytes) -> Message {
    match opcode {
        2 => Message::Binary(data.clone()),
        8 => {
            let text = String::from_utf8_lossy(data);
            let (code, reason) = text.split_once(' ').unwrap_or((&text, ""));
            Message::Close(code.trim().parse::<u16>().ok().map(|c| CloseFrame {
                code: CloseCode::from(c),
                reason: reason.to_string().into(),
            }))
        }
        _ => Message::Text(String::from_utf8_lossy(data).into_owned().into()),
    }
}

/// What a recorded conversation ends with: the handshake's answer and the messages.
pub(crate) type ConversationDone =
    Box<dyn FnOnce(http::StatusCode, http::HeaderMap, Vec<WsMessage>) + Send>;

/// A WebSocket upgrade to relay message by message (an observer wants them).
pub(crate) struct Conversation {
    /// Ends the relay when harp stops.
    pub(crate) stopping: StopSignal,
    /// Held until the conversation is handed over, so harp waits for it at stop.
    pub(crate) guard: super::stop::CounterGuard,
    /// Gets the conversation when it ends.
    pub(crate) done: ConversationDone,
}

/// True when `headers` ask for a WebSocket (`Upgrade: websocket`).
pub(crate) fn is_websocket(headers: &http::HeaderMap) -> bool {
    super::headers::tokens(headers, http::header::UPGRADE)
        .any(|p| p.eq_ignore_ascii_case("websocket"))
}

/// What a relay noted.
#[derive(Default)]
struct Notes {
    messages: Vec<WsMessage>,
    bytes: usize,
    dropped: usize,
}

impl Notes {
    fn add(&mut self, from_client: bool, message: &Message) {
        let Some((opcode, data)) = note_of(message) else {
            return;
        };
        if self.messages.len() >= MAX_NOTED || self.bytes + data.len() > MAX_NOTED_BYTES {
            self.dropped += 1;
            return;
        }
        self.bytes += data.len();
        self.messages.push(WsMessage {
            from_client,
            at: SystemTime::now(),
            opcode,
            data,
        });
    }
}

/// Passes one message read from one side to the other, noting it; false when the
/// conversation ends (a close, or either side gone).
async fn pass<S>(
    read: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    from_client: bool,
    to: &mut S,
    notes: &mut Notes,
) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    let Some(Ok(message)) = read else {
        let _ = to.close().await;
        return false;
    };
    notes.add(from_client, &message);
    let closing = message.is_close();
    // Pings are answered by each side's own tungstenite.
    if !matches!(message, Message::Ping(_) | Message::Pong(_)) && to.send(message).await.is_err() {
        return false;
    }
    !closing
}

/// Relays messages between the client's and the server's upgraded connections until one
/// side closes (or harp stops), and returns every message noted.
pub(crate) async fn relay(
    client: Upgraded,
    server: Upgraded,
    stopping: StopSignal,
) -> Vec<WsMessage> {
    let client = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, None).await;
    let server = WebSocketStream::from_raw_socket(TokioIo::new(server), Role::Client, None).await;
    let (mut to_client, mut from_client) = client.split();
    let (mut to_server, mut from_server) = server.split();
    let mut notes = Notes::default();
    let stop = stopping.stopping();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            m = from_client.next() => if !pass(m, true, &mut to_server, &mut notes).await { break },
            m = from_server.next() => if !pass(m, false, &mut to_client, &mut notes).await { break },
            _ = &mut stop => {
                let away = || Message::Close(Some(CloseFrame { code: CloseCode::Away, reason: "harp is stopping".into() }));
                let _ = to_client.send(away()).await;
                let _ = to_server.send(away()).await;
                break;
            }
        }
    }
    // The other side's answer to a close, briefly.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Some(Ok(_)) = from_server.next().await {}
    })
    .await;
    if notes.dropped > 0 {
        tracing::warn!(
            "a WebSocket conversation passed its recording bounds ({MAX_NOTED} messages, {MAX_NOTED_BYTES} bytes): {} later message(s) were relayed but not recorded",
            notes.dropped
        );
    }
    notes.messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_frames_round_trip_through_their_noted_form() {
        let close = Message::Close(Some(CloseFrame {
            code: CloseCode::from(4000),
            reason: "done".into(),
        }));
        let (opcode, data) = note_of(&close).unwrap();
        assert_eq!((opcode, &data[..]), (8, &b"4000 done"[..]));
        assert_eq!(message_of(opcode, &data), close);
        assert_eq!(
            message_of(1, &Bytes::from_static(b"hi")),
            Message::Text("hi".into())
        );
        assert!(note_of(&Message::Ping(Bytes::new())).is_none());
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
