//! Shuttle on relays bigger than loom can finish: several AP workers and CS
//! terminals, three or more telegrams, the HSM board and the timer service
//! together. Seeded PCT and random schedulers, so every run is the same.
//!
//! A failure found here is printed with its schedule and stored as a
//! regression trace in `regressions/corpus/` (when the file is missing, or
//! under `CHUKEI_BLESS=1`; a different schedule than the stored one fails);
//! `regressions/tests/corpus.rs` replays every stored one.
//! `CHUKEI_DEEP=1` multiplies the number of schedules by 20.

use loom_tests::explore::{deep, shuttle_expect_failure, shuttle_model, Found, Search};
use loom_tests::traces::trace_of;
use loom_tests::Shuttle;
use patches::Preset;
use regressions::corpus::{self, Kept};
use relay::events::EventKind;
use scenarios::irq_order::shows_lost_completion_notice;
use scenarios::irq_order::RELAY_NEVER_HANGS;
use scenarios::timer_free::spurious_terminations;
use scenarios::{RelayCheck, Scenario};

fn schedules(default: usize) -> usize {
    if deep() {
        default * 20
    } else {
        default
    }
}

/// PCT depth 3: the timer race and the interrupt collision each need two or
/// three ordering constraints between threads.
const PCT: Search = Search::Pct {
    seed: 2016,
    depth: 3,
};
const RANDOM: Search = Search::Random { seed: 316 };

/// Three terminals with two telegrams each on two workers, timer service,
/// in-process crypto: 6 telegrams, 7 threads.
fn timer_free_big(preset: Preset) -> Scenario {
    Scenario::timer_free(preset)
        .terminals(3)
        .telegrams(2)
        .workers(2)
}

/// Through the HSM board, two terminals keeping two telegrams in flight each,
/// two workers: 4 telegrams, 7 threads; the full preset (guard included).
fn timer_free_hsm(preset: Preset) -> Scenario {
    Scenario::timer_free(preset)
        .through_hsm()
        .terminals(2)
        .telegrams(2)
        .window(2)
        .workers(2)
}

/// Two workers, two terminals with two telegrams each, HSM, CPU and a
/// monitor raising twice: 4 telegrams, 7 threads.
fn irq_order_big(preset: Preset) -> Scenario {
    Scenario::irq_order(preset)
        .terminals(2)
        .telegrams(2)
        .workers(2)
        .monitor_raises(2)
}

/// Keeps a found failure as a minimized trace (the same schedule as the
/// stored one, or a new file) and checks the trace reads back.
fn keep(found: &Found, scenario: &Scenario, property: &str, search: Search) {
    let found_trace = trace_of(found, scenario, property, search);
    let trace = regressions::minimize(&found_trace)
        .expect("the found schedule minimizes")
        .trace;
    let back = model::Trace::from_json(&trace.to_json_pretty()).expect("the trace reads back");
    assert_eq!(back, trace);
    match corpus::keep(&trace) {
        Ok(Kept::Written(path)) => println!("stored {}", path.display()),
        Ok(Kept::Unchanged(path)) => println!("already in the corpus: {}", path.display()),
        Err(e) => panic!("{e}"),
    }
}

fn expect_free_of_unallocated(search: Search, n: usize) -> Found {
    let scenario = timer_free_big(Preset::Jan2016);
    let s = scenario.clone();
    let found = shuttle_expect_failure(
        search,
        n,
        "property `no_free_of_unallocated` violated on 2016-01",
        move |w| s.run_and_check::<Shuttle>(&w.new_log(), &[RelayCheck::NoFreeOfUnallocated]),
    );
    assert!(found
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. })));
    let steps = found.schedule.as_ref().map_or(0, |s| s.steps);
    assert!(steps > 20, "a schedule of {steps} steps");
    keep(
        &found,
        &scenario,
        RelayCheck::NoFreeOfUnallocated.name(),
        search,
    );
    found
}

#[test]
fn timer_free_2016_01_pct_finds_the_free_of_an_unallocated_work_area() {
    expect_free_of_unallocated(PCT, 200);
}

#[test]
fn timer_free_2016_01_random_finds_the_free_of_an_unallocated_work_area() {
    expect_free_of_unallocated(RANDOM, 200);
}

/// The review's open question on the full 2016-04 preset (low-priority
/// notices, the HSM board, the guard): yes, a stale notice terminates the
/// next, healthy telegram after it allocated.
#[test]
fn timer_free_2016_04_terminates_a_healthy_telegram() {
    let scenario = timer_free_hsm(Preset::Apr2016);
    let s = scenario.clone();
    let found = shuttle_expect_failure(
        PCT,
        300,
        "property `no_spurious_termination` violated on 2016-04",
        move |w| s.run_and_check::<Shuttle>(&w.new_log(), &[RelayCheck::NoSpuriousTermination]),
    );
    let victims = spurious_terminations(&found.events);
    assert!(!victims.is_empty());
    assert!(victims.iter().all(|s| Some(s.victim) != s.set_by));
    keep(
        &found,
        &scenario,
        RelayCheck::NoSpuriousTermination.name(),
        PCT,
    );
}

#[test]
fn timer_free_2016_04_never_frees_an_unallocated_work_area() {
    let checks = [
        RelayCheck::NoFreeOfUnallocated,
        RelayCheck::ExactlyOneReply,
        RelayCheck::NoLeak,
    ];
    for scenario in [
        timer_free_big(Preset::Apr2016),
        timer_free_hsm(Preset::Apr2016),
    ] {
        for search in [PCT, RANDOM] {
            let s = scenario.clone();
            let explored = shuttle_model(search, schedules(3_000), move |w| {
                s.run_and_check::<Shuttle>(&w.new_log(), &checks)
            });
            println!("timer-free 2016-04 {:?}: {explored}", scenario.crypto);
            assert_eq!(explored.iterations, schedules(3_000));
        }
    }
}

#[test]
fn timer_free_proposed_holds_every_property() {
    for scenario in [
        timer_free_big(Preset::Proposed),
        timer_free_hsm(Preset::Proposed),
    ] {
        for search in [PCT, RANDOM] {
            let s = scenario.clone();
            let explored = shuttle_model(search, schedules(3_000), move |w| {
                s.run_and_check::<Shuttle>(&w.new_log(), &RelayCheck::TIMER_FREE)
            });
            println!("timer-free proposed {:?}: {explored}", scenario.crypto);
            assert_eq!(explored.iterations, schedules(3_000));
        }
    }
}

#[test]
fn irq_order_2016_01_hangs_on_a_lost_completion_notice() {
    let scenario = irq_order_big(Preset::Jan2016);
    let s = scenario.clone();
    let found = shuttle_expect_failure(RANDOM, 300, "deadlock", move |w| {
        s.run_and_check::<Shuttle>(&w.new_log(), &[])
    });
    assert!(shows_lost_completion_notice(&found.events), "{found}");
    keep(&found, &scenario, RELAY_NEVER_HANGS, RANDOM);
}

#[test]
fn irq_order_2016_03_and_2016_04_do_not_hang() {
    let checks = [
        RelayCheck::HsmInterruptKept,
        RelayCheck::ExactlyOneReply,
        RelayCheck::NoLeak,
    ];
    for preset in [Preset::Mar2016, Preset::Apr2016, Preset::Proposed] {
        for search in [PCT, RANDOM] {
            let s = irq_order_big(preset);
            let explored = shuttle_model(search, schedules(3_000), move |w| {
                s.run_and_check::<Shuttle>(&w.new_log(), &checks)
            });
            println!("irq-order {preset}: {explored}");
            assert_eq!(explored.iterations, schedules(3_000));
        }
    }
}
