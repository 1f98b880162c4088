//! A shuttle or loom failure as a regression trace (the common [`Trace`]
//! format): the spec, the preset, the scenario sizes ([`Scenario::sizes`]),
//! the violated property and the schedule (shuttle's schedule string, or
//! loom's checkpoint of the failing iteration). `regressions` stores and
//! replays it.

use crate::explore::{Found, Search};
use model::{Origin, Schedule, Trace, Verdict};
use scenarios::Scenario;

/// The trace of a shuttle failure.
pub fn trace_of(found: &Found, scenario: &Scenario, property: &str, search: Search) -> Trace {
    let schedule = found
        .schedule
        .as_ref()
        .expect("a shuttle failure carries its schedule");
    let origin = Origin {
        checker: search.checker().to_string(),
        seed: Some(search.seed()),
        note: Some(format!(
            "loom-tests shuttle_suites: failed in schedule {} of {}; {} schedule steps; fault: {}",
            found.explored.iterations,
            found.explored.bound,
            schedule.steps,
            first_line(found)
        )),
    };
    let encoded = schedule.encoded.clone();
    failure_trace(
        found,
        scenario,
        property,
        Schedule::Shuttle { schedule: encoded },
        origin,
    )
}

/// The trace of a loom failure: `path` is loom's checkpoint of the failing
/// iteration ([`crate::explore::loom_expect_failure_traced`]).
pub fn loom_trace_of(
    found: &Found,
    path: serde_json::Value,
    scenario: &Scenario,
    property: &str,
) -> Trace {
    let origin = Origin {
        checker: "loom".to_string(),
        seed: None,
        note: Some(format!(
            "loom-tests: failed in iteration {} of {}; fault: {}",
            found.explored.iterations,
            found.explored.bound,
            first_line(found)
        )),
    };
    failure_trace(found, scenario, property, Schedule::Loom { path }, origin)
}

/// A violated trace of `property` on `scenario`, with the failing run's
/// timeline.
fn failure_trace(
    found: &Found,
    scenario: &Scenario,
    property: &str,
    schedule: Schedule,
    origin: Origin,
) -> Trace {
    Trace {
        format: model::trace::FORMAT,
        spec: scenario.spec.name().to_string(),
        preset: scenario.preset,
        patches: Some(scenario.patches),
        variant: None,
        sizes: scenario.sizes(),
        assumptions: Default::default(),
        property: property.to_string(),
        verdict: Verdict::Violated,
        schedule,
        origin,
        timeline: found.events.iter().map(ToString::to_string).collect(),
    }
}

/// The fault's first line (its message may carry a backtrace).
fn first_line(found: &Found) -> &str {
    found.message.lines().next().unwrap_or("")
}
