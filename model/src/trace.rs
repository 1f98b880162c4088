//! The one trace format of the suite (docs/architecture.md, "Trace").
//!
//! Every tool writes a counterexample or regression as a [`Trace`]: stateright
//! paths and fair lassos, loom/shuttle schedules, proptest shrinks. The JSON is
//! the contract; [`Trace::from_json`] never panics on a bad file and says what
//! is wrong with it. This module is only the format: building a trace from a
//! spec's actions ([`Trace::from_actions`]) and replaying one against a spec
//! are in [`crate::replay`], which needs the specs.

use patches::{Config, Patches, Preset, Variant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only format version this crate reads and writes.
pub const FORMAT: u32 = 1;

/// Whether a property holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Holds,
    Violated,
    /// A limit (`chukei check --max-states`, ...) stopped the check before
    /// it could decide; never recorded in a trace.
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// A counterexample, an example or a regression, from any tool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub format: u32,
    /// "timer-free" | "irq-order" | "cs-block".
    pub spec: String,
    /// The base preset of the configuration.
    pub preset: Preset,
    /// The full switch set. Traces written before configurations could
    /// differ from their preset have none: then it is the preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
    /// The variant file the configuration came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// The spec parameters used (see `crate::sizes`).
    pub sizes: BTreeMap<String, u64>,
    /// The environment assumptions, complete (see `crate::assume`). Traces
    /// written before assumptions were switches have none: then they are
    /// the spec's defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub assumptions: BTreeMap<String, String>,
    pub property: String,
    pub verdict: Verdict,
    pub schedule: Schedule,
    pub origin: Origin,
    /// Human-readable rendering, informational only: never parsed back.
    #[serde(default)]
    pub timeline: Vec<String>,
}

/// The steps of a trace, in the vocabulary of the tool that found it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Schedule {
    /// Spec actions in order. For a liveness lasso, `cycle_start` is the index
    /// of the first action of the cycle: the actions from there on lead from
    /// the state reached after `cycle_start` actions back to that same state.
    Actions {
        actions: Vec<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cycle_start: Option<usize>,
    },
    /// Choices of the relay's deterministic driver.
    Driver { choices: Vec<serde_json::Value> },
    /// A shuttle schedule string.
    Shuttle { schedule: String },
    /// A loom checkpoint: the execution path loom writes to its
    /// `checkpoint_file` (its `rt::Path` as JSON), taken just before the
    /// failing iteration ran; loom replays that iteration from it.
    Loom { path: serde_json::Value },
}

impl Schedule {
    /// The `kind` tag of the JSON, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::Actions { .. } => "actions",
            Schedule::Driver { .. } => "driver",
            Schedule::Shuttle { .. } => "shuttle",
            Schedule::Loom { .. } => "loom",
        }
    }
}

/// Which tool produced a trace, and how to reproduce it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// "bfs", "fair-lasso", "shuttle-pct", "shuttle-random",
    /// "proptest", "reproduce".
    pub checker: String,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a trace file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("trace is not valid JSON: {0}")]
    Json(String),
    #[error("trace has no numeric `format` field")]
    MissingFormat,
    #[error("trace format {found} is not supported (this build reads format {supported})")]
    UnsupportedFormat { found: u64, supported: u32 },
    #[error("trace does not match format {FORMAT}: {0}")]
    Shape(String),
    #[error("cycle_start {cycle_start} is past the end of the {len} actions")]
    CycleOutOfRange { cycle_start: usize, len: usize },
    #[error("a trace records `holds` or `violated`, not `inconclusive`")]
    InconclusiveVerdict,
}

impl Trace {
    /// The configuration the trace was recorded on.
    pub fn config(&self) -> Config {
        Config {
            base: self.preset,
            patches: self.patches.unwrap_or(self.preset.patches()),
            variant: self.variant.clone(),
        }
    }

    /// Records `config` (base preset, full switch set, variant) in the trace.
    pub fn set_config(&mut self, config: &Config) {
        self.preset = config.base;
        self.patches = Some(config.patches);
        self.variant = config.variant.clone();
    }

    /// Parses a trace file, checking the format version first so an old or
    /// future file gets a clear message instead of a field error.
    pub fn from_json(text: &str) -> Result<Trace, TraceError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| TraceError::Json(e.to_string()))?;
        let found = value
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .ok_or(TraceError::MissingFormat)?;
        if found != u64::from(FORMAT) {
            return Err(TraceError::UnsupportedFormat {
                found,
                supported: FORMAT,
            });
        }
        let trace: Trace =
            serde_json::from_value(value).map_err(|e| TraceError::Shape(e.to_string()))?;
        if trace.verdict == Verdict::Inconclusive {
            return Err(TraceError::InconclusiveVerdict);
        }
        if let Schedule::Actions {
            actions,
            cycle_start: Some(cycle_start),
        } = &trace.schedule
        {
            if *cycle_start >= actions.len() {
                return Err(TraceError::CycleOutOfRange {
                    cycle_start: *cycle_start,
                    len: actions.len(),
                });
            }
        }
        Ok(trace)
    }

    /// The trace as pretty JSON (what `regressions/` stores).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Trace always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trace {
        Trace {
            format: 1,
            spec: "timer-free".into(),
            preset: Preset::Jan2016,
            patches: None,
            variant: None,
            sizes: BTreeMap::from([("telegrams".to_string(), 2)]),
            assumptions: BTreeMap::new(),
            property: "no_free_of_unallocated".into(),
            verdict: Verdict::Violated,
            schedule: Schedule::Actions {
                actions: vec![serde_json::json!({"arrive": {"worker": 0, "telegram": 0}})],
                cycle_start: None,
            },
            origin: Origin {
                checker: "stateright-bfs".into(),
                seed: None,
                note: None,
            },
            timeline: vec![],
        }
    }

    #[test]
    fn round_trips_through_json() {
        let trace = sample();
        let json = trace.to_json_pretty();
        assert!(json.contains("\"preset\": \"2016-01\""), "{json}");
        assert!(json.contains("\"verdict\": \"violated\""), "{json}");
        assert!(json.contains("\"kind\": \"actions\""), "{json}");
        assert_eq!(Trace::from_json(&json), Ok(trace));
    }

    #[test]
    fn a_trace_records_the_full_switch_set() {
        let old = sample();
        assert_eq!(old.config(), Config::preset(Preset::Jan2016));
        let guard = Config::with_patches(
            Preset::Jan2016,
            &["hsm_guard=error-on-interrupted".to_string()],
        )
        .unwrap();
        let mut trace = sample();
        trace.set_config(&guard);
        let json = trace.to_json_pretty();
        assert!(
            json.contains("\"hsm_guard\": \"error-on-interrupted\""),
            "{json}"
        );
        let read = Trace::from_json(&json).unwrap();
        assert_eq!(read.config(), guard);
        let bad = json.replace("error-on-interrupted", "sometimes");
        let err = Trace::from_json(&bad).unwrap_err();
        assert!(
            err.to_string().contains("unknown value `sometimes`"),
            "{err}"
        );
    }

    #[test]
    fn other_schedule_kinds_round_trip() {
        for schedule in [
            Schedule::Driver {
                choices: vec![serde_json::json!(3)],
            },
            Schedule::Shuttle {
                schedule: "91023a".into(),
            },
            Schedule::Loom {
                path: serde_json::json!({"pos": 0, "branches": {"entries": []}}),
            },
        ] {
            let trace = Trace {
                schedule,
                ..sample()
            };
            assert_eq!(Trace::from_json(&trace.to_json_pretty()), Ok(trace));
        }
    }

    #[test]
    fn corrupt_input_gives_typed_errors() {
        assert!(matches!(
            Trace::from_json("{ not json"),
            Err(TraceError::Json(_))
        ));
        assert_eq!(
            Trace::from_json("{\"spec\": \"timer-free\"}"),
            Err(TraceError::MissingFormat)
        );
        assert_eq!(
            Trace::from_json("{\"format\": 7}"),
            Err(TraceError::UnsupportedFormat {
                found: 7,
                supported: 1
            })
        );
        let no_schedule = "{\"format\": 1, \"spec\": \"timer-free\"}";
        assert!(matches!(
            Trace::from_json(no_schedule),
            Err(TraceError::Shape(_))
        ));
        let bad_preset = sample().to_json_pretty().replace("2016-01", "2016-02");
        let err = Trace::from_json(&bad_preset).unwrap_err();
        assert!(
            err.to_string().contains("unknown preset `2016-02`"),
            "{err}"
        );
        let bad_verdict = sample()
            .to_json_pretty()
            .replace("\"violated\"", "\"maybe\"");
        assert!(matches!(
            Trace::from_json(&bad_verdict),
            Err(TraceError::Shape(_))
        ));
    }

    #[test]
    fn cycle_start_must_point_into_the_actions() {
        let mut trace = sample();
        trace.schedule = Schedule::Actions {
            actions: vec![],
            cycle_start: Some(0),
        };
        assert_eq!(
            Trace::from_json(&trace.to_json_pretty()),
            Err(TraceError::CycleOutOfRange {
                cycle_start: 0,
                len: 0
            })
        );
    }

    #[test]
    fn truncated_file_never_panics() {
        let json = sample().to_json_pretty();
        for cut in 0..json.len() {
            assert!(
                Trace::from_json(&json[..cut]).is_err(),
                "prefix of {cut} bytes parsed"
            );
        }
    }
}
