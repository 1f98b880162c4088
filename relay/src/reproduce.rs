//! `chukei reproduce`: run the real relay on the deterministic driver under
//! seeded random schedules until a root cause of 2016 shows itself.
//!
//! * **timer-free**: a CS sends cards one after another; a schedule in which
//!   the timer fires just before the AP resets it leaves a timeout notice in
//!   the queue, and termination then frees a work area that is not allocated
//!   (the AP's abnormal termination).
//! * **irq-order**: the monitoring agent raises its interrupt often; a
//!   schedule in which it does so while the HSM's interrupt is still pending
//!   loses the HSM's, and the relay never answers again.

use crate::config::RelayConfig;
use crate::cs::{run_cs, CsConfig};
use crate::events::{Event, EventKind, EventLog, IrqSource};
use crate::relay::Relay;
use crate::sim::{Choice, Chooser, Driver, Outcome, RunReport, Sim};
use crate::telegram::{CardId, CsId};
use patches::Preset;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

/// A root cause of the 2016 incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    TimerFree,
    IrqOrder,
    /// The review's open question: a stale timeout notice retrieved after
    /// the next telegram allocated terminates that healthy telegram.
    StaleTimeout,
}

impl Cause {
    pub const ALL: [Cause; 3] = [Cause::TimerFree, Cause::IrqOrder, Cause::StaleTimeout];

    pub fn name(self) -> &'static str {
        match self {
            Cause::TimerFree => "timer-free",
            Cause::IrqOrder => "irq-order",
            Cause::StaleTimeout => "stale-timeout",
        }
    }

    /// What "reproduced" means, for reports.
    pub fn symptom(self) -> &'static str {
        match self {
            Cause::TimerFree => {
                "termination freed an unallocated work area (AP abnormal termination)"
            }
            Cause::IrqOrder => "the HSM's interrupt was lost and the relay stopped answering",
            Cause::StaleTimeout => "a stale timeout notice terminated the next, healthy telegram",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown cause name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cause `{0}` (expected one of: timer-free, irq-order, stale-timeout)")]
pub struct UnknownCause(pub String);

impl FromStr for Cause {
    type Err = UnknownCause;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cause::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCause(s.to_string()))
    }
}

impl Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Cause {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The relay and workload each cause is searched with.
pub fn scenario_config(cause: Cause, preset: Preset) -> RelayConfig {
    let base = RelayConfig::small(preset);
    match cause {
        // Production timings; the monitor's 2-hour period never comes.
        Cause::TimerFree | Cause::StaleTimeout => base,
        // The monitor raises far more often than every 2 hours: a collision
        // that took weeks in production becomes likely in a few schedules.
        Cause::IrqOrder => RelayConfig {
            monitor_period: 500,
            monitor_raises: Some(10),
            ..base
        },
    }
}

/// Cards the single CS of a scenario sends, one after another.
pub const CARDS: u64 = 3;

/// How likely the driver lets the clock jump at a scheduling point.
pub const CLOCK_JUMP: f64 = 0.03;

/// One schedule of one scenario.
#[derive(Clone, Debug)]
pub struct ScheduleRun {
    pub report: RunReport,
    pub events: Vec<Event>,
    pub reproduced: bool,
}

/// Runs one scenario body under `chooser`.
pub fn run_schedule(cause: Cause, preset: Preset, chooser: Chooser) -> ScheduleRun {
    let config = scenario_config(cause, preset);
    let log = EventLog::new();
    let body_log = log.clone();
    // A schedule may preempt a thread for as long as a telegram's timeout,
    // not longer: that is the race window of 2016, and it keeps timelines short.
    let max_jump = config.telegram_timeout;
    let (report, stuck) = Driver::new(chooser).max_clock_jump(max_jump).run(move || {
        let relay = Relay::<Sim>::start(config, body_log);
        let cards = (1..=CARDS).map(CardId).collect();
        let cs = CsConfig::new(CsId(1), cards, preset.patches().cs_rule);
        let outcome = run_cs(&relay.handle(), &cs);
        let answered_all = outcome.cards.values().all(|c| c.issued);
        let hsm_stuck = relay.shared().hsm.awaiting_completion();
        relay.shutdown();
        !answered_all && hsm_stuck
    });
    let events = log.snapshot();
    let reproduced = match cause {
        Cause::TimerFree => events
            .iter()
            .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. })),
        Cause::IrqOrder => {
            let lost = events.iter().any(hsm_interrupt_lost);
            lost && (stuck == Some(true) || matches!(report.outcome, Outcome::Deadlock { .. }))
        }
        Cause::StaleTimeout => first_spurious_termination(&events).is_some(),
    };
    ScheduleRun {
        report,
        events,
        reproduced,
    }
}

/// The result of a search for one cause on one preset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    pub cause: Cause,
    pub preset: Preset,
    pub reproduced: bool,
    pub schedules_tried: u64,
    pub millis: u64,
    /// The seed of the reproducing schedule (replay: `--seed` with budget 1).
    pub seed: Option<u64>,
    /// The driver's choices of that schedule (replays it exactly).
    pub choices: Vec<Choice>,
    /// The reproducing schedule's events, as a readable timeline.
    pub timeline: Vec<Event>,
    /// Schedules cut short for another reason (a panic, the step budget).
    pub anomalies: Vec<String>,
}

/// Tries `budget` seeded schedules, from `seed` on, until one reproduces.
pub fn search(cause: Cause, preset: Preset, seed: u64, budget: u64) -> Finding {
    search_with_progress(cause, preset, seed, budget, |_| {})
}

/// As [`search`], calling `progress` with the number of schedules tried.
pub fn search_with_progress(
    cause: Cause,
    preset: Preset,
    seed: u64,
    budget: u64,
    mut progress: impl FnMut(u64),
) -> Finding {
    let started = Instant::now();
    let mut finding = Finding {
        cause,
        preset,
        reproduced: false,
        schedules_tried: 0,
        millis: 0,
        seed: None,
        choices: vec![],
        timeline: vec![],
        anomalies: vec![],
    };
    for s in seed..seed.saturating_add(budget) {
        let chooser = Chooser::Seeded {
            seed: s,
            clock_jump: CLOCK_JUMP,
        };
        let run = run_schedule(cause, preset, chooser);
        finding.schedules_tried += 1;
        progress(finding.schedules_tried);
        if let Outcome::Panicked { .. } | Outcome::StepLimit { .. } = &run.report.outcome {
            finding
                .anomalies
                .push(format!("seed {s}: {:?}", run.report.outcome));
        }
        if run.reproduced {
            finding.reproduced = true;
            finding.seed = Some(s);
            finding.choices = run.report.choices;
            finding.timeline = up_to_symptom(cause, run.events);
            break;
        }
    }
    finding.millis = started.elapsed().as_millis() as u64;
    finding
}

/// The events of a reproducing run up to the moment the symptom is complete:
/// the AP's abnormal termination, or the first telegram given up (by the AP's
/// timer or the CS) after the HSM's interrupt was lost.
pub fn up_to_symptom(cause: Cause, mut events: Vec<Event>) -> Vec<Event> {
    let end = match cause {
        Cause::TimerFree => events
            .iter()
            .position(|e| matches!(e.kind, EventKind::ApAbnormalTermination { .. })),
        Cause::StaleTimeout => first_spurious_termination(&events),
        Cause::IrqOrder => {
            let lost = events.iter().position(hsm_interrupt_lost);
            lost.and_then(|at| {
                let gave_up = events[at..].iter().position(|e| {
                    matches!(
                        e.kind,
                        EventKind::CsTimeout | EventKind::Terminated | EventKind::HsmWaitTimedOut
                    )
                });
                gave_up.map(|t| at + t)
            })
        }
    };
    if let Some(end) = end {
        events.truncate(end + 1);
    }
    events
}

/// Root cause 1's first sign: the HSM's interrupt collapsed into another.
fn hsm_interrupt_lost(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::InterruptCollapsed {
            lost: IrqSource::Hsm,
            ..
        }
    )
}

/// The index of the first termination of a telegram by a timeout notice
/// that another telegram's timer posted. The AP cannot see who set the
/// notice; the event log can (`timeout-received` carries the setter).
pub fn first_spurious_termination(events: &[Event]) -> Option<usize> {
    events.iter().enumerate().find_map(|(i, e)| {
        let EventKind::TimeoutReceived { .. } = e.kind else {
            return None;
        };
        let (j, next) = events
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, n)| n.thread == e.thread)?;
        let spurious = matches!(next.kind, EventKind::Terminated) && next.telegram != e.telegram;
        spurious.then_some(j)
    })
}
