//! The tokio shell around the [`Endpoint`]: one task owns the UDP socket, the TCP
//! connection table ([`Streams`]) and the endpoint, and waits for whichever comes
//! first: a datagram, a message from a TCP connection, the endpoint's next deadline, or
//! shutdown. The endpoint never sees the socket; the shell never decides.
//! What the calls report goes to `on_event` (the seam for CDRs and metrics), what
//! their media needs to `on_media` (the RTP relay). Browser calls reach the endpoint
//! through [`SipCommand`]s, and hear back on the news channel each one hands over.

use super::calls::MediaCommand;
use super::endpoint::{Endpoint, EndpointStats};
use super::tcp::Streams;
use crate::call::browser::{Arrival, BrowserNews, BrowserOrigin};
use crate::call::CallEvent;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

/// A browser call as dialled: its token and the carrier-side RTP address its media
/// binds (`None`: the call ended at once, its `Ended` news says why); `None` altogether
/// when this gateway routes no calls.
pub type Dialled = Option<(u64, Option<(IpAddr, u16)>)>;

/// What a browser call's task asks of the SIP side.
#[derive(Debug)]
pub enum SipCommand {
    /// Route and dial a browser's call. The reply is the call's token and the
    /// carrier-side RTP address its media binds (`None`: the call ended at once, its
    /// `Ended` news says why); `None` altogether when this gateway routes no calls.
    Dial {
        /// Who calls where.
        origin: BrowserOrigin,
        /// Where the call's news go (ringing, answered, ended).
        news: mpsc::UnboundedSender<BrowserNews>,
        /// The token and RTP address.
        reply: oneshot::Sender<Dialled>,
    },
    /// Hang up the far end: the browser hung up or went away (a browser call), or the
    /// agent hung up or the queue gave up with `code` (an inbound call).
    HangUp {
        /// The call.
        token: u64,
        /// The final status for an inbound caller not answered yet (480, 486...).
        code: u16,
        /// Why, for the CDR.
        why: String,
    },
    /// The browser put call `token` on hold (`held`) or resumed it: re-INVITE.
    Hold {
        /// The call.
        token: u64,
        /// Hold (`a=sendonly`) or resume (`a=sendrecv`).
        held: bool,
    },
    /// An agent took inbound call `token`: answer the carrier.
    Answer {
        /// The call.
        token: u64,
        /// The agent, for the CDR.
        agent: String,
    },
    /// Blind transfer of inbound call `token` to `number`: ask its carrier to carry it
    /// (REFER) if its trunk takes that. The reply says whether it was asked; the outcome
    /// comes as the call's news (`Ended`, or `ReferFailed`).
    Refer {
        /// The call.
        token: u64,
        /// Where to.
        number: String,
        /// Whether a REFER went out.
        reply: oneshot::Sender<bool>,
    },
    /// The trunks or DIDs changed (the REST API): take them without a restart.
    Reconfigure(Box<super::provision::SipProvision>),
    /// Answered inbound call `token` waits in a queue again (its agent transferred it
    /// to an agent or a queue): its CDR's queue wait counts again until the next answer.
    Requeued {
        /// The call.
        token: u64,
    },
}

/// An inbound call for a queue has arrived: its token, what is known of it, and the
/// receiver of its news (its media task takes it).
pub type Inbound = (u64, Arrival, mpsc::UnboundedReceiver<BrowserNews>);

/// The largest datagram read (a SIP message over UDP stays well below it).
const MAX_DATAGRAM: usize = 65_535;

/// Runs until `shutdown` flips to true. `stats` is refreshed after every event for the
/// health and metrics endpoints (a std mutex: held for a copy, never across an await);
/// every call event is handed to `on_event`, which must not block.
pub async fn run(
    (socket, mut streams): (UdpSocket, Streams),
    mut endpoint: Endpoint,
    stats: Arc<Mutex<EndpointStats>>,
    mut shutdown: watch::Receiver<bool>,
    mut on_event: impl FnMut(CallEvent) + Send,
    mut on_media: impl FnMut(MediaCommand) + Send,
    (mut commands, inbound): (mpsc::Receiver<SipCommand>, mpsc::UnboundedSender<Inbound>),
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut browser_calls: HashMap<u64, mpsc::UnboundedSender<BrowserNews>> = HashMap::new();
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
            Some(command) = commands.recv() => match command {
                SipCommand::Dial { origin, news, reply } => {
                    let dialled = endpoint.dial_browser(Instant::now(), &origin);
                    if let Some((token, _)) = dialled {
                        browser_calls.insert(token, news);
                    }
                    let _ = reply.send(dialled);
                }
                SipCommand::HangUp { token, code, why } => {
                    endpoint.hang_up_call(Instant::now(), token, code, &why);
                }
                SipCommand::Hold { token, held } => {
                    endpoint.hold_call(Instant::now(), token, held);
                }
                SipCommand::Answer { token, agent } => {
                    endpoint.answer_call(Instant::now(), token, &agent);
                }
                SipCommand::Requeued { token } => endpoint.requeued(Instant::now(), token),
                SipCommand::Reconfigure(p) => endpoint.reconfigure(Instant::now(), *p),
                SipCommand::Refer { token, number, reply } => {
                    let _ = reply.send(endpoint.refer_call(Instant::now(), token, &number));
                }
            },
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
        while let Some((token, news)) = endpoint.poll_browser() {
            if let BrowserNews::Offered(arrival) = news {
                let (tx, rx) = mpsc::unbounded_channel();
                if inbound.send((token, arrival, rx)).is_ok() {
                    browser_calls.insert(token, tx);
                } else {
                    // Nobody serves queues: the caller is not left hanging.
                    endpoint.hang_up_call(Instant::now(), token, 480, "no contact center running");
                }
                continue;
            }
            let ended = matches!(news, BrowserNews::Ended { .. });
            if let Some(tx) = browser_calls.get(&token) {
                // A call task that is gone has nothing left to hear.
                let _ = tx.send(news);
            }
            if ended {
                browser_calls.remove(&token);
            }
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
