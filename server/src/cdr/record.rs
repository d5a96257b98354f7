//! The CDR itself: one row per call (attempt 0) and one per carrier or agent attempt.
//!
//! Money is integer nano-units (1e-9 of the currency), as in the rate deck, so that costs
//! add up exactly; the float rate is derived for people and JSON, never stored as truth.
//! Times are unix milliseconds (UTC) taken by the call's owner: this module never reads
//! a clock.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// Nano-units per currency unit.
pub const NANO: i64 = 1_000_000_000;

/// One call detail record.
///
/// A call produces one record with `attempt == 0` that describes the call as the caller
/// saw it, and one record per outbound attempt (`1..=n`, in dialling order) that
/// describes what each carrier (or agent) did. The call record carries the route of the
/// attempt that answered, or of the last one tried; attempts carry their own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cdr {
    /// Our id for the call, shared by the call record and its attempts.
    pub call_id: String,
    /// 0 for the call record, 1..=n for each outbound attempt in dialling order.
    pub attempt: u32,
    /// What kind of leg this record describes: the inbound leg for the call record, the
    /// outbound leg for an attempt.
    pub leg: LegKind,
    /// The trunk the call came in on (for a browser leg, the account).
    pub trunk_in: String,
    /// The trunk dialled; `None` when no attempt was made (no route, rejected).
    pub trunk_out: Option<String>,
    /// The calling party as received.
    pub caller: String,
    /// The called party as dialled.
    pub callee: String,
    /// The called number after normalization (E.164 digits without '+').
    pub callee_normalized: String,
    /// The deck prefix that matched; `None` when the call was not rated.
    pub prefix: Option<String>,
    /// Rate per minute in nano-units (exact). Serialized as `rate_per_min` (a float)
    /// followed by `rate_per_min_nano`.
    #[serde(flatten, serialize_with = "serialize_rate")]
    pub rate_per_min_nano: i64,
    /// When the call (or attempt) started, unix milliseconds.
    pub start_ms: i64,
    /// The first provisional ringing response (180/183), unix milliseconds.
    pub first_ring_ms: Option<i64>,
    /// When the call was answered (200 OK), unix milliseconds.
    pub answer_ms: Option<i64>,
    /// When the call (or attempt) ended, unix milliseconds.
    pub end_ms: i64,
    /// Billable seconds, answer to end (see [`billable_s`]); 0 when unanswered.
    pub duration_s: i64,
    /// What the call costs, nano-units, as computed by the caller from the tariff.
    pub cost_nano: i64,
    /// The final SIP status of the call or attempt (200 for an answered call).
    pub sip_code: u16,
    /// Which side ended the call.
    pub hangup: HangupSide,
    /// Free text: a Reason header, a Q.850 cause, or why the system ended the call.
    pub reason: String,
    /// The queue a PSTN-to-agent call waited in.
    pub queue: Option<String>,
    /// The agent who took (or, on an attempt, was offered) the call.
    pub agent: Option<String>,
    /// How long the caller waited in the queue, milliseconds.
    pub queue_wait_ms: Option<i64>,
}

impl Cdr {
    #[cfg(test)]
    /// The rate per minute as a float, for display.
    pub fn rate_per_min(&self) -> f64 {
        nano_to_f64(self.rate_per_min_nano)
    }
}

/// The kind of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LegKind {
    /// A SIP trunk (carrier or origin).
    Sip,
    /// A WebRTC browser (softphone user or agent).
    Browser,
}

/// Which side ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HangupSide {
    /// The calling party: BYE or CANCEL from the inbound leg.
    Caller,
    /// The called party: BYE or a final failure from the outbound leg.
    Callee,
    /// dcx itself: no route, timeout, limit, shutdown.
    System,
}

impl LegKind {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sip => "sip",
            Self::Browser => "browser",
        }
    }

    /// The kind with that stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sip" => Some(Self::Sip),
            "browser" => Some(Self::Browser),
            _ => None,
        }
    }
}

impl HangupSide {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Callee => "callee",
            Self::System => "system",
        }
    }

    /// The side with that stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "caller" => Some(Self::Caller),
            "callee" => Some(Self::Callee),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// Billable seconds of a call answered at `answer_ms` and ended at `end_ms`: the talk
/// time rounded up to the next whole second (a started second is billed), 0 when the
/// call was not answered or the clock went backwards.
pub fn billable_s(answer_ms: Option<i64>, end_ms: i64) -> i64 {
    answer_ms.map_or(0, |answer| {
        let talk_ms = end_ms.saturating_sub(answer).max(0);
        talk_ms.saturating_add(999) / 1000
    })
}

/// Nano-units as a float.
pub fn nano_to_f64(nano: i64) -> f64 {
    (nano / NANO) as f64 + (nano % NANO) as f64 / NANO as f64
}

/// Nano-units as an exact decimal: at least `min_decimals` places, trailing zeros beyond
/// them trimmed (`12_300_000` with 2 -> `0.0123`; `1_500_000_000` -> `1.50`).
pub fn format_nano(nano: i64, min_decimals: usize) -> String {
    let sign = if nano < 0 { "-" } else { "" };
    let abs = nano.unsigned_abs();
    let unit = NANO.unsigned_abs();
    let frac = format!("{:09}", abs % unit);
    let keep = frac.trim_end_matches('0').len().max(min_decimals.min(9));
    if keep == 0 {
        format!("{sign}{}", abs / unit)
    } else {
        format!("{sign}{}.{}", abs / unit, &frac[..keep])
    }
}

/// Writes the rate as two JSON members: the float for people, the exact integer for
/// billing.
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with signature"
)]
fn serialize_rate<S: Serializer>(nano: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("rate_per_min", &nano_to_f64(*nano))?;
    map.serialize_entry("rate_per_min_nano", nano)?;
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::fixture::{answered, T0_MS};

    #[test]
    fn billable_seconds_round_up_and_never_go_negative() {
        assert_eq!(billable_s(None, 10_000), 0);
        assert_eq!(billable_s(Some(1_000), 1_000), 0);
        assert_eq!(billable_s(Some(1_000), 1_001), 1);
        assert_eq!(billable_s(Some(1_000), 62_000), 61);
        assert_eq!(billable_s(Some(1_000), 62_001), 62);
        assert_eq!(billable_s(Some(5_000), 1_000), 0);
    }

    #[test]
    fn nano_formats_exactly() {
        assert_eq!(format_nano(12_300_000, 2), "0.0123");
        assert_eq!(format_nano(1_500_000_000, 2), "1.50");
        assert_eq!(format_nano(0, 2), "0.00");
        assert_eq!(format_nano(1, 2), "0.000000001");
        assert_eq!(format_nano(-2_500_000_000, 2), "-2.50");
        assert_eq!(format_nano(7 * NANO, 0), "7");
        assert_eq!(format_nano(i64::MIN, 0), "-9223372036.854775808");
        assert_eq!(nano_to_f64(12_300_000).to_string(), "0.0123");
        assert_eq!(nano_to_f64(-1_500_000_000).to_string(), "-1.5");
        assert_eq!(answered("a", 0, T0_MS).rate_per_min().to_string(), "0.0123");
    }

    #[test]
    fn names_round_trip() {
        for side in [HangupSide::Caller, HangupSide::Callee, HangupSide::System] {
            assert_eq!(HangupSide::from_name(side.as_str()), Some(side));
        }
        for leg in [LegKind::Sip, LegKind::Browser] {
            assert_eq!(LegKind::from_name(leg.as_str()), Some(leg));
        }
        assert_eq!(HangupSide::from_name("both"), None);
    }
}
