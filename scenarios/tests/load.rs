//! The whole relay on real OS threads under load: a few hundred telegrams
//! from several CS terminals at once, every one answered.

use relay::cs::disagreements;
use relay::{CsRule, EventKind, EventLog, Preset, RelayConfig, Std};
use scenarios::workload::Workload;

const TERMINALS: u16 = 4;
const CARDS_EACH: u64 = 75;

#[test]
fn three_hundred_telegrams_on_real_threads_are_all_answered() {
    let log = EventLog::new();
    let config = RelayConfig::fast(Preset::Proposed);
    let workload = Workload::load(config, TERMINALS, CARDS_EACH, 8, CsRule::Improved);
    // A worker posts an answer before it gives the slot back, so the last
    // CS can finish a moment before the last slot is free: wait for it,
    // with a deadline (a leaked slot never comes back and fails the test).
    let (run, admitted) = workload.run_inspecting::<Std, _>(&log, |relay, _| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let admission = &relay.shared().admission;
        while admission.in_use() > 0 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        admission.in_use()
    });
    let (reports, seen) = (&run.terminals, &run.observation);

    let issued: usize = reports
        .iter()
        .map(|r| r.cards.values().filter(|c| c.issued).count())
        .sum();
    assert_eq!(issued as u64, TERMINALS as u64 * CARDS_EACH);
    assert_eq!(
        seen.registered_cards.len() as u64,
        TERMINALS as u64 * CARDS_EACH
    );
    assert!(disagreements(reports, &seen.registered_cards).is_empty());
    assert!(
        seen.answers.values().all(|&n| n == 1),
        "a telegram answered twice"
    );
    assert!(seen.allocated_work_areas.is_empty(), "work areas leaked");
    assert_eq!(admitted, 0, "admission slots leaked");

    let events = log.snapshot();
    assert!(!events
        .iter()
        .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. })));
    let per_telegram = events.iter().filter(|e| {
        matches!(
            e.kind,
            EventKind::Alloc { .. } | EventKind::Free { .. } | EventKind::Reply { .. }
        )
    });
    assert!(per_telegram.clone().count() >= 3 * 300);
    assert!(per_telegram.clone().all(|e| e.telegram.is_some()));
}
