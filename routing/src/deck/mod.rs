//! Rate decks: CSV text -> validated rows.
//!
//! A deck has a header row naming its columns. Required: `prefix,carrier,rate` (rate per
//! minute, decimal). Optional: `connect_fee,increment_s,min_duration_s,effective_from,
//! effective_until,priority,weight`. Blank lines and lines starting with `#` are skipped.
//! Every bad cell is reported with its line and column name; a deck with any bad row
//! fails as a whole (up to [`MAX_PROBLEMS`] problems are listed), it is never partly
//! loaded.

mod csv;
pub mod fields;

use fields::{parse_decimal_nano, parse_timestamp};
use std::borrow::Cow;
use std::fmt;

/// How many problems a failed load lists before it only counts the rest.
pub const MAX_PROBLEMS: usize = 100;

/// The billing terms of one deck row, apart from its rate. Interned by the compiled table
/// (most rows share the same terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tariff {
    /// Charged once on answer, nano-units.
    pub connect_fee_nano: u64,
    /// Billing increment after the minimum, seconds (e.g. 6 for 30/6 billing).
    pub increment_s: u32,
    /// Minimum billed duration of an answered call, seconds (e.g. 30 for 30/6 billing).
    pub min_duration_s: u32,
    /// First second (unix, UTC) the row is valid; `i64::MIN` when open.
    pub effective_from: i64,
    /// First second the row is no longer valid (exclusive); `i64::MAX` when open.
    pub effective_until: i64,
    /// Among equal rates, lower priority values are tried first (as DNS SRV).
    pub priority: i32,
    /// Among equal rate and priority, the share of first attempts (weighted random).
    pub weight: u32,
}

impl Default for Tariff {
    fn default() -> Self {
        Self {
            connect_fee_nano: 0,
            increment_s: 1,
            min_duration_s: 0,
            effective_from: i64::MIN,
            effective_until: i64::MAX,
            priority: 0,
            weight: 1,
        }
    }
}

impl Tariff {
    /// Whether the row applies at `at_s` (unix seconds).
    pub fn is_active(&self, at_s: i64) -> bool {
        self.effective_from <= at_s && at_s < self.effective_until
    }

    /// What an answered call of `duration_s` costs at `rate_nano` per minute: the
    /// connect fee plus the billed seconds (at least the minimum, rounded up to the
    /// increment). An unanswered call (duration 0) costs nothing.
    pub fn cost_nano(&self, rate_nano: u64, duration_s: u64) -> u64 {
        if duration_s == 0 {
            return 0;
        }
        let inc = u64::from(self.increment_s.max(1));
        let billed = duration_s.max(u64::from(self.min_duration_s)).div_ceil(inc) * inc;
        let usage = (u128::from(rate_nano) * u128::from(billed)).div_ceil(60);
        self.connect_fee_nano
            .saturating_add(u64::try_from(usage).unwrap_or(u64::MAX))
    }
}

/// One valid deck row, borrowing its text from the deck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeckRow<'a> {
    /// 1-based line number in the deck file.
    pub line: u32,
    /// Destination prefix, E.164 digits without '+'.
    pub prefix: Cow<'a, str>,
    /// Carrier (trunk) name.
    pub carrier: Cow<'a, str>,
    /// Rate per minute, nano-units.
    pub rate_nano: u64,
    /// The other billing terms.
    pub tariff: Tariff,
}

/// One problem found in a deck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeckProblem {
    /// 1-based line number (the header is line 1 when it is the first line).
    pub line: u32,
    /// The column (or `header`, `row`).
    pub field: String,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl fmt::Display for DeckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.line, self.field, self.message)
    }
}

/// A deck that failed to load, with every problem found (up to [`MAX_PROBLEMS`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DeckError {
    /// The problems, in line order.
    pub problems: Vec<DeckProblem>,
    /// Problems found beyond the listed ones.
    pub more: usize,
}

impl DeckError {
    /// Prints each problem as `SOURCE:LINE: field: message`, one per line.
    pub fn render(&self, source: &str) -> String {
        use fmt::Write;
        let mut s = String::new();
        for p in &self.problems {
            let _ = writeln!(s, "{source}:{p}");
        }
        if self.more > 0 {
            let _ = writeln!(s, "{source}: ... and {} more problems", self.more);
        }
        s
    }
}

impl fmt::Display for DeckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.problems.len() + self.more;
        write!(f, "rate deck has {total} problem(s)")?;
        if let Some(first) = self.problems.first() {
            write!(f, ", first at line {first}")?;
        }
        Ok(())
    }
}

/// Collects problems, keeping the first [`MAX_PROBLEMS`].
#[derive(Default)]
pub(crate) struct Problems {
    list: Vec<DeckProblem>,
    more: usize,
}

impl Problems {
    pub(crate) fn push(&mut self, line: u32, field: &str, message: impl Into<String>) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(DeckProblem {
                line,
                field: field.to_owned(),
                message: message.into(),
            });
        } else {
            self.more += 1;
        }
    }

    pub(crate) fn into_result<T>(mut self, ok: T) -> Result<T, DeckError> {
        if self.list.is_empty() && self.more == 0 {
            Ok(ok)
        } else {
            self.list.sort_by_key(|p| p.line);
            Err(DeckError {
                problems: self.list,
                more: self.more,
            })
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Prefix,
    Carrier,
    Rate,
    ConnectFee,
    IncrementS,
    MinDurationS,
    EffectiveFrom,
    EffectiveUntil,
    Priority,
    Weight,
}

const COLUMNS: [(&str, Column); 10] = [
    ("prefix", Column::Prefix),
    ("carrier", Column::Carrier),
    ("rate", Column::Rate),
    ("connect_fee", Column::ConnectFee),
    ("increment_s", Column::IncrementS),
    ("min_duration_s", Column::MinDurationS),
    ("effective_from", Column::EffectiveFrom),
    ("effective_until", Column::EffectiveUntil),
    ("priority", Column::Priority),
    ("weight", Column::Weight),
];

/// The longest prefix a deck may hold (an E.164 number is at most 15 digits).
pub const MAX_PREFIX_DIGITS: usize = crate::number::E164_MAX_DIGITS;

/// Parses deck text into rows; fails with every problem found.
pub fn parse_deck(text: &str) -> Result<Vec<DeckRow<'_>>, DeckError> {
    let mut problems = Problems::default();
    let mut rows = Vec::with_capacity(text.len() / 24);
    let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(COLUMNS.len());
    let mut header: Option<Vec<Column>> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Err(e) = csv::split_record(trimmed, &mut cells) {
            problems.push(line, "row", e);
            continue;
        }
        let Some(columns) = &header else {
            match parse_header(&cells) {
                Ok(cols) => header = Some(cols),
                Err(e) => {
                    problems.push(line, "header", e);
                    return problems.into_result(Vec::new());
                }
            }
            continue;
        };
        if cells.len() != columns.len() {
            problems.push(
                line,
                "row",
                format!(
                    "has {} fields, the header has {}",
                    cells.len(),
                    columns.len()
                ),
            );
            continue;
        }
        if let Some(row) = parse_row(line, columns, &mut cells, &mut problems) {
            rows.push(row);
        }
    }
    if header.is_none() {
        problems.push(
            1,
            "header",
            "the deck is empty: expected a header row `prefix,carrier,rate`",
        );
    }
    problems.into_result(rows)
}

fn parse_header(cells: &[Cow<'_, str>]) -> Result<Vec<Column>, String> {
    let mut cols = Vec::with_capacity(cells.len());
    for cell in cells {
        let name = cell.trim().to_ascii_lowercase();
        let Some(&(_, col)) = COLUMNS.iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "unknown column {name:?}; columns are {}",
                COLUMNS.map(|(n, _)| n).join(",")
            ));
        };
        if cols.contains(&col) {
            return Err(format!("column {name:?} appears twice"));
        }
        cols.push(col);
    }
    for required in [Column::Prefix, Column::Carrier, Column::Rate] {
        if !cols.contains(&required) {
            let name = COLUMNS
                .iter()
                .find(|(_, c)| *c == required)
                .map_or("", |(n, _)| n);
            return Err(format!(
                "missing required column {name:?} (required: prefix,carrier,rate)"
            ));
        }
    }
    Ok(cols)
}

fn parse_row<'a>(
    line: u32,
    columns: &[Column],
    cells: &mut Vec<Cow<'a, str>>,
    problems: &mut Problems,
) -> Option<DeckRow<'a>> {
    let before = problems.list.len() + problems.more;
    let mut prefix = Cow::Borrowed("");
    let mut carrier = Cow::Borrowed("");
    let mut rate_nano = 0;
    let mut t = Tariff::default();
    for (col, cell) in columns.iter().zip(cells.drain(..)) {
        let field = COLUMNS
            .iter()
            .find(|(_, c)| c == col)
            .map_or("", |(n, _)| n);
        let value = cell.trim();
        let is_empty = value.is_empty();
        let result: Result<(), String> = match col {
            Column::Prefix => check_prefix(value).map(|()| prefix = trim_cow(cell.clone())),
            Column::Carrier => check_carrier(value).map(|()| carrier = trim_cow(cell.clone())),
            Column::Rate => parse_decimal_nano(value).map(|v| rate_nano = v),
            _ if is_empty => Ok(()),
            Column::ConnectFee => parse_decimal_nano(value).map(|v| t.connect_fee_nano = v),
            Column::IncrementS => parse_int(value, 1, 3600).map(|v| t.increment_s = v as u32),
            Column::MinDurationS => parse_int(value, 0, 3600).map(|v| t.min_duration_s = v as u32),
            Column::EffectiveFrom => parse_timestamp(value).map(|v| t.effective_from = v),
            Column::EffectiveUntil => parse_timestamp(value).map(|v| t.effective_until = v),
            Column::Priority => {
                parse_int(value, -1_000_000, 1_000_000).map(|v| t.priority = v as i32)
            }
            Column::Weight => parse_int(value, 0, 1_000_000).map(|v| t.weight = v as u32),
        };
        if let Err(message) = result {
            problems.push(line, field, message);
        }
    }
    if t.effective_from >= t.effective_until {
        problems.push(line, "effective_until", "must be later than effective_from");
    }
    (problems.list.len() + problems.more == before).then_some(DeckRow {
        line,
        prefix,
        carrier,
        rate_nano,
        tariff: t,
    })
}

fn trim_cow(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
    }
}

fn check_prefix(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("is empty".into());
    }
    if let Some(rest) = v.strip_prefix('+') {
        return Err(format!(
            "{v:?}: prefixes are E.164 digits without '+' (write {rest:?})"
        ));
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{v:?} must be digits only"));
    }
    if v.len() > MAX_PREFIX_DIGITS {
        return Err(format!("{v:?} is longer than {MAX_PREFIX_DIGITS} digits"));
    }
    Ok(())
}

fn check_carrier(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("is empty".into());
    }
    if v.len() > 64
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!(
            "{v:?} must be up to 64 letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

fn parse_int(v: &str, min: i64, max: i64) -> Result<i64, String> {
    match v.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(format!("{v} is outside {min}..={max}")),
        Err(_) => Err(format!("{v:?} is not a whole number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_required_and_optional_columns() {
        let deck = "# demo\nprefix,carrier,rate,connect_fee,increment_s,min_duration_s,effective_from,effective_until,priority,weight\n\
                    1415,c3,0.0123,0.01,6,30,2026-01-01,2027-01-01,2,3\n\
                    44,c1,0.02,,,,,,,\n";
        let rows = parse_deck(deck).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 3);
        assert_eq!(rows[0].prefix, "1415");
        assert_eq!(rows[0].rate_nano, 12_300_000);
        assert_eq!(rows[0].tariff.increment_s, 6);
        assert_eq!(rows[0].tariff.min_duration_s, 30);
        assert_eq!(rows[0].tariff.priority, 2);
        assert_eq!(rows[0].tariff.weight, 3);
        assert_eq!(rows[1].tariff, Tariff::default());
    }

    #[test]
    fn reports_every_bad_cell_with_line_and_field() {
        let deck = "prefix,carrier,rate,weight\n1,a,0.1,1\n+44,b,x,2\n12a,,0.1,-1\n1,a\n";
        let err = parse_deck(deck).unwrap_err();
        let rendered = err.render("deck.csv");
        assert!(
            rendered.contains("deck.csv:3: prefix: \"+44\""),
            "{rendered}"
        );
        assert!(rendered.contains("deck.csv:3: rate: \"x\""), "{rendered}");
        assert!(rendered.contains("deck.csv:4: prefix:"), "{rendered}");
        assert!(
            rendered.contains("deck.csv:4: carrier: is empty"),
            "{rendered}"
        );
        assert!(
            rendered.contains("deck.csv:4: weight: -1 is outside"),
            "{rendered}"
        );
        assert!(
            rendered.contains("deck.csv:5: row: has 2 fields"),
            "{rendered}"
        );
        assert_eq!(err.problems.len(), 6);
    }

    #[test]
    fn header_problems_are_clear() {
        let e = parse_deck("prefix,carrier\n1,a\n").unwrap_err();
        assert!(e.problems[0].message.contains("\"rate\""), "{e:?}");
        let e = parse_deck("prefix,carrier,rate,wieght\n").unwrap_err();
        assert!(e.problems[0].message.contains("unknown column \"wieght\""));
        let e = parse_deck("").unwrap_err();
        assert_eq!(e.problems[0].field, "header");
    }

    #[test]
    fn problems_are_capped_and_counted() {
        let mut deck = String::from("prefix,carrier,rate\n");
        for _ in 0..150 {
            deck.push_str("x,a,1\n");
        }
        let e = parse_deck(&deck).unwrap_err();
        assert_eq!(e.problems.len(), MAX_PROBLEMS);
        assert_eq!(e.more, 50);
        assert!(e.render("d").contains("and 50 more"));
    }

    #[test]
    fn cost_follows_minimum_and_increment() {
        let t = Tariff {
            connect_fee_nano: 10_000_000,
            increment_s: 6,
            min_duration_s: 30,
            ..Tariff::default()
        };
        let rate = 600_000_000; // 0.60 per minute = 0.01 per second
        assert_eq!(t.cost_nano(rate, 0), 0);
        assert_eq!(t.cost_nano(rate, 5), 10_000_000 + 300_000_000); // 30 s minimum
        assert_eq!(t.cost_nano(rate, 31), 10_000_000 + 360_000_000); // 36 s
        assert_eq!(t.cost_nano(rate, 36), 10_000_000 + 360_000_000);
    }
}
