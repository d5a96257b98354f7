//! Times in query strings: unix milliseconds or RFC 3339.

use dcx_routing::deck::fields::parse_timestamp;

/// Unix milliseconds from `s`: digits only are unix milliseconds; otherwise RFC 3339,
/// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`
/// (`t`, `z` and a space for `T` accepted; digits of the fraction past milliseconds
/// dropped). A `+` sent unencoded in a query string arrives as a space: a space where
/// the offset's sign goes is read as `+`.
pub fn parse_time_ms(s: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{s:?} is not a time: give unix milliseconds (1772366400000) or RFC 3339 \
             (2026-03-01T12:00:00Z, 2026-03-01T13:00:00.250+01:00)"
        )
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let date_s = parse_timestamp(s.get(..10).ok_or_else(bad)?).map_err(|_| bad())?;
    if b.len() == 10 {
        return Ok(date_s * 1000);
    }
    let num = |from: usize, len: usize| -> Result<i64, String> {
        let part = s.get(from..from + len).ok_or_else(bad)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("{s:?} is not a valid time of day"));
    }
    let mut at = 19;
    let mut fraction_ms = 0;
    if b[at] == b'.' {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(bad());
        }
        for (i, &d) in b[at + 1..at + 1 + digits.min(3)].iter().enumerate() {
            fraction_ms += i64::from(d - b'0') * [100, 10, 1][i];
        }
        at += 1 + digits;
    }
    let offset_s = match b.get(at..) {
        Some(b"Z" | b"z") => 0,
        Some([sign @ (b'+' | b'-' | b' '), _, _, b':', _, _]) => {
            let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if h > 23 || m > 59 {
                return Err(format!("{s:?} has an offset out of range"));
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return Err(bad()),
    };
    let unix_s = date_s + hour * 3600 + minute * 60 + second - offset_s;
    Ok(unix_s * 1000 + fraction_ms)
}

#[cfg(test)]
mod tests {
    use super::parse_time_ms;

    /// 2026-03-01 12:00:00 UTC.
    const T0_MS: i64 = 1_772_366_400_000;

    #[test]
    fn unix_milliseconds_and_rfc_3339_give_the_same_instant() {
        assert_eq!(parse_time_ms("1772366400000"), Ok(T0_MS));
        assert_eq!(parse_time_ms("2026-03-01T12:00:00Z"), Ok(T0_MS));
        assert_eq!(parse_time_ms("2026-03-01t12:00:00z"), Ok(T0_MS));
        assert_eq!(parse_time_ms("2026-03-01 12:00:00Z"), Ok(T0_MS));
        assert_eq!(parse_time_ms("2026-03-01T13:30:00+01:30"), Ok(T0_MS));
        assert_eq!(
            parse_time_ms("2026-03-01T13:30:00 01:30"),
            Ok(T0_MS),
            "an unencoded +"
        );
        assert_eq!(parse_time_ms("2026-03-01T07:00:00-05:00"), Ok(T0_MS));
        assert_eq!(parse_time_ms("2026-03-01T12:00:00.25Z"), Ok(T0_MS + 250));
        assert_eq!(
            parse_time_ms("2026-03-01T12:00:00.123456789Z"),
            Ok(T0_MS + 123)
        );
        assert_eq!(parse_time_ms("2026-03-01"), Ok(T0_MS - 12 * 3_600_000));
        assert_eq!(parse_time_ms("0"), Ok(0));
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for bad in [
            "",
            "yesterday",
            "2026-03-01T12:00:00",
            "2026-03-01T12:00Z",
            "2026-03-01T12:00:00.Z",
            "2026-03-01T12:00:00+0100",
            "2026-03-01T12:00:00Zjunk",
            "2026-02-30T12:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T12:00:00+24:00",
            "1234567890T12:00:00Z",
            "-5",
            "99999999999999999999",
            "2026-03-01T12:00:00\u{e9}Z",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            let e = parse_time_ms(bad).expect_err(bad);
            assert!(
                e.contains("is not") || e.contains("out of range"),
                "{bad:?}: {e}"
            );
        }
        let e = parse_time_ms("yesterday").unwrap_err();
        assert!(
            e.contains("unix milliseconds") && e.contains("RFC 3339"),
            "{e}"
        );
    }
}
