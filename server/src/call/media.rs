//! Media anchoring, the call's side: the two RTP ports dcx holds for a call (one
//! facing the origin, one facing the carrier), the SDP rewrite that points each side at
//! dcx, and what the relay must learn from the SDP each side sent ([`MediaNews`]).
//!
//! Codecs, formats and attributes pass through; only `o=`'s address, `c=` and the
//! `m=` ports change, with one exception for G.711: an offer of only one law is
//! forwarded to the carrier with the other law added, and a carrier answering with the
//! law the origin did not offer is answered to the origin with the origin's law, the
//! relay transcoding between them ([`Transcode`]). `a=rtcp` is dropped from what we
//! forward: dcx terminates RTCP on each leg at its RTP port + 1, the RFC 3550 default.

use std::net::{IpAddr, SocketAddr};

/// The ports dcx holds for one call, at `ip` (`[media] public_ip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The address written into SDP and bound by the relay.
    pub ip: IpAddr,
    /// Our RTP port that the origin sends to.
    pub origin_port: u16,
    /// Our RTP port that the carriers send to.
    pub carrier_port: u16,
}

/// Which side of the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSide {
    /// The caller's trunk.
    Origin,
    /// The carrier leg (the live attempt).
    Carrier,
}

/// What the relay learns from signalling: where a side said it receives RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaNews {
    /// Whose SDP.
    pub side: MediaSide,
    /// Its first audio stream's address (`c=` and `m=` port).
    pub remote: SocketAddr,
    /// With the carrier's answer: the G.711 laws differ and the relay transcodes.
    pub transcode: Option<Transcode>,
    /// With the carrier's answer: both sides use RFC 4733 telephone-event, with these
    /// payload types (the relay rewrites one into the other when they differ).
    pub events: Option<EventPts>,
}

/// The RFC 4733 telephone-event payload type of each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPts {
    /// The origin's.
    pub origin_pt: u8,
    /// The carrier's.
    pub carrier_pt: u8,
}

impl EventPts {
    /// The pair when both sides have telephone-event.
    pub fn of(origin: Option<u8>, carrier: Option<u8>) -> Option<Self> {
        Some(Self {
            origin_pt: origin?,
            carrier_pt: carrier?,
        })
    }
}

/// The payload type of 8 kHz telephone-event (RFC 4733) in `m`'s formats.
fn telephone_event(m: &dcx_sip::sdp::MediaDescription) -> Option<u8> {
    m.payload_types().find(|&pt| {
        m.encoding_of(pt).is_some_and(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate_hz == 8000
        })
    })
}

/// PCMU<->PCMA between the legs: the static payload type each side uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transcode {
    /// What the origin sends and receives (0 or 8).
    pub origin_pt: u8,
    /// What the carrier sends and receives (8 or 0).
    pub carrier_pt: u8,
}

/// The other G.711 law's static payload type.
fn other_law(pt: &str) -> Option<&'static str> {
    match pt {
        "0" => Some("8"),
        "8" => Some("0"),
        _ => None,
    }
}

/// The offer toward carriers: with only one G.711 law offered, the other is added
/// after it (we can transcode).
pub fn widen_g711(m: &mut dcx_sip::sdp::MediaDescription) {
    let laws: Vec<&str> = m
        .formats
        .iter()
        .map(String::as_str)
        .filter(|f| other_law(f).is_some())
        .collect();
    if let [one] = laws[..] {
        let (one, other) = (one.to_owned(), other_law(one).unwrap_or_default());
        let at = m
            .formats
            .iter()
            .position(|f| *f == one)
            .map_or(0, |i| i + 1);
        m.formats.insert(at, other.to_owned());
    }
}

/// The carrier's answer toward the origin, which offered `origin_formats`: if the
/// carrier chose the G.711 law the origin did not offer, the origin is answered with
/// its own law and the pair to transcode is returned.
pub fn narrow_g711(
    m: &mut dcx_sip::sdp::MediaDescription,
    origin_formats: &[String],
) -> Option<Transcode> {
    let chosen = m.formats.first()?.clone();
    let theirs = other_law(&chosen)?;
    if origin_formats.contains(&chosen) || !origin_formats.iter().any(|f| f == theirs) {
        return None;
    }
    let (carrier_pt, origin_pt) = (chosen.parse().ok()?, theirs.parse().ok()?);
    m.formats.retain(|f| *f != theirs);
    theirs.clone_into(&mut m.formats[0]);
    m.rtpmaps.retain(|r| r.payload_type != carrier_pt);
    Some(Transcode {
        origin_pt,
        carrier_pt,
    })
}

/// An SDP rewritten by [`rewrite_sdp`].
#[derive(Debug)]
pub struct Rewritten {
    /// The new body.
    pub body: Vec<u8>,
    /// Where its sender receives (first audio stream).
    pub remote: Option<SocketAddr>,
    /// That stream's formats as received.
    pub formats: Vec<String>,
    /// That stream's telephone-event payload type, if it has one.
    pub events: Option<u8>,
}

/// `body` (an SDP) rewritten to point at `ip:port`, its relayed audio stream changed by
/// `edit`; `None` when it is not SDP we can read (then it passes through unchanged).
pub fn rewrite_sdp<T>(
    (content_type, body): (&str, &[u8]),
    ip: IpAddr,
    port: u16,
    edit: impl FnOnce(&mut dcx_sip::sdp::MediaDescription) -> T,
) -> Option<(Rewritten, Option<T>)> {
    if !content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp")
    {
        return None;
    }
    let mut sdp = dcx_sip::sdp::parse(body).ok()?;
    let remote = sdp
        .media
        .iter()
        .find(|m| m.media == "audio" && m.port != 0)
        .and_then(|m| Some(SocketAddr::new(sdp.connection_of(m)?, m.port)));
    // RFC 2543 hold (`c=0.0.0.0`): the address stays unspecified, so the other side
    // keeps not sending; the relay learns nothing.
    let held = remote.is_some_and(|r| r.ip().is_unspecified());
    let remote = remote.filter(|_| !held);
    let ip_or_held = |old: IpAddr| if held { old } else { ip };
    sdp.origin.address = ip.to_string();
    sdp.connection = sdp.connection.map(ip_or_held);
    let relayed = sdp.media.iter().find(|m| m.media == "audio" && m.port != 0);
    let formats = relayed.map(|m| m.formats.clone()).unwrap_or_default();
    let events = relayed.and_then(telephone_event);
    let mut edited = None;
    let mut edit = Some(edit);
    let mut first = true;
    for m in &mut sdp.media {
        m.connection = m.connection.map(ip_or_held);
        m.rtcp_port = None;
        if m.port == 0 {
            continue;
        }
        // One relayed stream: the first audio one; others are refused (port 0).
        m.port = if first && m.media == "audio" { port } else { 0 };
        if m.port != 0 {
            edited = edit.take().map(|f| f(m));
        }
        first &= m.port == 0;
    }
    if sdp.connection.is_none() && sdp.media.iter().any(|m| m.connection.is_none()) {
        sdp.connection = Some(ip);
    }
    let out = Rewritten {
        body: sdp.write().into_bytes(),
        remote,
        formats,
        events,
    };
    Some((out, edited))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_sdp_at_dcx_keeping_codecs() {
        let offer = b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
a=ptime:20\r\na=sendrecv\r\n";
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (out, _) = rewrite_sdp(("application/sdp", offer), ip, 31000, |_| ()).unwrap();
        assert_eq!(out.remote, Some("10.0.0.5:4000".parse().unwrap()));
        let sdp = dcx_sip::sdp::parse(&out.body).unwrap();
        assert_eq!(sdp.connection, Some(ip));
        assert_eq!(sdp.origin.address, "192.0.2.1");
        assert_eq!(sdp.media[0].port, 31000);
        assert_eq!(sdp.media[0].formats, ["0", "8", "101"]);
        assert_eq!(sdp.media[0].ptime_ms, Some(20));
        assert!(sdp.media[0].fmtp_of(101).is_some());
        assert!(rewrite_sdp(("text/plain", offer), ip, 1, |_| ()).is_none());
    }

    #[test]
    fn one_g711_law_is_widened_and_a_mismatch_transcoded() {
        let offer = b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (out, _) = rewrite_sdp(("application/sdp", offer), ip, 31002, widen_g711).unwrap();
        let sdp = dcx_sip::sdp::parse(&out.body).unwrap();
        assert_eq!(sdp.media[0].formats, ["0", "8", "101"]);
        assert_eq!(out.formats, ["0", "101"]);
        let answer = b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let (back, t) = rewrite_sdp(("application/sdp", answer), ip, 31000, |m| {
            narrow_g711(m, &out.formats)
        })
        .unwrap();
        assert_eq!(
            t.flatten(),
            Some(Transcode {
                origin_pt: 0,
                carrier_pt: 8
            })
        );
        let sdp = dcx_sip::sdp::parse(&back.body).unwrap();
        assert_eq!(sdp.media[0].formats, ["0", "101"]);
        assert_eq!(
            sdp.media[0].encoding_of(0).map(|r| r.encoding),
            Some("PCMU".into())
        );
    }
}
