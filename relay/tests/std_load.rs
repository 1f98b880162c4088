//! The relay on real OS threads: a few hundred telegrams from several CS
//! terminals at once, every one answered.

use relay::cs::{disagreements, run_cs, run_terminals_on_threads, CsConfig};
use relay::telegram::{CardId, CsId};
use relay::{CsRule, EventKind, EventLog, Preset, Relay, RelayConfig, Std};

const TERMINALS: u16 = 4;
const CARDS_EACH: u64 = 75;

#[test]
fn three_hundred_telegrams_on_real_threads_are_all_answered() {
    let log = EventLog::new();
    let relay = Relay::<Std>::start(RelayConfig::fast(Preset::Proposed), log.clone());
    let reports =
        run_terminals_on_threads(&relay.handle(), TERMINALS, CARDS_EACH, 8, CsRule::Improved);
    let shared = relay.shutdown();
    let seen = shared.observe();

    let issued: usize = reports
        .iter()
        .map(|r| r.cards.values().filter(|c| c.issued).count())
        .sum();
    assert_eq!(issued as u64, TERMINALS as u64 * CARDS_EACH);
    assert_eq!(
        seen.registered_cards.len() as u64,
        TERMINALS as u64 * CARDS_EACH
    );
    assert!(disagreements(&reports, &seen.registered_cards).is_empty());
    assert!(
        seen.answers.values().all(|&n| n == 1),
        "a telegram answered twice"
    );
    assert!(seen.allocated_work_areas.is_empty(), "work areas leaked");
    assert_eq!(shared.admission.in_use(), 0, "admission slots leaked");

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

#[test]
fn a_hung_hsm_is_answered_with_an_error_when_the_guard_is_on() {
    // Logical mode with the monitor on, but the March guard: if the HSM's
    // interrupt is lost the relay answers ErrorHsm instead of hanging.
    let mut config = RelayConfig::fast(Preset::Mar2016);
    config.patches.monitor = relay::Monitor::On;
    config.monitor_period = 1;
    config.hsm_guard_timeout = 50;
    let log = EventLog::new();
    let relay = Relay::<Std>::start(config, log.clone());
    let cards = (0..40).map(CardId).collect();
    let mut cs = CsConfig::new(CsId(1), cards, CsRule::Improved);
    cs.search_timeout = Some(2_000);
    let report = run_cs(&relay.handle(), &cs);
    relay.shutdown();
    // Whether a collision happens is up to the OS; either way nobody hangs
    // and every card ends up issued (retries are the same telegram).
    assert_eq!(report.cards.values().filter(|c| c.issued).count(), 40);
    let events = log.snapshot();
    let lost = events.iter().filter(|e| {
        matches!(
            e.kind,
            EventKind::InterruptCollapsed {
                lost: relay::events::IrqSource::Hsm,
                ..
            }
        )
    });
    let timed_out = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::HsmWaitTimedOut));
    assert!(
        timed_out.count() >= lost.count(),
        "a lost interrupt was not caught by the guard"
    );
}
