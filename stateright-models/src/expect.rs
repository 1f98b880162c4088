//! The verdict we expect for every (spec, preset, property) at default sizes.
//! `chukei check` exits 1 when a verdict differs, so a change that breaks a
//! fix, or makes a bug disappear from a model, fails CI.
//!
//! Why each violation is expected is in docs/specs.md. Non-default sizes may
//! legitimately change a verdict (e.g. `telegrams=1` leaves no next telegram
//! for a stale timeout notice to hit).

use model::{SpecName, Verdict};
use patches::Preset;

/// (spec, preset, property) that are violated; everything else holds.
pub const VIOLATED: &[(SpecName, Preset, &str)] = &[
    (
        SpecName::TimerFree,
        Preset::Jan2016,
        "no_free_of_unallocated",
    ),
    (
        SpecName::TimerFree,
        Preset::Jan2016,
        "no_spurious_termination",
    ),
    (SpecName::TimerFree, Preset::Jan2016, "exactly_one_reply"),
    (SpecName::TimerFree, Preset::Jan2016, "telegrams_finish"),
    (
        SpecName::TimerFree,
        Preset::Mar2016,
        "no_free_of_unallocated",
    ),
    (
        SpecName::TimerFree,
        Preset::Mar2016,
        "no_spurious_termination",
    ),
    (SpecName::TimerFree, Preset::Mar2016, "exactly_one_reply"),
    (SpecName::TimerFree, Preset::Mar2016, "telegrams_finish"),
    (
        SpecName::TimerFree,
        Preset::Apr2016,
        "no_spurious_termination",
    ),
    (SpecName::IrqOrder, Preset::Jan2016, "hsm_request_completes"),
    (SpecName::IrqOrder, Preset::Jan2016, "relay_never_hangs"),
    (SpecName::CsBlock, Preset::Jan2016, "chip_and_system_agree"),
    (
        SpecName::CsBlock,
        Preset::Jan2016,
        "accepted_request_answered",
    ),
    (SpecName::CsBlock, Preset::Jan2016, "no_cs_starves"),
    (SpecName::CsBlock, Preset::Mar2016, "chip_and_system_agree"),
    (
        SpecName::CsBlock,
        Preset::Mar2016,
        "accepted_request_answered",
    ),
    (SpecName::CsBlock, Preset::Mar2016, "no_cs_starves"),
    (SpecName::CsBlock, Preset::Apr2016, "chip_and_system_agree"),
    (
        SpecName::CsBlock,
        Preset::Apr2016,
        "accepted_request_answered",
    ),
    (SpecName::CsBlock, Preset::Apr2016, "no_cs_starves"),
];

/// The expected verdict of one property on one preset.
pub fn expected_verdict(spec: SpecName, preset: Preset, property: &str) -> Verdict {
    let violated = VIOLATED
        .iter()
        .any(|&(s, p, name)| s == spec && p == preset && name == property);
    if violated {
        Verdict::Violated
    } else {
        Verdict::Holds
    }
}
