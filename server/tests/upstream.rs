//! A separate upstream server (`chukei upstream`) behind relayd: it serves
//! the relay like the in-process one, and when it goes away and comes back
//! the relay answers `ErrorUpstream` meanwhile and loses nothing.

use relay::upstream::Upstream;
use relay::{CsRule, EventLog, Preset, RelayConfig, Std};
use server::{run_load, LoadConfig, LoadReport, Relayd, ServerConfig, ServerStats, UpstreamServer};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

fn upstream_on(listener: TcpListener, register: &Arc<Upstream<Std>>) -> UpstreamServer {
    UpstreamServer::start(listener, register.clone(), SECOND).expect("upstream starts")
}

fn relayd_linked_to(upstream: SocketAddr) -> Relayd {
    let mut config = ServerConfig::new(RelayConfig::fast(Preset::Proposed));
    config.frame_deadline = Duration::from_millis(200);
    config.upstream = Some(upstream);
    let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral loopback port");
    Relayd::start(listener, config, EventLog::new()).expect("relayd starts")
}

fn load(addr: SocketAddr, rate: f64, duration: Duration) -> LoadConfig {
    let mut load = LoadConfig::new(vec![addr], 4, rate, duration);
    load.rule = CsRule::Improved;
    load.search_timeout = 2 * SECOND;
    load.backoff = Duration::from_millis(10);
    load.block_for = Duration::from_millis(100);
    load.answer_deadline = 5 * SECOND;
    load
}

fn nothing_lost(report: &LoadReport, stats: &ServerStats) {
    assert_eq!(report.lost, 0, "{report:#?}");
    assert_eq!(report.answered, report.admitted, "{report:#?}");
    assert_eq!(stats.lost_by_relay, 0, "{stats:?}");
    assert_eq!(stats.unaccounted(), 0, "{stats:?}");
    assert_eq!(report.disagreements, 0, "{report:#?}");
}

#[test]
fn a_separate_upstream_registers_every_card_the_relay_forwards() {
    let register = Arc::new(Upstream::<Std>::new(1, 8));
    let upstream = upstream_on(TcpListener::bind("127.0.0.1:0").unwrap(), &register);
    let relayd = relayd_linked_to(upstream.local_addr());
    let report = run_load(
        load(relayd.local_addr(), 200.0, Duration::from_millis(400)),
        |_| {},
    );
    let stats = relayd.shutdown().stats;
    let served = upstream.shutdown();

    nothing_lost(&report, &stats);
    assert_eq!(stats.upstream_errors, 0);
    assert_eq!(report.issued, report.cards, "{report:#?}");
    assert_eq!(register.registered().len() as u64, report.cards);
    assert!(served.answered >= report.cards, "{served:?}");
}

#[test]
fn an_upstream_that_goes_away_and_comes_back_costs_errors_not_losses() {
    let register = Arc::new(Upstream::<Std>::new(1, 8));
    let first = upstream_on(TcpListener::bind("127.0.0.1:0").unwrap(), &register);
    let addr = first.local_addr();
    let relayd = relayd_linked_to(addr);
    let target = relayd.local_addr();
    let run = std::thread::spawn(move || {
        run_load(load(target, 200.0, Duration::from_millis(900)), |_| {})
    });
    std::thread::sleep(Duration::from_millis(200));
    // Away: the listener closes and the requests in progress get no answer.
    let before = first.kill();
    std::thread::sleep(Duration::from_millis(300));
    // Back on the same address, with the same register (its database).
    let listener = TcpListener::bind(addr).expect("the upstream's port again");
    let second = upstream_on(listener, &register);
    let report = run.join().expect("the load run ends");
    let stats = relayd.shutdown().stats;
    let after = second.shutdown();

    nothing_lost(&report, &stats);
    assert!(
        before.answered > 0,
        "served before it went away: {before:?}"
    );
    assert!(
        stats.upstream_errors > 0,
        "the relay saw the upstream away: {stats:?}"
    );
    let error_answers = report.answers.get("error-upstream").copied().unwrap_or(0);
    assert!(
        error_answers > 0,
        "the terminals got ErrorUpstream: {report:#?}"
    );
    assert!(after.answered > 0, "served again once back: {after:?}");
    // Every card the terminals hold as issued is on record.
    assert!(register.registered().len() as u64 >= report.issued);
}
