//! **irq-order**: root cause 1 of the incident, the HSM hang (15 occurrences
//! in 2016; docs/specs.md, irq-order).
//!
//! The relay hands one request at a time to the HSM. The HSM processes it,
//! raises its interrupt, and then waits for the CPU's completion notice
//! before it takes the next request. The hardware monitoring agent also
//! raises interrupts on the same core, again and again.
//!
//! Assumptions:
//! * "Pending together" is the model of "at the same moment": both interrupt
//!   lines are pending on the core when it services them.
//! * `IrqMode::Logical`: two pending interrupts collapse into one; the
//!   monitor's is serviced and the HSM's is lost (never acknowledged). A lone
//!   pending interrupt is always serviced normally: loss needs simultaneity.
//!   `IrqMode::Physical`: each source is serviced and acknowledged on its own.
//! * `Monitor::Off`: the monitor raises nothing.
//! * `HsmGuard::ErrorOnInterrupted`: the relay's wait is bounded. The bound is
//!   long enough that a live HSM always answers within it, so the timeout is
//!   enabled only once the HSM will not answer the request the relay waits
//!   for; the relay then error-replies. Assumption `guard-effect`: whether it
//!   also resets the HSM (`resets-hsm`) or only answers with an error
//!   (`error-only`, the default: all the incident report says of the March
//!   guard is that the relay raises an error instead of hanging). Without a
//!   reset the HSM keeps waiting for its completion notice, and the relay's
//!   next requests go to a board that does not answer: each ends in the
//!   bounded wait too.
//! * Assumption `hsm-wait`: `in-time` (default: the bound is longer than any
//!   live HSM's answer, as above) or `may-expire` (the bounded wait may run
//!   out whenever the relay waits: a slow HSM, or a CPU thread that has not
//!   yet run its completion notice; what the deterministic driver's clock
//!   jumps produce, so `chukei validate` reads relay logs under it). A reset
//!   stops the HSM's wait for a completion notice, not a computation under
//!   way: an HSM still processing finishes, raises its interrupt and is
//!   serviced late, as the relay's board does. The relay's next request
//!   can then reach a board still busy with the one it gave up on (with
//!   `resets-hsm`): it queues on the board (`queued`), which takes it once
//!   a completion notice or a reset frees it, also after the request's own
//!   wait ran out. Under `in-time` none of this is reachable, so its state
//!   spaces are unchanged.
//! * Assumption `monitor-polls`: `periodic` (default: the agent polls every
//!   2 hours, forever) or `once` (one poll in the whole run).
//! * Size `reraise` = 1 is a variant HSM firmware that raises its interrupt
//!   again while it still waits for a completion notice; the monitor can then
//!   steal the acknowledgement over and over (a cycle, not a terminal state).

use crate::assume::{self, AssumeError, Assumption, Assumptions};
use crate::sizes::{resolve, SizeError, SizeParam};
use crate::spec::{is_terminal, with_fairness, Fairness, Property, Spec};
use patches::{HsmGuard, IrqMode, Monitor, Patches};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Size parameters of irq-order.
pub const SIZES: &[SizeParam] = &[
    SizeParam {
        name: "requests",
        default: 2,
        min: 1,
        max: 6,
        help: "HSM requests the relay makes in total",
    },
    SizeParam {
        name: "reraise",
        default: 0,
        min: 0,
        max: 1,
        help: "1 = the HSM re-raises its interrupt while unacknowledged",
    },
];

/// Environment assumptions of irq-order (`--assume NAME=VALUE`).
pub const ASSUMPTIONS: &[Assumption] = &[
    Assumption {
        name: "monitor-polls",
        values: &["periodic", "once"],
        help: "how often the hardware monitoring agent raises its interrupt",
        meanings: &[
            "again and again, for as long as the relay runs",
            "once in the whole run",
        ],
        why_default: "the agent polled the hardware every 2 hours, for as long as it ran",
    },
    Assumption {
        name: "guard-effect",
        values: &["error-only", "resets-hsm"],
        help: "what the March guard (hsm_guard=error-on-interrupted) does when its bounded wait runs out",
        meanings: &[
            "the relay answers with an error; the HSM keeps waiting for its completion notice",
            "the relay answers with an error and resets the HSM (what our relay does)",
        ],
        why_default: "the incident report says only that the relay raises an error instead of hanging, not that the HSM is reset",
    },
    Assumption {
        name: "hsm-wait",
        values: &["in-time", "may-expire"],
        help: "whether the relay's bounded HSM wait (hsm_guard=error-on-interrupted) can run out while the HSM still answers",
        meanings: &[
            "the bounded wait runs out only when the HSM will not answer (its interrupt was lost or it is stuck)",
            "the bounded wait may run out whenever the relay waits (a slow HSM or CPU): error reply, and the late answer is dropped",
        ],
        why_default: "the bound (5 s) is far above the HSM's latency; a wait that runs out on a live HSM is timer-free's hsm-wait question",
    },
    assume::FAIRNESS,
];

/// An interrupt source on the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Hsm,
    Monitor,
}

/// The HSM board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Hsm {
    Idle,
    Processing(u8),
    /// Interrupt raised for this request; waiting for the completion notice.
    AwaitCompletion(u8),
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestOutcome {
    Pending,
    /// The CPU acknowledged the interrupt and sent the completion notice.
    Completed,
    /// The relay's bounded wait ran out: error reply, HSM reset.
    ErrorReplied,
}

/// The relay, the HSM, the core's interrupt lines and the monitor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IrqOrderState {
    /// The request the relay is waiting for, if any.
    pub relay_waiting: Option<u8>,
    pub hsm: Hsm,
    pub hsm_irq_pending: bool,
    pub monitor_irq_pending: bool,
    pub requests: Vec<RequestOutcome>,
    /// `monitor-polls=once` only (always false otherwise, so the periodic
    /// state space is unchanged): the monitor has polled.
    pub monitor_polled: bool,
    /// `hsm-wait=may-expire` only (always `None` otherwise): the request
    /// the relay handed the board while the HSM was still busy with one
    /// the relay had given up on. The board takes it as soon as it is free
    /// (a completion notice or a reset), even if its own wait ran out.
    #[serde(default)]
    pub queued: Option<u8>,
}

impl IrqOrderState {
    fn issued(&self) -> usize {
        self.requests
            .iter()
            .filter(|o| **o != RequestOutcome::Pending)
            .count()
            + usize::from(self.relay_waiting.is_some())
    }

    /// The HSM waits for a completion notice no pending interrupt will bring.
    pub fn hsm_interrupt_lost(&self) -> bool {
        matches!(self.hsm, Hsm::AwaitCompletion(_)) && !self.hsm_irq_pending
    }

    /// The HSM is busy (or stuck) with a request the relay has already
    /// answered with an error.
    pub fn hsm_busy_with_abandoned(&self) -> bool {
        match self.hsm {
            Hsm::Processing(r) | Hsm::AwaitCompletion(r) => {
                self.requests[usize::from(r)] == RequestOutcome::ErrorReplied
            }
            Hsm::Idle => false,
        }
    }

    /// The board is free: it takes the request queued on it, if any.
    fn hsm_freed(&mut self) {
        self.hsm = self.queued.take().map_or(Hsm::Idle, Hsm::Processing);
    }

    /// The relay waits for a request the HSM will not answer: its interrupt
    /// was lost, or (guard without reset) the HSM is stuck on an earlier
    /// request or has finished it late.
    pub fn relay_waits_in_vain(&self) -> bool {
        let Some(r) = self.relay_waiting else {
            return false;
        };
        match self.hsm {
            Hsm::Processing(x) => x != r,
            Hsm::AwaitCompletion(x) => x != r || !self.hsm_irq_pending,
            Hsm::Idle => true,
        }
    }
}

/// What the real relay can also report, for comparing it with the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrqOrderObservation {
    /// The HSM raised its interrupt and waits for the completion notice.
    pub hsm_waiting_for_completion: bool,
    pub relay_waiting: Option<u8>,
    pub completed: usize,
    pub error_replied: usize,
}

impl IrqOrderState {
    pub fn observe(&self) -> IrqOrderObservation {
        let count = |o: RequestOutcome| self.requests.iter().filter(|r| **r == o).count();
        IrqOrderObservation {
            hsm_waiting_for_completion: matches!(self.hsm, Hsm::AwaitCompletion(_)),
            relay_waiting: self.relay_waiting,
            completed: count(RequestOutcome::Completed),
            error_replied: count(RequestOutcome::ErrorReplied),
        }
    }
}

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IrqOrderAction {
    /// The relay hands request `request` to the idle HSM and waits.
    RelayRequests { request: u8 },
    /// The HSM finishes processing and raises its interrupt (or, in the
    /// `reraise` variant, raises it again).
    HsmRaisesInterrupt,
    /// The monitoring agent polls the hardware and raises its interrupt.
    MonitorRaisesInterrupt,
    /// The core services the pending interrupt of `source`.
    CpuServices { source: Source },
    /// The relay's bounded wait ends: error reply and HSM reset.
    RelayTimesOut,
}

/// The irq-order spec for one setting of the patches.
#[derive(Clone, Debug)]
pub struct IrqOrder {
    pub irq_mode: IrqMode,
    pub monitor: Monitor,
    pub hsm_guard: HsmGuard,
    pub requests: u8,
    pub reraise: bool,
    /// `monitor-polls=once`.
    pub monitor_once: bool,
    /// `guard-effect=resets-hsm`.
    pub guard_resets_hsm: bool,
    /// `fairness=none`.
    pub unfair: bool,
    /// `hsm-wait=may-expire`.
    pub wait_may_expire: bool,
}

impl IrqOrder {
    /// Builds the spec; `sizes` may be partial (defaults fill the rest).
    pub fn new(patches: Patches, sizes: &BTreeMap<String, u64>) -> Result<Self, SizeError> {
        let sizes = resolve("irq-order", SIZES, sizes)?;
        Ok(IrqOrder {
            irq_mode: patches.irq_mode,
            monitor: patches.monitor,
            hsm_guard: patches.hsm_guard,
            requests: sizes["requests"] as u8,
            reraise: sizes["reraise"] == 1,
            monitor_once: false,
            guard_resets_hsm: false,
            unfair: false,
            wait_may_expire: false,
        })
    }

    /// This spec under the assumptions `given` (partial: defaults fill the
    /// rest).
    pub fn assuming(mut self, given: &BTreeMap<String, String>) -> Result<Self, AssumeError> {
        let a = assume::resolve("irq-order", ASSUMPTIONS, given)?;
        self.monitor_once = a["monitor-polls"] == "once";
        self.guard_resets_hsm = a["guard-effect"] == "resets-hsm";
        self.unfair = assume::unfair(&a);
        self.wait_may_expire = a["hsm-wait"] == "may-expire";
        Ok(self)
    }

    /// The sizes this spec was built with (for traces).
    pub fn sizes(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("requests".to_string(), u64::from(self.requests)),
            ("reraise".to_string(), u64::from(self.reraise)),
        ])
    }

    /// The guard without a reset: the HSM stays stuck after an error reply.
    fn guard_keeps_stuck_hsm(&self) -> bool {
        self.hsm_guard == HsmGuard::ErrorOnInterrupted && !self.guard_resets_hsm
    }

    fn collapses(&self, s: &IrqOrderState) -> bool {
        self.irq_mode == IrqMode::Logical && s.hsm_irq_pending && s.monitor_irq_pending
    }

    /// The core services `source`. Under Logical mode with both pending, only
    /// the monitor's is serviced and the HSM's disappears with it.
    fn service(&self, s: &mut IrqOrderState, source: Source) -> Option<()> {
        match source {
            Source::Monitor if s.monitor_irq_pending => {
                if self.collapses(s) {
                    s.hsm_irq_pending = false; // lost: no completion notice
                }
                s.monitor_irq_pending = false;
            }
            Source::Hsm if s.hsm_irq_pending && !self.collapses(s) => {
                s.hsm_irq_pending = false;
                let Hsm::AwaitCompletion(r) = s.hsm else {
                    // Late, after a reset: nothing waits for the notice
                    // (reachable only under hsm-wait=may-expire).
                    return Some(());
                };
                s.hsm_freed(); // the completion notice
                if s.relay_waiting == Some(r) {
                    s.requests[usize::from(r)] = RequestOutcome::Completed;
                    s.relay_waiting = None;
                } // else: late, for a request already answered with an error
            }
            _ => return None,
        }
        Some(())
    }
}

impl Spec for IrqOrder {
    type State = IrqOrderState;
    type Action = IrqOrderAction;

    fn name(&self) -> &'static str {
        "irq-order"
    }

    fn init_states(&self) -> Vec<IrqOrderState> {
        vec![IrqOrderState {
            relay_waiting: None,
            hsm: Hsm::Idle,
            hsm_irq_pending: false,
            monitor_irq_pending: false,
            requests: vec![RequestOutcome::Pending; usize::from(self.requests)],
            monitor_polled: false,
            queued: None,
        }]
    }

    fn actions(&self, s: &IrqOrderState, actions: &mut Vec<IrqOrderAction>) {
        let issued = s.issued();
        if issued < usize::from(self.requests) {
            actions.push(IrqOrderAction::RelayRequests {
                request: issued as u8,
            });
        }
        actions.push(IrqOrderAction::HsmRaisesInterrupt);
        actions.push(IrqOrderAction::MonitorRaisesInterrupt);
        actions.push(IrqOrderAction::CpuServices {
            source: Source::Hsm,
        });
        actions.push(IrqOrderAction::CpuServices {
            source: Source::Monitor,
        });
        actions.push(IrqOrderAction::RelayTimesOut);
    }

    fn next_state(&self, s: &IrqOrderState, action: &IrqOrderAction) -> Option<IrqOrderState> {
        let mut next = s.clone();
        match *action {
            IrqOrderAction::RelayRequests { request } => {
                // Without a reset, a stuck HSM never becomes idle: the relay
                // still hands it the next request (which it ignores).
                // With hsm-wait=may-expire the relay can give up on a
                // request the HSM still computes, or whose interrupt is
                // then lost; its next request queues on the board behind
                // that one, which a reset (or its completion) frees.
                let queues = !self.guard_keeps_stuck_hsm()
                    && self.wait_may_expire
                    && s.hsm_busy_with_abandoned();
                let hsm_ready = s.hsm == Hsm::Idle || self.guard_keeps_stuck_hsm() || queues;
                let idle = s.relay_waiting.is_none() && hsm_ready;
                if !idle || usize::from(request) != s.issued() || request >= self.requests {
                    return None;
                }
                next.relay_waiting = Some(request);
                if s.hsm == Hsm::Idle {
                    next.hsm = Hsm::Processing(request);
                } else if queues {
                    next.queued = Some(request);
                }
            }
            IrqOrderAction::HsmRaisesInterrupt => match s.hsm {
                Hsm::Processing(r) => {
                    next.hsm = Hsm::AwaitCompletion(r);
                    next.hsm_irq_pending = true;
                }
                Hsm::AwaitCompletion(_) if self.reraise && !s.hsm_irq_pending => {
                    next.hsm_irq_pending = true;
                }
                _ => return None,
            },
            IrqOrderAction::MonitorRaisesInterrupt => {
                let done = self.monitor_once && s.monitor_polled;
                if self.monitor == Monitor::Off || s.monitor_irq_pending || done {
                    return None;
                }
                next.monitor_irq_pending = true;
                next.monitor_polled = self.monitor_once;
            }
            IrqOrderAction::CpuServices { source } => self.service(&mut next, source)?,
            IrqOrderAction::RelayTimesOut => {
                let bounded = self.hsm_guard == HsmGuard::ErrorOnInterrupted;
                let r = s.relay_waiting?;
                if !bounded || !(self.wait_may_expire || s.relay_waits_in_vain()) {
                    return None;
                }
                next.requests[usize::from(r)] = RequestOutcome::ErrorReplied;
                next.relay_waiting = None;
                // A reset ends the wait for a completion notice; a
                // computation under way still finishes (may-expire only).
                let processing = matches!(s.hsm, Hsm::Processing(_));
                if self.guard_resets_hsm && !processing {
                    next.hsm_freed();
                }
            }
        }
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let properties = vec![
            Property::<Self>::eventually(
                "hsm_request_completes",
                |_, s| s.requests.iter().all(|o| *o == RequestOutcome::Completed),
                Fairness::new(
                    "relay, HSM, CPU and the relay's timeout are weakly fair; \
                                  the monitor is not (it may poll or not)",
                    |_, a| !matches!(a, IrqOrderAction::MonitorRaisesInterrupt),
                ),
            ),
            Property::<Self>::always("relay_never_hangs", |spec, s| {
                let can_wake = spec.hsm_guard == HsmGuard::ErrorOnInterrupted || spec.reraise;
                can_wake || !s.relay_waits_in_vain()
            }),
            Property::<Self>::always("no_deadlock", |spec, s| {
                let waiting = s.requests.contains(&RequestOutcome::Pending);
                !(waiting && is_terminal(spec, s))
            }),
            Property::<Self>::sometimes("all_requests_completed", |_, s| {
                s.requests.iter().all(|o| *o == RequestOutcome::Completed)
            }),
        ];
        with_fairness(properties, self.unfair)
    }

    fn assumptions(&self) -> Assumptions {
        BTreeMap::from([
            (
                "monitor-polls".to_string(),
                if self.monitor_once {
                    "once"
                } else {
                    "periodic"
                }
                .to_string(),
            ),
            (
                "guard-effect".to_string(),
                if self.guard_resets_hsm {
                    "resets-hsm"
                } else {
                    "error-only"
                }
                .to_string(),
            ),
            (
                "hsm-wait".to_string(),
                if self.wait_may_expire {
                    "may-expire"
                } else {
                    "in-time"
                }
                .to_string(),
            ),
            (
                "fairness".to_string(),
                if self.unfair { "none" } else { "weak" }.to_string(),
            ),
        ])
    }

    fn describe_action(&self, action: &IrqOrderAction) -> String {
        match action {
            IrqOrderAction::RelayRequests { request } => {
                format!("relay hands request r{request} to the HSM and waits")
            }
            IrqOrderAction::HsmRaisesInterrupt => "HSM raises its interrupt".into(),
            IrqOrderAction::MonitorRaisesInterrupt => "monitor raises its interrupt".into(),
            IrqOrderAction::CpuServices {
                source: Source::Hsm,
            } => "CPU services the HSM interrupt: completion_notice to the HSM".into(),
            IrqOrderAction::CpuServices {
                source: Source::Monitor,
            } => "CPU services the monitor interrupt".into(),
            IrqOrderAction::RelayTimesOut if self.guard_resets_hsm => {
                "relay's bounded wait ends: error reply, HSM reset".into()
            }
            IrqOrderAction::RelayTimesOut => {
                "relay's bounded wait ends: error reply (the HSM is not reset)".into()
            }
        }
    }

    fn describe_state(&self, s: &IrqOrderState) -> String {
        let queued = s.queued.map_or(String::new(), |r| format!(" queued=r{r}"));
        format!(
            "relay waiting={:?} hsm={:?}{queued} pending[hsm={} monitor={}] requests={:?}",
            s.relay_waiting, s.hsm, s.hsm_irq_pending, s.monitor_irq_pending, s.requests
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patches::Preset;
    use IrqOrderAction::*;

    fn run(spec: &IrqOrder, actions: &[IrqOrderAction]) -> IrqOrderState {
        let mut s = spec.init_states().remove(0);
        for a in actions {
            s = spec
                .next_state(&s, a)
                .unwrap_or_else(|| panic!("{a:?} disabled"));
        }
        s
    }

    const COLLISION: [IrqOrderAction; 4] = [
        RelayRequests { request: 0 },
        HsmRaisesInterrupt,
        MonitorRaisesInterrupt,
        CpuServices {
            source: Source::Monitor,
        },
    ];

    #[test]
    fn logical_mode_loses_the_hsm_interrupt_under_simultaneity() {
        let spec = IrqOrder::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        let s = run(&spec, &COLLISION);
        assert!(s.hsm_interrupt_lost());
        assert!(s.observe().hsm_waiting_for_completion);
        assert_eq!(s.relay_waiting, Some(0));
        let hsm_first = spec.next_state(
            &run(&spec, &COLLISION[..3]),
            &CpuServices {
                source: Source::Hsm,
            },
        );
        assert_eq!(hsm_first, None, "collapsed: only the monitor's is serviced");
    }

    #[test]
    fn physical_mode_services_both() {
        let spec = IrqOrder::new(Preset::Apr2016.patches(), &BTreeMap::new()).unwrap();
        let mut actions = COLLISION.to_vec();
        actions.push(CpuServices {
            source: Source::Hsm,
        });
        let s = run(&spec, &actions);
        assert_eq!(s.requests[0], RequestOutcome::Completed);
        assert_eq!(s.hsm, Hsm::Idle);
    }

    #[test]
    fn guard_turns_a_lost_interrupt_into_an_error_reply() {
        let mut patches = Preset::Jan2016.patches();
        patches.hsm_guard = HsmGuard::ErrorOnInterrupted;
        let resets = BTreeMap::from([("guard-effect".to_string(), "resets-hsm".to_string())]);
        let spec = IrqOrder::new(patches, &BTreeMap::new())
            .unwrap()
            .assuming(&resets)
            .unwrap();
        let mut actions = COLLISION.to_vec();
        actions.push(RelayTimesOut);
        let s = run(&spec, &actions);
        assert_eq!(s.requests[0], RequestOutcome::ErrorReplied);
        assert_eq!((s.relay_waiting, s.hsm), (None, Hsm::Idle));
        assert_eq!(s.observe().error_replied, 1);
        let healthy = run(&spec, &COLLISION[..2]);
        assert_eq!(spec.next_state(&healthy, &RelayTimesOut), None);
    }

    /// `hsm-wait=may-expire`, `guard-effect=resets-hsm` (how `validate`
    /// reads the relay): the relay gives up on r0 while the HSM computes
    /// it; r1 queues on the board behind it, and the board takes r1 once
    /// a reset or r0's late completion notice frees it.
    #[test]
    fn a_request_queued_behind_an_abandoned_one_is_taken_once_the_board_is_free() {
        let relays_reading = BTreeMap::from([
            ("guard-effect".to_string(), "resets-hsm".to_string()),
            ("hsm-wait".to_string(), "may-expire".to_string()),
        ]);
        let spec = IrqOrder::new(Preset::Apr2016.patches(), &BTreeMap::new())
            .unwrap()
            .assuming(&relays_reading)
            .unwrap();
        let behind = [
            RelayRequests { request: 0 },
            RelayTimesOut,
            HsmRaisesInterrupt,
            RelayRequests { request: 1 },
        ];
        let s = run(&spec, &behind);
        assert_eq!((s.hsm, s.queued), (Hsm::AwaitCompletion(0), Some(1)));
        assert!(spec.describe_state(&s).contains("queued=r1"));
        // r1's own wait runs out first: its reset frees the board, which
        // still computes r1, late; r0's interrupt is serviced with no effect.
        let mut reset = behind.to_vec();
        reset.extend([
            RelayTimesOut,
            CpuServices {
                source: Source::Hsm,
            },
            HsmRaisesInterrupt,
            CpuServices {
                source: Source::Hsm,
            },
        ]);
        let s = run(&spec, &reset);
        assert_eq!((s.hsm, s.queued, s.relay_waiting), (Hsm::Idle, None, None));
        assert_eq!(s.observe().error_replied, 2);
        // Or r0's late completion notice frees it, and r1 completes.
        let mut notice = behind.to_vec();
        notice.extend([
            CpuServices {
                source: Source::Hsm,
            },
            HsmRaisesInterrupt,
            CpuServices {
                source: Source::Hsm,
            },
        ]);
        let s = run(&spec, &notice);
        assert_eq!(s.requests[1], RequestOutcome::Completed);
        // Under the default hsm-wait=in-time the relay never gives up on a
        // live HSM, so nothing can queue.
        let in_time = IrqOrder {
            wait_may_expire: false,
            ..spec.clone()
        };
        assert_eq!(
            in_time.next_state(&run(&spec, &behind[..1]), &RelayTimesOut),
            None
        );
    }

    #[test]
    fn a_guard_that_only_errors_leaves_the_hsm_stuck_for_the_next_request() {
        let mut patches = Preset::Jan2016.patches();
        patches.hsm_guard = HsmGuard::ErrorOnInterrupted;
        let spec = IrqOrder::new(patches, &BTreeMap::new()).unwrap();
        assert_eq!(spec.assumptions()["guard-effect"], "error-only");
        let mut actions = COLLISION.to_vec();
        actions.extend([RelayTimesOut, RelayRequests { request: 1 }]);
        let s = run(&spec, &actions);
        assert_eq!(s.requests[0], RequestOutcome::ErrorReplied);
        // The board still waits for request 0's completion notice: the
        // relay's wait for request 1 is in vain and ends in an error too.
        assert_eq!(s.hsm, Hsm::AwaitCompletion(0));
        assert!(s.relay_waits_in_vain());
        let s = spec.next_state(&s, &RelayTimesOut).unwrap();
        assert_eq!(s.observe().error_replied, 2);
        assert_eq!(s.observe().completed, 0);
    }

    /// Lost means: the HSM awaits its completion notice and no interrupt
    /// is pending to bring it; either alone is not lost.
    #[test]
    fn the_hsm_interrupt_is_lost_only_when_awaited_with_none_pending() {
        let spec = IrqOrder::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        assert!(
            !run(&spec, &[]).hsm_interrupt_lost(),
            "idle, nothing pending"
        );
        let raised = run(&spec, &COLLISION[..2]);
        assert_eq!(raised.hsm, Hsm::AwaitCompletion(0));
        assert!(!raised.hsm_interrupt_lost(), "awaited, and pending");
        assert!(run(&spec, &COLLISION).hsm_interrupt_lost());
    }

    /// Only a request the relay answered with an error is abandoned: the
    /// board busy with one the relay still waits for, or has completed,
    /// is not.
    #[test]
    fn the_board_is_busy_with_an_abandoned_request_only_after_an_error_reply() {
        let spec = IrqOrder::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        let mut s = run(&spec, &[]);
        assert!(!s.hsm_busy_with_abandoned(), "idle board");
        for (outcome, abandoned) in [
            (RequestOutcome::Pending, false),
            (RequestOutcome::Completed, false),
            (RequestOutcome::ErrorReplied, true),
        ] {
            s.requests[0] = outcome;
            for hsm in [Hsm::Processing(0), Hsm::AwaitCompletion(0)] {
                s.hsm = hsm;
                assert_eq!(
                    s.hsm_busy_with_abandoned(),
                    abandoned,
                    "{hsm:?} {outcome:?}"
                );
            }
        }
    }

    /// A replayed trace can name any request: one past the last is never
    /// enabled, even once every request is done and the relay is idle.
    #[test]
    fn a_request_past_the_last_is_never_enabled() {
        let spec = IrqOrder::new(Preset::Apr2016.patches(), &BTreeMap::new()).unwrap();
        let mut s = run(&spec, &[]);
        let last = u8::try_from(s.requests.len() - 1).unwrap();
        s.requests.fill(RequestOutcome::Completed);
        s.requests[usize::from(last)] = RequestOutcome::Pending;
        let issued = spec.next_state(&s, &RelayRequests { request: last });
        assert!(issued.is_some(), "the last request is enabled");
        s.requests[usize::from(last)] = RequestOutcome::Completed;
        let past = spec.next_state(&s, &RelayRequests { request: last + 1 });
        assert_eq!(past, None);
    }

    /// `explain` and the explorer say whether the relay's timeout resets
    /// the HSM: it does only under `guard-effect=resets-hsm`.
    #[test]
    fn the_timeout_says_whether_it_resets_the_hsm() {
        let keeps = IrqOrder::new(Preset::Mar2016.patches(), &BTreeMap::new()).unwrap();
        let text = keeps.describe_action(&RelayTimesOut);
        assert!(text.contains("the HSM is not reset"), "{text}");
        let resets = BTreeMap::from([("guard-effect".to_string(), "resets-hsm".to_string())]);
        let resets = keeps.assuming(&resets).unwrap();
        let text = resets.describe_action(&RelayTimesOut);
        assert!(text.ends_with("error reply, HSM reset"), "{text}");
    }
}
