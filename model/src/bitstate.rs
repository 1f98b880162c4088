//! Bitstate hashing (Holzmann's "supertrace"): a breadth-first search for
//! state spaces larger than memory. The visited set is a table of `2^bits`
//! bits; a state is marked by setting `hashes` of them (double hashing of
//! its key bytes) and counts as seen when all of them are set. Two distinct
//! states can share all their bits, so a state may be wrongly taken as
//! seen and its successors never explored: a violation found is real (its
//! path replays), but "no violation" holds only up to the probability that
//! a state was missed, which [`BitstateSearch::miss_probability`] states.
//!
//! Memory: the bit table, the current and next BFS level as bytes, and a
//! parent link per state (8 bytes) so that a violation has a path.

use crate::search::{encode_key, marks_of, Identity, Interner, Watch};
use crate::search::{Limit, Limits, Stopped, LIMIT_CHECK_EVERY};
use crate::spec::Spec;
use serde::Serialize;
use std::time::Instant;

/// The bit table's size and the bits set per state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Bitstate {
    /// The table has `2^log2_bits` bits.
    pub log2_bits: u32,
    /// Bits set per state.
    pub hashes: u32,
}

impl Bitstate {
    /// The table sizes accepted: 1 KiB to 64 GiB of bits.
    pub const LOG2_BITS: std::ops::RangeInclusive<u32> = 13..=39;
    /// Three bits per state: Holzmann's recommendation (fewer misses than
    /// one or two until the table is nearly full).
    pub const HASHES: u32 = 3;

    /// A table of `2^log2_bits` bits, three hashes per state.
    pub fn new(log2_bits: u32) -> Self {
        Bitstate {
            log2_bits,
            hashes: Self::HASHES,
        }
    }

    /// The table's size in bytes.
    pub fn bytes(self) -> u64 {
        (1u64 << self.log2_bits) / 8
    }
}

/// What a bitstate search found.
pub struct BitstateSearch<S: Spec> {
    pub bitstate: Bitstate,
    /// States stored (each set at least one new bit).
    pub states: usize,
    /// Per watched condition, a path to the first state found where it
    /// holds (the shallowest found; a shallower one may have been missed).
    pub first: Vec<Option<Vec<S::Action>>>,
    /// The estimated number of reachable states taken for one already seen
    /// and so not explored: each new state is at risk with probability
    /// `fill^hashes`, the table's fill when it was stored (hashes taken as
    /// independent), summed over the states stored.
    pub expected_misses: f64,
    /// The estimated probability that some state was missed: `1 -
    /// exp(-expected_misses)` (misses as rare independent events).
    pub miss_probability: f64,
    /// The fraction of the table's bits set at the end.
    pub fill: f64,
    /// `Some` when a limit stopped the search.
    pub stopped: Option<Stopped>,
}

/// The visited set: `2^log2_bits` bits.
struct Table {
    words: Vec<u64>,
    mask: u64,
    hashes: u32,
    set: u64,
    hasher: (ahash::RandomState, ahash::RandomState),
}

impl Table {
    fn new(bitstate: Bitstate) -> Self {
        let bits = 1u64 << bitstate.log2_bits;
        Table {
            words: vec![0; (bits / 64).max(1) as usize],
            mask: bits - 1,
            hashes: bitstate.hashes,
            set: 0,
            // Two independent seeded hashes for double hashing (not the
            // visited set's unseeded one).
            hasher: (
                ahash::RandomState::with_seeds(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344),
                ahash::RandomState::with_seeds(0x9e37_79b9, 0x7f4a_7c15, 0xf39c_c060, 0x5ced_c834),
            ),
        }
    }

    /// `key`'s bits: word and mask of each (double hashing).
    fn bits(&self, key: &[u8]) -> impl Iterator<Item = (usize, u64)> {
        let h1 = self.hasher.0.hash_one(key);
        let h2 = self.hasher.1.hash_one(key) | 1;
        let mask = self.mask;
        (0..u64::from(self.hashes)).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) & mask;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    /// Sets `key`'s bits; true when one of them was not set (a new state).
    fn insert(&mut self, key: &[u8]) -> bool {
        let mut new = false;
        for (word, mask) in self.bits(key) {
            if self.words[word] & mask == 0 {
                self.words[word] |= mask;
                self.set += 1;
                new = true;
            }
        }
        new
    }

    /// Whether all of `key`'s bits are set (it counts as seen).
    fn contains(&self, key: &[u8]) -> bool {
        self.bits(key)
            .all(|(word, mask)| self.words[word] & mask != 0)
    }

    fn fill(&self) -> f64 {
        self.set as f64 / (self.mask as f64 + 1.0)
    }
}

/// A BFS level: its states' ids and encodings.
#[derive(Default)]
struct Level {
    ids: Vec<u32>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Level {
    fn push(&mut self, id: u32, state: &[u8]) {
        self.ids.push(id);
        self.bytes.extend_from_slice(state);
        self.ends.push(self.bytes.len());
    }

    fn state(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// The search under way.
struct Search<'a, S: Spec> {
    spec: &'a S,
    identity: Identity,
    watches: &'a [Watch<'a, S>],
    table: Table,
    parent: Vec<u32>,
    parent_action: Vec<u32>,
    actions: Interner<S::Action>,
    first: Vec<Option<u32>>,
    miss: f64,
    next: Level,
    key: Vec<u8>,
    moved: Vec<u8>,
    member: Vec<u8>,
}

const NO_PARENT: u32 = u32::MAX;

impl<S: Spec> Search<'_, S> {
    /// Stores `state` if its bits say it is new.
    fn discover(&mut self, state: &S::State, parent: Option<(u32, &S::Action)>) {
        encode_key::<S>(self.identity, state, &mut self.key, &mut self.moved);
        let fill = self.table.fill();
        if !self.table.insert(&self.key) {
            return;
        }
        self.miss += fill.powi(self.table.hashes as i32);
        let id = u32::try_from(self.parent.len())
            .ok()
            .filter(|&id| id != NO_PARENT)
            .expect("fewer than 2^32 - 1 states");
        let (from, action) = match parent {
            Some((from, action)) => (from, self.actions.intern(action)),
            None => (NO_PARENT, 0),
        };
        self.parent.push(from);
        self.parent_action.push(action);
        let mut marks = marks_of::<S>(self.watches, state);
        while marks != 0 {
            let w = marks.trailing_zeros() as usize;
            self.first[w].get_or_insert(id);
            marks &= marks - 1;
        }
        S::encode_state(state, &mut self.member);
        self.next.push(id, &self.member);
    }

    fn path_to(&self, mut at: u32) -> Vec<S::Action> {
        let mut actions = Vec::new();
        while self.parent[at as usize] != NO_PARENT {
            actions.push(self.actions.get(self.parent_action[at as usize]).clone());
            at = self.parent[at as usize];
        }
        actions.reverse();
        actions
    }

    fn all_found(&self) -> bool {
        !self.first.is_empty() && self.first.iter().all(Option::is_some)
    }
}

/// Explores `spec` breadth-first under `identity` with a bit table as the
/// visited set, marking where each of `watches` holds first; stops early
/// once every watch has been found, or at `limits` (the depth bound, the
/// clock, the memory guard; `max_states` counts stored states).
pub fn bitstate_search<S: Spec>(
    spec: &S,
    identity: Identity,
    bitstate: Bitstate,
    limits: Limits,
    watches: &[Watch<'_, S>],
    progress: &mut dyn FnMut(usize),
) -> BitstateSearch<S> {
    let mut search = Search {
        spec,
        identity,
        watches,
        table: Table::new(bitstate),
        parent: Vec::new(),
        parent_action: Vec::new(),
        actions: Interner::default(),
        first: vec![None; watches.len()],
        miss: 0.0,
        next: Level::default(),
        key: Vec::new(),
        moved: Vec::new(),
        member: Vec::new(),
    };
    for init in spec.init_states() {
        search.discover(&init, None);
    }
    let stopped = run_levels(&mut search, limits, progress);
    progress(search.parent.len());
    BitstateSearch {
        bitstate,
        states: search.parent.len(),
        first: search
            .first
            .iter()
            .map(|f| f.map(|id| search.path_to(id)))
            .collect(),
        expected_misses: search.miss,
        miss_probability: 1.0 - (-search.miss).exp(),
        fill: search.table.fill(),
        stopped,
    }
}

/// Expands level after level until none is left, every watch is found, or
/// a limit stops it (which it returns).
fn run_levels<S: Spec>(
    search: &mut Search<'_, S>,
    limits: Limits,
    progress: &mut dyn FnMut(usize),
) -> Option<Stopped> {
    let mut depth = 0;
    let mut expanded = 0usize;
    while !search.next.ids.is_empty() && !search.all_found() {
        let level = std::mem::take(&mut search.next);
        if limits.max_depth == Some(depth) {
            let cut = beyond(search, &level);
            return cut.then(|| stopped(search, Limit::MaxDepth(depth), depth));
        }
        for i in 0..level.ids.len() {
            if let Some(limit) = limit_reached(search, &limits, expanded) {
                return Some(stopped(search, limit, depth));
            }
            expanded += 1;
            let state = S::decode_state(level.state(i));
            for (action, next) in search.spec.successors(&state) {
                search.discover(&next, Some((level.ids[i], &action)));
            }
            if expanded.is_multiple_of(4096) {
                progress(search.parent.len());
            }
        }
        depth += 1;
    }
    None
}

/// Whether a state of `level` (at the depth bound) has a successor whose
/// bits are not all set: the bound cut the search short.
fn beyond<S: Spec>(search: &mut Search<'_, S>, level: &Level) -> bool {
    (0..level.ids.len()).any(|i| {
        let state = S::decode_state(level.state(i));
        search.spec.successors(&state).iter().any(|(_, next)| {
            encode_key::<S>(search.identity, next, &mut search.key, &mut search.moved);
            !search.table.contains(&search.key)
        })
    })
}

/// How far a search stopped while expanding the states at `depth` got:
/// every state up to `depth` was discovered.
fn stopped<S: Spec>(search: &Search<'_, S>, limit: Limit, depth: usize) -> Stopped {
    Stopped {
        limit,
        states: search.parent.len(),
        complete_to_depth: depth,
    }
}

fn limit_reached<S: Spec>(
    search: &Search<'_, S>,
    limits: &Limits,
    expanded: usize,
) -> Option<Limit> {
    if let Some(max) = limits.max_states.filter(|&m| search.parent.len() >= m) {
        return Some(Limit::MaxStates(max));
    }
    if !expanded.is_multiple_of(LIMIT_CHECK_EVERY) {
        return None;
    }
    if let Some((deadline, limit)) = limits.deadline {
        if Instant::now() >= deadline {
            return Some(Limit::MaxSeconds(limit.as_secs_f64()));
        }
    }
    let max = limits.max_memory?;
    (crate::search::resident_memory_bytes()? >= max).then_some(Limit::MaxMemory(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Parallel, StateGraph};
    use crate::timer_free::{TimerFree, TimerFreeState};
    use crate::PropertyKind;
    use patches::Preset;
    use std::collections::BTreeMap;

    fn timer_free(preset: Preset) -> TimerFree {
        TimerFree::new(preset.patches(), &BTreeMap::new()).unwrap()
    }

    type Condition<'a> = Box<dyn Fn(&TimerFreeState) -> bool + Sync + 'a>;

    /// The violation of each `always` property, as conditions to watch.
    fn violations(spec: &TimerFree) -> Vec<Condition<'_>> {
        spec.properties()
            .into_iter()
            .filter(|p| p.kind == PropertyKind::Always)
            .map(|p| -> Condition<'_> { Box::new(move |s| !(p.condition)(spec, s)) })
            .collect()
    }

    #[test]
    fn a_roomy_table_finds_what_the_exact_search_finds() {
        for preset in Preset::ALL {
            let spec = timer_free(preset);
            let conditions = violations(&spec);
            let watches: Vec<Watch<'_, TimerFree>> = conditions.iter().map(|c| &**c as _).collect();
            let exact = StateGraph::explore_parallel(
                &spec,
                Identity::Symmetric,
                Limits::NONE,
                &watches,
                Parallel::threads(1),
                &mut |_| {},
            );
            let bits = bitstate_search(
                &spec,
                Identity::Symmetric,
                Bitstate::new(22),
                Limits::NONE,
                &watches,
                &mut |_| {},
            );
            for (w, found) in bits.first.iter().enumerate() {
                let expected = exact.first_marked(w).map(|id| exact.path_to(id).len());
                assert_eq!(found.as_ref().map(Vec::len), expected, "{preset} watch {w}");
            }
            // Holding everywhere, it explored every class, and says how
            // unlikely a miss was.
            if bits.first.iter().all(Option::is_none) {
                assert_eq!(bits.states, exact.len(), "{preset}");
            }
            assert!(bits.miss_probability < 1e-3, "{}", bits.miss_probability);
        }
    }

    #[test]
    fn a_small_table_misses_states_and_says_it_likely_did() {
        let spec = timer_free(Preset::Proposed);
        let exact = StateGraph::explore_as(&spec, Identity::Symmetric, &mut |_| {});
        let bits = bitstate_search(
            &spec,
            Identity::Symmetric,
            Bitstate::new(13),
            Limits::NONE,
            &[],
            &mut |_| {},
        );
        assert!(
            bits.states < exact.len(),
            "{} of {}",
            bits.states,
            exact.len()
        );
        assert!(bits.miss_probability > 0.5, "{}", bits.miss_probability);
        // Fewer states stored than exist: the estimate says more than one
        // was missed.
        assert!(bits.expected_misses > 1.0, "{}", bits.expected_misses);
        assert!(bits.fill > 0.5, "{}", bits.fill);
    }

    #[test]
    fn a_depth_bound_stops_the_search_and_says_so() {
        let spec = timer_free(Preset::Proposed);
        let bits = bitstate_search(
            &spec,
            Identity::Symmetric,
            Bitstate::new(20),
            Limits {
                max_depth: Some(3),
                ..Limits::NONE
            },
            &[],
            &mut |_| {},
        );
        let stopped = bits.stopped.expect("proposed goes deeper than 3");
        assert_eq!(stopped.limit, Limit::MaxDepth(3));
        assert_eq!(stopped.complete_to_depth, 3);
    }
}
