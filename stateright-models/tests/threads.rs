//! `chukei check --threads N`: the parallel search builds the sequential
//! graph, so every verdict, count and counterexample is the same.

use stateright_models::{run_checks, CheckResult, CheckSelection};

fn outcome(r: &CheckResult) -> String {
    format!(
        "{} {} {} {} {} {:?} {:?} {:?} {:?} {:?}",
        r.spec,
        r.config,
        r.property,
        r.verdict,
        r.states,
        r.states_reduced,
        r.states_unreduced,
        r.counterexample_len,
        r.cycle_start,
        r.counterexample
    )
}

#[test]
fn two_threads_give_the_sequential_verdicts_counts_and_paths() {
    let check = |threads| {
        let selection = CheckSelection::all().with_threads(threads);
        let results = run_checks(&selection, &mut |_| {});
        results.iter().map(outcome).collect::<Vec<_>>()
    };
    let sequential = check(1);
    assert_eq!(sequential.len(), 52);
    assert_eq!(sequential, check(2));
}
