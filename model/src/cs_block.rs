//! **cs-block**: the CS blocking rule that turned relay overload into a
//! cascading outage in 2016 (docs/specs.md, cs-block).
//!
//! Several municipal CSs issue cards. For each card the CS has already written
//! the IC chip when it sends the request telegram. The relay admits at most
//! `limit` connections; over the limit it answers connection excess. The
//! upstream system registers a card once; a *new* telegram for a card it has
//! already registered is refused as unauthorized.
//!
//! Assumptions:
//! * Admission is decided when the telegram is sent: `Send` when a connection
//!   is free, `ConnectionExcess` when the relay is full.
//! * `CsRule::Legacy`: on connection excess the CS cuts all its connections,
//!   discards every in-flight telegram (also those the system already
//!   processed), blocks for one minute (`Unblock`), then sends the discarded
//!   cards again as new telegrams. A cut telegram that was not yet processed
//!   upstream is abandoned by the relay (under the default
//!   `discarded-connections=freed`, below).
//! * `CsRule::Improved`: only the rejected card waits (backoff) and is retried
//!   with the same telegram id, which the system treats idempotently. The
//!   rejected card keeps its turn: the CS sends no new card before it (as
//!   `relay::cs` requeues it in front). A retry that would be rejected again
//!   changes nothing, so `Retry` is modelled only when the relay admits it.
//! * `Admission` (the relay's order, docs/specs.md "admission order"):
//!   `FirstCome` admits whenever a connection is free. `OldestRetryFirst`
//!   keeps the CSs it answered connection excess in a queue (`Cs::queued`,
//!   one place per CS): a CS at place `p` is admitted when more than `p`
//!   connections are free, any other CS only when more connections are free
//!   than CSs wait. So a freed connection is held for the oldest waiting
//!   CS, and its retry, once enabled, stays enabled until taken: weak
//!   fairness then forces it, also under continuous demand.
//! * Time is abstract: the minute of blocking and the backoff are one step.
//! * Assumption `discarded-connections`: when the relay frees the
//!   connection of a telegram a Legacy CS discarded. `freed` (default): at
//!   the discard, the relay abandons it (a telegram the system processed
//!   before the discard stays registered). `held-until-answered`: the relay
//!   does not notice the cut; it still forwards the telegram upstream,
//!   which may register the card while its CS is about to resend it as
//!   new (the unauthorized path), and holds the connection until it has
//!   answered (`Card::held`, `Cs::held_processed`, `UpstreamDiscarded`,
//!   `ReplyDiscarded`). Our
//!   relay does the latter, so `chukei validate` reads its logs under it.
//! * Assumption `demand`: `finite` (default: each CS issues its `cards` and
//!   stops) or `continuous` (a CS starts its next card after each completed
//!   one: a finished card's slot is taken by a fresh card, `NextCard`), the
//!   sustained load of the national peak days. Under continuous demand the
//!   "everything finished" goals need not ever be met; the per-request and
//!   per-CS liveness forms (`card_finishes`, `cs_keeps_issuing`) still mean
//!   something: they follow one card slot, one CS (CSs are identical, so
//!   cs0 stands for any).
//! * CSs are identical, so states are compared up to a permutation of CSs.

use crate::assume::{self, AssumeError, Assumption, Assumptions};
use crate::search::{encode_key, Identity, Keys};
use crate::sizes::{resolve, SizeError, SizeParam};
use crate::spec::{is_terminal, with_fairness, Fairness, Property, Spec};
use patches::{Admission, CsRule, Patches};
use serde::{Deserialize, Serialize};
use smallvec::{smallvec, SmallVec};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

mod codec;

/// Size parameters of cs-block.
pub const SIZES: &[SizeParam] = &[
    SizeParam {
        name: "css",
        default: 3,
        min: 1,
        max: 5,
        help: "municipal CS terminals",
    },
    SizeParam {
        name: "cards",
        default: 2,
        min: 1,
        max: 4,
        help: "cards each CS issues",
    },
    SizeParam {
        name: "inflight",
        default: 2,
        min: 1,
        max: 4,
        help: "telegrams a CS may have in flight at once",
    },
    SizeParam {
        name: "limit",
        default: 2,
        min: 1,
        max: 8,
        help: "the relay's connection limit",
    },
];

/// Environment assumptions of cs-block (`--assume NAME=VALUE`).
pub const ASSUMPTIONS: &[Assumption] = &[
    Assumption {
        name: "demand",
        values: &["finite", "continuous"],
        help: "how many cards the CSs issue",
        meanings: &[
            "each CS issues `cards` cards and stops",
            "a CS starts its next card after each completed one, forever",
        ],
        why_default:
            "a finite batch is the smallest question; continuous demand is the peak days' load",
    },
    Assumption {
        name: "discarded-connections",
        values: &["freed", "held-until-answered"],
        help: "when the relay frees the connection of a telegram a Legacy CS discarded",
        meanings: &[
            "at the discard: the relay abandons the telegram (one the system processed before stays registered)",
            "when the relay has answered it: the relay still forwards it upstream (which may register the card) and holds its connection until then",
        ],
        why_default: "the incident says the legacy CS cuts its communications, not when the relay noticed; `chukei validate` reads relay logs under held-until-answered, which is what our relay does",
    },
    assume::FAIRNESS,
];

/// The system's answer to a card's telegram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Answer {
    Issued,
    /// The card was already registered by another telegram.
    Unauthorized,
}

/// A card as the CS sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CardPhase {
    /// Chip not written yet, nothing sent.
    Unsent,
    /// Telegram admitted; `answer` once the system has processed it.
    InFlight { answer: Option<Answer> },
    /// Improved rule: got connection excess, waits to retry the same telegram.
    Rejected,
    /// Legacy rule: telegram discarded, to be sent again as a new telegram.
    Discarded,
    /// The CS got the answer.
    Done(Answer),
}

/// One card: the terminal's view and the system's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Card {
    pub phase: CardPhase,
    pub system_registered: bool,
    /// `discarded-connections=held-until-answered`: telegrams for this card
    /// its CS discarded that the relay still holds, not yet processed by
    /// the system (each may still register the card); always 0 under
    /// `freed`.
    #[serde(default)]
    pub held: u8,
}

/// One CS terminal with its cards.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cs {
    /// Legacy rule: blocked for one minute after a connection excess.
    pub blocked: bool,
    pub cards: SmallVec<[Card; 4]>,
    /// `OldestRetryFirst`: this CS's place in the relay's queue of CSs
    /// answered connection excess (0 = oldest). Kept with the CS, not as a
    /// list of CS numbers, so that permuting CSs permutes it too.
    pub queued: Option<u8>,
    /// `discarded-connections=held-until-answered`: telegrams this CS
    /// discarded that the system has processed and the relay has not yet
    /// answered (a connection each; which card they were for no longer
    /// matters); always 0 under `freed`.
    #[serde(default)]
    pub held_processed: u8,
}

impl Cs {
    fn in_flight(&self) -> usize {
        self.cards
            .iter()
            .filter(|c| matches!(c.phase, CardPhase::InFlight { .. }))
            .count()
    }

    /// The card the CS sends next (new, or discarded and resent as new);
    /// none while a rejected card waits for its retry.
    fn next_to_send(&self) -> Option<usize> {
        if self.cards.iter().any(|c| c.phase == CardPhase::Rejected) {
            return None;
        }
        self.cards
            .iter()
            .position(|c| matches!(c.phase, CardPhase::Unsent | CardPhase::Discarded))
    }
}

/// All CSs and the relay's admission. The vectors are inline (up to the
/// largest sizes): a search clones a state for every successor.
#[derive(Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CsBlockState {
    pub css: SmallVec<[Cs; 5]>,
    /// Some admitted telegram was discarded by its CS without an answer.
    pub accepted_dropped: bool,
}

// Clones by hand: the derived clone of an inline vector goes element by
// element through an iterator; cards are plain copies.
impl Clone for Cs {
    fn clone(&self) -> Self {
        Cs {
            cards: SmallVec::from_slice(&self.cards),
            ..*self
        }
    }
}

impl Clone for CsBlockState {
    fn clone(&self) -> Self {
        let mut css = SmallVec::with_capacity(self.css.len());
        for cs in &self.css {
            css.push(cs.clone());
        }
        CsBlockState { css, ..*self }
    }
}

impl CsBlockState {
    /// Connections held at the relay: one per in-flight telegram, and one
    /// per discarded telegram the relay still holds.
    pub fn connections(&self) -> usize {
        let held = |cs: &Cs| {
            let unprocessed: usize = cs.cards.iter().map(|c| usize::from(c.held)).sum();
            unprocessed + usize::from(cs.held_processed)
        };
        self.css.iter().map(|cs| cs.in_flight() + held(cs)).sum()
    }

    /// CSs in the relay's queue (`OldestRetryFirst`).
    pub fn waiting(&self) -> usize {
        self.css.iter().filter(|cs| cs.queued.is_some()).count()
    }

    /// `cs` leaves the relay's queue; those behind it move up.
    fn dequeue(&mut self, cs: usize) {
        let Some(place) = self.css[cs].queued.take() else {
            return;
        };
        for other in &mut self.css {
            if let Some(p) = other.queued.as_mut().filter(|p| **p > place) {
                *p -= 1;
            }
        }
    }
}

/// What the relay's admission reads of a state: counted once for all the
/// CSs that ask, not once per CS (a search lists every state's actions).
#[derive(Clone, Copy)]
struct Load {
    connections: usize,
    waiting: usize,
}

impl Load {
    fn of(s: &CsBlockState) -> Self {
        Load {
            connections: s.connections(),
            waiting: s.waiting(),
        }
    }
}

/// One card as the real system can report it: the chip on the terminal side,
/// the record on the system side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardObservation {
    pub cs: usize,
    pub card: usize,
    pub chip_written: bool,
    pub system_registered: bool,
    /// The answer the CS got: "issued", "unauthorized", or none yet.
    pub cs_outcome: Option<String>,
}

impl CsBlockState {
    pub fn observe(&self) -> Vec<CardObservation> {
        let mut cards = Vec::new();
        for (cs, terminal) in self.css.iter().enumerate() {
            for (card, c) in terminal.cards.iter().enumerate() {
                cards.push(CardObservation {
                    cs,
                    card,
                    chip_written: c.phase != CardPhase::Unsent,
                    system_registered: c.system_registered,
                    cs_outcome: match c.phase {
                        CardPhase::Done(Answer::Issued) => Some("issued".into()),
                        CardPhase::Done(Answer::Unauthorized) => Some("unauthorized".into()),
                        _ => None,
                    },
                });
            }
        }
        cards
    }
}

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsBlockAction {
    /// The CS writes the chip (first time) and sends; the relay admits it.
    Send { cs: usize, card: usize },
    /// The CS sends; the relay is full and answers connection excess.
    ConnectionExcess { cs: usize, card: usize },
    /// The relay forwards the telegram and the system processes it.
    Upstream { cs: usize, card: usize },
    /// The answer reaches the CS; the connection is released.
    Reply { cs: usize, card: usize },
    /// Legacy: the minute of blocking is over.
    Unblock { cs: usize },
    /// Improved: the rejected telegram is retried after backoff.
    Retry { cs: usize, card: usize },
    /// `demand=continuous`: the CS starts a fresh card in a finished card's
    /// slot.
    NextCard { cs: usize, card: usize },
    /// `discarded-connections=held-until-answered`: the system processes a
    /// telegram for `card` its CS discarded (registering the card if it is
    /// not yet).
    UpstreamDiscarded { cs: usize, card: usize },
    /// `discarded-connections=held-until-answered`: the relay answers a
    /// processed telegram `cs` discarded and frees its connection; the CS
    /// ignores the answer.
    ReplyDiscarded { cs: usize },
}

impl CsBlockAction {
    /// The CS that takes this step, or whose telegram it is.
    pub fn cs(&self) -> usize {
        *self.clone().cs_mut()
    }

    fn cs_mut(&mut self) -> &mut usize {
        match self {
            CsBlockAction::Send { cs, .. }
            | CsBlockAction::ConnectionExcess { cs, .. }
            | CsBlockAction::Upstream { cs, .. }
            | CsBlockAction::Reply { cs, .. }
            | CsBlockAction::Unblock { cs }
            | CsBlockAction::Retry { cs, .. }
            | CsBlockAction::NextCard { cs, .. }
            | CsBlockAction::UpstreamDiscarded { cs, .. }
            | CsBlockAction::ReplyDiscarded { cs } => cs,
        }
    }
}

/// The cs-block spec for one setting of the patches.
#[derive(Clone, Debug)]
pub struct CsBlock {
    pub cs_rule: CsRule,
    pub admission: Admission,
    pub css: usize,
    pub cards: usize,
    pub inflight: usize,
    pub limit: usize,
    /// `demand=continuous`.
    pub continuous: bool,
    /// `discarded-connections=held-until-answered`.
    pub held_until_answered: bool,
    /// `fairness=none`.
    pub unfair: bool,
}

impl CsBlock {
    /// Builds the spec; `sizes` may be partial (defaults fill the rest).
    pub fn new(patches: Patches, sizes: &BTreeMap<String, u64>) -> Result<Self, SizeError> {
        let sizes = resolve("cs-block", SIZES, sizes)?;
        Ok(CsBlock {
            cs_rule: patches.cs_rule,
            admission: patches.admission,
            css: sizes["css"] as usize,
            cards: sizes["cards"] as usize,
            inflight: sizes["inflight"] as usize,
            limit: sizes["limit"] as usize,
            continuous: false,
            held_until_answered: false,
            unfair: false,
        })
    }

    /// This spec under the assumptions `given` (partial: defaults fill the
    /// rest).
    pub fn assuming(mut self, given: &BTreeMap<String, String>) -> Result<Self, AssumeError> {
        let a = assume::resolve("cs-block", ASSUMPTIONS, given)?;
        self.continuous = a["demand"] == "continuous";
        self.held_until_answered = a["discarded-connections"] == "held-until-answered";
        self.unfair = assume::unfair(&a);
        Ok(self)
    }

    /// The sizes this spec was built with (for traces).
    pub fn sizes(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("css".to_string(), self.css as u64),
            ("cards".to_string(), self.cards as u64),
            ("inflight".to_string(), self.inflight as u64),
            ("limit".to_string(), self.limit as u64),
        ])
    }

    /// Passes `action` each action enabled in `s`, in a fixed order, until
    /// it breaks: the spec's `actions`, and a state is terminal when there
    /// is none (each has a next state: `tests::listed_actions_are_enabled`),
    /// known at the first.
    fn each_enabled_action(
        &self,
        s: &CsBlockState,
        mut action: impl FnMut(CsBlockAction) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let load = Load::of(s);
        for (cs, terminal) in s.css.iter().enumerate() {
            if let Some(card) = self.sendable(terminal) {
                action(if self.admits(load, terminal) {
                    CsBlockAction::Send { cs, card }
                } else {
                    CsBlockAction::ConnectionExcess { cs, card }
                })?;
            }
            if terminal.blocked {
                action(CsBlockAction::Unblock { cs })?;
            }
            if terminal.held_processed > 0 {
                action(CsBlockAction::ReplyDiscarded { cs })?;
            }
            for (card, c) in terminal.cards.iter().enumerate() {
                match c.phase {
                    CardPhase::InFlight { answer: None } => {
                        action(CsBlockAction::Upstream { cs, card })?
                    }
                    CardPhase::InFlight { answer: Some(_) } => {
                        action(CsBlockAction::Reply { cs, card })?
                    }
                    CardPhase::Rejected if self.may_retry(load, terminal) => {
                        action(CsBlockAction::Retry { cs, card })?
                    }
                    CardPhase::Done(_) if self.continuous => {
                        action(CsBlockAction::NextCard { cs, card })?
                    }
                    _ => {}
                }
                if c.held > 0 {
                    action(CsBlockAction::UpstreamDiscarded { cs, card })?;
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// Whether `cs` may resend a refused card now.
    fn may_retry(&self, load: Load, cs: &Cs) -> bool {
        cs.in_flight() < self.inflight && self.admits(load, cs)
    }

    /// The card `cs` would send now, if it may send at all.
    fn sendable(&self, cs: &Cs) -> Option<usize> {
        if cs.blocked || cs.in_flight() >= self.inflight {
            return None;
        }
        cs.next_to_send()
    }

    /// Whether the relay, under `load`, admits a telegram of `cs` now.
    fn admits(&self, load: Load, cs: &Cs) -> bool {
        let free = self.limit.saturating_sub(load.connections);
        match self.admission {
            Admission::FirstCome => free > 0,
            Admission::OldestRetryFirst => {
                let ahead = match cs.queued {
                    Some(place) => usize::from(place),
                    None => load.waiting,
                };
                ahead < free
            }
        }
    }

    /// The relay admits a telegram of `cs` for `card`.
    fn admit(&self, s: &mut CsBlockState, cs: usize, card: usize) {
        s.dequeue(cs);
        s.css[cs].cards[card].phase = CardPhase::InFlight { answer: None };
    }

    /// The relay answers `cs` connection excess for `card`, and the CS
    /// reacts.
    fn on_connection_excess(&self, s: &mut CsBlockState, cs: usize, card: usize) {
        if self.admission == Admission::OldestRetryFirst && s.css[cs].queued.is_none() {
            // At most one place per CS, so the queue is bounded by the CSs.
            s.css[cs].queued = Some(s.waiting() as u8);
        }
        let terminal = &mut s.css[cs];
        match self.cs_rule {
            CsRule::Legacy => {
                for c in terminal.cards.iter_mut() {
                    if let CardPhase::InFlight { answer } = c.phase {
                        c.phase = CardPhase::Discarded;
                        s.accepted_dropped = true;
                        if self.held_until_answered {
                            match answer {
                                None => c.held += 1,
                                Some(_) => terminal.held_processed += 1,
                            }
                        }
                    }
                }
                terminal.cards[card].phase = CardPhase::Discarded;
                terminal.blocked = true;
            }
            CsRule::Improved => terminal.cards[card].phase = CardPhase::Rejected,
        }
    }

    /// Takes `action` from `s`, writing the successor into `next` (a copy
    /// of `s` on entry); `None` when it is not enabled (`next` is then
    /// partly written). A `listed` action (from `actions`, so enabled:
    /// `tests::listed_actions_are_enabled`) is not asked again whether
    /// its CS may send and the relay admits it.
    fn apply(
        &self,
        s: &CsBlockState,
        action: &CsBlockAction,
        next: &mut CsBlockState,
        listed: bool,
    ) -> Option<()> {
        match *action {
            CsBlockAction::Send { cs, card } => {
                let terminal = s.css.get(cs)?;
                let admitted = || self.admits(Load::of(s), terminal);
                if !listed && (self.sendable(terminal) != Some(card) || !admitted()) {
                    return None;
                }
                self.admit(next, cs, card);
            }
            CsBlockAction::ConnectionExcess { cs, card } => {
                let terminal = s.css.get(cs)?;
                let admitted = || self.admits(Load::of(s), terminal);
                if !listed && (self.sendable(terminal) != Some(card) || admitted()) {
                    return None;
                }
                self.on_connection_excess(next, cs, card);
            }
            CsBlockAction::Upstream { cs, card } => {
                let c = next.css.get_mut(cs)?.cards.get_mut(card)?;
                if c.phase != (CardPhase::InFlight { answer: None }) {
                    return None;
                }
                let answer = if c.system_registered {
                    Answer::Unauthorized
                } else {
                    Answer::Issued
                };
                c.system_registered = true;
                c.phase = CardPhase::InFlight {
                    answer: Some(answer),
                };
            }
            CsBlockAction::Reply { cs, card } => {
                let c = next.css.get_mut(cs)?.cards.get_mut(card)?;
                let CardPhase::InFlight {
                    answer: Some(answer),
                } = c.phase
                else {
                    return None;
                };
                c.phase = CardPhase::Done(answer);
            }
            CsBlockAction::Unblock { cs } => {
                let terminal = next.css.get_mut(cs)?;
                if !terminal.blocked {
                    return None;
                }
                terminal.blocked = false;
            }
            CsBlockAction::Retry { cs, card } => {
                let terminal = s.css.get(cs)?;
                let rejected = terminal.cards.get(card)?.phase == CardPhase::Rejected;
                if !listed && (!rejected || !self.may_retry(Load::of(s), terminal)) {
                    return None;
                }
                self.admit(next, cs, card);
            }
            CsBlockAction::NextCard { cs, card } => {
                let terminal = next.css.get_mut(cs)?;
                let c = terminal.cards.get_mut(card)?;
                if !self.continuous || !matches!(c.phase, CardPhase::Done(_)) {
                    return None;
                }
                // A finished card is registered, so the old card's discarded
                // telegrams the relay still holds can register nothing more:
                // they only hold their connections until answered (their
                // processing, which changes nothing, is left out), and do
                // not touch the fresh card's record.
                let old_held = c.held;
                *c = Card {
                    phase: CardPhase::Unsent,
                    system_registered: false,
                    held: 0,
                };
                terminal.held_processed += old_held;
            }
            CsBlockAction::UpstreamDiscarded { cs, card } => {
                let terminal = next.css.get_mut(cs)?;
                let c = terminal.cards.get_mut(card)?;
                if c.held == 0 {
                    return None;
                }
                c.held -= 1;
                c.system_registered = true;
                terminal.held_processed += 1;
            }
            CsBlockAction::ReplyDiscarded { cs } => {
                let terminal = next.css.get_mut(cs)?;
                if terminal.held_processed == 0 {
                    return None;
                }
                terminal.held_processed -= 1;
            }
        }
        Some(())
    }
}

impl Spec for CsBlock {
    type State = CsBlockState;
    type Action = CsBlockAction;

    fn name(&self) -> &'static str {
        "cs-block"
    }

    fn init_states(&self) -> Vec<CsBlockState> {
        let card = Card {
            phase: CardPhase::Unsent,
            system_registered: false,
            held: 0,
        };
        let cs = Cs {
            blocked: false,
            cards: smallvec![card; self.cards],
            queued: None,
            held_processed: 0,
        };
        vec![CsBlockState {
            css: smallvec![cs; self.css],
            accepted_dropped: false,
        }]
    }

    fn actions(&self, s: &CsBlockState, actions: &mut Vec<CsBlockAction>) {
        let _ = self.each_enabled_action(s, |action| {
            actions.push(action);
            ControlFlow::Continue(())
        });
    }

    /// Stops at the first enabled action (the deadlock property asks it
    /// of every state a search finds).
    fn is_terminal(&self, s: &CsBlockState) -> bool {
        self.each_enabled_action(s, |_| ControlFlow::Break(()))
            .is_continue()
    }

    fn next_state(&self, s: &CsBlockState, action: &CsBlockAction) -> Option<CsBlockState> {
        let mut next = s.clone();
        self.apply(s, action, &mut next, false)?;
        Some(next)
    }

    /// Writes each enabled action's successor in place, in a slot pushed
    /// as a copy of `s`, with no list of actions: a listed action is not
    /// asked again whether it is enabled (`apply`).
    fn successors_into(
        &self,
        s: &CsBlockState,
        _actions: &mut Vec<CsBlockAction>,
        successors: &mut Vec<(CsBlockAction, CsBlockState)>,
    ) {
        successors.clear();
        let _ = self.each_enabled_action(s, |action| {
            successors.push((action, s.clone()));
            let (action, next) = successors.last_mut().expect("just pushed");
            let applied = self.apply(s, action, next, true);
            debug_assert!(applied.is_some(), "{action:?} is listed, so enabled");
            ControlFlow::Continue(())
        });
    }

    /// Each successor's key from the parent's CS keys: an action changes
    /// the CS it names, and others only when it admits a queued CS (those
    /// behind it move up), so only those are encoded again.
    fn successors_with_keys(
        &self,
        s: &CsBlockState,
        identity: Identity,
        actions: &mut Vec<CsBlockAction>,
        successors: &mut Vec<(CsBlockAction, CsBlockState)>,
        keys: &mut Keys,
    ) {
        self.successors_into(s, actions, successors);
        keys.clear();
        let parent = codec::cs_keys(s).filter(|_| identity != Identity::Exact);
        let fixed = identity.fixed_processes();
        for (action, next) in successors.iter() {
            let (key, moved) = keys.next_slot();
            let Some(mut cs_keys) = parent else {
                encode_key::<Self>(identity, next, key, moved);
                continue;
            };
            let cs = action.cs();
            let admitted = matches!(
                action,
                CsBlockAction::Send { .. } | CsBlockAction::Retry { .. }
            );
            if admitted && s.css[cs].queued.is_some() {
                cs_keys = codec::cs_keys(next).expect("as many CSs as the parent");
            } else {
                cs_keys[cs] = codec::cs_key(&next.css[cs]);
            }
            debug_assert_eq!(Some(cs_keys), codec::cs_keys(next), "{action:?}");
            codec::encode_sorted_keys(next, cs_keys, fixed, key, moved);
        }
    }
    fn properties(&self) -> Vec<Property<Self>> {
        // A CS that wants to send eventually tries, whatever the relay
        // answers: admission and connection excess are one fairness class.
        let everyone_moves = || Fairness {
            description: "CSs keep trying to send, the relay and the upstream system keep \
                          taking steps, blocks and backoffs end",
            weakly_fair: |_, _| true,
            class: |a| match *a {
                CsBlockAction::ConnectionExcess { cs, card } => CsBlockAction::Send { cs, card },
                ref other => other.clone(),
            },
        };
        let properties = vec![
            Property::<Self>::always("chip_and_system_agree", |_, s| {
                s.css
                    .iter()
                    .flat_map(|cs| &cs.cards)
                    .all(chip_and_system_agree)
            }),
            Property::<Self>::always("accepted_never_discarded", |_, s| !s.accepted_dropped),
            Property::<Self>::always("no_deadlock", |spec, s| {
                let waiting = s
                    .css
                    .iter()
                    .flat_map(|cs| &cs.cards)
                    .any(|c| !matches!(c.phase, CardPhase::Done(_)));
                !(waiting && is_terminal(spec, s))
            }),
            // Under continuous demand the relay need never be idle nor every
            // card done at once, whatever the design: these two then take
            // their per-request and per-CS forms (cs0 stands for any CS).
            Property::<Self>::eventually(
                "accepted_request_answered",
                |spec, s| {
                    let answered = if spec.continuous {
                        !matches!(s.css[0].cards[0].phase, CardPhase::InFlight { .. })
                    } else {
                        s.connections() == 0
                    };
                    !s.accepted_dropped && answered
                },
                everyone_moves(),
            ),
            Property::<Self>::eventually(
                "no_cs_starves",
                |spec, s| {
                    let done = |c: &Card| matches!(c.phase, CardPhase::Done(_));
                    if spec.continuous {
                        !waits_for_admission(&s.css[0])
                    } else {
                        s.css.iter().flat_map(|cs| &cs.cards).all(done)
                    }
                },
                everyone_moves(),
            ),
            Property::<Self>::eventually(
                "card_finishes",
                |_, s| {
                    let card = s.css[0].cards[0].phase;
                    matches!(card, CardPhase::Unsent | CardPhase::Done(_))
                },
                everyone_moves(),
            )
            .about_one_process(),
            Property::<Self>::eventually(
                "cs_keeps_issuing",
                |spec, s| {
                    let done = |c: &Card| matches!(c.phase, CardPhase::Done(_));
                    let cards = &s.css[0].cards;
                    if spec.continuous {
                        cards.iter().any(done)
                    } else {
                        cards.iter().all(done)
                    }
                },
                everyone_moves(),
            )
            .about_one_process(),
            Property::<Self>::sometimes("all_cards_issued", |_, s| {
                s.css
                    .iter()
                    .flat_map(|cs| &cs.cards)
                    .all(|c| c.phase == CardPhase::Done(Answer::Issued))
            }),
        ];
        let mut properties = properties;
        if self.continuous {
            // Their continuous-demand forms follow cs0.
            for p in properties
                .iter_mut()
                .filter(|p| ["accepted_request_answered", "no_cs_starves"].contains(&p.name))
            {
                p.symmetric = false;
            }
        }
        with_fairness(properties, self.unfair)
    }

    fn representative(state: &CsBlockState) -> CsBlockState {
        let mut canonical = state.clone();
        canonical.css.sort_by_key(codec::cs_key);
        canonical
    }

    fn processes(state: &CsBlockState) -> usize {
        state.css.len()
    }

    /// By the CSs' encodings ([`codec::cs_key`]): the order a search sorts
    /// them in without comparing the CSs themselves
    /// ([`Spec::encode_representative`]), their fields' order in every
    /// state the spec reaches.
    fn compare_processes(state: &CsBlockState, i: usize, j: usize) -> std::cmp::Ordering {
        codec::cs_key(&state.css[i]).cmp(&codec::cs_key(&state.css[j]))
    }

    fn permute(state: &CsBlockState, to: &[usize]) -> CsBlockState {
        let mut permuted = state.clone();
        for (i, cs) in state.css.iter().enumerate() {
            permuted.css[to[i]] = cs.clone();
        }
        permuted
    }

    /// The CSs swapped into place, cycle by cycle, not cloned.
    fn permute_owned(mut state: CsBlockState, to: &[usize]) -> CsBlockState {
        crate::search::permute_in_place(&mut state.css, to);
        state
    }

    fn encode_state(state: &CsBlockState, buf: &mut Vec<u8>) {
        codec::encode(state, |p| p, buf);
    }

    fn decode_state(bytes: &[u8]) -> CsBlockState {
        codec::decode(bytes)
    }

    fn encode_permuted(state: &CsBlockState, to: &[usize], buf: &mut Vec<u8>) {
        codec::encode_permuted(state, to, buf);
    }

    fn encode_representative(
        state: &CsBlockState,
        fixed: usize,
        buf: &mut Vec<u8>,
        moved: &mut Vec<u8>,
    ) {
        codec::encode_sorted(state, fixed, buf, moved);
    }

    fn class_size(key: &[u8]) -> u64 {
        codec::class_size(key)
    }

    fn permute_action(action: &CsBlockAction, to: &[usize]) -> CsBlockAction {
        let mut permuted = action.clone();
        let cs = permuted.cs_mut();
        *cs = to[*cs];
        permuted
    }

    fn assumptions(&self) -> Assumptions {
        let demand = if self.continuous {
            "continuous"
        } else {
            "finite"
        };
        let fairness = if self.unfair { "none" } else { "weak" };
        let discarded = if self.held_until_answered {
            "held-until-answered"
        } else {
            "freed"
        };
        BTreeMap::from([
            ("demand".to_string(), demand.to_string()),
            ("discarded-connections".to_string(), discarded.to_string()),
            ("fairness".to_string(), fairness.to_string()),
        ])
    }

    fn describe_action(&self, action: &CsBlockAction) -> String {
        match *action {
            CsBlockAction::Send { cs, card } => {
                format!("cs{cs} writes chip c{card} and sends; relay admits it")
            }
            CsBlockAction::ConnectionExcess { cs, card } => {
                let reaction = match self.cs_rule {
                    CsRule::Legacy => format!("cs{cs} cuts all, discards, blocks 1 min"),
                    CsRule::Improved => format!("c{card} backs off"),
                };
                let queue = match self.admission {
                    Admission::FirstCome => String::new(),
                    Admission::OldestRetryFirst => {
                        format!("; the relay queues cs{cs} for a freed connection")
                    }
                };
                format!("cs{cs} sends c{card}: connection_excess -> {reaction}{queue}")
            }
            CsBlockAction::Upstream { cs, card } => {
                format!("system processes cs{cs}'s telegram for c{card}")
            }
            CsBlockAction::Reply { cs, card } => format!("cs{cs} receives the answer for c{card}"),
            CsBlockAction::Unblock { cs } => format!("cs{cs}'s minute of blocking ends"),
            CsBlockAction::Retry { cs, card } => {
                format!("cs{cs} retries c{card} with the same telegram id; admitted")
            }
            CsBlockAction::NextCard { cs, card } => {
                format!("cs{cs} starts its next card in slot c{card}")
            }
            CsBlockAction::UpstreamDiscarded { cs, card } => {
                format!("system processes a telegram for c{card} that cs{cs} discarded; the relay still held it")
            }
            CsBlockAction::ReplyDiscarded { cs } => format!(
                "relay answers a processed telegram cs{cs} discarded and frees its connection; cs{cs} ignores the answer"
            ),
        }
    }

    fn describe_state(&self, s: &CsBlockState) -> String {
        let css: Vec<String> = s
            .css
            .iter()
            .enumerate()
            .map(|(i, cs)| {
                let cards: Vec<String> = cs
                    .cards
                    .iter()
                    .map(|c| {
                        format!(
                            "{:?}{}{}",
                            c.phase,
                            if c.system_registered { "+reg" } else { "" },
                            match c.held {
                                0 => String::new(),
                                n => format!("+held={n}"),
                            }
                        )
                    })
                    .collect();
                let queued = cs.queued.map(|p| format!(" WAITING#{p}"));
                // Discarded telegrams the relay still holds, processed: only
                // their answers remain (none under `freed`).
                let answers_held = match cs.held_processed {
                    0 => String::new(),
                    n => format!(" HELD-ANSWERS={n}"),
                };
                format!(
                    "cs{i}{}{}{answers_held} [{}]",
                    if cs.blocked { " BLOCKED" } else { "" },
                    queued.unwrap_or_default(),
                    cards.join(", ")
                )
            })
            .collect();
        format!("connections={} | {}", s.connections(), css.join("; "))
    }
}

/// The CS waits for the relay: blocked, or holding a refused or discarded
/// card it has not got admitted again.
fn waits_for_admission(cs: &Cs) -> bool {
    cs.blocked
        || cs
            .cards
            .iter()
            .any(|c| matches!(c.phase, CardPhase::Rejected | CardPhase::Discarded))
}

/// A card's chip and the system's record tell the same story: no card is
/// answered "unauthorized" while the system has it registered (the retry of
/// a card the system already issued), and no card the CS is done with has
/// a written chip and no registration (lost for good: nobody will send it
/// again).
fn chip_and_system_agree(c: &Card) -> bool {
    let refused_but_registered =
        c.phase == CardPhase::Done(Answer::Unauthorized) && c.system_registered;
    let lost_for_good = matches!(c.phase, CardPhase::Done(_)) && !c.system_registered;
    !(refused_but_registered || lost_for_good)
}

#[cfg(test)]
mod tests {
    use super::*;
    use patches::Preset;
    use CsBlockAction::*;

    /// `actions` lists only enabled actions on every preset and setting of
    /// the assumptions: `is_terminal` relies on it.
    #[test]
    fn listed_actions_are_enabled() {
        let sizes: BTreeMap<String, u64> = [("css", 2), ("cards", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let specs = crate::assume::every_preset_and_setting(ASSUMPTIONS, |preset, given| {
            CsBlock::new(preset.patches(), &sizes)
                .unwrap()
                .assuming(given)
                .unwrap()
        });
        crate::spec::assert_listed_actions_enabled(&specs);
    }

    fn run(spec: &CsBlock, actions: &[CsBlockAction]) -> CsBlockState {
        let mut s = spec.init_states().remove(0);
        for a in actions {
            s = spec
                .next_state(&s, a)
                .unwrap_or_else(|| panic!("{a:?} disabled"));
        }
        s
    }

    /// cs0's first card is registered upstream, then the relay fills up and
    /// cs0's second telegram gets connection excess.
    const OVERLOAD: [CsBlockAction; 4] = [
        Send { cs: 0, card: 0 },
        Upstream { cs: 0, card: 0 },
        Send { cs: 1, card: 0 },
        ConnectionExcess { cs: 0, card: 1 },
    ];

    #[test]
    fn legacy_cs_discards_a_registered_card_and_its_retry_is_refused() {
        let spec = CsBlock::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        let s = run(&spec, &OVERLOAD);
        assert!(s.css[0].blocked && s.accepted_dropped);
        assert_eq!(s.css[0].cards[0].phase, CardPhase::Discarded);
        let mut actions = OVERLOAD.to_vec();
        actions.extend([
            Unblock { cs: 0 },
            Send { cs: 0, card: 0 },
            Upstream { cs: 0, card: 0 },
            Reply { cs: 0, card: 0 },
        ]);
        let s = run(&spec, &actions);
        assert_eq!(
            s.css[0].cards[0].phase,
            CardPhase::Done(Answer::Unauthorized)
        );
        assert!(s.css[0].cards[0].system_registered);
        let card = &s.observe()[0];
        assert!(card.chip_written && card.system_registered);
        assert_eq!(card.cs_outcome.as_deref(), Some("unauthorized"));
    }

    #[test]
    fn improved_cs_keeps_in_flight_telegrams() {
        let spec = CsBlock::new(Preset::Proposed.patches(), &BTreeMap::new()).unwrap();
        let s = run(&spec, &OVERLOAD);
        assert!(!s.css[0].blocked && !s.accepted_dropped);
        assert_eq!(s.css[0].cards[1].phase, CardPhase::Rejected);
        assert_eq!(s.connections(), 2);
        assert_eq!(
            spec.next_state(&s, &Retry { cs: 0, card: 1 }),
            None,
            "still full"
        );
    }

    fn jan_2016_holding_discarded() -> CsBlock {
        let held = BTreeMap::from([(
            "discarded-connections".to_string(),
            "held-until-answered".to_string(),
        )]);
        let spec = CsBlock::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        spec.assuming(&held).unwrap()
    }

    /// cs0's first card is admitted and not yet processed, cs1's fills the
    /// relay, cs0's second card is refused: cs0 discards its first.
    const DISCARD_UNPROCESSED: [CsBlockAction; 3] = [
        Send { cs: 0, card: 0 },
        Send { cs: 1, card: 0 },
        ConnectionExcess { cs: 0, card: 1 },
    ];

    #[test]
    fn under_freed_a_discarded_unprocessed_telegram_is_abandoned_with_its_connection() {
        let spec = CsBlock::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        let s = run(&spec, &DISCARD_UNPROCESSED);
        assert_eq!(s.connections(), 1, "only cs1's telegram");
        assert_eq!((s.css[0].cards[0].held, s.css[0].held_processed), (0, 0));
        let mut actions = Vec::new();
        spec.actions(&s, &mut actions);
        assert!(!actions
            .iter()
            .any(|a| matches!(a, UpstreamDiscarded { .. } | ReplyDiscarded { .. })));
        assert_eq!(spec.assumptions()["discarded-connections"], "freed");
    }

    #[test]
    fn a_held_discarded_telegram_registers_its_card_so_the_resend_is_refused() {
        let spec = jan_2016_holding_discarded();
        assert_eq!(
            spec.assumptions()["discarded-connections"],
            "held-until-answered"
        );
        let s = run(&spec, &DISCARD_UNPROCESSED);
        // The relay still holds cs0's discarded telegram: the limit is
        // still reached.
        assert_eq!(s.connections(), 2);
        assert_eq!((s.css[0].cards[0].held, s.css[0].held_processed), (1, 0));
        assert!(spec.describe_state(&s).contains("Discarded+held=1"));
        // The system processes the discarded telegram (registering the
        // card), cs1's card completes, and cs0 resends its first card.
        let mut actions = DISCARD_UNPROCESSED.to_vec();
        actions.extend([
            Unblock { cs: 0 },
            UpstreamDiscarded { cs: 0, card: 0 },
            Upstream { cs: 1, card: 0 },
            Reply { cs: 1, card: 0 },
            // cs0 resends its first card as new: the relay admits it (one
            // connection free), the system already registered it.
            Send { cs: 0, card: 0 },
            Upstream { cs: 0, card: 0 },
        ]);
        let s = run(&spec, &actions);
        assert_eq!(s.connections(), 2, "the resend and the held telegram");
        assert_eq!(
            s.css[0].cards[0].phase,
            CardPhase::InFlight {
                answer: Some(Answer::Unauthorized)
            }
        );
        assert_eq!(s.css[0].held_processed, 1);
        assert!(spec.describe_state(&s).contains("cs0 HELD-ANSWERS=1 ["));
        actions.extend([Reply { cs: 0, card: 0 }, ReplyDiscarded { cs: 0 }]);
        let s = run(&spec, &actions);
        assert_eq!(s.connections(), 0);
        assert!(!chip_and_system_agree(&s.css[0].cards[0]));
        assert_eq!(spec.next_state(&s, &ReplyDiscarded { cs: 0 }), None);
    }

    fn proposed_with(admission: &str) -> CsBlock {
        let config =
            patches::Config::with_patches(Preset::Proposed, &[format!("admission={admission}")])
                .unwrap();
        CsBlock::new(config.patches, &BTreeMap::new()).unwrap()
    }

    /// cs0's second card is refused, then cs0's first card is answered:
    /// one connection is free again.
    const FREED: [CsBlockAction; 7] = [
        Send { cs: 0, card: 0 },
        Upstream { cs: 0, card: 0 },
        Send { cs: 1, card: 0 },
        ConnectionExcess { cs: 0, card: 1 },
        ConnectionExcess { cs: 2, card: 0 },
        Reply { cs: 0, card: 0 },
        NextCard { cs: 0, card: 0 },
    ];

    #[test]
    fn a_freed_connection_waits_for_the_oldest_refused_cs() {
        let fair = proposed_with("oldest-retry-first").assuming(&BTreeMap::from([(
            "demand".to_string(),
            "continuous".to_string(),
        )]));
        let spec = fair.unwrap();
        let s = run(&spec, &FREED);
        assert_eq!((s.css[0].queued, s.css[2].queued), (Some(0), Some(1)));
        assert_eq!(s.connections(), 1);
        // cs0 sends nothing new before its refused card ...
        assert_eq!(spec.next_state(&s, &Send { cs: 0, card: 0 }), None);
        // ... cs2 and cs1 wait behind it ...
        assert_eq!(spec.next_state(&s, &Retry { cs: 2, card: 0 }), None);
        assert!(spec
            .next_state(&s, &ConnectionExcess { cs: 1, card: 1 })
            .is_some());
        // ... and cs0's retry takes the connection; cs2 moves up.
        let s = run(
            &spec,
            &[FREED.as_slice(), &[Retry { cs: 0, card: 1 }]].concat(),
        );
        assert_eq!((s.css[0].queued, s.css[2].queued), (None, Some(0)));
    }

    #[test]
    fn first_come_gives_the_freed_connection_to_a_new_card() {
        let spec = proposed_with("first-come")
            .assuming(&BTreeMap::from([(
                "demand".to_string(),
                "continuous".to_string(),
            )]))
            .unwrap();
        let s = run(&spec, &FREED);
        assert_eq!(s.waiting(), 0);
        let taken = spec.next_state(&s, &Send { cs: 1, card: 1 }).unwrap();
        assert_eq!(spec.next_state(&taken, &Retry { cs: 0, card: 1 }), None);
    }

    #[test]
    fn chip_and_system_agree_catches_a_registration_lost_for_good() {
        let card = |phase, system_registered| Card {
            phase,
            system_registered,
            held: 0,
        };
        let issued = CardPhase::Done(Answer::Issued);
        let refused = CardPhase::Done(Answer::Unauthorized);
        assert!(chip_and_system_agree(&card(issued, true)));
        assert!(chip_and_system_agree(&card(CardPhase::Unsent, false)));
        assert!(chip_and_system_agree(&card(CardPhase::Discarded, false)));
        // Refused although the system has it: the 2016 reissue.
        assert!(!chip_and_system_agree(&card(refused, true)));
        // The CS is done with it, the chip is written, the system never
        // registered it.
        assert!(!chip_and_system_agree(&card(issued, false)));
        assert!(!chip_and_system_agree(&card(refused, false)));
    }

    /// The timeline of `explain` and the explorer: connection excess says
    /// what the CS does (the legacy block, the improved backoff) and
    /// whether the relay queues the CS; a state says which CS is blocked.
    #[test]
    fn connection_excess_is_described_by_the_cs_rule_and_the_admission_order() {
        let excess = ConnectionExcess { cs: 0, card: 1 };
        let legacy = CsBlock::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        let text = legacy.describe_action(&excess);
        assert_eq!(
            text,
            "cs0 sends c1: connection_excess -> cs0 cuts all, discards, blocks 1 min"
        );
        let improved = CsBlock::new(Preset::Proposed.patches(), &BTreeMap::new()).unwrap();
        let text = improved.describe_action(&excess);
        assert!(text.contains("-> c1 backs off"), "{text}");
        assert_eq!(improved.admission, Admission::OldestRetryFirst);
        assert!(
            text.ends_with("; the relay queues cs0 for a freed connection"),
            "{text}"
        );
        assert!(!legacy.describe_action(&excess).contains("queues"));
        let blocked = run(&legacy, &OVERLOAD);
        let text = legacy.describe_state(&blocked);
        assert!(text.starts_with("connections=1 | cs0 BLOCKED ["), "{text}");
        assert!(!text.contains("cs1 BLOCKED"), "{text}");
    }

    /// What the real system can report of a card: written, registered, and
    /// the answer its CS got ("issued" on the happy path).
    #[test]
    fn an_answered_card_is_observed_as_issued() {
        let spec = CsBlock::new(Preset::Proposed.patches(), &BTreeMap::new()).unwrap();
        let sent = run(&spec, &[Send { cs: 0, card: 0 }]);
        let card = &sent.observe()[0];
        assert!(card.chip_written && !card.system_registered);
        assert_eq!(card.cs_outcome, None);
        let answered = [
            Send { cs: 0, card: 0 },
            Upstream { cs: 0, card: 0 },
            Reply { cs: 0, card: 0 },
        ];
        let card = &run(&spec, &answered).observe()[0];
        assert_eq!((card.cs, card.card), (0, 0));
        assert!(card.chip_written && card.system_registered);
        assert_eq!(card.cs_outcome.as_deref(), Some("issued"));
    }

    /// A replayed trace can name any action: one its guard refuses is not
    /// enabled (connection excess while the relay admits, a retry of a card
    /// that was not refused, a next card under finite demand).
    #[test]
    fn an_action_its_guard_refuses_is_not_enabled() {
        let spec = CsBlock::new(Preset::Proposed.patches(), &BTreeMap::new()).unwrap();
        assert!(!spec.continuous, "finite demand is the default");
        let empty = run(&spec, &[]);
        let excess = ConnectionExcess { cs: 0, card: 0 };
        assert_eq!(spec.next_state(&empty, &excess), None, "the relay admits");
        assert!(spec.next_state(&empty, &Send { cs: 0, card: 0 }).is_some());
        let retry = Retry { cs: 0, card: 0 };
        assert_eq!(spec.next_state(&empty, &retry), None, "never refused");
        let answered = [
            Send { cs: 0, card: 0 },
            Upstream { cs: 0, card: 0 },
            Reply { cs: 0, card: 0 },
        ];
        let done = run(&spec, &answered);
        assert!(matches!(done.css[0].cards[0].phase, CardPhase::Done(_)));
        let next_card = NextCard { cs: 0, card: 0 };
        assert_eq!(spec.next_state(&done, &next_card), None, "finite demand");
    }

    /// demand=continuous, discarded-connections=held-until-answered: a
    /// finished card's discarded telegrams the relay still holds move to
    /// its CS's held answers when the CS starts its next card in the slot.
    #[test]
    fn a_next_card_leaves_the_old_cards_held_telegrams_to_its_cs() {
        let given = BTreeMap::from([
            ("demand".to_string(), "continuous".to_string()),
            (
                "discarded-connections".to_string(),
                "held-until-answered".to_string(),
            ),
        ]);
        let spec = CsBlock::new(Preset::Jan2016.patches(), &BTreeMap::new())
            .unwrap()
            .assuming(&given)
            .unwrap();
        let mut done = run(&spec, &[]);
        let card = &mut done.css[0].cards[0];
        (card.phase, card.system_registered, card.held) =
            (CardPhase::Done(Answer::Issued), true, 2);
        let next = spec
            .next_state(&done, &NextCard { cs: 0, card: 0 })
            .unwrap();
        assert_eq!(next.css[0].held_processed, 2);
        assert_eq!(next.css[0].cards[0].phase, CardPhase::Unsent);
        assert_eq!(next.css[0].cards[0].held, 0);
        assert_eq!(next.connections(), done.connections(), "still held");
    }
}
