//! timer-free's states as a search stores them, packed by hand: postcard
//! took about a fifth of a search's time (w3t5) and longer keys
//! (`Spec::encode_state`).
//!
//! The layout, a byte each unless said:
//! * the number of workers, then per worker its phase (tag in the low two
//!   bits, telegram above), `work_area | timer << 4`,
//!   `hsm_request | generation << 4` (an option is 0 or its index + 1),
//!   the queue's length and a byte per message (kind in the low two bits,
//!   index above);
//! * `arrived | abnormal_termination << 7`;
//! * the number of telegrams, then per telegram its replies and
//!   `answered | terminated_by << 1`.
//!
//! A telegram index fits in a nibble: the sizes allow 5 telegrams
//! ([`super::SIZES`]).

use super::{Message, Phase, TelegramIndex, TelegramRecord, TimerFreeState, Worker};
use crate::search::orbit_of_runs;
use smallvec::SmallVec;

/// Writes `state` with the worker at position `p` being
/// `state.workers[at(p)]` (the identity, or a permutation's inverse).
pub(super) fn encode(state: &TimerFreeState, at: impl Fn(usize) -> usize, buf: &mut Vec<u8>) {
    let mut out = Out::with_room_for(state, buf);
    out.put(count(state.workers.len()));
    for p in 0..state.workers.len() {
        out.put_worker(worker_key(&state.workers[at(p)]));
    }
    let len = out.tail(state);
    buf.truncate(len);
}

/// A worker's bytes in a number, first byte highest, zeros after them:
/// its phase (tag in the low two bits, telegram above), `work_area |
/// timer << 4`, `hsm_request | generation << 4`, the queue's length and a
/// byte per message (kind in the low two bits, index above).
///
/// These numbers also order workers in a symmetry class's key
/// (`TimerFree::compare_processes`): one comparison, not one per byte.
/// Only equal workers have equal numbers. Built by shifts, not written a
/// byte at a time and read back whole, which stalled the processor.
pub(super) fn worker_key(worker: &Worker) -> u128 {
    debug_assert!(
        worker.queue.len() <= MOST_QUEUED,
        "a worker queues over {MOST_QUEUED} messages: {worker:?}"
    );
    let phase = match worker.phase {
        Phase::Idle => 0,
        Phase::AwaitDecrypt(t) => 1 | index(t) << 2,
        Phase::AwaitEncrypt(t) => 2 | index(t) << 2,
    };
    let header = [
        phase,
        option(worker.work_area) | option(worker.timer) << 4,
        option(worker.hsm_request) | option(worker.generation) << 4,
        count(worker.queue.len()),
    ];
    let mut key = u128::from(u32::from_be_bytes(header)) << 96;
    for (i, &message) in worker.queue.iter().enumerate() {
        let byte = match message {
            Message::Telegram { telegram } => index(telegram) << 2,
            Message::TimeoutNotice { epoch } => 1 | index(epoch) << 2,
            Message::Completion { telegram } => 2 | index(telegram) << 2,
        };
        key |= u128::from(byte) << (88 - 8 * i);
    }
    key
}

/// The most messages a worker's key holds: four bytes before them, and
/// the last of its sixteen left free for sorting ([`sorted_from`]). The
/// sizes queue six at most (`tests::the_longest_queue_fits`).
pub(super) const MOST_QUEUED: usize = 11;

/// The most workers the sizes allow (`super::SIZES`).
const MOST_WORKERS: usize = 3;

/// The key of `state`'s symmetry class (`Spec::encode_representative`):
/// each worker is encoded once, the encodings are sorted and written out,
/// with no comparison of the workers themselves.
pub(super) fn encode_sorted(
    state: &TimerFreeState,
    fixed: usize,
    buf: &mut Vec<u8>,
    moved: &mut Vec<u8>,
) {
    match worker_keys(state) {
        Some(keys) => encode_sorted_keys(state, keys, fixed, buf, moved),
        // Not at any size the spec allows: the general way.
        None => crate::search::encode_sorted::<super::TimerFree>(state, fixed, buf, moved),
    }
}

/// The most telegrams whose bytes, with `arrived` and their count, fit
/// one number after the workers ([`tail_key`]): the sizes allow 5.
const MOST_TELEGRAMS: usize = 7;

/// The [`worker_key`]s of `state`'s workers (zeros after them), if the
/// sizes allow that many workers and telegrams: the keys of such a state
/// are written from numbers ([`encode_sorted_keys`]). Plain arrays, not
/// inline vectors: their inline-or-spilled checks were most of the
/// sorting's instructions.
pub(super) fn worker_keys(state: &TimerFreeState) -> Option<[u128; MOST_WORKERS]> {
    if state.workers.len() > MOST_WORKERS || state.telegrams.len() > MOST_TELEGRAMS {
        return None;
    }
    let mut keys = [0; MOST_WORKERS];
    for (key, worker) in keys.iter_mut().zip(&state.workers) {
        *key = worker_key(worker);
    }
    Some(keys)
}

/// [`encode_sorted`] with the workers' keys given ([`worker_keys`]): the
/// sorted keys and the [`tail_key`] stored whole into the key's vector
/// made long enough by one copy of zeros, then cut: written byte by byte
/// into a vector grown for them, cleared with a call for every successor,
/// the key cost a sixth of a search.
pub(super) fn encode_sorted_keys(
    state: &TimerFreeState,
    keys: [u128; MOST_WORKERS],
    fixed: usize,
    buf: &mut Vec<u8>,
    moved: &mut Vec<u8>,
) {
    let n = state.workers.len();
    assert!(n <= MOST_WORKERS, "the keys of {n} workers");
    let sorted = sorted_from(keys, n, fixed);
    buf.clear();
    buf.extend_from_slice(&[0; ROOM]);
    let mut len = put(buf, 0, u128::from(count(n)) << 120, 1);
    for &key in &sorted[..n] {
        len = put(buf, len, key, worker_len(key));
    }
    let (tail, tail_len) = tail_key(state);
    len = put(buf, len, tail, tail_len);
    buf.truncate(len);
    // The position each key came from is in its last byte.
    crate::search::moved_by(n, |p| usize::from(sorted[p] as u8), moved);
}

/// The most bytes a key of [`MOST_WORKERS`] workers and [`MOST_TELEGRAMS`]
/// telegrams takes while it is written a whole number at a time.
const ROOM: usize = 1 + 16 * MOST_WORKERS + 16;

/// Writes the first `len` bytes of `number` (first byte highest) at `at`
/// as all 16 (one store), the rest left to be overwritten or cut, and
/// returns where the next bytes go.
fn put(buf: &mut [u8], at: usize, number: u128, len: usize) -> usize {
    buf[at..at + 16].copy_from_slice(&number.to_be_bytes());
    at + len
}

/// The first `n` of `keys` sorted from position `fixed` on, each with the
/// position it came from in its last byte (free: a key holds at most
/// [`MOST_QUEUED`] messages). Those positions make equal workers keep
/// their order (so a sorted state is not moved) with no stable sort: a
/// bubble sort of distinct numbers, on three keys a network of three
/// compare-and-swaps of neighbours.
fn sorted_from(mut keys: [u128; MOST_WORKERS], n: usize, fixed: usize) -> [u128; MOST_WORKERS] {
    let mut last_bytes = 0;
    for (p, key) in keys.iter_mut().enumerate() {
        last_bytes |= *key as u8;
        *key |= p as u128;
    }
    assert_eq!(last_bytes, 0, "a worker queues over {MOST_QUEUED} messages");
    let mut order = |i: usize| {
        if keys[i] > keys[i + 1] {
            keys.swap(i, i + 1);
        }
    };
    match (n, fixed) {
        // The searches' cases, unrolled.
        (3, 0) => [0, 1, 0].into_iter().for_each(order),
        (3, 1) => order(1),
        _ => {
            for end in (fixed + 1..n).rev() {
                (fixed..end).for_each(&mut order);
            }
        }
    }
    keys
}

/// How many of a [`worker_key`]'s bytes are the worker's: four and one a
/// queued message.
fn worker_len(key: u128) -> usize {
    4 + usize::from(key.to_be_bytes()[3])
}

/// What follows the workers, first byte highest, and its length:
/// `arrived | abnormal_termination << 7`, the number of telegrams, and
/// per telegram its replies and `answered | terminated_by << 1`. Shifted
/// in record by record; for at most [`MOST_TELEGRAMS`].
fn tail_key(state: &TimerFreeState) -> (u128, usize) {
    let telegrams = &state.telegrams;
    debug_assert!(telegrams.len() <= MOST_TELEGRAMS);
    let head = index(state.arrived) | u8::from(state.abnormal_termination) << 7;
    let mut tail = u128::from(u16::from_be_bytes([head, count(telegrams.len())]));
    for record in telegrams {
        let flags = u8::from(record.answered) | option(record.terminated_by) << 1;
        tail = tail << 16 | u128::from(u16::from_be_bytes([record.replies, flags]));
    }
    let len = 2 + 2 * telegrams.len();
    (tail << (128 - 8 * len), len)
}

/// The size of the class a key of sorted workers ([`encode_sorted`] from
/// 0) stands for, from its bytes: equal workers are equal byte runs, and
/// sorted, they are neighbours.
pub(super) fn class_size(key: &[u8]) -> u64 {
    let n = usize::from(key[0]);
    let mut rest = &key[1..];
    let mut workers: SmallVec<[&[u8]; MOST_WORKERS]> = SmallVec::new();
    for _ in 0..n {
        let (worker, after) = rest.split_at(4 + usize::from(rest[3]));
        workers.push(worker);
        rest = after;
    }
    orbit_of_runs(n, workers.windows(2).map(|w| w[0] == w[1]))
}

/// Bytes written by index into a buffer with room for them: no capacity
/// check per byte, which made pushing them one by one a fifth of a
/// search's instructions.
struct Out<'b> {
    bytes: &'b mut [u8],
    len: usize,
}

impl<'b> Out<'b> {
    /// `buf` with room for the longest state of `state`'s shape (a whole
    /// [`worker_key`] a worker), to be written from its start and cut to
    /// the length [`Out::tail`] returns. Its old bytes are overwritten or
    /// cut, so only room it lacks is zeroed.
    fn with_room_for(state: &TimerFreeState, buf: &'b mut Vec<u8>) -> Self {
        let room = 3 + state.workers.len() * 16 + state.telegrams.len() * 2;
        if buf.len() < room {
            buf.resize(room, 0);
        }
        Out { bytes: buf, len: 0 }
    }

    /// A worker's bytes: its [`worker_key`]'s first `4 + queue length`,
    /// written as all 16 (one store) and the rest left to be overwritten.
    fn put_worker(&mut self, key: u128) {
        let bytes = key.to_be_bytes();
        self.bytes[self.len..self.len + 16].copy_from_slice(&bytes);
        self.len += 4 + usize::from(bytes[3]);
    }

    fn put(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// Writes what follows the workers and returns the length written.
    /// Into one slice taken whole: a bounds check for the tail, not one
    /// per byte.
    fn tail(self, state: &TimerFreeState) -> usize {
        let telegrams = &state.telegrams;
        let end = self.len + 2 + 2 * telegrams.len();
        let (head, records) = self.bytes[self.len..end].split_at_mut(2);
        head[0] = index(state.arrived) | u8::from(state.abnormal_termination) << 7;
        head[1] = count(telegrams.len());
        for (bytes, record) in records.chunks_exact_mut(2).zip(telegrams) {
            bytes[0] = record.replies;
            bytes[1] = u8::from(record.answered) | option(record.terminated_by) << 1;
        }
        end
    }
}

/// `state` with worker `i` moved to position `to[i]`, written without
/// building the permuted state.
pub(super) fn encode_permuted(state: &TimerFreeState, to: &[usize], buf: &mut Vec<u8>) {
    let at = crate::search::inverse(to.iter().copied());
    encode(state, |p| at[p], buf);
}

/// The state [`encode`] wrote. Read a field group at a time, each
/// bounds-checked once, into workers and telegrams written in place in the
/// state returned: a byte at a time through an iterator, each worker and
/// telegram built and pushed into an inline vector, this was about 700
/// instructions a stored state.
pub(super) fn decode(bytes: &[u8]) -> TimerFreeState {
    let mut input = In(bytes);
    let [n] = input.take();
    let mut state = TimerFreeState {
        workers: idle_workers(usize::from(n)),
        arrived: 0,
        telegrams: SmallVec::new(),
        abnormal_termination: false,
    };
    for worker in state.workers.iter_mut() {
        decode_worker(&mut input, worker);
    }
    let [arrived, n] = input.take();
    state.arrived = arrived & 0x7f;
    state.abnormal_termination = arrived >> 7 == 1;
    state.telegrams = unrecorded(usize::from(n));
    let records = input.slice(2 * usize::from(n)).chunks_exact(2);
    for (record, bytes) in state.telegrams.iter_mut().zip(records) {
        record.replies = bytes[0];
        record.answered = bytes[1] & 1 == 1;
        record.terminated_by = unoption(bytes[1] >> 1);
    }
    state
}

/// `n` idle workers, for [`decode_worker`] to write over: a whole inline
/// array when they fit, not pushed one by one.
fn idle_workers(n: usize) -> SmallVec<[Worker; MOST_WORKERS]> {
    if n > MOST_WORKERS {
        return SmallVec::from_elem(Worker::IDLE, n);
    }
    SmallVec::from_buf_and_len([Worker::IDLE; MOST_WORKERS], n)
}

/// `n` telegrams without a reply, for [`decode`] to write over.
fn unrecorded(n: usize) -> SmallVec<[TelegramRecord; 5]> {
    let none = TelegramRecord::default();
    if n > 5 {
        return SmallVec::from_elem(none, n);
    }
    SmallVec::from_buf_and_len([none; 5], n)
}

/// Reads a worker from `input` into `worker`.
fn decode_worker(input: &mut In, worker: &mut Worker) {
    let [phase, areas, requests, len] = input.take();
    worker.phase = match phase & 3 {
        0 => Phase::Idle,
        1 => Phase::AwaitDecrypt(phase >> 2),
        _ => Phase::AwaitEncrypt(phase >> 2),
    };
    worker.work_area = unoption(areas & 0xf);
    worker.timer = unoption(areas >> 4);
    worker.hsm_request = unoption(requests & 0xf);
    worker.generation = unoption(requests >> 4);
    let messages = input.slice(usize::from(len)).iter();
    worker
        .queue
        .assign(messages.map(|&byte| decode_message(byte)));
}

fn decode_message(byte: u8) -> Message {
    let t = byte >> 2;
    match byte & 3 {
        0 => Message::Telegram { telegram: t },
        1 => Message::TimeoutNotice { epoch: t },
        _ => Message::Completion { telegram: t },
    }
}

/// The bytes of a stored state not yet read.
struct In<'b>(&'b [u8]);

impl<'b> In<'b> {
    /// The next `N` bytes.
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (first, rest) = self.0.split_first_chunk().expect(WHOLE);
        self.0 = rest;
        *first
    }

    /// The next `n` bytes.
    fn slice(&mut self, n: usize) -> &'b [u8] {
        let (first, rest) = self.0.split_at_checked(n).expect(WHOLE);
        self.0 = rest;
        first
    }
}

const WHOLE: &str = "a stored timer-free state is whole";

/// A telegram index (or `arrived`) in the bits left beside a two-bit tag
/// or a flag, or in a nibble.
fn index(t: TelegramIndex) -> u8 {
    assert!(t < 15, "a timer-free telegram index fits in a nibble");
    t
}

fn option(t: Option<TelegramIndex>) -> u8 {
    t.map_or(0, |t| index(t) + 1)
}

fn unoption(nibble: u8) -> Option<TelegramIndex> {
    nibble.checked_sub(1)
}

/// A length (workers, telegrams, queued messages) in a byte.
fn count(n: usize) -> u8 {
    u8::try_from(n).expect("a timer-free state has under 256 of each")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;
    use crate::timer_free::{Queue, TimerFree};
    use patches::Preset;
    use std::collections::BTreeMap;

    /// Every reachable state of a few configurations decodes as it was,
    /// and permuted encodings are the permuted state's.
    #[test]
    fn every_reachable_state_reads_back_and_permutes_as_the_state_does() {
        for preset in [Preset::Jan2016, Preset::Proposed] {
            let sizes = BTreeMap::from([("workers".to_string(), 3), ("telegrams".to_string(), 3)]);
            let spec = TimerFree::new(preset.patches(), &sizes).unwrap();
            let graph = crate::search::StateGraph::explore(&spec, &mut |_| {});
            let (mut buf, mut permuted) = (Vec::new(), Vec::new());
            for state in graph.states() {
                TimerFree::encode_state(&state, &mut buf);
                assert_eq!(TimerFree::decode_state(&buf), state);
                let to = [2, 0, 1];
                TimerFree::encode_permuted(&state, &to, &mut permuted);
                TimerFree::encode_state(&TimerFree::permute(&state, &to), &mut buf);
                assert_eq!(permuted, buf);
            }
        }
    }

    /// Sorting the workers' encodings gives the key (and the permutation)
    /// that sorting the workers by `compare_processes` and writing them
    /// permuted gives, with the first worker fixed or not.
    #[test]
    fn sorted_encodings_give_the_representative_key() {
        let sizes = BTreeMap::from([("workers".to_string(), 3), ("telegrams".to_string(), 3)]);
        let spec = TimerFree::new(Preset::Jan2016.patches(), &sizes).unwrap();
        let graph = crate::search::StateGraph::explore(&spec, &mut |_| {});
        let (mut key, mut moved) = (Vec::new(), Vec::new());
        let (mut by_compare, mut moved_by_compare) = (Vec::new(), Vec::new());
        let mut permuted = 0;
        for state in graph.states() {
            for fixed in [0, 1] {
                encode_sorted(&state, fixed, &mut key, &mut moved);
                crate::search::encode_sorted::<TimerFree>(
                    &state,
                    fixed,
                    &mut by_compare,
                    &mut moved_by_compare,
                );
                assert_eq!((&key, &moved), (&by_compare, &moved_by_compare));
                permuted += usize::from(!moved.is_empty());
            }
            TimerFree::encode_state(&TimerFree::representative(&state), &mut by_compare);
            encode_sorted(&state, 0, &mut key, &mut moved);
            assert_eq!(key, by_compare, "the key is the representative's encoding");
        }
        assert!(
            permuted > 1000,
            "most found states are not sorted: {permuted}"
        );
        let workers = crate::timer_free::SIZES
            .iter()
            .find(|p| p.name == "workers");
        assert_eq!(
            workers.unwrap().max,
            MOST_WORKERS as u64,
            "the fast path's arrays"
        );
    }

    /// A class's size read off its key is its canonical member's orbit.
    #[test]
    fn class_sizes_read_off_the_key_are_the_orbits() {
        let sizes = BTreeMap::from([("workers".to_string(), 3), ("telegrams".to_string(), 3)]);
        let spec = TimerFree::new(Preset::Jan2016.patches(), &sizes).unwrap();
        let graph = crate::search::StateGraph::explore_as(
            &spec,
            crate::search::Identity::Symmetric,
            &mut |_| {},
        );
        let mut seen = std::collections::BTreeSet::new();
        for id in 0..graph.len() {
            let orbit = crate::search::orbit_size::<TimerFree>(&graph.canonical(id));
            assert_eq!(graph.class_size(id), orbit);
            seen.insert(orbit);
        }
        assert_eq!(seen, [1, 3, 6].into());
    }

    /// Past the sizes the spec allows (more workers than the inline
    /// arrays hold, more telegrams than a key's tail number, a queue past
    /// its inline room), a state still reads back, and its class key is
    /// the general one.
    #[test]
    fn a_state_past_the_fast_paths_reads_back() {
        let worker = |messages: usize| Worker {
            queue: Queue::from_slice(&vec![Message::Completion { telegram: 6 }; messages]),
            ..Worker::IDLE
        };
        let state = TimerFreeState {
            workers: [worker(10), worker(1), worker(0), worker(1)]
                .into_iter()
                .collect(),
            arrived: 8,
            telegrams: SmallVec::from_elem(TelegramRecord::default(), 8),
            abnormal_termination: false,
        };
        assert!(state.workers[0].queue.len() > crate::timer_free::INLINE_MESSAGES);
        assert!(state.workers.len() > MOST_WORKERS && state.telegrams.len() > MOST_TELEGRAMS);
        let mut buf = Vec::new();
        TimerFree::encode_state(&state, &mut buf);
        assert_eq!(TimerFree::decode_state(&buf), state);
        let three = TimerFreeState {
            workers: state.workers[..3].iter().cloned().collect(),
            ..state.clone()
        };
        TimerFree::encode_state(&three, &mut buf);
        assert_eq!(TimerFree::decode_state(&buf), three);
        let (mut key, mut moved) = (Vec::new(), Vec::new());
        let (mut general, mut general_moved) = (Vec::new(), Vec::new());
        encode_sorted(&three, 0, &mut key, &mut moved);
        crate::search::encode_sorted::<TimerFree>(&three, 0, &mut general, &mut general_moved);
        assert_eq!((key, moved), (general, general_moved));
    }

    /// A worker whose queue leaves no byte free for the sort's positions
    /// is refused, not sorted by a key it overflowed.
    #[test]
    #[should_panic(expected = "a worker queues over")]
    fn a_queue_longer_than_a_key_holds_is_refused() {
        let long = Worker {
            queue: Queue::from_slice(&[Message::Completion { telegram: 0 }; MOST_QUEUED + 1]),
            ..Worker::IDLE
        };
        let state = TimerFreeState {
            workers: [long, Worker::IDLE].into_iter().collect(),
            arrived: 1,
            telegrams: SmallVec::from_elem(TelegramRecord::default(), 1),
            abnormal_termination: false,
        };
        encode_sorted(&state, 0, &mut Vec::new(), &mut Vec::new());
    }

    #[test]
    fn the_abnormal_termination_and_every_message_kind_read_back() {
        let worker = |queue: &[Message]| Worker {
            phase: Phase::AwaitEncrypt(4),
            work_area: Some(4),
            timer: None,
            hsm_request: Some(0),
            queue: Queue::from_slice(queue),
            generation: Some(3),
        };
        let state = TimerFreeState {
            workers: [
                worker(&[
                    Message::Telegram { telegram: 4 },
                    Message::TimeoutNotice { epoch: 2 },
                    Message::Completion { telegram: 0 },
                ]),
                worker(&[]),
            ]
            .into_iter()
            .collect(),
            arrived: 5,
            telegrams: SmallVec::from_slice(&[TelegramRecord {
                replies: 2,
                answered: true,
                terminated_by: Some(4),
            }]),
            abnormal_termination: true,
        };
        let mut buf = Vec::new();
        TimerFree::encode_state(&state, &mut buf);
        assert_eq!(TimerFree::decode_state(&buf), state);
        assert_eq!(buf.len(), 1 + (4 + 3) + 4 + 1 + 1 + 2);
    }
}
