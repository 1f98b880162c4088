//! relayd end to end on loopback: real CS terminals over TCP against the real
//! relay on real threads.

use relay::{CsRule, EventKind, EventLog, Preset, RelayConfig};
use server::{run_load, LoadConfig, Relayd, ServerConfig};
use std::net::TcpListener;
use std::time::Duration;

fn start(config: ServerConfig, log: &EventLog) -> Relayd {
    let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral loopback port");
    Relayd::start(listener, config, log.clone()).expect("relayd starts")
}

fn short_load(relayd: &Relayd, rule: CsRule, rate: f64) -> LoadConfig {
    let mut load = LoadConfig::new(vec![relayd.local_addr()], 8, rate, Duration::from_secs(1));
    load.rule = rule;
    load.search_timeout = Duration::from_secs(2);
    load.block_for = Duration::from_millis(200);
    load.backoff = Duration::from_millis(20);
    load.answer_deadline = Duration::from_secs(3);
    load
}

#[test]
fn proposed_with_the_improved_rule_loses_nothing_and_agrees_on_every_card() {
    let log = EventLog::new();
    let relayd = start(ServerConfig::new(RelayConfig::fast(Preset::Proposed)), &log);
    let report = run_load(short_load(&relayd, CsRule::Improved, 400.0), |_| {});
    let registered = relayd.relay().shared().upstream.registered();
    let shutdown = relayd.shutdown();

    assert_eq!(report.cards, 400);
    assert_eq!(report.lost, 0, "{report:#?}");
    assert_eq!(report.disagreements, 0, "{report:#?}");
    assert_eq!(report.issued, report.cards, "{report:#?}");
    assert_eq!(registered.len() as u64, report.cards);
    assert!(report.answered >= report.cards);
    assert!(report.latency_ms.p50 > 0.0 && report.latency_ms.max >= report.latency_ms.p99);
    let stats = shutdown.stats;
    assert_eq!(stats.unaccounted(), 0, "{stats:?}");
    assert_eq!(stats.lost_by_relay, 0);
    assert_eq!(stats.admitted, report.admitted);
    let events = log.snapshot();
    assert!(!events
        .iter()
        .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. })));
}

/// 2016-01 with a telegram timer as short as the relay work: timeouts fire
/// at the moment of the reset, and the stale notice frees an unallocated
/// work area (root cause 2) on real threads behind TCP. Whether a given run
/// hits the race is up to the OS scheduler, so the test tries a few short
/// loads and asserts the fault is seen in at least one of them.
#[test]
fn jan_2016_with_a_short_timer_shows_the_timer_free_fault_over_tcp() {
    const RUNS: usize = 5;
    let mut seen_in = 0;
    let mut lost_total = 0;
    for _ in 0..RUNS {
        let mut relay = RelayConfig::fast(Preset::Jan2016);
        relay.telegram_timeout = 1;
        // The 2-hour monitor of production: no HSM hang in a one-second run,
        // so what shows is the timer race alone.
        relay.monitor_period = RelayConfig::production(Preset::Jan2016).monitor_period;
        let mut config = ServerConfig::new(relay);
        config.answer_deadline = Duration::from_millis(500);
        config.drain = Duration::from_millis(500);
        let log = EventLog::new();
        let relayd = start(config, &log);
        let mut load = short_load(&relayd, CsRule::Improved, 300.0);
        load.answer_deadline = Duration::from_secs(2);
        load.search_timeout = Duration::from_millis(700);
        // 60 cards: almost every attempt ends in a timeout and is retried,
        // paced like a first send, so a short run is enough.
        load.duration = Duration::from_millis(200);
        let report = run_load(load, |_| {});
        relayd.shutdown();
        let freed_unallocated = log
            .snapshot()
            .iter()
            .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. }));
        seen_in += freed_unallocated as usize;
        lost_total += report.lost;
        if seen_in > 0 {
            break;
        }
    }
    assert!(
        seen_in > 0,
        "no free of an unallocated work area in {RUNS} runs of 2016-01 with a 1 ms timer"
    );
    // The AP's abnormal termination drops the telegrams queued to it: the
    // load tool reports them lost (unless none happened to be queued).
    eprintln!("timer/free fault seen; telegrams lost in those runs: {lost_total}");
}

/// Several targets are the distributor in front of several relays (2 in
/// January 2016, 4 later): the load goes round-robin over them, and each
/// relay admits its share and loses nothing.
#[test]
fn several_targets_share_the_load_round_robin() {
    let log = EventLog::new();
    let relays = [
        start(ServerConfig::new(RelayConfig::fast(Preset::Proposed)), &log),
        start(ServerConfig::new(RelayConfig::fast(Preset::Proposed)), &log),
    ];
    let mut load = short_load(&relays[0], CsRule::Improved, 400.0);
    load.targets = relays.iter().map(Relayd::local_addr).collect();
    load.duration = Duration::from_millis(300);
    let report = run_load(load, |_| {});
    let admitted: Vec<u64> = relays
        .into_iter()
        .map(|r| r.shutdown().stats.admitted)
        .collect();

    assert_eq!(report.cards, 120);
    assert_eq!((report.lost, report.disagreements), (0, 0), "{report:#?}");
    assert_eq!(admitted.iter().sum::<u64>(), report.admitted);
    // Round-robin per telegram: the two shares differ by one at most.
    assert!(admitted[0].abs_diff(admitted[1]) <= 1, "{admitted:?}");
}
