//! The bounded-exhaustive driver search (`chukei reproduce --exhaustive`):
//! the hang of 2016-01 needs exactly one preemption, the fixed presets are
//! clean over every schedule up to one, and a cause that needs more than
//! the bound is reported undecided, not clean. Bounds stay small here (every
//! schedule with one preemption runs in under a second); deeper bounds are
//! `chukei reproduce --exhaustive --preemptions 2`.

use relay::sim::Chooser;
use relay::Preset;
use scenarios::exhaustive::{search_bounded, search_exhaustive, search_row, Bound, Coverage};
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

/// One schedule of every kind up to one preemption, each event log also
/// checked against the spec on `spec` (`--conformance`).
fn conformance(cause: Cause, relay: Preset, spec: Preset) -> scenarios::exhaustive::Exhaustive {
    let bound = Bound {
        conformance: Some(spec.into()),
        ..Bound::new(1, 10_000)
    };
    search_bounded(cause, relay, &bound, |_, _| {})
}

#[test]
fn the_april_timer_fix_refines_the_spec_on_every_schedule_with_one_preemption() {
    let r = conformance(Cause::TimerFree, Preset::Apr2016, Preset::Apr2016);
    assert_eq!(
        r.coverage,
        Coverage::Clean { preemptions: 1 },
        "{:?}",
        r.finding.divergence
    );
    assert_eq!(r.schedules_per_level, vec![1, 360]);
    assert!(r.finding.divergence.is_none());
    assert!(
        r.finding.anomalies.is_empty(),
        "every log was validated: {:?}",
        r.finding.anomalies
    );
    assert!(r.as_expected());
}

#[test]
fn a_relay_checked_against_another_presets_spec_diverges_like_a_counterexample() {
    // The April relay checks the allocation before freeing; the spec of
    // 2016-01 does not, so some log leaves it.
    let r = conformance(Cause::TimerFree, Preset::Apr2016, Preset::Jan2016);
    let d = r
        .finding
        .divergence
        .clone()
        .expect("the logs leave the 2016-01 spec");
    assert!(
        matches!(r.coverage, Coverage::Diverged { .. }),
        "{:?}",
        r.coverage
    );
    assert!(!r.finding.reproduced && !r.as_expected());
    // The timeline ends at the divergent event, and its choices replay it.
    assert_eq!(r.finding.timeline.len(), d.index + 1);
    assert_eq!(r.finding.timeline[d.index].to_string(), d.event);
    let again = run_schedule(
        Cause::TimerFree,
        Preset::Apr2016,
        CARDS,
        Chooser::Replay(r.finding.choices.clone()),
    );
    let replayed =
        scenarios::search::diverges(Cause::TimerFree, &Preset::Jan2016.into(), &again.events);
    assert_eq!(replayed.unwrap(), Some(d));
}

#[test]
fn the_bounded_hsm_wait_of_proposed_is_a_step_of_the_irq_order_spec() {
    // Once a finding of --conformance (schedule 59 of one preemption: the
    // relay's bounded wait for the HSM ended where the spec said the relay
    // was not waiting). The spec now reads relay logs under
    // hsm-wait=may-expire, and every schedule stays inside it.
    let r = conformance(Cause::IrqOrder, Preset::Proposed, Preset::Proposed);
    assert_eq!(
        r.coverage,
        Coverage::Clean { preemptions: 1 },
        "{:?}",
        r.finding.divergence
    );
    assert_eq!(r.schedules_per_level, vec![1, 391]);
    assert!(r.finding.anomalies.is_empty(), "{:?}", r.finding.anomalies);
    assert!(r.as_expected());
}

#[test]
fn a_default_row_states_the_bound_a_fixed_preset_is_clean_to() {
    let r = search_row(
        Cause::IrqOrder,
        Preset::Proposed,
        0,
        30,
        &Bound::new(1, 10_000),
        |_| {},
    );
    assert!(!r.finding.reproduced && r.as_expected());
    assert_eq!(r.random_schedules, 30);
    let x = r.exhaustive.as_ref().expect("an exhaustive part");
    assert_eq!(x.coverage, Coverage::Clean { preemptions: 1 });
    assert_eq!((x.bound, x.schedules), (1, 392));
    assert_eq!(r.finding.schedules_tried, 422);
    assert_eq!(
        r.summary(),
        "nothing in 30 random schedules, clean over all 392 schedules up to 1 preemption(s)"
    );
}

#[test]
fn a_default_row_keeps_the_seed_random_search_found() {
    let r = search_row(
        Cause::TimerFree,
        Preset::Jan2016,
        0,
        300,
        &Bound::new(1, 10_000),
        |_| {},
    );
    assert!(r.finding.reproduced && r.as_expected());
    assert_eq!(r.finding.seed, Some(3));
    assert_eq!(r.random_schedules, 4);
    assert!(r.exhaustive.is_none(), "random search decided the row");
    assert_eq!(r.summary(), "found in random schedule 4");
}

/// Every schedule up to `preemptions` of a CS sending `cards` cards, with
/// or without sleep sets.
fn reduced(
    cause: Cause,
    preset: Preset,
    preemptions: u32,
    cards: u64,
    sleep_sets: bool,
) -> scenarios::exhaustive::Exhaustive {
    let bound = Bound {
        sleep_sets,
        cards,
        ..Bound::new(preemptions, 100_000)
    };
    search_bounded(cause, preset, &bound, |_, _| {})
}

#[test]
fn sleep_sets_keep_the_verdict_and_the_bound_with_half_the_schedules() {
    // The timer race of 2016-03 with one card needs two preemptions with
    // and without the reduction; the reduction skips the schedules that only
    // reorder independent steps of one already run (level 1 is never
    // reduced: a level-0 run has nothing asleep).
    let full = reduced(Cause::TimerFree, Preset::Mar2016, 2, 1, false);
    let sleep = reduced(Cause::TimerFree, Preset::Mar2016, 2, 1, true);
    assert_eq!(full.coverage, Coverage::Found { preemptions: 2 });
    assert_eq!(sleep.coverage, full.coverage);
    assert!(full.finding.reproduced && sleep.finding.reproduced);
    assert_eq!(full.schedules_per_level, vec![1, 154, 10121]);
    assert_eq!(sleep.schedules_per_level, vec![1, 154, 5168]);
    assert_eq!(sleep.finding.to_trace().sizes["cards"], 1);
}
