//! SDP (RFC 8866) for the carrier leg, and offer/answer (RFC 3264) for audio over RTP.
//!
//! [`parse`] reads a session description into plain owned data (an SDP body is a few
//! hundred bytes, parsed once per offer), keeping every attribute it does not interpret
//! so that a description can be written back ([`SessionDescription::write`]).
//! [`negotiate`] answers an offer from what the gateway can do ([`AudioCapabilities`]):
//! the first codec of the offer that we support (the offerer's preference, RFC 3264
//! 6.1), telephone-event at that codec's clock rate, the ptime, and the mirrored
//! direction (hold is `sendonly`/`inactive`, or the RFC 2543 `c=0.0.0.0`).

mod negotiate;
mod parse;
mod write;

pub use negotiate::{negotiate, AudioCapabilities, Codec, Negotiated, NegotiationError};
pub use parse::{parse, SdpError};

use std::net::IpAddr;

/// Media direction (RFC 8866 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways (the default).
    #[default]
    SendRecv,
    /// The describing side only sends (it puts the other on hold).
    SendOnly,
    /// The describing side only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer takes toward this offered one (RFC 3264 6.1).
    #[must_use]
    pub fn answer(self) -> Self {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    fn from_attribute(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// An `a=rtpmap` line: payload type -> encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// Clock rate, Hz.
    pub clock_rate_hz: u32,
    /// Channels (audio), if given.
    pub channels: Option<u8>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, ...
    pub media: String,
    /// Transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...
    pub proto: String,
    /// Format list (payload types for RTP), in preference order.
    pub formats: Vec<String>,
    /// The section's `c=` address, if any.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` lines: payload type and parameters.
    pub fmtps: Vec<(u8, String)>,
    /// `a=ptime`, milliseconds.
    pub ptime_ms: Option<u32>,
    /// The direction attribute, if present.
    pub direction: Option<Direction>,
    /// `a=rtcp` port, if given.
    pub rtcp_port: Option<u16>,
    /// Every other attribute (`name`, optional value), in order.
    pub attributes: Vec<(String, Option<String>)>,
}

impl MediaDescription {
    /// The payload types of the format list (non-numeric formats are skipped).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| f.parse().ok())
    }

    /// The encoding of a payload type: its rtpmap, or the static assignment of RFC 3551.
    pub fn encoding_of(&self, pt: u8) -> Option<RtpMap> {
        if let Some(m) = self.rtpmaps.iter().find(|m| m.payload_type == pt) {
            return Some(m.clone());
        }
        let (name, rate) = match pt {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        Some(RtpMap {
            payload_type: pt,
            encoding: name.into(),
            clock_rate_hz: rate,
            channels: Some(1),
        })
    }

    /// The `a=fmtp` parameters of a payload type.
    pub fn fmtp_of(&self, pt: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, v)| v.as_str())
    }
}

/// `o=` (RFC 8866 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name (`-` when none).
    pub username: String,
    /// Session id.
    pub session_id: u64,
    /// Session version: incremented on every new offer or answer of the session.
    pub session_version: u64,
    /// The origin's address (as written: an IP or a host name).
    pub address: String,
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=`.
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute, if present.
    pub direction: Option<Direction>,
    /// Other session-level attributes.
    pub attributes: Vec<(String, Option<String>)>,
    /// The `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// The address RTP for `m` goes to: the section's `c=`, else the session's.
    pub fn connection_of(&self, m: &MediaDescription) -> Option<IpAddr> {
        m.connection.or(self.connection)
    }

    /// The effective direction of `m`: the section's attribute, else the session's,
    /// else sendrecv. A `c=0.0.0.0` without a direction is the RFC 2543 way to put the
    /// other side on hold ("do not send to me"), read as `sendonly`.
    pub fn direction_of(&self, m: &MediaDescription) -> Direction {
        let explicit = m.direction.or(self.direction).unwrap_or_default();
        match self.connection_of(m) {
            Some(ip) if ip.is_unspecified() && explicit == Direction::SendRecv => {
                Direction::SendOnly
            }
            _ => explicit,
        }
    }
}
