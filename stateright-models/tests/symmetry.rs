//! Liveness on the symmetry-reduced graph: under every assumption setting,
//! the same verdicts, counterexamples (with their lengths and cycle starts)
//! and full-graph counts as without symmetry, and most properties that hold
//! are decided on the reduced graph alone.

use model::{PropertyKind, SpecName, Verdict};
use stateright_models::{run_checks, CheckResult, CheckSelection};

/// Everything of a row but the graph it was decided on and the time.
fn outcome(r: &CheckResult) -> String {
    format!(
        "{} {} {} {} {} {:?} {:?} {:?} {:?}",
        r.spec,
        r.config,
        r.assumption_label(),
        r.property,
        r.verdict,
        r.states_unreduced,
        r.counterexample_len,
        r.cycle_start,
        r.counterexample
    )
}

fn compare(selection: CheckSelection) -> Vec<CheckResult> {
    let reduced = run_checks(&selection.clone().with_symmetry(true), &mut |_| {});
    let full = run_checks(&selection.with_symmetry(false), &mut |_| {});
    let outcomes = |rs: &[CheckResult]| rs.iter().map(outcome).collect::<Vec<_>>();
    assert_eq!(outcomes(&reduced), outcomes(&full));
    reduced
}

#[test]
fn liveness_on_the_reduced_graph_changes_nothing_under_any_assumption() {
    // Every setting of timer-free and irq-order, and of cs-block with a
    // finite demand, at default sizes; continuous demand (322,863 states
    // a preset at default sizes, 1,826,868 with held discarded
    // connections) with two CSs.
    let mut rows = Vec::new();
    for spec in ["timer-free", "irq-order"] {
        let selection = CheckSelection::parse(spec, "all", &[]).unwrap();
        rows.extend(compare(selection.with_every_assumption()));
    }
    let finite = CheckSelection::parse("cs-block", "all", &[]).unwrap();
    let every_finite = [
        "demand=finite".to_string(),
        "discarded-connections=all".to_string(),
        "fairness=all".to_string(),
    ];
    rows.extend(compare(finite.with_assumptions(&every_finite).unwrap()));
    let two_css = CheckSelection::parse("cs-block", "all", &["css=2".to_string()]).unwrap();
    rows.extend(compare(two_css.with_every_assumption()));
    assert_eq!(rows.len(), 4 * (8 * 16 + 4 * 16 + 8 * 4 + 8 * 8));
    let liveness = |r: &&CheckResult| r.kind == PropertyKind::Eventually;
    let on_reduced = rows.iter().filter(liveness).filter(|r| r.symmetry).count();
    let held = rows
        .iter()
        .filter(liveness)
        .filter(|r| r.verdict == Verdict::Holds);
    assert!(on_reduced > 0 && on_reduced <= held.count());
    // Every timer-free liveness verdict that holds is decided on the
    // reduced graph (its property is symmetric).
    assert!(rows
        .iter()
        .filter(liveness)
        .filter(|r| r.spec == SpecName::TimerFree.name() && r.verdict == Verdict::Holds)
        .all(|r| r.symmetry));
}
