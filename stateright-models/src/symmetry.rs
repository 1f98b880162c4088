//! Symmetry reduction: identical workers (timer-free) and CSs (cs-block) are
//! permuted into a canonical order (`Spec::representative`). stateright 0.31
//! applies symmetry in its DFS checker only; these counts cross-check the
//! reduced graph of `model::search` (`Identity::Symmetric`) that `chukei
//! check` decides safety and reachability on.

use crate::adapter::{representative, SpecModel};
use model::SpecName;
use model::{SharedSpec, SpecJob};
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
    spec.build(preset.patches(), sizes, DfsCount { symmetry })
}

/// Counts the unique states of whichever spec was named.
struct DfsCount {
    symmetry: bool,
}

impl SpecJob for DfsCount {
    type Output = usize;
    fn run<S: SharedSpec>(self, spec: S) -> usize {
        let builder = SpecModel::new(spec).checker();
        let builder = if self.symmetry {
            builder.symmetry_fn(representative::<S>)
        } else {
            builder
        };
        builder.spawn_dfs().join().unique_state_count()
    }
}
