//! Every spec reports back the sizes it was built with: traces record them,
//! and a replay rebuilds the spec from them.

use model::sizes::SizeParam;
use model::{cs_block::CsBlock, irq_order::IrqOrder, timer_free::TimerFree};
use patches::{Patches, Preset};
use std::collections::BTreeMap;

/// Every size at its minimum, then every size at its maximum: neither is
/// the default set, so a spec that reports defaults (or nothing) fails.
fn extremes(params: &[SizeParam]) -> [BTreeMap<String, u64>; 2] {
    let at = |pick: fn(&SizeParam) -> u64| {
        params
            .iter()
            .map(|p| (p.name.to_string(), pick(p)))
            .collect()
    };
    [at(|p| p.min), at(|p| p.max)]
}

#[test]
fn every_spec_reports_the_sizes_it_was_built_with() {
    let patches: Patches = Preset::Proposed.patches();
    for sizes in extremes(model::timer_free::SIZES) {
        assert_eq!(TimerFree::new(patches, &sizes).unwrap().sizes(), sizes);
    }
    for sizes in extremes(model::irq_order::SIZES) {
        assert_eq!(IrqOrder::new(patches, &sizes).unwrap().sizes(), sizes);
    }
    for sizes in extremes(model::cs_block::SIZES) {
        assert_eq!(CsBlock::new(patches, &sizes).unwrap().sizes(), sizes);
    }
}
