//! The telephone-event payload (RFC 4733 section 2.3) and the sixteen DTMF digits.

use super::DtmfError;

/// A DTMF key: event codes 0-15 of RFC 4733 section 3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtmfDigit {
    /// `0`
    D0,
    /// `1`
    D1,
    /// `2`
    D2,
    /// `3`
    D3,
    /// `4`
    D4,
    /// `5`
    D5,
    /// `6`
    D6,
    /// `7`
    D7,
    /// `8`
    D8,
    /// `9`
    D9,
    /// `*` (event 10)
    Star,
    /// `#` (event 11)
    Pound,
    /// `A` (event 12)
    A,
    /// `B` (event 13)
    B,
    /// `C` (event 14)
    C,
    /// `D` (event 15)
    D,
}

const DIGITS: [DtmfDigit; 16] = [
    DtmfDigit::D0,
    DtmfDigit::D1,
    DtmfDigit::D2,
    DtmfDigit::D3,
    DtmfDigit::D4,
    DtmfDigit::D5,
    DtmfDigit::D6,
    DtmfDigit::D7,
    DtmfDigit::D8,
    DtmfDigit::D9,
    DtmfDigit::Star,
    DtmfDigit::Pound,
    DtmfDigit::A,
    DtmfDigit::B,
    DtmfDigit::C,
    DtmfDigit::D,
];

const CHARS: &[u8; 16] = b"0123456789*#ABCD";

impl DtmfDigit {
    /// The digit of an event code, if the code is 0-15.
    pub fn from_event(event: u8) -> Option<Self> {
        DIGITS.get(usize::from(event)).copied()
    }

    /// The RFC 4733 event code, 0-15.
    pub fn event(self) -> u8 {
        self as u8
    }

    /// The digit of a keypad character (`a-d` accepted as `A-D`).
    pub fn from_char(c: char) -> Result<Self, DtmfError> {
        let upper = c.to_ascii_uppercase();
        CHARS
            .iter()
            .position(|&k| char::from(k) == upper)
            .map(|i| DIGITS[i])
            .ok_or(DtmfError::NotADigit(c))
    }

    /// The keypad character.
    pub fn as_char(self) -> char {
        char::from(CHARS[usize::from(self.event())])
    }
}

/// One telephone-event payload: 8-bit event, E (end) bit, R bit, 6-bit volume (in -dBm0,
/// 0-63), 16-bit duration in clock-rate units since the event's (or segment's) timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code (0-15 are DTMF digits; others are tones and signals).
    pub event: u8,
    /// The E bit: this packet reports the end of the event (or of the last segment).
    pub end: bool,
    /// Power level in -dBm0 (0-63; larger is quieter). Only the low 6 bits are sent.
    pub volume: u8,
    /// Duration so far, in clock-rate units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Length of the payload on the wire.
    pub const LEN: usize = 4;

    /// Parses the first 4 bytes of `payload` (more bytes, as in RFC 2198 redundancy
    /// blocks handled elsewhere, are ignored; the reserved R bit is ignored).
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let Some(b) = payload.first_chunk::<4>() else {
            return Err(DtmfError::ShortPayload { len: payload.len() });
        };
        Ok(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4 bytes on the wire (R bit zero).
    pub fn to_bytes(self) -> [u8; 4] {
        let [hi, lo] = self.duration.to_be_bytes();
        [
            self.event,
            if self.end { 0x80 } else { 0 } | (self.volume & 0x3F),
            hi,
            lo,
        ]
    }

    /// The DTMF digit, when the event is one (0-15).
    pub fn digit(self) -> Option<DtmfDigit> {
        DtmfDigit::from_event(self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_map_to_rfc_4733_event_codes() {
        for (i, c) in "0123456789*#ABCD".chars().enumerate() {
            let d = DtmfDigit::from_char(c).unwrap();
            assert_eq!(usize::from(d.event()), i);
            assert_eq!(d.as_char(), c);
            assert_eq!(DtmfDigit::from_event(i as u8), Some(d));
        }
        assert_eq!(DtmfDigit::from_char('d'), Ok(DtmfDigit::D));
        assert_eq!(DtmfDigit::from_char('E'), Err(DtmfError::NotADigit('E')));
        assert_eq!(DtmfDigit::from_event(16), None); // flash is an event, not a digit
    }

    #[test]
    fn payload_round_trips_and_matches_the_wire_layout() {
        // RFC 4733 figure 1 layout: event 11 (#), E set, volume 10, duration 1000.
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1000,
        };
        assert_eq!(e.to_bytes(), [11, 0x8A, 0x03, 0xE8]);
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()), Ok(e));
        assert_eq!(e.digit(), Some(DtmfDigit::Pound));
        // R bit ignored, extra bytes ignored.
        assert_eq!(
            TelephoneEvent::parse(&[5, 0x4A, 0, 160, 9, 9]),
            Ok(TelephoneEvent {
                event: 5,
                end: false,
                volume: 10,
                duration: 160
            })
        );
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(DtmfError::ShortPayload { len: 3 })
        );
    }
}
