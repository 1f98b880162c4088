//! proptest drives the real relay (deterministic driver) against the specs.
//!
//! * On 2016-01 each root cause is **found** and shrunk, and the shrunk
//!   sequence is as short as the shortest counterexample of the spec (BFS
//!   through the `Spec` trait, the number stateright reports). The shrunk
//!   sequence is kept as a Trace in `regressions/corpus/`.
//! * On 2016-04 and proposed (and 2016-03 for the hang) the same tests pass.
//!
//! Case counts: `PROPTEST_CASES` (default 24 per test here) for the passing
//! tests; the finding tests use a fixed-seed runner with a bounded budget.

use model::search::shortest_violation;
use model::Spec;
use properties::reference::{actions_of, proptest_trace, RefState, Reference, Step, Target};
use properties::relay_test::{
    IrqOrderAt, RelayTest, TimerFreeAt, APR, DISAGREE, JAN, MAR, PROPOSED, VIOLATED,
};
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestError, TestRng, TestRunner,
};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use regressions::corpus::{keep, Kept};
use scenarios::steer::SpecMap;
use std::time::Instant;

/// Cases for the tests that must pass: `PROPTEST_CASES` or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(cases: u32, file: &'static str) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        // Shrinking reruns the relay: plenty, but bounded.
        max_shrink_iters: 4_096,
        ..Config::default()
    }
}

type Found<T> = (
    usize,
    Vec<<<T as Target>::Spec as Spec>::Action>,
    String,
    u32,
);

/// Runs the state-machine test of `T` until it fails; returns the shrunk
/// sequence's spec actions and the failure message.
fn find<T>(max_len: usize, budget: u32, persistence: &'static str) -> Result<Found<T>, String>
where
    T: Target,
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    let config = config(budget, persistence);
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config.clone(), rng);
    let strategy = Reference::<T>::sequential_strategy(1..max_len);
    let started = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(&strategy, |(init, transitions, seen)| {
        started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        RelayTest::<T>::test_sequential(config.clone(), init, transitions, seen);
        Ok(())
    });
    let runs = started.load(std::sync::atomic::Ordering::Relaxed);
    match result {
        Err(TestError::Fail(reason, (_, transitions, _))) => {
            let steps: Vec<Step<_>> = transitions;
            let actions = actions_of(&steps);
            Ok((actions.len(), actions, reason.to_string(), runs))
        }
        Err(TestError::Abort(why)) => Err(format!("aborted: {why}")),
        Ok(()) => Err(format!("no failure in {budget} cases")),
    }
}

/// Whether the relay test of `T` fails on `actions` with the property
/// violated (the sequence must be enabled in the spec).
fn still_fails<T>(actions: &[<T::Spec as Spec>::Action]) -> bool
where
    T: Target,
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    let init = spec_of::<T>();
    let mut state = init.clone();
    for a in actions {
        if !<Reference<T> as ReferenceStateMachine>::preconditions(&state, &Step::Act(a.clone())) {
            return false;
        }
        state = <Reference<T> as ReferenceStateMachine>::apply(state, &Step::Act(a.clone()));
    }
    let steps: Vec<_> = actions.iter().cloned().map(Step::Act).collect();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        RelayTest::<T>::test_sequential(Config::default(), init, steps, None)
    }));
    match outcome {
        Ok(()) => false,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            message.contains(VIOLATED)
        }
    }
}

/// proptest deletes one transition at a time; some steps can only go
/// together (a monitor raise and its service: without the service the next
/// raise is not enabled, without the raise the service is not). This second
/// stage deletes windows of up to four consecutive actions, rerunning the
/// relay each time, until nothing more can go.
fn delete_windows<T>(mut actions: Vec<<T::Spec as Spec>::Action>) -> Vec<<T::Spec as Spec>::Action>
where
    T: Target,
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    let mut changed = true;
    while changed {
        changed = false;
        for width in (1..=4).rev() {
            let mut at = 0;
            while at + width <= actions.len() {
                let mut shorter = actions.clone();
                shorter.drain(at..at + width);
                if still_fails::<T>(&shorter) {
                    actions = shorter;
                    changed = true;
                } else {
                    at += 1;
                }
            }
        }
    }
    actions
}

fn spec_of<T: Target>() -> RefState<T::Spec>
where
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    let spec = std::sync::Arc::new(T::spec());
    let state = spec.init_states().remove(0);
    RefState { spec, state }
}

/// Lengths of a found root cause: proptest's shrink, after window deletion
/// on the relay, and the spec's BFS-shortest counterexample.
struct Shrunk {
    proptest: usize,
    deleted: usize,
    shortest: usize,
}

/// Finds `T`'s root cause (asserting it is the property's violation, not a
/// disagreement), shrinks it, keeps the trace, and returns the lengths.
fn find_and_shrink<T>(max_len: usize, persistence: &'static str) -> Shrunk
where
    T: Target,
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    let started = Instant::now();
    let (len, actions, reason, runs) =
        find::<T>(max_len, 512, persistence).unwrap_or_else(|e| panic!("{}", e));
    assert!(
        reason.contains(VIOLATED) && reason.contains(T::Map::PROPERTY),
        "the failure must be the root cause, not a disagreement: {reason}"
    );
    assert!(!reason.contains(DISAGREE), "{reason}");
    assert!(
        still_fails::<T>(&actions),
        "the shrunk sequence fails again"
    );
    let proptest_len = len;
    let actions = delete_windows::<T>(actions);
    let len = actions.len();
    let elapsed = started.elapsed();
    let reference = spec_of::<T>();
    let shortest = shortest_violation(&*reference.spec, T::Map::PROPERTY, 1_000_000)
        .expect("the spec violates the property on this preset");
    println!(
        "{} {}: found and shrunk in {runs} test runs (cases + shrink steps), {elapsed:?}; \
         proptest shrink {proptest_len} actions, after window deletion {len}, BFS shortest {}",
        reference.spec.name(),
        T::PRESET,
        shortest.len()
    );
    for line in model::replay::render_actions(&*reference.spec, &actions, None) {
        println!("  {line}");
    }
    let shrunk = Shrunk {
        proptest: proptest_len,
        deleted: len,
        shortest: shortest.len(),
    };
    let trace = proptest_trace::<T>(
        &reference.spec,
        T::Map::PROPERTY,
        &actions,
        &format!(
            "properties/tests/state_machine.rs: fixed-seed TestRunner, proptest shrink \
             {proptest_len} actions, window deletion on the relay {len}"
        ),
    );
    let replay = model::replay::replay(&*reference.spec, &trace).expect("the trace replays");
    assert_eq!(replay.verdict, model::Verdict::Violated);
    match keep(&trace) {
        Ok(Kept::Written(p)) => println!("wrote {}", p.display()),
        Ok(Kept::Unchanged(_)) => {}
        Err(e) => panic!("{e}"),
    }
    shrunk
}

#[test]
fn timer_free_2016_01_finds_the_free_of_an_unallocated_work_area() {
    let shrunk =
        find_and_shrink::<TimerFreeAt<JAN, 2>>(40, "proptest-regressions/timer_free_2016_01.txt");
    // As short as the spec's shortest counterexample (stateright: 8 steps).
    assert_eq!(shrunk.deleted, shrunk.shortest);
    assert_eq!(shrunk.shortest, 8);
    assert_eq!(
        shrunk.proptest, 8,
        "proptest's own shrink is already minimal here"
    );
}

#[test]
fn irq_order_2016_01_finds_the_lost_completion_notice() {
    let shrunk =
        find_and_shrink::<IrqOrderAt<JAN, 2>>(24, "proptest-regressions/irq_order_2016_01.txt");
    // proptest deletes one step at a time; a monitor raise and its service
    // only go together, so the window-deletion pass finishes the job.
    assert_eq!(shrunk.deleted, shrunk.shortest);
    assert_eq!(shrunk.shortest, 4);
    assert!(shrunk.proptest >= shrunk.deleted);
}

/// Runs `T`'s state-machine test for `cases` cases, which must all pass;
/// returns how many spec actions were carried out on the relay.
fn holds<T>(max_len: usize, cases: u32, persistence: &'static str) -> usize
where
    T: Target,
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    let config = config(cases, persistence);
    let mut runner = TestRunner::new(config.clone());
    let strategy = Reference::<T>::sequential_strategy(1..max_len);
    let started = Instant::now();
    let applied = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&strategy, |(init, transitions, seen)| {
        let acts = transitions
            .iter()
            .filter(|t| matches!(t, Step::Act(_)))
            .count();
        RelayTest::<T>::test_sequential(config.clone(), init, transitions, seen);
        applied.fetch_add(acts, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    });
    let applied = applied.into_inner();
    println!(
        "{} {}: {cases} cases, {applied} spec actions carried out on the relay, in {:?}",
        T::spec().name(),
        T::PRESET,
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    applied
}

/// The passing tests must have driven the relay through real sequences.
fn assert_meaningful(applied: usize) {
    assert!(
        applied >= cases(128) as usize * 4,
        "the cases were too short to mean anything: {applied} actions"
    );
}

#[test]
fn timer_free_2016_04_never_frees_an_unallocated_work_area() {
    let applied = holds::<TimerFreeAt<APR, 3>>(
        48,
        cases(128),
        "proptest-regressions/timer_free_2016_04.txt",
    );
    assert_meaningful(applied);
}

#[test]
fn timer_free_proposed_never_frees_an_unallocated_work_area() {
    let applied = holds::<TimerFreeAt<PROPOSED, 3>>(
        48,
        cases(128),
        "proptest-regressions/timer_free_proposed.txt",
    );
    assert_meaningful(applied);
}

#[test]
fn irq_order_2016_03_never_hangs() {
    let applied =
        holds::<IrqOrderAt<MAR, 3>>(32, cases(128), "proptest-regressions/irq_order_2016_03.txt");
    assert_meaningful(applied);
}

#[test]
fn irq_order_2016_04_never_hangs() {
    let applied =
        holds::<IrqOrderAt<APR, 3>>(32, cases(128), "proptest-regressions/irq_order_2016_04.txt");
    assert_meaningful(applied);
}

#[test]
fn irq_order_proposed_never_hangs() {
    let applied = holds::<IrqOrderAt<PROPOSED, 3>>(
        32,
        cases(128),
        "proptest-regressions/irq_order_proposed.txt",
    );
    assert_meaningful(applied);
}
