//! The shrunk proptest counterexamples kept in `regressions/corpus/` replay
//! against the model without proptest, with their recorded verdict, and the
//! fixed presets survive the same schedule.

use model::replay_trace;
use model::Verdict;
use patches::Preset;
use properties::corpus::proptest_traces;

#[test]
fn every_proptest_trace_replays_with_its_verdict() {
    let traces = proptest_traces().expect("the corpus reads");
    let names: Vec<String> = traces
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "proptest-timer-free-2016-01-no_free_of_unallocated.json",
        "proptest-irq-order-2016-01-relay_never_hangs.json",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    for (path, trace) in &traces {
        assert_eq!(trace.origin.checker, "proptest", "{}", path.display());
        let replay = replay_trace(trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(replay.verdict, trace.verdict, "{}", path.display());
        assert_eq!(
            replay.witness,
            Some(replay.states.len() - 1),
            "{}: the violation is reached by the last step, not before",
            path.display()
        );
    }
}

#[test]
fn the_permanent_fixes_survive_the_kept_schedules() {
    let mut replayed = 0;
    for (path, trace) in proptest_traces().expect("the corpus reads") {
        for preset in [Preset::Apr2016, Preset::Proposed] {
            let mut fixed = trace.clone();
            fixed.preset = preset;
            // A schedule may not even be possible on the fixed spec (e.g. the
            // hang needs nothing the fix removes); when it is, it must hold.
            if let Ok(replay) = replay_trace(&fixed) {
                assert_eq!(
                    replay.verdict,
                    Verdict::Holds,
                    "{} on {preset}",
                    path.display()
                );
                replayed += 1;
            }
        }
    }
    assert!(
        replayed >= 2,
        "only {replayed} kept schedules ran on a fixed preset"
    );
}
