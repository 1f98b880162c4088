//! Every shuttle trace in `regressions/corpus/` replays, deterministically,
//! to the failure it records, on the real relay.

use loom_tests::corpus::{self, expected_fault};
use loom_tests::scenario::{shows_lost_completion_notice, spurious_terminations};
use model::Verdict;
use relay::events::EventKind;

#[test]
fn every_stored_shuttle_trace_replays_to_its_failure() {
    let traces = corpus::shuttle_traces().expect("the corpus reads");
    // The three failures this crate stores (see shuttle_suites.rs); more may come.
    assert!(
        traces.len() >= 3,
        "expected the stored shuttle traces, found {}",
        traces.len()
    );
    for (path, trace) in &traces {
        assert_eq!(trace.verdict, Verdict::Violated, "{}", path.display());
        let first = corpus::replay(trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(first.message.contains(&expected_fault(&trace.property)));
        // The same schedule, the same run, event for event.
        let again = corpus::replay(trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            first.events,
            again.events,
            "{}: replay is not deterministic",
            path.display()
        );
        // The timeline stored with the trace is the replayed run's.
        let timeline: Vec<String> = first.events.iter().map(ToString::to_string).collect();
        assert_eq!(timeline, trace.timeline, "{}", path.display());
        match trace.property.as_str() {
            "no_free_of_unallocated" => assert!(first
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. }))),
            "no_spurious_termination" => assert!(!spurious_terminations(&first.events).is_empty()),
            "relay_never_hangs" => assert!(shows_lost_completion_notice(&first.events)),
            other => panic!("{}: no replay expectation for `{other}`", path.display()),
        }
        println!(
            "{}: replays to `{}`",
            path.display(),
            first.message.lines().next().unwrap_or("")
        );
    }
}

/// A schedule that does not lead to the fault is told apart: replaying a
/// 2016-01 schedule on the fixed relay diverges or passes, never "finds" it.
#[test]
fn a_stored_schedule_does_not_fail_on_the_fixed_preset() {
    let traces = corpus::shuttle_traces().expect("the corpus reads");
    let (path, trace) = traces
        .iter()
        .find(|(_, t)| t.property == "no_free_of_unallocated")
        .expect("a stored free-of-unallocated trace");
    let mut fixed = trace.clone();
    fixed.preset = patches::Preset::Proposed;
    let result = corpus::replay(&fixed);
    assert!(
        result.is_err(),
        "{}: the epoch fix still freed an unallocated area",
        path.display()
    );
}
