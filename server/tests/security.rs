//! Per-CS authentication on loopback: sealed terminals are served; forged,
//! tampered, replayed, other-CS, unknown-CS and unsealed telegrams are
//! rejected with their reason and never reach the relay or upstream.

use relay::crypto::{Direction, SessionCipher};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{EventKind, EventLog, Preset, RelayConfig, Retention};
use server::frame::{read_frame, write_frame};
use server::seal::{KeyRing, Leg};
use server::{run_load, LoadConfig, Relayd, ServerConfig};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

fn keys() -> KeyRing {
    KeyRing::new((1..=4).map(|cs| (CsId(cs), [cs as u8; 32])))
}

fn start(log: &EventLog) -> Relayd {
    let mut config = ServerConfig::new(RelayConfig::fast(Preset::Proposed));
    config.keys = Some(Arc::new(keys()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    Relayd::start(listener, config, log.clone()).unwrap()
}

/// A registration as CS `cs` writes it (inner payload sealed with the
/// session key the HSM holds).
fn registration(cs: u16, id: u64, card: u64) -> Telegram {
    let session = SessionCipher::new(&RelayConfig::fast(Preset::Proposed).key);
    Telegram {
        kind: TelegramKind::Register,
        cs: CsId(cs),
        id: TelegramId(id),
        card: CardId(card),
        payload: session.seal(TelegramId(id), Direction::Request, b"register"),
    }
}

/// Sends one frame and returns the first thing the relay says.
fn send(addr: SocketAddr, t: &Telegram) -> (TcpStream, Telegram) {
    let mut c = TcpStream::connect_timeout(&addr, SECOND).unwrap();
    write_frame(&mut c, t, SECOND).unwrap();
    let first = read_frame(&mut c, SECOND).unwrap();
    (c, first)
}

fn rejected_for(addr: SocketAddr, t: &Telegram, reason: &str) {
    let (_, first) = send(addr, t);
    assert_eq!(first.kind, TelegramKind::ErrorRejected, "{t:?}");
    assert_eq!(String::from_utf8_lossy(&first.payload), reason);
}

#[test]
fn sealed_terminals_are_served_end_to_end() {
    let log = EventLog::new();
    let relayd = start(&log);
    let mut load = LoadConfig::new(vec![relayd.local_addr()], 4, 200.0, SECOND / 2);
    load.keys = Some(Arc::new(keys()));
    load.search_timeout = 2 * SECOND;
    load.answer_deadline = 3 * SECOND;
    load.backoff = Duration::from_millis(10);
    load.block_for = Duration::from_millis(100);
    // Two runs against the one relayd, as an operator runs them: new cards
    // and, by themselves, new telegram IDs, so the second run is not
    // mistaken for replays of the first (it was, when IDs were per terminal
    // only).
    let mut second = load.clone();
    second.first_card = 10_000;
    second.run = load.run + 1;
    let first = run_load(load, |_| {});
    let again = run_load(second, |_| {});
    let stats = relayd.shutdown().stats;
    for report in [&first, &again] {
        assert_eq!(report.issued, report.cards, "{report:#?}");
        assert_eq!(report.lost, 0);
        assert!(report.errors.is_empty(), "{report:#?}");
    }
    assert!(stats.rejected.is_empty(), "{stats:?}");
}

#[test]
fn forged_tampered_replayed_other_cs_and_unsealed_telegrams_are_rejected_by_reason() {
    let log = EventLog::new();
    let relayd = start(&log);
    let addr = relayd.local_addr();
    let ring = keys();
    let seal = |sender: u16, attempt: u8, t: &Telegram| {
        ring.seal(CsId(sender), attempt, Leg::Request, t).unwrap()
    };

    // Authentic: admitted, and the answer opens under the CS's key.
    let good = seal(1, 0, &registration(1, 100_001, 10));
    let (mut c, ack) = send(addr, &good);
    assert_eq!(
        ring.open(Leg::Acknowledgement, &ack).unwrap().telegram.kind,
        TelegramKind::Accepted
    );
    let answer = read_frame(&mut c, SECOND).unwrap();
    assert_eq!(
        ring.open(Leg::Answer, &answer).unwrap().telegram.kind,
        TelegramKind::ReplyOk
    );

    // Replayed: the same bytes again.
    rejected_for(addr, &good, "replayed");
    // Forged: sealed with a key that is not CS 1's.
    let forger = KeyRing::new([(CsId(1), [0xAA; 32])]);
    let forged = forger
        .seal(CsId(1), 0, Leg::Request, &registration(1, 100_002, 11))
        .unwrap();
    rejected_for(addr, &forged, "unauthentic");
    // Tampered: the card number changed on the way, or a body bit.
    let mut card_changed = seal(1, 0, &registration(1, 100_003, 12));
    card_changed.card = CardId(13);
    rejected_for(addr, &card_changed, "unauthentic");
    let mut bit_flipped = seal(1, 0, &registration(1, 100_004, 14));
    *bit_flipped.payload.last_mut().unwrap() ^= 1;
    rejected_for(addr, &bit_flipped, "unauthentic");
    // Another CS's telegram: CS 2 authentically sends one of CS 1's.
    rejected_for(addr, &seal(2, 0, &registration(1, 100_005, 15)), "other-cs");
    // A CS with no key, and a telegram with no envelope.
    let stranger = KeyRing::new([(CsId(9), [9; 32])]);
    let unknown = stranger
        .seal(CsId(9), 0, Leg::Request, &registration(9, 900_001, 16))
        .unwrap();
    rejected_for(addr, &unknown, "unknown-cs");
    // An unsealed request as a CS without keys sends it (session-sealed
    // payload, no envelope): not sealed, not an unknown CS.
    rejected_for(addr, &registration(1, 100_006, 17), "not-sealed");
    // A retry of the good telegram is a new attempt, not a replay.
    let (mut c, ack) = send(addr, &seal(1, 1, &registration(1, 100_001, 10)));
    assert_eq!(
        ring.open(Leg::Acknowledgement, &ack).unwrap().telegram.kind,
        TelegramKind::Accepted
    );
    read_frame(&mut c, SECOND).unwrap();

    let registered = relayd.relay().shared().upstream.registered();
    let stats = relayd.shutdown().stats;
    let rejected: Vec<(&str, u64)> = stats
        .rejected
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        rejected,
        [
            ("not-sealed", 1),
            ("other-cs", 1),
            ("replayed", 1),
            ("unauthentic", 3),
            ("unknown-cs", 1)
        ]
    );
    assert_eq!(stats.admitted, 2);
    // Nothing rejected reached the relay or the card management server.
    assert_eq!(registered.keys().copied().collect::<Vec<_>>(), [CardId(10)]);
    let arrived: Vec<TelegramId> = log
        .snapshot()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Arrived { .. }))
        .filter_map(|e| e.telegram)
        .collect();
    assert_eq!(arrived, [TelegramId(100_001), TelegramId(100_001)]);
}

/// A long-running relayd keeps per-telegram state bounded: answer counts
/// and replay memory stay at their caps however many telegrams pass, and a
/// replay of a recent telegram is still rejected.
#[test]
fn memory_stays_flat_over_many_telegrams_and_a_recent_replay_is_still_rejected() {
    const ANSWERS: usize = 16;
    const REPLAYS: usize = 32;
    let mut config = ServerConfig::new(RelayConfig::fast(Preset::Proposed));
    config.keys = Some(Arc::new(keys()));
    config.replay_window = REPLAYS;
    config.relay.answer_retention = Some(Retention {
        window: 60_000,
        cap: ANSWERS,
    });
    let relayd = Relayd::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        config,
        EventLog::tracing_only(),
    )
    .unwrap();
    let addr = relayd.local_addr();
    let ring = keys();
    let mut last = None;
    let mut remembered = Vec::new();
    for n in 0..200u64 {
        let sealed = ring
            .seal(
                CsId(1),
                0,
                Leg::Request,
                &registration(1, 200_000 + n, 1_000 + n),
            )
            .unwrap();
        let (mut c, ack) = send(addr, &sealed);
        assert_eq!(
            ring.open(Leg::Acknowledgement, &ack).unwrap().telegram.kind,
            TelegramKind::Accepted
        );
        read_frame(&mut c, SECOND).unwrap();
        let stats = relayd.stats();
        remembered.push((stats.answers_remembered, stats.replays_remembered));
        last = Some(sealed);
    }
    assert_eq!(remembered[199], (ANSWERS, REPLAYS), "full, at the caps");
    assert!(
        remembered[REPLAYS..]
            .iter()
            .all(|&r| r == (ANSWERS, REPLAYS)),
        "flat from the moment the caps are reached: {remembered:?}"
    );
    let counts = relayd.relay().shared().replies.answer_counts();
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(counts.contains_key(&TelegramId(200_199)));
    rejected_for(addr, &last.unwrap(), "replayed");
    let stats = relayd.shutdown().stats;
    assert_eq!((stats.admitted, stats.answered), (200, 200));
    assert_eq!(stats.rejected.get("replayed"), Some(&1));
}
