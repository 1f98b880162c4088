//! `chukei check`'s limits: a check a limit stops is `inconclusive`, never
//! `holds`, and says which limit and how far it got; a counterexample found
//! before the limit is still the shortest one.

use model::search::{Limit, Limits};
use model::{SpecName, Verdict};
use patches::Preset;
use stateright_models::CheckRequest;
use stateright_models::{all_as_expected, all_decided, render_matrix, CheckResult};
use std::time::{Duration, Instant};

fn check(preset: Preset, limits: Limits) -> Vec<CheckResult> {
    CheckRequest::new(SpecName::TimerFree, preset)
        .limits(limits)
        .run(&mut |_| {})
        .expect("default sizes")
}

fn verdict<'a>(results: &'a [CheckResult], property: &str) -> &'a CheckResult {
    results.iter().find(|r| r.property == property).unwrap()
}

#[test]
fn max_states_leaves_undecided_properties_inconclusive() {
    let results = check(
        Preset::Apr2016,
        Limits {
            max_states: Some(500),
            ..Limits::NONE
        },
    );
    assert_eq!(results.len(), 8);
    // A genuine timeout is 4 steps in: its example is among the first 500
    // states, which decides a `sometimes` property.
    let (timeout, results): (Vec<_>, Vec<_>) = results
        .into_iter()
        .partition(|r| r.property == "genuine_timeout_happens");
    assert_eq!(timeout[0].verdict, Verdict::Holds);
    for r in &results {
        assert_eq!(r.verdict, Verdict::Inconclusive, "{}", r.property);
        let stopped = r.stopped.expect("says why");
        assert_eq!(stopped.limit, Limit::MaxStates(500));
        assert_eq!((r.states_reduced, r.states_unreduced), (None, None));
        assert!(r.trace.is_none());
    }
    // Recorded as holds/violated: not a mismatch, but not all decided.
    assert!(all_as_expected(&results));
    assert!(!all_decided(&results));
    let text = render_matrix(&results);
    assert!(
        text.contains("INCONCLUSIVE timer-free 2016-04: stopped by --max-states 500 after"),
        "{text}"
    );
}

#[test]
fn a_counterexample_within_the_depth_bound_is_found_and_shortest() {
    let at = |depth| {
        check(
            Preset::Jan2016,
            Limits {
                max_depth: Some(depth),
                ..Limits::NONE
            },
        )
    };
    let short = at(7);
    let r = verdict(&short, "no_free_of_unallocated");
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.stopped.unwrap().limit, Limit::MaxDepth(7));
    let enough = at(8);
    let r = verdict(&enough, "no_free_of_unallocated");
    assert_eq!(r.verdict, Verdict::Violated);
    assert_eq!(r.counterexample_len, Some(8));
    assert_eq!(r.stopped, None);
    // The 10-step one is out of reach, and what holds cannot be vouched for.
    let r = verdict(&enough, "no_spurious_termination");
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(verdict(&enough, "no_leak").verdict, Verdict::Inconclusive);
}

#[test]
fn a_passed_deadline_decides_nothing() {
    let limits = Limits {
        deadline: Some((Instant::now(), Duration::from_secs(1))),
        ..Limits::NONE
    };
    let results = check(Preset::Proposed, limits);
    assert!(results.iter().all(|r| r.verdict == Verdict::Inconclusive));
    assert!(results
        .iter()
        .all(|r| r.stopped.unwrap().limit == Limit::MaxSeconds(1.0)));
}

#[test]
fn the_memory_guard_makes_liveness_inconclusive_too() {
    let limits = Limits {
        max_memory: Some(1),
        ..Limits::NONE
    };
    let results = check(Preset::Proposed, limits);
    let live = verdict(&results, "telegrams_finish");
    assert_eq!(live.verdict, Verdict::Inconclusive);
    assert_eq!(live.stopped.unwrap().limit, Limit::MaxMemory(1));
    assert!(results.iter().all(|r| r.verdict == Verdict::Inconclusive));
}
