//! Skills: names interned to dense `u16` ids, proficiency levels, and a queue's
//! requirement resolved to those ids.
//!
//! Interning turns "does this agent speak Spanish at level 3 or better" from string
//! compares into a bitset lookup (the pool keeps, per skill id, the agents that have it)
//! and, for levels above 1, a short merge of two sorted `(id, level)` lists (the exact
//! check). The registry is append-only and
//! carries a fingerprint of its contents, so a queue compiled against one pool can tell
//! whether another pool numbers its skills the same way.

use std::collections::HashMap;

use super::AgentError;

/// The lowest proficiency level.
pub const MIN_PROFICIENCY: u8 = 1;
/// The highest proficiency level.
pub const MAX_PROFICIENCY: u8 = 5;

/// Checks that `level` is within `MIN_PROFICIENCY..=MAX_PROFICIENCY`.
pub(crate) fn check_proficiency(
    owner: impl FnOnce() -> String,
    skill: &str,
    level: u8,
) -> Result<(), AgentError> {
    if (MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(&level) {
        Ok(())
    } else {
        Err(AgentError::InvalidProficiency {
            owner: owner(),
            skill: skill.to_owned(),
            level,
        })
    }
}

/// A skill's id within one [`SkillRegistry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SkillId(u16);

impl SkillId {
    /// The raw id: skills are numbered `0..registry.len()` in order of first appearance.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// Skill names interned to dense [`SkillId`]s, append-only.
///
/// Owned by an [`AgentPool`](super::AgentPool); read it through
/// [`AgentPool::skills`](super::AgentPool::skills).
#[derive(Debug, Clone)]
pub struct SkillRegistry {
    names: Vec<String>,
    ids: HashMap<String, SkillId>,
    fingerprint: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Default for SkillRegistry {
    fn default() -> Self {
        Self {
            names: Vec::new(),
            ids: HashMap::new(),
            fingerprint: FNV_OFFSET,
        }
    }
}

impl SkillRegistry {
    /// The most distinct skills a registry can hold (ids are `u16`).
    pub const LIMIT: usize = 1 << 16;

    /// Number of distinct skills.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no skill is known.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The id of a skill, if any agent of the pool has it.
    pub fn id(&self, name: &str) -> Option<SkillId> {
        self.ids.get(name).copied()
    }

    /// The name of a skill id from this registry.
    ///
    /// # Panics
    /// If `id` comes from another registry and is out of range.
    pub fn name(&self, id: SkillId) -> &str {
        &self.names[usize::from(id.0)]
    }

    /// A hash of all names in id order (FNV-1a). Two registries with equal fingerprints
    /// number the same skills the same way (up to hash collisions, ~2^-64).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The id of `name`, adding it if new.
    pub(crate) fn intern(&mut self, name: &str) -> Result<SkillId, AgentError> {
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        let raw = u16::try_from(self.names.len())
            .map_err(|_| AgentError::TooManySkills { limit: Self::LIMIT })?;
        let id = SkillId(raw);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        // 0xFF never occurs in UTF-8, so it separates names unambiguously.
        for byte in name.bytes().chain([0xFF]) {
            self.fingerprint = (self.fingerprint ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
        Ok(id)
    }
}

/// One required skill at a minimum level, resolved to a pool's id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Need {
    pub(crate) skill: SkillId,
    pub(crate) min: u8,
    /// `1 / (MAX_PROFICIENCY - min)`, or 0 when `min` is already the top level: scales
    /// how far an agent's level exceeds `min` into `0..=1` for weighted scoring.
    pub(crate) inv_span: f64,
}

impl Need {
    pub(crate) fn new(skill: SkillId, min: u8) -> Self {
        let span = MAX_PROFICIENCY.saturating_sub(min);
        Self {
            skill,
            min,
            inv_span: if span == 0 {
                0.0
            } else {
                1.0 / f64::from(span)
            },
        }
    }
}

/// What an agent must have to take a queue's caller at one stage of expansion, resolved
/// against one pool's skill ids.
///
/// Get it from [`CompiledQueue::requirement_at`](super::CompiledQueue::requirement_at).
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Sorted by skill id, each skill once.
    pub(crate) needs: Vec<Need>,
    /// Having the skills decides: every minimum is 1 and there are at most
    /// `MAX_BITSET_NEEDS` of them (all intersected as bitsets), so the exact level check
    /// can be skipped.
    pub(crate) skills_suffice: bool,
    /// Required skills (with their minimum) that no agent of the pool has.
    pub(crate) unknown: Vec<(String, u8)>,
    /// Skills of the queue that expansion has dropped.
    pub(crate) relaxed: Vec<String>,
    /// Waiting time from which this stage applies, in ms (0 for the base requirement).
    pub(crate) after_ms: i64,
    /// How many expansion steps are applied at this stage.
    pub(crate) steps_applied: usize,
}

impl Requirement {
    /// The required skills the pool knows, with their minimum level, by skill id.
    pub fn needs(&self) -> impl ExactSizeIterator<Item = (SkillId, u8)> + '_ {
        self.needs.iter().map(|n| (n.skill, n.min))
    }

    /// Whether some agent could meet it: false when a required skill is unknown to the
    /// pool (no agent has it), so no agent is ever eligible.
    pub fn is_satisfiable(&self) -> bool {
        self.unknown.is_empty()
    }

    /// Required skills (name, minimum) that no agent of the pool has.
    pub fn unknown_skills(&self) -> &[(String, u8)] {
        &self.unknown
    }

    /// Skills of the queue dropped by expansion at this stage.
    pub fn relaxed_skills(&self) -> &[String] {
        &self.relaxed
    }

    /// Waiting time in ms from which this stage applies (0 for the base requirement).
    pub fn after_ms(&self) -> i64 {
        self.after_ms
    }

    /// How many of the queue's expansion steps this stage has applied.
    pub fn steps_applied(&self) -> usize {
        self.steps_applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_dense_and_stable() {
        let mut r = SkillRegistry::default();
        let es = r.intern("spanish").unwrap();
        let bi = r.intern("billing").unwrap();
        assert_eq!((es.get(), bi.get()), (0, 1));
        assert_eq!(r.intern("spanish").unwrap(), es);
        assert_eq!(r.len(), 2);
        assert_eq!(r.name(bi), "billing");
        assert_eq!(r.id("billing"), Some(bi));
        assert_eq!(r.id("german"), None);
    }

    #[test]
    fn fingerprint_follows_contents_and_order() {
        let build = |names: &[&str]| {
            let mut r = SkillRegistry::default();
            for n in names {
                r.intern(n).unwrap();
            }
            r.fingerprint()
        };
        assert_eq!(build(&["a", "b"]), build(&["a", "b", "a"]));
        assert_ne!(build(&["a", "b"]), build(&["b", "a"]));
        assert_ne!(build(&["ab"]), build(&["a", "b"]));
        assert_ne!(build(&[]), build(&["a"]));
    }

    #[test]
    fn too_many_skills_is_an_error() {
        let mut r = SkillRegistry::default();
        for i in 0..SkillRegistry::LIMIT {
            r.intern(&i.to_string()).unwrap();
        }
        assert_eq!(
            r.intern("one-more"),
            Err(AgentError::TooManySkills { limit: 65_536 })
        );
        assert!(r.intern("7").is_ok(), "known skills still resolve");
    }

    #[test]
    fn proficiency_bounds() {
        let owner = || "agent `a`".to_owned();
        assert!(check_proficiency(owner, "x", 1).is_ok());
        assert!(check_proficiency(owner, "x", 5).is_ok());
        assert!(matches!(
            check_proficiency(owner, "x", 0),
            Err(AgentError::InvalidProficiency { level: 0, .. })
        ));
        assert!(check_proficiency(owner, "x", 6).is_err());
    }
}
