//! SIP over TCP (RFC 3261 18): the connections of the SIP shell. Each connection is a
//! task that cuts messages out of the byte stream ([`StreamFramer`]) and hands them to
//! the shell's loop, plus a writer fed by a channel; the loop owns the table of
//! connections ([`Streams`]) and the endpoint, which sees a message from a TCP peer
//! exactly as one from a UDP peer (its top Via says TCP, which is how the calls know to
//! answer on the connection and not to retransmit).
//!
//! What goes where: a message to an address with a live connection (one the peer
//! opened, or one we opened) rides it; a request whose top Via says TCP to an address
//! without one opens a connection first (a trunk with `transport = "tcp"`), the
//! messages queued meanwhile; everything else is a datagram (a response whose
//! connection closed included: RFC 3261 18.2.2 would open a new connection to the Via's
//! address, not done yet). A framing error (no or bad
//! Content-Length, an endless head) closes the connection: the stream cannot be
//! resynchronised. TLS is the next transport behind the same seam.

use dcx_sip::{FramerLimits, Message, StreamFramer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the connection tasks tell the shell's loop.
#[derive(Debug)]
pub enum StreamEvent {
    /// A connection is up: messages to `addr` go to the sender.
    Up(SocketAddr, mpsc::UnboundedSender<Vec<u8>>),
    /// One complete message from `addr`.
    Message(SocketAddr, Vec<u8>),
    /// The connection with `addr` ended (or could not be opened).
    Down(SocketAddr),
}

/// TCP counters, for `/healthz`.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections we opened.
    pub connected: AtomicU64,
    /// Connections that failed to open.
    pub connect_failures: AtomicU64,
    /// Connections closed on a framing error.
    pub framing_errors: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
}

impl StreamStats {
    /// The counters as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "accepted": self.accepted.load(Relaxed),
            "connected": self.connected.load(Relaxed),
            "connect_failures": self.connect_failures.load(Relaxed),
            "framing_errors": self.framing_errors.load(Relaxed),
            "open": self.open.load(Relaxed),
        })
    }
}

/// The connections of one SIP shell.
#[derive(Debug)]
pub struct Streams {
    tx: mpsc::UnboundedSender<StreamEvent>,
    /// Where the connection tasks report.
    pub events: mpsc::UnboundedReceiver<StreamEvent>,
    live: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    opening: HashMap<SocketAddr, Vec<Vec<u8>>>,
    stats: Arc<StreamStats>,
}

impl Streams {
    /// Accepts connections on `listener` from now on (the accept loop ends when the
    /// returned value is dropped: its channel closes).
    pub fn new(listener: TcpListener, stats: Arc<StreamStats>) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(accept(listener, tx.clone(), stats.clone()));
        Self {
            tx,
            events,
            live: HashMap::new(),
            opening: HashMap::new(),
            stats,
        }
    }

    /// Takes one event from a connection task; returns the message it carried, if any,
    /// for the endpoint.
    pub fn handle(&mut self, event: StreamEvent) -> Option<(SocketAddr, Vec<u8>)> {
        match event {
            StreamEvent::Up(addr, sender) => {
                for queued in self.opening.remove(&addr).unwrap_or_default() {
                    let _ = sender.send(queued);
                }
                self.live.insert(addr, sender);
                None
            }
            StreamEvent::Message(addr, bytes) => Some((addr, bytes)),
            StreamEvent::Down(addr) => {
                self.live.remove(&addr);
                if let Some(lost) = self.opening.remove(&addr) {
                    tracing::debug!(%addr, lost = lost.len(), "sip tcp: connection failed, messages dropped");
                }
                None
            }
        }
    }

    /// Sends `bytes` to `to` over TCP if it has a connection, or opens one when the
    /// message's top Via says TCP; false when it is a datagram's job.
    pub fn send(&mut self, to: SocketAddr, bytes: Vec<u8>) -> Result<(), Vec<u8>> {
        if let Some(conn) = self.live.get(&to) {
            return match conn.send(bytes) {
                Ok(()) => Ok(()),
                Err(mpsc::error::SendError(bytes)) => {
                    self.live.remove(&to); // its task ended; the Down event is on its way
                    Err(bytes)
                }
            };
        }
        if let Some(queue) = self.opening.get_mut(&to) {
            queue.push(bytes);
            return Ok(());
        }
        if !wants_tcp(&bytes) {
            return Err(bytes);
        }
        self.opening.insert(to, vec![bytes]);
        tokio::spawn(connect(to, self.tx.clone(), self.stats.clone()));
        Ok(())
    }
}

/// Whether a message is a request whose top Via names TCP (one we route over TCP).
/// Responses go back the way their request came: on its connection if it is still
/// there, else as a datagram (a UDP request whose Via claims TCP is answered over UDP,
/// RFC 3261 18.2.2).
fn wants_tcp(bytes: &[u8]) -> bool {
    // Fast path for the common case, every datagram we send: a response, or a request
    // without "/TCP" anywhere, is not for a stream.
    if bytes.starts_with(b"SIP/2.0 ") || !bytes.windows(4).any(|w| w.eq_ignore_ascii_case(b"/TCP"))
    {
        return false;
    }
    Message::parse_datagram(bytes)
        .ok()
        .filter(Message::is_request)
        .and_then(|m| {
            m.top_via()
                .ok()
                .map(|v| v.transport.eq_ignore_ascii_case("TCP"))
        })
        .unwrap_or(false)
}

async fn accept(
    listener: TcpListener,
    tx: mpsc::UnboundedSender<StreamEvent>,
    stats: Arc<StreamStats>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    stats.accepted.fetch_add(1, Relaxed);
                    tokio::spawn(run(stream, addr, tx.clone(), stats.clone()));
                }
                Err(e) => {
                    tracing::debug!("sip tcp accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            () = tx.closed() => break,
        }
    }
}

async fn connect(to: SocketAddr, tx: mpsc::UnboundedSender<StreamEvent>, stats: Arc<StreamStats>) {
    let connecting =
        tokio::time::timeout(std::time::Duration::from_secs(10), TcpStream::connect(to));
    match connecting.await {
        Ok(Ok(stream)) => {
            stats.connected.fetch_add(1, Relaxed);
            run(stream, to, tx, stats).await;
        }
        Ok(Err(e)) => {
            stats.connect_failures.fetch_add(1, Relaxed);
            tracing::debug!(%to, "sip tcp connect: {e}");
            let _ = tx.send(StreamEvent::Down(to));
        }
        Err(_) => {
            stats.connect_failures.fetch_add(1, Relaxed);
            tracing::debug!(%to, "sip tcp connect: timed out");
            let _ = tx.send(StreamEvent::Down(to));
        }
    }
}

/// Largest read at once.
const READ_CHUNK: usize = 16 * 1024;

/// One connection: reads and frames until EOF or error, while a writer task drains
/// the channel the loop sends to.
async fn run(
    stream: TcpStream,
    addr: SocketAddr,
    tx: mpsc::UnboundedSender<StreamEvent>,
    stats: Arc<StreamStats>,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    if tx.send(StreamEvent::Up(addr, out_tx)).is_err() {
        return;
    }
    stats.open.fetch_add(1, Relaxed);
    let writing = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if let Err(e) = writer.write_all(&bytes).await {
                tracing::debug!(%addr, "sip tcp write: {e}");
                break;
            }
        }
    });
    let mut framer = StreamFramer::with_limits(FramerLimits::default());
    let mut buf = vec![0u8; READ_CHUNK];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(%addr, "sip tcp read: {e}");
                break;
            }
        };
        framer.push(&buf[..n]);
        loop {
            match framer.poll_message() {
                Ok(Some(msg)) => {
                    let bytes = msg.as_bytes().to_vec();
                    if tx.send(StreamEvent::Message(addr, bytes)).is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    stats.framing_errors.fetch_add(1, Relaxed);
                    tracing::debug!(%addr, "sip tcp framing lost, closing: {e}");
                    break 'read;
                }
            }
        }
    }
    writing.abort();
    stats.open.fetch_sub(1, Relaxed);
    let _ = tx.send(StreamEvent::Down(addr));
}
