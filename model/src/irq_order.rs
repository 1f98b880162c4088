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
//!   enabled only once the HSM's interrupt is lost; the relay then
//!   error-replies and resets the HSM.
//! * Size `reraise` = 1 is a variant HSM firmware that raises its interrupt
//!   again while it still waits for a completion notice; the monitor can then
//!   steal the acknowledgement over and over (a cycle, not a terminal state).

use crate::sizes::{resolve, SizeError, SizeParam};
use crate::spec::{Fairness, Property, Spec};
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
        })
    }

    /// The sizes this spec was built with (for traces).
    pub fn sizes(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("requests".to_string(), u64::from(self.requests)),
            ("reraise".to_string(), u64::from(self.reraise)),
        ])
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
                    return None;
                };
                s.hsm = Hsm::Idle; // the completion notice
                s.requests[usize::from(r)] = RequestOutcome::Completed;
                s.relay_waiting = None;
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
                let idle = s.relay_waiting.is_none() && s.hsm == Hsm::Idle;
                if !idle || usize::from(request) != s.issued() || request >= self.requests {
                    return None;
                }
                next.relay_waiting = Some(request);
                next.hsm = Hsm::Processing(request);
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
                if self.monitor == Monitor::Off || s.monitor_irq_pending {
                    return None;
                }
                next.monitor_irq_pending = true;
            }
            IrqOrderAction::CpuServices { source } => self.service(&mut next, source)?,
            IrqOrderAction::RelayTimesOut => {
                let bounded = self.hsm_guard == HsmGuard::ErrorOnInterrupted;
                let r = s.relay_waiting?;
                if !bounded || !s.hsm_interrupt_lost() {
                    return None;
                }
                next.requests[usize::from(r)] = RequestOutcome::ErrorReplied;
                next.relay_waiting = None;
                next.hsm = Hsm::Idle; // reset
            }
        }
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
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
                !(s.relay_waiting.is_some() && s.hsm_interrupt_lost() && !can_wake)
            }),
            Property::<Self>::sometimes("all_requests_completed", |_, s| {
                s.requests.iter().all(|o| *o == RequestOutcome::Completed)
            }),
        ]
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
            IrqOrderAction::RelayTimesOut => {
                "relay's bounded wait ends: error reply, HSM reset".into()
            }
        }
    }

    fn describe_state(&self, s: &IrqOrderState) -> String {
        format!(
            "relay waiting={:?} hsm={:?} pending[hsm={} monitor={}] requests={:?}",
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
        let spec = IrqOrder::new(patches, &BTreeMap::new()).unwrap();
        let mut actions = COLLISION.to_vec();
        actions.push(RelayTimesOut);
        let s = run(&spec, &actions);
        assert_eq!(s.requests[0], RequestOutcome::ErrorReplied);
        assert_eq!((s.relay_waiting, s.hsm), (None, Hsm::Idle));
        assert_eq!(s.observe().error_replied, 1);
        let healthy = run(&spec, &COLLISION[..2]);
        assert_eq!(spec.next_state(&healthy, &RelayTimesOut), None);
    }
}
