//! How `dcx cdr` shows records: an aligned table for people, JSON lines for programs.

use super::record::{format_nano, Cdr};
use std::fmt::Write as _;
use std::io::{self, Write};

/// A column of the table: its header, whether it is right-aligned (numbers), and the
/// cell of a record.
type Column = (&'static str, bool, fn(&Cdr) -> String);

const COLUMNS: &[Column] = &[
    ("START (UTC)", false, |c| format_utc_ms(c.start_ms)),
    ("CALL ID", false, |c| clean(&c.call_id)),
    ("ATT", true, |c| c.attempt.to_string()),
    ("TRUNK IN", false, |c| clean(&c.trunk_in)),
    ("TRUNK OUT", false, |c| or_dash(c.trunk_out.as_deref())),
    ("CALLER", false, |c| clean(&c.caller)),
    ("CALLEE", false, |c| clean(&c.callee)),
    ("PREFIX", false, |c| or_dash(c.prefix.as_deref())),
    ("DURATION", true, |c| format_duration(c.duration_s)),
    ("COST", true, |c| format_nano(c.cost_nano, 2)),
    ("CODE", true, |c| c.sip_code.to_string()),
    ("HANGUP", false, |c| c.hangup.as_str().to_owned()),
];

/// The records as an aligned table with a header line, one line per record, in the
/// order given.
pub fn render_table(cdrs: &[Cdr]) -> String {
    let cells: Vec<Vec<String>> = cdrs
        .iter()
        .map(|c| COLUMNS.iter().map(|(_, _, cell)| cell(c)).collect())
        .collect();
    let widths: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (header, _, _))| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let headers: Vec<String> = COLUMNS.iter().map(|(h, _, _)| (*h).to_owned()).collect();
    for row in std::iter::once(&headers).chain(&cells) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let (width, right) = (widths[i], COLUMNS[i].1);
            if i > 0 {
                line.push_str("  ");
            }
            let _ = if right {
                write!(line, "{cell:>width$}")
            } else {
                write!(line, "{cell:<width$}")
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
/// The records as JSON lines: one object per record, each on its own line.
pub fn render_json_lines(cdrs: &[Cdr]) -> String {
    let mut out = Vec::new();
    write_json_lines(&mut out, cdrs).expect("writing JSON to a Vec cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Writes the records as JSON lines to `out` (for streaming a large query to stdout).
pub fn write_json_lines(mut out: impl Write, cdrs: &[Cdr]) -> io::Result<()> {
    for cdr in cdrs {
        serde_json::to_writer(&mut out, cdr)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Unix milliseconds as a UTC `YYYY-MM-DD HH:MM:SS` (the milliseconds are dropped).
pub fn format_utc_ms(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Seconds as `H:MM:SS`.
fn format_duration(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn or_dash(s: Option<&str>) -> String {
    s.map_or_else(|| "-".to_owned(), clean)
}

/// Text from the network as one table cell: control characters (a newline in a caller
/// name) would break the layout, so they become `?`.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{format_utc_ms, render_json_lines, render_table, write_json_lines};
    use crate::cdr::fixture::{answered, failed, T0_MS};
    use crate::cdr::{Cdr, HangupSide, LegKind};

    fn call() -> Vec<Cdr> {
        vec![
            answered("7f3a-0001", 0, T0_MS),
            failed("7f3a-0001", 1, T0_MS + 10, "carrier-c"),
            answered("7f3a-0001", 2, T0_MS + 320),
            Cdr {
                trunk_out: None,
                prefix: None,
                rate_per_min_nano: 0,
                first_ring_ms: None,
                answer_ms: None,
                end_ms: T0_MS + 3_661_000,
                duration_s: 3_661,
                cost_nano: 1_234_567_891_000,
                sip_code: 404,
                hangup: HangupSide::System,
                caller: "Bob\r\nInjected".into(),
                reason: "no route".into(),
                ..answered("7f3a-0002", 0, T0_MS + 86_399_999)
            },
        ]
    }

    #[test]
    fn the_table_is_aligned() {
        let golden = "\
START (UTC)          CALL ID    ATT  TRUNK IN  TRUNK OUT  CALLER         CALLEE          PREFIX  DURATION         COST  CODE  HANGUP
2026-03-01 12:00:00  7f3a-0001    0  origin-a  carrier-b  +12025550100   00442079460000  4420     0:02:05     0.025625   200  caller
2026-03-01 12:00:00  7f3a-0001    1  origin-a  carrier-c  +12025550100   00442079460000  4420     0:00:00         0.00   503  callee
2026-03-01 12:00:00  7f3a-0001    2  origin-a  carrier-b  +12025550100   00442079460000  4420     0:02:05     0.025625   200  caller
2026-03-02 11:59:59  7f3a-0002    0  origin-a  -          Bob??Injected  00442079460000  -        1:01:01  1234.567891   404  system
";
        assert_eq!(render_table(&call()), golden);
        assert_eq!(
            render_table(&[]),
            "START (UTC)  CALL ID  ATT  TRUNK IN  TRUNK OUT  CALLER  CALLEE  PREFIX  DURATION  COST  CODE  HANGUP\n"
        );
    }

    #[test]
    fn json_lines_are_one_object_per_record() {
        let text = render_json_lines(&call()[..2]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        assert_eq!(
            lines[0],
            r#"{"call_id":"7f3a-0001","attempt":0,"leg":"sip","trunk_in":"origin-a","trunk_out":"carrier-b","caller":"+12025550100","callee":"00442079460000","callee_normalized":"442079460000","prefix":"4420","rate_per_min":0.0123,"rate_per_min_nano":12300000,"start_ms":1772366400000,"first_ring_ms":1772366401200,"answer_ms":1772366404000,"end_ms":1772366529000,"duration_s":125,"cost_nano":25625000,"sip_code":200,"hangup":"caller","reason":"BYE","queue":null,"agent":null,"queue_wait_ms":null}"#
        );
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["attempt"], 1);
        assert_eq!(second["answer_ms"], serde_json::Value::Null);
        assert_eq!(second["hangup"], "callee");
        let mut streamed = Vec::new();
        write_json_lines(&mut streamed, &call()[..2]).unwrap();
        assert_eq!(String::from_utf8(streamed).unwrap(), text);
        let browser = Cdr {
            leg: LegKind::Browser,
            ..answered("x", 0, 0)
        };
        assert!(render_json_lines(&[browser]).contains(r#""leg":"browser""#));
    }

    #[test]
    fn utc_times_are_civil_dates() {
        assert_eq!(format_utc_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc_ms(999), "1970-01-01 00:00:00");
        assert_eq!(format_utc_ms(-1), "1969-12-31 23:59:59");
        assert_eq!(format_utc_ms(T0_MS), "2026-03-01 12:00:00");
        assert_eq!(format_utc_ms(1_709_164_800_000), "2024-02-29 00:00:00");
        assert_eq!(format_utc_ms(951_868_799_000), "2000-02-29 23:59:59");
        assert_eq!(format_utc_ms(4_102_444_800_000), "2100-01-01 00:00:00");
    }
}
