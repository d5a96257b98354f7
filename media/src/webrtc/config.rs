//! What a [`super::MediaCore`] announces and accepts: the public addresses of its one
//! UDP port and the codecs it answers with, turned into the `str0m::RtcConfig` every
//! peer is built from.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use str0m::config::{CryptoProvider, DtlsCert};
use str0m::format::{Codec, FormatParams};
use str0m::media::Frequency;
use str0m::rtp::Extension;
use str0m::RtcConfig;

use super::MediaError;

/// Payload types for telephone-event, as Chrome offers them (the answer follows the
/// offer's numbers; these only matter for a peer that does not offer any).
const PT_TELEPHONE_EVENT_48K: u8 = 110;
const PT_TELEPHONE_EVENT_8K: u8 = 126;

/// The WebRTC side of `[media]`: where browsers reach us and what we speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcConfig {
    /// The addresses browsers can reach the shared socket at, one ICE host candidate
    /// each (a public IP, or the 1:1 NAT address in front of the host).
    pub public_ips: Vec<IpAddr>,
    /// The shared UDP port (`[media] webrtc_port`).
    pub port: u16,
    /// Answer PCMU/PCMA too when the browser offers them (Opus stays preferred).
    pub accept_g711: bool,
    /// Answer telephone-event (RFC 4733) so browsers can send DTMF.
    pub accept_telephone_event: bool,
    /// A peer not connected (ICE and DTLS) this long after its offer is given up.
    pub connect_timeout: Duration,
    /// Which shard of the gateway's media this core is (0 when there is one): the
    /// number is in every [`super::PeerId`] it hands out, so that ids stay unique
    /// across shards and name the shard that has the peer ([`super::PeerId::shard`]).
    pub shard: u16,
}

impl WebRtcConfig {
    /// One public address on `port`, with G.711 and telephone-event accepted and 30 s
    /// to connect.
    pub fn new(public_ip: IpAddr, port: u16) -> Self {
        Self {
            public_ips: vec![public_ip],
            port,
            accept_g711: true,
            accept_telephone_event: true,
            connect_timeout: Duration::from_secs(30),
            shard: 0,
        }
    }

    /// The host candidates, one per public IP, all on the shared port.
    pub fn candidate_addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.public_ips
            .iter()
            .map(move |ip| SocketAddr::new(*ip, self.port))
    }

    pub(super) fn validate(&self) -> Result<(), MediaError> {
        if self.public_ips.is_empty() {
            return Err(MediaError::InvalidConfig(
                "public_ips is empty: browsers need at least one address to reach",
            ));
        }
        if self.port == 0 {
            return Err(MediaError::InvalidConfig(
                "port 0: the shared port is announced in every answer, so it must be fixed",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(MediaError::InvalidConfig(
                "connect_timeout is zero: no peer could ever connect",
            ));
        }
        if self.public_ips.iter().any(IpAddr::is_unspecified) {
            return Err(MediaError::InvalidConfig(
                "an unspecified address (0.0.0.0 or ::) cannot be an ICE candidate",
            ));
        }
        Ok(())
    }

    /// The `RtcConfig` of every peer: ICE-lite, our codecs, the shared certificate.
    /// Public so that the SFU bench can build bare str0m peers exactly like ours (its
    /// floor: str0m's own cost of the same forwarding).
    pub fn rtc_config(&self, crypto: &Arc<CryptoProvider>, certificate: &DtlsCert) -> RtcConfig {
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_crypto_provider(Arc::clone(crypto))
            .set_dtls_cert(certificate.clone())
            .clear_codecs()
            // Opus first: the order is our preference in the answer.
            .enable_opus(true, false)
            .enable_pcmu(self.accept_g711, false)
            .enable_pcma(self.accept_g711, false)
            // Packets, not frames, cross the peer's boundary: every codec here is one
            // frame per packet, and RTP mode forwards a third cheaper (see rtp_io).
            .set_rtp_mode(true)
            // Hand frames on as they arrive: the jitter buffer downstream reorders
            // and conceals, and holding packets here would add delay under loss.
            .set_reordering_size_audio(0)
            .set_reordering_timeout_audio(None)
            // No video here, so a short RTCP interval costs little and keeps the
            // round-trip time and loss figures fresh for the quality statistics.
            .set_rtcp_report_interval_audio(Duration::from_secs(2))
            // Audio only: no transport-wide congestion control. With
            // `transport-cc` negotiated, str0m wakes every peer every 50 ms to send TWCC
            // feedback (an SRTCP packet each), a third of the SFU's timeouts per packet
            // with nothing to steer: Opus adapts to the loss in our receiver reports.
            // The mid stays (BUNDLE demux) and the audio level (talk detection).
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(4, Extension::RtpMid);
        if self.accept_telephone_event {
            let codecs = config.codec_config();
            for (pt, rate) in [
                (PT_TELEPHONE_EVENT_48K, Frequency::FORTY_EIGHT_KHZ),
                (PT_TELEPHONE_EVENT_8K, Frequency::EIGHT_KHZ),
            ] {
                codecs.add_config(
                    pt.into(),
                    None,
                    Codec::Tele,
                    rate,
                    None,
                    FormatParams::default(),
                );
            }
        }
        config
    }
}
