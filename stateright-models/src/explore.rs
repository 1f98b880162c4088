//! `chukei explore`: one spec on one configuration, to browse.
//!
//! What the Explorer shows is what `chukei check` decides ([`CheckRequest`]):
//! safety and reachability by the suite's breadth-first search (a shortest
//! path to each violation or example), liveness by the fair-lasso checker
//! (prefix and repeating cycle). stateright's own Explorer judged
//! `eventually` only at dead ends, so it showed the 2016-01 irq-order hang
//! as "Liveness holds"; it is no longer used. States are rendered with the
//! spec's own [`Spec::describe_state`], and any state's successors can be
//! browsed. This module gives the views as serializable data; the CLI
//! serves them as pages and as JSON.

use crate::checks::{
    assume_args, selection_args, size_args, steps_in_words, CheckRequest, CheckResult, Progress,
    SelectionError,
};
use model::assume::{self, Assumptions};
use model::registry::BuildError;
use model::replay::replay;
use model::search::Limits;
use model::sizes::parse_overrides;
use model::{Property, PropertyKind, SharedSpec, Spec, SpecJob, SpecName, Verdict};
use patches::{Config, Variant};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;

/// Why the Explorer could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("spec `{spec}` has no property `{name}` (valid: {valid})")]
    UnknownProperty {
        spec: &'static str,
        name: String,
        valid: String,
    },
    #[error("cannot listen on localhost:{port}: {source}")]
    Port {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// What the Explorer knows of its run: spec, configuration, sizes, state
/// counts and every property's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub spec: &'static str,
    /// The configuration's name (`2016-01`, `2016-01+irq=physical`, a
    /// variant's name).
    pub config: String,
    /// Its base preset.
    pub preset: String,
    pub variant: Option<Variant>,
    /// Every switch with its value.
    pub switches: Vec<(&'static str, &'static str)>,
    /// Complete sizes (defaults filled in).
    pub sizes: BTreeMap<String, u64>,
    /// Complete environment assumptions (defaults filled in).
    pub assumptions: Assumptions,
    /// The command line that opens this Explorer again.
    pub command: String,
    /// Reachable states, symmetry-reduced and full (when explored).
    pub states_reduced: Option<usize>,
    pub states_unreduced: Option<usize>,
    pub properties: Vec<PropertySummary>,
    /// The initial states.
    pub initial: Vec<StateRef>,
}

/// One property's verdict, as `chukei check` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct PropertySummary {
    pub name: String,
    pub kind: PropertyKind,
    pub verdict: Verdict,
    /// The verdict recorded in `scenarios/expectations.toml`, if any.
    pub expected: Option<Verdict>,
    /// "bfs" or "fair-lasso".
    pub checker: String,
    /// States the deciding checker explored.
    pub states: usize,
    /// Whether `states` counts symmetry classes.
    pub symmetry: bool,
    /// "8 steps", "4+2 steps" (prefix+cycle), absent without a path.
    pub length: Option<String>,
    /// For a liveness property: which steps it assumes are taken.
    pub fairness: Option<&'static str>,
    /// The limit that stopped the deciding exploration, in words (the
    /// verdict is then `inconclusive` unless a path was found first).
    pub stopped: Option<String>,
}

/// A state by id, with its one-line description.
#[derive(Debug, Clone, Serialize)]
pub struct StateRef {
    pub id: usize,
    pub text: String,
}

/// One step of a path: the action taken (none for the initial state) and
/// the state it leads to.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub action: Option<String>,
    pub state: StateRef,
}

/// A property with the path that shows its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyView {
    #[serde(flatten)]
    pub summary: PropertySummary,
    /// "counterexample" (a violation), "example" (a `sometimes` that
    /// holds), absent when no path shows the verdict.
    pub path_kind: Option<&'static str>,
    /// How short the path is guaranteed to be.
    pub shape: Option<&'static str>,
    /// `steps[0]` is the initial state; `steps[i]` follows action `i`.
    pub steps: Vec<Step>,
    /// For a lasso: the step whose state the last step returns to; the
    /// steps after it repeat forever.
    pub cycle_start: Option<usize>,
}

/// A state with the properties it decides and its successors.
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    pub state: StateRef,
    pub initial: bool,
    /// Each property's condition in this state.
    pub conditions: Vec<Condition>,
    /// The enabled actions with the states they lead to; none in a
    /// terminal state.
    pub successors: Vec<Step>,
}

/// A property's condition evaluated in one state.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub property: &'static str,
    pub kind: PropertyKind,
    /// Whether the condition is true here.
    pub holds: bool,
    /// What that means: "violated here" (an `always` whose condition is
    /// false), "example" (a `sometimes` whose condition is true), or none.
    pub decides: Option<&'static str>,
}

/// An Explorer: the check results of one (spec, configuration, sizes) and
/// the spec, to browse states by id.
pub struct Explorer {
    pub summary: Summary,
    browser: Box<dyn Browse>,
}

impl std::fmt::Debug for Explorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explorer")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Explorer {
    /// Checks every property of `spec` on `config` (`sizes` are `k=v`
    /// overrides), as `chukei check` does, under the default assumptions.
    pub fn new(
        spec: SpecName,
        config: Config,
        sizes: &[String],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Explorer, SelectionError> {
        Explorer::within(spec, config, sizes, Limits::NONE, progress)
    }

    /// As [`Explorer::new`], each exploration stopped at `limits` as
    /// `chukei check` stops it: a property a stopped exploration could not
    /// decide shows `inconclusive`, never `holds`.
    pub fn within(
        spec: SpecName,
        config: Config,
        sizes: &[String],
        limits: Limits,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Explorer, SelectionError> {
        Explorer::assuming_within(spec, config, sizes, &[], limits, progress)
    }

    /// As [`Explorer::within`], under the assumptions `assumptions` (`k=v`
    /// overrides, as `chukei check --assume` takes them, one value each).
    pub fn assuming_within(
        spec: SpecName,
        config: Config,
        sizes: &[String],
        assumptions: &[String],
        limits: Limits,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Explorer, SelectionError> {
        let sizes = parse_overrides(spec.name(), spec.size_params(), sizes)?;
        let assumptions =
            assume::parse_overrides(spec.name(), spec.assumption_params(), assumptions)?;
        let results = CheckRequest::new(spec, config.clone())
            .sizes(&sizes)
            .assuming(&assumptions)
            .limits(limits)
            .run(progress)
            .map_err(selection_error)?;
        let build = Build {
            name: spec,
            config,
            sizes: sizes.clone(),
            assumptions: assumptions.clone(),
            results,
        };
        spec.build_assuming(build.config.patches, &sizes, &assumptions, build)
            .map_err(selection_error)
    }

    /// A property by name, with its counterexample or example.
    pub fn property(&self, name: &str) -> Option<PropertyView> {
        self.browser.property(name)
    }

    /// The state `id` (ids are given out as states are shown: the initial
    /// states first, then the states of every path and successor list).
    pub fn state(&mut self, id: usize) -> Option<StateView> {
        self.browser.state(id)
    }
}

fn selection_error(e: BuildError) -> SelectionError {
    match e {
        BuildError::Sizes(e) => e.into(),
        BuildError::Assumptions(e) => e.into(),
    }
}

/// Checks an Explorer request before anything is printed: the sizes build
/// the spec, the property exists, and the port is free (for port 0, a free
/// port is picked). The listener is the one to serve on.
pub fn listen(
    spec: SpecName,
    config: &Config,
    sizes: &[String],
    assumptions: &[String],
    property: Option<&str>,
    port: u16,
) -> Result<TcpListener, ExploreError> {
    let sizes =
        parse_overrides(spec.name(), spec.size_params(), sizes).map_err(SelectionError::from)?;
    let assumptions = assume::parse_overrides(spec.name(), spec.assumption_params(), assumptions)
        .map_err(SelectionError::from)?;
    spec.build_assuming(config.patches, &sizes, &assumptions, Nothing)
        .map_err(selection_error)?;
    if let Some(name) = property {
        let names = crate::checks::property_names(spec);
        if !names.contains(&name) {
            return Err(ExploreError::UnknownProperty {
                spec: spec.name(),
                name: name.to_string(),
                valid: names.join(", "),
            });
        }
    }
    TcpListener::bind(("127.0.0.1", port)).map_err(|source| ExploreError::Port { port, source })
}

/// The `chukei explore` command line that opens `r`'s property page (the
/// counterexample), for `chukei check` to print under each timeline.
pub fn explore_command(r: &CheckResult) -> String {
    format!(
        "explore: chukei explore {} --property {}",
        selection_args(r),
        r.property
    )
}

/// Builds the spec and does nothing with it: the sizes are valid.
struct Nothing;

impl SpecJob for Nothing {
    type Output = ();
    fn run<S: SharedSpec>(self, _: S) {}
}

/// Builds the [`Explorer`] for whichever spec was named.
struct Build {
    name: SpecName,
    config: Config,
    sizes: BTreeMap<String, u64>,
    assumptions: Assumptions,
    results: Vec<CheckResult>,
}

impl SpecJob for Build {
    type Output = Explorer;
    fn run<S: SharedSpec>(self, spec: S) -> Explorer {
        let mut browser = Browser {
            properties: spec.properties(),
            spec,
            views: BTreeMap::new(),
            states: Vec::new(),
            ids: HashMap::new(),
        };
        let initial: Vec<StateRef> = browser
            .spec
            .init_states()
            .iter()
            .map(|s| browser.intern(s))
            .collect();
        for r in &self.results {
            let view = browser.property_view(r);
            browser.views.insert(r.property.clone(), view);
        }
        let first = self.results.first();
        let summary = Summary {
            spec: self.name.name(),
            config: self.config.name(),
            preset: self.config.base.name().to_string(),
            variant: self.config.variant.clone(),
            switches: self.config.patches.switches(),
            command: format!(
                "chukei explore --spec {} {}{}{}",
                self.name,
                self.config.cli_args(),
                size_args(self.name, &self.sizes),
                assume_args(self.name, &self.assumptions)
            ),
            sizes: self.sizes,
            assumptions: self.assumptions,
            states_reduced: first.and_then(|r| r.states_reduced),
            states_unreduced: first.and_then(|r| r.states_unreduced),
            properties: self
                .results
                .iter()
                .map(|r| browser.views[&r.property].summary.clone())
                .collect(),
            initial,
        };
        Explorer {
            summary,
            browser: Box::new(browser),
        }
    }
}

/// The spec-typed part of an Explorer, behind a trait object so the server
/// is not generic.
trait Browse {
    fn property(&self, name: &str) -> Option<PropertyView>;
    fn state(&mut self, id: usize) -> Option<StateView>;
}

/// The spec, its states by id, and the property views.
struct Browser<S: Spec> {
    spec: S,
    properties: Vec<Property<S>>,
    views: BTreeMap<String, PropertyView>,
    /// Every state shown so far, by id.
    states: Vec<S::State>,
    ids: HashMap<S::State, usize>,
}

impl<S: Spec> Browser<S> {
    /// The state's id, given out the first time it is shown.
    fn intern(&mut self, state: &S::State) -> StateRef {
        let next = self.states.len();
        let id = *self.ids.entry(state.clone()).or_insert(next);
        if id == next {
            self.states.push(state.clone());
        }
        StateRef {
            id,
            text: self.spec.describe_state(state),
        }
    }

    /// The check result as a page: its trace replayed step by step.
    fn property_view(&mut self, r: &CheckResult) -> PropertyView {
        let fairness = self
            .properties
            .iter()
            .find(|p| p.name == r.property)
            .and_then(|p| p.fairness.as_ref())
            .map(|f| f.description);
        let summary = PropertySummary {
            name: r.property.clone(),
            kind: r.kind,
            verdict: r.verdict,
            expected: r.expected,
            checker: r.checker.clone(),
            states: r.states,
            symmetry: r.symmetry,
            length: r.counterexample_len.map(|_| steps_in_words(r)),
            fairness,
            stopped: r.stopped.map(|s| s.to_string()),
        };
        let mut view = PropertyView {
            summary,
            path_kind: None,
            shape: None,
            steps: Vec::new(),
            cycle_start: None,
        };
        let Some(trace) = &r.trace else {
            return view;
        };
        let replayed = replay(&self.spec, trace).expect("a checker's own path replays");
        view.path_kind = Some(match r.verdict {
            Verdict::Violated => "counterexample",
            _ => "example",
        });
        view.shape = Some(match replayed.cycle_start {
            Some(_) => "a fair lasso behind a shortest prefix, not guaranteed the shortest lasso",
            None => "a shortest path",
        });
        view.cycle_start = replayed.cycle_start;
        let actions = std::iter::once(None).chain(replayed.actions.iter().map(Some));
        view.steps = actions
            .zip(&replayed.states)
            .map(|(action, state)| Step {
                action: action.map(|a| self.spec.describe_action(a)),
                state: self.intern(state),
            })
            .collect();
        view
    }
}

impl<S: Spec> Browse for Browser<S> {
    fn property(&self, name: &str) -> Option<PropertyView> {
        self.views.get(name).cloned()
    }

    fn state(&mut self, id: usize) -> Option<StateView> {
        let state = self.states.get(id)?.clone();
        let conditions = self
            .properties
            .iter()
            .map(|p| {
                let holds = (p.condition)(&self.spec, &state);
                let decides = match (p.kind, holds) {
                    (PropertyKind::Always, false) => Some("violated here"),
                    (PropertyKind::Sometimes, true) => Some("example"),
                    _ => None,
                };
                Condition {
                    property: p.name,
                    kind: p.kind,
                    holds,
                    decides,
                }
            })
            .collect();
        let successors = self
            .spec
            .successors(&state)
            .iter()
            .map(|(action, next)| Step {
                action: Some(self.spec.describe_action(action)),
                state: self.intern(next),
            })
            .collect();
        let initial = self.spec.init_states().contains(&state);
        Some(StateView {
            state: self.intern(&state),
            initial,
            conditions,
            successors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patches::Preset;

    #[test]
    fn the_explore_command_of_a_counterexample_names_its_configuration_and_sizes() {
        let config = Config::with_patches(Preset::Jan2016, &["cs_rule=improved".into()]).unwrap();
        let sizes = BTreeMap::from([("requests".to_string(), 3)]);
        let results = CheckRequest::new(SpecName::IrqOrder, config)
            .sizes(&sizes)
            .property(Some("relay_never_hangs"))
            .run(&mut |_| {})
            .unwrap();
        assert_eq!(results[0].verdict, Verdict::Violated);
        assert_eq!(
            explore_command(&results[0]),
            "explore: chukei explore --spec irq-order --preset 2016-01 --patch cs_rule=improved \
             --size requests=3 --property relay_never_hangs"
        );
        // The replay command `check` prints selects the same check.
        assert_eq!(
            crate::checks::check_command(&results[0]),
            "replay: chukei check --spec irq-order --preset 2016-01 --patch cs_rule=improved \
             --size requests=3 --property relay_never_hangs"
        );
    }

    #[test]
    fn an_unknown_property_is_refused_before_listening() {
        let err = listen(
            SpecName::IrqOrder,
            &Config::preset(Preset::Jan2016),
            &[],
            &[],
            Some("nope"),
            0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("has no property `nope`"), "{err}");
        let bad = ["demand=continuous".to_string()];
        let err = listen(
            SpecName::IrqOrder,
            &Config::preset(Preset::Jan2016),
            &[],
            &bad,
            None,
            0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("demand"), "{err}");
    }

    #[test]
    fn the_explore_command_carries_the_checks_assumptions() {
        let assume = BTreeMap::from([("demand".to_string(), "continuous".to_string())]);
        let config =
            Config::with_patches(Preset::Proposed, &["admission=first-come".into()]).unwrap();
        let sizes = BTreeMap::new();
        let results = CheckRequest::new(SpecName::CsBlock, config.clone())
            .sizes(&sizes)
            .assuming(&assume)
            .property(Some("card_finishes"))
            .run(&mut |_| {})
            .unwrap();
        assert_eq!(results[0].verdict, Verdict::Violated);
        let command = explore_command(&results[0]);
        assert_eq!(
            command,
            "explore: chukei explore --spec cs-block --preset proposed --patch admission=first-come \
             --assume demand=continuous --property card_finishes"
        );
        // The command opens the same counterexample.
        let items = ["demand=continuous".to_string()];
        let explorer = Explorer::assuming_within(
            SpecName::CsBlock,
            config,
            &[],
            &items,
            Limits::NONE,
            &mut |_| {},
        )
        .unwrap();
        let view = explorer.property("card_finishes").unwrap();
        assert_eq!(view.summary.verdict, Verdict::Violated);
        assert_eq!(view.steps.len() - 1, results[0].counterexample_len.unwrap());
        assert!(explorer
            .summary
            .command
            .ends_with("--assume demand=continuous"));
    }
}
