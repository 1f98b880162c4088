//! One replay for every schedule kind, with a typed result.
//!
//! * spec actions: the model steps through them ([`model::replay_trace`]);
//! * driver choices: the real relay runs the cause's workload on the
//!   deterministic driver, every scheduling decision taken from the trace;
//! * shuttle schedules: the real relay runs the scenario the trace's sizes
//!   describe under shuttle's replay scheduler;
//! * loom checkpoints: the same scenario under loom, which loads the stored
//!   execution path and runs the one iteration it starts.
//!
//! Each judges the trace's property with that mechanism's relay-side check
//! (`scenarios`), never by matching an error text, and notes how the
//! schedule fit the code ([`Fit`]). [`judge`] turns that into one of four
//! [`Outcome`]s: reproduced, fixed, stale (the schedule no longer fits the
//! code) or unreadable. Stale and unreadable are never read as "holds".

use loom_tests::explore::{
    loom_path_steps, loom_replay, parse_schedule, shuttle_replay, ShuttleFit, Witness,
};
use loom_tests::{Loom, Shuttle};
use model::{Schedule, SpecName, Trace, Verdict};
use patches::{Config, Preset};
use relay::events::Event;
use relay::sim::{Choice, Chooser, RunOutcome};
use scenarios::registry::violation_message;
use scenarios::search::{run_schedule, up_to_symptom, Cause};
use scenarios::{irq_order, RelayCheck, Scenario};
use serde::Serialize;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Once};

/// What a replay showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Whether the trace's property was violated on this run.
    pub verdict: Verdict,
    /// The run as a timeline: spec states, or relay events.
    pub timeline: Vec<String>,
    /// The relay's events (none for spec actions).
    pub events: Vec<Event>,
    /// How the schedule fit the code it ran on.
    pub fit: Fit,
}

/// How a schedule fit the code (or spec) it was replayed on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fit {
    /// Steps in the schedule: spec actions, driver choices, shuttle steps.
    pub steps: usize,
    /// Steps the run took (a diverging one included).
    pub used: usize,
    /// The run went on past the schedule's end, on the default policy
    /// (driver, shuttle), or the actions stop before the spec's run ends.
    pub extended: bool,
    /// The first step the code did not offer.
    pub diverged: Option<String>,
}

impl Fit {
    fn whole(steps: usize, complete: bool) -> Fit {
        Fit {
            steps,
            used: steps,
            extended: !complete,
            diverged: None,
        }
    }

    fn of_driver(fit: relay::sim::Fit, outcome: &RunOutcome) -> Fit {
        let diverged = match outcome {
            RunOutcome::ReplayDiverged { step, wanted } => Some(format!(
                "scheduling point {step} runs {wanted}, which is not among the options there"
            )),
            _ => None,
        };
        Fit {
            steps: fit.recorded,
            used: fit.used,
            extended: fit.defaulted > 0,
            diverged,
        }
    }

    fn of_shuttle(fit: ShuttleFit) -> Fit {
        Fit {
            steps: fit.recorded,
            used: fit.used,
            extended: fit.defaulted > 0,
            diverged: fit.diverged,
        }
    }

    /// Why the schedule does not describe this run, if it does not: a step
    /// the code did not offer, or a run that ended before the schedule.
    pub fn misfit(&self) -> Option<String> {
        if let Some(d) = &self.diverged {
            return Some(d.clone());
        }
        (self.used < self.steps).then(|| {
            format!(
                "the run ended after {} of the schedule's {} steps",
                self.used, self.steps
            )
        })
    }
}

/// What replaying a trace showed, in four outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    /// The property is violated on this run: the bug is there.
    Reproduced,
    /// The schedule fits and the property holds through it: the bug is not.
    Fixed,
    /// The schedule no longer fits the code: a step names a thread that is
    /// not runnable (an action that is not enabled), the run ends before the
    /// schedule does, or a "holds" trace stops before its run ends. Says
    /// nothing about the bug.
    Stale(String),
    /// The file could not be read or describes nothing that can run.
    Unreadable(String),
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Reproduced => "reproduced",
            Outcome::Fixed => "fixed",
            Outcome::Stale(_) => "stale",
            Outcome::Unreadable(_) => "unreadable",
        }
    }

    /// The outcome a verdict is expected to show.
    pub fn expected_for(verdict: Verdict) -> Outcome {
        match verdict {
            Verdict::Violated => Outcome::Reproduced,
            // Traces never record `inconclusive` (`Trace::from_json`
            // rejects it).
            Verdict::Holds | Verdict::Inconclusive => Outcome::Fixed,
        }
    }

    /// Why the outcome says nothing about the bug, if it does not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Stale(r) | Outcome::Unreadable(r) => Some(r),
            _ => None,
        }
    }
}

/// A trace judged on a preset: what was expected there, what happened.
#[derive(Debug, Clone)]
pub struct Judged {
    pub preset: Preset,
    /// The recorded verdict on the trace's own preset; elsewhere the one the
    /// expectations table (`scenarios::expected_verdict`) gives.
    pub expected: Verdict,
    pub outcome: Outcome,
    /// The run, when there was one.
    pub replayed: Option<Replayed>,
}

impl Judged {
    /// Whether the outcome is the expected verdict's.
    pub fn as_expected(&self) -> bool {
        self.outcome == Outcome::expected_for(self.expected)
    }
}

/// The trace with its configuration replaced (a preset, or any switch
/// set): a bug's schedule on a fix.
pub fn replay_on(trace: &Trace, config: impl Into<Config>) -> Result<Replayed, ReplayError> {
    let mut moved = trace.clone();
    moved.set_config(&config.into());
    // The recorded timeline is the bug's run, not this one's.
    moved.timeline.clear();
    replay(&moved)
}

/// Replays `trace` on `preset` (its own when `None`) and judges the outcome.
pub fn judge(trace: &Trace, preset: Option<Preset>) -> Judged {
    judge_on(trace, preset.map(Config::preset).as_ref())
}

/// Replays `trace` on `config` (its own when `None`) and judges the
/// outcome: elsewhere the expected verdict is the one recorded for that
/// switch set at default sizes, where there is one, else the trace's.
pub fn judge_on(trace: &Trace, config: Option<&Config>) -> Judged {
    let Some(config) = config else {
        return judged(trace, trace.preset, trace.verdict, replay(trace));
    };
    let expected = trace
        .spec
        .parse::<SpecName>()
        .ok()
        .and_then(|spec| {
            scenarios::expect::expected_at_defaults(spec, &config.patches, &trace.property)
        })
        .unwrap_or(trace.verdict);
    judged(
        trace,
        config.base,
        expected,
        replay_on(trace, config.clone()),
    )
}

fn judged(
    trace: &Trace,
    preset: Preset,
    expected: Verdict,
    replayed: Result<Replayed, ReplayError>,
) -> Judged {
    let (outcome, replayed) = match replayed {
        Ok(r) => (outcome_of(trace, &r), Some(r)),
        Err(e) if e.is_stale() => (Outcome::Stale(e.to_string()), None),
        Err(e) => (Outcome::Unreadable(e.to_string()), None),
    };
    Judged {
        preset,
        expected,
        outcome,
        replayed,
    }
}

/// The outcome of a run of `trace`'s schedule.
///
/// A violated trace's schedule leads to the violation; past its end the
/// default policy runs (so a bug's schedule can show that a fix, which runs
/// longer, holds). A "holds" trace claims a whole run: it is stale when the
/// run needs steps it does not have (an empty or too short schedule).
pub fn outcome_of(trace: &Trace, replayed: &Replayed) -> Outcome {
    if let Some(misfit) = replayed.fit.misfit() {
        return Outcome::Stale(misfit);
    }
    match replayed.verdict {
        Verdict::Violated => Outcome::Reproduced,
        Verdict::Holds if trace.verdict == Verdict::Holds && replayed.fit.extended => {
            Outcome::Stale(format!(
                "the trace claims `holds` but its {} steps stop before the run ends",
                replayed.fit.steps
            ))
        }
        Verdict::Holds | Verdict::Inconclusive => Outcome::Fixed,
    }
}

/// Why a trace could not be replayed (not a verdict).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Model(#[from] model::replay::ReplayError),
    #[error(transparent)]
    UnknownSpec(#[from] model::UnknownSpec),
    /// A driver trace names a (spec, property) no cause stands for.
    #[error("no cause of the real relay is `{property}` of {spec} (driver traces: {known})")]
    NoCause {
        spec: String,
        property: String,
        known: String,
    },
    #[error("the trace's sizes lack `{0}`")]
    MissingSize(&'static str),
    #[error("{0}")]
    BadSize(String),
    #[error("driver choice {index} is {value}: a choice is a thread number or \"clock\"")]
    BadChoice { index: usize, value: String },
    /// The trace describes no scenario the relay can run.
    #[error("{0}")]
    Scenario(String),
    /// The relay has no check for the trace's property.
    #[error("no relay-side check for property `{0}`")]
    NoRelayCheck(String),
    /// The run failed in a way that is not the trace's property.
    #[error("the replay failed otherwise: {0}")]
    OtherFailure(String),
    #[error("the shuttle schedule does not decode: {0}")]
    BadShuttleSchedule(String),
    #[error("the loom path does not load: {0}")]
    BadLoomPath(String),
}

impl ReplayError {
    /// Whether the trace is well-formed but its schedule does not fit what
    /// it runs on (stale), rather than unreadable.
    pub fn is_stale(&self) -> bool {
        use model::replay::ReplayError as M;
        matches!(
            self,
            ReplayError::OtherFailure(_)
                | ReplayError::Model(M::NotEnabled { .. } | M::CycleNotClosed(_))
        )
    }
}

/// Runs `trace` on what it was recorded against.
pub fn replay(trace: &Trace) -> Result<Replayed, ReplayError> {
    match &trace.schedule {
        Schedule::Actions { .. } => {
            let outcome = model::replay_trace(trace)?;
            let steps = outcome.states.len() - 1;
            Ok(Replayed {
                verdict: outcome.verdict,
                timeline: outcome.states,
                events: vec![],
                fit: Fit::whole(steps, outcome.complete),
            })
        }
        Schedule::Driver { choices } => replay_driver(trace, choices),
        Schedule::Shuttle { schedule } => replay_shuttle(trace, schedule),
        Schedule::Loom { path } => replay_loom(trace, path),
    }
}

fn verdict(violated: bool) -> Verdict {
    if violated {
        Verdict::Violated
    } else {
        Verdict::Holds
    }
}

fn replay_driver(trace: &Trace, choices: &[serde_json::Value]) -> Result<Replayed, ReplayError> {
    let spec: SpecName = trace.spec.parse()?;
    let cause = Cause::of(spec, &trace.property).ok_or_else(|| ReplayError::NoCause {
        spec: trace.spec.clone(),
        property: trace.property.clone(),
        known: Cause::ALL
            .map(|c| format!("{} {}", c.spec(), c.property()))
            .join(", "),
    })?;
    let cards = driver_cards(&trace.sizes)?;
    let choices = choices
        .iter()
        .enumerate()
        .map(|(index, c)| {
            serde_json::from_value::<Choice>(c.clone()).map_err(|_| ReplayError::BadChoice {
                index,
                value: c.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let run = run_schedule(
        cause,
        trace.config().patches,
        cards,
        Chooser::Replay(choices),
    );
    let fit = Fit::of_driver(run.report.fit, &run.report.outcome);
    let cut_short = match &run.report.outcome {
        RunOutcome::Panicked { thread, message } => Some(format!("{thread} panicked: {message}")),
        RunOutcome::StepLimit { steps } => Some(format!("no end after {steps} scheduling points")),
        _ => None,
    };
    if let (Some(why), false) = (cut_short, run.reproduced) {
        return Err(ReplayError::OtherFailure(why));
    }
    Ok(relay_run(
        run.reproduced,
        up_to_symptom(cause, run.events),
        fit,
    ))
}

/// The most cards a driver trace may send: the corpus's traces send 3, and a
/// schedule of more would not fit the driver's step limit anyway. Past it a
/// fuzzed size allocated the cards before the first step (34 GB for
/// `cards: 4294967295`).
pub const MAX_DRIVER_CARDS: u64 = 64;

/// A driver trace's one size, `cards` (1..=[`MAX_DRIVER_CARDS`]); any other
/// size is refused, since the run would not use it.
pub(crate) fn driver_cards(sizes: &BTreeMap<String, u64>) -> Result<u64, ReplayError> {
    if let Some(other) = sizes.keys().find(|k| *k != "cards") {
        return Err(ReplayError::BadSize(format!(
            "driver traces have one size, `cards`; `{other}` is not used by the run"
        )));
    }
    let cards = *sizes
        .get("cards")
        .ok_or(ReplayError::MissingSize("cards"))?;
    if !(1..=MAX_DRIVER_CARDS).contains(&cards) {
        return Err(ReplayError::BadSize(format!(
            "`cards` is {cards}: a driver trace sends 1 to {MAX_DRIVER_CARDS} cards"
        )));
    }
    Ok(cards)
}

/// What the shuttle body saw, shared with the replay.
#[derive(Default)]
struct Seen {
    violated: Option<RelayCheck>,
    finished: bool,
}

/// The body a shuttle or loom replay runs: the scenario on platform `P`,
/// recording in `seen` whether it finished and which check it violated.
/// The schedule was recorded from a run that stopped at the violation, as
/// the explorers' bodies do: stop the same way.
fn replay_body<P: relay::platform::Platform>(
    scenario: Scenario,
    check: Option<RelayCheck>,
    seen: Arc<Mutex<Seen>>,
) -> impl Fn(&Witness) + Send + Sync + 'static {
    move |w| {
        let run = scenario.run::<P>(&w.new_log());
        let violation = check.and_then(|c| run.first_violation(&[c]));
        {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.finished = true;
            seen.violated = violation.as_ref().map(|(c, _)| *c);
        }
        if let Some((check, detail)) = violation {
            panic!("{}", violation_message(check, scenario.preset, &detail));
        }
    }
}

/// The scenario a real-code trace runs and the relay check its property
/// names; `hang` for the irq-order hang, which has no check of its own (the
/// run never finishes).
fn scenario_and_check(trace: &Trace) -> Result<(Scenario, Option<RelayCheck>, bool), ReplayError> {
    let spec: SpecName = trace.spec.parse()?;
    let scenario =
        Scenario::from_trace(spec, &trace.config(), &trace.sizes).map_err(ReplayError::Scenario)?;
    let hang = trace.property == irq_order::RELAY_NEVER_HANGS;
    let check = match RelayCheck::named(&trace.property) {
        Some(check) => Some(check),
        None if hang => None,
        None => return Err(ReplayError::NoRelayCheck(trace.property.clone())),
    };
    Ok((scenario, check, hang))
}

fn replay_shuttle(trace: &Trace, schedule: &str) -> Result<Replayed, ReplayError> {
    let (scenario, check, hang) = scenario_and_check(trace)?;
    let schedule = parse_schedule(schedule).map_err(ReplayError::BadShuttleSchedule)?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let body_seen = seen.clone();
    let (result, fit) = quietly(|| {
        shuttle_replay(
            &schedule,
            replay_body::<Shuttle>(scenario, check, body_seen),
        )
    });
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let fit = Fit::of_shuttle(fit);
    let (events, violated) = match result {
        Ok(events) => (events, false),
        Err(found) if seen.violated.is_some() => (found.events, true),
        Err(found) => {
            let hung = irq_order::relay_never_hangs(&found.events, !seen.finished).is_err();
            if !(hang && hung) {
                return Err(ReplayError::OtherFailure(first_line(&found.message)));
            }
            (found.events, true)
        }
    };
    Ok(relay_run(violated, events, fit))
}

/// A loom checkpoint on the scenario the trace's sizes describe. Loom's
/// path has no end of its own (past it loom takes its first choices), so
/// the fit is the path's branch points, all taken unless the path runs a
/// thread that cannot run there (`loom_tests::loom_fit`: a wait with no
/// notification, a lock another thread holds, a join of a running
/// thread), which is stale, as is a branch of another kind (loom panics:
/// "Reached unexpected exploration state").
fn replay_loom(trace: &Trace, path: &serde_json::Value) -> Result<Replayed, ReplayError> {
    let (scenario, check, hang) = scenario_and_check(trace)?;
    let steps = loom_path_steps(path).map_err(ReplayError::BadLoomPath)?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let body_seen = seen.clone();
    let replayed = quietly(|| loom_replay(path, replay_body::<Loom>(scenario, check, body_seen)))
        .map_err(ReplayError::BadLoomPath)?;
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut fit = Fit::whole(steps, true);
    fit.diverged = replayed.misfit;
    let (events, violated) = match replayed.run {
        Ok(events) => (events, false),
        Err(found) if seen.violated.is_some() => (found.events, true),
        // What the path ran instead explains the failure.
        Err(_) if fit.diverged.is_some() => return Ok(relay_run(false, vec![], fit)),
        Err(found) => {
            // Loom reports a hang as a deadlock of every thread.
            let deadlock = found.message.contains("deadlock");
            let hung = irq_order::relay_never_hangs(&found.events, !seen.finished).is_err();
            if !(hang && deadlock && hung) {
                return Err(ReplayError::OtherFailure(first_line(&found.message)));
            }
            (found.events, true)
        }
    };
    if fit.diverged.is_none() {
        same_run_as_recorded(trace, &events)?;
    }
    Ok(relay_run(violated, events, fit))
}

/// A second check of the fit, on the trace's own configuration: the run
/// must show the recorded timeline (elsewhere, on a fix, the timeline is
/// cleared and differs by design).
fn same_run_as_recorded(trace: &Trace, events: &[Event]) -> Result<(), ReplayError> {
    if trace.timeline.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = events.iter().map(ToString::to_string).collect();
    let differs =
        (0..shown.len().max(trace.timeline.len())).find(|&i| shown.get(i) != trace.timeline.get(i));
    match differs {
        None => Ok(()),
        Some(i) => Err(ReplayError::OtherFailure(format!(
            "the loom path no longer gives the recorded run: event {i} differs"
        ))),
    }
}

fn relay_run(violated: bool, events: Vec<Event>, fit: Fit) -> Replayed {
    Replayed {
        verdict: verdict(violated),
        timeline: events.iter().map(ToString::to_string).collect(),
        events,
        fit,
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with panic messages of this thread silenced: a replay that ends
/// in an expected panic (shuttle reporting a deadlock) reports a verdict, not
/// a backtrace. The hook is wrapped once and passes every other thread's
/// panics on unchanged.
fn quietly<R>(f: impl FnOnce() -> R) -> R {
    static WRAP: Once = Once::new();
    WRAP.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = f();
    QUIET.with(|q| q.set(false));
    result
}
