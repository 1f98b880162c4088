//! The verdict we expect for every (spec, preset, property) at default sizes,
//! from each mechanism's `VIOLATED` list. `chukei check` exits 1 when a
//! verdict differs, and `chukei reproduce` expects a cause to reproduce on
//! the real relay exactly where its spec property is violated, so a change
//! that breaks a fix, or makes a bug disappear, fails CI.
//!
//! Why each violation is expected is in docs/specs.md. Non-default sizes may
//! legitimately change a verdict (e.g. `telegrams=1` leaves no next telegram
//! for a stale timeout notice to hit).

use crate::{cs_block, irq_order, timer_free};
use model::{SpecName, Verdict};
use patches::Preset;

/// The properties `spec` violates, by preset.
pub fn violated(spec: SpecName) -> &'static [(Preset, &'static str)] {
    match spec {
        SpecName::TimerFree => timer_free::VIOLATED,
        SpecName::IrqOrder => irq_order::VIOLATED,
        SpecName::CsBlock => cs_block::VIOLATED,
    }
}

/// The expected verdict of one property on one preset.
pub fn expected_verdict(spec: SpecName, preset: Preset, property: &str) -> Verdict {
    if violated(spec).contains(&(preset, property)) {
        Verdict::Violated
    } else {
        Verdict::Holds
    }
}
