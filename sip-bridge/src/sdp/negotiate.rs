//! Offer/answer for the carrier leg's audio (RFC 3264 with RFC 3551 and RFC 4733).

use super::{Direction, MediaDescription, Origin, RtpMap, SessionDescription};
use std::net::{IpAddr, SocketAddr};

/// The codecs the carrier leg speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 mu-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
}

impl Codec {
    /// The encoding name of RFC 3551.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The static payload type.
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// Clock rate, Hz.
    pub fn clock_rate_hz(self) -> u32 {
        8000
    }

    fn from_rtpmap(m: &RtpMap) -> Option<Self> {
        let codec = if m.encoding.eq_ignore_ascii_case("PCMU") {
            Codec::Pcmu
        } else if m.encoding.eq_ignore_ascii_case("PCMA") {
            Codec::Pcma
        } else {
            return None;
        };
        (m.clock_rate_hz == 8000 && m.channels.unwrap_or(1) == 1).then_some(codec)
    }
}

/// What the gateway offers and accepts on one RTP leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioCapabilities {
    /// Codecs we take, in our order of preference (used when we offer).
    pub codecs: Vec<Codec>,
    /// Whether we do RFC 4733 telephone-event (DTMF).
    pub telephone_event: bool,
    /// Payload type we offer for telephone-event.
    pub telephone_event_pt: u8,
    /// Packetization we prefer, ms.
    pub ptime_ms: u32,
    /// Our RTP address and port.
    pub address: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// `o=` session id of our side.
    pub session_id: u64,
    /// `o=` version of this description (increment for every new one in a dialog).
    pub session_version: u64,
}

/// The outcome of a negotiation: how to run the RTP leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec.
    pub codec: Codec,
    /// Its payload type on this leg.
    pub payload_type: u8,
    /// Payload type of telephone-event, when both sides do it at the codec's rate.
    pub dtmf_payload_type: Option<u8>,
    /// Packetization, ms.
    pub ptime_ms: u32,
    /// What we do: send and/or receive.
    pub direction: Direction,
    /// Where to send RTP; `None` when the peer asked not to receive (hold via
    /// `0.0.0.0`) or rejected the stream.
    pub remote: Option<SocketAddr>,
    /// Where to send RTCP (`a=rtcp`, else RTP port + 1).
    pub remote_rtcp: Option<SocketAddr>,
}

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// No RTP audio stream in the offer.
    #[error("no RTP/AVP audio stream offered")]
    NoAudio,
    /// Audio offered, but no codec we speak.
    #[error("no common codec: offered {offered}, we take PCMU and PCMA")]
    NoCommonCodec {
        /// The encodings offered, comma-separated.
        offered: String,
    },
    /// The stream has no connection address.
    #[error("the audio stream has no c= address")]
    NoConnectionAddress,
}

impl NegotiationError {
    /// The SIP response for an INVITE whose offer fails: 488 Not Acceptable Here.
    pub fn sip_status(&self) -> u16 {
        488
    }
}

impl AudioCapabilities {
    /// Our offer.
    pub fn offer(&self) -> SessionDescription {
        let mut formats: Vec<String> = Vec::new();
        let mut rtpmaps = Vec::new();
        for c in &self.codecs {
            formats.push(c.static_payload_type().to_string());
            rtpmaps.push(rtpmap(c.static_payload_type(), c.name(), 8000));
        }
        let mut fmtps = Vec::new();
        if self.telephone_event {
            formats.push(self.telephone_event_pt.to_string());
            rtpmaps.push(rtpmap(self.telephone_event_pt, "telephone-event", 8000));
            fmtps.push((self.telephone_event_pt, "0-15".to_owned()));
        }
        self.description(MediaDescription {
            media: "audio".into(),
            port: self.port,
            proto: "RTP/AVP".into(),
            formats,
            connection: None,
            rtpmaps,
            fmtps,
            ptime_ms: Some(self.ptime_ms),
            direction: Some(Direction::SendRecv),
            rtcp_port: None,
            attributes: Vec::new(),
        })
    }

    fn description(&self, media: MediaDescription) -> SessionDescription {
        SessionDescription {
            origin: Origin {
                username: "dcx".into(),
                session_id: self.session_id,
                session_version: self.session_version,
                address: self.address.to_string(),
            },
            session_name: "dcx".into(),
            connection: Some(self.address),
            direction: None,
            attributes: Vec::new(),
            media: vec![media],
        }
    }

    /// The result of our offer, from the peer's answer.
    pub fn accept_answer(
        &self,
        answer: &SessionDescription,
    ) -> Result<Negotiated, NegotiationError> {
        let m = answer
            .media
            .iter()
            .find(|m| is_rtp_audio(m))
            .ok_or(NegotiationError::NoAudio)?;
        let (codec, pt) = m
            .payload_types()
            .find_map(|pt| {
                let codec = m.encoding_of(pt).as_ref().and_then(Codec::from_rtpmap)?;
                self.codecs.contains(&codec).then_some((codec, pt))
            })
            .ok_or_else(|| no_common_codec(m))?;
        Ok(self.negotiated(answer, m, codec, pt, answer.direction_of(m).answer()))
    }

    fn negotiated(
        &self,
        sd: &SessionDescription,
        m: &MediaDescription,
        codec: Codec,
        pt: u8,
        ours: Direction,
    ) -> Negotiated {
        let dtmf = self
            .telephone_event
            .then(|| dtmf_payload_type(m, codec.clock_rate_hz()))
            .flatten();
        let remote = match sd.connection_of(m) {
            Some(ip) if !ip.is_unspecified() && m.port != 0 => Some(SocketAddr::new(ip, m.port)),
            _ => None,
        };
        let rtcp_port = m.rtcp_port.unwrap_or(m.port.wrapping_add(1));
        Negotiated {
            codec,
            payload_type: pt,
            dtmf_payload_type: dtmf,
            ptime_ms: m
                .ptime_ms
                .filter(|p| matches!(p, 10 | 20 | 30 | 40 | 60))
                .unwrap_or(self.ptime_ms),
            direction: ours,
            remote,
            remote_rtcp: remote.map(|r| SocketAddr::new(r.ip(), rtcp_port)),
        }
    }
}

fn rtpmap(pt: u8, name: &str, rate: u32) -> RtpMap {
    RtpMap {
        payload_type: pt,
        encoding: name.into(),
        clock_rate_hz: rate,
        channels: None,
    }
}

fn is_rtp_audio(m: &MediaDescription) -> bool {
    m.media == "audio" && m.port != 0 && m.proto.eq_ignore_ascii_case("RTP/AVP")
}

fn dtmf_payload_type(m: &MediaDescription, rate: u32) -> Option<u8> {
    m.payload_types().find(|&pt| {
        m.encoding_of(pt).is_some_and(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate_hz == rate
        })
    })
}

fn no_common_codec(m: &MediaDescription) -> NegotiationError {
    let offered: Vec<String> = m
        .payload_types()
        .map(|pt| {
            m.encoding_of(pt).map_or_else(
                || format!("pt {pt}"),
                |r| format!("{}/{}", r.encoding, r.clock_rate_hz),
            )
        })
        .collect();
    NegotiationError::NoCommonCodec {
        offered: offered.join(", "),
    }
}

/// Answers `offer`: the first offered codec we take (the offerer's preference),
/// telephone-event if offered at that codec's rate, the mirrored direction. Every other
/// `m=` section is rejected with port 0, as RFC 3264 6 requires one answer line per
/// offer line. Returns what to run and the answer to send.
pub fn negotiate(
    offer: &SessionDescription,
    caps: &AudioCapabilities,
) -> Result<(Negotiated, SessionDescription), NegotiationError> {
    let index = offer
        .media
        .iter()
        .position(is_rtp_audio)
        .ok_or(NegotiationError::NoAudio)?;
    let m = &offer.media[index];
    if offer.connection_of(m).is_none() {
        return Err(NegotiationError::NoConnectionAddress);
    }
    let (codec, pt) = m
        .payload_types()
        .find_map(|pt| {
            let codec = m.encoding_of(pt).as_ref().and_then(Codec::from_rtpmap)?;
            caps.codecs.contains(&codec).then_some((codec, pt))
        })
        .ok_or_else(|| no_common_codec(m))?;
    let ours = offer.direction_of(m).answer();
    let negotiated = caps.negotiated(offer, m, codec, pt, ours);

    let mut formats = vec![pt.to_string()];
    let mut rtpmaps = vec![rtpmap(pt, codec.name(), 8000)];
    let mut fmtps = Vec::new();
    if let Some(dtmf) = negotiated.dtmf_payload_type {
        formats.push(dtmf.to_string());
        rtpmaps.push(rtpmap(dtmf, "telephone-event", 8000));
        fmtps.push((dtmf, m.fmtp_of(dtmf).unwrap_or("0-15").to_owned()));
    }
    let mut answer = caps.description(MediaDescription {
        media: "audio".into(),
        port: caps.port,
        proto: m.proto.clone(),
        formats,
        connection: None,
        rtpmaps,
        fmtps,
        ptime_ms: Some(negotiated.ptime_ms),
        direction: Some(ours),
        rtcp_port: None,
        attributes: Vec::new(),
    });
    let accepted = answer.media.remove(0);
    answer.media = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, om)| {
            if i == index {
                accepted.clone()
            } else {
                MediaDescription {
                    media: om.media.clone(),
                    port: 0,
                    proto: om.proto.clone(),
                    formats: om.formats.iter().take(1).cloned().collect(),
                    connection: None,
                    rtpmaps: Vec::new(),
                    fmtps: Vec::new(),
                    ptime_ms: None,
                    direction: None,
                    rtcp_port: None,
                    attributes: Vec::new(),
                }
            }
        })
        .collect();
    Ok((negotiated, answer))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
