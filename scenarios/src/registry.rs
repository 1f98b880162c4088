//! The mechanisms picked by name at run time: the relay-side check of a
//! property, the scenario a trace describes, the spec a relay log is
//! validated against. One dispatch each, above the mechanism files, so that
//! those depend only on the shared machinery and never on each other.

use crate::refine::{in_scope, parse_jsonl, Report, ValidateError};
use crate::workload::{RunRecord, Scenario};
use crate::{cs_block, irq_order, timer_free};
use model::SpecName;
use patches::{Config, Preset};
use relay::events::{Event, EventLog};
use relay::Platform;
use std::collections::BTreeMap;
use std::fmt;

/// A property judged on the relay after a run. Each is named after the spec
/// property it stands for and defined in that mechanism's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelayCheck {
    /// timer-free: termination never frees a work area that is not allocated.
    NoFreeOfUnallocated,
    /// timer-free: a telegram is terminated only by its own timeout.
    NoSpuriousTermination,
    /// timer-free: every admitted telegram gets exactly one answer, and its
    /// terminal got it.
    ExactlyOneReply,
    /// timer-free: no work area is left allocated once every answer is in.
    NoLeak,
    /// irq-order: the HSM's interrupt is never lost (collapsed into the
    /// monitor's), so its completion notice can always come.
    HsmInterruptKept,
}

impl RelayCheck {
    pub const ALL: [RelayCheck; 5] = [
        RelayCheck::NoFreeOfUnallocated,
        RelayCheck::NoSpuriousTermination,
        RelayCheck::ExactlyOneReply,
        RelayCheck::NoLeak,
        RelayCheck::HsmInterruptKept,
    ];

    pub const TIMER_FREE: [RelayCheck; 4] = [
        RelayCheck::NoFreeOfUnallocated,
        RelayCheck::NoSpuriousTermination,
        RelayCheck::ExactlyOneReply,
        RelayCheck::NoLeak,
    ];

    /// The spec property's name.
    pub fn name(self) -> &'static str {
        match self {
            RelayCheck::NoFreeOfUnallocated => "no_free_of_unallocated",
            RelayCheck::NoSpuriousTermination => "no_spurious_termination",
            RelayCheck::ExactlyOneReply => "exactly_one_reply",
            RelayCheck::NoLeak => "no_leak",
            RelayCheck::HsmInterruptKept => "hsm_interrupt_kept",
        }
    }

    /// The check named `name`, if the relay side has one.
    pub fn named(name: &str) -> Option<RelayCheck> {
        RelayCheck::ALL.into_iter().find(|c| c.name() == name)
    }

    /// `Err(evidence)` if the run violates the property.
    pub fn check(self, run: &RunRecord) -> Result<(), String> {
        match self {
            RelayCheck::NoFreeOfUnallocated => timer_free::no_free_of_unallocated(&run.events),
            RelayCheck::NoSpuriousTermination => timer_free::no_spurious_termination(&run.events),
            RelayCheck::ExactlyOneReply => timer_free::exactly_one_reply(run),
            RelayCheck::NoLeak => timer_free::no_leak(&run.observation),
            RelayCheck::HsmInterruptKept => irq_order::hsm_interrupt_kept(&run.events),
        }
    }
}

impl fmt::Display for RelayCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl RunRecord {
    /// The first of `checks` this run violates, with the evidence.
    pub fn first_violation(&self, checks: &[RelayCheck]) -> Option<(RelayCheck, String)> {
        checks
            .iter()
            .find_map(|&c| c.check(self).err().map(|detail| (c, detail)))
    }
}

/// The panic message of a violated property (the expect-failure helpers
/// match on it).
pub fn violation_message(property: RelayCheck, preset: Preset, detail: &str) -> String {
    format!("property `{property}` violated on {preset}: {detail}")
}

/// The sizes a loom or shuttle trace records for its scenario.
pub const SCENARIO_SIZES: [&str; 7] = [
    "fifo",
    "hsm",
    "monitor_raises",
    "telegrams",
    "terminals",
    "window",
    "workers",
];

/// The largest size a trace's scenario may have: the explorers run a few
/// terminals, telegrams and workers; past this a fuzzed trace allocated its
/// telegrams before the first step (34 GB for `telegrams: 4294967295`).
pub const MAX_SCENARIO_SIZE: u64 = 64;

impl Scenario {
    /// The scenario a trace describes, on the trace's configuration.
    pub fn from_trace(
        spec: SpecName,
        config: &Config,
        sizes: &BTreeMap<String, u64>,
    ) -> Result<Self, String> {
        let base = match spec {
            SpecName::TimerFree => Scenario::timer_free(config.base),
            SpecName::IrqOrder => Scenario::irq_order(config.base),
            SpecName::CsBlock => return Err("cs-block is not explored by loom-tests".into()),
        };
        let base = Scenario {
            patches: config.patches,
            ..base
        };
        if let Some(other) = sizes.keys().find(|k| !SCENARIO_SIZES.contains(&k.as_str())) {
            return Err(format!(
                "size `{other}` is not a size of a replayed scenario ({})",
                SCENARIO_SIZES.join(", ")
            ));
        }
        let get = |name: &str| {
            let size = sizes
                .get(name)
                .copied()
                .ok_or_else(|| format!("trace sizes lack `{name}`"))?;
            if size > MAX_SCENARIO_SIZE {
                return Err(format!(
                    "size `{name}` = {size} is past {MAX_SCENARIO_SIZE}, the most a replayed scenario takes"
                ));
            }
            Ok(size)
        };
        let narrow = |name: &str| -> Result<u16, String> {
            u16::try_from(get(name)?).map_err(|_| format!("size `{name}` out of range"))
        };
        let base = match get("hsm")? {
            0 if spec == SpecName::TimerFree => base,
            1 => base.through_hsm(),
            other => {
                return Err(format!(
                    "size `hsm` = {other} is not possible for {}",
                    spec.name()
                ))
            }
        };
        let base = match get("fifo")? {
            0 => base,
            1 => base.fifo(),
            other => return Err(format!("size `fifo` = {other} is not 0 or 1")),
        };
        Ok(base
            .terminals(narrow("terminals")?)
            .telegrams(get("telegrams")?)
            .window(get("window")?)
            .workers(narrow("workers")?)
            .monitor_raises(
                u32::try_from(get("monitor_raises")?).map_err(|_| "monitor_raises out of range")?,
            ))
    }

    /// Runs once and panics (with the property's name, the preset and the
    /// evidence) if any of `properties` is violated: the body of a model.
    pub fn run_and_check<P: Platform>(&self, log: &EventLog, checks: &[RelayCheck]) {
        let run = self.run::<P>(log);
        if let Some((check, detail)) = run.first_violation(checks) {
            panic!("{}", violation_message(check, self.preset, &detail));
        }
    }
}

/// The environment assumptions a spec reads the relay's own logs under:
/// what the relay does, where it differs from the spec's defaults. Its
/// bounded HSM wait can run out while the HSM still answers (a slow HSM,
/// or a CPU thread that has not yet run: `hsm-wait=may-expire`, on
/// timer-free and irq-order), and its guard resets the board
/// (`guard-effect=resets-hsm`). `overrides` (`--assume`) replace these;
/// the names a spec does not have are left out.
pub fn relay_reading(
    spec: SpecName,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let relay: &[(&str, &str)] = match spec {
        SpecName::TimerFree => &[("hsm-wait", "may-expire")],
        SpecName::IrqOrder => &[("guard-effect", "resets-hsm"), ("hsm-wait", "may-expire")],
        SpecName::CsBlock => &[],
    };
    let mut reading: BTreeMap<String, String> = relay
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let params = spec.assumption_params();
    for (name, value) in overrides {
        if params.iter().any(|a| a.name == name) {
            reading.insert(name.clone(), value.clone());
        }
    }
    reading
}

/// Parses and validates a JSON-lines log.
pub fn validate_jsonl(
    text: &str,
    spec: &str,
    config: impl Into<Config>,
) -> Result<Report, ValidateError> {
    validate(&parse_jsonl(text)?, spec, config)
}

/// Checks `events` against spec `spec` (a name) at `preset`. An empty log,
/// or one in which no event is a step of the spec, is an error.
pub fn validate(
    events: &[Event],
    spec: &str,
    config: impl Into<Config>,
) -> Result<Report, ValidateError> {
    validate_assuming(events, spec, config, &BTreeMap::new())
}

/// As [`validate`], the spec read under [`relay_reading`] with `overrides`
/// (`--assume`: e.g. `hsm-wait=in-time` asks whether the relay's logs stay
/// inside the spec's default assumption, and shows where they do not).
pub fn validate_assuming(
    events: &[Event],
    spec: &str,
    config: impl Into<Config>,
    overrides: &BTreeMap<String, String>,
) -> Result<Report, ValidateError> {
    let config: Config = config.into();
    let preset = config.patches;
    let name: SpecName = spec.parse()?;
    let reading = relay_reading(name, overrides);
    if events.is_empty() {
        return Err(ValidateError::Empty);
    }
    let mut report = Report::new(name, config.base, events.len());
    report.preset = config.name();
    let scope = in_scope(events, &mut report);
    match name {
        SpecName::TimerFree => {
            timer_free::Refinement::new(scope, preset, &reading)?.run(scope, &mut report)
        }
        SpecName::IrqOrder => irq_order::Refinement::new(preset, &reading)?.run(scope, &mut report),
        SpecName::CsBlock => cs_block::Refinement::new(scope, preset).run(scope, &mut report),
    }
    report.finish()
}
