//! [`AgentPool`]: the columnar snapshot of agents that selection scans.
//!
//! Selection among thousands of agents is a scan, so the pool stores each attribute in
//! its own `Vec` (a column) indexed by [`AgentIndex`]: the scan touches only the columns
//! it needs, in order, without chasing pointers. Two derived columns make the common
//! rejections one compare each:
//! - `ready_at_ms`: the earliest time the agent can take a call given state and load
//!   (`i64::MIN` available, `until_ms` in wrap-up, `i64::MAX` busy/away/offline or full);
//! - `skill_mask`: bit `skill_id % 128` for each skill, a prefilter before the exact check
//!   against the agent's `(skill, level)` entries, kept sorted by skill id.
//!
//! Both tests run branch-free over 64 agents at a time into a bitset (whether an agent
//! passes looks random to the branch predictor); only the set bits are visited.
//!
//! The server owns the pool. It updates presence in place with the `set_*` methods (O(1))
//! and publishes clones as immutable snapshots; it rebuilds the pool when agents leave or
//! change skills, then recompiles its queues (see [`CompiledQueue::is_compiled_for`]).

use std::collections::HashMap;
use std::iter::FusedIterator;
use std::ops::Range;

use super::skills::{check_proficiency, Need, Requirement, SkillId, SkillRegistry};
use super::{Agent, AgentError, AgentIndex, AgentState, CompiledQueue, QueueSpec};

/// A snapshot of agents, stored by column for fast selection.
///
/// Agents keep the index they were pushed at ([`AgentIndex`]) for the pool's lifetime.
#[derive(Debug, Clone)]
pub struct AgentPool {
    ids: Vec<String>,
    index_by_id: HashMap<String, AgentIndex>,
    skills: SkillRegistry,
    skill_mask: Vec<u128>,
    /// Agent `i`'s skills are `skill_entries[skill_start[i]..skill_start[i + 1]]`.
    skill_start: Vec<usize>,
    skill_entries: Vec<(SkillId, u8)>,
    states: Vec<AgentState>,
    active_calls: Vec<u16>,
    capacity: Vec<u16>,
    ready_at_ms: Vec<i64>,
    /// `1 - active_calls / capacity` (floored at 0), kept in step with `active_calls`.
    free_fraction: Vec<f64>,
    idle_since_ms: Vec<i64>,
    calls_handled: Vec<u32>,
}

impl Default for AgentPool {
    fn default() -> Self {
        Self {
            ids: Vec::new(),
            index_by_id: HashMap::new(),
            skills: SkillRegistry::default(),
            skill_mask: Vec::new(),
            skill_start: vec![0],
            skill_entries: Vec::new(),
            states: Vec::new(),
            active_calls: Vec::new(),
            capacity: Vec::new(),
            ready_at_ms: Vec::new(),
            free_fraction: Vec::new(),
            idle_since_ms: Vec::new(),
            calls_handled: Vec::new(),
        }
    }
}

fn free_fraction(active_calls: u16, capacity: u16) -> f64 {
    (1.0 - f64::from(active_calls) / f64::from(capacity)).max(0.0)
}

fn ready_at(state: AgentState, active_calls: u16, capacity: u16) -> i64 {
    if active_calls >= capacity {
        i64::MAX
    } else {
        state.ready_at_ms()
    }
}

impl AgentPool {
    /// A pool of `agents`, indexed in the order given.
    pub fn new(agents: Vec<Agent>) -> Result<Self, AgentError> {
        let mut pool = Self::default();
        pool.reserve(agents.len());
        for agent in agents {
            pool.push(agent)?;
        }
        Ok(pool)
    }

    /// Reserves room for `additional` more agents.
    pub fn reserve(&mut self, additional: usize) {
        self.ids.reserve(additional);
        self.index_by_id.reserve(additional);
        self.skill_mask.reserve(additional);
        self.skill_start.reserve(additional);
        self.states.reserve(additional);
        self.active_calls.reserve(additional);
        self.capacity.reserve(additional);
        self.ready_at_ms.reserve(additional);
        self.free_fraction.reserve(additional);
        self.idle_since_ms.reserve(additional);
        self.calls_handled.reserve(additional);
    }

    /// Adds an agent at the next index and returns that index.
    ///
    /// Rejects capacity 0, proficiency outside `1..=5`, a skill listed twice and an id
    /// already in the pool; a rejected agent leaves the pool unchanged. A skill no agent
    /// had before gets a new id, which changes [`SkillRegistry::fingerprint`]: queues
    /// compiled earlier must be compiled again.
    pub fn push(&mut self, agent: Agent) -> Result<AgentIndex, AgentError> {
        let owner = || format!("agent `{}`", agent.id);
        if agent.capacity == 0 {
            return Err(AgentError::ZeroCapacity { agent: agent.id });
        }
        if self.index_by_id.contains_key(&agent.id) {
            return Err(AgentError::DuplicateAgent { agent: agent.id });
        }
        let mut new_skills = 0;
        for (k, s) in agent.skills.iter().enumerate() {
            check_proficiency(owner, &s.skill, s.level)?;
            if agent.skills[..k].iter().any(|t| t.skill == s.skill) {
                return Err(AgentError::DuplicateSkill {
                    owner: owner(),
                    skill: s.skill.clone(),
                });
            }
            new_skills += usize::from(self.skills.id(&s.skill).is_none());
        }
        if self.skills.len() + new_skills > SkillRegistry::LIMIT {
            return Err(AgentError::TooManySkills {
                limit: SkillRegistry::LIMIT,
            });
        }

        let first = self.skill_entries.len();
        let mut mask = 0u128;
        for s in &agent.skills {
            let id = self.skills.intern(&s.skill)?;
            mask |= id.bit();
            self.skill_entries.push((id, s.level));
        }
        self.skill_entries[first..].sort_unstable_by_key(|&(id, _)| id);
        self.skill_start.push(self.skill_entries.len());
        self.skill_mask.push(mask);

        let index = self.ids.len();
        self.index_by_id.insert(agent.id.clone(), index);
        self.ids.push(agent.id);
        self.states.push(agent.state);
        self.active_calls.push(agent.active_calls);
        self.capacity.push(agent.capacity);
        self.ready_at_ms
            .push(ready_at(agent.state, agent.active_calls, agent.capacity));
        self.free_fraction
            .push(free_fraction(agent.active_calls, agent.capacity));
        self.idle_since_ms.push(agent.idle_since_ms);
        self.calls_handled.push(agent.calls_handled);
        Ok(index)
    }

    /// Compiles a queue against this pool's skill ids (see [`CompiledQueue`]).
    pub fn compile_queue(&self, spec: &QueueSpec) -> Result<CompiledQueue, AgentError> {
        CompiledQueue::compile(spec, &self.skills)
    }

    // ---- presence updates (O(1), in place) ----

    /// Sets agent `i`'s state. Panics if `i` is out of range.
    pub fn set_state(&mut self, i: AgentIndex, state: AgentState) {
        self.states[i] = state;
        self.ready_at_ms[i] = ready_at(state, self.active_calls[i], self.capacity[i]);
    }

    /// Sets agent `i`'s active call count. Panics if `i` is out of range.
    pub fn set_active_calls(&mut self, i: AgentIndex, active_calls: u16) {
        self.active_calls[i] = active_calls;
        self.ready_at_ms[i] = ready_at(self.states[i], active_calls, self.capacity[i]);
        self.free_fraction[i] = free_fraction(active_calls, self.capacity[i]);
    }

    /// Sets when agent `i` became idle (unix ms). Panics if `i` is out of range.
    pub fn set_idle_since(&mut self, i: AgentIndex, idle_since_ms: i64) {
        self.idle_since_ms[i] = idle_since_ms;
    }

    /// Sets agent `i`'s handled-call count. Panics if `i` is out of range.
    pub fn set_calls_handled(&mut self, i: AgentIndex, calls_handled: u32) {
        self.calls_handled[i] = calls_handled;
    }

    // ---- getters (panic if `i` is out of range, like slice indexing) ----

    /// Number of agents.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the pool has no agents.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The skill names and ids of this pool.
    pub fn skills(&self) -> &SkillRegistry {
        &self.skills
    }

    /// Agent `i`'s id.
    pub fn id(&self, i: AgentIndex) -> &str {
        &self.ids[i]
    }

    /// The index of the agent with this id.
    pub fn index_of(&self, id: &str) -> Option<AgentIndex> {
        self.index_by_id.get(id).copied()
    }

    /// Agent `i`'s state.
    pub fn state(&self, i: AgentIndex) -> AgentState {
        self.states[i]
    }

    /// Agent `i`'s active calls.
    pub fn active_calls(&self, i: AgentIndex) -> u16 {
        self.active_calls[i]
    }

    /// Agent `i`'s capacity.
    pub fn capacity(&self, i: AgentIndex) -> u16 {
        self.capacity[i]
    }

    /// When agent `i` became idle (unix ms).
    pub fn idle_since_ms(&self, i: AgentIndex) -> i64 {
        self.idle_since_ms[i]
    }

    /// Calls agent `i` has handled.
    pub fn calls_handled(&self, i: AgentIndex) -> u32 {
        self.calls_handled[i]
    }

    /// Agent `i`'s skills and levels, in skill-id order.
    pub fn skills_of(&self, i: AgentIndex) -> impl ExactSizeIterator<Item = (&str, u8)> + '_ {
        self.entries(i)
            .iter()
            .map(|&(id, level)| (self.skills.name(id), level))
    }

    /// Agent `i`'s level in `skill`, if it has it.
    pub fn skill_level(&self, i: AgentIndex, skill: &str) -> Option<u8> {
        let id = self.skills.id(skill)?;
        self.entries(i)
            .iter()
            .find(|&&(s, _)| s == id)
            .map(|&(_, level)| level)
    }

    // ---- eligibility ----

    /// Whether agent `i` can take a call at `now_ms`: its state is available (or its
    /// wrap-up has ended) and `active_calls < capacity`. Skills are not considered.
    pub fn is_ready(&self, i: AgentIndex, now_ms: i64) -> bool {
        self.ready_at_ms[i] <= clamp_now(now_ms)
    }

    /// Whether agent `i`'s skills meet `req` (presence is not considered).
    pub fn meets(&self, i: AgentIndex, req: &Requirement) -> bool {
        req.is_satisfiable()
            && self.skill_mask[i] & req.mask == req.mask
            && self.meets_levels(i, req)
    }

    /// Whether agent `i` is eligible for `req` at `now_ms`: ready and meets it.
    pub fn is_eligible(&self, i: AgentIndex, req: &Requirement, now_ms: i64) -> bool {
        self.is_ready(i, now_ms) && self.meets(i, req)
    }

    /// The agents eligible for `req` at `now_ms`, except those in `exclude`, in index
    /// order. Does not allocate.
    pub fn eligible<'a>(
        &'a self,
        req: &'a Requirement,
        now_ms: i64,
        exclude: &'a [AgentIndex],
    ) -> Eligible<'a> {
        self.eligible_in(req, now_ms, exclude, 0..self.len())
    }

    /// Like [`eligible`](Self::eligible), over the indices in `range` only.
    pub(crate) fn eligible_in<'a>(
        &'a self,
        req: &'a Requirement,
        now_ms: i64,
        exclude: &'a [AgentIndex],
        range: Range<usize>,
    ) -> Eligible<'a> {
        Eligible {
            pool: self,
            req,
            candidates: self.candidates_in(req, now_ms, exclude, range),
        }
    }

    /// The agents that pass the cheap tests (ready, skill mask, not excluded) in index
    /// order; each still needs [`meets_levels`](Self::meets_levels).
    pub(crate) fn candidates<'a>(
        &'a self,
        req: &Requirement,
        now_ms: i64,
        exclude: &'a [AgentIndex],
    ) -> Candidates<'a> {
        self.candidates_in(req, now_ms, exclude, 0..self.len())
    }

    fn candidates_in<'a>(
        &'a self,
        req: &Requirement,
        now_ms: i64,
        exclude: &'a [AgentIndex],
        range: Range<usize>,
    ) -> Candidates<'a> {
        let end = if req.is_satisfiable() {
            range.end.min(self.len())
        } else {
            0
        };
        let start = range.start.min(end);
        Candidates {
            ready_at_ms: &self.ready_at_ms[start..end],
            skill_mask: &self.skill_mask[start..end],
            base: start,
            now_ms: clamp_now(now_ms),
            mask: req.mask,
            exclude,
            chunk: 0,
            next_chunk: 0,
            bits: 0,
        }
    }

    /// The exact skill check, after the mask prefilter has passed.
    pub(crate) fn meets_levels(&self, i: AgentIndex, req: &Requirement) -> bool {
        req.mask_is_exact || self.meets_exact(i, &req.needs)
    }

    fn entries(&self, i: AgentIndex) -> &[(SkillId, u8)] {
        &self.skill_entries[self.skill_start[i]..self.skill_start[i + 1]]
    }

    /// The exact skill check: a merge of two lists sorted by skill id.
    fn meets_exact(&self, i: AgentIndex, needs: &[Need]) -> bool {
        let mut have = self.entries(i).iter();
        'needs: for need in needs {
            for &(skill, level) in have.by_ref() {
                if skill == need.skill {
                    if level >= need.min {
                        continue 'needs;
                    }
                    return false;
                }
                if skill > need.skill {
                    return false;
                }
            }
            return false;
        }
        true
    }

    // ---- weighted-score components, each in 0..=1 ----

    /// Mean over `req`'s skills of how far agent `i`'s level exceeds the minimum, as a
    /// fraction of the possible excess (`(level - min) / (5 - min)`, 0 when `min` is 5).
    /// 0 when nothing is required. Assumes `meets(i, req)`.
    pub(crate) fn skill_fit(&self, i: AgentIndex, req: &Requirement) -> f64 {
        if req.needs.is_empty() {
            return 0.0;
        }
        let mut have = self.entries(i).iter();
        let mut sum = 0.0;
        for need in &req.needs {
            if let Some(&(_, level)) = have.by_ref().find(|&&(s, _)| s == need.skill) {
                sum += f64::from(level.saturating_sub(need.min)) * need.inv_span;
            }
        }
        sum / req.needs.len() as f64
    }

    /// Agent `i`'s idle time at `now_ms` as a fraction of `horizon_ms` (capped at 1).
    pub(crate) fn idle_fraction(&self, i: AgentIndex, now_ms: i64, horizon_ms: i64) -> f64 {
        let idle_ms = now_ms
            .saturating_sub(self.idle_since_ms[i])
            .clamp(0, horizon_ms);
        idle_ms as f64 / horizon_ms as f64
    }

    /// `1 - active_calls / capacity`, floored at 0.
    pub(crate) fn free_fraction(&self, i: AgentIndex) -> f64 {
        self.free_fraction[i]
    }
}

/// `i64::MAX` marks "never ready"; keep `now_ms` below it.
fn clamp_now(now_ms: i64) -> i64 {
    now_ms.min(i64::MAX - 1)
}

/// Iterator over eligible agents, from [`AgentPool::eligible`].
#[derive(Debug, Clone)]
pub struct Eligible<'a> {
    pool: &'a AgentPool,
    req: &'a Requirement,
    candidates: Candidates<'a>,
}

impl Iterator for Eligible<'_> {
    type Item = AgentIndex;

    fn next(&mut self) -> Option<AgentIndex> {
        let (pool, req) = (self.pool, self.req);
        self.candidates.find(|&i| pool.meets_levels(i, req))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.candidates.size_hint().1)
    }
}

impl FusedIterator for Eligible<'_> {}

/// Agents passing the cheap tests, found 64 at a time: each chunk of the `ready_at_ms`
/// and `skill_mask` columns becomes a bitset without a branch per agent (whether an
/// agent passes is close to random, so a branch would mispredict often), then the set
/// bits are walked.
#[derive(Debug, Clone)]
pub(crate) struct Candidates<'a> {
    ready_at_ms: &'a [i64],
    skill_mask: &'a [u128],
    /// Pool index of `ready_at_ms[0]`.
    base: usize,
    now_ms: i64,
    mask: u128,
    exclude: &'a [AgentIndex],
    /// Offset (into the slices) of the chunk `bits` describes.
    chunk: usize,
    next_chunk: usize,
    bits: u64,
}

impl Candidates<'_> {
    // `&` on purpose: no short-circuit branch inside the chunk loop.
    #[allow(clippy::needless_bitwise_bool)]
    fn load_next_chunk(&mut self) {
        let start = self.next_chunk;
        let stop = self.ready_at_ms.len().min(start + 64);
        let ready = &self.ready_at_ms[start..stop];
        let masks = &self.skill_mask[start..stop];
        let mut bits = 0u64;
        for (j, (&ready_at, &mask)) in ready.iter().zip(masks).enumerate() {
            let pass = (ready_at <= self.now_ms) & (mask & self.mask == self.mask);
            bits |= u64::from(pass) << j;
        }
        self.chunk = start;
        self.next_chunk = stop;
        self.bits = bits;
    }
}

impl Iterator for Candidates<'_> {
    type Item = AgentIndex;

    fn next(&mut self) -> Option<AgentIndex> {
        loop {
            while self.bits != 0 {
                let j = self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                let i = self.base + self.chunk + j;
                if !self.exclude.contains(&i) {
                    return Some(i);
                }
            }
            if self.next_chunk >= self.ready_at_ms.len() {
                return None;
            }
            self.load_next_chunk();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let rest = self.ready_at_ms.len() - self.next_chunk;
        (0, Some(rest + self.bits.count_ones() as usize))
    }
}

impl FusedIterator for Candidates<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> AgentPool {
        AgentPool::new(vec![
            Agent::new("a")
                .with_skill("spanish", 3)
                .with_skill("billing", 5),
            Agent::new("b").with_skill("billing", 1).with_capacity(2),
        ])
        .unwrap()
    }

    #[test]
    fn columns_round_trip_agent_values() {
        let p = pool();
        assert_eq!(p.len(), 2);
        assert_eq!(p.index_of("b"), Some(1));
        assert_eq!(p.id(1), "b");
        assert_eq!(p.capacity(1), 2);
        assert_eq!(p.skill_level(0, "billing"), Some(5));
        assert_eq!(p.skill_level(1, "spanish"), None);
        let mut skills: Vec<_> = p.skills_of(0).collect();
        skills.sort_unstable();
        assert_eq!(skills, [("billing", 5), ("spanish", 3)]);
        assert_eq!(p.skills().len(), 2);
    }

    #[test]
    fn invalid_agents_are_rejected_without_changing_the_pool() {
        let mut p = pool();
        let fp = p.skills().fingerprint();
        let bad = [
            (Agent::new("c").with_capacity(0), "capacity"),
            (Agent::new("a"), "duplicate id"),
            (Agent::new("c").with_skill("german", 6), "level 6"),
            (Agent::new("c").with_skill("german", 0), "level 0"),
            (
                Agent::new("c")
                    .with_skill("german", 2)
                    .with_skill("german", 3),
                "duplicate skill",
            ),
        ];
        for (agent, why) in bad {
            assert!(p.push(agent).is_err(), "{why}");
        }
        assert_eq!(p.len(), 2);
        assert_eq!(p.skills().fingerprint(), fp);
        assert_eq!(p.skills().id("german"), None);
        assert_eq!(
            p.push(Agent::new("a")),
            Err(AgentError::DuplicateAgent { agent: "a".into() })
        );
    }

    #[test]
    fn readiness_follows_state_capacity_and_wrap_up() {
        let mut p = pool();
        assert!(p.is_ready(0, 0));
        p.set_active_calls(0, 1);
        assert!(!p.is_ready(0, 0), "capacity 1 reached");
        p.set_active_calls(0, 0);
        p.set_state(0, AgentState::WrapUp { until_ms: 500 });
        assert!(!p.is_ready(0, 499));
        assert!(p.is_ready(0, 500));
        p.set_state(0, AgentState::Busy);
        assert!(
            !p.is_ready(0, i64::MAX),
            "busy is never ready, even at the end of time"
        );
        p.set_active_calls(1, 1);
        assert!(p.is_ready(1, 0), "capacity 2 leaves room");
    }

    #[test]
    fn components_stay_in_unit_range() {
        let mut p = pool();
        p.set_idle_since(0, 1_000);
        assert!((p.idle_fraction(0, 31_000, 60_000) - 0.5).abs() < 1e-12);
        assert!((p.idle_fraction(0, 999_000, 60_000) - 1.0).abs() < 1e-12);
        assert!(
            p.idle_fraction(0, 0, 60_000).abs() < 1e-12,
            "idle_since in the future"
        );
        p.set_active_calls(1, 1);
        assert!((p.free_fraction(1) - 0.5).abs() < 1e-12);
        p.set_active_calls(1, 3);
        assert!(p.free_fraction(1).abs() < 1e-12);
    }
}
