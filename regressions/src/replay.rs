//! One replay for every schedule kind, with a typed result.
//!
//! * spec actions: the model steps through them ([`model::replay_trace`]);
//! * driver choices: the real relay runs the cause's workload on the
//!   deterministic driver, every scheduling decision taken from the trace;
//! * shuttle schedules: the real relay runs the scenario the trace's sizes
//!   describe under shuttle's replay scheduler.
//!
//! Each judges the trace's property with that mechanism's relay-side check
//! (`scenarios`), never by matching an error text.

use loom_tests::explore::shuttle_replay;
use loom_tests::Shuttle;
use model::{Schedule, SpecName, Trace, Verdict};
use relay::events::Event;
use relay::sim::{Choice, Chooser};
use scenarios::registry::violation_message;
use scenarios::search::{run_schedule, up_to_symptom, Cause};
use scenarios::{irq_order, RelayCheck, Scenario};
use std::cell::Cell;
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
}

/// Runs `trace` on what it was recorded against.
pub fn replay(trace: &Trace) -> Result<Replayed, ReplayError> {
    match &trace.schedule {
        Schedule::Actions { .. } => {
            let outcome = model::replay_trace(trace)?;
            Ok(Replayed {
                verdict: outcome.verdict,
                timeline: outcome.states,
                events: vec![],
            })
        }
        Schedule::Driver { choices } => replay_driver(trace, choices),
        Schedule::Shuttle { schedule } => replay_shuttle(trace, schedule),
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
    let cards = *trace
        .sizes
        .get("cards")
        .ok_or(ReplayError::MissingSize("cards"))?;
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
    Ok(relay_run(run.reproduced, up_to_symptom(cause, run.events)))
}

/// What the shuttle body saw, shared with the replay.
#[derive(Default)]
struct Seen {
    violated: Option<RelayCheck>,
    finished: bool,
}

fn replay_shuttle(trace: &Trace, schedule: &str) -> Result<Replayed, ReplayError> {
    let spec: SpecName = trace.spec.parse()?;
    let scenario =
        Scenario::from_trace(spec, &trace.config(), &trace.sizes).map_err(ReplayError::Scenario)?;
    // A hang has no check of its own: the run never finishes.
    let hang = trace.property == irq_order::RELAY_NEVER_HANGS;
    let check = match RelayCheck::named(&trace.property) {
        Some(check) => Some(check),
        None if hang => None,
        None => return Err(ReplayError::NoRelayCheck(trace.property.clone())),
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let body_seen = seen.clone();
    let result = quietly(|| {
        shuttle_replay(schedule, move |w| {
            let run = scenario.run::<Shuttle>(&w.new_log());
            let violation = check.and_then(|c| run.first_violation(&[c]));
            {
                let mut seen = body_seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.finished = true;
                seen.violated = violation.as_ref().map(|(c, _)| *c);
            }
            // The schedule was recorded from a run that stopped here, as
            // the explorer's body does on a violation: stop the same way.
            if let Some((check, detail)) = violation {
                panic!("{}", violation_message(check, scenario.preset, &detail));
            }
        })
    });
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
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
    Ok(relay_run(violated, events))
}

fn relay_run(violated: bool, events: Vec<Event>) -> Replayed {
    Replayed {
        verdict: verdict(violated),
        timeline: events.iter().map(ToString::to_string).collect(),
        events,
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
