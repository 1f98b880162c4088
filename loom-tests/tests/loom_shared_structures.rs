//! The relay's structures shared by many workers, under loom: the work
//! area table and the admission counter. No slot is lost (still held after
//! everyone gave it back) and none is doubled (held by two at once).
//!
//! Bounds: these are small (three threads, a handful of operations), so
//! loom explores them at preemption bound 3 (`CHUKEI_DEEP=1`: unbounded).

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom_tests::explore::{deep, loom_model, UNBOUNDED};
use loom_tests::Loom;
use patches::Preset;
use relay::admission::Admission;
use relay::cs::run_cs;
use relay::events::EventKind;
use relay::platform::Platform;
use relay::telegram::CsId;
use relay::telegram::TelegramId;
use relay::work_area::WorkAreas;
use relay::{EventLog, Relay, Role};
use scenarios::{RelayCheck, RunRecord, Scenario};
use std::collections::BTreeMap;
use std::sync::Arc;

fn small_bound() -> usize {
    if deep() {
        UNBOUNDED
    } else {
        3
    }
}

/// Two workers and main allocate from a table of two areas, each checking
/// that its area is its own until it frees it.
#[test]
fn work_areas_never_double_or_lose_a_slot() {
    let explored = loom_model(small_bound(), |w| {
        w.watch(&EventLog::new());
        let areas = Arc::new(WorkAreas::<Loom>::new(2));
        let held = Arc::new(AtomicUsize::new(0));
        let use_area = |areas: &WorkAreas<Loom>, held: &AtomicUsize, id: u64| {
            if let Some(area) = areas.alloc(TelegramId(id)) {
                let before = held.fetch_add(1, Ordering::SeqCst);
                assert!(before < 2, "three holders of two work areas");
                held.fetch_sub(1, Ordering::SeqCst);
                assert_eq!(
                    areas.free(area, TelegramId(id)),
                    Ok(()),
                    "area {area} was not {id}'s alone"
                );
            }
        };
        let workers: Vec<_> = [1, 2]
            .map(|id| {
                let (areas, held) = (areas.clone(), held.clone());
                Loom::spawn("worker", move || use_area(&areas, &held, id))
            })
            .into_iter()
            .collect();
        use_area(&areas, &held, 3);
        for t in workers {
            Loom::join(t);
        }
        assert_eq!(areas.allocated(), vec![], "a slot was lost");
        assert_eq!(
            (areas.alloc(TelegramId(4)), areas.alloc(TelegramId(5))),
            (Some(0), Some(1))
        );
    });
    println!("work areas: {explored}");
    assert!(explored.iterations > 10, "{explored}");
}

/// Three requests race for two admission slots; each admitted one holds its
/// slot, then releases it. Never three at once; all slots come back.
#[test]
fn admission_never_doubles_or_loses_a_slot() {
    let explored = loom_model(small_bound(), |w| {
        w.watch(&EventLog::new());
        let admission = Arc::new(Admission::<Loom>::new(2));
        let held = Arc::new(AtomicUsize::new(0));
        let request = |admission: &Admission<Loom>, held: &AtomicUsize| match admission.try_admit()
        {
            Ok(()) => {
                let before = held.fetch_add(1, Ordering::SeqCst);
                assert!(
                    before < 2,
                    "a third request was admitted over the limit of 2"
                );
                held.fetch_sub(1, Ordering::SeqCst);
                admission.release();
            }
            Err(excess) => {
                assert_eq!(excess.limit, 2);
                assert!(excess.in_use >= 2, "refused with a free slot: {excess:?}");
            }
        };
        let others: Vec<_> = [0, 1]
            .map(|_| {
                let (admission, held) = (admission.clone(), held.clone());
                Loom::spawn("cs", move || {
                    request(&admission, &held);
                })
            })
            .into_iter()
            .collect();
        request(&admission, &held);
        for t in others {
            Loom::join(t);
        }
        assert_eq!(admission.in_use(), 0, "a slot was lost");
        assert!(admission.try_admit().is_ok() && admission.try_admit().is_ok());
        assert!(admission.try_admit().is_err());
    });
    println!("admission: {explored}");
    assert!(explored.iterations > 10, "{explored}");
}

/// The real relay with two AP workers sharing one work-area table and one
/// admission counter; main sends two telegrams at once (one per worker).
#[test]
fn two_workers_share_the_table_and_the_counter() {
    let bound = if deep() { 3 } else { 2 };
    let explored = loom_model(bound, |w| {
        let scenario = Scenario::timer_free(Preset::Proposed).workers(2).window(2);
        let log = EventLog::new();
        w.watch(&log);
        // Only the workers: the timer race is the other suite.
        let relay = Relay::<Loom>::start_roles(
            scenario.config(),
            log.clone(),
            &[Role::Worker(0), Role::Worker(1)],
        );
        let report = run_cs(&relay.handle(), &scenario.terminal(CsId(1)));
        let shared = relay.shutdown();
        assert_eq!(shared.admission.in_use(), 0, "an admission slot was lost");
        let run = RunRecord {
            events: log.snapshot(),
            observation: shared.observe(),
            terminals: vec![report],
        };
        for p in [RelayCheck::ExactlyOneReply, RelayCheck::NoLeak] {
            p.check(&run).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        // Areas held at the same time are distinct.
        let mut holder: BTreeMap<u32, TelegramId> = BTreeMap::new();
        for e in &run.events {
            match e.kind {
                EventKind::Alloc { area } => {
                    let id = e.telegram.expect("alloc names its telegram");
                    assert_eq!(holder.insert(area, id), None, "area {area} doubled");
                }
                EventKind::Free { area } => {
                    assert_eq!(
                        holder.remove(&area),
                        e.telegram,
                        "area {area} freed by another"
                    );
                }
                _ => {}
            }
        }
        let workers: std::collections::BTreeSet<_> = run
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Alloc { .. }))
            .map(|e| e.thread)
            .collect();
        assert_eq!(workers.len(), 2, "each worker took one telegram");
    });
    println!("two workers: {explored}");
    assert!(explored.iterations > 100, "{explored}");
}

/// The check above has teeth: an admission that reads, then adds (no
/// compare-and-swap) lets two racing requests take the last slot.
#[test]
fn a_check_then_add_admission_is_caught() {
    use loom_tests::explore::loom_expect_failure;
    use relay::platform::Counter;
    let found = loom_expect_failure(2, "over the limit", |w| {
        w.watch(&EventLog::new());
        let in_use = Arc::new(<Loom as Platform>::Counter::new(0));
        let held = Arc::new(AtomicUsize::new(0));
        let request = |in_use: &<Loom as Platform>::Counter, held: &AtomicUsize| {
            if in_use.load() < 1 {
                in_use.fetch_add(1);
                let before = held.fetch_add(1, Ordering::SeqCst);
                assert!(before < 1, "admitted over the limit of 1");
                held.fetch_sub(1, Ordering::SeqCst);
                in_use.fetch_sub(1);
            }
        };
        let other = {
            let (in_use, held) = (in_use.clone(), held.clone());
            Loom::spawn("cs", move || request(&in_use, &held))
        };
        request(&in_use, &held);
        Loom::join(other);
    });
    println!("racy admission: {}", found.explored);
    assert!(found.explored.iterations >= 1);
}
