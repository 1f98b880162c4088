//! The bounded-exhaustive driver search (`chukei reproduce --exhaustive`):
//! the hang of 2016-01 needs exactly one preemption, the fixed presets are
//! clean over every schedule up to one, and a cause that needs more than
//! the bound is reported undecided, not clean. Bounds stay small here (every
//! schedule with one preemption runs in under a second); deeper bounds are
//! `chukei reproduce --exhaustive --preemptions 2`.

use relay::sim::Chooser;
use relay::Preset;
use scenarios::exhaustive::{search_exhaustive, Coverage};
use scenarios::search::{run_schedule, up_to_symptom, Cause, CARDS};

#[test]
fn the_lost_interrupt_of_2016_01_needs_exactly_one_preemption() {
    let r = search_exhaustive(Cause::IrqOrder, Preset::Jan2016, 1, 10_000, |_, _| {});
    assert!(r.finding.reproduced, "{}", r.summary());
    assert_eq!(r.coverage, Coverage::Found { preemptions: 1 });
    // The non-preemptive schedule, then the one-preemption schedules in
    // order until the 78th loses the HSM's interrupt.
    assert_eq!(r.schedules_per_level, vec![1, 78]);
    assert_eq!(r.finding.schedules_tried, 79);
    assert!(r.finding.anomalies.is_empty(), "{:?}", r.finding.anomalies);
    assert!(r.as_expected() && !r.inconclusive());
    let collapse = r.finding.timeline.iter().any(|e| {
        e.to_string()
            .contains("interrupt-collapsed kept=monitor lost=hsm")
    });
    assert!(collapse, "the timeline shows the lost interrupt");
}

#[test]
fn an_exhaustive_finding_replays_from_its_choices() {
    let r = search_exhaustive(Cause::IrqOrder, Preset::Jan2016, 1, 10_000, |_, _| {});
    let again = run_schedule(
        Cause::IrqOrder,
        Preset::Jan2016,
        CARDS,
        Chooser::Replay(r.finding.choices.clone()),
    );
    assert!(again.reproduced);
    assert_eq!(
        up_to_symptom(Cause::IrqOrder, again.events),
        r.finding.timeline
    );
}

#[test]
fn the_physical_mode_fix_is_clean_over_every_schedule_with_one_preemption() {
    let r = search_exhaustive(Cause::IrqOrder, Preset::Proposed, 1, 10_000, |_, _| {});
    assert!(!r.finding.reproduced);
    assert_eq!(r.coverage, Coverage::Clean { preemptions: 1 });
    assert_eq!(r.schedules_per_level, vec![1, 391]);
    assert!(r.as_expected() && !r.inconclusive());
    assert!(r
        .summary()
        .starts_with("clean over all 392 schedules up to 1"));
}

#[test]
fn a_race_needing_more_preemptions_than_the_bound_is_undecided_not_clean() {
    // The timer race of 2016-01 needs two preemptions (the timer fires just
    // before the reset, then the notice is retrieved late).
    let r = search_exhaustive(Cause::TimerFree, Preset::Jan2016, 1, 10_000, |_, _| {});
    assert!(!r.finding.reproduced);
    assert_eq!(r.coverage, Coverage::Clean { preemptions: 1 });
    assert!(r.inconclusive(), "expected on 2016-01, not found within 1");
    assert!(
        r.as_expected(),
        "a too-small bound is not a failed expectation"
    );
}

#[test]
fn a_spent_budget_says_how_far_it_was_complete() {
    let r = search_exhaustive(Cause::IrqOrder, Preset::Proposed, 2, 10, |_, _| {});
    assert_eq!(r.finding.schedules_tried, 10);
    assert_eq!(
        r.coverage,
        Coverage::BudgetSpent {
            complete_to: Some(0)
        }
    );
    assert!(
        r.summary()
            .contains("clean up to 0 preemption(s), 1 partly"),
        "{}",
        r.summary()
    );
}
