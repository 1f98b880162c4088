//! Replay: re-checking a `Schedule::Actions` trace against a spec, without
//! any checker, and building such a trace from a spec's typed actions.

use crate::registry::{SpecJob, SpecName, UnknownSpec};
use crate::sizes::SizeError;
use crate::spec::{Property, PropertyKind, Spec};
use crate::trace::{Origin, Schedule, Trace, Verdict, FORMAT};
use patches::Config;
use std::collections::BTreeMap;

// Defined here, not in `trace`, because the timeline needs the spec.
impl Trace {
    /// Builds a `Schedule::Actions` trace from typed spec actions. (One
    /// argument per field of the trace, hence the many arguments.)
    #[allow(clippy::too_many_arguments)]
    pub fn from_actions<S: Spec>(
        spec: &S,
        config: &Config,
        sizes: BTreeMap<String, u64>,
        property: &str,
        verdict: Verdict,
        actions: &[S::Action],
        cycle_start: Option<usize>,
        origin: Origin,
    ) -> Trace {
        let timeline = render_actions(spec, actions, cycle_start);
        Trace {
            format: FORMAT,
            spec: spec.name().to_string(),
            preset: config.base,
            patches: Some(config.patches),
            variant: config.variant.clone(),
            sizes,
            assumptions: spec.assumptions(),
            property: property.to_string(),
            verdict,
            schedule: Schedule::Actions {
                actions: actions
                    .iter()
                    .map(|a| serde_json::to_value(a).expect("spec actions serialize"))
                    .collect(),
                cycle_start,
            },
            origin,
            timeline,
        }
    }
}

/// Why a trace could not be replayed against a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("trace is for spec `{trace}`, not `{spec}`")]
    SpecMismatch { trace: String, spec: &'static str },
    #[error("spec `{spec}` has no property `{property}` (valid: {valid})")]
    UnknownProperty {
        spec: &'static str,
        property: String,
        valid: String,
    },
    #[error("only `actions` schedules replay against a spec, this one is `{0}`")]
    NotActions(&'static str),
    #[error("step {step}: not an action of this spec: {error}")]
    BadAction { step: usize, error: String },
    #[error("step {step}: `{action}` is not enabled")]
    NotEnabled { step: usize, action: String },
    #[error("the lasso does not close: the last state differs from the state at cycle_start {0}")]
    CycleNotClosed(usize),
    #[error("cycle_start {cycle_start} is past the end of the {len} actions")]
    CycleOutOfRange { cycle_start: usize, len: usize },
    #[error(transparent)]
    Sizes(#[from] SizeError),
    #[error(transparent)]
    Assumptions(#[from] crate::assume::AssumeError),
    #[error(transparent)]
    UnknownSpec(#[from] UnknownSpec),
}

/// The result of replaying a trace: every state visited and the verdict the
/// trace demonstrates for its property.
#[derive(Debug, Clone)]
pub struct Replay<S: Spec> {
    /// `states[0]` is the initial state, `states[i + 1]` follows `actions[i]`.
    pub states: Vec<S::State>,
    pub actions: Vec<S::Action>,
    pub cycle_start: Option<usize>,
    /// Always: violated iff some visited state breaks the condition.
    /// Sometimes: holds iff some visited state is an example.
    /// Eventually: violated iff the trace is a fair lasso whose cycle never
    /// meets the condition, or ends in a terminal state that does not.
    pub verdict: Verdict,
    /// The index of the first state that decides the verdict, if any.
    pub witness: Option<usize>,
}

/// Replays a `Schedule::Actions` trace against `spec` and re-judges its property.
pub fn replay<S: Spec>(spec: &S, trace: &Trace) -> Result<Replay<S>, ReplayError> {
    if trace.spec != spec.name() {
        return Err(ReplayError::SpecMismatch {
            trace: trace.spec.clone(),
            spec: spec.name(),
        });
    }
    let property = spec
        .property(&trace.property)
        .ok_or_else(|| ReplayError::UnknownProperty {
            spec: spec.name(),
            property: trace.property.clone(),
            valid: property_names(spec),
        })?;
    let Schedule::Actions {
        actions,
        cycle_start,
    } = &trace.schedule
    else {
        return Err(ReplayError::NotActions(trace.schedule.kind()));
    };
    let actions = actions
        .iter()
        .enumerate()
        .map(|(step, value)| {
            serde_json::from_value::<S::Action>(value.clone()).map_err(|e| ReplayError::BadAction {
                step,
                error: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let states = run(spec, &actions)?;
    let (verdict, witness) = judge(spec, &property, &states, &actions, *cycle_start)?;
    Ok(Replay {
        states,
        actions,
        cycle_start: *cycle_start,
        verdict,
        witness,
    })
}

/// The comma-separated property names of a spec, for error messages.
pub fn property_names<S: Spec>(spec: &S) -> String {
    spec.properties()
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the actions from the first initial state that accepts them all.
fn run<S: Spec>(spec: &S, actions: &[S::Action]) -> Result<Vec<S::State>, ReplayError> {
    let mut first_error = None;
    for init in spec.init_states() {
        match run_from(spec, init, actions) {
            Ok(states) => return Ok(states),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(ReplayError::NotEnabled {
        step: 0,
        action: "(the spec has no initial state)".into(),
    }))
}

fn run_from<S: Spec>(
    spec: &S,
    init: S::State,
    actions: &[S::Action],
) -> Result<Vec<S::State>, ReplayError> {
    let mut states = vec![init];
    for (step, action) in actions.iter().enumerate() {
        let last = states.last().expect("never empty");
        let next = spec
            .next_state(last, action)
            .ok_or_else(|| ReplayError::NotEnabled {
                step,
                action: spec.describe_action(action),
            })?;
        states.push(next);
    }
    Ok(states)
}

fn judge<S: Spec>(
    spec: &S,
    property: &Property<S>,
    states: &[S::State],
    actions: &[S::Action],
    cycle_start: Option<usize>,
) -> Result<(Verdict, Option<usize>), ReplayError> {
    let holds_at = |s: &S::State| (property.condition)(spec, s);
    Ok(match property.kind {
        PropertyKind::Always => match states.iter().position(|s| !holds_at(s)) {
            Some(i) => (Verdict::Violated, Some(i)),
            None => (Verdict::Holds, None),
        },
        PropertyKind::Sometimes => match states.iter().position(holds_at) {
            Some(i) => (Verdict::Holds, Some(i)),
            None => (Verdict::Violated, None),
        },
        PropertyKind::Eventually => match cycle_start {
            Some(k) => judge_lasso(spec, property, states, actions, k)?,
            None => {
                let last = states.len() - 1;
                let stuck = spec.successors(&states[last]).is_empty() && !holds_at(&states[last]);
                if stuck {
                    (Verdict::Violated, Some(last))
                } else {
                    (Verdict::Holds, None)
                }
            }
        },
    })
}

fn judge_lasso<S: Spec>(
    spec: &S,
    property: &Property<S>,
    states: &[S::State],
    actions: &[S::Action],
    k: usize,
) -> Result<(Verdict, Option<usize>), ReplayError> {
    if k >= actions.len() {
        return Err(ReplayError::CycleOutOfRange {
            cycle_start: k,
            len: actions.len(),
        });
    }
    if states[k] != states[states.len() - 1] {
        return Err(ReplayError::CycleNotClosed(k));
    }
    let cycle: Vec<(S::State, S::Action)> = states[k..states.len() - 1]
        .iter()
        .cloned()
        .zip(actions[k..].iter().cloned())
        .collect();
    let never_met = cycle.iter().all(|(s, _)| !(property.condition)(spec, s));
    if never_met && property.cycle_is_fair(spec, &cycle) {
        Ok((Verdict::Violated, Some(k)))
    } else {
        Ok((Verdict::Holds, None))
    }
}

/// Renders actions as numbered timeline lines, marking where a cycle starts.
pub fn render_actions<S: Spec>(
    spec: &S,
    actions: &[S::Action],
    cycle_start: Option<usize>,
) -> Vec<String> {
    let mut lines = Vec::with_capacity(actions.len() + 1);
    for (i, action) in actions.iter().enumerate() {
        if cycle_start == Some(i) {
            lines.push("-- cycle: the following steps repeat forever --".to_string());
        }
        lines.push(format!("{:>3}. {}", i + 1, spec.describe_action(action)));
    }
    lines
}

/// A replay result without the spec's state type, for tools that handle
/// every spec alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    pub verdict: Verdict,
    pub witness: Option<usize>,
    /// `describe_state` of every visited state.
    pub states: Vec<String>,
    /// Whether the actions are a whole run: they close their lasso, or end
    /// in a state where the spec can do nothing more. A prefix of a run
    /// shows an `always` property holding only so far.
    pub complete: bool,
}

/// Replays an actions trace against the spec, preset and sizes it names.
pub fn replay_trace(trace: &Trace) -> Result<ReplayOutcome, ReplayError> {
    let name: SpecName = trace.spec.parse()?;
    let (patches, sizes) = (trace.config().patches, &trace.sizes);
    name.build_assuming(patches, sizes, &trace.assumptions, ReplayJob(trace))
        .map_err(|e| match e {
            crate::registry::BuildError::Sizes(e) => ReplayError::Sizes(e),
            crate::registry::BuildError::Assumptions(e) => ReplayError::Assumptions(e),
        })?
}

/// Replays a trace on whichever spec it names.
struct ReplayJob<'a>(&'a Trace);

impl SpecJob for ReplayJob<'_> {
    type Output = Result<ReplayOutcome, ReplayError>;
    fn run<S: Spec>(self, spec: S) -> Self::Output {
        let replay = replay(&spec, self.0)?;
        let last = replay.states.last().expect("never empty");
        // A `sometimes` example is witnessed by a state on the way: no whole
        // run needed.
        let example = spec
            .property(&self.0.property)
            .is_some_and(|p| p.kind == crate::spec::PropertyKind::Sometimes);
        let complete = example || replay.cycle_start.is_some() || spec.successors(last).is_empty();
        Ok(ReplayOutcome {
            complete,
            verdict: replay.verdict,
            witness: replay.witness,
            states: replay
                .states
                .iter()
                .map(|s| spec.describe_state(s))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer_free::{Message, TimerFree, TimerFreeAction};
    use patches::Preset;

    fn stale_notice_trace(spec: &TimerFree) -> Trace {
        use TimerFreeAction::*;
        let completion = Message::Completion { telegram: 0 };
        let actions = [
            Arrive {
                worker: 0,
                telegram: 0,
            },
            Handle {
                worker: 0,
                message: Message::Telegram { telegram: 0 },
            },
            TimerFires { worker: 0 },
            HsmCompletes { worker: 0 },
            Handle {
                worker: 0,
                message: completion,
            },
            HsmCompletes { worker: 0 },
            Handle {
                worker: 0,
                message: completion,
            },
            Handle {
                worker: 0,
                message: Message::TimeoutNotice { epoch: 0 },
            },
        ];
        Trace::from_actions(
            spec,
            &Preset::Jan2016.into(),
            spec.sizes(),
            "no_free_of_unallocated",
            Verdict::Violated,
            &actions,
            None,
            Origin {
                checker: "reproduce".into(),
                seed: None,
                note: None,
            },
        )
    }

    #[test]
    fn replay_rechecks_a_stored_counterexample() {
        let spec = TimerFree::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        let trace = Trace::from_json(&stale_notice_trace(&spec).to_json_pretty()).unwrap();
        let replay = replay(&spec, &trace).unwrap();
        assert_eq!(replay.verdict, Verdict::Violated);
        assert_eq!(replay.witness, Some(8));
        assert_eq!(replay.states.len(), 9);
        // The fixed AP survives the same schedule.
        let fixed = TimerFree::new(Preset::Apr2016.patches(), &BTreeMap::new()).unwrap();
        assert_eq!(
            super::replay(&fixed, &trace).unwrap().verdict,
            Verdict::Holds
        );
    }

    #[test]
    fn replay_reports_bad_steps() {
        let spec = TimerFree::new(Preset::Jan2016.patches(), &BTreeMap::new()).unwrap();
        let mut trace = stale_notice_trace(&spec);
        trace.schedule = Schedule::Actions {
            actions: vec![
                serde_json::json!({"handle": {"worker": 0, "message": {"telegram": {"telegram": 0}}}}),
            ],
            cycle_start: None,
        };
        assert!(matches!(
            replay(&spec, &trace),
            Err(ReplayError::NotEnabled { step: 0, .. })
        ));
        trace.schedule = Schedule::Actions {
            actions: vec![serde_json::json!({"teleport": {}})],
            cycle_start: None,
        };
        assert!(matches!(
            replay(&spec, &trace),
            Err(ReplayError::BadAction { step: 0, .. })
        ));
        trace.property = "no_such_property".into();
        let err = replay(&spec, &trace).unwrap_err();
        assert!(err.to_string().contains("no_free_of_unallocated"), "{err}");
        trace.spec = "irq-order".into();
        assert!(matches!(
            replay(&spec, &trace),
            Err(ReplayError::SpecMismatch { .. })
        ));
    }
}
