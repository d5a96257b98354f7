//! The WebRTC shell reports every peer's events on one channel; each browser call's
//! task wants its own peer's. The peer router is the task between them: it owns the
//! map from peer to call task and forwards each event with `try_send`, so a slow call
//! task loses its own audio frames (counted), never anyone else's, and never stalls the
//! media loop behind it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dcx_media::webrtc::{MediaEvent, PeerId};
use tokio::sync::mpsc;

/// Events a call task may have waiting: 2 s of audio.
pub const PEER_QUEUE: usize = 100;

/// How call tasks subscribe to their peer's events; cheap to clone.
#[derive(Debug, Clone)]
pub struct PeerRouter {
    subscribe: mpsc::UnboundedSender<(PeerId, mpsc::Sender<MediaEvent>)>,
}

impl PeerRouter {
    /// Starts the router on the shell's event receiver; it ends with the shell. Events
    /// a slow call task did not take are counted in `dropped`.
    pub fn spawn(mut events: mpsc::Receiver<MediaEvent>, dropped: Arc<AtomicU64>) -> Self {
        let (subscribe, mut subscriptions) =
            mpsc::unbounded_channel::<(PeerId, mpsc::Sender<MediaEvent>)>();
        let counted = dropped;
        tokio::spawn(async move {
            let mut routes: HashMap<PeerId, mpsc::Sender<MediaEvent>> = HashMap::new();
            loop {
                tokio::select! {
                    // Subscriptions first: a peer's first event can only follow its
                    // subscription (the browser needs the answer sent after it).
                    biased;
                    Some((peer, tx)) = subscriptions.recv() => {
                        routes.insert(peer, tx);
                    }
                    event = events.recv() => {
                        let Some(event) = event else { return };
                        route(&mut routes, event, &counted);
                    }
                }
            }
        });
        Self { subscribe }
    }

    /// The events of `peer` from now on, until it is reported gone.
    pub fn subscribe(&self, peer: PeerId) -> mpsc::Receiver<MediaEvent> {
        let (tx, rx) = mpsc::channel(PEER_QUEUE);
        // A router that has stopped has no events left to give: the receiver just ends.
        let _ = self.subscribe.send((peer, tx));
        rx
    }
}

fn route(
    routes: &mut HashMap<PeerId, mpsc::Sender<MediaEvent>>,
    event: MediaEvent,
    dropped: &AtomicU64,
) {
    let (peer, gone) = match &event {
        MediaEvent::PeerConnected(p)
        | MediaEvent::Audio { peer: p, .. }
        | MediaEvent::Dtmf { peer: p, .. } => (*p, false),
        MediaEvent::PeerDisconnected(p, _) => (*p, true),
        _ => return,
    };
    let Some(tx) = routes.get(&peer) else {
        return;
    };
    match tx.try_send(event) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            routes.remove(&peer);
            return;
        }
    }
    if gone {
        routes.remove(&peer);
    }
}
