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
use relay::cs::{disagreements, CsConfig, CsReport};
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
