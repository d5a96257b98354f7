//! Fraud limits of browser accounts (`[[accounts]]`), checked when a browser's call to
//! the PSTN is routed: destinations the account may (not) call, calls it may have up at
//! once, and what its calls may cost in the last hour. Pure: the caller passes the
//! account's live calls and the time, and records each ended call's cost.

use std::collections::{HashMap, VecDeque};

use crate::config::accounts::AccountSection;

/// The spend window.
const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Default)]
struct AccountLimits {
    allowed: Vec<String>,
    blocked: Vec<String>,
    max_concurrent: Option<u32>,
    max_spend_nano: Option<u64>,
}

/// Every account's limits and its spend of the last hour.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    accounts: HashMap<String, AccountLimits>,
    /// Ended calls' (end, cost) per account, oldest first, the last hour only.
    spend: HashMap<String, VecDeque<(i64, u64)>>,
}

impl Limits {
    /// The limits of the config (validated: bad decimals were refused there).
    pub fn from_config(accounts: &[AccountSection]) -> Self {
        let accounts = accounts
            .iter()
            .map(|a| {
                let limits = AccountLimits {
                    allowed: a.allowed_prefixes.clone(),
                    blocked: a.blocked_prefixes.clone(),
                    max_concurrent: a.max_concurrent_calls.as_ref().map(|m| *m.get_ref()),
                    max_spend_nano: a.max_spend_per_hour.as_ref().and_then(|s| {
                        dcx_routing::deck::fields::parse_decimal_nano(s.get_ref()).ok()
                    }),
                };
                (a.name.get_ref().clone(), limits)
            })
            .collect();
        Self {
            accounts,
            spend: HashMap::new(),
        }
    }

    /// Why `account` may not call the normalized `number` now, with `live` calls of its
    /// own up (`destination_blocked` or `limit_exceeded`, and in words); `None` when it
    /// may.
    pub fn refuse(
        &mut self,
        account: &str,
        number: &str,
        live: u32,
        now_ms: i64,
    ) -> Option<(&'static str, String)> {
        let limits = self.accounts.get(account)?;
        if let Some(p) = limits
            .blocked
            .iter()
            .find(|p| number.starts_with(p.as_str()))
        {
            return Some((
                "destination_blocked",
                format!("account {account} may not call {number}: prefix {p} is in its blocked_prefixes"),
            ));
        }
        if !limits.allowed.is_empty()
            && !limits
                .allowed
                .iter()
                .any(|p| number.starts_with(p.as_str()))
        {
            return Some((
                "destination_blocked",
                format!("account {account} may not call {number}: no prefix of its allowed_prefixes matches"),
            ));
        }
        if let Some(max) = limits.max_concurrent.filter(|&m| live >= m) {
            return Some((
                "limit_exceeded",
                format!("account {account} has {live} calls up: max_concurrent_calls is {max}"),
            ));
        }
        let max_spend = limits.max_spend_nano?;
        let spent = self.spent(account, now_ms);
        (spent >= max_spend).then(|| {
            let why = format!(
                "account {account} spent {} in the last hour: max_spend_per_hour is {}",
                money(spent),
                money(max_spend)
            );
            ("limit_exceeded", why)
        })
    }

    /// An ended call of `account` cost `cost_nano`.
    pub fn record(&mut self, account: &str, end_ms: i64, cost_nano: u64) {
        if cost_nano == 0 || !self.accounts.contains_key(account) {
            return;
        }
        self.spend
            .entry(account.to_owned())
            .or_default()
            .push_back((end_ms, cost_nano));
    }

    /// What `account`'s calls that ended in the last hour cost.
    fn spent(&mut self, account: &str, now_ms: i64) -> u64 {
        let Some(calls) = self.spend.get_mut(account) else {
            return 0;
        };
        while calls
            .front()
            .is_some_and(|(end, _)| *end <= now_ms - HOUR_MS)
        {
            calls.pop_front();
        }
        calls.iter().map(|(_, cost)| cost).sum()
    }
}

fn money(nano: u64) -> String {
    format!(
        "{}.{:04}",
        nano / 1_000_000_000,
        (nano % 1_000_000_000) / 100_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(toml_text: &str) -> Limits {
        let a: AccountSection = toml::from_str(toml_text).unwrap();
        Limits::from_config(&[a])
    }

    #[test]
    fn prefixes_allowed_and_blocked_are_checked_on_the_normalized_number() {
        let mut l = limits(
            "name = \"demo\"\nallowed_prefixes = [\"1\", \"44\"]\nblocked_prefixes = [\"1900\"]\n",
        );
        assert_eq!(l.refuse("demo", "14155550100", 0, 0), None);
        let (code, why) = l.refuse("demo", "19005550100", 0, 0).unwrap();
        assert!(code == "destination_blocked" && why.contains("blocked_prefixes"));
        let (code, why) = l.refuse("demo", "33155550100", 0, 0).unwrap();
        assert!(code == "destination_blocked" && why.contains("allowed_prefixes"));
        assert_eq!(
            l.refuse("other", "33155550100", 9, 0),
            None,
            "no limits of its own"
        );
    }

    #[test]
    fn concurrent_calls_and_the_spend_of_the_last_hour_are_capped() {
        let mut l =
            limits("name = \"demo\"\nmax_concurrent_calls = 2\nmax_spend_per_hour = \"0.50\"\n");
        assert_eq!(l.refuse("demo", "1", 1, 0), None);
        let (code, why) = l.refuse("demo", "1", 2, 0).unwrap();
        assert!(code == "limit_exceeded" && why.contains("max_concurrent_calls is 2"));
        l.record("demo", 1_000, 300_000_000);
        assert_eq!(l.refuse("demo", "1", 0, 2_000), None);
        l.record("demo", 2_000, 200_000_000);
        let (code, why) = l.refuse("demo", "1", 0, 3_000).unwrap();
        assert!(
            code == "limit_exceeded" && why.contains("spent 0.5000"),
            "{why}"
        );
        // An hour after the first call ended its cost no longer counts.
        assert_eq!(l.refuse("demo", "1", 0, 1_000 + HOUR_MS), None);
    }
}
