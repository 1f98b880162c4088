//! The breadth-first search on several threads, building the sequential
//! search's graph.
//!
//! The work splits as a pipeline. Batches of discovered states go to a
//! queue; any thread takes one and expands it (decodes each state, asks
//! for its successors with their keys, hashes the keys, evaluates the
//! watched conditions). One thread, the merge, takes the expanded batches
//! in id order and does what the sequential search does with a state's
//! successors: one probe of the visited set each, new states added to the
//! graph and to the next batch. It alone reads and writes the graph and
//! the visited set, so no thread waits for another's writes and nothing
//! is looked up twice; it expands batches itself whenever the next one to
//! merge is not ready.

use super::{
    find_or_add, marks_of, Bfs, Identity, KeyHasher, Limits, New, Scratch, Spec, StateGraph, Store,
    Watch,
};
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::{mpsc, Condvar, Mutex, MutexGuard, PoisonError};

/// How a parallel search shares its work: `threads` threads expand the
/// discovered states `chunk` at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parallel {
    pub threads: usize,
    pub chunk: usize,
}

impl Parallel {
    /// `threads` threads (1: the sequential search) with the default batch.
    pub fn threads(threads: usize) -> Self {
        Parallel {
            threads: threads.max(1),
            chunk: 256,
        }
    }
}

impl<S> StateGraph<S>
where
    S: Spec + Sync,
    S::Action: Send + Sync,
{
    /// As [`StateGraph::explore_watching`], on `parallel.threads` threads:
    /// the same graph.
    pub fn explore_parallel(
        spec: &S,
        identity: Identity,
        limits: Limits,
        watches: &[Watch<'_, S>],
        parallel: Parallel,
        progress: &mut dyn FnMut(usize),
    ) -> Self {
        let edges = identity == Identity::Exact;
        Self::explore_parallel_edges(spec, identity, limits, watches, parallel, edges, progress)
    }

    /// As [`StateGraph::explore_parallel`], keeping the edges (`edges`) or
    /// not, under either identity: the reduced graph's edges serve the
    /// liveness check on it (`stateright_models::symmetry`).
    pub fn explore_parallel_edges(
        spec: &S,
        identity: Identity,
        limits: Limits,
        watches: &[Watch<'_, S>],
        parallel: Parallel,
        edges: bool,
        progress: &mut dyn FnMut(usize),
    ) -> Self {
        let mut bfs = Bfs::new(spec, identity, edges, watches, limits);
        if parallel.threads <= 1 {
            bfs.run(&mut |_| false, usize::MAX, progress);
        } else {
            bfs.run_parallel(parallel, progress);
        }
        bfs.graph
    }
}

/// States to expand: consecutive ids, the `seq`th batch of the search,
/// their records copied out of the graph's store (which the merge goes on
/// adding to while they are expanded).
struct Batch {
    seq: usize,
    states: Store,
}

/// A successor's key and the permutation that sorted the state into it
/// (empty: none), kept in its batch's [`Expanded::bytes`] from `start`.
/// Small: a search finds millions of these.
struct Keyed {
    hash: u64,
    start: u32,
    key_len: u16,
    member_len: u16,
}

impl Keyed {
    /// Appends the successor's key and permutation to `bytes`.
    fn kept(hash: u64, bytes: &mut Vec<u8>, key: &[u8], member: &[u8]) -> Keyed {
        let start = u32::try_from(bytes.len()).expect("a batch's keys take under 4 GiB");
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(member);
        Keyed {
            hash,
            start,
            key_len: u16::try_from(key.len()).expect("a state encodes in under 64 KiB"),
            member_len: u16::try_from(member.len()).expect("under 2^16 processes"),
        }
    }

    /// The successor as the merge looks it up, read from `bytes`.
    fn read<'b>(&self, bytes: &'b [u8]) -> New<'b> {
        let start = self.start as usize;
        let key_end = start + usize::from(self.key_len);
        New {
            hash: self.hash,
            key: &bytes[start..key_end],
            member: &bytes[key_end..key_end + usize::from(self.member_len)],
        }
    }
}

/// What expanding a batch found, for the merge.
struct Expanded<A> {
    seq: usize,
    ids: std::ops::Range<usize>,
    /// Successors per state, in id order.
    counts: Vec<u32>,
    /// The watched conditions each state satisfies ([`marks_of`]).
    marks: Vec<u64>,
    successors: Vec<(A, Keyed)>,
    bytes: Vec<u8>,
}

impl<A> Default for Expanded<A> {
    fn default() -> Self {
        Expanded {
            seq: 0,
            ids: 0..0,
            counts: Vec::new(),
            marks: Vec::new(),
            successors: Vec::new(),
            bytes: Vec::new(),
        }
    }
}

/// The batches waiting for a thread, and the emptied vectors to fill
/// again: allocated on one thread and freed on another, they kept the
/// allocator's locks busy.
struct Queue<A> {
    batches: VecDeque<Batch>,
    /// The next batch to merge: a thread takes none `AHEAD` past it, so
    /// the batches expanded but not merged (a few hundred bytes a state)
    /// stay few when the merge is the slower.
    merging: usize,
    /// Threads waiting for a batch.
    waiting: usize,
    /// The search is over, or a limit stopped it: the threads go.
    over: bool,
    spare_results: Vec<Expanded<A>>,
    spare_stores: Vec<Store>,
}

/// How many batches past the next one to merge a thread may expand.
const AHEAD: usize = 8;

/// How many batches the merge keeps queued.
const QUEUED: usize = 4;

/// What the threads share: the spec and the queue, never the graph.
struct Shared<'a, S: Spec> {
    spec: &'a S,
    identity: Identity,
    hasher: KeyHasher,
    watches: &'a [Watch<'a, S>],
    queue: Mutex<Queue<S::Action>>,
    /// Signalled when a batch is queued or the search is over.
    posted: Condvar,
}

impl<S: Spec> Shared<'_, S> {
    /// The queue (a thread that panicked holding it left it whole: it
    /// only pushes and pops).
    fn queue(&self) -> MutexGuard<'_, Queue<S::Action>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A helper thread's work: expand batches until the search is over.
    fn help(&self, found: mpsc::Sender<Expanded<S::Action>>) {
        // A thread that panics ends the search for the others too, so the
        // merge, left without the batch it held, does not wait forever:
        // once every thread is gone it stops, and the scope re-raises it.
        let _over = Over(self);
        let mut scratch = Scratch::default();
        while let Some(batch) = self.wait_for_batch() {
            if found.send(self.expand(batch, &mut scratch)).is_err() {
                return;
            }
        }
    }

    fn wait_for_batch(&self) -> Option<Batch> {
        let mut queue = self.queue();
        loop {
            if queue.over {
                return None;
            }
            let merging = queue.merging;
            if let Some(batch) = queue.batches.pop_front_if(|b| b.seq < merging + AHEAD) {
                return Some(batch);
            }
            queue.waiting += 1;
            queue = self
                .posted
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
            queue.waiting -= 1;
        }
    }

    /// Wakes a waiting thread, if one is (a wake is a system call).
    fn wake(&self, queue: MutexGuard<'_, Queue<S::Action>>) {
        let waiting = queue.waiting > 0;
        drop(queue);
        if waiting {
            self.posted.notify_one();
        }
    }

    fn post(&self, batch: Batch) {
        let mut queue = self.queue();
        queue.batches.push_back(batch);
        self.wake(queue);
    }

    /// Takes `expanded`, merged, to fill again; `next` is to merge now.
    fn merged(&self, expanded: Expanded<S::Action>, next: usize) {
        let mut queue = self.queue();
        queue.spare_results.push(expanded);
        queue.merging = next;
        self.wake(queue);
    }

    fn finish(&self) {
        self.queue().over = true;
        self.posted.notify_all();
    }

    /// Expands `batch`'s states into an emptied result, and keeps the
    /// batch's store to fill again.
    fn expand(&self, batch: Batch, scratch: &mut Scratch<S>) -> Expanded<S::Action> {
        let mut out = self.queue().spare_results.pop().unwrap_or_default();
        let states = &batch.states;
        let ids = states.first..states.first + states.len();
        out.seq = batch.seq;
        out.ids = ids.clone();
        out.counts.clear();
        out.marks.clear();
        out.successors.clear();
        out.bytes.clear();
        for id in ids {
            let state = states.state::<S>(id);
            out.marks.push(marks_of::<S>(self.watches, &state));
            scratch.fill(self.spec, &state, self.identity);
            out.counts.push(scratch.successors.len() as u32);
            // Read in place: a state is large to move.
            for (i, (action, _)) in scratch.successors.iter().enumerate() {
                let (key, member) = scratch.keys.get(i);
                let hash = self.hasher.hash_one(key);
                let keyed = Keyed::kept(hash, &mut out.bytes, key, member);
                out.successors.push((action.clone(), keyed));
            }
        }
        self.queue().spare_stores.push(batch.states);
        out
    }
}

/// Ends the search for the threads when dropped.
struct Over<'s, 'a, S: Spec>(&'s Shared<'a, S>);

impl<S: Spec> Drop for Over<'_, '_, S> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The expanded batches not merged yet, by their place after the next one
/// to merge (threads finish them in any order).
struct InOrder<A> {
    next: usize,
    early: VecDeque<Option<Expanded<A>>>,
}

impl<A> InOrder<A> {
    fn put(&mut self, expanded: Expanded<A>) {
        let at = expanded.seq - self.next;
        if self.early.len() <= at {
            self.early.resize_with(at + 1, || None);
        }
        self.early[at] = Some(expanded);
    }

    /// The next batch to merge, if it is expanded.
    fn take_next(&mut self) -> Option<Expanded<A>> {
        let next = self.early.front_mut()?.take()?;
        self.early.pop_front();
        self.next += 1;
        Some(next)
    }
}

impl<S> Bfs<'_, S>
where
    S: Spec + Sync,
    S::Action: Send + Sync,
{
    /// Marks the states a limit kept the search from expanding.
    fn mark_unexpanded(&mut self) {
        if self.watches.is_empty() {
            return;
        }
        for id in self.marked_to..self.graph.len() {
            let state = self.graph.state(id);
            self.graph
                .set_marks(id, marks_of::<S>(self.watches, &state));
        }
        self.marked_to = self.graph.len();
    }

    pub(super) fn run_parallel(&mut self, parallel: Parallel, progress: &mut dyn FnMut(usize)) {
        let shared = Shared {
            spec: self.spec,
            identity: self.identity,
            hasher: self.hasher,
            watches: self.watches,
            queue: Mutex::new(Queue {
                batches: VecDeque::new(),
                merging: 0,
                waiting: 0,
                over: false,
                spare_results: Vec::new(),
                spare_stores: Vec::new(),
            }),
            posted: Condvar::new(),
        };
        std::thread::scope(|scope| {
            let (found, merged) = mpsc::channel();
            for _ in 1..parallel.threads {
                let (found, shared) = (found.clone(), &shared);
                scope.spawn(move || shared.help(found));
            }
            drop(found);
            // The threads go however the merge ends, a panic included.
            let _over = Over(&shared);
            self.merge_all(&shared, merged, parallel.chunk.max(1), progress);
        });
        self.mark_unexpanded();
        let states = self.graph.len();
        if let Some(stopped) = &mut self.graph.stopped {
            stopped.states = states;
        }
        progress(self.graph.len());
    }

    /// Merges the expanded batches in id order until every state is
    /// expanded or a limit stopped the search. Whenever the next batch to
    /// merge is not ready, this thread expands a queued one itself, or
    /// queues the states it has gathered, or else waits for the thread
    /// expanding it.
    fn merge_all(
        &mut self,
        shared: &Shared<'_, S>,
        found: mpsc::Receiver<Expanded<S::Action>>,
        chunk: usize,
        progress: &mut dyn FnMut(usize),
    ) {
        let mut scratch = Scratch::default();
        // The states from `gathered` on are not queued yet.
        let (mut gathered, mut posted) = (0, 0);
        let mut in_order = InOrder {
            next: 0,
            early: VecDeque::new(),
        };
        loop {
            while let Ok(expanded) = found.try_recv() {
                in_order.put(expanded);
            }
            // Keeps a few batches queued, the rest of the states in the
            // graph's store only.
            while self.graph.len() - gathered >= chunk && shared.queue().batches.len() < QUEUED {
                let to = gathered + chunk;
                self.post(shared, posted, gathered..to);
                (gathered, posted) = (to, posted + 1);
            }
            if let Some(mut expanded) = in_order.take_next() {
                if !self.merge(&mut expanded, progress) {
                    return;
                }
                shared.merged(expanded, in_order.next);
                continue;
            }
            let queued = shared.queue().batches.pop_front();
            if let Some(batch) = queued {
                in_order.put(shared.expand(batch, &mut scratch));
            } else if gathered < self.graph.len() {
                self.post(shared, posted, gathered..self.graph.len());
                (gathered, posted) = (self.graph.len(), posted + 1);
            } else if in_order.next == posted {
                return;
            } else {
                // Another thread is expanding the next batch. None left
                // to wait for: one panicked, and the scope re-raises it.
                match found.recv() {
                    Ok(expanded) => in_order.put(expanded),
                    Err(_) => return,
                }
            }
        }
    }

    /// Queues states `ids` as the `seq`th batch.
    fn post(&self, shared: &Shared<'_, S>, seq: usize, ids: std::ops::Range<usize>) {
        let spare = shared.queue().spare_stores.pop();
        let mut states = spare.unwrap_or_else(|| Store::new(self.identity));
        self.graph.store.copy_out(ids, &mut states);
        shared.post(Batch { seq, states });
    }

    /// Adds a batch's new states and edges in id order, as the sequential
    /// search would have; false when a limit stopped the search.
    fn merge(
        &mut self,
        expanded: &mut Expanded<S::Action>,
        progress: &mut dyn FnMut(usize),
    ) -> bool {
        let Expanded {
            ids,
            counts,
            marks,
            successors,
            bytes,
            ..
        } = expanded;
        let mut successors = successors.drain(..);
        for ((id, &count), &marks) in ids.clone().zip(counts.iter()).zip(marks.iter()) {
            if self.stopped_by_limit(id, progress) {
                return false;
            }
            let mine = successors.by_ref().take(count as usize);
            self.graph.set_marks(id, marks);
            self.marked_to = id + 1;
            if self.at_depth_bound(id) {
                self.merge_depth_bound(id, mine, bytes);
                continue;
            }
            for (action, keyed) in mine {
                let new = keyed.read(bytes);
                let (graph, index) = (&mut self.graph, &mut self.index);
                // Marked when it is expanded.
                let target =
                    find_or_add(graph, index, &self.hasher, new, || 0, Some((id, &action)));
                if self.keep_edges {
                    self.graph.edges.push(&action, target);
                }
            }
            if self.keep_edges {
                self.graph.edges.close(id);
            }
            if id.is_multiple_of(4096) {
                progress(self.graph.len());
            }
        }
        true
    }

    /// [`Bfs::check_depth_bound`] on a thread's findings.
    fn merge_depth_bound(
        &mut self,
        id: usize,
        successors: impl Iterator<Item = (S::Action, Keyed)>,
        bytes: &[u8],
    ) {
        self.at_depth_bound_beyond(id, |bfs| {
            let mut beyond = false;
            for (_, keyed) in successors {
                let new = keyed.read(bytes);
                beyond |= bfs.find_key(new.hash, new.key).is_none();
            }
            beyond
        });
    }
}
