//! `[[accounts]]`: the fraud limits of the accounts whose browsers call the PSTN
//! (the `account` claim of their tokens). An account without an entry has no limits
//! beyond the global deny list.

use super::{Config, Locator};
use serde::Deserialize;
use std::collections::HashSet;
use toml::Spanned;

/// One `[[accounts]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    /// The account (the tokens' `account` claim).
    pub name: Spanned<String>,
    /// Normalized destination prefixes the account may call; empty: all.
    #[serde(default)]
    pub allowed_prefixes: Vec<String>,
    /// Normalized destination prefixes the account may not call (on top of
    /// `[routing] blocked`).
    #[serde(default)]
    pub blocked_prefixes: Vec<String>,
    /// Browser calls to the PSTN the account may have up at once.
    #[serde(default)]
    pub max_concurrent_calls: Option<Spanned<u32>>,
    /// What the account's calls may cost in the last hour, in the deck's currency
    /// (a decimal, e.g. `"5.00"`); a call that would start above it is refused.
    #[serde(default)]
    pub max_spend_per_hour: Option<Spanned<String>>,
}

pub(super) fn validate(config: &Config, loc: &mut Locator<'_>) {
    let mut names = HashSet::new();
    for (i, a) in config.accounts.iter().enumerate() {
        let field = |f: &str| format!("accounts[{i}].{f}");
        if a.name.get_ref().is_empty() || !names.insert(a.name.get_ref().as_str()) {
            loc.push(a.name.span(), field("name"), "empty or not unique");
        }
        for p in a.allowed_prefixes.iter().chain(&a.blocked_prefixes) {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                loc.push(
                    a.name.span(),
                    field("allowed_prefixes"),
                    format!("{p:?} is not a prefix of digits"),
                );
            }
        }
        if let Some(m) = a
            .max_concurrent_calls
            .as_ref()
            .filter(|m| *m.get_ref() == 0)
        {
            loc.push(
                m.span(),
                field("max_concurrent_calls"),
                "0 would refuse every call",
            );
        }
        if let Some(s) = &a.max_spend_per_hour {
            if let Err(e) = dcx_routing::deck::fields::parse_decimal_nano(s.get_ref()) {
                loc.push(s.span(), field("max_spend_per_hour"), e);
            }
        }
    }
}
