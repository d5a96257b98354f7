//! [`AgentPool`]: the columnar snapshot of agents that selection scans.
//!
//! Selection among thousands of agents is a scan, so the pool stores each attribute in
//! its own `Vec` (a column) indexed by [`AgentIndex`]: the scan touches only the columns
//! it needs, in order, without chasing pointers. Eligibility is decided 64 agents at a
//! time on bitsets, so the agents that fail it cost nothing each:
//! - per skill, the agents that have it (at any level), as a sparse bitset (only the
//!   nonzero 64-agent words: a common skill costs 12 bytes per 64 agents, a rare one 12
//!   bytes per holder). Skills never change in place, so these are built by
//!   [`push`](AgentPool::push) only; a requirement intersects the bitsets of its skills;
//! - readiness, from the derived `ready_at_ms` column (the earliest time the agent can
//!   take a call given state and load: `i64::MIN` available, `until_ms` in wrap-up,
//!   `i64::MAX` busy/away/offline or full), kept as two bitsets in step with it: ready at
//!   any time (`i64::MIN`), and ready from a finite time (wrap-up), whose agents alone
//!   compare their time with `now_ms`.
//!
//! Only the set bits of `skills & ready & !excluded` are visited. Levels above 1 are
//! checked exactly (a merge of the agent's `(skill, level)` entries, kept sorted by skill
//! id, with the requirement) by the strategy, after its cheap key says the agent could win.
//!
//! The server owns the pool. It updates presence in place with the `set_*` methods (O(1))
//! and publishes clones as immutable snapshots; it rebuilds the pool when agents leave or
//! change skills, then recompiles its queues (see [`CompiledQueue::is_compiled_for`]).

use std::collections::HashMap;
use std::iter::FusedIterator;
use std::ops::Range;

use super::skills::{check_proficiency, Need, Requirement, SkillId, SkillRegistry};
use super::{Agent, AgentError, AgentIndex, AgentState, CompiledQueue, QueueSpec};

/// The agents that have one skill: a sparse bitset of 64-agent words, ascending, only the
/// nonzero ones (`bits[k]` are the agents `64 * words[k]..` that have it).
#[derive(Debug, Clone, Default)]
struct Holders {
    words: Vec<u32>,
    bits: Vec<u64>,
}

/// No agent: the holders of a skill id the pool does not know.
static NOBODY: Holders = Holders {
    words: Vec::new(),
    bits: Vec::new(),
};

impl Holders {
    /// Adds agent `i`, which is after every agent already in the set.
    fn append(&mut self, i: AgentIndex) {
        let word = (i / 64) as u32;
        let bit = 1u64 << (i % 64);
        match (self.words.last(), self.bits.last_mut()) {
            (Some(&last), Some(bits)) if last == word => *bits |= bit,
            _ => {
                self.words.push(word);
                self.bits.push(bit);
            }
        }
    }

    /// The first position whose word is at least `word`.
    fn seek(&self, word: usize) -> usize {
        self.words.partition_point(|&w| (w as usize) < word)
    }
}

/// A snapshot of agents, stored by column for fast selection.
///
/// Agents keep the index they were pushed at ([`AgentIndex`]) for the pool's lifetime.
#[derive(Debug, Clone)]
pub struct AgentPool {
    ids: Vec<String>,
    index_by_id: HashMap<String, AgentIndex>,
    skills: SkillRegistry,
    /// `holders[skill id]`: the agents with that skill.
    holders: Vec<Holders>,
    /// Agent `i`'s skills are `skill_entries[skill_start[i]..skill_start[i + 1]]`.
    skill_start: Vec<usize>,
    skill_entries: Vec<(SkillId, u8)>,
    states: Vec<AgentState>,
    active_calls: Vec<u16>,
    capacity: Vec<u16>,
    ready_at_ms: Vec<i64>,
    /// Bit `i % 64` of word `i / 64`: `ready_at_ms[i] == i64::MIN` (ready whenever).
    ready_always: Vec<u64>,
    /// Bit `i % 64` of word `i / 64`: `ready_at_ms[i]` is a time (neither `i64::MIN` nor
    /// `i64::MAX`), to compare with `now_ms`.
    ready_timed: Vec<u64>,
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
            holders: Vec::new(),
            skill_start: vec![0],
            skill_entries: Vec::new(),
            states: Vec::new(),
            active_calls: Vec::new(),
            capacity: Vec::new(),
            ready_at_ms: Vec::new(),
            ready_always: Vec::new(),
            ready_timed: Vec::new(),
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

/// `idle_ms` (already clamped to `0..=horizon_ms`) as a fraction of `horizon_ms`. The
/// one place this division is written, so that bounds computed from an idle time agree
/// to the bit with agents' scores.
pub(crate) fn idle_fraction_of(idle_ms: i64, horizon_ms: i64) -> f64 {
    idle_ms as f64 / horizon_ms as f64
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
        self.skill_start.reserve(additional);
        self.states.reserve(additional);
        self.active_calls.reserve(additional);
        self.capacity.reserve(additional);
        self.ready_at_ms.reserve(additional);
        self.ready_always.reserve(additional / 64 + 1);
        self.ready_timed.reserve(additional / 64 + 1);
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

        let index = self.ids.len();
        let first = self.skill_entries.len();
        for s in &agent.skills {
            let id = self.skills.intern(&s.skill)?;
            self.skill_entries.push((id, s.level));
        }
        self.holders
            .resize_with(self.skills.len(), Holders::default);
        for &(id, _) in &self.skill_entries[first..] {
            self.holders[usize::from(id.get())].append(index);
        }
        self.skill_entries[first..].sort_unstable_by_key(|&(id, _)| id);
        self.skill_start.push(self.skill_entries.len());

        self.index_by_id.insert(agent.id.clone(), index);
        self.ids.push(agent.id);
        self.states.push(agent.state);
        self.active_calls.push(agent.active_calls);
        self.capacity.push(agent.capacity);
        if index.is_multiple_of(64) {
            self.ready_always.push(0);
            self.ready_timed.push(0);
        }
        self.ready_at_ms.push(i64::MAX);
        self.set_ready_at(
            index,
            ready_at(agent.state, agent.active_calls, agent.capacity),
        );
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
        self.set_ready_at(i, ready_at(state, self.active_calls[i], self.capacity[i]));
    }

    /// Sets agent `i`'s active call count. Panics if `i` is out of range.
    pub fn set_active_calls(&mut self, i: AgentIndex, active_calls: u16) {
        self.active_calls[i] = active_calls;
        self.set_ready_at(i, ready_at(self.states[i], active_calls, self.capacity[i]));
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

    /// Sets `ready_at_ms[i]` and its bits in `ready_always` and `ready_timed`.
    fn set_ready_at(&mut self, i: AgentIndex, ready_at_ms: i64) {
        self.ready_at_ms[i] = ready_at_ms;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let always = ready_at_ms == i64::MIN;
        let timed = !always && ready_at_ms != i64::MAX;
        self.ready_always[word] =
            (self.ready_always[word] & !bit) | (u64::from(always) << (i % 64));
        self.ready_timed[word] = (self.ready_timed[word] & !bit) | (u64::from(timed) << (i % 64));
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
        req.is_satisfiable() && self.meets_exact(i, &req.needs)
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

    /// The agents that are ready, have `req`'s skills and are not excluded, in index
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
        let mut lists = [&NOBODY; MAX_BITSET_NEEDS];
        let filtered = req.needs.len().min(MAX_BITSET_NEEDS);
        for (list, need) in lists.iter_mut().zip(&req.needs) {
            *list = self
                .holders
                .get(usize::from(need.skill.get()))
                .unwrap_or(&NOBODY);
        }
        // The sparsest list drives: the others are only looked up at its words.
        if let Some(sparsest) = (0..filtered).min_by_key(|&k| lists[k].words.len()) {
            lists.swap(0, sparsest);
        }
        let (first_word, end_word) = (start / 64, end.div_ceil(64));
        let mut cursors = [0; MAX_BITSET_NEEDS];
        for (cursor, list) in cursors.iter_mut().zip(&lists[..filtered]) {
            *cursor = list.seek(first_word);
        }
        Candidates {
            pool: self,
            lists,
            filtered,
            cursors,
            next_word: first_word,
            start,
            end,
            end_word: if start < end { end_word } else { first_word },
            now_ms: clamp_now(now_ms),
            exclude,
            word: 0,
            bits: 0,
        }
    }

    /// The exact skill check, for an agent that has all of `req`'s skills.
    pub(crate) fn meets_levels(&self, i: AgentIndex, req: &Requirement) -> bool {
        req.skills_suffice || self.meets_exact(i, &req.needs)
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

    /// Agent `i`'s idle time at `now_ms`, in ms, clamped to `0..=horizon_ms`.
    pub(crate) fn idle_ms(&self, i: AgentIndex, now_ms: i64, horizon_ms: i64) -> i64 {
        now_ms
            .saturating_sub(self.idle_since_ms[i])
            .clamp(0, horizon_ms)
    }

    /// Agent `i`'s idle time at `now_ms` as a fraction of `horizon_ms` (capped at 1).
    pub(crate) fn idle_fraction(&self, i: AgentIndex, now_ms: i64, horizon_ms: i64) -> f64 {
        idle_fraction_of(self.idle_ms(i, now_ms, horizon_ms), horizon_ms)
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

/// At most this many of a requirement's skills are intersected as bitsets; the exact
/// check covers any further ones (see [`Requirement`]'s `skills_suffice`).
pub(crate) const MAX_BITSET_NEEDS: usize = 8;

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
}

impl FusedIterator for Eligible<'_> {}

/// Agents that are ready, have the required skills and are not excluded, found 64 at a
/// time: a word of the sparsest skill's bitset, and-ed with the other skills' words at
/// that position, the range, readiness and exclusions, then its set bits are walked.
/// Only agents in wrap-up compare a time; nothing is decided by a branch per agent
/// except for the agents that pass.
#[derive(Debug, Clone)]
pub(crate) struct Candidates<'a> {
    pool: &'a AgentPool,
    /// The holders of the first `filtered` required skills, the sparsest first.
    lists: [&'a Holders; MAX_BITSET_NEEDS],
    filtered: usize,
    /// Per list, the position of the first word not yet passed.
    cursors: [usize; MAX_BITSET_NEEDS],
    /// Without required skills: the next word to look at.
    next_word: usize,
    /// The agents considered: `start..end`, in words `start / 64..end_word`.
    start: usize,
    end: usize,
    end_word: usize,
    now_ms: i64,
    exclude: &'a [AgentIndex],
    /// The word `bits` belongs to, and its candidates not yet returned.
    word: usize,
    bits: u64,
}

impl Candidates<'_> {
    /// The next word with a candidate, and its candidates.
    fn next_candidates(&mut self) -> Option<(usize, u64)> {
        loop {
            let (word, mut bits) = if self.filtered == 0 {
                if self.next_word >= self.end_word {
                    return None;
                }
                self.next_word += 1;
                (self.next_word - 1, u64::MAX)
            } else {
                let driver = self.lists[0];
                let k = self.cursors[0];
                let word = match driver.words.get(k) {
                    Some(&w) if (w as usize) < self.end_word => w as usize,
                    _ => return None,
                };
                self.cursors[0] = k + 1;
                (word, driver.bits[k])
            };
            let others = self.lists.iter().zip(&mut self.cursors);
            for (list, cursor) in others.take(self.filtered).skip(1) {
                if bits == 0 {
                    break;
                }
                while list
                    .words
                    .get(*cursor)
                    .is_some_and(|&w| (w as usize) < word)
                {
                    *cursor += 1;
                }
                bits &= match list.words.get(*cursor) {
                    Some(&w) if w as usize == word => list.bits[*cursor],
                    _ => 0,
                };
            }
            if word == self.start / 64 {
                bits &= u64::MAX << (self.start % 64);
            }
            if word + 1 == self.end_word && !self.end.is_multiple_of(64) {
                bits &= (1u64 << (self.end % 64)) - 1;
            }
            if bits == 0 {
                continue;
            }
            let pool = self.pool;
            let mut ready = pool.ready_always[word];
            let mut timed = bits & pool.ready_timed[word];
            while timed != 0 {
                let j = timed.trailing_zeros();
                timed &= timed - 1;
                let on_time = pool.ready_at_ms[word * 64 + j as usize] <= self.now_ms;
                ready |= u64::from(on_time) << j;
            }
            bits &= ready;
            for &x in self.exclude {
                if x / 64 == word {
                    bits &= !(1u64 << (x % 64));
                }
            }
            if bits != 0 {
                return Some((word, bits));
            }
        }
    }
}

impl Iterator for Candidates<'_> {
    type Item = AgentIndex;

    #[inline]
    fn next(&mut self) -> Option<AgentIndex> {
        if self.bits == 0 {
            (self.word, self.bits) = self.next_candidates()?;
        }
        let j = self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(self.word * 64 + j)
    }
}

impl FusedIterator for Candidates<'_> {}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
