//! The fixes of the 2016 incident as runtime switches, and the named presets.
//!
//! The relay and the specs must use the *same* switch names and preset
//! strings, and neither may depend on the other, so the switches live here,
//! in a crate with no behaviour of its own that both depend on. A preset name
//! is the same string in the CLI, in trace files and in test names.

mod config;

pub use config::{Config, ConfigError, PatchError, Switch, Variant, SWITCHES};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the business AP does when a timeout notice arrives (root cause 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerFix {
    /// As deployed: termination frees the work area unconditionally.
    None,
    /// The April 2016 fix: check the allocation status before freeing.
    AllocGuard,
    /// Our proposal: each timeout notice carries the telegram's generation
    /// (epoch); a notice for an older generation is dropped.
    Epoch,
    /// A plausible wrong implementation of `Epoch`: the AP remembers the
    /// generation of the telegram it started last and never clears it when
    /// that telegram ends, so a notice of the telegram that just finished
    /// still matches and termination frees a work area no longer allocated.
    /// Never part of a preset: it shows the checkers tell it from `Epoch`.
    EpochUncleared,
}

/// BIOS interrupt delivery mode (root cause 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IrqMode {
    /// Simultaneous interrupts on one core can collapse into one.
    Logical,
    /// Each source is delivered and acknowledged on its own.
    Physical,
}

/// The hardware monitoring agent that raises a periodic interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Monitor {
    On,
    Off,
}

/// How the relay waits for the HSM's interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HsmGuard {
    /// Wait forever (as deployed): a lost interrupt hangs the relay.
    None,
    /// Bound the wait and turn a lost notice into an error reply (March 2016).
    ErrorOnInterrupted,
}

/// What a CS terminal does on a connection-excess answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CsRule {
    /// Cut all communications, discard every telegram, block for one minute.
    Legacy,
    /// Retry only the rejected request with backoff; in-flight ones complete.
    Improved,
}

/// In which order the relay hands out connections when it is full
/// (docs/specs.md, cs-block: admission order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Admission {
    /// As deployed: whoever finds a connection free takes it. Under
    /// sustained demand a CS backing off after a connection excess can find
    /// every freed connection taken by other CSs' new cards, for ever.
    FirstCome,
    /// Ours: the relay remembers, in order, the CSs it answered connection
    /// excess (one entry per CS, so at most one per CS ID it knows); a freed
    /// connection is reserved for the oldest waiting CS, and anyone else is
    /// answered connection excess while all free connections are reserved.
    OldestRetryFirst,
}

/// One setting of every switch. In JSON and TOML each switch is its name on
/// the command line (`irq`, not `irq_mode`) and each value its kebab-case
/// name (`error-on-interrupted`), as `--patch` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patches {
    pub timer_fix: TimerFix,
    #[serde(rename = "irq")]
    pub irq_mode: IrqMode,
    pub monitor: Monitor,
    pub hsm_guard: HsmGuard,
    pub cs_rule: CsRule,
    pub admission: Admission,
}

/// The named presets, in time order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Preset {
    /// As deployed in January 2016.
    Jan2016,
    /// Temporary measures of March 2016: monitoring agent stopped, relay
    /// raises an error when HSM processing is interrupted.
    Mar2016,
    /// Permanent fixes of April 2016: allocation check, BIOS Physical mode,
    /// monitoring back on. The CS rule was only to be replaced in 2017.
    Apr2016,
    /// Our stronger fixes: epoch-tagged timeouts, the improved CS rule and
    /// oldest-retry-first admission.
    Proposed,
}

impl Preset {
    /// Every preset, in time order.
    pub const ALL: [Preset; 4] = [
        Preset::Jan2016,
        Preset::Mar2016,
        Preset::Apr2016,
        Preset::Proposed,
    ];

    /// The preset's name: the same string in the CLI, traces and test names.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Jan2016 => "2016-01",
            Preset::Mar2016 => "2016-03",
            Preset::Apr2016 => "2016-04",
            Preset::Proposed => "proposed",
        }
    }

    /// The switches this preset stands for.
    pub fn patches(self) -> Patches {
        match self {
            Preset::Jan2016 => Patches {
                timer_fix: TimerFix::None,
                irq_mode: IrqMode::Logical,
                monitor: Monitor::On,
                hsm_guard: HsmGuard::None,
                cs_rule: CsRule::Legacy,
                admission: Admission::FirstCome,
            },
            // 5 and 12 Mar: timer avoidance was operational (not a code fix),
            // so the AP code is unchanged; 14-15 Mar the monitor was stopped;
            // 12 and 21 Mar the relay raised an error on an interrupted HSM.
            Preset::Mar2016 => Patches {
                timer_fix: TimerFix::None,
                irq_mode: IrqMode::Logical,
                monitor: Monitor::Off,
                hsm_guard: HsmGuard::ErrorOnInterrupted,
                cs_rule: CsRule::Legacy,
                admission: Admission::FirstCome,
            },
            Preset::Apr2016 => Patches {
                timer_fix: TimerFix::AllocGuard,
                irq_mode: IrqMode::Physical,
                monitor: Monitor::On,
                hsm_guard: HsmGuard::ErrorOnInterrupted,
                cs_rule: CsRule::Legacy,
                admission: Admission::FirstCome,
            },
            Preset::Proposed => Patches {
                timer_fix: TimerFix::Epoch,
                irq_mode: IrqMode::Physical,
                monitor: Monitor::On,
                hsm_guard: HsmGuard::ErrorOnInterrupted,
                cs_rule: CsRule::Improved,
                admission: Admission::OldestRetryFirst,
            },
        }
    }

    /// The list of valid names, for error messages and `--help`.
    pub fn names() -> String {
        Preset::ALL.map(Preset::name).join(", ")
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown preset name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preset `{given}` (expected one of: {expected})")]
pub struct UnknownPreset {
    pub given: String,
    pub expected: String,
}

impl FromStr for Preset {
    type Err = UnknownPreset;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPreset {
                given: s.to_string(),
                expected: Preset::names(),
            })
    }
}

// Presets travel in trace files as their names, never as Rust variant names.
impl Serialize for Preset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Preset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>(), Ok(p));
        }
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = "2016-02".parse::<Preset>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown preset `2016-02` (expected one of: 2016-01, 2016-03, 2016-04, proposed)"
        );
    }

    #[test]
    fn presets_follow_the_incident_timeline() {
        let jan = Preset::Jan2016.patches();
        assert_eq!(jan.timer_fix, TimerFix::None);
        assert_eq!(jan.irq_mode, IrqMode::Logical);
        let mar = Preset::Mar2016.patches();
        assert_eq!(
            (mar.monitor, mar.hsm_guard),
            (Monitor::Off, HsmGuard::ErrorOnInterrupted)
        );
        let apr = Preset::Apr2016.patches();
        assert_eq!(
            (apr.timer_fix, apr.irq_mode),
            (TimerFix::AllocGuard, IrqMode::Physical)
        );
        assert_eq!(apr.monitor, Monitor::On);
        let prop = Preset::Proposed.patches();
        assert_eq!(
            (prop.timer_fix, prop.cs_rule, prop.admission),
            (
                TimerFix::Epoch,
                CsRule::Improved,
                Admission::OldestRetryFirst
            )
        );
        for p in [jan, mar, apr] {
            assert_eq!(p.admission, Admission::FirstCome);
        }
    }

    #[test]
    fn preset_serializes_as_its_name() {
        let json = serde_json::to_string(&Preset::Apr2016).unwrap();
        assert_eq!(json, "\"2016-04\"");
        let err = serde_json::from_str::<Preset>("\"april\"").unwrap_err();
        assert!(err.to_string().contains("unknown preset `april`"), "{err}");
    }
}
