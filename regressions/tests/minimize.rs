//! `regressions::minimize` on a 50+ step failing trace of each kind (spec
//! actions, driver choices, a shuttle schedule): the result reproduces the
//! same violation, and removing any single step of it does not (1-minimal);
//! spec traces reach the breadth-first shortest length.

use loom_tests::explore::{decode_schedule, encode_steps};
use model::cs_block::CsBlock;
use model::search::shortest_violation;
use model::{Origin, Schedule, Spec, Trace, Verdict};
use patches::Preset;
use regressions::{corpus, minimize, replay, Outcome};
use scenarios::search::{search, Cause};
use std::collections::BTreeMap;
use std::path::Path;

/// Whether `trace` shows its violation with a schedule that fits.
fn reproduces(trace: &Trace) -> bool {
    replay(trace).is_ok_and(|r| r.verdict == Verdict::Violated && r.fit.diverged.is_none())
}

/// The trace with step `i` of its schedule removed.
fn without_step(trace: &Trace, i: usize) -> Trace {
    let schedule = match &trace.schedule {
        Schedule::Actions { actions, .. } => {
            let mut actions = actions.clone();
            actions.remove(i);
            Schedule::Actions {
                actions,
                cycle_start: None,
            }
        }
        Schedule::Driver { choices } => {
            let mut choices = choices.clone();
            choices.remove(i);
            Schedule::Driver { choices }
        }
        Schedule::Shuttle { schedule } => {
            let mut decoded = decode_schedule(schedule).expect("decodes");
            decoded.steps.remove(i);
            Schedule::Shuttle {
                schedule: encode_steps(decoded.seed, &decoded.steps),
            }
        }
        Schedule::Loom { .. } => unreachable!("loom paths are not minimized"),
    };
    Trace {
        schedule,
        ..trace.clone()
    }
}

/// Minimizes `found` and checks the result: fewer steps, the same
/// violation replayed on the same preset, and 1-minimal.
fn minimal(found: &Trace) -> Trace {
    let before = regressions::minimize::steps_of(found).unwrap();
    assert!(before >= 50, "a failing trace of {before} steps");
    let m = minimize(found).expect("minimizes");
    assert_eq!(m.before, before);
    assert!(m.after < before, "{} -> {}", m.before, m.after);
    println!(
        "{}: {} -> {} steps, {}, {} replays",
        found.spec, m.before, m.after, m.method, m.replays
    );
    let t = &m.trace;
    assert_eq!(
        (&t.spec, t.preset, &t.property),
        (&found.spec, found.preset, &found.property)
    );
    assert_eq!(regressions::judge(t, None).outcome, Outcome::Reproduced);
    // A driver schedule is 1-minimal among those that switch no more:
    // a choice may go only by bringing preemptions back.
    let pressure = regressions::preempt::pressure(t);
    for i in 0..m.after {
        let fewer = without_step(t, i);
        assert!(
            !reproduces(&fewer) || regressions::preempt::pressure(&fewer) > pressure,
            "step {i} of {} can go: not 1-minimal",
            m.after
        );
    }
    m.trace
}

/// A seeded random walk through a spec that avoids the violation of the
/// `always` property for 50 steps (round the spec's cycles), then walks
/// into it.
fn long_counterexample<S: Spec>(spec: &S, property: &str) -> Vec<S::Action> {
    let property = spec.property(property).unwrap();
    let bad = |s: &S::State| !(property.condition)(spec, s);
    for seed in 1..200u64 {
        let mut rng = seed;
        let mut state = spec.init_states().remove(0);
        let mut path = Vec::new();
        while path.len() < 400 {
            let options: Vec<_> = spec
                .successors(&state)
                .into_iter()
                .filter(|(_, next)| path.len() >= 50 || !bad(next))
                .collect();
            if options.is_empty() {
                break;
            }
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (action, next) = options[(rng >> 33) as usize % options.len()].clone();
            path.push(action);
            state = next;
            if bad(&state) {
                return path;
            }
        }
    }
    panic!("no seed walked 50 steps into the violation")
}

#[test]
fn a_long_spec_counterexample_shrinks_to_the_breadth_first_shortest() {
    // cs-block on 2016-01: terminals send, are refused, block and retry
    // round the spec's cycles before a chip is written and the record lost.
    let spec = CsBlock::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
    let property = "chip_and_system_agree";
    let path = long_counterexample(&spec, property);
    let found = Trace::from_actions(
        &spec,
        &Preset::Jan2016.into(),
        BTreeMap::new(),
        property,
        Verdict::Violated,
        &path,
        None,
        Origin {
            checker: "random-walk".into(),
            seed: None,
            note: None,
        },
    );
    let shortest = shortest_violation(&spec, property, usize::MAX)
        .unwrap()
        .len();
    let t = minimal(&found);
    let Schedule::Actions { actions, .. } = &t.schedule else {
        panic!("actions")
    };
    assert_eq!(actions.len(), shortest, "the breadth-first shortest length");
    assert_eq!(shortest, 8, "the check's pinned length for this violation");
}

#[test]
fn a_long_driver_schedule_shrinks_to_a_one_minimal_one() {
    let finding = search(Cause::TimerFree, Preset::Jan2016, 0, 300);
    assert!(finding.reproduced);
    let t = minimal(&finding.to_trace());
    let Schedule::Driver { choices } = &t.schedule else {
        panic!("driver")
    };
    // The same as the stored, minimized corpus trace.
    let stored = corpus::read(
        &corpus::dir().join("reproduce-timer-free-2016-01-no_free_of_unallocated.json"),
    )
    .unwrap();
    assert_eq!(stored.schedule, t.schedule);
    assert!(choices.len() <= 55, "{} choices", choices.len());
}

#[test]
fn a_driver_schedule_loses_the_preemptions_the_bug_does_not_need() {
    // The 2016-03 stale-timeout schedule as ddmin alone left it: 97
    // choices, 1-minimal over choices, 29 of them preemptions.
    let found = corpus::read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/found/reproduce-timer-free-2016-03-no_spurious_termination.json"),
    )
    .unwrap();
    let before = regressions::preempt::pressure(&found).unwrap();
    let m = minimize(&found).unwrap();
    let after = regressions::preempt::pressure(&m.trace).unwrap();
    assert_eq!(m.pressure_before, Some(before));
    assert_eq!(m.pressure_after, Some(after));
    assert_eq!(m.method, "ddmin+preemptions");
    assert_eq!(
        (before.preemptions, before.clock_jumps, before.threads),
        (29, 2, 5)
    );
    assert_eq!(
        (after.preemptions, after.clock_jumps, after.threads, m.after),
        (3, 0, 3, 96)
    );
    assert_eq!(
        regressions::judge(&m.trace, None).outcome,
        Outcome::Reproduced
    );
    // The corpus keeps this schedule (`chukei reproduce --trace-out`).
    let stored = corpus::read(&corpus::dir().join(corpus::file_name(&found))).unwrap();
    assert_eq!(stored.schedule, m.trace.schedule);
}

#[test]
fn a_long_shuttle_schedule_shrinks_to_a_one_minimal_one() {
    // The schedule shuttle's random search found, as it found it.
    let found = corpus::read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/found/shuttle-random-timer-free-2016-01-no_free_of_unallocated.json"),
    )
    .unwrap();
    let t = minimal(&found);
    let stored = corpus::read(&corpus::dir().join(corpus::file_name(&found))).unwrap();
    assert_eq!(
        stored.schedule, t.schedule,
        "the corpus keeps the minimized one"
    );
}

#[test]
fn only_a_reproducing_violation_minimizes() {
    let mut holds = corpus::read(
        &corpus::dir().join("proptest-timer-free-2016-01-no_free_of_unallocated.json"),
    )
    .unwrap();
    holds.verdict = Verdict::Holds;
    assert!(minimize(&holds)
        .unwrap_err()
        .to_string()
        .contains("only a violated trace"));
    let mut fixed = holds.clone();
    fixed.verdict = Verdict::Violated;
    fixed.preset = Preset::Apr2016;
    let err = minimize(&fixed).unwrap_err().to_string();
    assert!(err.contains("does not reproduce"), "{err}");
}
