//! **timer-free**: root cause 2 of the incident, the timer/free race that
//! terminated the business AP 38 times in 2016 (docs/specs.md, timer-free).
//!
//! Each worker of the business AP runs a Windows-like message loop. Per
//! telegram it allocates a work area, sets its timer (one timer id per worker,
//! reused), asks the HSM to decrypt, forwards upstream, asks the HSM to
//! encrypt, then resets (kills) the timer, replies and frees the work area.
//! While the HSM works the worker is back in its message loop, so any queued
//! message can be retrieved mid-telegram.
//!
//! Assumptions:
//! * A handler runs to completion: one `Handle` action is one message
//!   retrieved and fully processed. Only the OS (timer), the HSM and arriving
//!   telegrams interleave with it, which is exactly what a message loop allows.
//! * The OS may fire an armed (one-shot) timer at any moment; the timeout
//!   notice is queued and killing the timer does not remove it.
//! * The notice does not say which telegram it was for. The model still
//!   records the telegram generation (`epoch`) it fired for, so it can tell a
//!   spurious termination; only `TimerFix::Epoch` lets the AP read it.
//! * Assumptions ([`ASSUMPTIONS`], `--assume`): `delivery` = `low-priority`
//!   (default: timeout notices are low priority like `WM_TIMER`, retrieved
//!   only when nothing else acceptable is waiting) or `fifo`; `arrivals` =
//!   `several` (default: telegrams arrive at any time, from several CSs at
//!   once) or `one-terminal` (one CS that sends its next telegram only after
//!   the reply to the previous one); `hsm-wait` = `in-time` (default: the
//!   HSM answers within the relay's bounded wait) or `may-expire` (with the
//!   March guard on, the relay's bounded HSM wait may run out: error reply,
//!   HSM reset, the timer killed, the work area freed). A new telegram is
//!   acceptable only when the worker is idle; an HSM completion and a timeout
//!   notice are always acceptable.
//! * Terminating a telegram sends it an error reply, kills its timer, frees
//!   its work area and abandons its HSM request; a completion that still
//!   arrives for it is discarded. Freeing with nothing allocated is the
//!   abnormal termination of the whole AP: no further step happens.

use crate::assume::{self, AssumeError, Assumption, Assumptions};
use crate::search::{encode_key, Identity, Keys};
use crate::sizes::{resolve, SizeError, SizeParam};
use crate::spec::{is_terminal, with_fairness, Fairness, Property, Spec};
use patches::{HsmGuard, Patches, TimerFix};
use serde::{Deserialize, Serialize};
use smallvec::{smallvec, SmallVec};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

mod codec;
mod queue;

pub use queue::{Queue, INLINE_MESSAGES};

/// Size parameters of timer-free.
pub const SIZES: &[SizeParam] = &[
    SizeParam {
        name: "telegrams",
        default: 3,
        min: 1,
        max: 5,
        help: "telegrams that arrive in total",
    },
    SizeParam {
        name: "workers",
        default: 2,
        min: 1,
        max: 3,
        help: "workers (message loops), each with its own timer and work area",
    },
];

/// Environment assumptions of timer-free (`--assume NAME=VALUE`).
pub const ASSUMPTIONS: &[Assumption] = &[
    Assumption {
        name: "arrivals",
        values: &["several", "one-terminal"],
        help: "how telegrams arrive",
        meanings: &[
            "telegrams arrive at any time, from several CSs at once",
            "one CS that sends its next telegram only after the reply to the previous one",
        ],
        why_default: "about 600 municipalities' CSs shared the relay in 2016",
    },
    Assumption {
        name: "delivery",
        values: &["low-priority", "fifo"],
        help: "how the worker's message loop retrieves timeout notices",
        meanings: &[
            "timeout notices are low priority like WM_TIMER: retrieved only when no other acceptable message waits",
            "every message in posting order",
        ],
        why_default: "the relay ran on Windows, where WM_TIMER is a low-priority message",
    },
    Assumption {
        name: "hsm-wait",
        values: &["in-time", "may-expire"],
        help: "whether the relay's bounded HSM wait (hsm_guard=error-on-interrupted) can run out in timer-free",
        meanings: &[
            "the HSM always answers within the relay's bounded wait",
            "the bounded wait may run out while the HSM works: error reply, HSM reset, timer killed, work area freed",
        ],
        why_default: "the bound (5 s) is far above the HSM's latency; irq-order is the spec of a lost HSM answer",
    },
    assume::FAIRNESS,
];

/// A telegram of the spec: its place in arrival order (0, 1, ..), an index
/// into the state's tables, and also its generation (epoch) for the timer.
/// Not the relay's `TelegramId` (a wire identifier); the relay<->spec map
/// in `scenarios` translates between the two.
pub type TelegramIndex = u8;

/// A message in a worker's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// A request telegram from a CS.
    Telegram { telegram: TelegramIndex },
    /// The OS timer fired while armed for this telegram generation.
    TimeoutNotice { epoch: TelegramIndex },
    /// The HSM finished the request it got for this telegram.
    Completion { telegram: TelegramIndex },
}

/// Where a worker is in its per-telegram sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    Idle,
    /// Work area allocated, timer set, waiting for the HSM to decrypt.
    AwaitDecrypt(TelegramIndex),
    /// Forwarded upstream and got the answer, waiting for the HSM to encrypt.
    AwaitEncrypt(TelegramIndex),
}

impl Phase {
    pub fn telegram(self) -> Option<TelegramIndex> {
        match self {
            Phase::Idle => None,
            Phase::AwaitDecrypt(t) | Phase::AwaitEncrypt(t) => Some(t),
        }
    }
}

/// One message loop of the business AP.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Worker {
    pub phase: Phase,
    /// The telegram whose work area is allocated, if any.
    pub work_area: Option<TelegramIndex>,
    /// The generation the (one-shot) timer is armed for, if armed.
    pub timer: Option<TelegramIndex>,
    /// The telegram whose HSM request is outstanding (completion not posted).
    pub hsm_request: Option<TelegramIndex>,
    pub queue: Queue,
    /// `TimerFix::EpochUncleared` only (always `None` otherwise, so the other
    /// fixes' state spaces are unchanged): the generation of the telegram
    /// started last, never cleared when it ends.
    pub generation: Option<TelegramIndex>,
}

impl Worker {
    /// A worker with no telegram and an empty queue, as every worker
    /// starts.
    pub const IDLE: Worker = Worker {
        phase: Phase::Idle,
        work_area: None,
        timer: None,
        hsm_request: None,
        queue: Queue::new(),
        generation: None,
    };
}

impl Clone for Worker {
    fn clone(&self) -> Self {
        Worker {
            queue: self.queue.clone(),
            ..*self
        }
    }

    /// Field by field, the queue copied into (`successors_into`).
    #[inline]
    fn clone_from(&mut self, source: &Self) {
        let Worker {
            phase,
            work_area,
            timer,
            hsm_request,
            queue,
            generation,
        } = source;
        (self.phase, self.work_area, self.timer) = (*phase, *work_area, *timer);
        (self.hsm_request, self.generation) = (*hsm_request, *generation);
        self.queue.clone_from(queue);
    }
}

/// What happened to one telegram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct TelegramRecord {
    /// Replies sent (normal or error).
    pub replies: u8,
    /// Answered normally.
    pub answered: bool,
    /// Terminated by a timeout notice of this generation.
    pub terminated_by: Option<TelegramIndex>,
}

/// The whole AP.
#[derive(Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimerFreeState {
    pub workers: SmallVec<[Worker; 3]>,
    /// Telegrams that have arrived so far (the next one's id).
    pub arrived: TelegramIndex,
    pub telegrams: SmallVec<[TelegramRecord; 5]>,
    /// The AP freed a work area that was not allocated and terminated abnormally.
    pub abnormal_termination: bool,
}

// Clones by hand: the derived clone of an inline vector copies it element
// by element through an iterator, a fifth of a search's time; the
// telegrams are plain copies, the workers are cloned one by one, each
// queue copied whole.
impl Clone for TimerFreeState {
    fn clone(&self) -> Self {
        TimerFreeState {
            workers: clone_workers(&self.workers),
            telegrams: SmallVec::from_slice(&self.telegrams),
            ..*self
        }
    }

    /// Copies into `self`'s vectors (`TimerFree::successors_into`).
    #[inline]
    fn clone_from(&mut self, source: &Self) {
        if self.workers.len() == source.workers.len() {
            for (worker, source) in self.workers.iter_mut().zip(&source.workers) {
                worker.clone_from(source);
            }
        } else {
            self.workers = clone_workers(&source.workers);
        }
        if self.telegrams.len() == source.telegrams.len() {
            self.telegrams.copy_from_slice(&source.telegrams);
        } else {
            self.telegrams = SmallVec::from_slice(&source.telegrams);
        }
        self.arrived = source.arrived;
        self.abnormal_termination = source.abnormal_termination;
    }
}

/// The workers pushed one by one: collecting them through an iterator
/// costs more than the copies.
fn clone_workers(workers: &[Worker]) -> SmallVec<[Worker; 3]> {
    let mut clone = SmallVec::new();
    for worker in workers {
        clone.push(worker.clone());
    }
    clone
}

/// What the real relay can also report, for comparing it with the model
/// (proptest's reference state machine, trace refinement).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerFreeObservation {
    /// Telegrams whose work area is allocated, ascending.
    pub work_areas_allocated: Vec<TelegramIndex>,
    /// Timeout notices queued and not yet retrieved, over all workers.
    pub pending_timeout_notices: usize,
    /// Replies sent per telegram (normal or error).
    pub replies: Vec<u8>,
    /// Telegrams terminated by a timeout notice, ascending.
    pub terminated: Vec<TelegramIndex>,
    pub abnormal_termination: bool,
}

impl TimerFreeState {
    pub fn observe(&self) -> TimerFreeObservation {
        let mut work_areas_allocated: Vec<_> =
            self.workers.iter().filter_map(|w| w.work_area).collect();
        work_areas_allocated.sort();
        let pending_timeout_notices = self
            .workers
            .iter()
            .flat_map(|w| w.queue.iter())
            .filter(|m| matches!(m, Message::TimeoutNotice { .. }))
            .count();
        TimerFreeObservation {
            work_areas_allocated,
            pending_timeout_notices,
            replies: self.telegrams.iter().map(|r| r.replies).collect(),
            terminated: (0..self.telegrams.len() as TelegramIndex)
                .filter(|&t| self.telegrams[usize::from(t)].terminated_by.is_some())
                .collect(),
            abnormal_termination: self.abnormal_termination,
        }
    }
}

/// One step of the AP or its environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerFreeAction {
    /// A CS telegram is posted to a worker's queue.
    Arrive {
        worker: usize,
        telegram: TelegramIndex,
    },
    /// The OS fires the worker's armed timer: a timeout notice is queued.
    TimerFires { worker: usize },
    /// The HSM posts the completion of the worker's outstanding request.
    HsmCompletes { worker: usize },
    /// The worker retrieves `message` (the one its delivery rule picks) and
    /// runs its handler to completion.
    Handle { worker: usize, message: Message },
    /// `hsm-wait=may-expire`: the relay's bounded wait for the HSM runs out
    /// (error reply, HSM reset, timer killed, work area freed).
    HsmWaitExpires { worker: usize },
}

impl TimerFreeAction {
    /// The worker the action happens to: the only one it changes.
    pub fn worker(&self) -> usize {
        match *self {
            TimerFreeAction::Arrive { worker, .. }
            | TimerFreeAction::TimerFires { worker }
            | TimerFreeAction::HsmCompletes { worker }
            | TimerFreeAction::Handle { worker, .. }
            | TimerFreeAction::HsmWaitExpires { worker } => worker,
        }
    }
}

/// The timer-free spec for one setting of the patches.
#[derive(Clone, Debug)]
pub struct TimerFree {
    pub timer_fix: TimerFix,
    pub telegrams: u8,
    pub workers: usize,
    /// `delivery=fifo`: timeout notices in posting order.
    pub fifo: bool,
    /// `arrivals=one-terminal`: the next telegram only after every reply.
    pub one_terminal: bool,
    /// `hsm-wait=may-expire` with the March guard on: the relay's bounded
    /// HSM wait may run out.
    pub hsm_wait_expires: bool,
    /// The relay waits for the HSM with a bound (`hsm_guard`).
    pub hsm_guard: HsmGuard,
    /// `fairness=none`.
    pub unfair: bool,
}

impl TimerFree {
    /// Takes `action` from `state`, writing the successor into `next` (a
    /// copy of `state` on entry); `None` when it is not enabled (`next`
    /// is then partly written). A `listed` action (from `actions`, so
    /// enabled: `tests::listed_actions_are_enabled`) is not asked again
    /// whether its message is the one retrieved next or its telegram may
    /// arrive.
    fn apply(
        &self,
        state: &TimerFreeState,
        action: &TimerFreeAction,
        next: &mut TimerFreeState,
        listed: bool,
    ) -> Option<()> {
        if state.abnormal_termination {
            return None;
        }
        match *action {
            TimerFreeAction::Arrive { worker, telegram } => {
                if !listed && (telegram != state.arrived || !self.may_arrive(state)) {
                    return None;
                }
                next.workers
                    .get_mut(worker)?
                    .queue
                    .push(Message::Telegram { telegram });
                next.arrived += 1;
            }
            TimerFreeAction::TimerFires { worker } => {
                let w = next.workers.get_mut(worker)?;
                let epoch = w.timer.take()?;
                w.queue.push(Message::TimeoutNotice { epoch });
            }
            TimerFreeAction::HsmCompletes { worker } => {
                let w = next.workers.get_mut(worker)?;
                let telegram = w.hsm_request.take()?;
                w.queue.push(Message::Completion { telegram });
            }
            TimerFreeAction::Handle { worker, message } => {
                if !listed && self.next_message(state.workers.get(worker)?) != Some(message) {
                    return None;
                }
                self.handle(next, worker, message);
            }
            TimerFreeAction::HsmWaitExpires { worker } => {
                if !self.hsm_wait_can_expire(state.workers.get(worker)?) {
                    return None;
                }
                hsm_wait_expires(next, worker);
            }
        }
        Some(())
    }

    /// Builds the spec; `sizes` may be partial (defaults fill the rest).
    pub fn new(patches: Patches, sizes: &BTreeMap<String, u64>) -> Result<Self, SizeError> {
        let sizes = resolve("timer-free", SIZES, sizes)?;
        Ok(TimerFree {
            timer_fix: patches.timer_fix,
            telegrams: sizes["telegrams"] as u8,
            workers: sizes["workers"] as usize,
            fifo: false,
            one_terminal: false,
            hsm_wait_expires: false,
            hsm_guard: patches.hsm_guard,
            unfair: false,
        })
    }

    /// This spec under the assumptions `given` (partial: defaults fill the
    /// rest).
    pub fn assuming(mut self, given: &BTreeMap<String, String>) -> Result<Self, AssumeError> {
        let a = assume::resolve("timer-free", ASSUMPTIONS, given)?;
        self.one_terminal = a["arrivals"] == "one-terminal";
        self.fifo = a["delivery"] == "fifo";
        self.hsm_wait_expires = a["hsm-wait"] == "may-expire";
        self.unfair = assume::unfair(&a);
        Ok(self)
    }

    /// The sizes this spec was built with (for traces).
    pub fn sizes(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("telegrams".to_string(), u64::from(self.telegrams)),
            ("workers".to_string(), self.workers as u64),
        ])
    }

    /// Whether the next telegram may arrive: always with several CSs; with
    /// one terminal only once every telegram so far has its reply.
    fn may_arrive(&self, state: &TimerFreeState) -> bool {
        state.arrived < self.telegrams
            && (!self.one_terminal
                || state.telegrams[..usize::from(state.arrived)]
                    .iter()
                    .all(|r| r.replies > 0))
    }

    /// Whether the relay's bounded HSM wait can run out for `worker`.
    fn hsm_wait_can_expire(&self, worker: &Worker) -> bool {
        self.hsm_wait_expires
            && self.hsm_guard == HsmGuard::ErrorOnInterrupted
            && worker.hsm_request.is_some()
    }

    /// Passes `action` each action enabled in `state`, in a fixed order,
    /// until it breaks: the spec's `actions`, and a state is terminal when
    /// there is none (each has a next state:
    /// `tests::listed_actions_are_enabled`), known at the first.
    fn each_enabled_action(
        &self,
        state: &TimerFreeState,
        mut action: impl FnMut(TimerFreeAction) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if state.abnormal_termination {
            return ControlFlow::Continue(()); // the AP is gone
        }
        let may_arrive = self.may_arrive(state);
        for (w, worker) in state.workers.iter().enumerate() {
            if may_arrive {
                action(TimerFreeAction::Arrive {
                    worker: w,
                    telegram: state.arrived,
                })?;
            }
            if worker.timer.is_some() {
                action(TimerFreeAction::TimerFires { worker: w })?;
            }
            if worker.hsm_request.is_some() {
                action(TimerFreeAction::HsmCompletes { worker: w })?;
            }
            if let Some(message) = self.next_message(worker) {
                action(TimerFreeAction::Handle { worker: w, message })?;
            }
            if self.hsm_wait_can_expire(worker) {
                action(TimerFreeAction::HsmWaitExpires { worker: w })?;
            }
        }
        ControlFlow::Continue(())
    }

    /// The message the worker's loop retrieves next, if any is acceptable.
    pub fn next_message(&self, worker: &Worker) -> Option<Message> {
        let acceptable = |m: &&Message| match m {
            Message::Telegram { .. } => worker.phase == Phase::Idle,
            Message::TimeoutNotice { .. } | Message::Completion { .. } => true,
        };
        let is_notice = |m: &&Message| matches!(m, Message::TimeoutNotice { .. });
        let mut candidates = worker.queue.iter().filter(acceptable);
        if self.fifo {
            return candidates.next().copied();
        }
        // WM_TIMER is low priority: any other acceptable message goes first.
        let first_other = worker
            .queue
            .iter()
            .filter(acceptable)
            .find(|m| !is_notice(m));
        first_other.or_else(|| candidates.find(is_notice)).copied()
    }

    fn handle(&self, state: &mut TimerFreeState, w: usize, message: Message) {
        let worker = &mut state.workers[w];
        let at = worker
            .queue
            .iter()
            .position(|m| *m == message)
            .expect("handled message is queued");
        worker.queue.remove(at);
        match message {
            Message::Telegram { telegram } => {
                start_telegram(worker, telegram);
                if self.timer_fix == TimerFix::EpochUncleared {
                    worker.generation = Some(telegram);
                }
            }
            Message::Completion { telegram } => on_completion(state, w, telegram),
            Message::TimeoutNotice { epoch } => self.on_timeout_notice(state, w, epoch),
        }
    }

    /// The timeout handler: the three variants of the fix differ only in
    /// when they decide to terminate.
    fn on_timeout_notice(&self, state: &mut TimerFreeState, w: usize, epoch: TelegramIndex) {
        let worker = &state.workers[w];
        let terminate = match self.timer_fix {
            TimerFix::None => true,
            TimerFix::AllocGuard => worker.work_area.is_some(),
            TimerFix::Epoch => worker.phase.telegram() == Some(epoch),
            TimerFix::EpochUncleared => worker.generation == Some(epoch),
        };
        if terminate {
            terminate_current(state, w, epoch);
        }
    }
}

/// Telegram handler: allocate the work area, set the timer, ask the HSM.
fn start_telegram(worker: &mut Worker, telegram: TelegramIndex) {
    worker.work_area = Some(telegram);
    worker.timer = Some(telegram);
    worker.hsm_request = Some(telegram);
    worker.phase = Phase::AwaitDecrypt(telegram);
}

/// Completion handler. After decryption the worker forwards upstream
/// (synchronously) and asks for encryption; after encryption it kills the
/// timer, replies and frees. A completion for another telegram is discarded.
fn on_completion(state: &mut TimerFreeState, w: usize, telegram: TelegramIndex) {
    let worker = &mut state.workers[w];
    match worker.phase {
        Phase::AwaitDecrypt(t) if t == telegram => {
            worker.hsm_request = Some(t);
            worker.phase = Phase::AwaitEncrypt(t);
        }
        Phase::AwaitEncrypt(t) if t == telegram => {
            worker.timer = None; // KillTimer: a queued notice stays queued.
            worker.phase = Phase::Idle;
            worker.work_area = None;
            let record = &mut state.telegrams[usize::from(t)];
            record.replies += 1;
            record.answered = true;
        }
        _ => {}
    }
}

/// The bounded HSM wait ran out (the relay's `on_hsm_wait_timed_out`): the
/// HSM is reset (its answer never comes), the telegram gets an error reply,
/// the timer is killed (a queued notice stays queued) and the work area freed.
fn hsm_wait_expires(state: &mut TimerFreeState, w: usize) {
    let worker = &mut state.workers[w];
    let Some(telegram) = worker.phase.telegram() else {
        return;
    };
    worker.hsm_request = None;
    worker.timer = None;
    worker.phase = Phase::Idle;
    worker.work_area = None;
    state.telegrams[usize::from(telegram)].replies += 1;
}

/// Termination: free the work area pointer. With nothing allocated this is
/// the abnormal termination of the AP.
fn terminate_current(state: &mut TimerFreeState, w: usize, epoch: TelegramIndex) {
    let worker = &mut state.workers[w];
    let Some(telegram) = worker.work_area.take() else {
        state.abnormal_termination = true;
        return;
    };
    worker.timer = None;
    worker.hsm_request = None;
    worker.phase = Phase::Idle;
    let record = &mut state.telegrams[usize::from(telegram)];
    record.replies += 1;
    record.terminated_by = Some(epoch);
}

impl Spec for TimerFree {
    type State = TimerFreeState;
    type Action = TimerFreeAction;

    fn name(&self) -> &'static str {
        "timer-free"
    }

    fn init_states(&self) -> Vec<TimerFreeState> {
        vec![TimerFreeState {
            workers: smallvec![Worker::IDLE; self.workers],
            arrived: 0,
            telegrams: smallvec![TelegramRecord::default(); usize::from(self.telegrams)],
            abnormal_termination: false,
        }]
    }

    fn actions(&self, state: &TimerFreeState, actions: &mut Vec<TimerFreeAction>) {
        let _ = self.each_enabled_action(state, |action| {
            actions.push(action);
            ControlFlow::Continue(())
        });
    }

    /// Stops at the first enabled action (the deadlock property asks it
    /// of every state a search finds).
    fn is_terminal(&self, state: &TimerFreeState) -> bool {
        self.each_enabled_action(state, |_| ControlFlow::Break(()))
            .is_continue()
    }

    fn next_state(
        &self,
        state: &TimerFreeState,
        action: &TimerFreeAction,
    ) -> Option<TimerFreeState> {
        let mut next = state.clone();
        self.apply(state, action, &mut next, false)?;
        Some(next)
    }

    /// Writes each successor over one of the last call's, copying `state`
    /// into it: building a state and moving it into the vector cost a
    /// fifth of a search's instructions.
    fn successors_into(
        &self,
        state: &TimerFreeState,
        actions: &mut Vec<TimerFreeAction>,
        successors: &mut Vec<(TimerFreeAction, TimerFreeState)>,
    ) {
        actions.clear();
        self.actions(state, actions);
        let mut enabled = 0;
        for action in actions.drain(..) {
            if enabled == successors.len() {
                successors.push((action.clone(), state.clone()));
            } else {
                successors[enabled].1.clone_from(state);
            }
            let (slot, next) = &mut successors[enabled];
            if self.apply(state, &action, next, true).is_some() {
                *slot = action;
                enabled += 1;
            }
        }
        successors.truncate(enabled);
    }

    /// Each successor's key from the parent's worker keys: an action
    /// changes only the worker it names (`apply`), so only that worker is
    /// encoded again (encoding the workers was a tenth of a search).
    fn successors_with_keys(
        &self,
        state: &TimerFreeState,
        identity: Identity,
        actions: &mut Vec<TimerFreeAction>,
        successors: &mut Vec<(TimerFreeAction, TimerFreeState)>,
        keys: &mut Keys,
    ) {
        self.successors_into(state, actions, successors);
        keys.clear();
        let symmetric = identity != Identity::Exact;
        let parent = codec::worker_keys(state).filter(|_| symmetric);
        let fixed = identity.fixed_processes();
        for (action, next) in successors.iter() {
            let (key, moved) = keys.next_slot();
            let Some(mut worker_keys) = parent else {
                encode_key::<Self>(identity, next, key, moved);
                continue;
            };
            let w = action.worker();
            worker_keys[w] = codec::worker_key(&next.workers[w]);
            debug_assert_eq!(
                Some(worker_keys),
                codec::worker_keys(next),
                "{action:?} changed only worker {w}"
            );
            codec::encode_sorted_keys(next, worker_keys, fixed, key, moved);
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let properties = vec![
            Property::<Self>::always("no_free_of_unallocated", |_, s| !s.abnormal_termination),
            Property::<Self>::always("no_spurious_termination", |_, s| {
                s.telegrams
                    .iter()
                    .enumerate()
                    .all(|(t, r)| r.terminated_by.is_none_or(|epoch| usize::from(epoch) == t))
            }),
            Property::<Self>::always("exactly_one_reply", exactly_one_reply),
            Property::<Self>::always("no_deadlock", |spec, s| {
                let waiting = s.telegrams[..usize::from(s.arrived)]
                    .iter()
                    .any(|r| r.replies == 0);
                !(waiting && is_terminal(spec, s))
            }),
            Property::<Self>::sometimes("genuine_timeout_happens", |_, s| {
                s.telegrams
                    .iter()
                    .enumerate()
                    .any(|(t, r)| r.terminated_by.is_some_and(|e| usize::from(e) == t))
            }),
            Property::<Self>::always("no_leak", |_, s| {
                s.workers.iter().all(|w| w.work_area == w.phase.telegram())
            }),
            Property::<Self>::sometimes("all_telegrams_answered", |_, s| {
                s.telegrams.iter().all(|r| r.answered)
            }),
            Property::<Self>::eventually(
                "telegrams_finish",
                |spec, s| usize::from(s.arrived) == usize::from(spec.telegrams) && all_finished(s),
                Fairness::new(
                    "the worker, the HSM and the CSs keep taking steps",
                    |_, _| true,
                ),
            ),
        ];
        with_fairness(properties, self.unfair)
    }

    fn representative(state: &TimerFreeState) -> TimerFreeState {
        let mut canonical = state.clone();
        canonical.workers.sort_by_key(codec::worker_key);
        canonical
    }

    fn processes(state: &TimerFreeState) -> usize {
        state.workers.len()
    }

    /// By the workers' encodings ([`codec::worker_key`]): the order a
    /// search sorts them in without comparing the workers themselves
    /// ([`Spec::encode_representative`]).
    fn compare_processes(state: &TimerFreeState, i: usize, j: usize) -> std::cmp::Ordering {
        codec::worker_key(&state.workers[i]).cmp(&codec::worker_key(&state.workers[j]))
    }

    fn permute(state: &TimerFreeState, to: &[usize]) -> TimerFreeState {
        let mut permuted = state.clone();
        // Copied into the clone's workers: assigning fresh clones would
        // copy every worker twice and drop the first copies.
        for (i, worker) in state.workers.iter().enumerate() {
            permuted.workers[to[i]].clone_from(worker);
        }
        permuted
    }

    /// The workers swapped into place, cycle by cycle, not cloned.
    fn permute_owned(mut state: TimerFreeState, to: &[usize]) -> TimerFreeState {
        crate::search::permute_in_place(&mut state.workers, to);
        state
    }

    fn encode_state(state: &TimerFreeState, buf: &mut Vec<u8>) {
        codec::encode(state, |p| p, buf);
    }

    fn decode_state(bytes: &[u8]) -> TimerFreeState {
        codec::decode(bytes)
    }

    fn encode_permuted(state: &TimerFreeState, to: &[usize], buf: &mut Vec<u8>) {
        codec::encode_permuted(state, to, buf);
    }

    fn class_size(key: &[u8]) -> u64 {
        codec::class_size(key)
    }

    fn encode_representative(
        state: &TimerFreeState,
        fixed: usize,
        buf: &mut Vec<u8>,
        moved: &mut Vec<u8>,
    ) {
        codec::encode_sorted(state, fixed, buf, moved);
    }

    fn permute_action(action: &TimerFreeAction, to: &[usize]) -> TimerFreeAction {
        let mut permuted = action.clone();
        match &mut permuted {
            TimerFreeAction::Arrive { worker, .. }
            | TimerFreeAction::TimerFires { worker }
            | TimerFreeAction::HsmCompletes { worker }
            | TimerFreeAction::Handle { worker, .. }
            | TimerFreeAction::HsmWaitExpires { worker } => *worker = to[*worker],
        }
        permuted
    }

    fn assumptions(&self) -> Assumptions {
        let value = |on: bool, yes: &str, no: &str| if on { yes } else { no }.to_string();
        BTreeMap::from([
            (
                "arrivals".to_string(),
                value(self.one_terminal, "one-terminal", "several"),
            ),
            (
                "delivery".to_string(),
                value(self.fifo, "fifo", "low-priority"),
            ),
            (
                "hsm-wait".to_string(),
                value(self.hsm_wait_expires, "may-expire", "in-time"),
            ),
            ("fairness".to_string(), value(self.unfair, "none", "weak")),
        ])
    }

    fn describe_action(&self, action: &TimerFreeAction) -> String {
        match action {
            TimerFreeAction::Arrive { worker, telegram } => {
                format!("telegram t{telegram} arrives at worker w{worker}")
            }
            TimerFreeAction::TimerFires { worker } => {
                format!("OS fires w{worker}'s timer: timeout_notice queued")
            }
            TimerFreeAction::HsmCompletes { worker } => {
                format!("HSM posts completion_notice to w{worker}")
            }
            TimerFreeAction::Handle { worker, message } => {
                format!("w{worker} handles {}", describe_message(message))
            }
            TimerFreeAction::HsmWaitExpires { worker } => {
                format!("w{worker}'s bounded HSM wait runs out: error reply, HSM reset, free")
            }
        }
    }

    fn describe_state(&self, s: &TimerFreeState) -> String {
        let workers: Vec<String> = s
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let queue: Vec<String> = w.queue.iter().map(describe_message).collect();
                format!(
                    "w{i} {:?} work_area={} timer={} queue=[{}]",
                    w.phase,
                    opt(w.work_area),
                    opt(w.timer),
                    queue.join(", ")
                )
            })
            .collect();
        let telegrams: Vec<String> = s
            .telegrams
            .iter()
            .enumerate()
            .map(|(t, r)| match (r.answered, r.terminated_by) {
                (true, _) => format!("t{t} answered"),
                (_, Some(e)) => format!("t{t} terminated by timeout_notice(for t{e})"),
                _ => format!("t{t} replies={}", r.replies),
            })
            .collect();
        format!(
            "{} | {}{}",
            workers.join("; "),
            telegrams.join(", "),
            if s.abnormal_termination {
                " | AP TERMINATED ABNORMALLY"
            } else {
                ""
            }
        )
    }
}

/// Every telegram gets at most one reply, and none is left without one by an
/// abnormal termination of the AP.
fn exactly_one_reply(_: &TimerFree, s: &TimerFreeState) -> bool {
    let at_most_one = s.telegrams.iter().all(|r| r.replies <= 1);
    at_most_one && !(s.abnormal_termination && s.telegrams.iter().any(|r| r.replies == 0))
}

fn all_finished(s: &TimerFreeState) -> bool {
    s.telegrams.iter().all(|r| r.replies > 0)
}

fn opt(t: Option<TelegramIndex>) -> String {
    t.map_or("-".to_string(), |t| format!("t{t}"))
}

fn describe_message(m: &Message) -> String {
    match m {
        Message::Telegram { telegram } => format!("telegram t{telegram}"),
        Message::TimeoutNotice { epoch } => format!("timeout_notice(for t{epoch})"),
        Message::Completion { telegram } => format!("completion_notice(t{telegram})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patches::Preset;

    /// The longest queue at the largest size fits inline
    /// ([`INLINE_MESSAGES`]) and in a worker's key (`codec::MOST_QUEUED`)
    /// on every preset and assumption setting. One worker takes every
    /// telegram, so its queue is the longest any worker's can be.
    #[test]
    fn the_longest_queue_fits() {
        let sizes = BTreeMap::from([("workers".to_string(), 1), ("telegrams".to_string(), 5)]);
        assert_eq!(SIZES[0].name, "telegrams");
        assert_eq!(SIZES[0].max, 5, "a larger size may need a longer queue");
        let mut longest = 0;
        for spec in under_every_setting(&sizes) {
            let graph = crate::search::StateGraph::explore(&spec, &mut |_| {});
            let queues = graph.states().map(|s| s.workers[0].queue.len());
            longest = longest.max(queues.max().unwrap());
        }
        assert_eq!(
            longest, 6,
            "the longest queue changed: is INLINE_MESSAGES still enough?"
        );
        assert!(longest <= INLINE_MESSAGES.min(codec::MOST_QUEUED));
    }

    /// A walk of a relay's log (`validate`, one worker with hundreds of
    /// telegrams) can queue far more than a search: the spec bounds no
    /// queue, so the walk never stops at one.
    #[test]
    fn a_walk_queues_more_than_the_search_sizes_allow() {
        let sizes = BTreeMap::from([("workers".to_string(), 1), ("telegrams".to_string(), 1)]);
        let spec = TimerFree {
            telegrams: 40,
            ..TimerFree::new(Preset::Proposed.patches(), &sizes).unwrap()
        };
        let mut state = spec.init_states().remove(0);
        let mut first = None;
        for telegram in 0..40 {
            state = spec
                .next_state(
                    &state,
                    &TimerFreeAction::Arrive {
                        worker: 0,
                        telegram,
                    },
                )
                .expect("every arrival is enabled");
            let handle = spec
                .successors(&state)
                .into_iter()
                .find(|(a, _)| matches!(a, TimerFreeAction::Handle { .. }));
            first = first.or(handle.map(|(_, s)| s));
        }
        assert_eq!(state.workers[0].queue.len(), 40);
        const { assert!(INLINE_MESSAGES < 40) };
        // The first telegram handled from the long queue, and the clone
        // the search writes successors over agrees with a fresh one.
        let mut reused = spec.init_states().remove(0);
        reused.clone_from(&state);
        assert_eq!(reused, state);
        let handled = spec.successors(&state);
        assert!(!handled.is_empty());
        assert!(first.is_some_and(|s| s.workers[0].queue.is_empty()));
    }

    /// Successors written over the last state's are the ones `next_state`
    /// builds, whatever the vector held before.
    #[test]
    fn successors_written_over_old_ones_are_the_built_ones() {
        let sizes = BTreeMap::from([("workers".to_string(), 2), ("telegrams".to_string(), 3)]);
        let (mut actions, mut reused) = (Vec::new(), Vec::new());
        let mut compared = 0;
        for preset in Preset::ALL {
            let spec = TimerFree::new(preset.patches(), &sizes).unwrap();
            let graph = crate::search::StateGraph::explore(&spec, &mut |_| {});
            for state in graph.states() {
                spec.successors_into(&state, &mut actions, &mut reused);
                let mut listed = Vec::new();
                spec.actions(&state, &mut listed);
                let built: Vec<_> = listed
                    .into_iter()
                    .filter_map(|a| spec.next_state(&state, &a).map(|s| (a, s)))
                    .collect();
                assert_eq!(reused, built, "{state:?}");
                compared += built.len();
            }
        }
        assert!(compared > 10_000, "{compared} successors compared");
    }

    /// The keys `successors_with_keys` builds from the parent's worker
    /// keys are each successor's own (`encode_key`), under every identity,
    /// on every preset and assumption setting, with 3 workers so classes
    /// have members in every order.
    #[test]
    fn successor_keys_from_the_parents_are_each_successors_own() {
        let sizes = BTreeMap::from([("workers".to_string(), 3), ("telegrams".to_string(), 2)]);
        let identities = [
            Identity::Exact,
            Identity::Symmetric,
            Identity::SymmetricButFirst,
        ];
        let (mut actions, mut successors, mut keys) = (Vec::new(), Vec::new(), Keys::default());
        let (mut key, mut moved) = (Vec::new(), Vec::new());
        let mut compared = 0;
        for spec in under_every_setting(&sizes) {
            let graph = crate::search::StateGraph::explore(&spec, &mut |_| {});
            for (state, identity) in graph
                .states()
                .flat_map(|s| identities.map(|i| (s.clone(), i)))
            {
                spec.successors_with_keys(
                    &state,
                    identity,
                    &mut actions,
                    &mut successors,
                    &mut keys,
                );
                assert_eq!(keys.len(), successors.len());
                for (i, (_, next)) in successors.iter().enumerate() {
                    encode_key::<TimerFree>(identity, next, &mut key, &mut moved);
                    assert_eq!(keys.get(i), (&key[..], &moved[..]), "{identity:?} {next:?}");
                    compared += usize::from(!moved.is_empty());
                }
            }
        }
        assert!(compared > 10_000, "{compared} moved successors compared");
    }

    /// Moving workers into place gives the state `permute` builds, for
    /// every permutation of 3 workers on every state of a 3-worker graph.
    #[test]
    fn permuting_an_owned_state_moves_its_workers_as_permute_does() {
        let sizes = BTreeMap::from([("workers".to_string(), 3), ("telegrams".to_string(), 2)]);
        let spec = TimerFree::new(Preset::Proposed.patches(), &sizes).unwrap();
        let graph = crate::search::StateGraph::explore(&spec, &mut |_| {});
        // The 6 permutations among the 27 maps of 3 positions.
        let perms: Vec<[usize; 3]> = (0..27)
            .map(|n| [n % 3, n / 3 % 3, n / 9])
            .filter(|p| p[0] != p[1] && p[1] != p[2] && p[0] != p[2])
            .collect();
        assert_eq!(perms.len(), 6);
        let mut moved = 0;
        for state in graph.states() {
            for to in &perms {
                let permuted = TimerFree::permute_owned(state.clone(), to);
                assert_eq!(permuted, TimerFree::permute(&state, to), "{state:?} {to:?}");
                moved += usize::from(permuted != state);
            }
        }
        assert!(moved > 5_000, "{moved} states moved");
    }

    /// `actions` lists only enabled actions on every preset and setting of
    /// the assumptions: `is_terminal` relies on it.
    #[test]
    fn listed_actions_are_enabled() {
        let sizes: BTreeMap<String, u64> = [("workers", 2), ("telegrams", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let specs = under_every_setting(&sizes);
        crate::spec::assert_listed_actions_enabled(&specs);
    }

    /// The spec at `sizes` on every preset under every assumption setting.
    fn under_every_setting(sizes: &BTreeMap<String, u64>) -> Vec<TimerFree> {
        crate::assume::every_preset_and_setting(ASSUMPTIONS, |preset, given| {
            TimerFree::new(preset.patches(), sizes)
                .unwrap()
                .assuming(given)
                .unwrap()
        })
    }

    fn spec(preset: Preset) -> TimerFree {
        TimerFree::new(preset.patches(), &BTreeMap::new()).unwrap()
    }

    #[test]
    fn low_priority_notice_waits_behind_a_completion() {
        let spec = spec(Preset::Jan2016);
        let worker = Worker {
            phase: Phase::AwaitDecrypt(0),
            work_area: Some(0),
            timer: None,
            hsm_request: None,
            queue: Queue::from_slice(&[
                Message::TimeoutNotice { epoch: 0 },
                Message::Completion { telegram: 0 },
            ]),
            generation: None,
        };
        assert_eq!(
            spec.next_message(&worker),
            Some(Message::Completion { telegram: 0 })
        );
        let fifo = TimerFree { fifo: true, ..spec };
        assert_eq!(
            fifo.next_message(&worker),
            Some(Message::TimeoutNotice { epoch: 0 })
        );
    }

    #[test]
    fn a_busy_worker_leaves_new_telegrams_queued() {
        let spec = TimerFree {
            fifo: true,
            ..spec(Preset::Jan2016)
        };
        let worker = Worker {
            phase: Phase::AwaitEncrypt(0),
            work_area: Some(0),
            timer: Some(0),
            hsm_request: Some(0),
            queue: Queue::from_slice(&[Message::Telegram { telegram: 1 }]),
            generation: None,
        };
        assert_eq!(spec.next_message(&worker), None);
    }

    /// Runs actions from the initial state, panicking on a disabled one.
    fn run(spec: &TimerFree, actions: &[TimerFreeAction]) -> TimerFreeState {
        let mut state = spec.init_states().remove(0);
        for a in actions {
            state = spec
                .next_state(&state, a)
                .unwrap_or_else(|| panic!("{a:?} disabled"));
        }
        state
    }

    fn happy_path(telegram: TelegramIndex) -> Vec<TimerFreeAction> {
        use TimerFreeAction::*;
        let done = Message::Completion { telegram };
        vec![
            Arrive {
                worker: 0,
                telegram,
            },
            Handle {
                worker: 0,
                message: Message::Telegram { telegram },
            },
            HsmCompletes { worker: 0 },
            Handle {
                worker: 0,
                message: done,
            },
            HsmCompletes { worker: 0 },
            Handle {
                worker: 0,
                message: done,
            },
        ]
    }

    #[test]
    fn happy_path_answers_and_frees() {
        let spec = spec(Preset::Jan2016);
        let state = run(&spec, &happy_path(0));
        assert_eq!(state.telegrams[0].replies, 1);
        assert!(state.telegrams[0].answered);
        assert_eq!(state.workers[0].work_area, None);
        assert_eq!(state.workers[0].timer, None);
        let seen = state.observe();
        assert_eq!(seen.replies, vec![1, 0, 0]);
        assert!(seen.work_areas_allocated.is_empty() && seen.terminated.is_empty());
    }

    #[test]
    fn timeout_terminates_the_telegram_it_was_for() {
        use TimerFreeAction::*;
        let spec = spec(Preset::Proposed);
        let mut actions = happy_path(0)[..2].to_vec();
        actions.push(TimerFires { worker: 0 });
        actions.push(Handle {
            worker: 0,
            message: Message::TimeoutNotice { epoch: 0 },
        });
        let state = run(&spec, &actions);
        assert_eq!(state.telegrams[0].terminated_by, Some(0));
        assert_eq!(state.telegrams[0].replies, 1);
        assert_eq!(state.workers[0].work_area, None);
        assert_eq!(state.observe().terminated, vec![0]);
    }

    /// Telegrams arrive in order, each once, up to the size: a replayed
    /// trace's arrival out of turn, or past the last, is not enabled.
    #[test]
    fn telegrams_arrive_in_order_up_to_the_last() {
        use TimerFreeAction::*;
        let spec = spec(Preset::Proposed);
        let arrive = |telegram| Arrive {
            worker: 0,
            telegram,
        };
        let state = run(&spec, &[arrive(0)]);
        assert_eq!(state.arrived, 1, "the next arrival is telegram 1");
        assert_eq!(spec.next_state(&state, &arrive(0)), None, "t0 again");
        assert_eq!(spec.next_state(&state, &arrive(2)), None, "t2 before t1");
        let all = run(&spec, &[arrive(0), arrive(1), arrive(2)]);
        assert_eq!(all.arrived, 3);
        assert_eq!(spec.next_state(&all, &arrive(3)), None, "past the last");
    }

    /// The state's one-line description tells an answered telegram from
    /// one that only got a reply (the explorer and `explain` print it).
    #[test]
    fn the_description_says_which_telegram_was_answered() {
        let spec = spec(Preset::Jan2016);
        let state = run(&spec, &happy_path(0));
        let text = spec.describe_state(&state);
        assert!(text.contains("t0 answered"), "{text}");
        assert!(text.contains("t1 replies=0"), "{text}");
        assert!(!text.contains("ABNORMALLY"), "{text}");
        let busy = run(&spec, &happy_path(0)[..2]);
        let text = spec.describe_state(&busy);
        assert!(
            text.starts_with(
                "w0 AwaitDecrypt(0) work_area=t0 timer=t0 queue=[]; w1 Idle work_area=- timer=-"
            ),
            "{text}"
        );
    }

    /// exactly_one_reply: no telegram answered twice, and an abnormal
    /// termination violates it only if it left a telegram without a reply.
    #[test]
    fn exactly_one_reply_is_about_double_replies_and_abandoned_telegrams() {
        let spec = spec(Preset::Jan2016);
        let mut s = spec.init_states().remove(0);
        let with = |s: &mut TimerFreeState, replies: [u8; 3], abnormal: bool| {
            for (record, n) in s.telegrams.iter_mut().zip(replies) {
                record.replies = n;
            }
            s.abnormal_termination = abnormal;
            exactly_one_reply(&spec, s)
        };
        assert!(with(&mut s, [1, 1, 0], false), "one each so far");
        assert!(!with(&mut s, [2, 0, 0], false), "a double reply");
        assert!(!with(&mut s, [1, 0, 0], true), "the AP died leaving t1, t2");
        assert!(with(&mut s, [1, 1, 1], true), "it died after every reply");
    }

    /// telegrams_finish: every telegram has had a reply (normal or error).
    #[test]
    fn telegrams_finish_when_each_has_a_reply() {
        let spec = spec(Preset::Jan2016);
        let mut s = spec.init_states().remove(0);
        assert!(!all_finished(&s), "none answered");
        s.telegrams[0].replies = 1;
        s.telegrams[1].replies = 1;
        assert!(!all_finished(&s), "t2 waits");
        s.telegrams[2].replies = 1;
        assert!(all_finished(&s));
    }
}
