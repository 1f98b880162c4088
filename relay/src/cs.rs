//! The municipal CS terminal's client: writes a card's IC chip, then sends
//! the registration telegram, several in flight at once.
//!
//! `CsRule::Legacy` (inherited from the resident registry network): on a
//! connection-excess answer or a search timeout, cut every communication,
//! discard every telegram in flight, block for a minute, and send the cards
//! again as new telegrams. A card the system had already registered is then
//! refused as unauthorized: chip written, system says "not issued" by this
//! terminal, card to be reissued. `CsRule::Improved`: retry only the rejected
//! request, as the same telegram, after a backoff; the others complete.

use crate::crypto::{Direction, SessionCipher};
use crate::events::{EventKind, ThreadName};
use crate::platform::{deadline_after, Millis, Platform};
use crate::relay::{RelayHandle, SubmitError};
use crate::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use patches::CsRule;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// One terminal's workload and rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsConfig {
    pub cs: CsId,
    pub cards: Vec<CardId>,
    /// Telegrams in flight at once.
    pub window: usize,
    /// How long the terminal waits for an answer before it gives up on it.
    /// `None`: it waits for every answer. Under loom and shuttle, which have
    /// no clock, that is the only meaningful setting: a telegram the relay
    /// never answers is then a deadlock the explorer reports.
    pub search_timeout: Option<Millis>,
    /// How long the Legacy rule blocks (one minute).
    pub block_for: Millis,
    /// The Improved rule's first wait before a retry; it doubles with each
    /// refusal of the same card, up to `block_for`.
    pub backoff: Millis,
    pub rule: CsRule,
    /// Bound on sends, so a terminal always finishes.
    pub max_sends: u32,
    /// Which run this is, when several runs meet one relay (`chukei load`
    /// against a long-running relayd): 0 keeps the readable telegram IDs
    /// the explorers' traces record; any other value gives every telegram
    /// of the run a wide ID of its own ([`telegram_id`]).
    #[serde(default)]
    pub run: u32,
}

impl CsConfig {
    pub fn new(cs: CsId, cards: Vec<CardId>, rule: CsRule) -> Self {
        let max_sends = 16 * cards.len() as u32;
        CsConfig {
            cs,
            cards,
            window: 1,
            search_timeout: Some(60_000),
            block_for: 60_000,
            backoff: 1_000,
            rule,
            max_sends,
            run: 0,
        }
    }
}

/// A terminal's telegram ID: readable (`T100001` is cs-1's first) for run
/// 0 and fewer than 100,000 telegrams, as the explorers' traces record;
/// otherwise wide: the top bit set (so no readable ID equals it), the run
/// (23 bits), the CS (16 bits) and the sequence number (24 bits, so at most
/// 16.7 million telegrams per terminal and run before they repeat).
pub fn telegram_id(cs: CsId, run: u32, seq: u64) -> TelegramId {
    if run == 0 && seq < 100_000 {
        return TelegramId(cs.0 as u64 * 100_000 + seq);
    }
    TelegramId(
        1 << 63 | (u64::from(run) & 0x7F_FFFF) << 40 | u64::from(cs.0) << 24 | (seq & 0xFF_FFFF),
    )
}

/// What the terminal knows of one card.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRecord {
    pub chip_written: bool,
    /// The system confirmed the registration to this terminal.
    pub issued: bool,
    /// A retry was refused as unauthorized: the card must be reissued.
    pub refused: bool,
    pub sends: u32,
}

/// What one terminal did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsReport {
    pub cs: CsId,
    pub cards: BTreeMap<CardId, CardRecord>,
    /// Telegrams the relay admitted, in order of sending.
    pub sent: Vec<TelegramId>,
    /// Every answer the terminal took, by telegram (duplicates included).
    pub answers: BTreeMap<TelegramId, Vec<TelegramKind>>,
    pub discarded: u32,
    pub blocks: u32,
    pub timeouts: u32,
    pub connection_excess: u32,
}

/// Cards whose chip is written but which the system and the terminal do not
/// both hold as issued.
pub fn disagreements(
    reports: &[CsReport],
    registered: &BTreeMap<CardId, TelegramId>,
) -> Vec<CardId> {
    reports
        .iter()
        .flat_map(|r| r.cards.iter())
        .filter(|(card, rec)| rec.chip_written && !(rec.issued && registered.contains_key(card)))
        .map(|(card, _)| *card)
        .collect()
}

/// Which end of the send queue a card goes back to.
#[derive(Clone, Copy, Debug)]
enum End {
    /// Next (a refused card keeps its turn).
    Front,
    /// After the others (an answered error).
    Back,
}

/// A telegram the terminal is waiting for.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    card: CardId,
    sent_at: Millis,
    /// Admitted sends of this telegram not yet answered. The Improved rule
    /// re-sends the *same* telegram after a search timeout, so an answer may
    /// belong to an earlier attempt: an error answer only means "send
    /// again" once no attempt is left out.
    attempts: u32,
}

/// How a terminal reaches a relay: in process ([`RelayHandle`]) or over the
/// network (the `server` crate's TCP link), so one terminal logic serves
/// every checker and the load tool.
pub trait CsLink {
    /// Sends a request; `Err` when the relay refused it (connection excess,
    /// shut down).
    fn submit(&self, telegram: Telegram, from: ThreadName) -> Result<(), SubmitError>;
    /// The next answer for `cs`, waiting until `until` (forever if `None`).
    fn take_reply(&self, cs: CsId, until: Option<Millis>) -> Option<Telegram>;
    /// Records what the terminal did.
    fn emit(&self, thread: ThreadName, telegram: Option<TelegramId>, kind: EventKind);
    /// The session key the terminal seals its payloads with.
    fn session_key(&self) -> [u8; 32];
}

impl<P: Platform> CsLink for RelayHandle<P> {
    fn submit(&self, telegram: Telegram, from: ThreadName) -> Result<(), SubmitError> {
        RelayHandle::submit(self, telegram, from)
    }
    fn take_reply(&self, cs: CsId, until: Option<Millis>) -> Option<Telegram> {
        RelayHandle::take_reply(self, cs, until)
    }
    fn emit(&self, thread: ThreadName, telegram: Option<TelegramId>, kind: EventKind) {
        self.shared().emit(thread, telegram, kind);
    }
    fn session_key(&self) -> [u8; 32] {
        self.shared().config.key
    }
}

struct Terminal<'a, P: Platform, L: CsLink> {
    relay: &'a L,
    _platform: std::marker::PhantomData<P>,
    config: &'a CsConfig,
    cipher: SessionCipher,
    thread: ThreadName,
    queue: VecDeque<CardId>,
    in_flight: BTreeMap<TelegramId, InFlight>,
    ids: BTreeMap<CardId, TelegramId>,
    next_seq: u64,
    sends: u32,
    answers_taken: u64,
    /// Consecutive refusals per card (the Improved rule's backoff).
    refusals: BTreeMap<CardId, u32>,
    report: CsReport,
}

/// Runs one terminal to the end of its workload (or of its send budget).
pub fn run_cs<P: Platform>(relay: &RelayHandle<P>, config: &CsConfig) -> CsReport {
    run_cs_over::<P, _>(relay, config)
}

/// Runs one terminal over any link to a relay, with `P`'s clock and sleep.
pub fn run_cs_over<P: Platform, L: CsLink>(relay: &L, config: &CsConfig) -> CsReport {
    let mut t = Terminal {
        relay,
        _platform: std::marker::PhantomData::<P>,
        config,
        cipher: SessionCipher::new(&relay.session_key()),
        thread: ThreadName::Cs(config.cs.0),
        queue: config.cards.iter().copied().collect(),
        in_flight: BTreeMap::new(),
        ids: BTreeMap::new(),
        next_seq: 1,
        sends: 0,
        answers_taken: 0,
        refusals: BTreeMap::new(),
        report: CsReport {
            cs: config.cs,
            ..CsReport::default()
        },
    };
    t.run();
    t.report
}

impl<P: Platform, L: CsLink> Terminal<'_, P, L> {
    fn emit(&self, telegram: Option<TelegramId>, kind: EventKind) {
        self.relay.emit(self.thread, telegram, kind);
    }

    fn run(&mut self) {
        loop {
            let before = self.progress();
            self.send_window();
            if !self.in_flight.is_empty() && !self.await_answer() {
                return;
            }
            // A turn that sent nothing, took no answer and gave nothing up
            // is the end (every card settled, or the sends used up); going
            // round again would spin without a scheduling point.
            if self.progress() == before {
                return;
            }
        }
    }

    /// What a turn of the loop can change: sends, answers taken, timeouts.
    fn progress(&self) -> (u32, u64, u32) {
        (self.sends, self.answers_taken, self.report.timeouts)
    }

    fn new_id(&mut self) -> TelegramId {
        let id = telegram_id(self.config.cs, self.config.run, self.next_seq);
        self.next_seq += 1;
        id
    }

    fn send_window(&mut self) {
        while self.in_flight.len() < self.config.window.max(1) && self.sends < self.config.max_sends
        {
            let Some(card) = self.queue.pop_front() else {
                return;
            };
            let record = self.report.cards.get(&card).copied().unwrap_or_default();
            if record.issued || record.refused {
                continue;
            }
            if !self.send(card) {
                return;
            }
        }
    }

    /// Sends one card's registration; false if it was refused.
    fn send(&mut self, card: CardId) -> bool {
        let record = self.report.cards.entry(card).or_default();
        let first = !record.chip_written;
        record.chip_written = true;
        record.sends += 1;
        self.sends += 1;
        let id = match self.config.rule {
            CsRule::Improved => match self.ids.get(&card) {
                Some(id) => *id,
                None => {
                    let id = self.new_id();
                    self.ids.insert(card, id);
                    id
                }
            },
            CsRule::Legacy => self.new_id(),
        };
        if first {
            self.emit(Some(id), EventKind::ChipWritten { card });
        } else {
            self.emit(Some(id), EventKind::CsRetry { card });
        }
        let body = format!("register {card}");
        let telegram = Telegram {
            kind: TelegramKind::Register,
            cs: self.config.cs,
            id,
            card,
            payload: self.cipher.seal(id, Direction::Request, body.as_bytes()),
        };
        match self.relay.submit(telegram, self.thread) {
            Ok(()) => {
                self.report.sent.push(id);
                self.refusals.remove(&card);
                let now = P::now();
                let entry = self.in_flight.entry(id).or_insert(InFlight {
                    card,
                    sent_at: now,
                    attempts: 0,
                });
                entry.attempts += 1;
                entry.sent_at = now;
                true
            }
            Err(SubmitError::ConnectionExcess(_)) => {
                self.report.connection_excess += 1;
                self.on_trouble(card);
                false
            }
            // Shut down (a Register is always a request): nothing more to send.
            Err(SubmitError::ShutDown | SubmitError::NotARequest(_)) => {
                self.sends = self.config.max_sends;
                false
            }
        }
    }

    /// Takes one answer, or gives up on the oldest telegram at the search
    /// timeout; false when the relay shut down with no deadline to wait for.
    fn await_answer(&mut self) -> bool {
        let oldest = self.in_flight.values().map(|f| f.sent_at).min();
        let deadline = self
            .config
            .search_timeout
            .map(|timeout| deadline_after(oldest.unwrap_or(0), timeout));
        match self.relay.take_reply(self.config.cs, deadline) {
            Some(answer) => {
                self.answers_taken += 1;
                self.on_answer(&answer);
            }
            None if deadline.is_some() => self.on_search_timeout(),
            None => return false,
        }
        true
    }

    fn on_answer(&mut self, answer: &Telegram) {
        let taken = self.report.answers.entry(answer.id).or_default();
        taken.push(answer.kind);
        // No entry: the answer to a telegram discarded earlier (Legacy) or
        // a duplicate answer of one already settled (Improved).
        let Some(f) = self.in_flight.get_mut(&answer.id) else {
            return;
        };
        f.attempts = f.attempts.saturating_sub(1);
        let (card, attempts_left) = (f.card, f.attempts);
        let record = self.report.cards.entry(card).or_default();
        let issued = match answer.kind {
            TelegramKind::ReplyOk => true,
            TelegramKind::ErrorUnauthorized => false,
            _ => {
                if attempts_left == 0 {
                    self.in_flight.remove(&answer.id);
                    self.requeue(card, End::Back);
                }
                return;
            }
        };
        record.issued |= issued;
        record.refused |= !issued;
        self.in_flight.remove(&answer.id);
        let kind = EventKind::CsConfirmed { card, issued };
        self.emit(Some(answer.id), kind);
    }

    /// The oldest telegram went unanswered for the search timeout.
    fn on_search_timeout(&mut self) {
        self.report.timeouts += 1;
        let oldest = self.in_flight.iter().min_by_key(|(_, f)| f.sent_at);
        let Some((&id, &f)) = oldest else {
            return;
        };
        self.emit(Some(id), EventKind::CsTimeout);
        match self.config.rule {
            CsRule::Legacy => {
                self.in_flight.remove(&id);
                self.on_trouble(f.card);
            }
            // The attempt may still be answered: keep waiting for it, and
            // send the same telegram again after the backoff.
            CsRule::Improved if self.sends < self.config.max_sends => {
                P::sleep(self.config.backoff);
                self.send(f.card);
            }
            CsRule::Improved => {
                self.in_flight.remove(&id);
            }
        }
    }

    /// Queues a card to be sent again, once: a card may come back both from
    /// its own refusal and from an earlier attempt's error answer.
    fn requeue(&mut self, card: CardId, end: End) {
        if self.queue.contains(&card) {
            return;
        }
        match end {
            End::Front => self.queue.push_front(card),
            End::Back => self.queue.push_back(card),
        }
    }

    /// A rejected or timed-out request: the rule decides what else happens.
    fn on_trouble(&mut self, card: CardId) {
        match self.config.rule {
            CsRule::Improved => {
                let refusals = self.refusals.entry(card).or_default();
                *refusals += 1;
                let wait = self.config.backoff << (*refusals - 1).min(16);
                P::sleep(wait.min(self.config.block_for));
                self.requeue(card, End::Front);
            }
            CsRule::Legacy => {
                let discarded: Vec<_> = std::mem::take(&mut self.in_flight).into_iter().collect();
                for (id, f) in &discarded {
                    self.emit(Some(*id), EventKind::CsDiscarded { card: f.card });
                    self.queue.push_front(f.card);
                }
                self.report.discarded += discarded.len() as u32;
                self.queue.push_front(card);
                let until = deadline_after(P::now(), self.config.block_for);
                self.emit(None, EventKind::CsBlocked { until });
                self.report.blocks += 1;
                P::sleep(self.config.block_for);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_ids_stay_readable_for_the_explorers_and_never_collide_past_them() {
        assert_eq!(telegram_id(CsId(1), 0, 1), TelegramId(100_001));
        assert_eq!(telegram_id(CsId(1), 0, 99_999), TelegramId(199_999));
        // cs-1's 100,000th telegram is not cs-2's first (T200001 - 1).
        let past = telegram_id(CsId(1), 0, 100_000);
        assert_ne!(past, TelegramId(200_000));
        assert!(past.0 >= 1 << 63, "a wide ID");
        assert_ne!(past, telegram_id(CsId(2), 0, 100_000));
        // Two runs against one relay: the same terminal and number differ.
        assert_ne!(telegram_id(CsId(1), 7, 1), telegram_id(CsId(1), 8, 1));
        assert_ne!(telegram_id(CsId(1), 7, 1), telegram_id(CsId(2), 7, 1));
    }

    #[test]
    fn a_wide_telegram_id_packs_run_cs_and_sequence_into_their_own_bits() {
        let id = telegram_id(CsId(3), 5, 7);
        assert_eq!(id, TelegramId(1 << 63 | 5 << 40 | 3 << 24 | 7));
        // Each field keeps to its bits: the run and the sequence wrap.
        assert_eq!(telegram_id(CsId(3), 5 + (1 << 23), 7), id);
        assert_eq!(telegram_id(CsId(3), 5, 7 + (1 << 24)), id);
    }
}
