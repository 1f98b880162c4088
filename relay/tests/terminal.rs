//! The CS terminal's rules against a scripted relay: each test says what the
//! relay admits and answers, and checks what the terminal sends, records and
//! reports. Real threads, but nothing waits: a silent relay answers "no
//! answer before your deadline" at once.

use relay::admission::ConnectionExcess;
use relay::cs::{run_cs_over, CsConfig, CsLink, CsReport};
use relay::sim::{Chooser, Driver, Sim};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{CsRule, EventKind, Platform, Std, SubmitError, ThreadName};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// A terminal that asks this often has lost its way (a loop that no longer
/// ends): the test fails instead of spinning.
const MOST_ASKS: u32 = 1_000;

/// The scripted relay: admits or refuses each submit in turn (admits once
/// the script runs out) and answers each `take_reply` in turn: `Some(kind)`
/// answers the oldest admitted telegram not yet answered, `None` is silence.
#[derive(Default)]
struct Scripted {
    admits: RefCell<VecDeque<bool>>,
    replies: RefCell<VecDeque<Option<TelegramKind>>>,
    unanswered: RefCell<VecDeque<Telegram>>,
    asks: Cell<u32>,
    events: RefCell<Vec<(Option<TelegramId>, EventKind)>>,
    /// The platform's clock, to record when each submit came.
    clock: Option<fn() -> u64>,
    submitted_at: RefCell<Vec<u64>>,
}

impl Scripted {
    fn new(admits: &[bool], replies: &[Option<TelegramKind>]) -> Self {
        Scripted {
            admits: RefCell::new(admits.iter().copied().collect()),
            replies: RefCell::new(replies.iter().copied().collect()),
            ..Scripted::default()
        }
    }

    fn count(&self, pred: impl Fn(&EventKind) -> bool) -> usize {
        self.events.borrow().iter().filter(|(_, k)| pred(k)).count()
    }
}

impl CsLink for Scripted {
    fn submit(&self, telegram: Telegram, _from: ThreadName) -> Result<(), SubmitError> {
        if let Some(now) = self.clock {
            self.submitted_at.borrow_mut().push(now());
        }
        if !self.admits.borrow_mut().pop_front().unwrap_or(true) {
            let excess = ConnectionExcess {
                in_use: 1,
                limit: 1,
            };
            return Err(SubmitError::ConnectionExcess(excess));
        }
        self.unanswered.borrow_mut().push_back(telegram);
        Ok(())
    }

    fn take_reply(&self, _cs: CsId, _until: Option<u64>) -> Option<Telegram> {
        self.asks.set(self.asks.get() + 1);
        assert!(
            self.asks.get() < MOST_ASKS,
            "the terminal never stops asking"
        );
        let kind = self.replies.borrow_mut().pop_front().flatten()?;
        let telegram = self.unanswered.borrow_mut().pop_front()?;
        Some(telegram.answer(kind, vec![]))
    }

    fn emit(&self, _thread: ThreadName, telegram: Option<TelegramId>, kind: EventKind) {
        self.events.borrow_mut().push((telegram, kind));
    }

    fn session_key(&self) -> [u8; 32] {
        [9; 32]
    }
}

fn terminal(cards: &[u64], rule: CsRule) -> CsConfig {
    let cards = cards.iter().copied().map(CardId).collect();
    CsConfig {
        backoff: 0,
        block_for: 0,
        ..CsConfig::new(CsId(1), cards, rule)
    }
}

fn run(relay: &Scripted, config: &CsConfig) -> CsReport {
    run_cs_over::<Std, _>(relay, config)
}

fn id(seq: u64) -> TelegramId {
    relay::cs::telegram_id(CsId(1), 0, seq)
}

const OK: Option<TelegramKind> = Some(TelegramKind::ReplyOk);
const SILENCE: Option<TelegramKind> = None;

#[test]
fn an_improved_terminal_sends_a_refused_card_again_as_the_same_telegram() {
    let relay = Scripted::new(&[false], &[OK]);
    let report = run(&relay, &terminal(&[1], CsRule::Improved));
    assert_eq!(report.connection_excess, 1);
    assert_eq!(report.sent, vec![id(1)], "only admitted sends");
    let card = report.cards[&CardId(1)];
    assert_eq!((card.sends, card.issued, card.refused), (2, true, false));
    let events = relay.events.borrow();
    let first = &events[0];
    assert_eq!(
        first,
        &(Some(id(1)), EventKind::ChipWritten { card: CardId(1) })
    );
    let again = (Some(id(1)), EventKind::CsRetry { card: CardId(1) });
    assert!(events.contains(&again), "{events:?}");
}

#[test]
fn an_unauthorized_answer_refuses_the_card_for_good() {
    let relay = Scripted::new(&[], &[Some(TelegramKind::ErrorUnauthorized)]);
    let report = run(&relay, &terminal(&[1], CsRule::Legacy));
    let card = report.cards[&CardId(1)];
    assert_eq!((card.sends, card.issued, card.refused), (1, false, true));
    let refused = |k: &EventKind| {
        *k == EventKind::CsConfirmed {
            card: CardId(1),
            issued: false,
        }
    };
    assert_eq!(relay.count(refused), 1);
}

/// Improved: after a search timeout the same telegram goes again; an error
/// answer to the first attempt is no reason to send a third time while the
/// second is still out.
#[test]
fn an_improved_terminal_resends_a_silent_telegram_and_waits_for_its_last_attempt() {
    let error = Some(TelegramKind::ErrorTimeout);
    let relay = Scripted::new(&[], &[SILENCE, error, OK]);
    let report = run(&relay, &terminal(&[1], CsRule::Improved));
    assert_eq!(report.timeouts, 1);
    assert_eq!(report.sent, vec![id(1), id(1)]);
    let card = report.cards[&CardId(1)];
    assert_eq!((card.sends, card.issued), (2, true));
}

#[test]
fn an_improved_terminal_at_the_end_of_its_budget_gives_a_silent_telegram_up() {
    let relay = Scripted::new(&[], &[SILENCE]);
    let config = CsConfig {
        max_sends: 1,
        ..terminal(&[1], CsRule::Improved)
    };
    let report = run(&relay, &config);
    assert_eq!(report.timeouts, 1);
    assert_eq!(report.sent, vec![id(1)], "no send past the budget");
    assert!(!report.cards[&CardId(1)].issued);
}

/// Without a search timeout the terminal waits for every answer; a relay
/// that has nothing more to say (shut down) ends the run, once asked.
#[test]
fn a_terminal_without_a_search_timeout_stops_when_the_relay_goes_quiet() {
    let relay = Scripted::new(&[], &[]);
    let config = CsConfig {
        search_timeout: None,
        ..terminal(&[1], CsRule::Improved)
    };
    let report = run(&relay, &config);
    assert_eq!(relay.asks.get(), 1);
    assert_eq!((report.timeouts, report.sent.len()), (0, 1));
}

#[test]
fn a_card_listed_twice_is_sent_once() {
    let relay = Scripted::new(&[], &[OK]);
    let report = run(&relay, &terminal(&[1, 1], CsRule::Improved));
    assert_eq!(report.sent, vec![id(1)]);
}

/// Legacy: a refusal cuts everything in flight and blocks; both cards go
/// again as new telegrams (the refused one used up an ID too).
#[test]
fn a_legacy_terminal_discards_what_is_in_flight_and_sends_it_again_as_new() {
    let relay = Scripted::new(&[true, false], &[OK, OK, OK]);
    let config = CsConfig {
        window: 2,
        ..terminal(&[1, 2], CsRule::Legacy)
    };
    let report = run(&relay, &config);
    assert_eq!((report.discarded, report.blocks), (1, 1));
    assert_eq!(report.connection_excess, 1);
    assert_eq!(report.sent, vec![id(1), id(3), id(4)]);
    assert!(report.cards.values().all(|c| c.issued), "{report:?}");
    let discarded = |k: &EventKind| *k == EventKind::CsDiscarded { card: CardId(1) };
    assert_eq!(relay.count(discarded), 1);
}

/// Improved: each refusal of the same card doubles the wait before it goes
/// again, up to the legacy rule's block (on the driver's clock).
#[test]
fn an_improved_terminal_doubles_its_backoff_per_refusal_up_to_the_block() {
    let (_, submitted_at) = Driver::new(Chooser::Replay(vec![])).run(|| {
        let relay = Scripted {
            clock: Some(<Sim as Platform>::now),
            ..Scripted::new(&[false; 4], &[OK])
        };
        let config = CsConfig {
            backoff: 1_000,
            block_for: 5_000,
            ..terminal(&[1], CsRule::Improved)
        };
        run_cs_over::<Sim, _>(&relay, &config);
        relay.submitted_at.take()
    });
    let at = submitted_at.expect("the run completes");
    let waits: Vec<u64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(waits, vec![1_000, 2_000, 4_000, 5_000]);
}
