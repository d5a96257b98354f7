//! Late offer: an origin INVITE without SDP (RFC 3261 13.2.1). dcx offers to the
//! carrier itself (PCMU, PCMA and telephone-event at our carrier-facing port), offers
//! the origin in the 200 OK what the carrier answered (pointed at our origin-facing
//! port, the other G.711 law added), and takes the origin's answer from its ACK: that
//! is when the relay learns where the origin receives, and whether the two laws differ
//! (then it transcodes). Provisional responses go to the origin without SDP: an offer
//! may only ride a reliable response, and there is no 100rel here.

use super::super::media::{EventPts, MediaNews, MediaSide, Transcode};
use super::{HangupSide, TransitCall};
use dcx_sip::sdp::{AudioCapabilities, Codec};
use dcx_sip::Message;
use std::net::SocketAddr;
use std::time::Instant;

/// Our telephone-event payload type when we offer.
const EVENT_PT: u8 = 101;

/// What a late-offer call keeps until the origin's ACK answers.
#[derive(Debug, Default)]
pub(super) struct LateOffer {
    /// The carrier's chosen format, where it receives, its telephone-event type.
    carrier: Option<(String, Option<SocketAddr>, Option<u8>)>,
    /// The origin answered (in its ACK).
    answered: bool,
}

impl TransitCall {
    /// With no offer from the origin and media anchored, our own offer to carriers.
    pub(super) fn offer_ourselves(&mut self, token: u64) {
        let Some(a) = self.anchor else { return };
        let caps = AudioCapabilities {
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event: true,
            telephone_event_pt: EVENT_PT,
            ptime_ms: 20,
            address: a.ip,
            port: a.carrier_port,
            session_id: token >> 1,
            session_version: 1,
        };
        self.offer_body = Some((
            "application/sdp".to_owned(),
            caps.offer().write().into_bytes(),
        ));
        // The carrier's answer is checked against this, as if the origin had offered it.
        self.origin_formats = vec!["0".into(), "8".into(), EVENT_PT.to_string()];
        self.late = Some(LateOffer::default());
    }

    /// Whether the origin sent no offer (so 18x go to it without SDP).
    pub(super) fn is_late_offer(&self) -> bool {
        self.late.is_some()
    }

    /// The carrier's answer (as received), remembered for the origin's ACK.
    pub(super) fn carrier_answered(
        &mut self,
        format: Option<&String>,
        remote: Option<SocketAddr>,
        events: Option<u8>,
    ) {
        if let (Some(late), Some(f)) = (&mut self.late, format) {
            late.carrier = Some((f.clone(), remote, events));
        }
    }

    /// An ACK from the origin for our 2xx: in a late-offer call it carries the answer.
    pub(super) fn late_answer(&mut self, now: Instant, msg: &Message<'_>) {
        let Some(late) = &mut self.late else { return };
        if std::mem::replace(&mut late.answered, true) {
            return; // a retransmitted ACK
        }
        let Some(anchor) = self.anchor else { return };
        let answer = super::super::legs::body_of(msg).and_then(|(t, b)| {
            super::super::media::rewrite_sdp((t, b), anchor.ip, anchor.carrier_port, |_| ())
        });
        let Some((answer, _)) = answer else {
            tracing::debug!(call_id = %self.parties.call_id, "late offer: the ACK carries no SDP answer");
            self.hang_up_both(now);
            self.end(now, 200, HangupSide::System, "no SDP answer in the ACK");
            return;
        };
        if let Some(remote) = answer.remote {
            self.media_news.push_back(MediaNews {
                side: MediaSide::Origin,
                remote,
                transcode: None,
                events: None,
            });
        }
        let Some((carrier_format, Some(carrier_remote), carrier_events)) =
            self.late.as_ref().and_then(|l| l.carrier.clone())
        else {
            return;
        };
        let transcode = match (answer.formats.first(), carrier_format.as_str()) {
            (Some(o), c) if o != c => match (o.parse::<u8>(), c.parse::<u8>()) {
                (Ok(origin_pt @ (0 | 8)), Ok(carrier_pt @ (0 | 8))) => Some(Transcode {
                    origin_pt,
                    carrier_pt,
                }),
                _ => None,
            },
            _ => None,
        };
        self.origin_formats = answer.formats;
        self.origin_events = answer.events;
        self.media_news.push_back(MediaNews {
            side: MediaSide::Carrier,
            remote: carrier_remote,
            transcode,
            events: EventPts::of(answer.events, carrier_events),
        });
    }
}
