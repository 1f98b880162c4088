//! `chukei check --bitstate`: a violation it finds is real and as short as
//! the exact search's; a verdict that rests on a state not being found is
//! never a plain `holds`: the row says it is not a proof and with what
//! probability a state was missed (text and JSON); liveness is left
//! inconclusive.

use model::bitstate::Bitstate;
use model::{SpecName, Verdict};
use patches::Preset;
use stateright_models::{render_matrix, CheckRequest, CheckResult};

fn check(preset: Preset, log2_bits: u32) -> Vec<CheckResult> {
    CheckRequest::new(SpecName::TimerFree, preset)
        .bitstate(Some(Bitstate::new(log2_bits)))
        .run(&mut |_| {})
        .expect("default sizes")
}

fn row<'a>(results: &'a [CheckResult], property: &str) -> &'a CheckResult {
    results.iter().find(|r| r.property == property).unwrap()
}

#[test]
fn violations_are_found_as_short_as_exactly_and_holds_carries_the_caveat() {
    let results = check(Preset::Apr2016, 20);
    let exact = CheckRequest::new(SpecName::TimerFree, Preset::Apr2016)
        .run(&mut |_| {})
        .expect("default sizes");
    let stale = row(&results, "no_spurious_termination");
    assert_eq!(stale.verdict, Verdict::Violated);
    assert_eq!(stale.checker, "bitstate");
    assert_eq!(stale.counterexample_len, Some(10));
    assert_eq!(
        stale.counterexample_len,
        row(&exact, "no_spurious_termination").counterexample_len
    );
    assert_eq!(stale.caveat, None, "a violation found replays: it is real");

    let holds = row(&results, "no_free_of_unallocated");
    assert_eq!(holds.verdict, Verdict::Holds);
    let caveat = holds.caveat.as_deref().expect("a holds carries its caveat");
    assert!(caveat.contains("not a proof"), "{caveat}");
    let note = holds.bitstate.expect("the table is reported");
    assert_eq!((note.log2_bits, note.hashes, note.states), (20, 3, 2700));
    assert!(note.miss_probability > 0.0 && note.miss_probability < 1e-3);

    let liveness = row(&results, "telegrams_finish");
    assert_eq!(liveness.verdict, Verdict::Inconclusive);
    assert!(liveness.caveat.as_deref().unwrap().contains("liveness"));

    let json = serde_json::to_value(holds).unwrap();
    assert!(json["caveat"].as_str().unwrap().contains("not a proof"));
    assert!(json["bitstate"]["miss_probability"].as_f64().unwrap() > 0.0);

    let text = render_matrix(&results);
    assert!(text.contains("BITSTATE timer-free 2016-04: 2700 states in 2^20 bits"));
    let holds_line = text
        .lines()
        .find(|l| l.contains("no_free_of_unallocated"))
        .unwrap();
    assert!(
        holds_line.ends_with("(not a proof: bitstate)"),
        "{holds_line}"
    );
}

#[test]
fn a_table_too_small_says_it_probably_missed_states() {
    let results = check(Preset::Proposed, 13);
    let holds = row(&results, "no_free_of_unallocated");
    assert_eq!(holds.verdict, Verdict::Holds);
    let note = holds.bitstate.unwrap();
    assert!(note.states < 2598, "{} of 2598 classes", note.states);
    assert!(note.miss_probability > 0.5, "{}", note.miss_probability);
    assert!(holds.caveat.as_deref().unwrap().contains("not a proof"));
}
