//! cs-block: the CS blocking rule that turned a capacity limit into a
//! national cascade.
//!
//! * the workload: [`Load`] (terminals, cards each, telegrams in flight per
//!   terminal, connection limit) on the whole relay with real `run_cs`
//!   terminals, under the spec's timing assumptions or production's
//!   ([`Timeouts`]);
//! * the relay-side check, named after the spec's property:
//!   [`chip_and_system_agree`];
//! * the relay -> spec maps: [`Load::spec`], the spec instance a workload
//!   is, and [`Refinement`], a relay log (relay and `cs` terminal events)
//!   walked step by step through the spec (`chukei validate --spec
//!   cs-block`). There is no spec -> relay steering: the terminal's rule is
//!   a loop inside `run_cs`, so the world's actions (send, connection
//!   excess, discard, block, retry) are chosen by the driver's schedule,
//!   not one by one.

use crate::refine::{Meaning, Report, SkipReason, Walk};
use crate::workload::{RunRecord, Workload};
use model::cs_block::{Answer, CardPhase, CsBlock, CsBlockAction, CsBlockState};
use model::sizes::SizeError;
use model::Spec;
use patches::{CsRule, Patches};
use relay::cs::{disagreements, CsConfig, CsReport};
use relay::events::{Event, EventKind, ThreadName};
use relay::platform::Millis;
use relay::sim::{Chooser, Driver, RunOutcome, Sim};
use relay::telegram::{CardId, CsId, TelegramId, TelegramKind};
use relay::{EventLog, RelayConfig, Role};
use std::collections::{BTreeMap, BTreeSet};

/// Which timeouts can fire. The spec's relay always answers with success
/// and its Legacy rule fires on connection excess only.
#[derive(Clone, Copy, Debug)]
pub enum Timeouts {
    /// None within a run: the spec's assumptions.
    AsInTheSpec,
    /// Search 60 s, telegram timer 30 s, HSM guard 5 s: what the spec
    /// leaves out.
    Production,
}

impl Timeouts {
    const NEVER: Millis = 24 * 60 * 60 * 1000;

    fn search(self) -> Millis {
        match self {
            Timeouts::AsInTheSpec => Self::NEVER,
            Timeouts::Production => 60_000,
        }
    }

    fn relay(self, patches: Patches) -> RelayConfig {
        let production = RelayConfig::small(patches);
        match self {
            Timeouts::AsInTheSpec => RelayConfig {
                telegram_timeout: Self::NEVER,
                hsm_guard_timeout: Self::NEVER,
                ..production
            },
            Timeouts::Production => production,
        }
    }
}

/// A cs-block workload, in the spec's sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub terminals: u16,
    pub cards_each: u64,
    pub in_flight: usize,
    pub limit: u64,
}

impl Load {
    /// The whole relay with this connection limit, and every terminal on a
    /// thread of its own (terminal `n` writes cards `n*100 ..`).
    pub fn workload(self, patches: impl Into<Patches>, timeouts: Timeouts) -> Workload {
        let patches: Patches = patches.into();
        let config = RelayConfig {
            connection_limit: self.limit,
            ..timeouts.relay(patches)
        };
        let rule = patches.cs_rule;
        let terminal = |cs: u16| {
            let cards = (0..self.cards_each).map(|i| CardId(u64::from(cs) * 100 + i));
            CsConfig {
                window: self.in_flight,
                search_timeout: Some(timeouts.search()),
                ..CsConfig::new(CsId(cs), cards.collect(), rule)
            }
        };
        Workload {
            roles: Role::all_for(&config),
            config,
            terminals: (1..=self.terminals).map(terminal).collect(),
            first_terminal_inline: false,
        }
    }

    /// The cards whose chip and system record disagree after the schedule
    /// of `seed` on the deterministic driver; `Err` if the run did not
    /// complete (a deadlock, a panic, the step limit).
    pub fn lost_cards(
        self,
        patches: impl Into<Patches>,
        timeouts: Timeouts,
        seed: u64,
    ) -> Result<Vec<CardId>, RunOutcome> {
        self.seeded_run(patches, timeouts, seed)
            .map(|run| chip_and_system_agree(&run).err().unwrap_or_default())
    }

    /// The relay's and the terminals' event log of the schedule of `seed`
    /// on the deterministic driver (what `chukei validate --spec cs-block`
    /// reads); `Err` if the run did not complete.
    pub fn events(
        self,
        patches: impl Into<Patches>,
        timeouts: Timeouts,
        seed: u64,
    ) -> Result<Vec<Event>, RunOutcome> {
        self.seeded_run(patches, timeouts, seed)
            .map(|run| run.events)
    }

    /// One seeded run on the deterministic driver, with preemptions as long
    /// as production's telegram timeout.
    fn seeded_run(
        self,
        patches: impl Into<Patches>,
        timeouts: Timeouts,
        seed: u64,
    ) -> Result<RunRecord, RunOutcome> {
        let patches: Patches = patches.into();
        let workload = self.workload(patches, timeouts);
        let chooser = Chooser::Seeded {
            seed,
            clock_jump: 0.03,
        };
        let max_jump = RelayConfig::small(patches).telegram_timeout;
        let (report, run) = Driver::new(chooser)
            .max_clock_jump(max_jump)
            .run(move || workload.run::<Sim>(&EventLog::new()));
        match (report.outcome, run) {
            (RunOutcome::Completed, Some(run)) => Ok(run),
            (outcome, _) => Err(outcome),
        }
    }

    /// The spec instance this workload is, at a preset or switch set.
    pub fn spec(self, patches: impl Into<Patches>) -> Result<CsBlock, SizeError> {
        let sizes = BTreeMap::from([
            ("css".to_string(), u64::from(self.terminals)),
            ("cards".to_string(), self.cards_each),
            ("inflight".to_string(), self.in_flight as u64),
            ("limit".to_string(), self.limit),
        ]);
        CsBlock::new(patches.into(), &sizes)
    }
}

// ------------------------------------------------------ relay -> spec map

/// The relay -> spec map of cs-block (`chukei validate --spec cs-block`):
/// the relay's admission events and the `cs` terminals' events, walked
/// through one spec instance whose CSs are the terminals of the log.
///
/// * The instance: one spec CS per terminal in the log (in `cs` order), as
///   many card slots as the busiest terminal wrote chips, the connection
///   limit of the relay's `connection-excess` answers (none in the log:
///   no limit to check against), and a window no terminal reaches (the
///   terminal's window is not in the log).
/// * A card's slot is the order its terminal first wrote it; a telegram's
///   card is the one its `chip-written` or `cs-retry` names.
/// * `arrived` is `Send` (the relay admitted it), or `Retry` for a card
///   the spec holds rejected (Improved rule); `connection-excess` is
///   `ConnectionExcess` (a retry refused again is checked: the spec must
///   not admit it either). Legacy resends discarded cards in another order
///   than the spec's lowest slot first: among a terminal's discarded
///   cards the map relabels slots (the spec treats them alike but for that
///   order).
/// * `upstream-reply` is `Upstream` (its `registered` must be the spec's
///   answer); the relay's `reply` is `Reply` (the connection is free); the
///   terminal's `cs-confirmed`, `cs-discarded` and `cs-blocked` are
///   checked against the state; a blocked terminal's next send first
///   takes `Unblock` (the minute is over).
/// * The spec is read under `discarded-connections=held-until-answered`:
///   a telegram its terminal discarded (Legacy) is still served by the
///   relay, which holds its connection until it answers it (the in-process
///   terminal cannot cut it). Its `upstream-reply` is `UpstreamDiscarded`
///   (which may register the card while the terminal resends it as new:
///   the unauthorized path), its `reply` is `ReplyDiscarded` (the
///   connection is free; the terminal ignores the answer).
pub struct Refinement {
    walk: Walk<CsBlock>,
    /// Spec CS index of each terminal.
    css: BTreeMap<CsId, usize>,
    /// Per terminal, its cards by slot.
    slots: BTreeMap<CsId, Vec<CardId>>,
    /// Each telegram's terminal and card.
    telegrams: BTreeMap<TelegramId, (CsId, CardId)>,
    /// Telegrams the spec holds in flight.
    in_flight: BTreeSet<TelegramId>,
    /// Telegrams their terminal discarded (Legacy).
    discarded: BTreeSet<TelegramId>,
    /// Telegrams whose `arrived` was taken before its place in the log
    /// ([`Refinement::admissions_logged_late`]).
    taken_early: BTreeSet<TelegramId>,
    /// Per terminal, the end of its last block (`cs-blocked until`).
    blocked_until: BTreeMap<CsId, Millis>,
}

impl Refinement {
    pub fn new(events: &[Event], patches: impl Into<Patches>) -> Self {
        let mut slots: BTreeMap<CsId, Vec<CardId>> = BTreeMap::new();
        let mut limit = None;
        for e in events {
            match (&e.kind, e.thread) {
                (
                    EventKind::ChipWritten { card } | EventKind::CsRetry { card },
                    ThreadName::Cs(cs),
                ) => {
                    let cards = slots.entry(CsId(cs)).or_default();
                    if !cards.contains(card) {
                        cards.push(*card);
                    }
                }
                (EventKind::ConnectionExcess { limit: l, .. }, _) => {
                    limit.get_or_insert(*l);
                }
                _ => {}
            }
        }
        let cards = slots.values().map(Vec::len).max().unwrap_or(1).max(1);
        let unbounded = usize::MAX / 2;
        let patches: Patches = patches.into();
        let spec = CsBlock {
            cs_rule: patches.cs_rule,
            admission: patches.admission,
            css: slots.len().max(1),
            cards,
            inflight: unbounded,
            limit: limit.map_or(unbounded, |l| usize::try_from(l).unwrap_or(unbounded)),
            continuous: false,
            // What the relay does: it does not see the terminal's cut.
            held_until_answered: true,
            unfair: false,
        };
        Refinement {
            walk: Walk::new(spec),
            css: slots.keys().enumerate().map(|(i, cs)| (*cs, i)).collect(),
            slots,
            telegrams: BTreeMap::new(),
            in_flight: BTreeSet::new(),
            discarded: BTreeSet::new(),
            taken_early: BTreeSet::new(),
            blocked_until: BTreeMap::new(),
        }
    }

    pub fn run(mut self, events: &[Event], report: &mut Report) {
        for (index, event) in events.iter().enumerate() {
            if event.telegram.is_some_and(|t| self.taken_early.remove(&t)) {
                continue;
            }
            if let EventKind::ConnectionExcess { in_use, .. } = event.kind {
                if !self.admissions_logged_late(events, index, in_use, report) {
                    return;
                }
            }
            if !self.take((index, event), report) {
                return;
            }
        }
    }

    /// Maps one event and takes it; false when the walk diverged.
    fn take(&mut self, at: (usize, &Event), report: &mut Report) -> bool {
        let meaning = self.meaning(at.1);
        let acted = match &meaning {
            Meaning::Act(action) => Some(action.clone()),
            _ => None,
        };
        if !self.walk.take(at, meaning, report) {
            return false;
        }
        if let Some(action) = acted {
            self.settle(at.1, &action);
        }
        true
    }

    /// The relay logs `arrived` under the worker queue's lock, a scheduling
    /// point after the admission itself, so a terminal refused at `index`
    /// can have seen connections whose `arrived` comes later in the log.
    /// The refusal's `in_use` (the relay's count) says how many: that many
    /// of the sends in progress (written or resent before `index`, admitted
    /// after it in the log) are taken first, in log order. False when the
    /// walk diverged there.
    fn admissions_logged_late(
        &mut self,
        events: &[Event],
        index: usize,
        in_use: u64,
        report: &mut Report,
    ) -> bool {
        let held = self.state().connections() as u64;
        let mut need = in_use.saturating_sub(held);
        for (later, event) in events.iter().enumerate().skip(index + 1) {
            if need == 0 {
                break;
            }
            let Some(id) = event.telegram else { continue };
            let in_progress = matches!(event.kind, EventKind::Arrived { .. })
                && self.telegrams.contains_key(&id)
                && !self.in_flight.contains(&id)
                && !self.taken_early.contains(&id);
            if in_progress {
                if !self.take((later, event), report) {
                    return false;
                }
                self.taken_early.insert(id);
                need -= 1;
            }
        }
        true
    }

    fn state(&self) -> &CsBlockState {
        &self.walk.state
    }

    /// The spec CS and slot of a telegram's card.
    fn place(&self, telegram: Option<TelegramId>) -> Result<(usize, usize, TelegramId), String> {
        let id = telegram.ok_or("names no telegram: every cs-block event belongs to one")?;
        let (cs, card) = self
            .telegrams
            .get(&id)
            .ok_or_else(|| format!("telegram {id} was never sent by a terminal"))?;
        let slot = self
            .slots
            .get(cs)
            .and_then(|cards| cards.iter().position(|c| c == card))
            .ok_or_else(|| format!("card {card} was never written by {cs}"))?;
        let index = self
            .css
            .get(cs)
            .ok_or_else(|| format!("{cs} is no terminal"))?;
        Ok((*index, slot, id))
    }

    fn meaning(&mut self, e: &Event) -> Meaning<CsBlockAction> {
        match self.meaning_or_divergence(e) {
            Ok(meaning) => meaning,
            Err(reason) => Meaning::Check(Err(reason)),
        }
    }

    fn meaning_or_divergence(&mut self, e: &Event) -> Result<Meaning<CsBlockAction>, String> {
        let act = Meaning::Act;
        Ok(match &e.kind {
            EventKind::ChipWritten { card } | EventKind::CsRetry { card } => {
                return self.on_send(e, *card);
            }
            EventKind::Arrived { .. } => {
                let (cs, slot, _) = self.place(e.telegram)?;
                if self.card(cs, slot).phase == CardPhase::Rejected {
                    act(CsBlockAction::Retry { cs, card: slot })
                } else {
                    act(self.send_in_order(cs, slot, |cs, card| CsBlockAction::Send { cs, card })?)
                }
            }
            EventKind::ConnectionExcess { limit, in_use, .. } => {
                let (cs, slot, _) = self.place(e.telegram)?;
                if *limit != self.walk.spec.limit as u64 {
                    return Err(format!(
                        "the relay's limit is {limit}, but earlier {}",
                        self.walk.spec.limit
                    ));
                }
                if self.card(cs, slot).phase == CardPhase::Rejected {
                    let retry = CsBlockAction::Retry { cs, card: slot };
                    let admits = self.walk.spec.next_state(self.state(), &retry).is_some();
                    Meaning::Check(match admits {
                        true => Err("the relay refused a retry the spec admits".into()),
                        false => Ok(()),
                    })
                } else {
                    let refuse = |cs, card| CsBlockAction::ConnectionExcess { cs, card };
                    let action = self.send_in_order(cs, slot, refuse)?;
                    if self.walk.spec.next_state(self.state(), &action).is_none() {
                        return Err(self.refused_too_early(*in_use));
                    }
                    act(action)
                }
            }
            EventKind::UpstreamForward => Meaning::Skip(SkipReason::PartOfStep),
            EventKind::UpstreamReply { registered } => {
                let (cs, slot, id) = self.place(e.telegram)?;
                let card = self.card(cs, slot);
                if *registered == card.system_registered {
                    return Err(format!(
                        "upstream answered registered={registered}, but the card is {}registered already",
                        if card.system_registered { "" } else { "not " }
                    ));
                }
                match self.discarded.contains(&id) {
                    true => act(CsBlockAction::UpstreamDiscarded { cs, card: slot }),
                    false => act(CsBlockAction::Upstream { cs, card: slot }),
                }
            }
            EventKind::Reply { kind } => {
                let (cs, slot, id) = self.place(e.telegram)?;
                if self.discarded.contains(&id) {
                    return Ok(act(CsBlockAction::ReplyDiscarded { cs }));
                }
                let expected = match self.card(cs, slot).phase {
                    CardPhase::InFlight {
                        answer: Some(Answer::Issued),
                    } => TelegramKind::ReplyOk,
                    CardPhase::InFlight {
                        answer: Some(Answer::Unauthorized),
                    } => TelegramKind::ErrorUnauthorized,
                    _ => *kind,
                };
                if *kind != expected {
                    return Err(format!("the relay answered {kind:?}, the spec {expected:?}"));
                }
                act(CsBlockAction::Reply { cs, card: slot })
            }
            EventKind::CsConfirmed { issued, .. } => {
                let (cs, slot, _) = self.place(e.telegram)?;
                let answer = if *issued {
                    Answer::Issued
                } else {
                    Answer::Unauthorized
                };
                // The relay posts the answer, then frees the connection and
                // logs `reply`: the terminal can take it in between.
                let answered = matches!(
                    self.card(cs, slot).phase,
                    CardPhase::Done(a) | CardPhase::InFlight { answer: Some(a) } if a == answer
                );
                Meaning::Check(answered.then_some(()).ok_or_else(|| {
                    format!("the terminal learned {answer:?}, which the spec's system did not answer")
                }))
            }
            EventKind::CsDiscarded { .. } => {
                let (_, _, id) = self.place(e.telegram)?;
                Meaning::Check(match self.discarded.contains(&id) {
                    true => Ok(()),
                    false => Err("the spec discards no such telegram here".into()),
                })
            }
            EventKind::CsBlocked { until } => {
                let ThreadName::Cs(cs) = e.thread else {
                    return Err("only a terminal blocks".into());
                };
                self.blocked_until.insert(CsId(cs), *until);
                let blocked = self
                    .css
                    .get(&CsId(cs))
                    .is_some_and(|&i| self.state().css[i].blocked);
                Meaning::Check(match blocked {
                    true => Ok(()),
                    false => Err("the spec's CS is not blocked".into()),
                })
            }
            EventKind::CsTimeout => {
                return Err(
                    "a search timeout: the spec's terminals wait for every answer (run with the spec's timing assumptions)".into(),
                )
            }
            EventKind::TelegramLost => {
                let (_, _, id) = self.place(e.telegram)?;
                if self.discarded.contains(&id) {
                    Meaning::Skip(SkipReason::AbandonedRequest)
                } else {
                    return Err("the relay lost a telegram: the spec's relay answers every one".into());
                }
            }
            _ => Meaning::Skip(SkipReason::OtherMechanism),
        })
    }

    /// Why the relay's refusal with `in_use` connections is not the
    /// spec's: it holds connections the spec does not see (the spec's
    /// count includes discarded telegrams the relay has not answered).
    fn refused_too_early(&self, in_use: u64) -> String {
        format!(
            "the relay refused with {in_use} of {} connections in use; the spec holds {}",
            self.walk.spec.limit,
            self.state().connections()
        )
    }

    /// A terminal writes a chip or sends again: its telegram's card is
    /// noted; a terminal the spec holds blocked first ends its minute.
    fn on_send(&mut self, e: &Event, card: CardId) -> Result<Meaning<CsBlockAction>, String> {
        let ThreadName::Cs(cs) = e.thread else {
            return Err("only a terminal sends".into());
        };
        let id = e.telegram.ok_or("names no telegram: every send has one")?;
        self.telegrams.insert(id, (CsId(cs), card));
        let until = self.blocked_until.get(&CsId(cs)).copied().unwrap_or(0);
        if e.at < until {
            return Err(format!(
                "the terminal sends at {} ms, during its block (until {until} ms)",
                e.at
            ));
        }
        let index = *self
            .css
            .get(&CsId(cs))
            .ok_or_else(|| format!("cs-{cs} is no terminal"))?;
        Ok(if self.state().css[index].blocked {
            Meaning::Act(CsBlockAction::Unblock { cs: index })
        } else {
            Meaning::Skip(SkipReason::PartOfStep)
        })
    }

    fn card(&self, cs: usize, slot: usize) -> model::cs_block::Card {
        self.state().css[cs].cards[slot]
    }

    /// The send of `slot`, relabelling a Legacy terminal's discarded
    /// cards when it resends them in another order than the spec.
    fn send_in_order(
        &mut self,
        cs: usize,
        slot: usize,
        action: impl Fn(usize, usize) -> CsBlockAction,
    ) -> Result<CsBlockAction, String> {
        let cards = &self.state().css[cs].cards;
        let next = cards
            .iter()
            .position(|c| matches!(c.phase, CardPhase::Unsent | CardPhase::Discarded));
        let discarded = |s: usize| cards[s].phase == CardPhase::Discarded;
        match next {
            Some(next) if next != slot && discarded(next) && discarded(slot) => {
                self.walk.state.css[cs].cards.swap(next, slot);
                let terminal = self.css.iter().find(|(_, &i)| i == cs).map(|(t, _)| *t);
                if let Some(cards) = terminal.and_then(|t| self.slots.get_mut(&t)) {
                    cards.swap(next, slot);
                }
                Ok(action(cs, next))
            }
            _ => Ok(action(cs, slot)),
        }
    }

    /// What a step leaves to remember: telegrams in flight, and (Legacy)
    /// those a connection excess discarded.
    fn settle(&mut self, e: &Event, action: &CsBlockAction) {
        let Some(id) = e.telegram else { return };
        match *action {
            CsBlockAction::Send { .. } | CsBlockAction::Retry { .. } => {
                self.in_flight.insert(id);
            }
            CsBlockAction::Reply { .. } => {
                self.in_flight.remove(&id);
            }
            CsBlockAction::ConnectionExcess { .. } if self.walk.spec.cs_rule == CsRule::Legacy => {
                let cs = self.telegrams.get(&id).map(|(cs, _)| *cs);
                let own: Vec<TelegramId> = self
                    .in_flight
                    .iter()
                    .filter(|t| self.telegrams.get(t).map(|(c, _)| *c) == cs)
                    .copied()
                    .collect();
                for t in own {
                    self.in_flight.remove(&t);
                    self.discarded.insert(t);
                }
            }
            _ => {}
        }
    }
}

/// How one terminal fared for admission under sustained demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionWait {
    pub cs: CsId,
    /// Cards the system issued to this terminal.
    pub issued: usize,
    /// The most connection-excess answers one card of it got in a row: how
    /// long it waited for a connection, in refusals.
    pub most_refusals: u32,
}

impl Load {
    /// Every terminal keeps its window full until its cards run out, on
    /// the deterministic driver with the schedule of `seed`: per terminal,
    /// the cards issued and the longest wait one card had for a connection.
    /// `Err` if the run did not complete.
    pub fn admission_waits(
        self,
        patches: impl Into<Patches>,
        seed: u64,
    ) -> Result<Vec<AdmissionWait>, RunOutcome> {
        let workload = self.workload(patches, Timeouts::AsInTheSpec);
        let chooser = Chooser::Seeded {
            seed,
            clock_jump: 0.03,
        };
        let (report, waits) = Driver::new(chooser).run(move || {
            let run = workload.run::<Sim>(&EventLog::new());
            run.terminals.iter().map(admission_wait).collect::<Vec<_>>()
        });
        match (report.outcome, waits) {
            (RunOutcome::Completed, Some(mut waits)) => {
                waits.sort_by_key(|w| w.cs);
                Ok(waits)
            }
            (outcome, _) => Err(outcome),
        }
    }
}

fn admission_wait(report: &CsReport) -> AdmissionWait {
    let cards = report.cards.values();
    AdmissionWait {
        cs: report.cs,
        issued: cards.clone().filter(|c| c.issued).count(),
        // Without search timeouts every send but the admitted one was
        // refused.
        most_refusals: cards.map(|c| c.sends.saturating_sub(1)).max().unwrap_or(0),
    }
}

/// Every card whose chip a terminal wrote is issued by the system *and*
/// known issued by the terminal; `Err` lists the cards that are not.
pub fn chip_and_system_agree(run: &RunRecord) -> Result<(), Vec<CardId>> {
    match disagreements(&run.terminals, &run.observation.registered_cards) {
        lost if lost.is_empty() => Ok(()),
        lost => Err(lost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patches::{Config, Preset};

    /// The worst wait for a connection (connection-excess answers one card
    /// got) in each of 8 seeded runs: 3 CSs keeping 2 telegrams in flight
    /// each over a limit of 2, `cards_each` cards each, at `proposed` with
    /// the given admission order. Every card is issued in every run.
    fn worst_waits(cards_each: u64, admission: &str) -> Vec<u32> {
        let load = Load {
            terminals: 3,
            cards_each,
            in_flight: 2,
            limit: 2,
        };
        let patches = Config::with_patches(Preset::Proposed, &[format!("admission={admission}")])
            .unwrap()
            .patches;
        (0..8)
            .map(|seed| {
                let waits = load.admission_waits(patches, seed).unwrap();
                assert!(
                    waits.iter().all(|w| w.issued == cards_each as usize),
                    "{admission}, seed {seed}: {waits:?}"
                );
                waits.iter().map(|w| w.most_refusals).max().unwrap()
            })
            .collect()
    }

    fn max(waits: &[u32]) -> u32 {
        waits.iter().copied().max().unwrap()
    }

    #[test]
    fn under_sustained_demand_first_come_lets_a_cs_wait_ever_longer_and_oldest_retry_first_does_not(
    ) {
        let (first_come_6, first_come_24) =
            (worst_waits(6, "first-come"), worst_waits(24, "first-come"));
        let (oldest_6, oldest_24) = (
            worst_waits(6, "oldest-retry-first"),
            worst_waits(24, "oldest-retry-first"),
        );
        // Oldest retry first: a few backoffs (the CS's place in the queue),
        // whatever the demand.
        assert!(
            max(&oldest_6) <= 6 && max(&oldest_24) <= 6,
            "{oldest_6:?} {oldest_24:?}"
        );
        // First come: a card's wait grows with the demand: other CSs' new
        // cards take the freed connections while it backs off.
        assert!(
            max(&first_come_24) > max(&first_come_6),
            "{first_come_6:?} {first_come_24:?}"
        );
        assert!(
            max(&first_come_24) >= 2 * max(&oldest_24),
            "{first_come_24:?} {oldest_24:?}"
        );
    }
}
