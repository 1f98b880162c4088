//! Trace refinement: a relay event log checked step by step against a spec
//! (the library behind `chukei validate`).
//!
//! Every event of the log either maps to a spec action, which must be enabled
//! in the spec's current state, or is skipped by an explicit rule below. The
//! first event whose action the spec does not allow is the **divergence**:
//! code and spec disagree there. Along the way every `always` property of the
//! spec is judged on each state the log reaches; a log that reaches a
//! violating state (a 2016-01 relay freeing an unallocated work area) agrees
//! with the spec and reports the **violation**.
//!
//! The relay records the events that change a queue, the timer table or the
//! interrupt lines under the lock of that state (see `relay::mailbox::
//! Mailbox::post_logged`), so the log's order is an order the relay really
//! went through, also on real threads.
//!
//! # timer-free
//! One spec instance per AP worker (workers share nothing in this spec);
//! telegrams are numbered per worker in arrival order. Mapped:
//! `arrived` → `Arrive`; `alloc` → `Handle(telegram)`; `upstream-forward` →
//! `Handle(completion)` of the decrypt; the worker's `reply` that ends a
//! telegram's relay work → `Handle(completion)` of the encrypt;
//! `timeout-posted` → `TimerFires`; `timeout-received` → `Handle(notice)`;
//! `completion-notice` → `HsmCompletes`. Checked against the step they belong
//! to: `terminated` (the spec terminated that telegram), `free-of-unallocated`
//! (the spec's AP freed an unallocated work area). Skipped: the parts of a
//! handler step (`set-timer`, `hsm-request`, `upstream-reply`, `reset-timer`,
//! `free`, `timeout-ignored`, the `reply` of a termination), the completion
//! of a request abandoned at termination and its `stale-message` (the spec
//! drops abandoned requests), `connection-excess`, HSM and interrupt events
//! (irq-order's), CS events (cs-block's), and a worker's events after its
//! AP terminated abnormally (the relay restarts it; the spec stops).
//!
//! # irq-order
//! One spec instance for the relay's single HSM. Mapped: `hsm-done` →
//! `RelayRequests` (the HSM took a request); `interrupt-raised` →
//! `HsmRaisesInterrupt` / `MonitorRaisesInterrupt`;
//! `interrupt-acknowledged` → `CpuServices`; `hsm-wait-timed-out` →
//! `RelayTimesOut`. Checked: `interrupt-collapsed` (the spec has both pending
//! in Logical mode). Skipped: a monitor raise while its line is pending (the
//! line stays pending either way), `completion-notice`,
//! `hsm-awaiting-completion`, `hsm-reset` (parts of those steps), and every
//! event of the AP, timer and CSs.
//!
//! Both: everything after `shutdown` is skipped.

use model::irq_order::{Hsm as SpecHsm, IrqOrder, IrqOrderAction, Source};
use model::timer_free::{Message, TimerFree, TimerFreeAction, TimerFreeState};
use model::{Kind, Spec, SpecName};
use patches::Preset;
use relay::events::{Event, EventKind, IrqSource, ThreadName};
use relay::telegram::TelegramId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Why a log could not be validated (not a divergence: bad input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// A line of the JSON-lines log is not a relay event.
    #[error("line {line}: not a relay event: {message}")]
    Parse { line: usize, message: String },
    #[error(transparent)]
    UnknownSpec(#[from] model::UnknownSpec),
    /// The spec has no mapping from relay events.
    #[error(
        "spec `{0}` cannot be validated from a relay event log (supported: timer-free, irq-order)"
    )]
    Unsupported(String),
    /// More telegrams on one worker than the spec's telegram ids can number.
    #[error(
        "worker {worker} received {telegrams} telegrams; timer-free numbers at most 255 per worker"
    )]
    TooManyTelegrams { worker: u16, telegrams: usize },
}

/// The first event the spec does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// Index of the event in the log (0-based; line `index + 1` of a JSONL file).
    pub index: usize,
    pub seq: u64,
    /// The event as a timeline line.
    pub event: String,
    /// Why the spec does not allow it.
    pub reason: String,
    /// The spec's state at that point.
    pub spec_state: String,
}

/// A spec property that fails in a state the log reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub property: String,
    pub index: usize,
    pub seq: u64,
    pub event: String,
}

/// The result of validating a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub spec: String,
    pub preset: String,
    /// Events in the log.
    pub events: usize,
    /// Events mapped to spec actions (and checked).
    pub mapped: usize,
    /// Events checked against the step they belong to.
    pub checked: usize,
    /// Events with no spec counterpart (the rules in the module docs).
    pub skipped: usize,
    /// The first event the spec does not allow; `None` when code and spec agree.
    pub divergence: Option<Divergence>,
    /// `always` properties violated by states the log reached, first time each.
    pub violations: Vec<Violation>,
}

impl Report {
    /// Code and spec agree on the whole log.
    pub fn agrees(&self) -> bool {
        self.divergence.is_none()
    }
}

/// Parses a JSON-lines event log (`EventLog::to_jsonl`). Blank lines are
/// ignored; the first bad line is an error with its 1-based number.
pub fn parse_jsonl(text: &str) -> Result<Vec<Event>, ValidateError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str::<Event>(line).map_err(|e| ValidateError::Parse {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Parses and validates a JSON-lines log.
pub fn validate_jsonl(text: &str, spec: &str, preset: Preset) -> Result<Report, ValidateError> {
    validate(&parse_jsonl(text)?, spec, preset)
}

/// Checks `events` against spec `spec` (a name) at `preset`.
pub fn validate(events: &[Event], spec: &str, preset: Preset) -> Result<Report, ValidateError> {
    let name: SpecName = spec.parse()?;
    let mut report = Report {
        spec: name.name().to_string(),
        preset: preset.name().to_string(),
        events: events.len(),
        mapped: 0,
        checked: 0,
        skipped: 0,
        divergence: None,
        violations: vec![],
    };
    match name {
        SpecName::TimerFree => TimerFreeCheck::new(events, preset)?.run(events, &mut report),
        SpecName::IrqOrder => IrqOrderCheck::new(preset).run(events, &mut report),
        SpecName::CsBlock => return Err(ValidateError::Unsupported(spec.to_string())),
    }
    Ok(report)
}

/// What one event means for a spec.
enum Meaning<A> {
    Act(A),
    /// Consistent with the spec state, or a divergence with its reason.
    Check(Result<(), String>),
    Skip,
    Stop,
}

/// A spec instance being walked along the log.
struct Walk<S: Spec> {
    spec: S,
    state: S::State,
    violated: BTreeSet<&'static str>,
}

impl<S: Spec> Walk<S> {
    fn new(spec: S) -> Self {
        let state = spec.init_states().remove(0);
        Walk {
            spec,
            state,
            violated: BTreeSet::new(),
        }
    }

    /// Takes `action`; a divergence reason if it is not enabled.
    fn step(
        &mut self,
        action: &S::Action,
        at: (usize, &Event),
        report: &mut Report,
    ) -> Result<(), String> {
        let Some(next) = self.spec.next_state(&self.state, action) else {
            return Err(format!(
                "the spec does not allow `{}` here",
                self.spec.describe_action(action)
            ));
        };
        self.state = next;
        report.mapped += 1;
        for property in self.spec.properties() {
            if property.kind == Kind::Always
                && !(property.condition)(&self.spec, &self.state)
                && self.violated.insert(property.name)
            {
                report.violations.push(Violation {
                    property: property.name.to_string(),
                    index: at.0,
                    seq: at.1.seq,
                    event: at.1.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Accounts for one event of the log; false when the walk ends here
    /// (the log stops, or it diverged from the spec).
    fn take(
        &mut self,
        at: (usize, &Event),
        meaning: Meaning<S::Action>,
        report: &mut Report,
    ) -> bool {
        let result = match meaning {
            Meaning::Stop => return false,
            Meaning::Skip => {
                report.skipped += 1;
                Ok(())
            }
            Meaning::Check(result) => {
                report.checked += 1;
                result
            }
            Meaning::Act(action) => self.step(&action, at, report),
        };
        match result {
            Ok(()) => true,
            Err(reason) => {
                self.diverge(at, reason, report);
                false
            }
        }
    }

    fn diverge(&self, at: (usize, &Event), reason: String, report: &mut Report) {
        report.divergence = Some(Divergence {
            index: at.0,
            seq: at.1.seq,
            event: at.1.to_string(),
            reason,
            spec_state: self.spec.describe_state(&self.state),
        });
    }
}

// ---------------------------------------------------------------- timer-free

struct WorkerWalk {
    walk: Walk<TimerFree>,
    /// Relay telegram → spec telegram id.
    ids: BTreeMap<TelegramId, u8>,
    /// A termination's reply is part of the notice handler.
    terminating: BTreeSet<TelegramId>,
    /// Completions of requests abandoned at termination.
    abandoned: BTreeSet<TelegramId>,
    /// The AP terminated abnormally: the spec stops here.
    dead: bool,
}

struct TimerFreeCheck {
    route: BTreeMap<TelegramId, u16>,
    workers: BTreeMap<u16, WorkerWalk>,
}

impl TimerFreeCheck {
    fn new(events: &[Event], preset: Preset) -> Result<Self, ValidateError> {
        // A telegram belongs to the worker whose thread first handles it.
        let mut route = BTreeMap::new();
        for e in events {
            if let (ThreadName::Worker(w), Some(t)) = (e.thread, e.telegram) {
                route.entry(t).or_insert(w);
            }
        }
        let mut per_worker: BTreeMap<u16, usize> = BTreeMap::new();
        for e in events {
            if let (EventKind::Arrived { .. }, Some(t)) = (&e.kind, e.telegram) {
                if let Some(w) = route.get(&t) {
                    *per_worker.entry(*w).or_default() += 1;
                }
            }
        }
        let mut workers = BTreeMap::new();
        for (&worker, &telegrams) in &per_worker {
            if telegrams > 255 {
                return Err(ValidateError::TooManyTelegrams { worker, telegrams });
            }
            let spec = TimerFree {
                timer_fix: preset.patches().timer_fix,
                telegrams: telegrams as u8,
                workers: 1,
                fifo: false,
            };
            workers.insert(
                worker,
                WorkerWalk {
                    walk: Walk::new(spec),
                    ids: BTreeMap::new(),
                    terminating: BTreeSet::new(),
                    abandoned: BTreeSet::new(),
                    dead: false,
                },
            );
        }
        Ok(TimerFreeCheck { route, workers })
    }

    fn run(mut self, events: &[Event], report: &mut Report) {
        for (index, event) in events.iter().enumerate() {
            let Some((worker, meaning)) = self.meaning(event) else {
                report.skipped += 1;
                continue;
            };
            let Some(w) = self.workers.get_mut(&worker) else {
                report.skipped += 1;
                continue;
            };
            if !w.walk.take((index, event), meaning, report) {
                return;
            }
        }
    }

    /// The worker an event concerns and what it means for its spec.
    fn meaning(&mut self, e: &Event) -> Option<(u16, Meaning<TimerFreeAction>)> {
        if e.kind == EventKind::Shutdown {
            return Some((*self.workers.keys().next()?, Meaning::Stop));
        }
        let telegram = e.telegram?;
        let worker = match (e.thread, &e.kind) {
            (ThreadName::Worker(w), _) => w,
            (_, EventKind::TimeoutPosted { timer, .. }) => *timer,
            _ => *self.route.get(&telegram)?,
        };
        let w = self.workers.get_mut(&worker)?;
        if w.dead {
            return Some((worker, Meaning::Skip));
        }
        let state: TimerFreeState = w.walk.state.clone();
        let id = |w: &mut WorkerWalk, t: TelegramId| -> Option<u8> { w.ids.get(&t).copied() };
        let on_worker = matches!(e.thread, ThreadName::Worker(_));
        let meaning = match &e.kind {
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
                None => Meaning::Check(Err(format!("{telegram} never arrived"))),
            },
            EventKind::AllocFailed => {
                Meaning::Check(Err("the spec has no failed allocation".to_string()))
            }
            EventKind::TimeoutPosted { .. } => {
                Meaning::Act(TimerFreeAction::TimerFires { worker: 0 })
            }
            EventKind::TimeoutReceived { .. } => match id(w, telegram) {
                Some(t) => handle(Message::TimeoutNotice { epoch: t }),
                None => {
                    Meaning::Check(Err(format!("a notice for {telegram}, which never arrived")))
                }
            },
            EventKind::CompletionNotice => {
                let outstanding = state.workers[0].hsm_request;
                if outstanding.is_some() && outstanding == id(w, telegram) {
                    Meaning::Act(TimerFreeAction::HsmCompletes { worker: 0 })
                } else {
                    w.abandoned.insert(telegram);
                    Meaning::Skip
                }
            }
            EventKind::StaleMessage { .. } if w.abandoned.remove(&telegram) => Meaning::Skip,
            EventKind::StaleMessage { .. } | EventKind::UpstreamForward => match id(w, telegram) {
                Some(t) => handle(Message::Completion { telegram: t }),
                None => Meaning::Check(Err(format!("{telegram} never arrived"))),
            },
            EventKind::Terminated => {
                w.terminating.insert(telegram);
                let t = id(w, telegram);
                let terminated =
                    t.is_some_and(|t| state.telegrams[usize::from(t)].terminated_by.is_some());
                Meaning::Check(if terminated {
                    Ok(())
                } else {
                    Err(format!("the relay terminated {telegram}; the spec did not"))
                })
            }
            EventKind::Reply { .. } if on_worker => {
                if w.terminating.remove(&telegram) {
                    Meaning::Skip
                } else {
                    match id(w, telegram) {
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
                Meaning::Skip
            }
            EventKind::HsmWaitTimedOut if on_worker => Meaning::Check(Err(
                "timer-free has no bounded HSM wait (see irq-order)".into(),
            )),
            _ => Meaning::Skip,
        };
        Some((worker, meaning))
    }
}

fn handle(message: Message) -> Meaning<TimerFreeAction> {
    Meaning::Act(TimerFreeAction::Handle { worker: 0, message })
}

// ----------------------------------------------------------------- irq-order

struct IrqOrderCheck {
    walk: Walk<IrqOrder>,
}

impl IrqOrderCheck {
    fn new(preset: Preset) -> Self {
        let patches = preset.patches();
        IrqOrderCheck {
            walk: Walk::new(IrqOrder {
                irq_mode: patches.irq_mode,
                monitor: patches.monitor,
                hsm_guard: patches.hsm_guard,
                requests: u8::MAX,
                reraise: false,
            }),
        }
    }

    fn run(mut self, events: &[Event], report: &mut Report) {
        for (index, event) in events.iter().enumerate() {
            self.roll_over();
            let meaning = self.meaning(event);
            if !self.walk.take((index, event), meaning, report) {
                return;
            }
        }
    }

    /// The spec numbers at most 255 requests: once they are all issued and
    /// the HSM is idle, numbering starts again (the interrupt lines carry over).
    fn roll_over(&mut self) {
        let s = &mut self.walk.state;
        let all_issued = s
            .requests
            .iter()
            .all(|o| *o != model::irq_order::Outcome::Pending);
        if all_issued && s.relay_waiting.is_none() && s.hsm == SpecHsm::Idle {
            s.requests = vec![model::irq_order::Outcome::Pending; s.requests.len()];
        }
    }

    fn meaning(&self, e: &Event) -> Meaning<IrqOrderAction> {
        let s = &self.walk.state;
        match &e.kind {
            EventKind::Shutdown => Meaning::Stop,
            EventKind::HsmDone { .. } => {
                let issued = s
                    .requests
                    .iter()
                    .filter(|o| **o != model::irq_order::Outcome::Pending)
                    .count()
                    + usize::from(s.relay_waiting.is_some());
                Meaning::Act(IrqOrderAction::RelayRequests {
                    request: u8::try_from(issued).unwrap_or(u8::MAX),
                })
            }
            EventKind::InterruptRaised {
                source: IrqSource::Hsm,
            } => Meaning::Act(IrqOrderAction::HsmRaisesInterrupt),
            EventKind::InterruptRaised {
                source: IrqSource::Monitor,
            } => {
                if s.monitor_irq_pending {
                    Meaning::Skip
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
            _ => Meaning::Skip,
        }
    }
}
