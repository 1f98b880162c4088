//! The relay on real OS threads: a lost HSM interrupt is caught by the
//! guard. (The load test with several terminals is `scenarios/tests/load.rs`.)

use relay::cs::{run_cs, CsConfig};
use relay::telegram::{CardId, CsId};
use relay::{CsRule, EventKind, EventLog, Preset, Relay, RelayConfig, Std};

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
