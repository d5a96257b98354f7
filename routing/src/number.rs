//! Number normalization: what a user dialled -> the E.164 digits the rate deck is keyed on.
//!
//! Rules are data from the config, tried in order, first match wins (like a dial plan):
//! `00` -> international, `0` -> national with a default country code, a US 10-digit
//! number -> `1` + number. A leading `+` means the number is already international and no
//! rule applies. Visual separators of RFC 3966 (space, `-`, `.`, `(`, `)`) are ignored;
//! any other character is an error that names it. The result lives in a fixed buffer:
//! normalizing never allocates.

use serde::Deserialize;
use std::fmt;

/// The longest E.164 number (ITU-T E.164 section 6: at most 15 digits).
pub const E164_MAX_DIGITS: usize = 15;
/// The longest dialled string we look at (an international prefix plus 15 digits fits).
const DIALLED_MAX_DIGITS: usize = 32;

/// Why a dialled string is not a routable number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// Nothing but separators, or nothing at all.
    #[error("empty number")]
    Empty,
    /// A character that is neither a digit, a leading '+', nor a visual separator.
    #[error("invalid character {ch:?} at position {position}: a number has digits only (with an optional leading '+')")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its 1-based character position in the input.
        position: usize,
    },
    /// More digits than any international number can have.
    #[error("{digits} digits after normalization: an E.164 number has at most 15")]
    TooLong {
        /// Digits counted.
        digits: usize,
    },
}

/// One dial-plan rule: when the dialled digits start with `prefix` (and, if `lengths` is
/// not empty, have one of those lengths), strip `strip` leading digits (default: the
/// prefix) and prepend `prepend`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeRule {
    /// A name shown in explanations, e.g. `"international-00"`.
    pub name: String,
    /// Leading digits this rule applies to; empty matches any number.
    #[serde(default)]
    pub prefix: String,
    /// Total digit counts this rule applies to; empty means any length.
    #[serde(default)]
    pub lengths: Vec<usize>,
    /// How many leading digits to remove; defaults to the prefix's length.
    #[serde(default)]
    pub strip: Option<usize>,
    /// Digits to put in front after stripping, e.g. a country code.
    #[serde(default)]
    pub prepend: String,
}

impl NormalizeRule {
    fn applies_to(&self, digits: &[u8]) -> bool {
        digits.starts_with(self.prefix.as_bytes())
            && (self.lengths.is_empty() || self.lengths.contains(&digits.len()))
    }

    /// What is wrong with this rule, if anything (for config validation).
    pub fn problem(&self) -> Option<String> {
        if !self.prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("prefix {:?} must be digits only", self.prefix));
        }
        if !self.prepend.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("prepend {:?} must be digits only", self.prepend));
        }
        let strip = self.strip.unwrap_or(self.prefix.len());
        if let Some(&short) = self.lengths.iter().find(|&&l| l < strip) {
            return Some(format!("strip {strip} is longer than length {short}"));
        }
        if self.lengths.is_empty() && strip > self.prefix.len() {
            return Some(format!(
                "strip {strip} removes more than the prefix {:?}; give `lengths` to say which numbers are long enough",
                self.prefix
            ));
        }
        None
    }
}

/// An ordered dial plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberPlan {
    rules: Vec<NormalizeRule>,
}

/// A normalized E.164 number (digits only, no '+'), stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct E164 {
    len: u8,
    digits: [u8; E164_MAX_DIGITS],
}

impl E164 {
    /// The digits as ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    /// The digits as a string.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Builds a number from ASCII digits.
    pub fn from_digits(digits: &[u8]) -> Result<Self, NumberError> {
        if digits.is_empty() {
            return Err(NumberError::Empty);
        }
        if let Some(pos) = digits.iter().position(|b| !b.is_ascii_digit()) {
            return Err(NumberError::InvalidChar {
                ch: char::from(digits[pos]),
                position: pos + 1,
            });
        }
        if digits.len() > E164_MAX_DIGITS {
            return Err(NumberError::TooLong {
                digits: digits.len(),
            });
        }
        let mut out = E164 {
            len: digits.len() as u8,
            digits: [0; E164_MAX_DIGITS],
        };
        out.digits[..digits.len()].copy_from_slice(digits);
        Ok(out)
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", self.as_str())
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of normalizing: the number and the rule that shaped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalized<'p> {
    /// The E.164 digits.
    pub number: E164,
    /// The rule applied, if any (none for '+' numbers and numbers no rule matched).
    pub rule: Option<&'p NormalizeRule>,
}

impl NumberPlan {
    /// A plan from rules in the order they are tried.
    pub fn new(rules: Vec<NormalizeRule>) -> Self {
        Self { rules }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[NormalizeRule] {
        &self.rules
    }

    /// Normalizes a dialled string to E.164 digits.
    pub fn normalize(&self, input: &str) -> Result<Normalized<'_>, NumberError> {
        let mut buf = [0u8; DIALLED_MAX_DIGITS];
        let mut n = 0usize;
        let mut plus = false;
        let mut seen_digit = false;
        for (i, ch) in input.trim().chars().enumerate() {
            match ch {
                '0'..='9' => {
                    if n == DIALLED_MAX_DIGITS {
                        return Err(NumberError::TooLong { digits: n + 1 });
                    }
                    buf[n] = ch as u8;
                    n += 1;
                    seen_digit = true;
                }
                '+' if !plus && !seen_digit => plus = true,
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => {
                    return Err(NumberError::InvalidChar {
                        ch,
                        position: i + 1,
                    })
                }
            }
        }
        let dialled = &buf[..n];
        if dialled.is_empty() {
            return Err(NumberError::Empty);
        }
        if plus {
            return Ok(Normalized {
                number: E164::from_digits(dialled)?,
                rule: None,
            });
        }
        let Some(rule) = self.rules.iter().find(|r| r.applies_to(dialled)) else {
            return Ok(Normalized {
                number: E164::from_digits(dialled)?,
                rule: None,
            });
        };
        let rest = &dialled[rule.strip.unwrap_or(rule.prefix.len()).min(dialled.len())..];
        let total = rule.prepend.len() + rest.len();
        if total > E164_MAX_DIGITS {
            return Err(NumberError::TooLong { digits: total });
        }
        let mut out = [0u8; E164_MAX_DIGITS];
        out[..rule.prepend.len()].copy_from_slice(rule.prepend.as_bytes());
        out[rule.prepend.len()..total].copy_from_slice(rest);
        Ok(Normalized {
            number: E164::from_digits(&out[..total])?,
            rule: Some(rule),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, prefix: &str, lengths: &[usize], prepend: &str) -> NormalizeRule {
        NormalizeRule {
            name: name.into(),
            prefix: prefix.into(),
            lengths: lengths.to_vec(),
            strip: None,
            prepend: prepend.into(),
        }
    }

    fn plan() -> NumberPlan {
        NumberPlan::new(vec![
            rule("international-00", "00", &[], ""),
            rule("international-011", "011", &[], ""),
            rule("national-0", "0", &[], "44"),
            rule("nanp-10", "", &[10], "1"),
        ])
    }

    fn norm(s: &str) -> Result<String, NumberError> {
        plan().normalize(s).map(|n| n.number.to_string())
    }

    #[test]
    fn applies_rules_in_order() {
        assert_eq!(norm("0049301234567").unwrap(), "49301234567");
        assert_eq!(norm("011 49 30 1234567").unwrap(), "49301234567");
        assert_eq!(norm("02079460000").unwrap(), "442079460000");
        assert_eq!(norm("(415) 555-0100").unwrap(), "14155550100");
        assert_eq!(norm("14155550100").unwrap(), "14155550100");
        let n = plan();
        assert_eq!(
            n.normalize("4155550100").unwrap().rule.unwrap().name,
            "nanp-10"
        );
    }

    #[test]
    fn plus_means_international_and_skips_rules() {
        assert_eq!(norm("+44 20 7946 0000").unwrap(), "442079460000");
        // A 10-digit '+' number is not touched by the NANP rule.
        assert_eq!(norm("+4915112345").unwrap(), "4915112345");
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert_eq!(
            norm("12ab"),
            Err(NumberError::InvalidChar {
                ch: 'a',
                position: 3
            })
        );
        assert_eq!(norm("  "), Err(NumberError::Empty));
        assert_eq!(norm("+"), Err(NumberError::Empty));
        assert!(matches!(
            norm("1+2"),
            Err(NumberError::InvalidChar { ch: '+', .. })
        ));
        assert!(matches!(
            norm("1234567890123456"),
            Err(NumberError::TooLong { digits: 16 })
        ));
        assert!(matches!(
            norm(&"9".repeat(40)),
            Err(NumberError::TooLong { .. })
        ));
        let msg = norm("12ab").unwrap_err().to_string();
        assert!(msg.contains("'a'") && msg.contains("position 3"), "{msg}");
    }

    #[test]
    fn rule_problems_are_found() {
        assert!(rule("x", "0a", &[], "").problem().is_some());
        assert!(rule("x", "0", &[], "4x").problem().is_some());
        let mut r = rule("x", "0", &[], "");
        r.strip = Some(3);
        assert!(r.problem().unwrap().contains("lengths"));
        assert!(rule("ok", "00", &[], "").problem().is_none());
    }
}
