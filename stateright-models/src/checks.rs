//! Every check of every spec on every preset: the library behind `chukei check`.
//!
//! Safety (`always`) and reachability (`sometimes`) properties are decided by
//! stateright's single-threaded BFS, so each counterexample is a shortest one.
//! Liveness (`eventually`) properties are decided by the fair-lasso checker
//! ([`crate::fair`]). Every counterexample is turned into a [`Trace`] and
//! replayed against the spec before it is reported.

use crate::adapter::SpecModel;
use crate::fair::find_fair_lasso;
use model::replay::{render_actions, replay};
use model::search::StateGraph;
use model::sizes::{parse_overrides, resolve, SizeError};
use model::{Origin, PropertyKind, Spec, SpecName, Trace, UnknownSpec, Verdict};
use model::{SharedSpec, SpecJob};
use patches::{Config, Patches, Preset, UnknownPreset};
use scenarios::expected_verdict;
use serde::Serialize;
use stateright::{Checker, Model};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Which specs and configurations to check, and the size overrides (`k=v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSelection {
    pub specs: Vec<SpecName>,
    /// Presets, or presets with switch overrides, or variants.
    pub configs: Vec<Config>,
    /// Complete sizes per selected spec (defaults + overrides).
    pub sizes: BTreeMap<SpecName, BTreeMap<String, u64>>,
}

/// A bad `--spec`, `--preset` or `--size` argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error(transparent)]
    UnknownSpec(#[from] UnknownSpec),
    #[error(transparent)]
    UnknownPreset(#[from] UnknownPreset),
    #[error(transparent)]
    Sizes(#[from] SizeError),
}

impl CheckSelection {
    /// Every spec on every preset at default sizes.
    pub fn all() -> Self {
        Self::parse("all", "all", &[]).expect("defaults are valid")
    }

    /// `spec` and `preset` are a name or `all`; `sizes` are `k=v` overrides.
    /// With several specs selected, a key applies to the specs that have it
    /// and must belong to at least one of them.
    pub fn parse(spec: &str, preset: &str, sizes: &[String]) -> Result<Self, SelectionError> {
        let specs = match spec {
            "all" => SpecName::ALL.to_vec(),
            name => vec![name.parse::<SpecName>()?],
        };
        let presets = match preset {
            "all" => Preset::ALL.to_vec(),
            name => vec![name.parse::<Preset>()?],
        };
        CheckSelection::new(specs, presets, sizes)
    }

    /// The checks of `specs` x `configs` (presets or configurations), with
    /// size overrides (`k=v`).
    pub fn new<C: Into<Config>>(
        specs: Vec<SpecName>,
        configs: Vec<C>,
        sizes: &[String],
    ) -> Result<Self, SelectionError> {
        let sizes = resolve_sizes(&specs, sizes)?;
        Ok(CheckSelection {
            specs,
            configs: configs.into_iter().map(Into::into).collect(),
            sizes,
        })
    }
}

fn resolve_sizes(
    specs: &[SpecName],
    overrides: &[String],
) -> Result<BTreeMap<SpecName, BTreeMap<String, u64>>, SelectionError> {
    if let [only] = specs {
        let sizes = parse_overrides(only.name(), only.size_params(), overrides)?;
        return Ok(BTreeMap::from([(*only, sizes)]));
    }
    for item in overrides {
        let key = item
            .split_once('=')
            .map_or(item.as_str(), |(k, _)| k.trim());
        let known = specs
            .iter()
            .any(|s| s.size_params().iter().any(|p| p.name == key));
        if !known {
            let mut valid: Vec<&str> = specs
                .iter()
                .flat_map(|s| s.size_params().iter().map(|p| p.name))
                .collect();
            valid.dedup();
            return Err(SizeError::UnknownKey {
                spec: "the selected specs",
                key: key.to_string(),
                valid: valid.join(", "),
            }
            .into());
        }
    }
    specs
        .iter()
        .map(|spec| {
            let mine: Vec<String> = overrides
                .iter()
                .filter(|item| {
                    let key = item
                        .split_once('=')
                        .map_or(item.as_str(), |(k, _)| k.trim());
                    spec.size_params().iter().any(|p| p.name == key)
                })
                .cloned()
                .collect();
            Ok((
                *spec,
                parse_overrides(spec.name(), spec.size_params(), &mine)?,
            ))
        })
        .collect()
}

/// A progress report during a long check.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub spec: &'static str,
    /// The configuration's base preset and its name.
    pub preset: Preset,
    pub config: String,
    /// "stateright-bfs" or "fair-lasso".
    pub checker: &'static str,
    pub states: usize,
    pub states_per_sec: f64,
    pub done: bool,
}

/// The verdict of one property of one spec on one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub spec: String,
    /// The configuration's base preset ...
    pub preset: Preset,
    /// ... its name (the preset's, `2016-01+irq=physical`, or a variant's) ...
    pub config: String,
    /// ... and its full switch set.
    pub patches: Patches,
    pub property: String,
    pub kind: PropertyKind,
    pub verdict: Verdict,
    /// The verdict recorded for this (spec, switch set, sizes, property) in
    /// `scenarios/expectations.toml`; `None` where none is recorded.
    pub expected: Option<Verdict>,
    /// "stateright-bfs" or "fair-lasso".
    pub checker: String,
    /// Unique states the deciding checker explored.
    pub states: usize,
    pub millis: u64,
    /// The shortest counterexample as readable steps (`None` when it holds).
    pub counterexample: Option<Vec<String>>,
    /// Number of steps of the counterexample (prefix + cycle for a lasso).
    pub counterexample_len: Option<usize>,
    /// For a liveness lasso: the step where the repeating cycle starts.
    pub cycle_start: Option<usize>,
    /// The state the counterexample ends in (or loops back to).
    pub final_state: Option<String>,
    /// The counterexample (or, for `sometimes`, the example) as a trace file.
    pub trace: Option<Trace>,
}

impl CheckResult {
    /// False only where a recorded expectation differs.
    pub fn matches_expectation(&self) -> bool {
        self.expected.is_none_or(|e| e == self.verdict)
    }
}

/// Whether every verdict is the expected one (the CLI's exit code 0).
pub fn all_as_expected(results: &[CheckResult]) -> bool {
    results.iter().all(CheckResult::matches_expectation)
}

/// Runs every selected check, in spec then preset order.
pub fn run_checks(
    selection: &CheckSelection,
    progress: &mut dyn FnMut(Progress),
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for &name in &selection.specs {
        let sizes = &selection.sizes[&name];
        for config in &selection.configs {
            let checked = check_spec_preset(name, config.clone(), sizes, progress);
            results.extend(checked.expect("sizes are validated by CheckSelection"));
        }
    }
    results
}

/// All properties of one spec on one preset or configuration; `sizes` may
/// be partial (defaults fill the rest) and are recorded complete in the
/// traces.
pub fn check_spec_preset(
    name: SpecName,
    config: impl Into<Config>,
    sizes: &BTreeMap<String, u64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<CheckResult>, SizeError> {
    let sizes = resolve(name.name(), name.size_params(), sizes)?;
    let config: Config = config.into();
    let patches = config.patches;
    let run = Run {
        name,
        config,
        sizes: sizes.clone(),
    };
    name.build(patches, &sizes, CheckJob { run, progress })
}

/// [`Run::check`] on whichever spec was named.
struct CheckJob<'p> {
    run: Run,
    progress: &'p mut dyn FnMut(Progress),
}

impl SpecJob for CheckJob<'_> {
    type Output = Vec<CheckResult>;
    fn run<S: SharedSpec>(self, spec: S) -> Vec<CheckResult> {
        self.run.check(spec, self.progress)
    }
}

/// One (spec, configuration, sizes) being checked.
struct Run {
    name: SpecName,
    config: Config,
    sizes: BTreeMap<String, u64>,
}

impl Run {
    fn check<S: SharedSpec>(
        &self,
        spec: S,
        progress: &mut dyn FnMut(Progress),
    ) -> Vec<CheckResult> {
        let properties = spec.properties();
        let started = Instant::now();
        let graph = StateGraph::explore(&spec, &mut |states| {
            progress(self.progress("explore", states, started, false))
        });
        progress(self.progress("explore", graph.len(), started, true));
        let explored = started.elapsed();
        let mut results = Vec::new();
        if properties
            .iter()
            .any(|p| p.kind != PropertyKind::Eventually)
        {
            results.extend(self.bfs(spec.clone(), &graph, progress));
        }
        if properties
            .iter()
            .any(|p| p.kind == PropertyKind::Eventually)
        {
            results.extend(self.fair(&spec, &graph, explored));
        }
        // Report in the spec's own property order.
        results.sort_by_key(|r| properties.iter().position(|p| p.name == r.property));
        results
    }

    fn progress(
        &self,
        checker: &'static str,
        states: usize,
        started: Instant,
        done: bool,
    ) -> Progress {
        Progress {
            spec: self.name.name(),
            preset: self.config.base,
            config: self.config.name(),
            checker,
            states,
            states_per_sec: states as f64 / started.elapsed().as_secs_f64().max(1e-9),
            done,
        }
    }

    /// Safety and reachability: the verdict and state count are
    /// stateright's BFS. stateright 0.31 keeps overwriting an `always`
    /// discovery with later (deeper) ones, so the shortest path is read off
    /// our own BFS tree, and the two explorations must agree on the verdict.
    fn bfs<S: SharedSpec>(
        &self,
        spec: S,
        graph: &StateGraph<S>,
        progress: &mut dyn FnMut(Progress),
    ) -> Vec<CheckResult> {
        let started = Instant::now();
        let checker = SpecModel::new(spec.clone()).checker().spawn_bfs();
        let mut pause = Duration::from_millis(1);
        while !checker.is_done() {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
            progress(self.progress(
                "stateright-bfs",
                checker.unique_state_count(),
                started,
                false,
            ));
        }
        let checker = checker.join();
        let states = checker.unique_state_count();
        progress(self.progress("stateright-bfs", states, started, true));
        let millis = started.elapsed().as_millis() as u64;
        spec.properties()
            .iter()
            .filter(|p| p.kind != PropertyKind::Eventually)
            .map(|p| {
                let discovered = checker.discovery(p.name).is_some();
                let verdict = match (p.kind, discovered) {
                    (PropertyKind::Sometimes, true) | (PropertyKind::Always, false) => {
                        Verdict::Holds
                    }
                    _ => Verdict::Violated,
                };
                let witness = graph
                    .states
                    .iter()
                    .position(|s| (p.condition)(&spec, s) == (p.kind == PropertyKind::Sometimes));
                assert_eq!(
                    discovered,
                    witness.is_some(),
                    "stateright and the state graph disagree on {}",
                    p.name
                );
                let found = witness.map(|w| (graph.path_to(w), None));
                self.result(
                    &spec,
                    p.name,
                    p.kind,
                    verdict,
                    "stateright-bfs",
                    states,
                    millis,
                    found,
                )
            })
            .collect()
    }

    /// Liveness by the fair-lasso checker on the explored graph.
    fn fair<S: Spec>(
        &self,
        spec: &S,
        graph: &StateGraph<S>,
        explored: Duration,
    ) -> Vec<CheckResult> {
        spec.properties()
            .iter()
            .filter(|p| p.kind == PropertyKind::Eventually)
            .map(|p| {
                let t = Instant::now();
                let lasso = find_fair_lasso(spec, graph, p);
                let millis = (explored + t.elapsed()).as_millis() as u64;
                let verdict = if lasso.is_some() {
                    Verdict::Violated
                } else {
                    Verdict::Holds
                };
                let found = lasso.map(|l| (l.actions(), l.cycle_start()));
                self.result(
                    spec,
                    p.name,
                    p.kind,
                    verdict,
                    "fair-lasso",
                    graph.len(),
                    millis,
                    found,
                )
            })
            .collect()
    }

    /// Packs a verdict; a found path becomes a trace that must replay to the
    /// same verdict (a guard against adapter bugs).
    #[allow(clippy::too_many_arguments)]
    fn result<S: Spec>(
        &self,
        spec: &S,
        property: &str,
        kind: PropertyKind,
        verdict: Verdict,
        checker: &str,
        states: usize,
        millis: u64,
        found: Option<(Vec<S::Action>, Option<usize>)>,
    ) -> CheckResult {
        let mut result = CheckResult {
            spec: self.name.name().to_string(),
            preset: self.config.base,
            config: self.config.name(),
            patches: self.config.patches,
            property: property.to_string(),
            kind,
            verdict,
            expected: expected_verdict(self.name, &self.config.patches, &self.sizes, property),
            checker: checker.to_string(),
            states,
            millis,
            counterexample: None,
            counterexample_len: None,
            cycle_start: None,
            final_state: None,
            trace: None,
        };
        let Some((actions, cycle_start)) = found else {
            return result;
        };
        let origin = Origin {
            checker: checker.to_string(),
            seed: None,
            note: None,
        };
        let trace = Trace::from_actions(
            spec,
            &self.config,
            self.sizes.clone(),
            property,
            verdict,
            &actions,
            cycle_start,
            origin,
        );
        let replayed = replay(spec, &trace).expect("a checker's own path replays");
        assert_eq!(
            replayed.verdict, verdict,
            "replay disagrees on {property}: {trace:?}"
        );
        if verdict == Verdict::Violated {
            result.counterexample = Some(render_actions(spec, &actions, cycle_start));
            result.counterexample_len = Some(actions.len());
            result.cycle_start = cycle_start;
            let last = replayed.states.last().expect("a path has states");
            result.final_state = Some(spec.describe_state(last));
        }
        result.trace = Some(trace);
        result
    }
}

/// The verdict matrix as a text table, with totals and states/s. The
/// `expected` column is `-` where no verdict is recorded; configurations
/// that are not a preset are listed with their full switch set.
pub fn render_matrix(results: &[CheckResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.config.len())
        .max()
        .unwrap_or(0)
        .max("config".len());
    let mut out = format!(
        "{:<11} {:<width$} {:<26} {:<9} {:<9} {:>8} {:>7} {:>5}\n",
        "spec", "config", "property", "verdict", "expected", "states", "ms", "steps"
    );
    for r in results {
        let steps = match (r.counterexample_len, r.cycle_start) {
            (Some(n), Some(k)) => format!("{k}+{}", n - k),
            (Some(n), None) => n.to_string(),
            (None, _) => "-".to_string(),
        };
        let expected = r.expected.map_or("-".to_string(), |e| e.to_string());
        out += &format!(
            "{:<11} {:<width$} {:<26} {:<9} {:<9} {:>8} {:>7} {:>5}{}\n",
            r.spec,
            r.config,
            r.property,
            r.verdict.to_string(),
            expected,
            r.states,
            r.millis,
            steps,
            if r.matches_expectation() {
                ""
            } else {
                "  <-- UNEXPECTED"
            }
        );
    }
    let mismatches = results.iter().filter(|r| !r.matches_expectation()).count();
    let unrecorded = results.iter().filter(|r| r.expected.is_none()).count();
    out += &format!(
        "{} checks, {} unexpected, {} without a recorded expectation. Steps of a lasso are prefix+cycle.\n",
        results.len(),
        mismatches,
        unrecorded
    );
    let (states, millis) = throughput(results);
    out += &format!(
        "{states} states explored in {millis} ms ({:.0} states/s)\n",
        states as f64 * 1000.0 / (millis.max(1) as f64)
    );
    out + &render_configs(results)
}

/// The switch set of every checked configuration that is not a preset.
fn render_configs(results: &[CheckResult]) -> String {
    let mut seen: BTreeMap<&str, &Patches> = BTreeMap::new();
    for r in results.iter().filter(|r| r.config != r.preset.name()) {
        seen.insert(&r.config, &r.patches);
    }
    seen.iter()
        .map(|(name, patches)| format!("config {name}: {patches}\n"))
        .collect()
}

/// Unique states and time per (spec, configuration) run, summed: each run's
/// states once, and its slowest property's time (which includes the
/// exploration).
fn throughput(results: &[CheckResult]) -> (usize, u64) {
    let mut runs: BTreeMap<(&str, &str), (usize, u64)> = BTreeMap::new();
    for r in results {
        let run = runs
            .entry((r.spec.as_str(), r.config.as_str()))
            .or_default();
        *run = (run.0.max(r.states), run.1.max(r.millis));
    }
    runs.values()
        .fold((0, 0), |(s, m), (rs, rm)| (s + rs, m + rm))
}

/// Each counterexample as a numbered timeline ending in its final state.
pub fn render_timelines(results: &[CheckResult]) -> String {
    let mut out = String::new();
    for r in results {
        let Some(steps) = &r.counterexample else {
            continue;
        };
        // The lasso checker finds *a* fair cycle reachable by a shortest
        // prefix, not the shortest prefix+cycle overall: say so.
        let shape = if r.cycle_start.is_some() {
            "fair lasso, not guaranteed shortest"
        } else {
            "shortest path"
        };
        out += &format!(
            "\n{} {} {} violated ({}, {} steps, {}):\n",
            r.spec,
            r.config,
            r.property,
            r.checker,
            steps.len(),
            shape
        );
        for line in steps {
            out += &format!("  {line}\n");
        }
        if let Some(state) = &r.final_state {
            out += &format!("  => {state}\n");
        }
    }
    out
}

/// The matrix followed by the timelines (what `chukei check` prints).
pub fn render_report(results: &[CheckResult]) -> String {
    render_matrix(results) + &render_timelines(results)
}
