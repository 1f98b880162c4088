//! cs-block: the CS blocking rule that turned a capacity limit into a
//! national cascade.
//!
//! * the workload: [`Load`] (terminals, cards each, telegrams in flight per
//!   terminal, connection limit) on the whole relay with real `run_cs`
//!   terminals, under the spec's timing assumptions or production's
//!   ([`Timeouts`]);
//! * the relay-side check, named after the spec's property:
//!   [`chip_and_system_agree`];
//! * the relay -> spec map: [`Load::spec`], the spec instance a workload is.
//!   There is no step-by-step map: the terminal's rule is a loop inside
//!   `run_cs`, so the world's actions (send, connection excess, discard,
//!   block, retry) are chosen by the driver's schedule, not one by one.

use crate::workload::{RunRecord, Workload};
use model::cs_block::CsBlock;
use model::sizes::SizeError;
use patches::Patches;
use relay::cs::{disagreements, CsConfig};
use relay::platform::Millis;
use relay::sim::{Chooser, Driver, RunOutcome, Sim};
use relay::telegram::{CardId, CsId};
use relay::{EventLog, RelayConfig, Role};
use std::collections::BTreeMap;

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
        let patches: Patches = patches.into();
        let workload = self.workload(patches, timeouts);
        let chooser = Chooser::Seeded {
            seed,
            clock_jump: 0.03,
        };
        // Preemptions as long as production's telegram timeout.
        let max_jump = RelayConfig::small(patches).telegram_timeout;
        let (report, lost) = Driver::new(chooser).max_clock_jump(max_jump).run(move || {
            let run = workload.run::<Sim>(&EventLog::new());
            chip_and_system_agree(&run).err().unwrap_or_default()
        });
        match (report.outcome, lost) {
            (RunOutcome::Completed, Some(lost)) => Ok(lost),
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

/// Every card whose chip a terminal wrote is issued by the system *and*
/// known issued by the terminal; `Err` lists the cards that are not.
pub fn chip_and_system_agree(run: &RunRecord) -> Result<(), Vec<CardId>> {
    match disagreements(&run.terminals, &run.observation.registered_cards) {
        lost if lost.is_empty() => Ok(()),
        lost => Err(lost),
    }
}
