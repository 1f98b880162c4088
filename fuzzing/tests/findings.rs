//! Inputs on which a fuzz target once panicked (`fuzz/findings/NAME/`),
//! each with the clear answer it gets now. Every finding of a deep run is
//! added here with its fix.

use fuzzing::runner;
use regressions::Outcome;
use std::path::Path;

fn finding(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/findings")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_finding_runs_clean_through_its_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/findings");
    let mut found = 0;
    for target in fuzzing::TARGETS {
        let Ok(files) = std::fs::read_dir(dir.join(target.name)) else {
            continue;
        };
        for file in files {
            let input = std::fs::read(file.unwrap().path()).unwrap();
            if let Err(crash) = runner::one(target, &input) {
                panic!("{crash}");
            }
            found += 1;
        }
    }
    assert!(found >= 1, "the findings are checked in");
}

/// trace_replay, stable runner, seed 0: a shuttle schedule string whose
/// steps are cut short made shuttle's decoder index out of bounds
/// ("range 31..33 out of bounds: 32"); now the trace is unreadable, and
/// says why.
#[test]
fn a_cut_short_shuttle_schedule_is_unreadable_not_a_panic() {
    let text =
        String::from_utf8(finding("trace_replay", "shuttle-schedule-cut-short.json")).unwrap();
    let trace = model::Trace::from_json(&text).expect("the trace parses");
    let judged = regressions::judge(&trace, None);
    match &judged.outcome {
        Outcome::Unreadable(why) => assert_eq!(
            why,
            "the shuttle schedule does not decode: step 14 of 22 is cut short"
        ),
        other => panic!("{other:?}"),
    }
}

fn unreadable(trace: &model::Trace) -> String {
    match regressions::judge(trace, None).outcome {
        Outcome::Unreadable(why) => why,
        other => panic!("{other:?}"),
    }
}

/// trace_replay, stable runner, seed 0: a driver trace of
/// `cards: 4294967295` allocated its cards before the first step (a
/// 34 GB allocation, an abort); now a driver trace's sizes are checked.
#[test]
fn a_driver_trace_gets_only_the_sizes_it_uses() {
    let text = String::from_utf8(finding("trace_replay", "driver-cards-huge.json")).unwrap();
    let mut trace = model::Trace::from_json(&text).expect("the trace parses");
    assert_eq!(
        unreadable(&trace),
        "`cards` is 4294967295: a driver trace sends 1 to 64 cards"
    );
    trace.sizes.insert("cards".into(), 0);
    assert_eq!(
        unreadable(&trace),
        "`cards` is 0: a driver trace sends 1 to 64 cards"
    );
    trace.sizes.insert("cards".into(), 3);
    trace.sizes.insert("workers".into(), 2);
    assert_eq!(
        unreadable(&trace),
        "driver traces have one size, `cards`; `workers` is not used by the run"
    );
    trace.sizes.remove("workers");
    assert_eq!(
        regressions::judge(&trace, None).outcome,
        Outcome::Reproduced
    );
}

/// trace_replay, stable runner, seed 0: a shuttle trace of
/// `telegrams: 4294967295` allocated a terminal's telegrams before the run
/// (a 34 GB allocation, an abort); now a scenario's sizes are bounded and
/// known.
#[test]
fn a_shuttle_trace_gets_only_bounded_known_sizes() {
    let text = String::from_utf8(finding("trace_replay", "shuttle-telegrams-huge.json")).unwrap();
    let mut trace = model::Trace::from_json(&text).expect("the trace parses");
    assert_eq!(
        unreadable(&trace),
        "size `telegrams` = 4294967295 is past 64, the most a replayed scenario takes"
    );
    trace.sizes.insert("telegrams".into(), 2);
    trace.sizes.insert("cards".into(), 2);
    assert!(
        unreadable(&trace).starts_with("size `cards` is not a size of a replayed scenario"),
        "{}",
        unreadable(&trace)
    );
}
