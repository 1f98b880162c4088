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

use super::{Message, Phase, Queue, TelegramIndex, TelegramRecord, TimerFreeState, Worker};
use smallvec::SmallVec;

/// Writes `state` with the worker at position `p` being
/// `state.workers[at(p)]` (the identity, or a permutation's inverse).
pub(super) fn encode(state: &TimerFreeState, at: impl Fn(usize) -> usize, buf: &mut Vec<u8>) {
    buf.clear();
    // A hint: a state with up to 8 queued messages a worker is written
    // with no growing.
    buf.reserve(3 + state.workers.len() * 12 + state.telegrams.len() * 2);
    buf.push(count(state.workers.len()));
    for p in 0..state.workers.len() {
        encode_worker(&state.workers[at(p)], buf);
    }
    buf.push(index(state.arrived) | u8::from(state.abnormal_termination) << 7);
    buf.push(count(state.telegrams.len()));
    for record in &state.telegrams {
        buf.push(record.replies);
        buf.push(u8::from(record.answered) | option(record.terminated_by) << 1);
    }
}

/// `state` with worker `i` moved to position `to[i]`, written without
/// building the permuted state.
pub(super) fn encode_permuted(state: &TimerFreeState, to: &[usize], buf: &mut Vec<u8>) {
    let mut at: SmallVec<[usize; 4]> = SmallVec::from_elem(0, to.len());
    for (i, &p) in to.iter().enumerate() {
        at[p] = i;
    }
    encode(state, |p| at[p], buf);
}

fn encode_worker(worker: &Worker, buf: &mut Vec<u8>) {
    let phase = match worker.phase {
        Phase::Idle => 0,
        Phase::AwaitDecrypt(t) => 1 | index(t) << 2,
        Phase::AwaitEncrypt(t) => 2 | index(t) << 2,
    };
    buf.extend_from_slice(&[
        phase,
        option(worker.work_area) | option(worker.timer) << 4,
        option(worker.hsm_request) | option(worker.generation) << 4,
        count(worker.queue.len()),
    ]);
    buf.extend(worker.queue.iter().map(|&message| match message {
        Message::Telegram { telegram } => index(telegram) << 2,
        Message::TimeoutNotice { epoch } => 1 | index(epoch) << 2,
        Message::Completion { telegram } => 2 | index(telegram) << 2,
    }));
}

/// The state [`encode`] wrote.
pub(super) fn decode(bytes: &[u8]) -> TimerFreeState {
    let mut bytes = bytes.iter().copied();
    let mut next = || bytes.next().expect("a stored timer-free state is whole");
    // Pushed one by one: collecting through an iterator was slower.
    let mut workers = SmallVec::new();
    for _ in 0..next() {
        workers.push(decode_worker(&mut next));
    }
    let arrived = next();
    let mut telegrams = SmallVec::new();
    for _ in 0..next() {
        let replies = next();
        let flags = next();
        telegrams.push(TelegramRecord {
            replies,
            answered: flags & 1 == 1,
            terminated_by: unoption(flags >> 1),
        });
    }
    TimerFreeState {
        workers,
        arrived: arrived & 0x7f,
        telegrams,
        abnormal_termination: arrived >> 7 == 1,
    }
}

fn decode_worker(next: &mut impl FnMut() -> u8) -> Worker {
    let phase = next();
    let phase = match phase & 3 {
        0 => Phase::Idle,
        1 => Phase::AwaitDecrypt(phase >> 2),
        _ => Phase::AwaitEncrypt(phase >> 2),
    };
    let (areas, requests) = (next(), next());
    let mut queue = Queue::new();
    for _ in 0..next() {
        let message = next();
        let t = message >> 2;
        queue.push(match message & 3 {
            0 => Message::Telegram { telegram: t },
            1 => Message::TimeoutNotice { epoch: t },
            _ => Message::Completion { telegram: t },
        });
    }
    Worker {
        phase,
        work_area: unoption(areas & 0xf),
        timer: unoption(areas >> 4),
        hsm_request: unoption(requests & 0xf),
        generation: unoption(requests >> 4),
        queue,
    }
}

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
    use crate::timer_free::TimerFree;
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
