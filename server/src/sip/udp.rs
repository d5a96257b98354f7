//! The tokio shell around the [`Endpoint`]: one task owns the UDP socket, the TCP
//! connection table ([`Streams`]) and the endpoint, and waits for whichever comes
//! first: a datagram, a message from a TCP connection, the endpoint's next deadline, or
//! shutdown. The endpoint never sees the socket; the shell never decides.
//! What the calls report goes to `on_event` (the seam for CDRs and metrics), what
//! their media needs to `on_media` (the RTP relay).

use super::calls::MediaCommand;
use super::endpoint::{Endpoint, EndpointStats};
use super::tcp::Streams;
use crate::call::CallEvent;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// The largest datagram read (a SIP message over UDP stays well below it).
const MAX_DATAGRAM: usize = 65_535;

/// Runs until `shutdown` flips to true. `stats` is refreshed after every event for the
/// health and metrics endpoints (a std mutex: held for a copy, never across an await);
/// every call event is handed to `on_event`, which must not block.
pub async fn run(
    socket: UdpSocket,
    mut streams: Streams,
    mut endpoint: Endpoint,
    stats: Arc<Mutex<EndpointStats>>,
    mut shutdown: watch::Receiver<bool>,
    mut on_event: impl FnMut(CallEvent) + Send,
    mut on_media: impl FnMut(MediaCommand) + Send,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let deadline = endpoint.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => endpoint.handle_datagram(Instant::now(), from, &buf[..n]),
                // ICMP port unreachable from an earlier send surfaces here on Linux:
                // not this socket's failure.
                Err(e) => tracing::debug!("sip udp receive: {e}"),
            },
            Some(event) = streams.events.recv() => {
                if let Some((from, bytes)) = streams.handle(event) {
                    endpoint.handle_datagram(Instant::now(), from, &bytes);
                }
            },
            () = sleep => endpoint.handle_timeout(Instant::now()),
            _ = shutdown.changed() => break,
        }
        // Counters first: whoever reads them after receiving our answer sees them counted.
        *stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = endpoint.stats();
        while let Some(event) = endpoint.poll_event() {
            on_event(event);
        }
        while let Some(command) = endpoint.poll_media() {
            on_media(command);
        }
        while let Some((to, bytes)) = endpoint.poll_transmit() {
            let Err(bytes) = streams.send(to, bytes) else {
                continue;
            };
            if let Err(e) = socket.send_to(&bytes, to).await {
                tracing::debug!(%to, "sip udp send: {e}");
            }
        }
    }
}
