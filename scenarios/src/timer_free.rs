//! timer-free: the timer/free race (root cause 2) and the stale timeout the
//! 2016 review left open.
//!
//! * the workloads: [`Scenario::timer_free`] for loom and shuttle,
//!   [`search_config`] for the seeded search of `chukei reproduce`;
//! * the relay-side checks, named after the spec's properties:
//!   [`no_free_of_unallocated`], [`no_spurious_termination`],
//!   [`exactly_one_reply`], [`no_leak`];
//! * the relay <-> spec map: [`Refinement`] (relay events -> spec actions)
//!   and [`Steer`] (spec actions -> relay steps).

use crate::lockstep::{Seen, Until};
use crate::refine::{Meaning, Report, SkipReason, ValidateError, Walk};
use crate::steer::{count, expect, stopped, SpecMap, Steered};
use crate::workload::{RunRecord, Scenario};
use model::timer_free::{Message, TimerFree, TimerFreeAction, TimerFreeState};
use model::{Spec, SpecName};
use patches::{Patches, Preset};
use relay::events::{Event, EventKind, ThreadName};
use relay::shared::Observation;
use relay::telegram::TelegramId;
use relay::{CryptoPath, Delivery, RelayConfig, Role};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

impl Scenario {
    /// timer-free: AP workers and the OS timer service, in-process crypto (no
    /// HSM threads), terminals sending consecutive telegrams.
    pub fn timer_free(preset: Preset) -> Self {
        Scenario {
            spec: SpecName::TimerFree,
            preset,
            patches: preset.patches(),
            terminals: 1,
            telegrams: 2,
            window: 1,
            workers: 1,
            monitor_raises: 0,
            crypto: CryptoPath::InProcess,
            delivery: Delivery::LowPriority,
        }
    }
}

/// The relay of the seeded search: production timings; the monitor's 2-hour
/// period never comes.
pub fn search_config(patches: impl Into<Patches>) -> RelayConfig {
    RelayConfig::small(patches)
}

// ------------------------------------------------------- relay-side checks

/// Termination never frees a work area that is not allocated (the AP's
/// abnormal termination of 2016).
pub fn no_free_of_unallocated(events: &[Event]) -> Result<(), String> {
    match events
        .iter()
        .find(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. }))
    {
        Some(e) => Err(format!("the AP freed an unallocated work area: {e}")),
        None => Ok(()),
    }
}

/// Where the AP terminated abnormally: the end of root cause 2's symptom.
pub fn abnormal_termination_at(events: &[Event]) -> Option<usize> {
    events
        .iter()
        .position(|e| matches!(e.kind, EventKind::ApAbnormalTermination { .. }))
}

/// A telegram terminated by a timeout notice another telegram's timer set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpuriousTermination {
    /// Index of the `terminated` event in the log.
    pub at: usize,
    pub victim: TelegramId,
    /// The telegram whose timer posted the notice.
    pub set_by: Option<TelegramId>,
}

/// Every spurious termination of the log. The AP cannot see who set a
/// notice; the log can: `timeout-received` carries the setter, and the
/// termination it causes is the next event of that worker thread.
pub fn spurious_terminations(events: &[Event]) -> Vec<SpuriousTermination> {
    let mut last_notice: BTreeMap<ThreadName, Option<TelegramId>> = BTreeMap::new();
    let mut found = vec![];
    for (at, e) in events.iter().enumerate() {
        match e.kind {
            EventKind::TimeoutReceived { .. } => {
                last_notice.insert(e.thread, e.telegram);
            }
            EventKind::Terminated => {
                let set_by = last_notice.get(&e.thread).copied().flatten();
                if let Some(victim) = e.telegram {
                    if set_by != Some(victim) {
                        found.push(SpuriousTermination { at, victim, set_by });
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// A telegram is terminated only by its own timeout.
pub fn no_spurious_termination(events: &[Event]) -> Result<(), String> {
    match spurious_terminations(events).first() {
        Some(s) => Err(format!(
            "{} was terminated by the timeout notice of {}",
            s.victim,
            s.set_by
                .map_or("no telegram".to_string(), |t| t.to_string())
        )),
        None => Ok(()),
    }
}

/// Every admitted telegram gets exactly one answer, and its terminal got it.
pub fn exactly_one_reply(run: &RunRecord) -> Result<(), String> {
    let answers = &run.observation.answers;
    for id in run.sent() {
        let given = answers.get(&id).copied().unwrap_or(0);
        if given != 1 {
            return Err(format!("{id} got {given} answers"));
        }
    }
    for t in &run.terminals {
        for id in &t.sent {
            if t.answers.get(id).map_or(0, Vec::len) != 1 {
                return Err(format!(
                    "{} received {:?} for {id}",
                    t.cs.0,
                    t.answers.get(id)
                ));
            }
        }
    }
    Ok(())
}

/// No work area is left allocated once every answer is in.
pub fn no_leak(observation: &Observation) -> Result<(), String> {
    match observation.allocated_work_areas.as_slice() {
        [] => Ok(()),
        held => Err(format!("work areas still allocated at shutdown: {held:?}")),
    }
}

// ------------------------------------------------ relay -> spec (refinement)

struct WorkerWalk {
    walk: Walk<TimerFree>,
    /// Relay telegram → spec telegram id.
    ids: BTreeMap<TelegramId, u8>,
    /// A termination's reply is part of the notice handler.
    terminating: BTreeSet<TelegramId>,
    /// Completions of requests abandoned at termination, per relay
    /// telegram, not yet discarded by the worker: a retry under the same
    /// ID can leave two (a terminated request's and a bounded wait's), and
    /// each ends in its own `stale-message`.
    abandoned: BTreeMap<TelegramId, usize>,
    /// The bounded HSM wait ran out; the handler's error reply (after its
    /// timer reset) is the spec's `HsmWaitExpires`, so that a timeout the
    /// OS posts while the handler runs comes before it, as it did.
    expiring: BTreeSet<TelegramId>,
    /// The spec telegram of the board's last result for a relay telegram
    /// (`hsm-done`): a CS retries under the same telegram ID, so the ID
    /// alone does not tell a retry's result from an abandoned request's.
    /// Oldest first: the CPU fetches the board's results in the order
    /// the board computed them, and a late completion notice can be logged
    /// after the board's next `hsm-done`.
    computed: BTreeMap<TelegramId, VecDeque<u8>>,
    /// Results the spec took (`HsmCompletes`), per relay telegram, oldest
    /// first, until the worker handles them.
    completed: BTreeMap<TelegramId, VecDeque<u8>>,
    /// The spec telegram that set the timer of each epoch (`set-timer`):
    /// a notice names its epoch, which outlives a retry's new arrival.
    timer_set_by: BTreeMap<u64, u8>,
    /// The spec telegram whose work area the last notice found allocated
    /// (the one a `terminated` that follows must be).
    notice_found: Option<u8>,
    /// The OS fired the timer while a termination ran, before its kill:
    /// the map took `TimerFires` before the notice's handler step.
    fired_early: bool,
    /// The AP terminated abnormally: the spec stops here.
    dead: bool,
}

impl WorkerWalk {
    /// The spec's AP terminated abnormally: the spec stops here.
    fn stopped(&self) -> bool {
        self.dead || self.walk.state.abnormal_termination
    }

    /// Accounts for a `stale-message` of `telegram` as one of its abandoned
    /// requests' results; false when none is left to discard.
    fn discard_abandoned(&mut self, telegram: TelegramId) -> bool {
        let Some(left) = self.abandoned.get_mut(&telegram) else {
            return false;
        };
        *left -= 1;
        if *left == 0 {
            self.abandoned.remove(&telegram);
        }
        true
    }
}

/// The relay -> spec map of timer-free (`chukei validate`).
///
/// One spec instance per AP worker (workers share nothing in this spec);
/// telegrams are numbered per worker in arrival order. Mapped:
/// `arrived` → `Arrive`; `alloc` → `Handle(telegram)`; `upstream-forward` →
/// `Handle(completion)` of the decrypt; the worker's `reply` that ends a
/// telegram's relay work → `Handle(completion)` of the encrypt;
/// `timeout-posted` → `TimerFires`; `timeout-received` → `Handle(notice)`;
/// `completion-notice` → `HsmCompletes`; the error `reply` after
/// `hsm-wait-timed-out` → `HsmWaitExpires` (the March guard's bounded
/// wait: the spec instance assumes `hsm-wait=may-expire`, since a real HSM
/// can be slow; taken at the reply, after the handler's timer reset, so a
/// timeout the OS posts meanwhile comes first, as it did).
///
/// A CS retries under the same telegram ID, so IDs alone do not name a
/// spec telegram: a timeout notice is the spec telegram that set its
/// epoch's timer (`set-timer`), an HSM result the one whose request the
/// board took (`hsm-request` → `hsm-done`, in order; the CPU fetches them
/// in that order, except the one a reset dropped: `hsm-reset
/// dropped=true`, the board's last `hsm-done`), and a handled result the
/// oldest one the spec completed for that ID; each abandoned result ends
/// in its own `stale-message`. A termination whose kill
/// comes after the OS fired the timer again (the worker ran late) takes
/// that `TimerFires` first (not after the spec's AP died). After the
/// spec's AP died, the relay's other events until its own
/// `ap-abnormal-termination` are unchecked.
/// Checked against the step they belong
/// to: `terminated` (the spec terminated that telegram), `free-of-unallocated`
/// and `ap-abnormal-termination` (the spec's AP freed an unallocated work
/// area), `telegram-lost` (only an abnormal termination loses one). A
/// divergence: an AP or timer event with no telegram ID, any event of a
/// telegram that never arrived. Skipped: the parts of a handler step
/// (`set-timer`, `hsm-request`, `upstream-reply`, `reset-timer`, `free`,
/// `timeout-ignored`, the `reply` of a termination or of a bounded wait that
/// ran out), the completion of a
/// request abandoned at termination and its `stale-message` (the spec drops
/// abandoned requests), telegrams no worker handled (`connection-excess`),
/// HSM and interrupt events (irq-order's), CS events (cs-block's), and,
/// **unchecked**, a worker's events after its AP terminated abnormally (the
/// relay restarts it; the spec stops), which makes the verdict incomplete.
///
pub struct Refinement {
    route: BTreeMap<TelegramId, u16>,
    /// Arrivals per worker: the size of its spec instance.
    arrivals: BTreeMap<u16, usize>,
    workers: BTreeMap<u16, WorkerWalk>,
    /// The spec every worker's instance is (sized by its arrivals).
    spec: TimerFree,
    /// The HSM requests not yet computed, in the order the workers made
    /// them (the board takes them in that order): relay telegram, worker,
    /// spec telegram.
    board: VecDeque<(TelegramId, u16, u8)>,
    /// The board's last result (`hsm-done`): the one a reset that
    /// `dropped` a result dropped.
    last_computed: Option<(TelegramId, u16)>,
}

impl Refinement {
    /// The map of `events` on switch set `patches`, the spec read under
    /// `reading` (a complete assumption setting or overrides of the defaults,
    /// [`crate::registry::relay_reading`]).
    pub fn new(
        events: &[Event],
        patches: impl Into<Patches>,
        reading: &BTreeMap<String, String>,
    ) -> Result<Self, ValidateError> {
        let patches: Patches = patches.into();
        let spec = TimerFree {
            timer_fix: patches.timer_fix,
            telegrams: 0,
            workers: 1,
            fifo: false,
            one_terminal: false,
            hsm_wait_expires: false,
            hsm_guard: patches.hsm_guard,
            unfair: false,
        }
        .assuming(reading)?;
        // A telegram belongs to the worker whose thread first handles it.
        let mut route = BTreeMap::new();
        for e in events {
            if let (ThreadName::Worker(w), Some(t)) = (e.thread, e.telegram) {
                route.entry(t).or_insert(w);
            }
        }
        let mut arrivals: BTreeMap<u16, usize> = BTreeMap::new();
        for e in events {
            if let (EventKind::Arrived { .. }, Some(t)) = (&e.kind, e.telegram) {
                if let Some(w) = route.get(&t) {
                    *arrivals.entry(*w).or_default() += 1;
                }
            }
        }
        if let Some((&worker, &telegrams)) = arrivals.iter().find(|(_, &n)| n > 255) {
            return Err(ValidateError::TooManyTelegrams { worker, telegrams });
        }
        Ok(Refinement {
            route,
            arrivals,
            workers: BTreeMap::new(),
            spec,
            board: VecDeque::new(),
            last_computed: None,
        })
    }

    pub fn run(mut self, events: &[Event], report: &mut Report) {
        for (index, event) in events.iter().enumerate() {
            let at = (index, event);
            self.follow_board(event);
            let worker = match self.worker_of(event) {
                Ok(worker) => worker,
                Err(Unrouted::Skip(reason)) => {
                    report.skip(reason, 1);
                    continue;
                }
                Err(Unrouted::Diverge(reason)) => return report.diverge_outside(at, reason),
            };
            let mut meanings = Vec::new();
            // After the spec's AP died its events are skipped, late firings too.
            let alive = !self.walk_of(worker).stopped();
            if alive && timer_fires_mid_termination(events, index, worker) {
                self.walk_of(worker).fired_early = true;
                meanings.push(Meaning::Act(TimerFreeAction::TimerFires { worker: 0 }));
            }
            meanings.push(self.meaning(worker, event));
            if !self.walk_of(worker).walk.take_steps(at, meanings, report) {
                return;
            }
        }
    }

    /// Which spec telegram each HSM result is for: requests in, results
    /// out, in order.
    fn follow_board(&mut self, e: &Event) {
        let Some(telegram) = e.telegram else {
            return;
        };
        match (e.thread, &e.kind) {
            (ThreadName::Worker(w), EventKind::HsmRequest { .. }) => {
                // The request of the spec step just taken (a retry under
                // the same ID may have arrived while the first one runs).
                let walk = self.walk_of(w);
                let asked = walk.walk.state.workers[0].hsm_request;
                let id = asked.or_else(|| walk.ids.get(&telegram).copied());
                if let Some(id) = id {
                    self.board.push_back((telegram, w, id));
                }
            }
            (_, EventKind::HsmDone { .. }) => {
                let Some(at) = self.board.iter().position(|(t, _, _)| *t == telegram) else {
                    return;
                };
                if let Some((_, w, id)) = self.board.remove(at) {
                    self.walk_of(w)
                        .computed
                        .entry(telegram)
                        .or_default()
                        .push_back(id);
                    self.last_computed = Some((telegram, w));
                }
            }
            (_, EventKind::HsmReset { dropped: true }) => {
                // Its completion notice never comes.
                if let Some((t, w)) = self.last_computed.take() {
                    let computed = self.walk_of(w).computed.get_mut(&t);
                    computed.and_then(VecDeque::pop_back);
                }
            }
            _ => {}
        }
    }

    /// The worker whose spec instance an event belongs to.
    fn worker_of(&self, e: &Event) -> Result<u16, Unrouted> {
        let on_ap = matches!(e.thread, ThreadName::Worker(_) | ThreadName::Timer);
        if !on_ap && !concerns_the_ap(&e.kind) {
            return Err(Unrouted::Skip(SkipReason::OtherMechanism));
        }
        let Some(telegram) = e.telegram else {
            return Err(Unrouted::Diverge(format!(
                "`{}` names no telegram: the spec cannot tell whose step it is",
                e.kind
            )));
        };
        match (e.thread, &e.kind) {
            (ThreadName::Worker(w), _) => Ok(w),
            (_, EventKind::TimeoutPosted { timer, .. }) => Ok(*timer),
            _ => self
                .route
                .get(&telegram)
                .copied()
                .ok_or(Unrouted::Skip(SkipReason::NeverHandled)),
        }
    }

    /// The spec instance of `worker`, sized by its arrivals (none: then any
    /// event of it is one the spec does not allow).
    fn walk_of(&mut self, worker: u16) -> &mut WorkerWalk {
        let (arrivals, spec) = (&self.arrivals, &self.spec);
        self.workers.entry(worker).or_insert_with(|| {
            let telegrams = arrivals.get(&worker).copied().unwrap_or(0);
            WorkerWalk {
                walk: Walk::new(TimerFree {
                    telegrams: u8::try_from(telegrams).expect("checked in new"),
                    ..spec.clone()
                }),
                ids: BTreeMap::new(),
                terminating: BTreeSet::new(),
                abandoned: BTreeMap::new(),
                expiring: BTreeSet::new(),
                computed: BTreeMap::new(),
                completed: BTreeMap::new(),
                timer_set_by: BTreeMap::new(),
                notice_found: None,
                fired_early: false,
                dead: false,
            }
        })
    }

    /// What an event of `worker` means for its spec instance.
    fn meaning(&mut self, worker: u16, e: &Event) -> Meaning<TimerFreeAction> {
        let telegram = e.telegram.expect("routed events name their telegram");
        let w = self.walk_of(worker);
        if w.dead {
            return Meaning::Skip(SkipReason::AfterAbnormalTermination);
        }
        let state: TimerFreeState = w.walk.state.clone();
        // The spec's AP died at the handler step; the relay's still logs
        // its death, and other threads' events can come in between.
        let dying = !matches!(
            e.kind,
            EventKind::FreeOfUnallocated { .. } | EventKind::ApAbnormalTermination { .. }
        );
        if state.abnormal_termination && dying {
            return Meaning::Skip(SkipReason::AfterAbnormalTermination);
        }
        let id = |w: &mut WorkerWalk, t: TelegramId| -> Option<u8> { w.ids.get(&t).copied() };
        let never_arrived = || Meaning::Check(Err(format!("{telegram} never arrived")));
        let on_worker = matches!(e.thread, ThreadName::Worker(_));
        match &e.kind {
            EventKind::Arrived { .. } => {
                let next = state.arrived;
                w.ids.insert(telegram, next);
                Meaning::Act(TimerFreeAction::Arrive {
                    worker: 0,
                    telegram: next,
                })
            }
            EventKind::Alloc { .. } => match id(w, telegram) {
                Some(t) => handle(Message::Telegram { telegram: t }),
                None => never_arrived(),
            },
            EventKind::AllocFailed => {
                Meaning::Check(Err("the spec has no failed allocation".to_string()))
            }
            EventKind::TimeoutPosted { .. } if std::mem::take(&mut w.fired_early) => {
                Meaning::Skip(SkipReason::PartOfStep)
            }
            EventKind::TimeoutPosted { .. } => {
                Meaning::Act(TimerFreeAction::TimerFires { worker: 0 })
            }
            EventKind::TimeoutReceived { epoch, .. } => match w.timer_set_by.get(epoch).copied() {
                Some(t) => {
                    w.notice_found = state.workers[0].work_area;
                    handle(Message::TimeoutNotice { epoch: t })
                }
                None => {
                    Meaning::Check(Err(format!("a notice for {telegram}, which never arrived")))
                }
            },
            EventKind::CompletionNotice => {
                let outstanding = state.workers[0].hsm_request;
                let computed = w.computed.get_mut(&telegram).and_then(VecDeque::pop_front);
                let result_for = computed.or(id(w, telegram));
                if id(w, telegram).is_none() {
                    never_arrived()
                } else if w.expiring.contains(&telegram) {
                    // The worker gave up on it already (its handler runs).
                    *w.abandoned.entry(telegram).or_default() += 1;
                    Meaning::Skip(SkipReason::AbandonedRequest)
                } else if outstanding.is_some() && outstanding == result_for {
                    let t = result_for.expect("outstanding");
                    w.completed.entry(telegram).or_default().push_back(t);
                    Meaning::Act(TimerFreeAction::HsmCompletes { worker: 0 })
                } else {
                    *w.abandoned.entry(telegram).or_default() += 1;
                    Meaning::Skip(SkipReason::AbandonedRequest)
                }
            }
            EventKind::StaleMessage { .. } if w.discard_abandoned(telegram) => {
                Meaning::Skip(SkipReason::AbandonedRequest)
            }
            EventKind::StaleMessage { .. } | EventKind::UpstreamForward => {
                // The oldest result taken for this relay telegram: a stale
                // one is an earlier incarnation's.
                let taken = w.completed.get_mut(&telegram).and_then(VecDeque::pop_front);
                match taken.or(id(w, telegram)) {
                    Some(t) => handle(Message::Completion { telegram: t }),
                    None => never_arrived(),
                }
            }
            EventKind::Terminated => {
                w.terminating.insert(telegram);
                let t = w.notice_found.take();
                let terminated =
                    t.is_some_and(|t| state.telegrams[usize::from(t)].terminated_by.is_some());
                Meaning::Check(if terminated {
                    Ok(())
                } else {
                    Err(format!("the relay terminated {telegram}; the spec did not"))
                })
            }
            EventKind::Reply { .. } if on_worker && w.expiring.remove(&telegram) => {
                Meaning::Act(TimerFreeAction::HsmWaitExpires { worker: 0 })
            }
            EventKind::Reply { .. } if on_worker => {
                if w.terminating.remove(&telegram) {
                    Meaning::Skip(SkipReason::PartOfStep)
                } else {
                    let taken = w.completed.get_mut(&telegram).and_then(VecDeque::pop_front);
                    match taken.or(id(w, telegram)) {
                        Some(t) => handle(Message::Completion { telegram: t }),
                        None => Meaning::Check(Err(format!(
                            "a reply to {telegram}, which never arrived"
                        ))),
                    }
                }
            }
            EventKind::FreeOfUnallocated { .. } => Meaning::Check(if state.abnormal_termination {
                Ok(())
            } else {
                Err("the relay freed an unallocated work area; the spec's AP did not".into())
            }),
            EventKind::ApAbnormalTermination { .. } => {
                w.dead = true;
                Meaning::Check(if state.abnormal_termination {
                    Ok(())
                } else {
                    Err("the relay's AP terminated abnormally; the spec's did not".into())
                })
            }
            EventKind::TelegramLost => Meaning::Check(Err(format!(
                "the relay lost {telegram} without an answer; the spec's AP loses none while it runs"
            ))),
            EventKind::HsmWaitTimedOut if on_worker => {
                // The step is taken at its error reply.
                w.expiring.insert(telegram);
                Meaning::Skip(SkipReason::PartOfStep)
            }
            EventKind::SetTimer { epoch, .. } => match id(w, telegram) {
                Some(t) => {
                    w.timer_set_by.insert(*epoch, t);
                    Meaning::Skip(SkipReason::PartOfStep)
                }
                None => never_arrived(),
            },
            EventKind::ResetTimer { .. }
            | EventKind::Free { .. }
            | EventKind::TimeoutIgnored { .. }
            | EventKind::HsmRequest { .. }
            | EventKind::UpstreamReply { .. } => match id(w, telegram) {
                Some(_) => Meaning::Skip(SkipReason::PartOfStep),
                None => never_arrived(),
            },
            _ => Meaning::Skip(SkipReason::OtherMechanism),
        }
    }
}

/// Whether the timeout notice retrieved at `index` terminates its
/// telegram and the OS fires `worker`'s timer again before the
/// termination's kill (the worker's event after `terminated`). A handler
/// is one spec step, so the spec takes that firing first: the timer was
/// still armed, and the notice's handling does not depend on it.
fn timer_fires_mid_termination(events: &[Event], index: usize, worker: u16) -> bool {
    if !matches!(events[index].kind, EventKind::TimeoutReceived { .. }) {
        return false;
    }
    let on_worker = |e: &&Event| e.thread == ThreadName::Worker(worker);
    let mut later = events[index + 1..].iter();
    let terminates = later
        .find(on_worker)
        .is_some_and(|e| e.kind == EventKind::Terminated);
    terminates
        && later
            .take_while(|e| !on_worker(e))
            .any(|e| matches!(e.kind, EventKind::TimeoutPosted { timer, .. } if timer == worker))
}

/// An event no spec instance takes.
enum Unrouted {
    Skip(SkipReason),
    Diverge(String),
}

/// Events of the AP's telegrams recorded off the AP's threads: arrivals
/// and refusals (CS thread), completion notices (CPU thread).
fn concerns_the_ap(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Arrived { .. }
            | EventKind::ConnectionExcess { .. }
            | EventKind::CompletionNotice
    )
}

fn handle(message: Message) -> Meaning<TimerFreeAction> {
    Meaning::Act(TimerFreeAction::Handle { worker: 0, message })
}

// -------------------------------------------------- spec -> relay (steering)

/// The relay's telegram for spec telegram `t`.
fn relay_id(t: u8) -> TelegramId {
    TelegramId(u64::from(t) + 1)
}

/// The spec -> relay map of timer-free (the proptest lockstep).
pub struct Steer;

impl SpecMap for Steer {
    type Spec = TimerFree;
    const PROPERTY: &'static str = "no_free_of_unallocated";

    fn config(spec: &TimerFree, preset: Preset) -> RelayConfig {
        assert_eq!(spec.workers, 1, "the lockstep mapping drives one worker");
        RelayConfig {
            workers: 1,
            connection_limit: 16,
            work_areas: 4,
            crypto: CryptoPath::Hsm,
            hsm_latency: 0,
            upstream_latency: 0,
            telegram_timeout: 30_000,
            // Far beyond the telegram timer: a clock jump for the timer never
            // wakes the guard (timer-free does not model the HSM guard).
            hsm_guard_timeout: 1_000_000_000,
            timer_delivery: if spec.fifo {
                Delivery::Fifo
            } else {
                Delivery::LowPriority
            },
            ..RelayConfig::small(preset)
        }
    }

    fn roles(_: &TimerFree) -> Vec<Role> {
        vec![Role::Worker(0), Role::Timer, Role::Hsm, Role::Cpu]
    }

    fn carry_out(sut: &mut Steered, action: &TimerFreeAction) -> Result<(), String> {
        let relay = &sut.relay;
        match *action {
            TimerFreeAction::Arrive { telegram, .. } => {
                sut.submitted = u64::from(telegram);
                sut.submit_next()
            }
            TimerFreeAction::TimerFires { .. } => {
                let fired = Until::Events {
                    matching: |k| matches!(k, EventKind::TimeoutPosted { .. }),
                    n: 1,
                };
                relay
                    .run(&[Role::Timer], Until::Quiescent, Some(fired))
                    .map_err(stopped)?;
                Ok(())
            }
            TimerFreeAction::HsmCompletes { .. } => {
                relay
                    .run(&[Role::Hsm, Role::Cpu], Until::Quiescent, None)
                    .map_err(stopped)?;
                Ok(())
            }
            TimerFreeAction::Handle { message, .. } => {
                for _ in 0..4 {
                    let from = relay.events().len();
                    let turn = Until::WorkerTurns { worker: 0, n: 1 };
                    if !relay.run(&[Role::Worker(0)], turn, None).map_err(stopped)? {
                        return Err(format!("the worker could not retrieve {message:?}"));
                    }
                    let events = relay.events();
                    let mine: Vec<&Event> = events[from..]
                        .iter()
                        .filter(|e| e.thread == ThreadName::Worker(0))
                        .collect();
                    let stutter = !mine.is_empty()
                        && mine
                            .iter()
                            .all(|e| matches!(e.kind, EventKind::StaleMessage { .. }));
                    if !stutter {
                        return handled_as(message, &mine);
                    }
                }
                Err("the worker only discarded stale messages".into())
            }
            TimerFreeAction::HsmWaitExpires { .. } => {
                Err("the lockstep does not steer the bounded HSM wait (hsm-wait=may-expire)".into())
            }
        }
    }

    fn agree(
        spec: &TimerFree,
        state: &<TimerFree as Spec>::State,
        seen: &Seen,
        events: &[Event],
    ) -> Result<(), String> {
        let worker = &state.workers[0];
        let areas: Vec<TelegramId> = seen
            .observation
            .allocated_work_areas
            .iter()
            .map(|(_, t)| *t)
            .collect();
        expect(
            "work area",
            areas,
            worker.work_area.map(relay_id).into_iter().collect(),
        )?;
        expect("timer armed", seen.timers_armed > 0, worker.timer.is_some())?;
        let notices = worker
            .queue
            .iter()
            .filter(|m| matches!(m, Message::TimeoutNotice { .. }))
            .count();
        expect(
            "timeout notices queued",
            seen.observation.pending_timeout_notices,
            notices,
        )?;
        for t in 0..spec.telegrams {
            let relay = seen
                .observation
                .answers
                .get(&relay_id(t))
                .copied()
                .unwrap_or(0);
            let spec_replies = u32::from(state.telegrams[usize::from(t)].replies);
            expect(&format!("replies to telegram t{t}"), relay, spec_replies)?;
        }
        let freed = count(events, |k| matches!(k, EventKind::FreeOfUnallocated { .. })) > 0;
        expect(
            "free of an unallocated work area",
            freed,
            state.abnormal_termination,
        )
    }

    fn relay_property(_: &TimerFree, _: &Seen, events: &[Event]) -> Result<(), String> {
        no_free_of_unallocated(events)
    }
}

/// Whether the worker's events of one turn are the handler of `message`.
fn handled_as(message: Message, events: &[&Event]) -> Result<(), String> {
    let first = events.first().map(|e| &e.kind);
    let ok = match message {
        Message::Telegram { telegram } => {
            matches!(first, Some(EventKind::Alloc { .. }))
                && events[0].telegram == Some(relay_id(telegram))
        }
        Message::Completion { .. } => matches!(
            first,
            Some(
                EventKind::UpstreamForward
                    | EventKind::ResetTimer { .. }
                    | EventKind::Reply { .. }
                    | EventKind::StaleMessage { .. }
            )
        ),
        Message::TimeoutNotice { .. } => {
            matches!(first, Some(EventKind::TimeoutReceived { .. }))
        }
    };
    if ok {
        Ok(())
    } else {
        let seen: Vec<String> = events.iter().map(|e| e.kind.to_string()).collect();
        Err(format!(
            "the worker did not handle {message:?}; its turn: [{}]",
            seen.join("; ")
        ))
    }
}
