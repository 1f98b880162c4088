//! The three specs by name, for tools that pick one at run time (CLI,
//! regression replay): names, size parameters, and the one place a spec is
//! built from its name ([`SpecName::build`]).

use crate::assume::{AssumeError, Assumption};
use crate::cs_block::CsBlock;
use crate::irq_order::IrqOrder;
use crate::sizes::{SizeError, SizeParam};
use crate::spec::Spec;
use crate::timer_free::TimerFree;
use patches::Patches;
use std::collections::BTreeMap;
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

    /// The spec's environment assumptions with their defaults.
    pub fn assumption_params(self) -> &'static [Assumption] {
        match self {
            SpecName::TimerFree => crate::timer_free::ASSUMPTIONS,
            SpecName::IrqOrder => crate::irq_order::ASSUMPTIONS,
            SpecName::CsBlock => crate::cs_block::ASSUMPTIONS,
        }
    }

    /// Builds the named spec at `patches` and `sizes` (defaults fill the
    /// rest), under the default assumptions, and hands it to `job`.
    pub fn build<J: SpecJob>(
        self,
        patches: Patches,
        sizes: &BTreeMap<String, u64>,
        job: J,
    ) -> Result<J::Output, SizeError> {
        self.build_assuming(patches, sizes, &BTreeMap::new(), job)
            .map_err(|e| match e {
                BuildError::Sizes(e) => e,
                BuildError::Assumptions(e) => unreachable!("default assumptions: {e}"),
            })
    }

    /// As [`SpecName::build`], under the assumptions `assumptions` (partial:
    /// defaults fill the rest).
    pub fn build_assuming<J: SpecJob>(
        self,
        patches: Patches,
        sizes: &BTreeMap<String, u64>,
        assumptions: &BTreeMap<String, String>,
        job: J,
    ) -> Result<J::Output, BuildError> {
        Ok(match self {
            SpecName::TimerFree => job.run(TimerFree::new(patches, sizes)?.assuming(assumptions)?),
            SpecName::IrqOrder => job.run(IrqOrder::new(patches, sizes)?.assuming(assumptions)?),
            SpecName::CsBlock => job.run(CsBlock::new(patches, sizes)?.assuming(assumptions)?),
        })
    }

    /// Comma-separated valid names, for errors and `--help`.
    pub fn names() -> String {
        SpecName::ALL.map(SpecName::name).join(", ")
    }
}

/// A spec checkers may share between threads: every spec of the suite.
pub trait SharedSpec:
    Spec<State: Send + Sync, Action: Send + Sync> + Clone + Send + Sync + 'static
{
}

impl<S> SharedSpec for S where
    S: Spec<State: Send + Sync, Action: Send + Sync> + Clone + Send + Sync + 'static
{
}

/// What a tool does with a spec it picked by name ([`SpecName::build`]).
pub trait SpecJob {
    type Output;
    fn run<S: SharedSpec>(self, spec: S) -> Self::Output;
}

impl fmt::Display for SpecName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bad sizes or bad assumptions for a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Sizes(#[from] SizeError),
    #[error(transparent)]
    Assumptions(#[from] AssumeError),
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
