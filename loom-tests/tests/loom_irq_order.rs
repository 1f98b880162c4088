//! irq-order under loom: one AP worker, the HSM firmware, the CPU core that
//! takes interrupts and the hardware monitoring agent (one interrupt), with
//! the body (main) as the CS sending one telegram and waiting forever for
//! its answer. Five loom threads, loom's maximum.
//!
//! A hang is a deadlock loom reports: the HSM waits for a completion notice,
//! the worker for the HSM, the CS for the worker, the CPU for an interrupt.
//!
//! Bounds: the collision needs one preemption (the monitor raising while the
//! HSM's interrupt is pending, before the CPU takes it). The clean presets
//! are explored at bound 1 by default (2016-04: ~20k schedules), bound 2
//! under `CHUKEI_DEEP=1` (2016-04: ~1.7M schedules, about two minutes).

use loom_tests::explore::{bound, loom_expect_failure, loom_model};
use loom_tests::Loom;
use patches::{HsmGuard, IrqMode, Preset};
use relay::events::EventKind;
use scenarios::irq_order::{lost_hsm_interrupt, shows_lost_completion_notice};
use scenarios::{RelayCheck, Scenario};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn clean_bound() -> usize {
    bound(1, 2)
}

const CLEAN: [RelayCheck; 3] = [
    RelayCheck::HsmInterruptKept,
    RelayCheck::ExactlyOneReply,
    RelayCheck::NoLeak,
];

#[test]
fn jan_2016_loses_the_completion_notice_and_hangs() {
    let scenario = Scenario::irq_order(Preset::Jan2016);
    assert_eq!(scenario.threads(), 5);
    // No property to check: the failure is the hang, which loom reports.
    let found = loom_expect_failure(1, "deadlock", move |w| {
        scenario.run_and_check::<Loom>(&w.new_log(), &[])
    });
    println!("irq-order 2016-01: {found}");
    assert!(
        shows_lost_completion_notice(&found.events),
        "the hang is the lost completion notice"
    );
    let collapsed = lost_hsm_interrupt(&found.events)
        .expect("the HSM's interrupt collapsed into the monitor's");
    // The collision can hit the decrypt (about event 8) or the encrypt
    // (about event 17: the first HSM round trip, upstream, the second raise).
    assert!(
        (6..=20).contains(&(collapsed + 1)),
        "collapse at event {collapsed}"
    );
    assert!(!found
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Reply { .. })));
}

#[test]
fn mar_2016_does_not_hang() {
    // The monitor is stopped: no second interrupt source, no monitor thread.
    let scenario = Scenario::irq_order(Preset::Mar2016);
    assert_eq!(scenario.threads(), 4);
    let explored = loom_model(clean_bound(), move |w| {
        scenario.run_and_check::<Loom>(&w.new_log(), &CLEAN)
    });
    println!("irq-order 2016-03: {explored}");
    assert!(explored.iterations > 100, "{explored}");
}

#[test]
fn apr_2016_does_not_hang() {
    let scenario = Scenario::irq_order(Preset::Apr2016);
    assert_eq!(scenario.threads(), 5);
    let explored = loom_model(clean_bound(), move |w| {
        scenario.run_and_check::<Loom>(&w.new_log(), &CLEAN)
    });
    println!("irq-order 2016-04: {explored}");
    assert!(explored.iterations > 1_000, "{explored}");
}

/// Physical mode alone (no guard, monitor on) already keeps every
/// completion notice: no schedule hangs, although nothing bounds the wait.
#[test]
fn physical_mode_alone_never_hangs() {
    let mut patches = Preset::Jan2016.patches();
    patches.irq_mode = IrqMode::Physical;
    let scenario = Scenario::irq_order(Preset::Jan2016).patches(patches);
    let explored = loom_model(clean_bound(), move |w| {
        scenario.run_and_check::<Loom>(&w.new_log(), &CLEAN)
    });
    println!("irq-order 2016-01 + Physical: {explored}");
    assert!(explored.iterations > 100, "{explored}");
}

/// The guard alone (Logical mode, monitor on): the interrupt is still lost
/// in some schedules, but the relay answers with an error instead of hanging.
#[test]
fn guard_alone_turns_the_lost_notice_into_an_error() {
    let mut patches = Preset::Jan2016.patches();
    patches.hsm_guard = HsmGuard::ErrorOnInterrupted;
    let scenario = Scenario::irq_order(Preset::Jan2016).patches(patches);
    let lost_and_answered = Arc::new(AtomicUsize::new(0));
    let counter = lost_and_answered.clone();
    let explored = loom_model(clean_bound(), move |w| {
        let run = scenario.run::<Loom>(&w.new_log());
        for p in [RelayCheck::ExactlyOneReply, RelayCheck::NoLeak] {
            p.check(&run).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        if RelayCheck::HsmInterruptKept.check(&run).is_err() {
            assert!(run.any(|k| *k == EventKind::HsmWaitTimedOut));
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let lost = lost_and_answered.load(Ordering::Relaxed);
    println!("irq-order 2016-01 + guard: {explored}; {lost} schedules lost the HSM interrupt and still answered");
    assert!(lost > 0, "the collision happens in some schedule");
}
