//! Spec actions carried out on the real relay, and what is compared.
//!
//! # The mapping (one spec action = one steered step of the relay)
//!
//! The relay runs on the deterministic driver ([`crate::lockstep`]) with its
//! real threads. A spec action names who acts; the mapping lets exactly that
//! relay thread (or pair of threads) run, and nobody else:
//!
//! **timer-free** (one AP worker; threads: worker, timer service, HSM, CPU)
//! * `Arrive{t}`: a CS telegram `T{t+1}` is submitted (queued to the worker).
//! * `TimerFires`: the clock jumps to the timer's deadline and the timer
//!   service runs until it waits again (it fires and posts the notice).
//! * `HsmCompletes`: the HSM firmware and the CPU core run until both wait
//!   (compute, interrupt, acknowledgement, completion notice posted).
//! * `Handle{m}`: the AP worker runs exactly one turn of its message loop; the
//!   relay picks the message by its own delivery rule, which must be `m`. A
//!   turn that only discards the HSM result of an abandoned request (the
//!   relay's board still computes a request the spec drops at termination;
//!   the spec says such a completion "is discarded") is a stutter, and the
//!   worker runs one more turn.
//!
//! **irq-order** (threads: worker, HSM, CPU, and the monitor when it is on)
//! * `RelayRequests{r}`: the worker runs turn by turn until it hands the HSM
//!   its next request (a decrypt, or after the decrypt's completion the
//!   encrypt); when it has nothing to do a new telegram is submitted first.
//! * `HsmRaisesInterrupt`: the HSM firmware runs until it waits for its
//!   completion notice (it computed and raised its interrupt).
//! * `MonitorRaisesInterrupt`: the clock jumps to the monitor's period and the
//!   monitoring agent runs until it waits again.
//! * `CpuServices{source}`: the CPU core runs until it has ended one
//!   interrupt, which must be `source`'s. In Physical mode the relay's core
//!   serves a pending HSM interrupt first, so `CpuServices{monitor}` with both
//!   pending is not generated ([`crate::reference::Target::steerable`]).
//! * `RelayTimesOut`: the clock jumps to the worker's bounded HSM wait and the
//!   worker runs one turn.
//!
//! The telegram timer and the HSM guard are set far apart (and the monitor's
//! period short) so that a clock jump wakes only the thread it is for.
//!
//! # What is compared after every step
//! timer-free: the work area allocated (and to which telegram), whether the
//! timer is armed, timeout notices queued, replies per telegram, and whether
//! the AP freed an unallocated work area. irq-order: whether the HSM waits for
//! a completion notice, which interrupts the core can still deliver, requests
//! completed and requests error-replied. Then the property under test is
//! judged **on the relay**: the AP never freed an unallocated work area
//! (timer-free), the relay never waits on an HSM with nothing left to
//! deliver (irq-order).

use crate::lockstep::{Lockstep, Seen, Stopped, Until};
use crate::reference::{RefState, Reference, Step, Target};
use model::irq_order::{Hsm as SpecHsm, IrqOrder, IrqOrderAction, Outcome as SpecOutcome, Source};
use model::timer_free::{Message as SpecMessage, TimerFree, TimerFreeAction};
use model::Spec;
use patches::{HsmGuard, IrqMode, Monitor, Preset};
use proptest_state_machine::StateMachineTest;
use relay::crypto::{Direction, SessionCipher};
use relay::events::{Event, EventKind, IrqSource, ThreadName};
use relay::telegram::{CardId, CsId, Kind, Telegram, TelegramId};
use relay::{CryptoPath, Delivery, RelayConfig, Role};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// A [`Target`] that can be carried out on the relay.
pub trait Steering: Target + Sized {
    /// The property judged on the relay after every step.
    const PROPERTY: &'static str;
    fn config(spec: &Self::Spec) -> RelayConfig;
    fn roles(spec: &Self::Spec) -> Vec<Role>;
    /// Steers the relay through `action` (taken from `before`).
    fn carry_out(
        sut: &mut Sut<Self>,
        before: &<Self::Spec as Spec>::State,
        action: &<Self::Spec as Spec>::Action,
    ) -> Result<(), String>;
    /// Whether the relay's observable state is the spec's.
    fn agree(
        spec: &Self::Spec,
        state: &<Self::Spec as Spec>::State,
        seen: &Seen,
        events: &[Event],
    ) -> Result<(), String>;
    /// [`Steering::PROPERTY`] judged on the relay.
    fn relay_property(spec: &Self::Spec, seen: &Seen, events: &[Event]) -> Result<(), String>;
}

/// The system under test: the relay in lockstep, and the spec state before
/// the transition being applied.
pub struct Sut<T: Steering> {
    pub relay: Lockstep,
    pub before: RefState<T::Spec>,
    /// Telegrams submitted so far.
    pub submitted: u64,
}

impl<T: Steering> Sut<T> {
    /// A registration telegram the relay's HSM can decrypt.
    fn telegram(&self, seq: u64) -> Telegram {
        let id = TelegramId(seq);
        let cipher = SessionCipher::new(&self.relay.config.key);
        let body = format!("register card-{seq}");
        Telegram {
            kind: Kind::Register,
            cs: CsId(1),
            id,
            card: CardId(seq),
            payload: cipher.seal(id, Direction::Request, body.as_bytes()),
        }
    }

    fn submit_next(&mut self) -> Result<(), String> {
        self.submitted += 1;
        let telegram = self.telegram(self.submitted);
        match self.relay.submit(telegram).map_err(stopped)? {
            true => Ok(()),
            false => Err("the relay answered connection excess".into()),
        }
    }
}

fn stopped(s: Stopped) -> String {
    format!("the relay's driver run ended: {:?}", s.0)
}

/// The state-machine test: the spec of `T` as reference, the relay as SUT.
pub struct RelayTest<T>(PhantomData<T>);

/// Prefix of the panic message when relay and spec disagree.
pub const DISAGREE: &str = "relay and spec disagree";
/// Prefix of the panic message when the property fails on the relay.
pub const VIOLATED: &str = "property violated on the relay";

impl<T: Steering> StateMachineTest for RelayTest<T>
where
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    type SystemUnderTest = Sut<T>;
    type Reference = Reference<T>;

    fn init_test(ref_state: &RefState<T::Spec>) -> Sut<T> {
        let config = T::config(&ref_state.spec);
        let relay = Lockstep::start(config, T::roles(&ref_state.spec))
            .unwrap_or_else(|s| panic!("{DISAGREE}: {}", stopped(s)));
        Sut {
            relay,
            before: ref_state.clone(),
            submitted: 0,
        }
    }

    fn apply(
        mut sut: Sut<T>,
        ref_state: &RefState<T::Spec>,
        transition: Step<<T::Spec as Spec>::Action>,
    ) -> Sut<T> {
        if let Step::Act(action) = &transition {
            let before = sut.before.state.clone();
            if let Err(why) = T::carry_out(&mut sut, &before, action) {
                panic!("{DISAGREE} at {action:?}: {why}");
            }
        }
        sut.before = ref_state.clone();
        sut
    }

    fn check_invariants(sut: &Sut<T>, ref_state: &RefState<T::Spec>) {
        let seen = sut
            .relay
            .observe()
            .unwrap_or_else(|s| panic!("{DISAGREE}: {}", stopped(s)));
        let events = sut.relay.events();
        if let Err(why) = T::agree(&ref_state.spec, &ref_state.state, &seen, &events) {
            panic!("{DISAGREE}: {why}\n  spec:  {ref_state:?}\n  relay: {seen:?}");
        }
        if let Err(why) = T::relay_property(&ref_state.spec, &seen, &events) {
            panic!("{VIOLATED}: {}: {why}", T::PROPERTY);
        }
    }
}

fn count(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, relay: T, spec: T) -> Result<(), String> {
    if relay == spec {
        Ok(())
    } else {
        Err(format!("{what}: relay {relay:?}, spec {spec:?}"))
    }
}

// ---------------------------------------------------------------- timer-free

/// timer-free at preset `Preset::ALL[P]` with `N` telegrams (one worker,
/// low-priority timeout notices as in the spec's default).
pub struct TimerFreeAt<const P: usize, const N: u64>;

impl<const P: usize, const N: u64> Target for TimerFreeAt<P, N> {
    type Spec = TimerFree;
    const PRESET: Preset = Preset::ALL[P];
    fn sizes() -> BTreeMap<String, u64> {
        BTreeMap::from([("telegrams".to_string(), N), ("workers".to_string(), 1)])
    }
    fn spec() -> TimerFree {
        TimerFree::new(Self::PRESET.patches(), &Self::sizes()).expect("valid sizes")
    }
}

/// The relay's telegram for spec telegram `t`.
fn relay_id(t: u8) -> TelegramId {
    TelegramId(u64::from(t) + 1)
}

impl<const P: usize, const N: u64> Steering for TimerFreeAt<P, N> {
    const PROPERTY: &'static str = "no_free_of_unallocated";

    fn config(spec: &TimerFree) -> RelayConfig {
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
            ..RelayConfig::small(Self::PRESET)
        }
    }

    fn roles(_: &TimerFree) -> Vec<Role> {
        vec![Role::Worker(0), Role::Timer, Role::Hsm, Role::Cpu]
    }

    fn carry_out(
        sut: &mut Sut<Self>,
        _before: &<TimerFree as Spec>::State,
        action: &TimerFreeAction,
    ) -> Result<(), String> {
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
            .filter(|m| matches!(m, SpecMessage::TimeoutNotice { .. }))
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
        match events
            .iter()
            .find(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. }))
        {
            Some(e) => Err(format!("the AP freed an unallocated work area: {e}")),
            None => Ok(()),
        }
    }
}

/// Whether the worker's events of one turn are the handler of `message`.
fn handled_as(message: SpecMessage, events: &[&Event]) -> Result<(), String> {
    let first = events.first().map(|e| &e.kind);
    let ok = match message {
        SpecMessage::Telegram { telegram } => {
            matches!(first, Some(EventKind::Alloc { .. }))
                && events[0].telegram == Some(relay_id(telegram))
        }
        SpecMessage::Completion { .. } => matches!(
            first,
            Some(
                EventKind::UpstreamForward
                    | EventKind::ResetTimer { .. }
                    | EventKind::Reply { .. }
                    | EventKind::StaleMessage { .. }
            )
        ),
        SpecMessage::TimeoutNotice { .. } => {
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

// ----------------------------------------------------------------- irq-order

/// irq-order at preset `Preset::ALL[P]` with `N` HSM requests.
pub struct IrqOrderAt<const P: usize, const N: u64>;

impl<const P: usize, const N: u64> Target for IrqOrderAt<P, N> {
    type Spec = IrqOrder;
    const PRESET: Preset = Preset::ALL[P];
    fn sizes() -> BTreeMap<String, u64> {
        BTreeMap::from([("requests".to_string(), N), ("reraise".to_string(), 0)])
    }
    fn spec() -> IrqOrder {
        IrqOrder::new(Self::PRESET.patches(), &Self::sizes()).expect("valid sizes")
    }
    fn steerable(
        spec: &IrqOrder,
        state: &<IrqOrder as Spec>::State,
        action: &IrqOrderAction,
    ) -> bool {
        let monitor_first = matches!(
            action,
            IrqOrderAction::CpuServices {
                source: Source::Monitor
            }
        );
        !(monitor_first && spec.irq_mode == IrqMode::Physical && state.hsm_irq_pending)
    }
}

impl<const P: usize, const N: u64> Steering for IrqOrderAt<P, N> {
    const PROPERTY: &'static str = "relay_never_hangs";

    fn config(spec: &IrqOrder) -> RelayConfig {
        assert!(
            !spec.reraise,
            "the relay's HSM never re-raises its interrupt"
        );
        RelayConfig {
            workers: 1,
            crypto: CryptoPath::Hsm,
            hsm_latency: 0,
            upstream_latency: 0,
            // Never within a test: irq-order does not model the telegram timer.
            telegram_timeout: 1_000_000_000_000,
            hsm_guard_timeout: 1_000_000_000,
            monitor_period: 1_000,
            monitor_raises: None,
            ..RelayConfig::small(Self::PRESET)
        }
    }

    fn roles(spec: &IrqOrder) -> Vec<Role> {
        let mut roles = vec![Role::Worker(0), Role::Hsm, Role::Cpu];
        if spec.monitor == Monitor::On {
            roles.push(Role::Monitor);
        }
        roles
    }

    fn carry_out(
        sut: &mut Sut<Self>,
        _before: &<IrqOrder as Spec>::State,
        action: &IrqOrderAction,
    ) -> Result<(), String> {
        let turn = Until::WorkerTurns { worker: 0, n: 1 };
        match *action {
            IrqOrderAction::RelayRequests { .. } => {
                let requests =
                    |e: &[Event]| count(e, |k| matches!(k, EventKind::HsmRequest { .. }));
                let before = requests(&sut.relay.events());
                let mut submitted = false;
                for _ in 0..8 {
                    let ran = sut
                        .relay
                        .run(&[Role::Worker(0)], turn, None)
                        .map_err(stopped)?;
                    if requests(&sut.relay.events()) > before {
                        return Ok(());
                    }
                    if !ran {
                        if submitted {
                            return Err("the worker made no HSM request".into());
                        }
                        sut.submit_next()?;
                        submitted = true;
                    }
                }
                Err("the worker made no HSM request in 8 turns".into())
            }
            IrqOrderAction::HsmRaisesInterrupt => {
                sut.relay
                    .run(&[Role::Hsm], Until::Quiescent, None)
                    .map_err(stopped)?;
                Ok(())
            }
            IrqOrderAction::MonitorRaisesInterrupt => {
                let raised = Until::Events {
                    matching: |k| {
                        matches!(
                            k,
                            EventKind::InterruptRaised {
                                source: IrqSource::Monitor
                            }
                        )
                    },
                    n: 1,
                };
                sut.relay
                    .run(&[Role::Monitor], Until::Quiescent, Some(raised))
                    .map_err(stopped)?;
                Ok(())
            }
            IrqOrderAction::CpuServices { source } => {
                let from = sut.relay.events().len();
                let one = Until::Serviced { n: 1 };
                sut.relay.run(&[Role::Cpu], one, None).map_err(stopped)?;
                let events = sut.relay.events();
                let acknowledged: Vec<IrqSource> = events[from..]
                    .iter()
                    .filter_map(|e| match e.kind {
                        EventKind::InterruptAcknowledged { source } => Some(source),
                        _ => None,
                    })
                    .collect();
                let wanted = match source {
                    Source::Hsm => IrqSource::Hsm,
                    Source::Monitor => IrqSource::Monitor,
                };
                expect("interrupts the CPU served", acknowledged, vec![wanted])
            }
            IrqOrderAction::RelayTimesOut => {
                sut.relay
                    .run(&[Role::Worker(0)], turn, Some(turn))
                    .map_err(stopped)?;
                Ok(())
            }
        }
    }

    fn agree(
        spec: &IrqOrder,
        state: &<IrqOrder as Spec>::State,
        seen: &Seen,
        events: &[Event],
    ) -> Result<(), String> {
        expect(
            "HSM awaiting its completion notice",
            seen.observation.hsm_awaiting_completion,
            matches!(state.hsm, SpecHsm::AwaitCompletion(_)),
        )?;
        // Logical mode: with both pending only the monitor's can be delivered
        // (the relay collapses them when the second is raised, the spec when
        // the core serves them: the same behaviour, observed here).
        let collapsing = spec.irq_mode == IrqMode::Logical && state.monitor_irq_pending;
        expect(
            "HSM interrupt deliverable",
            seen.irq_pending.contains(&IrqSource::Hsm),
            state.hsm_irq_pending && !collapsing,
        )?;
        expect(
            "monitor interrupt pending",
            seen.irq_pending.contains(&IrqSource::Monitor),
            state.monitor_irq_pending,
        )?;
        let outcomes = |o: SpecOutcome| state.requests.iter().filter(|r| **r == o).count();
        expect(
            "completion notices",
            count(events, |k| matches!(k, EventKind::CompletionNotice)),
            outcomes(SpecOutcome::Completed),
        )?;
        expect(
            "bounded HSM waits that ran out",
            count(events, |k| matches!(k, EventKind::HsmWaitTimedOut)),
            outcomes(SpecOutcome::ErrorReplied),
        )
    }

    fn relay_property(spec: &IrqOrder, seen: &Seen, events: &[Event]) -> Result<(), String> {
        let waiting = !seen.observation.allocated_work_areas.is_empty();
        let nothing_to_deliver = seen.irq_pending.is_empty();
        let hung = waiting
            && seen.observation.hsm_awaiting_completion
            && nothing_to_deliver
            && spec.hsm_guard == HsmGuard::None;
        if hung {
            let lost = events
                .iter()
                .find(|e| matches!(e.kind, EventKind::InterruptCollapsed { .. }))
                .map(|e| e.to_string())
                .unwrap_or_default();
            Err(format!(
                "the relay waits for an HSM whose completion notice will never come ({lost})"
            ))
        } else {
            Ok(())
        }
    }
}

/// The presets by index, for the const parameters above.
pub const JAN: usize = 0;
pub const MAR: usize = 1;
pub const APR: usize = 2;
pub const PROPOSED: usize = 3;
