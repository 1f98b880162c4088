//! The relay refuses what it cannot serve, on real threads and on the
//! driver: no admission slot is ever held by a telegram nobody will answer.

use relay::crypto::{Direction, SessionCipher};
use relay::mailbox::Message;
use relay::sim::{Chooser, Driver, RunOutcome, Sim};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{
    EventKind, EventLog, Platform, Preset, Relay, RelayConfig, Std, SubmitError, ThreadName,
};
use std::time::Duration;

fn telegram(config: &RelayConfig, seq: u64, kind: TelegramKind) -> Telegram {
    let id = TelegramId(100_000 + seq);
    let cipher = SessionCipher::new(&config.key);
    Telegram {
        kind,
        cs: CsId(1),
        id,
        card: CardId(seq),
        payload: cipher.seal(id, Direction::Request, b"register"),
    }
}

/// Submits after shutdown and a non-request on platform `P`: both refused,
/// no slot held, nothing logged as arrived.
fn refusals<P: Platform>(config: RelayConfig) -> EventLog {
    let log = EventLog::new();
    let relay = Relay::<P>::start(config.clone(), log.clone());
    let handle = relay.handle();
    for kind in [TelegramKind::ReplyOk, TelegramKind::ConnectionExcess] {
        assert_eq!(
            handle.submit(telegram(&config, 1, kind), ThreadName::Main),
            Err(SubmitError::NotARequest(kind))
        );
    }
    assert_eq!(handle.shared().admission.in_use(), 0);
    let shared = relay.shutdown();
    for seq in 2..5 {
        let refused = handle.submit(
            telegram(&config, seq, TelegramKind::Register),
            ThreadName::Main,
        );
        assert_eq!(refused, Err(SubmitError::ShutDown));
    }
    assert_eq!(
        shared.admission.in_use(),
        0,
        "a refused telegram holds no slot"
    );
    assert!(
        !log.snapshot()
            .iter()
            .any(|e| matches!(e.kind, EventKind::Arrived { .. })),
        "nothing was admitted"
    );
    log
}

#[test]
fn submit_after_shutdown_or_of_an_answer_is_refused_on_real_threads() {
    refusals::<Std>(RelayConfig::fast(Preset::Proposed));
}

#[test]
fn submit_after_shutdown_or_of_an_answer_is_refused_on_the_driver() {
    let config = RelayConfig::small(Preset::Proposed);
    let (report, log) = Driver::new(Chooser::Replay(vec![])).run(move || refusals::<Sim>(config));
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert!(log.is_some());
}

#[test]
fn a_search_is_a_request_and_is_answered() {
    let config = RelayConfig::fast(Preset::Proposed);
    let relay = Relay::<Std>::start(config.clone(), EventLog::new());
    let handle = relay.handle();
    handle
        .submit(telegram(&config, 1, TelegramKind::Search), ThreadName::Main)
        .expect("a search is admitted");
    let deadline = Std::now() + Duration::from_secs(10).as_millis() as u64;
    let answer = handle.take_reply(CsId(1), Some(deadline));
    assert!(answer.is_some(), "no answer within 10 s");
    assert_eq!(relay.shutdown().admission.in_use(), 0);
}

/// A worker thread that dies (real threads) reports the telegram it had
/// in flight lost, answers it, and is restarted: a fresh AP on the same
/// mailbox and work areas serves what was queued to it and everything
/// routed to it afterwards. Nothing is lost silently, nothing else is lost.
#[test]
fn a_worker_thread_that_dies_is_restarted_and_loses_only_its_telegram_in_flight() {
    let config = RelayConfig {
        workers: 3,
        connection_limit: 1_000,
        fault: Some(relay::Fault::WorkerPanics {
            worker: 0,
            at_arrival: 2,
        }),
        ..RelayConfig::fast(Preset::Proposed)
    };
    let log = EventLog::new();
    let relay = Relay::<Std>::start(config.clone(), log.clone());
    let handle = relay.handle();
    let sent = 60;
    for seq in 1..=sent {
        let request = telegram(&config, seq, TelegramKind::Register);
        handle.submit(request, ThreadName::Main).expect("admitted");
    }
    // One answer per admitted telegram, each within a deadline.
    let deadline = Std::now() + Duration::from_secs(20).as_millis() as u64;
    let mut answers = std::collections::HashMap::new();
    for _ in 0..sent {
        let answer = handle
            .take_reply(CsId(1), Some(deadline))
            .expect("every admitted telegram is answered within 20 s");
        *answers.entry(answer.kind).or_insert(0u64) += 1;
    }
    // Worker 0's second telegram (ids 100_002, 100_005, ... go to worker 0
    // first) killed it; it alone is lost, answered ErrorShutdown.
    let expected = [
        (TelegramKind::ReplyOk, sent - 1),
        (TelegramKind::ErrorShutdown, 1),
    ];
    assert_eq!(answers, expected.into_iter().collect());
    // Telegrams routed to worker 0 after the restart are served by it.
    for seq in [62, 65, 68] {
        let request = telegram(&config, seq, TelegramKind::Register);
        assert_eq!(request.id.0 % 3, 0, "routed to worker 0 first");
        handle.submit(request, ThreadName::Main).expect("admitted");
        let answer = handle
            .take_reply(CsId(1), Some(deadline))
            .expect("answered");
        assert_eq!(answer.kind, TelegramKind::ReplyOk);
    }
    let shared = relay.shutdown();
    let events = log.snapshot();
    let lost: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::TelegramLost)
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].thread, ThreadName::Worker(0));
    assert_eq!(lost[0].telegram, Some(TelegramId(100_005)));
    let died_at = events
        .iter()
        .position(|e| e.kind == EventKind::TelegramLost)
        .unwrap();
    let served_after: Vec<TelegramId> = events[died_at..]
        .iter()
        .filter(|e| e.thread == ThreadName::Worker(0))
        .filter(|e| matches!(e.kind, EventKind::Alloc { .. }))
        .filter_map(|e| e.telegram)
        .collect();
    // The 18 queued or later telegrams of worker 0, and the 3 sent last.
    assert_eq!(served_after.len(), 21, "{served_after:?}");
    assert_eq!(
        shared
            .worker_restarts
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(shared.admission.in_use(), 0, "no slot held at shutdown");
    assert!(shared.observe().allocated_work_areas.is_empty());
}

/// Polls `done` until it holds, failing the test after 20 s.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 20 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A restarted AP is a fresh process: the dead AP's work-area pointer does
/// not survive it. The unfixed 2016-01 AP frees whatever that pointer names
/// on a timeout notice when idle (root cause 2), so a pointer carried over
/// would free the dead telegram's area a second time and kill the AP again.
#[test]
fn a_restarted_worker_carries_no_stale_work_area_pointer() {
    let config = RelayConfig {
        workers: 1,
        fault: Some(relay::Fault::WorkerPanics {
            worker: 0,
            at_arrival: 1,
        }),
        ..RelayConfig::fast(Preset::Jan2016)
    };
    let log = EventLog::new();
    let relay = Relay::<Std>::start(config.clone(), log.clone());
    let handle = relay.handle();
    let request = telegram(&config, 1, TelegramKind::Register);
    handle.submit(request, ThreadName::Main).expect("admitted");
    let deadline = Std::now() + Duration::from_secs(20).as_millis() as u64;
    let answer = handle
        .take_reply(CsId(1), Some(deadline))
        .expect("answered");
    assert_eq!(answer.kind, TelegramKind::ErrorShutdown);
    let restarts = || {
        relay
            .shared()
            .worker_restarts
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    wait_until("the restart", || restarts() == 1);
    let mailbox = &relay.shared().mailboxes[0];
    let turns = mailbox.turns();
    mailbox.post(Message::TimeoutNotice {
        timer: 0,
        epoch: 1,
        set_by: TelegramId(100_001),
    });
    wait_until("the notice handled", || mailbox.turns() > turns);
    relay.shutdown();
    let events = log.snapshot();
    let freed_twice = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. }));
    assert_eq!(freed_twice.count(), 0, "{events:?}");
}

/// On the driver a dying worker is not caught (`Platform::SUPERVISED` is
/// false off real threads): the schedule explorers must see it, so the run
/// ends as a panic of that worker, naming the telegram it died with.
#[test]
fn a_worker_that_dies_on_the_driver_ends_the_run_as_a_finding() {
    let config = RelayConfig {
        fault: Some(relay::Fault::WorkerPanics {
            worker: 0,
            at_arrival: 1,
        }),
        ..RelayConfig::small(Preset::Proposed)
    };
    let (report, finished) = Driver::new(Chooser::Replay(vec![])).run(move || {
        let relay = Relay::<Sim>::start(config.clone(), EventLog::new());
        let handle = relay.handle();
        let request = telegram(&config, 1, TelegramKind::Register);
        handle.submit(request, ThreadName::Main).expect("admitted");
        let answer = handle.take_reply(CsId(1), Some(Sim::now() + 120_000));
        relay.shutdown();
        answer
    });
    match &report.outcome {
        RunOutcome::Panicked { thread, message } => {
            assert_eq!(thread, "worker-0");
            assert!(message.contains("dies with T100001 in flight"), "{message}");
        }
        other => panic!("the run ended {other:?}, not as worker-0's panic"),
    }
    assert!(
        finished.is_none(),
        "the body does not finish past the panic"
    );
}
