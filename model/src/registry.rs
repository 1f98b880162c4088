//! The three specs by name, for tools that pick one at run time (CLI,
//! regression replay).

use crate::cs_block::CsBlock;
use crate::irq_order::IrqOrder;
use crate::sizes::SizeParam;
use crate::spec::Spec;
use crate::timer_free::TimerFree;
use crate::trace::{replay, ReplayError, Trace, Verdict};
use std::fmt;
use std::str::FromStr;

/// One of the three specifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecName {
    TimerFree,
    IrqOrder,
    CsBlock,
}

impl SpecName {
    pub const ALL: [SpecName; 3] = [SpecName::TimerFree, SpecName::IrqOrder, SpecName::CsBlock];

    /// The name in the CLI and in trace files.
    pub fn name(self) -> &'static str {
        match self {
            SpecName::TimerFree => "timer-free",
            SpecName::IrqOrder => "irq-order",
            SpecName::CsBlock => "cs-block",
        }
    }

    /// The spec's size parameters with their defaults and bounds.
    pub fn size_params(self) -> &'static [SizeParam] {
        match self {
            SpecName::TimerFree => crate::timer_free::SIZES,
            SpecName::IrqOrder => crate::irq_order::SIZES,
            SpecName::CsBlock => crate::cs_block::SIZES,
        }
    }

    /// Comma-separated valid names, for errors and `--help`.
    pub fn names() -> String {
        SpecName::ALL.map(SpecName::name).join(", ")
    }
}

impl fmt::Display for SpecName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown spec name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown spec `{given}` (expected one of: {expected})")]
pub struct UnknownSpec {
    pub given: String,
    pub expected: String,
}

impl FromStr for SpecName {
    type Err = UnknownSpec;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpecName::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| UnknownSpec {
                given: s.to_string(),
                expected: SpecName::names(),
            })
    }
}

/// A replay result without the spec's state type, for tools that handle
/// every spec alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    pub verdict: Verdict,
    pub witness: Option<usize>,
    /// `describe_state` of every visited state.
    pub states: Vec<String>,
}

/// Replays an actions trace against the spec, preset and sizes it names.
pub fn replay_trace(trace: &Trace) -> Result<ReplayOutcome, ReplayError> {
    let patches = trace.preset.patches();
    match trace.spec.parse::<SpecName>()? {
        SpecName::TimerFree => outcome(&TimerFree::new(patches, &trace.sizes)?, trace),
        SpecName::IrqOrder => outcome(&IrqOrder::new(patches, &trace.sizes)?, trace),
        SpecName::CsBlock => outcome(&CsBlock::new(patches, &trace.sizes)?, trace),
    }
}

fn outcome<S: Spec>(spec: &S, trace: &Trace) -> Result<ReplayOutcome, ReplayError> {
    let replay = replay(spec, trace)?;
    Ok(ReplayOutcome {
        verdict: replay.verdict,
        witness: replay.witness,
        states: replay
            .states
            .iter()
            .map(|s| spec.describe_state(s))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in SpecName::ALL {
            assert_eq!(name.name().parse::<SpecName>(), Ok(name));
        }
    }

    #[test]
    fn unknown_spec_lists_the_valid_ones() {
        let err = "timer".parse::<SpecName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown spec `timer` (expected one of: timer-free, irq-order, cs-block)"
        );
    }
}
