//! irq-order: the interrupt-ordering hang (root cause 1).
//!
//! * the workloads: [`Scenario::irq_order`] for loom and shuttle,
//!   [`search_config`] for the seeded search of `chukei reproduce`;
//! * the relay-side checks, named after the spec's properties:
//!   [`hsm_interrupt_kept`] (the relay's form of `hsm_request_completes`:
//!   a lost interrupt is a completion notice that can never come) and
//!   [`relay_never_hangs`] with its symptom [`hang_shown_at`];
//! * the relay <-> spec map: [`Refinement`] (relay events -> spec actions)
//!   and [`Steer`] (spec actions -> relay steps).

use crate::lockstep::{Seen, Until};
use crate::refine::{Meaning, Report, SkipReason, Walk};
use crate::steer::{count, expect, stopped, SpecMap, Steered};
use crate::workload::Scenario;
use model::assume::AssumeError;
use model::irq_order::{
    Hsm as SpecHsm, IrqOrder, IrqOrderAction, IrqOrderState, RequestOutcome, Source,
};
use model::{Spec, SpecName};
use patches::{HsmGuard, IrqMode, Monitor, Patches, Preset};
use relay::events::{Event, EventKind, IrqSource, ThreadName};
use relay::telegram::TelegramId;
use relay::{CryptoPath, Delivery, RelayConfig, Role};
use std::collections::BTreeMap;

impl Scenario {
    /// irq-order: one AP worker, the HSM firmware, the CPU core taking
    /// interrupts and (when the preset runs it) the monitoring agent.
    pub fn irq_order(preset: Preset) -> Self {
        Scenario {
            spec: SpecName::IrqOrder,
            preset,
            patches: preset.patches(),
            terminals: 1,
            telegrams: 1,
            window: 1,
            workers: 1,
            monitor_raises: 1,
            crypto: CryptoPath::Hsm,
            delivery: Delivery::LowPriority,
        }
    }
}

/// The relay of the seeded search. The monitor raises far more often than
/// every 2 hours: a collision that took weeks in production becomes likely
/// in a few schedules.
pub fn search_config(patches: impl Into<Patches>) -> RelayConfig {
    RelayConfig {
        monitor_period: 500,
        monitor_raises: Some(10),
        ..RelayConfig::small(patches)
    }
}

// ------------------------------------------------------- relay-side checks

/// The spec property a hang violates. Under loom and shuttle a hang is a
/// deadlock the explorer reports; on the driver, a run that never finishes.
pub const RELAY_NEVER_HANGS: &str = "relay_never_hangs";

/// Root cause 1's first sign: where the HSM's interrupt collapsed into the
/// monitor's (Logical mode, both pending on one core).
pub fn lost_hsm_interrupt(events: &[Event]) -> Option<usize> {
    events.iter().position(|e| {
        matches!(
            e.kind,
            EventKind::InterruptCollapsed {
                lost: IrqSource::Hsm,
                ..
            }
        )
    })
}

/// The HSM's interrupt is never lost, so its completion notice can always
/// come (the relay's side of `hsm_request_completes`).
pub fn hsm_interrupt_kept(events: &[Event]) -> Result<(), String> {
    match lost_hsm_interrupt(events) {
        Some(at) => Err(format!("{}", events[at])),
        None => Ok(()),
    }
}

/// Whether a log shows the lost completion notice of root cause 1: the HSM's
/// interrupt was lost and the HSM then waited for a completion notice that
/// never came (no notice, no reset by the guard).
pub fn shows_lost_completion_notice(events: &[Event]) -> bool {
    lost_hsm_interrupt(events).is_some_and(|at| {
        !events[at..].iter().any(|e| {
            matches!(
                e.kind,
                EventKind::CompletionNotice | EventKind::HsmReset { .. }
            )
        })
    })
}

/// The relay never waits forever on the HSM: violated when the HSM's
/// interrupt was lost and the run then hung (`hung`: the workload never
/// finished, or the driver found every thread waiting).
pub fn relay_never_hangs(events: &[Event], hung: bool) -> Result<(), String> {
    match lost_hsm_interrupt(events) {
        Some(at) if hung => Err(format!("the relay hung after {}", events[at])),
        _ => Ok(()),
    }
}

/// Where a hang's symptom is complete: the first telegram given up (by the
/// AP's bounded wait, its timer, or the CS) after the HSM's interrupt was lost.
pub fn hang_shown_at(events: &[Event]) -> Option<usize> {
    let lost = lost_hsm_interrupt(events)?;
    let gave_up = events[lost..].iter().position(|e| {
        matches!(
            e.kind,
            EventKind::CsTimeout | EventKind::Terminated | EventKind::HsmWaitTimedOut
        )
    })?;
    Some(lost + gave_up)
}

// ------------------------------------------------ relay -> spec (refinement)

/// The relay -> spec map of irq-order (`chukei validate`).
///
/// One spec instance for the relay's single HSM, whose one relay waits for
/// one request at a time: the board's current one. Every driver schedule
/// runs one AP worker; with several (the real-thread load test: 4 workers,
/// one board) requests of other workers queue on the board, and a bound
/// that runs out on one of them is read as running out before the board
/// took it; if the board then takes it while the spec's relay still waits
/// for another, the log leaves the spec there (one relay at a time is the
/// spec's assumption, not the relay's). Mapped: `hsm-done` →
/// `RelayRequests` (the HSM took a request); `interrupt-raised` →
/// `HsmRaisesInterrupt` / `MonitorRaisesInterrupt`;
/// `interrupt-acknowledged` → `CpuServices`; `hsm-wait-timed-out` →
/// `RelayTimesOut`. Checked: `interrupt-collapsed` (the spec has both pending
/// in Logical mode), and that HSM events name their telegram. Skipped: a
/// monitor raise while its line is pending (the line stays pending either
/// way), `completion-notice`, `hsm-awaiting-completion`, `hsm-reset` (parts
/// of those steps), and every event of the AP, timer and CSs (another
/// mechanism's).
///
/// The relay's logs are read under `guard-effect=resets-hsm` (what the
/// relay does) and `hsm-wait=may-expire`: on the driver (and on a loaded
/// machine) the bound can run out while the HSM or the CPU thread has not
/// yet run. The relay's log then shows two spec steps in another
/// order than the spec takes them, and the map takes them in the spec's:
/// * the bound runs out before the HSM took the request (it is still in
///   the board's queue, maybe behind an abandoned one): the board's
///   `hsm-done` for it is `RelayRequests` then `RelayTimesOut`, and the
///   earlier `hsm-wait-timed-out` is part of that step;
/// * the CPU acknowledged the HSM's interrupt, but the worker's bound ran
///   out before it took the result (its next event for the telegram is
///   `hsm-wait-timed-out`): the acknowledgement is `RelayTimesOut` then the
///   late `CpuServices`, and that `hsm-wait-timed-out` is part of the step.
///   An acknowledgement changes only the interrupt lines, which the worker
///   never reads, so the spec's order is one the relay could have taken.
pub struct Refinement {
    walk: Walk<IrqOrder>,
    /// The telegram whose HSM request the spec's relay waits for.
    waiting_for: Option<TelegramId>,
    /// A request whose bound ran out before the HSM took it.
    gave_up_before_taken: Option<TelegramId>,
    /// A timeout the map took at the CPU's acknowledgement.
    timed_out_early: Option<TelegramId>,
}

impl Refinement {
    /// The map on switch set `patches`, the spec read under `reading` (a
    /// complete assumption setting or overrides of the defaults,
    /// [`crate::registry::relay_reading`]).
    pub fn new(
        patches: impl Into<Patches>,
        reading: &BTreeMap<String, String>,
    ) -> Result<Self, AssumeError> {
        let patches = patches.into();
        let spec = IrqOrder {
            irq_mode: patches.irq_mode,
            monitor: patches.monitor,
            hsm_guard: patches.hsm_guard,
            requests: u8::MAX,
            reraise: false,
            monitor_once: false,
            guard_resets_hsm: false,
            unfair: false,
            wait_may_expire: false,
        }
        .assuming(reading)?;
        Ok(Refinement {
            walk: Walk::new(spec),
            waiting_for: None,
            gave_up_before_taken: None,
            timed_out_early: None,
        })
    }

    pub fn run(mut self, events: &[Event], report: &mut Report) {
        for (index, event) in events.iter().enumerate() {
            self.roll_over();
            let meanings = self.meanings(index, events);
            if !self.walk.take_steps((index, event), meanings, report) {
                return;
            }
        }
    }

    /// The spec steps of event `index`: one, or two where the relay's
    /// bounded wait ran out between the parts of a spec step (see above).
    fn meanings(&mut self, index: usize, events: &[Event]) -> Vec<Meaning<IrqOrderAction>> {
        let e = &events[index];
        let waiting = self.walk.state.relay_waiting.is_some();
        match e.kind {
            EventKind::HsmWaitTimedOut if e.telegram.is_some() => {
                if self.timed_out_early.take() == e.telegram {
                    return vec![Meaning::Skip(SkipReason::PartOfStep)];
                }
                // Another worker's request, still queued on the board, is
                // not the one the spec's relay waits for: its bound ran out
                // before the board took it (one worker never has two).
                if !waiting || self.waiting_for != e.telegram {
                    self.gave_up_before_taken = e.telegram;
                    return vec![Meaning::Skip(SkipReason::PartOfStep)];
                }
            }
            EventKind::HsmDone { .. } if e.telegram.is_some() => {
                self.waiting_for = e.telegram;
                if self.gave_up_before_taken == e.telegram {
                    self.gave_up_before_taken = None;
                    return vec![self.meaning(e), Meaning::Act(IrqOrderAction::RelayTimesOut)];
                }
            }
            EventKind::InterruptAcknowledged {
                source: IrqSource::Hsm,
            } if waiting && self.worker_gives_up_first(index, events) => {
                self.timed_out_early = self.waiting_for;
                return vec![Meaning::Act(IrqOrderAction::RelayTimesOut), self.meaning(e)];
            }
            _ => {}
        }
        vec![self.meaning(e)]
    }

    /// Whether, after the CPU acknowledged the HSM's interrupt at `index`,
    /// the waiting worker's next event for its telegram is its bounded
    /// wait running out (not its handling of the result).
    fn worker_gives_up_first(&self, index: usize, events: &[Event]) -> bool {
        let Some(telegram) = self.waiting_for else {
            return false;
        };
        events[index + 1..]
            .iter()
            .find(|later| {
                matches!(later.thread, ThreadName::Worker(_)) && later.telegram == Some(telegram)
            })
            .is_some_and(|later| later.kind == EventKind::HsmWaitTimedOut)
    }

    /// The spec numbers at most 255 requests: once they are all issued and
    /// the HSM is idle, numbering starts again (the interrupt lines carry over).
    fn roll_over(&mut self) {
        let s = &mut self.walk.state;
        let all_issued = s.requests.iter().all(|o| *o != RequestOutcome::Pending);
        if all_issued && s.relay_waiting.is_none() && s.hsm == SpecHsm::Idle {
            s.requests = vec![RequestOutcome::Pending; s.requests.len()];
        }
    }

    fn meaning(&self, e: &Event) -> Meaning<IrqOrderAction> {
        let s = &self.walk.state;
        let hsm_side = matches!(
            e.kind,
            EventKind::HsmDone { .. }
                | EventKind::HsmAwaitingCompletion
                | EventKind::CompletionNotice
                | EventKind::InterruptRaised {
                    source: IrqSource::Hsm
                }
        );
        if hsm_side && e.telegram.is_none() {
            return Meaning::Check(Err(format!(
                "`{}` names no telegram: every HSM request belongs to one",
                e.kind
            )));
        }
        match &e.kind {
            EventKind::HsmDone { .. } => Meaning::Act(next_request(s)),
            EventKind::InterruptRaised {
                source: IrqSource::Hsm,
            } => Meaning::Act(IrqOrderAction::HsmRaisesInterrupt),
            EventKind::InterruptRaised {
                source: IrqSource::Monitor,
            } => {
                if s.monitor_irq_pending {
                    Meaning::Skip(SkipReason::PartOfStep)
                } else {
                    Meaning::Act(IrqOrderAction::MonitorRaisesInterrupt)
                }
            }
            EventKind::InterruptCollapsed { .. } => Meaning::Check(
                if self.walk.spec.irq_mode == patches::IrqMode::Logical
                    && s.hsm_irq_pending
                    && s.monitor_irq_pending
                {
                    Ok(())
                } else {
                    Err("interrupts collapsed, but the spec does not have both pending in Logical mode".into())
                },
            ),
            EventKind::InterruptAcknowledged { source } => {
                Meaning::Act(IrqOrderAction::CpuServices {
                    source: match source {
                        IrqSource::Hsm => Source::Hsm,
                        IrqSource::Monitor => Source::Monitor,
                    },
                })
            }
            EventKind::HsmWaitTimedOut => Meaning::Act(IrqOrderAction::RelayTimesOut),
            EventKind::CompletionNotice
            | EventKind::HsmAwaitingCompletion
            | EventKind::HsmReset { .. } => Meaning::Skip(SkipReason::PartOfStep),
            _ => Meaning::Skip(SkipReason::OtherMechanism),
        }
    }
}

/// The spec's next request: the relay hands it to the HSM.
fn next_request(s: &IrqOrderState) -> IrqOrderAction {
    let issued = s
        .requests
        .iter()
        .filter(|o| **o != RequestOutcome::Pending)
        .count()
        + usize::from(s.relay_waiting.is_some());
    IrqOrderAction::RelayRequests {
        request: u8::try_from(issued).unwrap_or(u8::MAX),
    }
}

// -------------------------------------------------- spec -> relay (steering)

/// The spec -> relay map of irq-order (the proptest lockstep).
pub struct Steer;

impl SpecMap for Steer {
    type Spec = IrqOrder;
    const PROPERTY: &'static str = "relay_never_hangs";

    fn config(spec: &IrqOrder, preset: Preset) -> RelayConfig {
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
            ..RelayConfig::small(preset)
        }
    }

    fn roles(spec: &IrqOrder) -> Vec<Role> {
        let mut roles = vec![Role::Worker(0), Role::Hsm, Role::Cpu];
        if spec.monitor == Monitor::On {
            roles.push(Role::Monitor);
        }
        roles
    }

    /// In Physical mode the relay's core serves a pending HSM interrupt before
    /// the monitor's, so `CpuServices{monitor}` with both pending is not
    /// generated.
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

    fn carry_out(sut: &mut Steered, action: &IrqOrderAction) -> Result<(), String> {
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
        let outcomes = |o: RequestOutcome| state.requests.iter().filter(|r| **r == o).count();
        expect(
            "completion notices",
            count(events, |k| matches!(k, EventKind::CompletionNotice)),
            outcomes(RequestOutcome::Completed),
        )?;
        expect(
            "bounded HSM waits that ran out",
            count(events, |k| matches!(k, EventKind::HsmWaitTimedOut)),
            outcomes(RequestOutcome::ErrorReplied),
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
            let lost = lost_hsm_interrupt(events)
                .map(|at| events[at].to_string())
                .unwrap_or_default();
            Err(format!(
                "the relay waits for an HSM whose completion notice will never come ({lost})"
            ))
        } else {
            Ok(())
        }
    }
}
