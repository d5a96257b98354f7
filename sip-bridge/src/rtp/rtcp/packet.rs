//! RTCP packets (RFC 3550 section 6): a compound datagram parsed with the checks of
//! appendix A.2, and the compound reports and BYE this crate sends.
//!
//! Parsing borrows the datagram: report blocks and BYE sources are decoded on iteration
//! from bytes whose length was checked up front, SDES CNAMEs and BYE reasons are slices
//! of the input. Writing appends to a caller's `Vec<u8>`.

use std::time::Duration;

/// RTCP's version field (RFC 3550 6.4.1).
pub const RTCP_VERSION: u8 = 2;
/// Packet type of a sender report (SR).
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report (RR).
pub const PT_RR: u8 = 201;
/// Packet type of a source description (SDES).
pub const PT_SDES: u8 = 202;
/// Packet type of a goodbye (BYE).
pub const PT_BYE: u8 = 203;
/// Packet type of an application-defined packet (APP).
pub const PT_APP: u8 = 204;
/// SDES item type of the canonical name (CNAME).
pub const SDES_CNAME: u8 = 1;

/// The most report blocks, SDES chunks or BYE sources one packet can count (5 bits).
pub const MAX_COUNT: usize = 31;
/// The longest SDES item text or BYE reason (an 8-bit length).
pub const MAX_TEXT_LEN: usize = 255;
/// The smallest cumulative loss a report block can carry (24-bit signed).
pub const CUMULATIVE_LOST_MIN: i32 = -0x80_0000;
/// The largest cumulative loss a report block can carry (24-bit signed).
pub const CUMULATIVE_LOST_MAX: i32 = 0x7F_FFFF;

const HEADER_LEN: usize = 4;
const SENDER_INFO_LEN: usize = 20;
const REPORT_BLOCK_LEN: usize = 24;

/// Why a datagram is not valid RTCP: the peer's fault. RFC 3550 A.2 says to drop such a
/// datagram whole; nothing in it is acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Fewer than 4 bytes where a packet header must start: an empty datagram, or bytes
    /// left after the last packet that are not a whole packet.
    #[error("RTCP packet {index} is truncated: {len} bytes where a 4-byte header must start")]
    Truncated {
        /// Position of the packet in the compound, from 0.
        index: usize,
        /// Bytes left.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTCP packet {index} has version {version}, not 2")]
    BadVersion {
        /// Position of the packet in the compound, from 0.
        index: usize,
        /// The version found.
        version: u8,
    },
    /// The length field claims more bytes than the datagram has left.
    #[error("RTCP packet {index} declares {declared} bytes but only {available} remain")]
    LengthOverrun {
        /// Position of the packet in the compound, from 0.
        index: usize,
        /// Bytes the length field declares, header included.
        declared: usize,
        /// Bytes left in the datagram from this packet on.
        available: usize,
    },
    /// The padding bit is set on a packet that is not the last of the compound.
    #[error("RTCP packet {index} is padded but is not the last packet of the compound")]
    PaddingNotLast {
        /// Position of the packet in the compound, from 0.
        index: usize,
    },
    /// The padding count is 0 or longer than the packet's body.
    #[error("RTCP packet {index} has a padding count of {count} in a {len}-byte body")]
    BadPadding {
        /// Position of the packet in the compound, from 0.
        index: usize,
        /// The count in the last octet.
        count: u8,
        /// Bytes after the header, padding included.
        len: usize,
    },
    /// A compound packet must start with an SR or an RR.
    #[error("compound RTCP starts with packet type {pt}, not SR (200) or RR (201)")]
    FirstNotReport {
        /// The first packet's type.
        pt: u8,
    },
    /// The body is shorter than its count field requires.
    #[error("RTCP packet {index} (type {pt}) holds {len} bytes but its count needs {needed}")]
    BodyTooShort {
        /// Position of the packet in the compound, from 0.
        index: usize,
        /// The packet type.
        pt: u8,
        /// Bytes after the header, padding removed.
        len: usize,
        /// Bytes the count requires.
        needed: usize,
    },
    /// An SDES chunk is cut short or an item overruns the packet.
    #[error("SDES packet {index}, chunk {chunk}: {what}")]
    BadSdes {
        /// Position of the packet in the compound, from 0.
        index: usize,
        /// Position of the chunk in the packet, from 0.
        chunk: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A BYE's reason is longer than what is left of the packet.
    #[error("BYE packet {index}: a {declared}-byte reason overruns the {available} bytes left")]
    BadByeReason {
        /// Position of the packet in the compound, from 0.
        index: usize,
        /// The reason's length octet.
        declared: usize,
        /// Bytes left after it.
        available: usize,
    },
}

/// Why RTCP cannot be built from the values given: the caller's fault, never the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpBuildError {
    /// More than 31 report blocks for one SR or RR.
    #[error("{0} report blocks do not fit one report (at most 31)")]
    TooManyBlocks(usize),
    /// More than 31 sources for one BYE.
    #[error("{0} sources do not fit one BYE (at most 31)")]
    TooManySources(usize),
    /// An SDES item (the CNAME) or BYE reason longer than 255 bytes.
    #[error("a {0}-byte text does not fit an RTCP item (at most 255 bytes)")]
    TextTooLong(usize),
    /// A session needs the RTP clock rate to convert times to timestamp units.
    #[error("the RTP clock rate must not be 0")]
    ZeroClockRate,
    /// A report interval this short would flood the peer.
    #[error("report interval {0:?} is below the 100 ms floor")]
    IntervalTooShort(Duration),
}

/// A 64-bit NTP timestamp (RFC 3550 4): seconds since 1900 in the high 32 bits, the
/// fraction of a second in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
    pub const UNIX_EPOCH_SECS: u64 = 2_208_988_800;

    /// The NTP time of a Unix time; the seconds wrap in 2036 as NTP era 0 does, which
    /// RTCP's 32-bit comparisons tolerate.
    pub fn from_unix(since_unix_epoch: Duration) -> Self {
        let secs = since_unix_epoch
            .as_secs()
            .wrapping_add(Self::UNIX_EPOCH_SECS);
        let fraction = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        Self((secs << 32) | fraction)
    }

    /// The middle 32 bits (seconds and fraction in 16.16 fixed point): what a report
    /// block's LSR carries.
    pub fn middle_32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// A duration in RTCP's 1/65536 s units (DLSR, round-trip time), rounded to nearest and
/// saturating at `u32::MAX` (about 18 hours).
pub fn duration_to_ntp_short(duration: Duration) -> u32 {
    let units = (duration.as_nanos() * 65_536 + 500_000_000) / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The duration of `units` 1/65536 s, to the nearest nanosecond.
pub fn ntp_short_to_duration(units: u32) -> Duration {
    Duration::from_nanos((u64::from(units) * 1_000_000_000 + 32_768) / 65_536)
}

/// The sender information of an SR (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time when the report was sent.
    pub ntp: NtpTime,
    /// The same instant in the sender's RTP timestamp units.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the stream started (wraps).
    pub packet_count: u32,
    /// RTP payload octets sent since the stream started (wraps).
    pub octet_count: u32,
}

impl SenderInfo {
    fn read(c: &mut Cursor<'_>) -> Option<Self> {
        Some(Self {
            ntp: NtpTime(c.u64()?),
            rtp_timestamp: c.u32()?,
            packet_count: c.u32()?,
            octet_count: c.u32()?,
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ntp.0.to_be_bytes());
        for word in [self.rtp_timestamp, self.packet_count, self.octet_count] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
}

/// One reception report block (RFC 3550 6.4.1): what a receiver saw of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block is about (`SSRC_n`).
    pub ssrc: u32,
    /// Packets lost since the previous report over packets expected, as a fixed-point
    /// fraction with the binary point at the left (`lost * 256 / expected`).
    pub fraction_lost: u8,
    /// Packets lost since reception began: expected minus received, negative when
    /// duplicates outnumber losses. 24 bits on the wire: written clamped to
    /// [`CUMULATIVE_LOST_MIN`]..=[`CUMULATIVE_LOST_MAX`].
    pub cumulative_lost: i32,
    /// Extended highest sequence number received: sequence-number cycles in the high 16
    /// bits.
    pub ext_highest_seq: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from the source; 0 if none.
    pub lsr: u32,
    /// Delay since that SR arrived, in 1/65536 s; 0 if none.
    pub dlsr: u32,
}

impl ReportBlock {
    fn read(c: &mut Cursor<'_>) -> Option<Self> {
        let ssrc = c.u32()?;
        let loss = c.u32()?;
        Some(Self {
            ssrc,
            fraction_lost: (loss >> 24) as u8,
            // Shift the 24-bit field to the top, then back with sign extension.
            cumulative_lost: ((loss << 8) as i32) >> 8,
            ext_highest_seq: c.u32()?,
            jitter: c.u32()?,
            lsr: c.u32()?,
            dlsr: c.u32()?,
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        let lost = self
            .cumulative_lost
            .clamp(CUMULATIVE_LOST_MIN, CUMULATIVE_LOST_MAX) as u32
            & 0x00FF_FFFF;
        let loss = (u32::from(self.fraction_lost) << 24) | lost;
        for word in [
            self.ssrc,
            loss,
            self.ext_highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        ] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
}

/// The report blocks of an SR or RR: a view of the parsed datagram, decoded on
/// iteration (`for block in sr.blocks`, or [`ReportBlocks::iter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    bytes: &'a [u8],
}

impl<'a> ReportBlocks<'a> {
    /// How many blocks there are.
    pub fn len(&self) -> usize {
        self.bytes.len() / REPORT_BLOCK_LEN
    }

    /// Whether there are none (a report from a party that received nothing).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The blocks, in order.
    pub fn iter(&self) -> ReportBlockIter<'a> {
        ReportBlockIter { rest: self.bytes }
    }
}

impl<'a> IntoIterator for ReportBlocks<'a> {
    type Item = ReportBlock;
    type IntoIter = ReportBlockIter<'a>;

    fn into_iter(self) -> ReportBlockIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &ReportBlocks<'a> {
    type Item = ReportBlock;
    type IntoIter = ReportBlockIter<'a>;

    fn into_iter(self) -> ReportBlockIter<'a> {
        self.iter()
    }
}

/// Iterator over [`ReportBlocks`].
#[derive(Debug, Clone)]
pub struct ReportBlockIter<'a> {
    rest: &'a [u8],
}

impl Iterator for ReportBlockIter<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let (block, rest) = self.rest.split_first_chunk::<REPORT_BLOCK_LEN>()?;
        self.rest = rest;
        ReportBlock::read(&mut Cursor(block))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / REPORT_BLOCK_LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ReportBlockIter<'_> {}

/// The SSRCs a BYE lists: a view of the parsed datagram, decoded on iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ssrcs<'a> {
    bytes: &'a [u8],
}

impl<'a> Ssrcs<'a> {
    /// How many there are.
    pub fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The SSRCs, in order.
    pub fn iter(&self) -> SsrcIter<'a> {
        SsrcIter { rest: self.bytes }
    }
}

impl<'a> IntoIterator for Ssrcs<'a> {
    type Item = u32;
    type IntoIter = SsrcIter<'a>;

    fn into_iter(self) -> SsrcIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Ssrcs<'a> {
    type Item = u32;
    type IntoIter = SsrcIter<'a>;

    fn into_iter(self) -> SsrcIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Ssrcs`].
#[derive(Debug, Clone)]
pub struct SsrcIter<'a> {
    rest: &'a [u8],
}

impl Iterator for SsrcIter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (ssrc, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_be_bytes(*ssrc))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for SsrcIter<'_> {}

/// A sender report (PT 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// What and when it sent.
    pub sender_info: SenderInfo,
    /// What it received, one block per source (profile extensions after them are
    /// ignored).
    pub blocks: ReportBlocks<'a>,
}

/// A receiver report (PT 201).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// What it received, one block per source (profile extensions after them are
    /// ignored).
    pub blocks: ReportBlocks<'a>,
}

/// One SDES chunk: a source and its CNAME, if the chunk carries one (other items are
/// skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: u32,
    /// Its canonical name as sent (RFC 3550 says UTF-8; see [`SdesChunk::cname_str`]).
    pub cname: Option<&'a [u8]>,
}

impl<'a> SdesChunk<'a> {
    /// The CNAME if it is present and UTF-8.
    pub fn cname_str(&self) -> Option<&'a str> {
        self.cname.and_then(|c| std::str::from_utf8(c).ok())
    }
}

/// A source description (PT 202).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    /// The chunks, one per source.
    pub chunks: Vec<SdesChunk<'a>>,
}

/// A goodbye (PT 203).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    /// The sources leaving.
    pub sources: Ssrcs<'a>,
    /// Why, if said (RFC 3550 says UTF-8).
    pub reason: Option<&'a [u8]>,
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (202).
    SourceDescription(SourceDescription<'a>),
    /// BYE (203).
    Bye(Bye<'a>),
    /// Any other type, passed over: APP (204), RTPFB/PSFB feedback (205/206, RFC 4585),
    /// XR (207, RFC 3611), and anything newer.
    Other {
        /// The packet type.
        pt: u8,
        /// The 5-bit field after the padding bit (count, subtype or FMT).
        count: u8,
        /// The bytes after the 4-byte header, padding removed.
        body: &'a [u8],
    },
}

/// Splits a compound RTCP datagram into its packets, with the checks of RFC 3550 A.2:
/// every packet is version 2, the length fields add up to the datagram exactly, only the
/// last packet may be padded, and the first is an SR or an RR. Each packet's body must
/// hold what its count announces.
///
/// Lenient where meaning is not at stake: a single packet may carry padding (it is the
/// last), an SDES item list may end at the end of the packet without a null octet, and
/// bytes after the counted blocks, chunks or sources (profile extensions) are ignored.
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket<'_>>, RtcpError> {
    let mut packets = Vec::new();
    let mut rest = datagram;
    loop {
        let index = packets.len();
        let Some((header, _)) = rest.split_first_chunk::<HEADER_LEN>() else {
            return Err(RtcpError::Truncated {
                index,
                len: rest.len(),
            });
        };
        let [first, pt, len_hi, len_lo] = *header;
        let version = first >> 6;
        if version != RTCP_VERSION {
            return Err(RtcpError::BadVersion { index, version });
        }
        if index == 0 && pt != PT_SR && pt != PT_RR {
            return Err(RtcpError::FirstNotReport { pt });
        }
        let declared = (usize::from(u16::from_be_bytes([len_hi, len_lo])) + 1) * 4;
        let Some((packet, tail)) = rest.split_at_checked(declared) else {
            return Err(RtcpError::LengthOverrun {
                index,
                declared,
                available: rest.len(),
            });
        };
        let padded = first & 0x20 != 0;
        if padded && !tail.is_empty() {
            return Err(RtcpError::PaddingNotLast { index });
        }
        let body = unpad(index, padded, packet.get(HEADER_LEN..).unwrap_or_default())?;
        packets.push(parse_packet(index, pt, first & 0x1F, body)?);
        if tail.is_empty() {
            return Ok(packets);
        }
        rest = tail;
    }
}

/// The body without its padding (the last octet counts the padding, itself included).
fn unpad(index: usize, padded: bool, body: &[u8]) -> Result<&[u8], RtcpError> {
    if !padded {
        return Ok(body);
    }
    let count = body.last().copied().unwrap_or(0);
    body.len()
        .checked_sub(usize::from(count))
        .filter(|_| count > 0)
        .and_then(|kept| body.get(..kept))
        .ok_or(RtcpError::BadPadding {
            index,
            count,
            len: body.len(),
        })
}

fn parse_packet(index: usize, pt: u8, count: u8, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    let n = usize::from(count);
    let too_short = |needed: usize| RtcpError::BodyTooShort {
        index,
        pt,
        len: body.len(),
        needed,
    };
    let mut c = Cursor(body);
    match pt {
        PT_SR => {
            let needed = 4 + SENDER_INFO_LEN + n * REPORT_BLOCK_LEN;
            let ssrc = c.u32().ok_or(too_short(needed))?;
            let sender_info = SenderInfo::read(&mut c).ok_or(too_short(needed))?;
            let blocks = report_blocks(&mut c, n).ok_or(too_short(needed))?;
            Ok(RtcpPacket::SenderReport(SenderReport {
                ssrc,
                sender_info,
                blocks,
            }))
        }
        PT_RR => {
            let needed = 4 + n * REPORT_BLOCK_LEN;
            let ssrc = c.u32().ok_or(too_short(needed))?;
            let blocks = report_blocks(&mut c, n).ok_or(too_short(needed))?;
            Ok(RtcpPacket::ReceiverReport(ReceiverReport { ssrc, blocks }))
        }
        PT_SDES => parse_sdes(index, n, body).map(RtcpPacket::SourceDescription),
        PT_BYE => {
            let sources = c.take(n * 4).ok_or(too_short(n * 4))?;
            let reason = bye_reason(index, c.0)?;
            Ok(RtcpPacket::Bye(Bye {
                sources: Ssrcs { bytes: sources },
                reason,
            }))
        }
        _ => Ok(RtcpPacket::Other { pt, count, body }),
    }
}

fn report_blocks<'a>(c: &mut Cursor<'a>, n: usize) -> Option<ReportBlocks<'a>> {
    c.take(n * REPORT_BLOCK_LEN)
        .map(|bytes| ReportBlocks { bytes })
}

fn bye_reason(index: usize, rest: &[u8]) -> Result<Option<&[u8]>, RtcpError> {
    match rest.split_first() {
        None | Some((0, _)) => Ok(None),
        Some((&len, text)) => {
            text.get(..usize::from(len))
                .map(Some)
                .ok_or(RtcpError::BadByeReason {
                    index,
                    declared: usize::from(len),
                    available: text.len(),
                })
        }
    }
}

fn parse_sdes(index: usize, n: usize, body: &[u8]) -> Result<SourceDescription<'_>, RtcpError> {
    let mut c = Cursor(body);
    let mut chunks = Vec::with_capacity(n);
    for chunk in 0..n {
        let bad = |what| RtcpError::BadSdes { index, chunk, what };
        let ssrc = c.u32().ok_or(bad("no room for the SSRC"))?;
        let mut cname = None;
        // Items until a null octet (then padding to the next 32-bit boundary) or the end.
        while let Some(kind) = c.u8() {
            if kind == 0 {
                let used = body.len() - c.0.len();
                let pad = (4 - used % 4) % 4;
                c.take(pad.min(c.0.len()));
                break;
            }
            let len = c.u8().ok_or(bad("an item has no length octet"))?;
            let text = c
                .take(usize::from(len))
                .ok_or(bad("an item overruns the packet"))?;
            if kind == SDES_CNAME && cname.is_none() {
                cname = Some(text);
            }
        }
        chunks.push(SdesChunk { ssrc, cname });
    }
    Ok(SourceDescription { chunks })
}

/// Appends a compound report: an SR (with `sender_info`) or an RR (without), then an
/// SDES packet with our CNAME (RFC 3550 6.1: every compound packet carries one). Nothing
/// is appended on error.
pub fn write_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    sender_info: Option<&SenderInfo>,
    blocks: &[ReportBlock],
    cname: &str,
) -> Result<(), RtcpBuildError> {
    if blocks.len() > MAX_COUNT {
        return Err(RtcpBuildError::TooManyBlocks(blocks.len()));
    }
    if cname.len() > MAX_TEXT_LEN {
        return Err(RtcpBuildError::TextTooLong(cname.len()));
    }
    put_report(out, ssrc, sender_info, blocks, cname.as_bytes());
    Ok(())
}

/// Appends a BYE for `sources` with an optional reason. RFC 3550 6.1 wants it after a
/// report and SDES in the same datagram: call [`write_report`] first. Nothing is
/// appended on error.
pub fn write_bye(
    out: &mut Vec<u8>,
    sources: &[u32],
    reason: Option<&str>,
) -> Result<(), RtcpBuildError> {
    if sources.len() > MAX_COUNT {
        return Err(RtcpBuildError::TooManySources(sources.len()));
    }
    let reason = reason.filter(|r| !r.is_empty()).map(str::as_bytes);
    if let Some(r) = reason.filter(|r| r.len() > MAX_TEXT_LEN) {
        return Err(RtcpBuildError::TextTooLong(r.len()));
    }
    put_bye(out, sources, reason);
    Ok(())
}

/// [`write_report`] for values already checked: at most 31 blocks, a CNAME of at most
/// 255 bytes.
pub(super) fn put_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    sender_info: Option<&SenderInfo>,
    blocks: &[ReportBlock],
    cname: &[u8],
) {
    let info_len = if sender_info.is_some() {
        SENDER_INFO_LEN
    } else {
        0
    };
    let len = HEADER_LEN + 4 + info_len + blocks.len() * REPORT_BLOCK_LEN;
    let pt = if sender_info.is_some() { PT_SR } else { PT_RR };
    put_header(out, blocks.len(), pt, len);
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(info) = sender_info {
        info.write(out);
    }
    for block in blocks {
        block.write(out);
    }

    // One chunk: SSRC, the CNAME item, then 1 to 4 null octets to a 32-bit boundary.
    let items = 2 + cname.len();
    let items_padded = (items + 1).next_multiple_of(4);
    put_header(out, 1, PT_SDES, HEADER_LEN + 4 + items_padded);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&[SDES_CNAME, cname.len() as u8]);
    out.extend_from_slice(cname);
    out.resize(out.len() + items_padded - items, 0);
}

/// [`write_bye`] for values already checked: at most 31 sources, a non-empty reason of
/// at most 255 bytes.
pub(super) fn put_bye(out: &mut Vec<u8>, sources: &[u32], reason: Option<&[u8]>) {
    let reason_padded = reason.map_or(0, |r| (1 + r.len()).next_multiple_of(4));
    put_header(
        out,
        sources.len(),
        PT_BYE,
        HEADER_LEN + 4 * sources.len() + reason_padded,
    );
    for ssrc in sources {
        out.extend_from_slice(&ssrc.to_be_bytes());
    }
    if let Some(r) = reason {
        out.push(r.len() as u8);
        out.extend_from_slice(r);
        out.resize(out.len() + reason_padded - 1 - r.len(), 0);
    }
}

/// A header without padding for a packet of `len` bytes (a multiple of 4).
fn put_header(out: &mut Vec<u8>, count: usize, pt: u8, len: usize) {
    let words = (len / 4 - 1) as u16;
    out.push((RTCP_VERSION << 6) | (count as u8 & 0x1F));
    out.push(pt);
    out.extend_from_slice(&words.to_be_bytes());
}

/// Reads big-endian fields off the front of a slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        let (b, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*b))
    }

    fn u64(&mut self) -> Option<u64> {
        let (b, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_be_bytes(*b))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(taken)
    }
}
