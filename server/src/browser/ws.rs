//! `/ws`: one task per WebSocket. It parses each text frame into a typed
//! [`ClientMessage`], lets the connection gate refuse what is not allowed yet (nothing
//! but `hello` before authentication), verifies the token of a `hello`, answers `ping`
//! itself and hands everything else to the session hub; what the hub has for the
//! session comes back through the socket's outbox. A frame that does not parse gets an
//! `error` frame and the connection lives on; only the errors whose code says so
//! (a bad or expired token, an unknown resume) close it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use dcx_signaling::{ClientMessage, Connection, ErrorCode, ProtocolError, ServerMessage};
use tokio::sync::{mpsc, oneshot};

use super::hub::{HubEvent, OUTBOX};
use super::Browsers;

/// The largest frame read off the socket: larger than the protocol's limit, so that an
/// oversized message gets its `too_large` error instead of a dropped connection.
const MAX_READ_BYTES: usize = 4 * dcx_signaling::MAX_FRAME_BYTES;

/// `GET /ws`: upgrades to the browser protocol.
pub async fn upgrade(ws: WebSocketUpgrade, State(browsers): State<Arc<Browsers>>) -> Response {
    ws.max_message_size(MAX_READ_BYTES)
        .max_frame_size(MAX_READ_BYTES)
        .on_upgrade(move |socket| connection(socket, browsers))
}

/// What to do after a frame.
enum Next {
    Continue,
    Close(ErrorCode, String),
}

async fn connection(mut socket: WebSocket, browsers: Arc<Browsers>) {
    browsers.stats.connections.fetch_add(1, Ordering::Relaxed);
    let mut gate = Connection::new();
    let mut outbox: Option<mpsc::Receiver<ServerMessage>> = None;
    let close = loop {
        let out = async {
            match &mut outbox {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = socket.recv() => {
                let next = match frame {
                    Some(Ok(Message::Text(text))) => {
                        on_text(&mut socket, &browsers, &mut gate, &mut outbox, text.as_str()).await
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let e = ProtocolError::new(
                            ErrorCode::Malformed,
                            "binary frames are not part of the protocol: send JSON text",
                        );
                        browsers.stats.errors_sent.fetch_add(1, Ordering::Relaxed);
                        reply(&mut socket, &e.to_server_message()).await
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Next::Continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                };
                if let Next::Close(code, reason) = next {
                    break Some((code, reason));
                }
            }
            message = out => match message {
                Some(m) => {
                    if let Next::Close(code, reason) = reply(&mut socket, &m).await {
                        break Some((code, reason));
                    }
                }
                // The hub let go of this socket: another one resumed the session.
                None => break Some((ErrorCode::ResumeFailed, "the session was resumed on another connection".into())),
            },
        }
    };
    if let Some(attachment) = gate.close() {
        browsers.hub.send(HubEvent::Detach(attachment));
    }
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            // 4000-4999: for applications (RFC 6455 7.4.2); the reason names the code.
            code: 4000,
            reason: format!("{}: {reason}", code.as_str())
                .chars()
                .take(120)
                .collect::<String>()
                .into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
}

async fn on_text(
    socket: &mut WebSocket,
    browsers: &Browsers,
    gate: &mut Connection,
    outbox: &mut Option<mpsc::Receiver<ServerMessage>>,
    text: &str,
) -> Next {
    let message = match ClientMessage::parse(text).and_then(|m| gate.check(&m).map(|()| m)) {
        Ok(m) => m,
        Err(e) => {
            browsers.stats.errors_sent.fetch_add(1, Ordering::Relaxed);
            return reply(socket, &e.to_server_message()).await;
        }
    };
    match message {
        ClientMessage::Hello { token, resume, .. } => {
            match hello(browsers, gate, token, resume).await {
                Ok((welcome, rx)) => {
                    *outbox = Some(rx);
                    reply(socket, &welcome).await
                }
                Err(e) => {
                    gate.fail(&e);
                    reply(socket, &e.to_server_message()).await
                }
            }
        }
        ClientMessage::Ping { seq } => reply(socket, &ServerMessage::Pong { seq }).await,
        message => {
            let Some(attachment) = gate.attachment() else {
                let e = ProtocolError::new(ErrorCode::NotAuthenticated, "hello first");
                return reply(socket, &e.to_server_message()).await;
            };
            if browsers.hub.send(HubEvent::Client {
                attachment,
                message,
            }) {
                Next::Continue
            } else {
                Next::Close(ErrorCode::Internal, "the gateway is shutting down".into())
            }
        }
    }
}

async fn hello(
    browsers: &Browsers,
    gate: &mut Connection,
    token: String,
    resume: Option<String>,
) -> Result<(ServerMessage, mpsc::Receiver<ServerMessage>), ProtocolError> {
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = browsers
        .tokens
        .verify(&token, now_unix)
        .map_err(|e| ProtocolError::new(e.code(), e.to_string()))?;
    let (tx, rx) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let sent = browsers.hub.send(HubEvent::Hello {
        claims,
        resume,
        outbox: tx,
        reply,
    });
    let stopped = || ProtocolError::new(ErrorCode::Internal, "the gateway is shutting down");
    if !sent {
        return Err(stopped());
    }
    let (welcome, calls) = answer.await.map_err(|_| stopped())??;
    gate.open(&welcome);
    Ok((welcome.to_server_message(calls), rx))
}

/// Sends one message; an error frame whose code closes the connection says so.
async fn reply(socket: &mut WebSocket, message: &ServerMessage) -> Next {
    if socket
        .send(Message::Text(message.to_json().into()))
        .await
        .is_err()
    {
        return Next::Close(ErrorCode::Internal, "the socket failed".into());
    }
    match message {
        ServerMessage::Error { code, reason, .. } if code.closes_connection() => {
            Next::Close(*code, reason.clone())
        }
        _ => Next::Continue,
    }
}
