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

use crate::expect::expected_at_defaults;
use crate::workload::Workload;
use crate::{irq_order, timer_free};
use model::{Origin, Schedule, SpecName, Trace, Verdict};
use patches::{Config, Patches, Preset, Variant};
use relay::config::RelayConfig;
use relay::cs::CsConfig;
use relay::events::{Event, EventLog};
use relay::relay::Role;
use relay::sim::{Choice, Chooser, Driver, RunOutcome, RunReport, Sim};
use relay::telegram::{CardId, CsId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

/// A root cause of the 2016 incident: a property of one spec, reproduced on
/// the real relay.
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

    /// The spec whose property the cause violates.
    pub fn spec(self) -> SpecName {
        match self {
            Cause::TimerFree | Cause::StaleTimeout => SpecName::TimerFree,
            Cause::IrqOrder => SpecName::IrqOrder,
        }
    }

    /// The spec property the cause violates.
    pub fn property(self) -> &'static str {
        match self {
            Cause::TimerFree => "no_free_of_unallocated",
            Cause::StaleTimeout => "no_spurious_termination",
            Cause::IrqOrder => "relay_never_hangs",
        }
    }

    /// The cause that is this (spec, property) pair, if any.
    pub fn of(spec: SpecName, property: &str) -> Option<Cause> {
        Cause::ALL
            .into_iter()
            .find(|c| c.spec() == spec && c.property() == property)
    }

    /// Whether the cause must reproduce on switch set `patches`: exactly
    /// where the spec's property is expected violated at default sizes.
    /// `None` where no verdict is recorded for that switch set.
    pub fn expected_on(self, patches: impl Into<Patches>) -> Option<bool> {
        expected_at_defaults(self.spec(), &patches.into(), self.property())
            .map(|v| v == Verdict::Violated)
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

/// The relay each cause is searched with (its mechanism's `search_config`).
pub fn scenario_config(cause: Cause, patches: impl Into<Patches>) -> RelayConfig {
    match cause.spec() {
        SpecName::IrqOrder => irq_order::search_config(patches),
        _ => timer_free::search_config(patches),
    }
}

/// The whole relay (every thread, production timings) and one CS with its
/// production search timeout, sending `cards` cards one after another.
pub fn search_workload(cause: Cause, patches: impl Into<Patches>, cards: u64) -> Workload {
    let config = scenario_config(cause, patches);
    let cards = (1..=cards).map(CardId).collect();
    let rule = config.patches.cs_rule;
    Workload {
        roles: Role::all_for(&config),
        config,
        terminals: vec![CsConfig::new(CsId(1), cards, rule)],
        first_terminal_inline: true,
    }
}

/// Cards the single CS of a scenario sends, one after another, by default.
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

/// Runs one scenario body, the CS sending `cards` cards, under `chooser`.
pub fn run_schedule(
    cause: Cause,
    patches: impl Into<Patches>,
    cards: u64,
    chooser: Chooser,
) -> ScheduleRun {
    run_schedule_logged(cause, patches, cards, chooser, EventLog::new())
}

/// As [`run_schedule`], the relay recording into `log` (which the chooser
/// may watch while the run goes on).
pub fn run_schedule_logged(
    cause: Cause,
    patches: impl Into<Patches>,
    cards: u64,
    chooser: Chooser,
    log: EventLog,
) -> ScheduleRun {
    let workload = search_workload(cause, patches, cards);
    // A schedule may preempt a thread for as long as a telegram's timeout,
    // not longer: that is the race window of 2016, and it keeps timelines short.
    let max_jump = workload.config.telegram_timeout;
    let body_log = log.clone();
    let (report, stuck) = Driver::new(chooser).max_clock_jump(max_jump).run(move || {
        let (_, stuck) = workload.run_inspecting::<Sim, _>(&body_log, |relay, terminals| {
            let answered_all = terminals[0].cards.values().all(|c| c.issued);
            // Asked either way: the question is a scheduling point.
            let hsm_stuck = relay.shared().hsm.awaiting_completion();
            !answered_all && hsm_stuck
        });
        stuck
    });
    let events = log.snapshot();
    let hung = stuck == Some(true) || matches!(report.outcome, RunOutcome::Deadlock { .. });
    let reproduced = match cause {
        Cause::TimerFree => timer_free::no_free_of_unallocated(&events).is_err(),
        Cause::StaleTimeout => timer_free::no_spurious_termination(&events).is_err(),
        Cause::IrqOrder => irq_order::relay_never_hangs(&events, hung).is_err(),
    };
    ScheduleRun {
        report,
        events,
        reproduced,
    }
}

/// The result of a search for one cause on one configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    pub cause: Cause,
    /// The configuration's base preset ...
    pub preset: Preset,
    /// ... and its full switch set ...
    pub patches: Patches,
    /// ... and the variant file it came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    pub reproduced: bool,
    /// Cards the CS sent in every schedule.
    #[serde(default = "default_cards")]
    pub cards: u64,
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
    /// With `--conformance`: the first schedule whose event log the spec
    /// does not allow, at its first divergent event (`choices` and
    /// `timeline` are that schedule's, up to the event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<Diverged>,
}

fn default_cards() -> u64 {
    CARDS
}

/// Where a schedule's event log left the spec (`chukei validate`'s
/// divergence, kept with the finding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diverged {
    /// Index of the event in the schedule's log.
    pub index: usize,
    /// The event as a timeline line.
    pub event: String,
    /// Why the spec does not allow it.
    pub reason: String,
    /// The spec's state at that point.
    pub spec_state: String,
}

impl Finding {
    /// Nothing found yet for `cause` on `config`: where every search starts.
    pub fn not_yet(cause: Cause, config: Config) -> Finding {
        Finding {
            cause,
            preset: config.base,
            patches: config.patches,
            variant: config.variant,
            reproduced: false,
            cards: CARDS,
            schedules_tried: 0,
            millis: 0,
            seed: None,
            choices: vec![],
            timeline: vec![],
            anomalies: vec![],
            divergence: None,
        }
    }

    /// The configuration searched.
    pub fn config(&self) -> Config {
        Config {
            base: self.preset,
            patches: self.patches,
            variant: self.variant.clone(),
        }
    }

    /// Whether the cause must reproduce on this configuration (`None`: no
    /// verdict recorded for it).
    pub fn expected(&self) -> Option<bool> {
        self.cause.expected_on(self.patches)
    }

    /// The reproducing schedule as a trace: the spec and property of the
    /// cause, the cards the CS sent, the driver's choices.
    pub fn to_trace(&self) -> Trace {
        Trace {
            format: model::trace::FORMAT,
            spec: self.cause.spec().name().to_string(),
            preset: self.preset,
            patches: Some(self.patches),
            variant: self.variant.clone(),
            sizes: BTreeMap::from([("cards".to_string(), self.cards)]),
            assumptions: BTreeMap::new(),
            property: self.cause.property().to_string(),
            verdict: if self.reproduced {
                Verdict::Violated
            } else {
                Verdict::Holds
            },
            schedule: Schedule::Driver {
                choices: self
                    .choices
                    .iter()
                    .map(|c| serde_json::to_value(c).expect("choices serialize"))
                    .collect(),
            },
            origin: Origin {
                checker: "reproduce".to_string(),
                seed: self.seed,
                note: Some(self.cause.symptom().to_string()),
            },
            timeline: self.timeline.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The seeds `budget` schedules from `seed` on use: `seed + i`, never past
/// `u64::MAX` (`None` when the budget does not fit, so nothing is silently
/// cut short).
pub fn seeds(seed: u64, budget: u64) -> Option<std::ops::RangeInclusive<u64>> {
    let last = seed.checked_add(budget.checked_sub(1)?)?;
    Some(seed..=last)
}

/// Tries `budget` seeded schedules, from `seed` on, until one reproduces
/// (as many as fit below `u64::MAX`: check with [`seeds`] first).
pub fn search(cause: Cause, config: impl Into<Config>, seed: u64, budget: u64) -> Finding {
    search_with_progress(cause, config, seed, budget, |_| {})
}

/// As [`search`], calling `progress` with the number of schedules tried.
pub fn search_with_progress(
    cause: Cause,
    config: impl Into<Config>,
    seed: u64,
    budget: u64,
    progress: impl FnMut(u64),
) -> Finding {
    search_seeded(cause, config, seed, budget, None, progress)
}

/// What `--conformance` checks each schedule's event log against: the
/// cause's spec on `config` (the searched configuration), read under the
/// relay's assumptions with `assume` overrides
/// ([`crate::registry::relay_reading`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conformance {
    pub config: Config,
    pub assume: BTreeMap<String, String>,
}

impl From<Config> for Conformance {
    fn from(config: Config) -> Self {
        Conformance {
            config,
            assume: BTreeMap::new(),
        }
    }
}

impl From<Preset> for Conformance {
    fn from(preset: Preset) -> Self {
        Config::from(preset).into()
    }
}

/// As [`search_with_progress`]; with `conformance`, every schedule's event
/// log is also checked against the cause's spec on that configuration, and
/// the first divergence ends the search like a reproduction.
pub fn search_seeded(
    cause: Cause,
    config: impl Into<Config>,
    seed: u64,
    budget: u64,
    conformance: Option<&Conformance>,
    mut progress: impl FnMut(u64),
) -> Finding {
    let config = config.into();
    let started = Instant::now();
    let mut finding = Finding::not_yet(cause, config);
    let fitting = (0..budget).map_while(|i| seed.checked_add(i));
    for s in fitting {
        let chooser = Chooser::Seeded {
            seed: s,
            clock_jump: CLOCK_JUMP,
        };
        let run = run_schedule(cause, finding.patches, CARDS, chooser);
        finding.schedules_tried += 1;
        progress(finding.schedules_tried);
        if let RunOutcome::Panicked { .. } | RunOutcome::StepLimit { .. } = &run.report.outcome {
            finding
                .anomalies
                .push(format!("seed {s}: {:?}", run.report.outcome));
        }
        if finding.record(cause, run, conformance, || format!("seed {s}")) {
            finding.seed = Some(s);
            break;
        }
    }
    finding.millis = started.elapsed().as_millis() as u64;
    finding
}

impl Finding {
    /// Judges one schedule: keeps it and answers true when it reproduces
    /// the cause or (with `conformance`) leaves the spec; a log the spec
    /// cannot judge is an anomaly named by `which`.
    pub(crate) fn record(
        &mut self,
        cause: Cause,
        run: ScheduleRun,
        conformance: Option<&Conformance>,
        which: impl Fn() -> String,
    ) -> bool {
        if run.reproduced {
            self.reproduced = true;
            self.choices = run.report.choices;
            self.timeline = up_to_symptom(cause, run.events);
            return true;
        }
        let Some(against) = conformance else {
            return false;
        };
        match diverges(cause, against, &run.events) {
            Ok(None) => false,
            Ok(Some(d)) => {
                let mut events = run.events;
                events.truncate(d.index + 1);
                self.choices = run.report.choices;
                self.timeline = events;
                self.divergence = Some(d);
                true
            }
            Err(e) => {
                self.anomalies
                    .push(format!("{}: not validated: {e}", which()));
                false
            }
        }
    }
}

/// The first event of `events` that the cause's spec does not allow as
/// `against` reads it (`chukei validate`); `Err` when the log cannot be
/// validated.
pub fn diverges(
    cause: Cause,
    against: &Conformance,
    events: &[Event],
) -> Result<Option<Diverged>, crate::refine::ValidateError> {
    let spec = cause.spec().name();
    let config = against.config.clone();
    let report = crate::registry::validate_assuming(events, spec, config, &against.assume)?;
    Ok(report.divergence.map(|d| Diverged {
        index: d.index,
        event: d.event,
        reason: d.reason,
        spec_state: d.spec_state,
    }))
}

/// The events of a reproducing run up to the moment the symptom is complete:
/// the AP's abnormal termination, the spurious termination, or the first
/// telegram given up after the HSM's interrupt was lost.
pub fn up_to_symptom(cause: Cause, mut events: Vec<Event>) -> Vec<Event> {
    let end = match cause {
        Cause::TimerFree => timer_free::abnormal_termination_at(&events),
        Cause::StaleTimeout => timer_free::spurious_terminations(&events)
            .first()
            .map(|s| s.at),
        Cause::IrqOrder => irq_order::hang_shown_at(&events),
    };
    if let Some(end) = end {
        events.truncate(end + 1);
    }
    events
}

#[cfg(test)]
mod seed_tests {
    use super::*;

    #[test]
    fn seeds_never_run_past_u64_max() {
        assert_eq!(seeds(0, 300), Some(0..=299));
        assert_eq!(seeds(u64::MAX, 1), Some(u64::MAX..=u64::MAX));
        assert_eq!(seeds(u64::MAX - 2, 3), Some(u64::MAX - 2..=u64::MAX));
        assert_eq!(seeds(u64::MAX - 2, 4), None);
        assert_eq!(seeds(u64::MAX, 300), None);
        assert_eq!(seeds(7, 0), None);
        // The search tries the seed u64::MAX instead of nothing.
        let finding = search(Cause::TimerFree, Preset::Proposed, u64::MAX, 5);
        assert_eq!(finding.schedules_tried, 1);
    }
}
