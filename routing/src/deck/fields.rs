//! Field parsers for rate-deck cells: exact decimals and UTC timestamps.
//!
//! Money is kept in integer nano-units (1e-9 of the currency) so that rates compare and
//! tie exactly and costs add up without float drift; timestamps are unix seconds (UTC).

/// Nano-units per currency unit.
pub const NANO: u64 = 1_000_000_000;

/// Parses a non-negative decimal such as `0.0123` or `12` into nano-units.
pub fn parse_decimal_nano(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(format!("{s:?} is not a decimal number"));
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{s:?} is not a non-negative decimal number (digits and one '.')"
        ));
    }
    if frac.len() > 9 {
        return Err(format!("{s:?} has more than 9 decimal places"));
    }
    let int_value: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| format!("{s:?} is too large"))?
    };
    let mut frac_value: u64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        frac_value += u64::from(b - b'0') * 10u64.pow(8 - i as u32);
    }
    int_value
        .checked_mul(NANO)
        .and_then(|v| v.checked_add(frac_value))
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Nano-units as a float, for display and JSON.
pub fn nano_to_f64(nano: u64) -> f64 {
    (nano / NANO) as f64 + (nano % NANO) as f64 / NANO as f64
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` (or with a space, optional `Z`), all UTC,
/// or integer unix seconds, into unix seconds.
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| format!("{s:?} is too large"));
    }
    let bad =
        || format!("{s:?} is not a UTC time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds");
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(bad)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (mut hour, mut minute, mut second) = (0, 0, 0);
    if b.len() > 10 {
        let rest = s[10..].strip_suffix('Z').unwrap_or(&s[10..]);
        let rb = rest.as_bytes();
        if rb.len() != 9 || !matches!(rb[0], b'T' | b' ') || rb[3] != b':' || rb[6] != b':' {
            return Err(bad());
        }
        (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(format!("{s:?} is not a valid date and time"));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal_nano("0.0123"), Ok(12_300_000));
        assert_eq!(parse_decimal_nano("12"), Ok(12 * NANO));
        assert_eq!(parse_decimal_nano(".5"), Ok(NANO / 2));
        assert_eq!(parse_decimal_nano("0.000000001"), Ok(1));
        assert!(parse_decimal_nano("0.0000000001").is_err());
        assert!(parse_decimal_nano("-1").is_err());
        assert!(parse_decimal_nano("1e-3").is_err());
        assert!(parse_decimal_nano("").is_err());
        assert!(parse_decimal_nano(".").is_err());
        assert!(parse_decimal_nano("99999999999999999999").is_err());
        assert!((nano_to_f64(12_300_000) - 0.0123).abs() < 1e-15);
        assert_eq!(nano_to_f64(12_300_000).to_string(), "0.0123");
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(parse_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_timestamp("2026-11-25"), Ok(1_795_564_800));
        assert_eq!(
            parse_timestamp("2026-11-25T01:02:03Z"),
            Ok(1_795_564_800 + 3723)
        );
        assert_eq!(
            parse_timestamp("2026-11-25 01:02:03"),
            Ok(1_795_564_800 + 3723)
        );
        assert_eq!(parse_timestamp("2024-02-29"), Ok(1_709_164_800));
        assert_eq!(parse_timestamp("1795564800"), Ok(1_795_564_800));
        assert!(parse_timestamp("2023-02-29").is_err());
        assert!(parse_timestamp("2026-13-01").is_err());
        assert!(parse_timestamp("2026-1-1").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("2026-11-25T01:02").is_err());
    }
}
