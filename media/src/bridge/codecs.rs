//! The stages' codecs: Opus through libopus, G.711 through [`crate::g711`].

use super::{BridgeError, Decode, Encode, G711Plc, FRAME, MAX_PAYLOAD, MAX_SAMPLES};
use crate::g711::Law;

fn opus_err(e: &opus::Error) -> BridgeError {
    BridgeError::Opus(e.to_string())
}

/// Opus from the browser, decoded to 8 kHz. Losses are concealed by libopus's PLC.
pub struct OpusDecode {
    decoder: opus::Decoder,
}

impl OpusDecode {
    /// A decoder producing 8 kHz mono.
    pub fn new() -> Result<Self, BridgeError> {
        Ok(Self {
            decoder: opus::Decoder::new(8000, opus::Channels::Mono).map_err(|e| opus_err(&e))?,
        })
    }
}

impl Decode for OpusDecode {
    fn decode(
        &mut self,
        payload: &[u8],
        out: &mut [i16; MAX_SAMPLES],
    ) -> Result<usize, BridgeError> {
        self.decoder
            .decode(payload, out, false)
            .map_err(|e| opus_err(&e))
    }

    fn conceal(&mut self, out: &mut [i16; MAX_SAMPLES]) -> usize {
        // An empty packet asks libopus for concealment of one frame of the given size.
        self.decoder
            .decode(&[], &mut out[..FRAME], false)
            .unwrap_or_else(|_| {
                out[..FRAME].fill(0);
                FRAME
            })
    }
}

/// How the encoder toward the browser is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Target bitrate, bits per second.
    pub bitrate_bps: i32,
    /// libopus complexity, 0-10.
    pub complexity: i32,
    /// In-band forward error correction.
    pub fec: bool,
    /// The loss the encoder expects, percent (FEC spends bits in proportion).
    pub expected_loss_pct: i32,
}

impl Default for OpusSettings {
    /// What the carrier side carries is 8 kHz G.711: narrowband speech. libopus codes
    /// narrowband speech transparently at about 16 kbit/s with its SILK layer; FEC on,
    /// planned for 5% loss, lets the browser rebuild a lost packet from the next one.
    /// Complexity 2: on these machines the encoder is the dominant cost of a bridged
    /// call (`../shared/MEASURED.md`: 90 us per frame at 10, 43 us at 3, 20 us at 0), and
    /// for narrowband SILK the quality above 2 is marginal, while complexity 2 keeps a
    /// core above 500 bridged calls (`docs/performance.md`).
    fn default() -> Self {
        Self {
            bitrate_bps: 16_000,
            complexity: 2,
            fec: true,
            expected_loss_pct: 5,
        }
    }
}

/// 8 kHz PCM encoded to Opus for the browser.
pub struct OpusEncode {
    encoder: opus::Encoder,
}

impl OpusEncode {
    /// An encoder for 8 kHz mono speech with `settings`.
    pub fn new(settings: OpusSettings) -> Result<Self, BridgeError> {
        let mut encoder = opus::Encoder::new(8000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| opus_err(&e))?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(settings.bitrate_bps))
            .map_err(|e| opus_err(&e))?;
        encoder
            .set_complexity(settings.complexity)
            .map_err(|e| opus_err(&e))?;
        encoder
            .set_inband_fec(settings.fec)
            .map_err(|e| opus_err(&e))?;
        encoder
            .set_packet_loss_perc(settings.expected_loss_pct)
            .map_err(|e| opus_err(&e))?;
        encoder
            .set_signal(opus::Signal::Voice)
            .map_err(|e| opus_err(&e))?;
        Ok(Self { encoder })
    }
}

impl Encode for OpusEncode {
    fn encode(&mut self, pcm: &[i16], out: &mut [u8; MAX_PAYLOAD]) -> Result<usize, BridgeError> {
        self.encoder.encode(pcm, out).map_err(|e| opus_err(&e))
    }
}

/// G.711 from the carrier, with Appendix I style concealment.
pub struct G711Decode {
    law: Law,
    plc: G711Plc,
}

impl G711Decode {
    /// A decoder for `law`.
    pub fn new(law: Law) -> Self {
        Self {
            law,
            plc: G711Plc::new(),
        }
    }
}

impl Decode for G711Decode {
    fn decode(
        &mut self,
        payload: &[u8],
        out: &mut [i16; MAX_SAMPLES],
    ) -> Result<usize, BridgeError> {
        if payload.len() > MAX_SAMPLES {
            return Err(BridgeError::TooLong(payload.len()));
        }
        let n = self.law.decode_slice(payload, out);
        self.plc.good(&mut out[..n]);
        Ok(n)
    }

    fn conceal(&mut self, out: &mut [i16; MAX_SAMPLES]) -> usize {
        self.plc.conceal(&mut out[..FRAME]);
        FRAME
    }
}

/// 8 kHz PCM encoded to G.711 for the carrier.
pub struct G711Encode {
    law: Law,
}

impl G711Encode {
    /// An encoder for `law`.
    pub fn new(law: Law) -> Self {
        Self { law }
    }
}

impl Encode for G711Encode {
    fn encode(&mut self, pcm: &[i16], out: &mut [u8; MAX_PAYLOAD]) -> Result<usize, BridgeError> {
        Ok(self.law.encode_slice(pcm, out))
    }
}
