//! Shuttle failures as regression traces (the common [`Trace`] format of
//! DESIGN.md §5) under `regressions/corpus/`, and their deterministic replay.
//!
//! A trace names the spec, the preset, the scenario sizes
//! ([`Scenario::sizes`]), the violated property and the shuttle schedule.
//! Replaying it runs the same scenario under `shuttle`'s replay scheduler and
//! must fail the same way. A schedule is only meaningful for the relay code it
//! was found on: when a relay change makes a stored schedule diverge, search
//! again and store the new one (`CHUKEI_BLESS=1`, see README.md).

use crate::explore::{shuttle_replay, Found, Search};
use crate::scenario::{Property, Scenario};
use crate::Shuttle;
use model::{Origin, Schedule, SpecName, Trace, Verdict};
use std::path::{Path, PathBuf};

/// The property name of a hang: the model's irq-order `relay_never_hangs`.
/// Under shuttle a hang is a deadlock, reported by shuttle itself.
pub const RELAY_NEVER_HANGS: &str = "relay_never_hangs";

/// `regressions/corpus/` of the workspace.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("regressions")
        .join("corpus")
}

/// `CHUKEI_BLESS=1`: a search test (re)writes its trace file.
pub fn bless() -> bool {
    std::env::var("CHUKEI_BLESS").is_ok_and(|v| v == "1")
}

/// The panic text a replay of `property` must show.
pub fn expected_fault(property: &str) -> String {
    if property == RELAY_NEVER_HANGS {
        "deadlock".to_string()
    } else {
        format!("property `{property}` violated")
    }
}

/// The properties a body checks for a trace's property (none for a hang:
/// the deadlock is the failure).
pub fn checks_for(property: &str) -> Result<Vec<Property>, String> {
    if property == RELAY_NEVER_HANGS {
        return Ok(vec![]);
    }
    let all = [
        Property::NoFreeOfUnallocated,
        Property::NoSpuriousTermination,
        Property::ExactlyOneReply,
        Property::NoLeak,
        Property::HsmInterruptKept,
    ];
    all.into_iter()
        .find(|p| p.name() == property)
        .map(|p| vec![p])
        .ok_or_else(|| format!("no relay check for property `{property}`"))
}

/// The trace of a shuttle failure.
pub fn trace_of(found: &Found, scenario: &Scenario, property: &str, search: Search) -> Trace {
    let schedule = found
        .schedule
        .as_ref()
        .expect("a shuttle failure carries its schedule");
    Trace {
        format: model::trace::FORMAT,
        spec: scenario.spec.name().to_string(),
        preset: scenario.preset,
        sizes: scenario.sizes(),
        property: property.to_string(),
        verdict: Verdict::Violated,
        schedule: Schedule::Shuttle {
            schedule: schedule.encoded.clone(),
        },
        origin: Origin {
            checker: search.checker().to_string(),
            seed: Some(search.seed()),
            note: Some(format!(
                "loom-tests shuttle_suites: failed in schedule {} of {}; {} schedule steps; fault: {}",
                found.explored.iterations,
                found.explored.bound,
                schedule.steps,
                found.message.lines().next().unwrap_or("")
            )),
        },
        timeline: found.events.iter().map(ToString::to_string).collect(),
    }
}

/// The file a trace is stored in.
pub fn file_name(trace: &Trace) -> String {
    format!(
        "{}-{}-{}-{}.json",
        trace.origin.checker, trace.spec, trace.preset, trace.property
    )
}

/// Writes `trace` to the corpus; returns its path.
pub fn store(trace: &Trace) -> std::io::Result<PathBuf> {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(file_name(trace));
    std::fs::write(&path, trace.to_json_pretty() + "\n")?;
    Ok(path)
}

/// Stores the trace if it is not in the corpus yet, or under `CHUKEI_BLESS=1`.
pub fn store_if_new(trace: &Trace) -> std::io::Result<Option<PathBuf>> {
    let path = corpus_dir().join(file_name(trace));
    if path.exists() && !bless() {
        return Ok(None);
    }
    store(trace).map(Some)
}

/// Every shuttle trace in the corpus, with its path.
pub fn shuttle_traces() -> Result<Vec<(PathBuf, Trace)>, String> {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(vec![]);
    };
    let mut traces = vec![];
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let trace = Trace::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if matches!(trace.schedule, Schedule::Shuttle { .. }) {
            traces.push((path, trace));
        }
    }
    traces.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(traces)
}

/// Replays a shuttle trace on the real relay. `Ok(found)` if the replay fails
/// with the trace's fault; `Err` says how it differed.
pub fn replay(trace: &Trace) -> Result<Found, String> {
    let Schedule::Shuttle { schedule } = &trace.schedule else {
        return Err("not a shuttle trace".into());
    };
    let spec = match trace.spec.as_str() {
        "timer-free" => SpecName::TimerFree,
        "irq-order" => SpecName::IrqOrder,
        other => return Err(format!("spec `{other}` is not explored by loom-tests")),
    };
    let scenario = Scenario::from_trace(spec, trace.preset, &trace.sizes)?;
    let checks = checks_for(&trace.property)?;
    let expected = expected_fault(&trace.property);
    match shuttle_replay(schedule, move |w| {
        scenario.run_and_check::<Shuttle>(w, &checks)
    }) {
        Ok(()) => Err(format!("the replay passed; expected `{expected}`")),
        Err(found) if found.message.contains(&expected) => Ok(*found),
        Err(found) => Err(format!(
            "the replay failed otherwise: expected `{expected}`, got: {}",
            found.message
        )),
    }
}
