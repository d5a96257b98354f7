//! An agent as the server describes it: identity, skills, capacity and presence.
//!
//! These are plain values the server fills from its live state and hands to
//! [`AgentPool`](super::AgentPool), which stores them column by column for scanning.

use serde::{Deserialize, Serialize};

/// What an agent is doing, as far as routing cares.
///
/// Serialized in kebab-case: `"available"`, `"busy"`, `{ wrap-up = { until_ms = .. } }`,
/// `"away"`, `"offline"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    /// Logged in and waiting for calls (up to capacity).
    Available,
    /// On a call (or otherwise engaged) and not to be offered another.
    Busy,
    /// Finishing the last call's paperwork; available again from `until_ms` on.
    WrapUp {
        /// Unix time in milliseconds at which wrap-up ends.
        until_ms: i64,
    },
    /// Logged in but on a break.
    Away,
    /// Logged out.
    Offline,
}

impl AgentState {
    /// Whether this state lets the agent take a call at `now_ms`: [`Available`], or a
    /// [`WrapUp`] whose `until_ms <= now_ms`.
    ///
    /// [`Available`]: AgentState::Available
    /// [`WrapUp`]: AgentState::WrapUp
    pub fn is_available_at(self, now_ms: i64) -> bool {
        match self {
            Self::Available => true,
            Self::WrapUp { until_ms } => until_ms <= now_ms,
            Self::Busy | Self::Away | Self::Offline => false,
        }
    }

    /// The earliest time at which this state allows a call; `i64::MAX` means never (the
    /// pool clamps `now_ms` below it).
    pub(crate) fn ready_at_ms(self) -> i64 {
        match self {
            Self::Available => i64::MIN,
            Self::WrapUp { until_ms } => until_ms,
            Self::Busy | Self::Away | Self::Offline => i64::MAX,
        }
    }
}

/// One skill of an agent, e.g. `{ skill = "spanish", level = 4 }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSkill {
    /// The skill's name, matched exactly (case-sensitive) against queue requirements.
    pub skill: String,
    /// Proficiency, `1..=5` (5 is best).
    pub level: u8,
}

/// An agent: who, what they can do, and what they are doing now.
///
/// Build one with [`Agent::new`] and the `with_*` methods, or deserialize it (fields as
/// below; all but `id` and `state` have defaults). [`AgentPool`](super::AgentPool)
/// validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Unique id within a pool (login, extension, UUID...).
    pub id: String,
    /// Skills with proficiency `1..=5`; each skill at most once.
    #[serde(default)]
    pub skills: Vec<AgentSkill>,
    /// Maximum concurrent calls, at least 1. Default 1.
    #[serde(default = "one")]
    pub capacity: u16,
    /// Calls the agent is on now. At `capacity` or above the agent is not offered more.
    #[serde(default)]
    pub active_calls: u16,
    /// Presence.
    pub state: AgentState,
    /// Unix ms at which the agent became idle: the end of the last call, or login time if
    /// no call yet. Longest-idle routing prefers the earliest.
    #[serde(default)]
    pub idle_since_ms: i64,
    /// Calls handled so far (in whatever window the server counts, e.g. this shift).
    #[serde(default)]
    pub calls_handled: u32,
}

fn one() -> u16 {
    1
}

impl Agent {
    /// An available agent with capacity 1, no skills, idle since the epoch and no calls
    /// handled; adjust with the `with_*` methods.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            skills: Vec::new(),
            capacity: 1,
            active_calls: 0,
            state: AgentState::Available,
            idle_since_ms: 0,
            calls_handled: 0,
        }
    }

    /// Adds a skill at `level` (`1..=5`).
    #[must_use]
    pub fn with_skill(mut self, skill: impl Into<String>, level: u8) -> Self {
        self.skills.push(AgentSkill {
            skill: skill.into(),
            level,
        });
        self
    }

    /// Sets the presence state.
    #[must_use]
    pub fn with_state(mut self, state: AgentState) -> Self {
        self.state = state;
        self
    }

    /// Sets the maximum concurrent calls.
    #[must_use]
    pub fn with_capacity(mut self, capacity: u16) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets the calls the agent is on now.
    #[must_use]
    pub fn with_active_calls(mut self, active_calls: u16) -> Self {
        self.active_calls = active_calls;
        self
    }

    /// Sets when the agent became idle (unix ms).
    #[must_use]
    pub fn with_idle_since(mut self, idle_since_ms: i64) -> Self {
        self.idle_since_ms = idle_since_ms;
        self
    }

    /// Sets the calls handled so far.
    #[must_use]
    pub fn with_calls_handled(mut self, calls_handled: u32) -> Self {
        self.calls_handled = calls_handled;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_up_counts_as_available_once_it_ends() {
        let s = AgentState::WrapUp { until_ms: 1_000 };
        assert!(!s.is_available_at(999));
        assert!(s.is_available_at(1_000));
        assert!(AgentState::Available.is_available_at(i64::MIN));
        for s in [AgentState::Busy, AgentState::Away, AgentState::Offline] {
            assert!(!s.is_available_at(i64::MAX - 1), "{s:?}");
        }
    }
}
