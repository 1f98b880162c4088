//! cs-block: the CS blocking rule that turned a capacity limit into a
//! national cascade.
//!
//! The relay's side of this mechanism (terminals with the Legacy or Improved
//! rule against a relay with a connection limit) is `relay::cs`; the
//! proptest workloads that compare it with the spec are in
//! `properties/tests/cs_block.rs`.

use patches::Preset;

/// The properties the spec violates, by preset (everything else holds).
pub const VIOLATED: &[(Preset, &str)] = &[
    (Preset::Jan2016, "chip_and_system_agree"),
    (Preset::Jan2016, "accepted_request_answered"),
    (Preset::Jan2016, "no_cs_starves"),
    (Preset::Mar2016, "chip_and_system_agree"),
    (Preset::Mar2016, "accepted_request_answered"),
    (Preset::Mar2016, "no_cs_starves"),
    (Preset::Apr2016, "chip_and_system_agree"),
    (Preset::Apr2016, "accepted_request_answered"),
    (Preset::Apr2016, "no_cs_starves"),
];
