//! The relay refuses what it cannot serve, on real threads and on the
//! driver: no admission slot is ever held by a telegram nobody will answer.

use relay::crypto::{Direction, SessionCipher};
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
