//! `RelayConfig::hsm_boards` on the deterministic driver: with the HSM's
//! time dominating, a second board (its own firmware thread, interrupt line
//! and CPU core) relays the same telegrams in about half the virtual time.
//! Virtual time and counts only, so the figures are exact and repeatable.

use relay::crypto::{Direction, SessionCipher};
use relay::sim::{Chooser, Driver, RunOutcome, Sim};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{EventKind, EventLog, Platform, Preset, Relay, RelayConfig, ThreadName};

const TELEGRAMS: u64 = 16;

fn request(config: &RelayConfig, seq: u64) -> Telegram {
    let id = TelegramId(100_000 + seq);
    Telegram {
        kind: TelegramKind::Register,
        cs: CsId(1),
        id,
        card: CardId(seq),
        payload: SessionCipher::new(&config.key).seal(id, Direction::Request, b"register"),
    }
}

/// What one run of `TELEGRAMS` telegrams through `boards` boards showed.
struct Run {
    /// Virtual milliseconds from the first submission to the last answer.
    took: u64,
    /// HSM operations per board.
    operations: Vec<u64>,
    /// Threads that recorded an HSM completion.
    hsm_threads: Vec<ThreadName>,
}

fn run(boards: u16) -> Run {
    let config = RelayConfig {
        workers: 4,
        hsm_boards: boards,
        hsm_latency: 20,
        upstream_latency: 1,
        ..RelayConfig::production(Preset::Proposed)
    };
    let log = EventLog::new();
    let events = log.clone();
    let (report, value) = Driver::new(Chooser::Replay(vec![])).run(move || {
        let relay = Relay::<Sim>::start(config.clone(), log);
        let start = Sim::now();
        for seq in 1..=TELEGRAMS {
            let t = request(&config, seq);
            relay
                .handle()
                .submit(t, ThreadName::Main)
                .expect("admitted");
        }
        for _ in 0..TELEGRAMS {
            let answer = relay.handle().take_reply(CsId(1), None).expect("answered");
            assert_eq!(answer.kind, TelegramKind::ReplyOk);
        }
        let took = Sim::now() - start;
        let operations = relay.shared().hsm_operations();
        relay.shutdown();
        (took, operations)
    });
    assert_eq!(report.outcome, RunOutcome::Completed);
    let (took, operations) = value.expect("the body finished");
    let mut hsm_threads: Vec<ThreadName> = events
        .snapshot()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::HsmDone { .. }))
        .map(|e| e.thread)
        .collect();
    hsm_threads.sort();
    hsm_threads.dedup();
    Run {
        took,
        operations,
        hsm_threads,
    }
}

#[test]
fn two_boards_relay_the_same_telegrams_in_about_half_the_time() {
    let one = run(1);
    let two = run(2);
    // Two operations of 20 ms per telegram, one board: 16 x 40 ms at least.
    assert!(one.took >= TELEGRAMS * 40, "one board took {} ms", one.took);
    assert_eq!(one.operations, vec![2 * TELEGRAMS]);
    assert_eq!(one.hsm_threads, vec![ThreadName::Hsm]);
    // Workers 0 and 2 use board 0, workers 1 and 3 board 1: half each.
    assert_eq!(two.operations, vec![TELEGRAMS, TELEGRAMS]);
    assert_eq!(
        two.hsm_threads,
        vec![ThreadName::Hsm, ThreadName::HsmBoard(1)]
    );
    let speedup = one.took as f64 / two.took as f64;
    println!(
        "{TELEGRAMS} telegrams: one board {} ms, two boards {} ms (x{speedup:.2})",
        one.took, two.took
    );
    assert!(
        speedup > 1.5,
        "two boards: {} ms, one board: {} ms (x{speedup:.2})",
        two.took,
        one.took
    );
}
