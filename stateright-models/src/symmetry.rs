//! Symmetry reduction: identical workers (timer-free) and CSs (cs-block) are
//! permuted into a canonical order (`Spec::representative`). stateright 0.31
//! applies symmetry in its DFS checker only, so the reduced counts come from
//! DFS; the BFS verdicts (shortest paths) run unreduced.

use crate::adapter::{representative, SpecModel};
use model::cs_block::CsBlock;
use model::irq_order::IrqOrder;
use model::timer_free::TimerFree;
use model::{Spec, SpecName};
use patches::Preset;
use stateright::{Checker, Model};
use std::collections::BTreeMap;

/// Unique states found by stateright's DFS, with or without symmetry.
pub fn dfs_state_count(
    spec: SpecName,
    preset: Preset,
    sizes: &BTreeMap<String, u64>,
    symmetry: bool,
) -> Result<usize, model::sizes::SizeError> {
    let patches = preset.patches();
    Ok(match spec {
        SpecName::TimerFree => count(TimerFree::new(patches, sizes)?, symmetry),
        SpecName::IrqOrder => count(IrqOrder::new(patches, sizes)?, symmetry),
        SpecName::CsBlock => count(CsBlock::new(patches, sizes)?, symmetry),
    })
}

fn count<S>(spec: S, symmetry: bool) -> usize
where
    S: Spec + Send + Sync + 'static,
    S::State: Send + Sync,
    S::Action: Send + Sync,
{
    let builder = SpecModel::new(spec).checker();
    let builder = if symmetry {
        builder.symmetry_fn(representative::<S>)
    } else {
        builder
    };
    builder.spawn_dfs().join().unique_state_count()
}
