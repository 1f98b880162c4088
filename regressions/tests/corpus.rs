//! Every trace in `regressions/corpus/` replays with its recorded verdict,
//! deterministically, on what it was recorded against: spec actions on the
//! model, driver and shuttle schedules on the real relay. The fixed presets
//! survive the same schedules.

use model::{Schedule, Trace, Verdict};
use patches::Preset;
use regressions::{corpus, replay};
use relay::events::EventKind;
use std::path::PathBuf;

fn corpus() -> Vec<(PathBuf, Trace)> {
    corpus::all().expect("the corpus reads")
}

fn kind(trace: &Trace) -> &'static str {
    match trace.schedule {
        Schedule::Actions { .. } => "actions",
        Schedule::Driver { .. } => "driver",
        Schedule::Shuttle { .. } => "shuttle",
    }
}

#[test]
fn the_corpus_holds_every_kind_under_one_naming_scheme() {
    let traces = corpus();
    let count = |k: &str| traces.iter().filter(|(_, t)| kind(t) == k).count();
    // proptest's two shrinks, reproduce's six findings, shuttle's four.
    assert_eq!(count("actions"), 2, "spec-action traces");
    assert_eq!(count("driver"), 6, "driver traces");
    assert_eq!(count("shuttle"), 4, "shuttle traces");
    for (path, trace) in &traces {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(name, corpus::file_name(trace), "{}", path.display());
        assert!(trace.spec.parse::<model::SpecName>().is_ok(), "{name}");
    }
}

#[test]
fn every_stored_trace_replays_with_its_verdict() {
    for (path, trace) in corpus() {
        let first = replay(&trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(first.verdict, trace.verdict, "{}", path.display());
        if kind(&trace) == "actions" {
            continue;
        }
        // The same schedule, the same run, event for event, and the timeline
        // stored with the trace is the replayed run's.
        let again = replay(&trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            first,
            again,
            "{}: replay is not deterministic",
            path.display()
        );
        assert_eq!(first.timeline, trace.timeline, "{}", path.display());
    }
}

/// The stored relay runs show the symptom their property names.
#[test]
fn every_relay_trace_shows_its_symptom() {
    for (path, trace) in corpus() {
        if kind(&trace) == "actions" {
            continue;
        }
        let events = replay(&trace).expect("replays").events;
        let shown = match trace.property.as_str() {
            "no_free_of_unallocated" => events
                .iter()
                .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. })),
            "no_spurious_termination" => {
                !scenarios::timer_free::spurious_terminations(&events).is_empty()
            }
            "relay_never_hangs" => scenarios::irq_order::shows_lost_completion_notice(&events),
            other => panic!("{}: no symptom for `{other}`", path.display()),
        };
        assert!(shown, "{}", path.display());
    }
}

/// A shuttle schedule of a bug does not find it on the fixed relay: it
/// diverges there (the code takes other steps) or passes.
#[test]
fn a_stored_shuttle_schedule_does_not_fail_on_the_fixed_preset() {
    let (path, trace) = corpus()
        .into_iter()
        .find(|(_, t)| kind(t) == "shuttle" && t.property == "no_free_of_unallocated")
        .expect("a stored free-of-unallocated shuttle trace");
    let mut fixed = trace.clone();
    fixed.preset = Preset::Proposed;
    if let Ok(replayed) = replay(&fixed) {
        assert_eq!(replayed.verdict, Verdict::Holds, "{}", path.display());
    }
}

/// The shrunk proptest sequences reach the violation with their last step,
/// and the permanent fixes hold on every one that is possible on them.
#[test]
fn the_permanent_fixes_survive_the_kept_spec_schedules() {
    let mut replayed = 0;
    for (path, trace) in corpus() {
        if kind(&trace) != "actions" {
            continue;
        }
        let outcome = model::replay_trace(&trace).expect("replays");
        assert_eq!(
            outcome.witness,
            Some(outcome.states.len() - 1),
            "{}: the violation is reached by the last step, not before",
            path.display()
        );
        for preset in [Preset::Apr2016, Preset::Proposed] {
            let mut fixed = trace.clone();
            fixed.preset = preset;
            // A schedule may not even be possible on the fixed spec; when it
            // is, it must hold.
            if let Ok(r) = replay(&fixed) {
                assert_eq!(r.verdict, Verdict::Holds, "{} on {preset}", path.display());
                replayed += 1;
            }
        }
    }
    assert!(
        replayed >= 2,
        "only {replayed} kept schedules ran on a fixed preset"
    );
}
