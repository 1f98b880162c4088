//! The suite's one breadth-first search of a spec's reachable states
//! (stateright's own checkers aside; they are the cross-check). It gives the
//! explored state graph the fair-lasso checker works on, shortest paths to a
//! state, and the `always` verdicts that checker findings on the real relay
//! are compared with.
//!
//! States get ids in the order they are discovered, which is the order they
//! are expanded, so the BFS queue is a cursor over the ids and the first
//! state found with some quality is one with a shortest path.

use crate::spec::{Property, PropertyKind, Spec};
use crate::trace::Verdict;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use serde::Serialize;
use smallvec::SmallVec;
use std::hash::{BuildHasher, Hash};

mod parallel;
pub use parallel::Parallel;
use std::time::{Duration, Instant};

/// Where a search stops before it has explored every reachable state
/// (`chukei check --max-states/--max-depth/--max-seconds/--max-memory`).
/// A search stopped by one says so ([`StateGraph::stopped`]); what it did
/// not explore it cannot vouch for, so its users report such a property
/// as inconclusive, never as holding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Stop once this many states (classes) are discovered.
    pub max_states: Option<usize>,
    /// Expand no state this many actions from an initial state.
    pub max_depth: Option<usize>,
    /// Stop at this instant; the duration is the limit as given, for the
    /// message.
    pub deadline: Option<(Instant, Duration)>,
    /// Stop once the process's resident memory reaches this many bytes.
    pub max_memory: Option<u64>,
}

impl Limits {
    /// No limit: explore every reachable state.
    pub const NONE: Limits = Limits {
        max_states: None,
        max_depth: None,
        deadline: None,
        max_memory: None,
    };
}

/// Which limit stopped a search, with its value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "name", content = "value", rename_all = "kebab-case")]
pub enum Limit {
    MaxStates(usize),
    MaxDepth(usize),
    MaxSeconds(f64),
    /// Bytes of resident memory.
    MaxMemory(u64),
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::MaxStates(n) => write!(f, "--max-states {n}"),
            Limit::MaxDepth(n) => write!(f, "--max-depth {n}"),
            Limit::MaxSeconds(s) => write!(f, "--max-seconds {s}"),
            Limit::MaxMemory(bytes) => write!(f, "--max-memory {} (MB)", bytes / 1_000_000),
        }
    }
}

/// How far a search got before a limit stopped it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stopped {
    pub limit: Limit,
    /// States (classes) discovered and checked.
    pub states: usize,
    /// Every state this many actions or fewer from an initial state was
    /// discovered (and so checked).
    pub complete_to_depth: usize,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped by {} after {} states; every state within {} steps of the start was checked",
            self.limit, self.states, self.complete_to_depth
        )
    }
}

/// How often (in expanded states) the clock and the memory are looked at.
pub(crate) const LIMIT_CHECK_EVERY: usize = 1024;

/// The process's resident memory now, where the OS tells it (Linux:
/// `VmRSS` in /proc/self/status).
pub fn resident_memory_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// The memory the OS could give this process now without swapping (Linux:
/// `MemAvailable` in /proc/meminfo).
pub fn available_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&meminfo, "MemAvailable:").map(|kib| kib * 1024)
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, field)
}

fn kib_field(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Which states a search treats as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Equal states only: the graph stateright's BFS explores.
    Exact,
    /// States with the same [`Spec::representative`] (identical processes
    /// permuted): fewer states, the same verdicts. The first state found of
    /// each class stands for it.
    Symmetric,
    /// As `Symmetric`, but the first process stays where it is and only the
    /// others are permuted: the classes a property that follows the first
    /// process (`Property::about_one_process`) is the same on.
    SymmetricButFirst,
}

impl Identity {
    /// The processes a class may permute start at this one.
    pub fn fixed_processes(self) -> usize {
        match self {
            Identity::SymmetricButFirst => 1,
            _ => 0,
        }
    }
}

/// The permutation that sorts `state`'s processes from `fixed` on
/// ([`Spec::compare_processes`]), the first `fixed` staying in place:
/// process `i` moves to position `p[i]`.
pub fn sorting<S: Spec>(state: &S::State, fixed: usize) -> Vec<usize> {
    sorting_inline::<S>(state, fixed).into_vec()
}

/// [`sorting`] with no allocation for a few processes (a search sorts
/// most states it finds).
fn sorting_inline<S: Spec>(state: &S::State, fixed: usize) -> SmallVec<[usize; 8]> {
    let n = S::processes(state);
    let mut order: SmallVec<[usize; 8]> = (0..n).collect();
    if fixed < n {
        order[fixed..].sort_by(|&i, &j| S::compare_processes(state, i, j));
    }
    let mut to = SmallVec::from_elem(0, n);
    for (position, &i) in order.iter().enumerate() {
        to[i] = position;
    }
    to
}

/// The size of `state`'s orbit: the permutations of its processes that
/// differ (n! over the ways to reorder equal processes).
pub fn orbit_size<S: Spec>(state: &S::State) -> u64 {
    let n = S::processes(state);
    // The classes' members are mostly sorted already (a canonical one
    // always is): then the neighbours' comparisons are all it takes.
    let mut unsorted = false;
    let neighbours = (1..n).map(|i| S::compare_processes(state, i - 1, i));
    let size = orbit_of_runs(
        n,
        neighbours.map(|o| {
            unsorted |= o.is_gt();
            o.is_eq()
        }),
    );
    if !unsorted {
        return size;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| S::compare_processes(state, i, j));
    let same = |w: &[usize]| S::compare_processes(state, w[0], w[1]).is_eq();
    orbit_of_runs(n, order.windows(2).map(same))
}

/// Moves `processes` in place so that process `i` ends at position
/// `to[i]`, cycle by cycle, with no copy: how a spec permutes a state it
/// owns ([`Spec::permute_owned`]).
pub fn permute_in_place<T>(processes: &mut [T], to: &[usize]) {
    // `target[p]`: where the process now at position `p` goes.
    let mut target: SmallVec<[usize; 8]> = SmallVec::from_slice(to);
    // Borrowed once: not asked for each swap whether they are inline.
    let target = &mut target[..];
    for p in 0..target.len() {
        while target[p] != p {
            let q = target[p];
            processes.swap(p, q);
            target.swap(p, q);
        }
    }
}

/// The inverse of a permutation given as each process's new position
/// (process `i` to position `to[i]`): the process that ends at each
/// position.
pub(crate) fn inverse(to: impl ExactSizeIterator<Item = usize>) -> SmallVec<[usize; 8]> {
    let mut at = SmallVec::from_elem(0, to.len());
    for (i, p) in to.enumerate() {
        at[p] = i;
    }
    at
}

/// The permutation a sort of process keys moved them by, as
/// [`Spec::encode_representative`] gives it: `from(p)` is the process
/// sorted to position `p`; into `moved` (cleared), process `i`'s new
/// position as a byte, left empty when none moved.
// Inlined: asked for every successor's key (out of line, 1% more
// instructions on timer-free w3t4).
#[inline]
pub(crate) fn moved_by(n: usize, from: impl Fn(usize) -> usize, moved: &mut Vec<u8>) {
    moved.clear();
    if (0..n).all(|p| from(p) == p) {
        return;
    }
    moved.resize(n, 0);
    for p in 0..n {
        moved[from(p)] = p as u8;
    }
}

/// n! over the factorials of the runs of equal processes, given whether
/// each process in sorted order equals the one before it. The factorials
/// are looked up, not multiplied out: a search asks this of every class it
/// stores.
pub fn orbit_of_runs(n: usize, equal_neighbours: impl Iterator<Item = bool>) -> u64 {
    let factorial = |k: usize| FACTORIALS[k];
    let mut size = factorial(n);
    let mut run = 1;
    for equal in equal_neighbours {
        if equal {
            run += 1;
        } else {
            size /= factorial(run);
            run = 1;
        }
    }
    size / factorial(run)
}

/// 0! to 20!, every factorial a `u64` holds (an orbit of more processes
/// would not fit either).
const FACTORIALS: [u64; 21] = {
    let mut table = [1; 21];
    let mut k = 1;
    while k < table.len() {
        table[k] = table[k - 1] * k as u64;
        k += 1;
    }
    table
};

/// `state`'s key under `identity` (itself, or its class's canonical
/// member), encoded into `buf`; into `moved`, the permutation that sorted
/// it (a byte per process, process `i` to `moved[i]`), left empty when it
/// is the identity: the canonical member and it give the state back
/// ([`Store::member`]), so a class stores its first-found member in a few
/// bytes.
pub fn encode_key<S: Spec>(
    identity: Identity,
    state: &S::State,
    buf: &mut Vec<u8>,
    moved: &mut Vec<u8>,
) {
    moved.clear();
    if identity == Identity::Exact {
        return S::encode_state(state, buf);
    }
    S::encode_representative(state, identity.fixed_processes(), buf, moved);
}

/// [`Spec::encode_representative`] by [`Spec::compare_processes`] and
/// [`Spec::encode_permuted`].
pub(crate) fn encode_sorted<S: Spec>(
    state: &S::State,
    fixed: usize,
    buf: &mut Vec<u8>,
    moved: &mut Vec<u8>,
) {
    moved.clear();
    // Most states are found in order already: no permutation to compute.
    let n = S::processes(state);
    let sorted =
        (fixed..n.saturating_sub(1)).all(|i| S::compare_processes(state, i, i + 1).is_le());
    if sorted {
        return S::encode_state(state, buf);
    }
    let to = sorting_inline::<S>(state, fixed);
    S::encode_permuted(state, &to, buf);
    if to.iter().enumerate().any(|(i, &t)| i != t) {
        let byte = |&t: &usize| u8::try_from(t).expect("fewer than 256 processes");
        moved.extend(to.iter().map(byte));
    }
}

/// The keys of a state's successors ([`Spec::successors_with_keys`]),
/// each with the permutation that sorted it ([`encode_key`]): buffers
/// kept from state to state, so a search allocates none per successor.
#[derive(Default)]
pub struct Keys {
    slots: Vec<(Vec<u8>, Vec<u8>)>,
    len: usize,
}

impl Keys {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The buffers for the next successor's key and permutation, as
    /// [`encode_key`] takes them (it overwrites their old contents).
    #[inline]
    pub fn next_slot(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>) {
        if self.len == self.slots.len() {
            self.slots.push(Default::default());
        }
        self.len += 1;
        let (key, moved) = &mut self.slots[self.len - 1];
        (key, moved)
    }

    /// Successor `i`'s key and permutation.
    #[inline]
    pub fn get(&self, i: usize) -> (&[u8], &[u8]) {
        let (key, moved) = &self.slots[..self.len][i];
        (key, moved)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A search thread's buffers for a state's actions, successors and their
/// keys ([`Spec::successors_with_keys`]), kept from state to state: a
/// search allocates none per state.
struct Scratch<S: Spec> {
    actions: Vec<S::Action>,
    successors: Vec<(S::Action, S::State)>,
    keys: Keys,
}

impl<S: Spec> Scratch<S> {
    /// Makes `successors` and `keys` `state`'s, with keys under `identity`.
    fn fill(&mut self, spec: &S, state: &S::State, identity: Identity) {
        let Scratch {
            actions,
            successors,
            keys,
        } = self;
        spec.successors_with_keys(state, identity, actions, successors, keys);
    }
}

impl<S: Spec> Default for Scratch<S> {
    fn default() -> Self {
        Scratch {
            actions: Vec::new(),
            successors: Vec::new(),
            keys: Keys::default(),
        }
    }
}

/// A condition on states that a search evaluates on each state it
/// discovers (in parallel, hence `Sync`), so its users need not decode the
/// stored states again ([`StateGraph::first_marked`]).
pub type Watch<'a, S> = &'a (dyn Fn(&<S as Spec>::State) -> bool + Sync);

/// The reachable state graph of a spec, explored breadth-first.
///
/// States are stored compactly: each as its serialized bytes (postcard: a
/// byte per small number or enum tag) in one arena, found again through a
/// table keyed by the hash of those bytes and compared byte for byte, so
/// the visited set is exact and costs no allocation per state. A state is
/// decoded when it is expanded or asked for ([`StateGraph::state`]).
pub struct StateGraph<S: Spec> {
    store: Store,
    /// Enabled actions of each state with their target index.
    pub edges: Edges<S::Action>,
    /// BFS tree: the state each state was first reached from (`NO_PARENT`
    /// for an initial state) and the action, as an index into `actions`.
    parent: Vec<u32>,
    parent_action: Vec<u32>,
    /// The distinct actions of the BFS tree (a spec has few).
    actions: Interner<S::Action>,
    /// The first id at each depth (ids are in BFS order).
    level_starts: Vec<usize>,
    /// Per watched condition, which states satisfy it (a bit per state).
    marks: Vec<Vec<u64>>,
    /// `Some` when a [`Limits`] stopped the search before every reachable
    /// state was explored.
    pub stopped: Option<Stopped>,
}

const NO_PARENT: u32 = u32::MAX;

/// A unit test of this crate explores at most this many states (its specs
/// at their default sizes have thousands): a spec a mutation made unbounded
/// (cargo-mutants, docs/reliability.md) fails the test here instead of
/// exploring until the time limit.
#[cfg(test)]
const TEST_STATE_BUDGET: usize = 200_000;

impl<S: Spec> StateGraph<S> {
    fn empty(identity: Identity, watches: usize) -> Self {
        StateGraph {
            store: Store::new(identity),
            edges: Edges::default(),
            parent: Vec::new(),
            parent_action: Vec::new(),
            actions: Interner::default(),
            level_starts: Vec::new(),
            marks: vec![Vec::new(); watches],
            stopped: None,
        }
    }

    /// Explores every reachable state (exact identity); `progress` gets the
    /// count now and then.
    pub fn explore(spec: &S, progress: &mut dyn FnMut(usize)) -> Self {
        Self::explore_as(spec, Identity::Exact, progress)
    }

    /// Explores every reachable state under `identity`; with
    /// [`Identity::Symmetric`] each state stands for its symmetry class and
    /// an edge may lead to a permutation of the stored state, so only the
    /// BFS tree ([`StateGraph::path_to`]) is a real path.
    pub fn explore_as(spec: &S, identity: Identity, progress: &mut dyn FnMut(usize)) -> Self {
        Self::explore_within(spec, identity, Limits::NONE, progress)
    }

    /// As [`StateGraph::explore_as`], until a limit stops it (then
    /// [`StateGraph::stopped`] says which, and how far it got).
    pub fn explore_within(
        spec: &S,
        identity: Identity,
        limits: Limits,
        progress: &mut dyn FnMut(usize),
    ) -> Self {
        Self::explore_watching(spec, identity, limits, &[], progress)
    }

    /// As [`StateGraph::explore_within`], marking the states where each of
    /// `watches` holds ([`StateGraph::marked`], [`StateGraph::first_marked`]).
    pub fn explore_watching(
        spec: &S,
        identity: Identity,
        limits: Limits,
        watches: &[Watch<'_, S>],
        progress: &mut dyn FnMut(usize),
    ) -> Self {
        let mut bfs = Bfs::new(spec, identity, identity == Identity::Exact, watches, limits);
        bfs.run(&mut |_| false, usize::MAX, progress);
        bfs.graph
    }

    /// Explores breadth-first, without edges, until a state where `target`
    /// holds: the graph so far and that state's id (it has a shortest path),
    /// or the whole graph and `None`.
    pub fn explore_until(
        spec: &S,
        identity: Identity,
        limits: Limits,
        target: &mut dyn FnMut(&S::State) -> bool,
        progress: &mut dyn FnMut(usize),
    ) -> (Self, Option<usize>) {
        let mut bfs = Bfs::new(spec, identity, false, &[], limits);
        let found = bfs.run(target, usize::MAX, progress);
        (bfs.graph, found)
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// State `id` (the member of its class first found, with symmetry).
    pub fn state(&self, id: usize) -> S::State {
        self.store.state::<S>(id)
    }

    /// State `id`'s key decoded: the state itself under exact identity,
    /// else its class's canonical member (a permutation of
    /// [`StateGraph::state`], found without computing it).
    pub fn canonical(&self, id: usize) -> S::State {
        S::decode_state(self.store.key(id))
    }

    /// How many states class `id` of a symmetry-reduced graph stands for
    /// ([`Spec::class_size`], read off its key).
    pub fn class_size(&self, id: usize) -> u64 {
        assert_eq!(self.store.identity, Identity::Symmetric, "a reduced graph");
        S::class_size(self.store.key(id))
    }

    /// Every state, in id (BFS) order, decoded one at a time.
    pub fn states(&self) -> impl Iterator<Item = S::State> + '_ {
        (0..self.len()).map(|id| self.state(id))
    }

    /// The bytes the states take in the arena, the arena's index, the
    /// visited set and the BFS tree (not the edges): what the search
    /// stores per state.
    pub fn state_bytes(&self) -> usize {
        self.store.heap_bytes()
            + self.parent.capacity() * 4
            + self.parent_action.capacity() * 4
            + self.level_starts.capacity() * 8
    }

    /// Whether state `id` satisfies the watched condition `watch` (its
    /// index in the `watches` given to [`StateGraph::explore_watching`]).
    pub fn marked(&self, watch: usize, id: usize) -> bool {
        self.marks[watch]
            .get(id / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    /// The first state (in BFS order: one with a shortest path) that
    /// satisfies the watched condition `watch`.
    pub fn first_marked(&self, watch: usize) -> Option<usize> {
        let words = &self.marks[watch];
        let word = words.iter().position(|&w| w != 0)?;
        Some(word * 64 + words[word].trailing_zeros() as usize)
    }

    /// The number of actions on a shortest path from an initial state to `id`.
    pub fn depth(&self, id: usize) -> usize {
        depth_in(&self.level_starts, id)
    }

    /// The depth of state `id`, in one of the last two levels, as a state
    /// being expanded is (breadth-first, its successors are at most one
    /// level deeper): no search of the level boundaries per new state.
    fn depth_of_last_levels(&self, id: usize) -> usize {
        let last = self.level_starts.len() - 1;
        let depth = if id >= self.level_starts[last] {
            last
        } else {
            last - 1
        };
        debug_assert_eq!(
            depth,
            self.depth(id),
            "state {id} is in the last two levels"
        );
        depth
    }

    /// The actions of a shortest path from an initial state to `target`.
    pub fn path_to(&self, target: usize) -> Vec<S::Action> {
        let mut actions = Vec::new();
        let mut at = target;
        while self.parent[at] != NO_PARENT {
            actions.push(self.actions.get(self.parent_action[at]).clone());
            at = self.parent[at] as usize;
        }
        actions.reverse();
        actions
    }

    /// Marks state `id` with the watched conditions it satisfies (bit `w`
    /// for watch `w`).
    fn set_marks(&mut self, id: usize, mut marks: u64) {
        while marks != 0 {
            let w = marks.trailing_zeros() as usize;
            self.mark(w, id);
            marks &= marks - 1;
        }
    }

    fn mark(&mut self, watch: usize, id: usize) {
        let words = &mut self.marks[watch];
        if words.len() <= id / 64 {
            words.resize(id / 64 + 1, 0);
        }
        words[id / 64] |= 1 << (id % 64);
    }
}

/// The depth of state `id`, given the first id at each depth.
fn depth_in(level_starts: &[usize], id: usize) -> usize {
    level_starts.partition_point(|&start| start <= id) - 1
}

/// The states of a graph as bytes, one record after the other. With
/// symmetry a record is the class representative's encoding (the key)
/// behind its length, then the permutation that sorted the first-found
/// member (a byte per process, [`encode_key`]), left out when it is the
/// identity.
struct Store {
    identity: Identity,
    /// The id of the first record: a parallel search's threads expand
    /// batches of states copied out of the graph's store.
    first: usize,
    bytes: Vec<u8>,
    /// Where each record ends in `bytes`.
    ends: Offsets,
}

impl Store {
    fn new(identity: Identity) -> Self {
        Store {
            identity,
            first: 0,
            bytes: Vec::new(),
            ends: Offsets::default(),
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn record(&self, id: usize) -> &[u8] {
        let i = id - self.first;
        let start = if i == 0 { 0 } else { self.ends.get(i - 1) };
        &self.bytes[start as usize..self.ends.get(i) as usize]
    }

    /// State `id`, decoded (the member of its class first found).
    fn state<S: Spec>(&self, id: usize) -> S::State {
        let (key, moved) = self.member(id);
        let canonical = S::decode_state(key);
        if moved.is_empty() {
            return canonical;
        }
        // The member was sorted by `moved`: its inverse puts it back.
        let back = inverse(moved.iter().map(|&to| usize::from(to)));
        S::permute_owned(canonical, &back)
    }

    /// Makes `into` a store of records `ids` only, copied from this one.
    fn copy_out(&self, ids: std::ops::Range<usize>, into: &mut Store) {
        let end = |id: usize| self.ends.get(id - self.first);
        let start = if ids.start == self.first {
            0
        } else {
            end(ids.start - 1)
        };
        into.identity = self.identity;
        into.first = ids.start;
        into.bytes.clear();
        into.ends.clear();
        into.bytes
            .extend_from_slice(&self.bytes[start as usize..end(ids.end - 1) as usize]);
        for id in ids {
            into.ends.push(end(id) - start);
        }
    }

    /// The bytes states are told apart by: the state's, or with symmetry
    /// its representative's.
    fn key(&self, id: usize) -> &[u8] {
        let record = self.record(id);
        match self.identity {
            Identity::Exact => record,
            Identity::Symmetric | Identity::SymmetricButFirst => {
                let (len, rest) = read_varint(record);
                &rest[..len]
            }
        }
    }

    /// The stored state: its key's bytes and the permutation that sorted
    /// it into the key (empty: none did).
    fn member(&self, id: usize) -> (&[u8], &[u8]) {
        let record = self.record(id);
        match self.identity {
            Identity::Exact => (record, &[]),
            Identity::Symmetric | Identity::SymmetricButFirst => {
                let (len, rest) = read_varint(record);
                rest.split_at(len)
            }
        }
    }

    /// Adds a record: a state's key (of hash `hash`) and the permutation
    /// that sorted it (empty under [`Identity::Exact`]).
    fn push(&mut self, key: &[u8], moved: &[u8]) {
        if self.identity != Identity::Exact {
            write_varint(&mut self.bytes, key.len());
            self.bytes.extend_from_slice(key);
            self.bytes.extend_from_slice(moved);
        } else {
            self.bytes.extend_from_slice(key);
        }
        self.ends.push(self.bytes.len() as u64);
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.heap_bytes()
    }
}

/// Ascending offsets into a growing vector in 4 bytes each: per block of
/// 2^16 offsets a 64-bit base, each offset stored as its distance from its
/// block's base (records and edge lists are far smaller than 64 KiB).
#[derive(Debug, Clone, Default)]
struct Offsets {
    low: Vec<u32>,
    bases: Vec<u64>,
}

const OFFSET_BLOCK_BITS: u32 = 16;

impl Offsets {
    fn push(&mut self, offset: u64) {
        if self.low.len().trailing_zeros() >= OFFSET_BLOCK_BITS {
            self.bases.push(offset);
        }
        let base = *self.bases.last().expect("a block has a base");
        let low = u32::try_from(offset - base).expect("a block of offsets spans under 4 GiB");
        self.low.push(low);
    }

    fn get(&self, i: usize) -> u64 {
        self.bases[i >> OFFSET_BLOCK_BITS] + u64::from(self.low[i])
    }

    fn len(&self) -> usize {
        self.low.len()
    }

    fn clear(&mut self) {
        self.low.clear();
        self.bases.clear();
    }

    fn heap_bytes(&self) -> usize {
        self.low.capacity() * 4 + self.bases.capacity() * 8
    }
}

fn write_varint(bytes: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        bytes.push((n as u8) | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
}

fn read_varint(bytes: &[u8]) -> (usize, &[u8]) {
    let (mut n, mut shift) = (0usize, 0);
    for (i, &b) in bytes.iter().enumerate() {
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return (n, &bytes[i + 1..]);
        }
        shift += 7;
    }
    unreachable!("records are written whole")
}

/// Distinct values by a small index.
#[derive(Debug, Clone)]
pub(crate) struct Interner<T> {
    values: Vec<T>,
    index: HashTable<u32>,
    /// The index of a value by the top bits of its hash, the last one
    /// interned there (`NOT_RECENT`: none): a search interns an action for
    /// every edge, of a few dozen distinct ones, and one comparison here
    /// is a third of a table probe.
    recent: [u32; RECENT],
}

const RECENT: usize = 64;
const NOT_RECENT: u32 = u32::MAX;

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            values: Vec::new(),
            index: HashTable::new(),
            recent: [NOT_RECENT; RECENT],
        }
    }
}

fn recent_slot(hash: u64) -> usize {
    (hash >> (64 - RECENT.trailing_zeros())) as usize
}

impl<T: Hash + Eq + Clone> Interner<T> {
    pub(crate) fn intern(&mut self, value: &T) -> u32 {
        let hash = interned_hash(value);
        if let Some(i) = self.find_hashed(hash, value) {
            self.recent[recent_slot(hash)] = i;
            return i;
        }
        let i = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct actions");
        self.values.push(value.clone());
        let values = &self.values;
        self.index
            .insert_unique(hash, i, |&i| interned_hash(&values[i as usize]));
        self.recent[recent_slot(hash)] = i;
        i
    }
}

impl<T: Hash + Eq> Interner<T> {
    /// The index of `value`, of hash `hash`, if it is interned already.
    fn find_hashed(&self, hash: u64, value: &T) -> Option<u32> {
        let recent = self.recent[recent_slot(hash)];
        let is = |i: u32| self.values.get(i as usize) == Some(value);
        if is(recent) {
            return Some(recent);
        }
        self.index.find(hash, |&i| is(i)).copied()
    }
}

/// An interned value's hash: Fx, not the visited set's hash. An action is
/// a few small words, hashed for every edge, and the values are few and
/// not adversarial.
fn interned_hash<T: Hash>(value: &T) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(value)
}

impl<T> Interner<T> {
    pub(crate) fn get(&self, i: u32) -> &T {
        &self.values[i as usize]
    }
}

/// The visited set's hash of key bytes, unseeded, so a run is
/// reproducible (ids never depend on it, only the table's layout does).
/// Fx, about half of ahash's
/// instructions on a timer-free key (this build has no AES for ahash's
/// fast path), with no longer probes measured. The keys are the specs'
/// own states, not adversarial input.
pub(crate) type KeyHasher = rustc_hash::FxBuildHasher;

/// The edges of a state graph, all in one vector in the order the states
/// were expanded (ids ascending): no allocation per state, 8 bytes per edge
/// (an interned action and a target id, CSR layout). `edges[id]` is state
/// `id`'s edges (empty until expanded); [`Edges::out`] reads them as
/// (action, target) pairs.
#[derive(Debug, Clone)]
pub struct Edges<A> {
    all: Vec<Edge>,
    /// Where each expanded state's edges start in `all`, and one past the
    /// last state's end.
    starts: Offsets,
    /// The distinct actions on edges (a spec has few).
    actions: Interner<A>,
}

/// One edge in 6 bytes: the target id and an index into its graph's
/// distinct actions (packed: an edge list is most of a graph's memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct Edge {
    target: u32,
    action: u16,
}

impl Edge {
    /// The id of the state the edge leads to.
    pub fn target(self) -> usize {
        self.target as usize
    }
}

impl<A> Default for Edges<A> {
    fn default() -> Self {
        let mut starts = Offsets::default();
        starts.push(0);
        Edges {
            all: Vec::new(),
            starts,
            actions: Interner::default(),
        }
    }
}

impl<A: Hash + Eq + Clone> Edges<A> {
    /// Adds an edge of the state being expanded.
    fn push(&mut self, action: &A, target: usize) {
        let action = self.actions.intern(action);
        self.push_interned(action, target);
    }

    /// Adds an edge taking the interned action `action`.
    fn push_interned(&mut self, action: u32, target: usize) {
        let action = u16::try_from(action).expect("fewer than 2^16 distinct actions on edges");
        let target = u32::try_from(target).expect("fewer than 2^32 states");
        self.all.push(Edge { target, action });
    }
}

impl<A> Edges<A> {
    /// Ends the edges of state `id`, the next one expanded.
    fn close(&mut self, id: usize) {
        debug_assert_eq!(id + 1, self.starts.len(), "states expand in id order");
        self.starts.push(self.all.len() as u64);
    }

    /// Edges in the whole graph.
    pub fn total(&self) -> usize {
        self.all.len()
    }

    /// The action `edge` takes.
    pub fn action(&self, edge: Edge) -> &A {
        self.actions.get(u32::from(edge.action))
    }

    /// State `id`'s enabled actions with their targets, in the spec's order.
    pub fn out(&self, id: usize) -> impl ExactSizeIterator<Item = (&A, usize)> + Clone + '_ {
        self[id].iter().map(|&e| (self.action(e), e.target()))
    }

    /// The bytes the edges take (the edge vector, the index and the
    /// distinct actions).
    pub fn heap_bytes(&self) -> usize {
        self.all.capacity() * std::mem::size_of::<Edge>()
            + self.starts.heap_bytes()
            + self.actions.values.capacity() * std::mem::size_of::<A>()
    }
}

impl<A> std::ops::Index<usize> for Edges<A> {
    type Output = [Edge];
    fn index(&self, id: usize) -> &[Edge] {
        match id + 1 < self.starts.len() {
            true => &self.all[self.starts.get(id) as usize..self.starts.get(id + 1) as usize],
            false => &[],
        }
    }
}

/// The actions of a shortest path from an initial state to a state where
/// `target` holds; `None` when no state does, or none among the first
/// `max_states` discovered.
pub fn shortest_path<S: Spec>(
    spec: &S,
    identity: Identity,
    max_states: usize,
    mut target: impl FnMut(&S::State) -> bool,
) -> Option<Vec<S::Action>> {
    let mut bfs = Bfs::new(spec, identity, false, &[], Limits::NONE);
    let found = bfs.run(&mut target, max_states, &mut |_| {})?;
    Some(bfs.graph.path_to(found))
}

/// The shortest counterexample of the `always` property `name` (the same
/// length stateright's BFS reports: both count actions from the initial
/// state), or `None` when it holds within `max_states` states.
///
/// Panics if the spec has no such property or it is not an `always` one.
pub fn shortest_violation<S: Spec>(
    spec: &S,
    name: &str,
    max_states: usize,
) -> Option<Vec<S::Action>> {
    let property = always_property(spec, name);
    shortest_path(spec, Identity::Exact, max_states, |s| {
        !(property.condition)(spec, s)
    })
}

/// `Violated` if some reachable state breaks the `always` property `name`.
/// Only the verdict is wanted, so symmetric states are explored once.
///
/// Panics if the spec has no such property or it is not an `always` one.
pub fn always_verdict<S: Spec>(spec: &S, name: &str) -> Verdict {
    let property = always_property(spec, name);
    let violation = shortest_path(spec, Identity::Symmetric, usize::MAX, |s| {
        !(property.condition)(spec, s)
    });
    match violation {
        Some(_) => Verdict::Violated,
        None => Verdict::Holds,
    }
}

// A misspelt name must fail loudly, not read as "holds".
fn always_property<S: Spec>(spec: &S, name: &str) -> Property<S> {
    let property = spec
        .property(name)
        .unwrap_or_else(|| panic!("spec `{}` has no property `{name}`", spec.name()));
    assert_eq!(
        property.kind,
        PropertyKind::Always,
        "`{name}` is not an always property"
    );
    property
}

/// A breadth-first search under way.
struct Bfs<'a, S: Spec> {
    spec: &'a S,
    identity: Identity,
    /// Only the state graph's users need the edges; a path search drops them
    /// to save memory on large specs.
    keep_edges: bool,
    graph: StateGraph<S>,
    /// The ids of the states, by the hash of their key bytes
    /// ([`Store::key`]): each state is stored once, in the arena.
    index: HashTable<u32>,
    hasher: KeyHasher,
    watches: &'a [Watch<'a, S>],
    limits: Limits,
    scratch: Scratch<S>,
    /// The parallel search marks states with the watched conditions when
    /// it expands them (a state is found many times in a window, expanded
    /// once): every state before this one is marked.
    marked_to: usize,
}

impl<'a, S: Spec> Bfs<'a, S> {
    fn new(
        spec: &'a S,
        identity: Identity,
        keep_edges: bool,
        watches: &'a [Watch<'a, S>],
        limits: Limits,
    ) -> Self {
        let mut bfs = Bfs {
            spec,
            identity,
            keep_edges,
            graph: StateGraph::empty(identity, watches.len()),
            index: HashTable::new(),
            hasher: KeyHasher::default(),
            watches,
            limits,
            scratch: Scratch::default(),
            marked_to: 0,
        };
        for init in spec.init_states() {
            bfs.discover_initial(&init);
        }
        bfs
    }

    /// Expands states in discovery order until one where `target` holds
    /// (its id), or until every state is expanded or `max_states` are
    /// discovered (`None`). `progress` gets the count now and then.
    fn run(
        &mut self,
        target: &mut dyn FnMut(&S::State) -> bool,
        max_states: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Option<usize> {
        let mut id = 0;
        while id < self.graph.len() {
            let state = self.graph.state(id);
            if target(&state) {
                return Some(id);
            }
            if self.graph.len() >= max_states || !self.step(id, &state, progress) {
                return None;
            }
            id += 1;
        }
        let states = self.graph.len();
        if let Some(stopped) = &mut self.graph.stopped {
            stopped.states = states;
        }
        progress(self.graph.len());
        None
    }

    /// Whether state `id` is at the depth bound (its depth is looked up
    /// only when there is one: a search per state).
    fn at_depth_bound(&self, id: usize) -> bool {
        self.limits
            .max_depth
            .is_some_and(|bound| bound == self.graph.depth(id))
    }

    /// Expands state `id` (decoded: `state`), or only looks past it at the
    /// depth bound; false when a limit stopped the search before it.
    fn step(&mut self, id: usize, state: &S::State, progress: &mut dyn FnMut(usize)) -> bool {
        if self.stopped_by_limit(id, progress) {
            return false;
        }
        if self.at_depth_bound(id) {
            self.check_depth_bound(id, state);
        } else {
            self.expand(id, state);
        }
        if id.is_multiple_of(4096) {
            progress(self.graph.len());
        }
        true
    }

    /// Whether a limit stops the search before it expands state `id`; if
    /// one does, it is recorded with how far the search got (every state
    /// shallower than `id` was expanded) and the final count is reported.
    fn stopped_by_limit(&mut self, id: usize, progress: &mut dyn FnMut(usize)) -> bool {
        let Some(limit) = self.limit_reached(id) else {
            return false;
        };
        self.graph.stopped = Some(Stopped {
            limit,
            states: self.graph.len(),
            complete_to_depth: self.graph.depth(id),
        });
        progress(self.graph.len());
        true
    }

    /// The limit that stops the search before it expands state `id`, if
    /// one does.
    fn limit_reached(&self, id: usize) -> Option<Limit> {
        let limits = &self.limits;
        if let Some(max) = limits.max_states.filter(|&max| self.graph.len() >= max) {
            return Some(Limit::MaxStates(max));
        }
        if !id.is_multiple_of(LIMIT_CHECK_EVERY) {
            return None;
        }
        if let Some((deadline, limit)) = limits.deadline {
            if Instant::now() >= deadline {
                return Some(Limit::MaxSeconds(limit.as_secs_f64()));
            }
        }
        let max = limits.max_memory?;
        (resident_memory_bytes()? >= max).then_some(Limit::MaxMemory(max))
    }

    /// A state at the depth bound is not expanded; if it has a successor
    /// not yet discovered, the bound cut the search short.
    fn check_depth_bound(&mut self, id: usize, state: &S::State) {
        self.at_depth_bound_beyond(id, |bfs| {
            let mut scratch = std::mem::take(&mut bfs.scratch);
            scratch.fill(bfs.spec, state, bfs.identity);
            let keys = &scratch.keys;
            let beyond = (0..keys.len()).any(|i| {
                let (key, _) = keys.get(i);
                bfs.find_key(bfs.hasher.hash_one(key), key).is_none()
            });
            bfs.scratch = scratch;
            beyond
        });
    }

    /// State `id`, at the depth bound, is not expanded; if `beyond` finds
    /// a successor not yet discovered (asked only while no limit has
    /// stopped the search), the bound cut the search short: recorded now,
    /// reported once the bounded search is over.
    fn at_depth_bound_beyond(&mut self, id: usize, beyond: impl FnOnce(&mut Self) -> bool) {
        if self.keep_edges {
            self.graph.edges.close(id);
        }
        if self.graph.stopped.is_some() || !beyond(self) {
            return;
        }
        let depth = self.graph.depth(id);
        self.graph.stopped = Some(Stopped {
            limit: Limit::MaxDepth(depth),
            states: 0,
            complete_to_depth: depth,
        });
    }

    /// Discovers the successors of state `id` (and records the edges to them).
    fn expand(&mut self, id: usize, state: &S::State) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.fill(self.spec, state, self.identity);
        // Read in place: a state is large to move.
        for (i, (action, next)) in scratch.successors.iter().enumerate() {
            let (key, member) = scratch.keys.get(i);
            let target = self.discover_keyed(next, key, member, Some((id, action)));
            if self.keep_edges {
                self.graph.edges.push(action, target);
            }
        }
        // Not cleared: a spec may write the next state's successors over
        // these (`successors_into`).
        self.scratch = scratch;
        if self.keep_edges {
            self.graph.edges.close(id);
        }
    }

    /// The id of the state whose key bytes are `key` (of hash `hash`), if
    /// known.
    fn find_key(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let store = &self.graph.store;
        self.index
            .find(hash, |&id| store.key(id as usize) == key)
            .map(|&id| id as usize)
    }

    /// The id of initial state `state`, added if it is new (a search's
    /// other states come with their keys, [`Bfs::expand`]).
    fn discover_initial(&mut self, state: &S::State) -> usize {
        let (mut key, mut member) = (Vec::new(), Vec::new());
        encode_key::<S>(self.identity, state, &mut key, &mut member);
        self.discover_keyed(state, &key, &member, None)
    }

    /// The id of `state`, whose key and permutation are encoded already
    /// ([`encode_key`]), added with how it was reached if it is new.
    fn discover_keyed(
        &mut self,
        state: &S::State,
        key: &[u8],
        member: &[u8],
        parent: Option<(usize, &S::Action)>,
    ) -> usize {
        let new = New {
            hash: self.hasher.hash_one(key),
            key,
            member,
        };
        let watches = self.watches;
        let marks = || marks_of::<S>(watches, state);
        let new_id = self.graph.len();
        let id = find_or_add(
            &mut self.graph,
            &mut self.index,
            &self.hasher,
            new,
            marks,
            parent,
        );
        debug_assert!(
            id != new_id || self.graph.state(id) == *state,
            "a stored state decodes as it was"
        );
        id
    }
}

/// A state that may not have been seen before, as bytes.
struct New<'b> {
    hash: u64,
    key: &'b [u8],
    /// The permutation that sorted the state into `key` (empty: none).
    member: &'b [u8],
}

/// Which of `watches` hold in `state`, as bits.
pub(crate) fn marks_of<S: Spec>(watches: &[Watch<'_, S>], state: &S::State) -> u64 {
    assert!(watches.len() <= 64, "at most 64 watched conditions");
    let mut marks = 0;
    for (w, watch) in watches.iter().enumerate() {
        if watch(state) {
            marks |= 1 << w;
        }
    }
    marks
}

/// The id of the state `new`: the one in the visited set with its key, or
/// a new one added to the graph with how it was reached and the watched
/// conditions it satisfies (`marks`, bit `w` for watch `w`, only asked of
/// a new state). One probe of the table either way: a search spends much
/// of its time in these look-ups.
fn find_or_add<S: Spec>(
    graph: &mut StateGraph<S>,
    index: &mut HashTable<u32>,
    hasher: &KeyHasher,
    new: New<'_>,
    marks: impl FnOnce() -> u64,
    parent: Option<(usize, &S::Action)>,
) -> usize {
    let store = &graph.store;
    let same = |&id: &u32| store.key(id as usize) == new.key;
    let rehash = |&id: &u32| hasher.hash_one(store.key(id as usize));
    let vacant = match index.entry(new.hash, same, rehash) {
        Entry::Occupied(known) => return *known.get() as usize,
        Entry::Vacant(vacant) => vacant,
    };
    let id = graph.len();
    #[cfg(test)]
    assert!(
        id < TEST_STATE_BUDGET,
        "a unit test explored {TEST_STATE_BUDGET} states: is the spec's state space unbounded?"
    );
    let id32 = u32::try_from(id)
        .ok()
        .filter(|&id| id != NO_PARENT)
        .expect("fewer than 2^32 - 1 states");
    vacant.insert(id32);
    graph.store.push(new.key, new.member);
    let depth = match parent {
        Some((from, action)) => {
            graph.parent.push(from as u32);
            let action = graph.actions.intern(action);
            graph.parent_action.push(action);
            graph.depth_of_last_levels(from) + 1
        }
        None => {
            graph.parent.push(NO_PARENT);
            graph.parent_action.push(0);
            0
        }
    };
    if depth == graph.level_starts.len() {
        graph.level_starts.push(id);
    }
    graph.set_marks(id, marks());
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer_free::{TimerFree, TimerFreeState};
    use patches::Preset;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn timer_free(preset: Preset) -> TimerFree {
        TimerFree::new(preset.patches(), &BTreeMap::new()).unwrap()
    }

    #[test]
    fn symmetric_verdicts_agree_with_exact_shortest_paths() {
        for preset in Preset::ALL {
            let spec = timer_free(preset);
            for property in spec.properties() {
                if property.kind != PropertyKind::Always {
                    continue;
                }
                let path = shortest_violation(&spec, property.name, usize::MAX);
                let verdict = always_verdict(&spec, property.name);
                assert_eq!(path.is_some(), verdict == Verdict::Violated, "{preset}");
            }
        }
    }

    #[test]
    fn shortest_path_is_the_bfs_depth() {
        let spec = timer_free(Preset::Jan2016);
        let graph = StateGraph::explore(&spec, &mut |_| {});
        let property = spec.property("no_free_of_unallocated").unwrap();
        let first_bad = (0..graph.len())
            .find(|&i| !(property.condition)(&spec, &graph.state(i)))
            .unwrap();
        let path = shortest_violation(&spec, property.name, usize::MAX).unwrap();
        assert_eq!(path, graph.path_to(first_bad));
        assert_eq!(path.len(), graph.depth(first_bad));
    }

    fn explore_within(limits: Limits) -> StateGraph<TimerFree> {
        let spec = timer_free(Preset::Jan2016);
        StateGraph::explore_within(&spec, Identity::Symmetric, limits, &mut |_| {})
    }

    #[test]
    fn no_limit_reached_explores_everything() {
        let whole = explore_within(Limits::NONE);
        assert_eq!(whole.stopped, None);
        let generous = Limits {
            max_states: Some(whole.len() + 1),
            max_depth: Some(1000),
            deadline: Some((Instant::now() + Duration::from_secs(3600), Duration::ZERO)),
            max_memory: Some(u64::MAX),
        };
        let bounded = explore_within(generous);
        assert_eq!((bounded.len(), bounded.stopped), (whole.len(), None));
    }

    #[test]
    fn max_states_stops_the_search_and_says_how_far_it_got() {
        let graph = explore_within(Limits {
            max_states: Some(500),
            ..Limits::NONE
        });
        let stopped = graph.stopped.expect("3010 classes do not fit in 500");
        assert_eq!(stopped.limit, Limit::MaxStates(500));
        assert_eq!(stopped.states, graph.len());
        assert!((500..600).contains(&graph.len()), "{}", graph.len());
        // BFS: every state shallower than the cut was discovered.
        let whole = explore_within(Limits::NONE);
        let within = |g: &StateGraph<TimerFree>| {
            (0..g.len())
                .filter(|&i| g.depth(i) <= stopped.complete_to_depth)
                .count()
        };
        assert_eq!(within(&graph), within(&whole));
    }

    #[test]
    fn max_depth_expands_no_deeper_and_is_reported_only_when_it_cut() {
        let graph = explore_within(Limits {
            max_depth: Some(7),
            ..Limits::NONE
        });
        let deepest = (0..graph.len()).map(|i| graph.depth(i)).max();
        assert_eq!(deepest, Some(7));
        let stopped = graph.stopped.expect("timer-free goes deeper than 7");
        assert_eq!(stopped.limit, Limit::MaxDepth(7));
        assert_eq!(
            (stopped.states, stopped.complete_to_depth),
            (graph.len(), 7)
        );
        let whole = explore_within(Limits::NONE);
        let deepest = (0..whole.len()).map(|i| whole.depth(i)).max().unwrap();
        let exact = explore_within(Limits {
            max_depth: Some(deepest),
            ..Limits::NONE
        });
        assert_eq!((exact.len(), exact.stopped), (whole.len(), None));
    }

    #[test]
    fn a_passed_deadline_stops_before_the_first_expansion() {
        let graph = explore_within(Limits {
            deadline: Some((Instant::now(), Duration::from_millis(250))),
            ..Limits::NONE
        });
        let stopped = graph.stopped.expect("stopped");
        assert_eq!(stopped.limit, Limit::MaxSeconds(0.25));
        assert_eq!((graph.len(), stopped.complete_to_depth), (1, 0));
    }

    #[test]
    fn the_memory_guard_stops_when_resident_memory_passes_it() {
        let graph = explore_within(Limits {
            max_memory: Some(1),
            ..Limits::NONE
        });
        let stopped = graph.stopped.expect("any process uses more than a byte");
        assert_eq!(stopped.limit, Limit::MaxMemory(1));
        assert!(resident_memory_bytes().is_some_and(|b| b > 1_000_000));
        assert!(available_memory_bytes().is_some_and(|b| b > 0));
    }

    /// Everything a user of the graph can see of it, in id order.
    fn fingerprint(graph: &StateGraph<TimerFree>, watches: usize) -> Vec<String> {
        (0..graph.len())
            .map(|id| {
                let marks: Vec<bool> = (0..watches).map(|w| graph.marked(w, id)).collect();
                format!(
                    "{:?} d{} {:?} {:?} {:?}",
                    graph.state(id),
                    graph.depth(id),
                    graph.path_to(id),
                    graph.edges.out(id).collect::<Vec<_>>(),
                    marks
                )
            })
            .collect()
    }

    #[test]
    fn the_parallel_search_builds_the_sequential_graph() {
        let small = Parallel {
            threads: 2,
            chunk: 7,
        };
        for preset in Preset::ALL {
            let spec = timer_free(preset);
            let props = spec.properties();
            type Condition<'a> = Box<dyn Fn(&TimerFreeState) -> bool + Sync + 'a>;
            let conditions: Vec<Condition<'_>> = props
                .iter()
                .take(2)
                .map(|p| -> Condition<'_> { Box::new(|s| (p.condition)(&spec, s)) })
                .collect();
            let watches: Vec<Watch<'_, TimerFree>> = conditions.iter().map(|c| &**c as _).collect();
            let identities = [
                Identity::Exact,
                Identity::Symmetric,
                Identity::SymmetricButFirst,
            ];
            for identity in identities {
                let at = |parallel| {
                    let graph = StateGraph::explore_parallel(
                        &spec,
                        identity,
                        Limits::NONE,
                        &watches,
                        parallel,
                        &mut |_| {},
                    );
                    fingerprint(&graph, 2)
                };
                let sequential = at(Parallel::threads(1));
                assert_eq!(sequential, at(small), "{preset} {identity:?}");
                // Batches of one state: the threads run up against the
                // bound on how far past the merge they may expand.
                let tiny = Parallel {
                    threads: 3,
                    chunk: 1,
                };
                assert_eq!(sequential, at(tiny), "{preset} {identity:?} tiny");
            }
        }
    }

    /// Interning gives each distinct value one index, the same every time,
    /// though many share a slot of the recent ones (64 slots, 5,000
    /// values, looked up in two orders).
    #[test]
    fn an_interned_value_keeps_its_index() {
        let mut interner = Interner::default();
        let values: Vec<u64> = (0..5_000).map(|v| v * 7919).collect();
        let first: Vec<u32> = values.iter().map(|v| interner.intern(v)).collect();
        assert_eq!(first, (0..5_000).collect::<Vec<u32>>());
        for (v, &i) in values
            .iter()
            .zip(&first)
            .rev()
            .chain(values.iter().zip(&first))
        {
            assert_eq!(interner.intern(v), i);
            assert_eq!(interner.get(i), v);
        }
        assert_eq!(interner.intern(&1), 5_000);
    }

    /// Stopped early, the parallel search still marks every state it
    /// found (it marks a state when it expands it, and the rest at the end).
    #[test]
    fn the_parallel_search_stops_where_the_sequential_one_does() {
        let spec = timer_free(Preset::Jan2016);
        let props = spec.properties();
        let condition = |s: &TimerFreeState| (props[0].condition)(&spec, s);
        let never = |s: &TimerFreeState| !(props[0].condition)(&spec, s);
        let watches: [Watch<'_, TimerFree>; 2] = [&condition, &never];
        let small = Parallel {
            threads: 2,
            chunk: 5,
        };
        for limits in [
            Limits {
                max_states: Some(700),
                ..Limits::NONE
            },
            Limits {
                max_depth: Some(6),
                ..Limits::NONE
            },
        ] {
            let at = |parallel| {
                StateGraph::explore_parallel(
                    &spec,
                    Identity::Symmetric,
                    limits,
                    &watches,
                    parallel,
                    &mut |_| {},
                )
            };
            let (sequential, parallel) = (at(Parallel::threads(1)), at(small));
            assert!(sequential.stopped.is_some());
            assert_eq!(sequential.stopped, parallel.stopped);
            assert_eq!(fingerprint(&sequential, 2), fingerprint(&parallel, 2));
            let last = parallel.len() - 1;
            assert!(parallel.marked(0, last) != parallel.marked(1, last));
        }
    }

    /// A watched condition that panics once, on a thread the search
    /// started: the search ends with the panic, the merge not left waiting
    /// for the batch that thread held, nor the other threads for batches.
    #[test]
    #[should_panic(expected = "a scoped thread panicked")]
    fn a_panic_on_any_thread_ends_the_parallel_search() {
        let spec = timer_free(Preset::Jan2016);
        let fired = AtomicBool::new(false);
        let failing = |_: &TimerFreeState| {
            if std::thread::current().name().is_some() {
                // The test's own thread, the merge: slow, so that the
                // started threads surely take batches.
                std::thread::sleep(Duration::from_millis(1));
            } else {
                assert!(fired.swap(true, Ordering::Relaxed), "a watch failed");
            }
            false
        };
        let watches: [Watch<'_, TimerFree>; 1] = [&failing];
        let tiny = Parallel {
            threads: 3,
            chunk: 1,
        };
        let limits = Limits {
            max_states: Some(500),
            ..Limits::NONE
        };
        StateGraph::explore_parallel(
            &spec,
            Identity::Symmetric,
            limits,
            &watches,
            tiny,
            &mut |_| {},
        );
    }

    #[test]
    fn offsets_read_back_across_blocks() {
        let mut offsets = Offsets::default();
        // Three blocks of these span over 4 GiB, one block under it.
        let at = |i: u64| i * 60_000;
        let n = (3 << OFFSET_BLOCK_BITS) + 5;
        for i in 0..n {
            offsets.push(at(i));
        }
        assert_eq!(offsets.len(), n as usize);
        for i in [0, 1, 65_535, 65_536, 65_537, 131_072, n - 1] {
            assert_eq!(offsets.get(i as usize), at(i));
        }
    }

    #[test]
    fn an_edge_takes_six_bytes_and_a_class_its_key_and_a_permutation() {
        assert_eq!(std::mem::size_of::<Edge>(), 6);
        let spec = timer_free(Preset::Jan2016);
        let graph = StateGraph::explore_as(&spec, Identity::Symmetric, &mut |_| {});
        // Every class decodes to the member first found, not only to its
        // representative: some were found unsorted.
        let unsorted = (0..graph.len())
            .filter(|&id| graph.state(id) != TimerFree::representative(&graph.state(id)))
            .count();
        assert!(unsorted > 0);
        for id in 0..graph.len() {
            let (key, moved) = graph.store.member(id);
            assert!(moved.len() <= 2, "a byte per worker");
            let canonical = TimerFree::decode_state(key);
            assert_eq!(canonical, TimerFree::representative(&graph.state(id)));
        }
    }

    #[test]
    #[should_panic(expected = "has no property `no_such_property`")]
    fn a_misspelt_property_is_an_error() {
        always_verdict(&timer_free(Preset::Jan2016), "no_such_property");
    }
}
