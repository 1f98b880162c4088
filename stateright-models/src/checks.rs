//! Every check of every spec on every preset: the library behind `chukei check`.
//!
//! Safety (`always`) and reachability (`sometimes`) properties are decided by
//! the suite's breadth-first search ([`model::search`]), by default on the
//! symmetry-reduced graph (identical workers and CSs permuted into one
//! state: the properties do not tell them apart, so verdicts and shortest
//! lengths are those of the full graph), so each counterexample is a
//! shortest one. Liveness (`eventually`) properties are decided by the
//! fair-lasso checker ([`crate::fair`]) on the full graph: a cycle through
//! permuted states is no cycle of the spec, so no reduction there. Both
//! graphs are explored once per (spec, preset) and serve every property of
//! their kind. stateright's own BFS is the cross-check, in the tests
//! (`stateright-models/tests/checks.rs`), not on every run. Every
//! counterexample is turned into a [`Trace`] and replayed against the spec
//! before it is reported.

use crate::fair::find_fair_lasso_in;
use crate::symmetry::{fair_lasso_exists, unreduced_count};
use model::assume::{self, AssumeError, Assumptions};
use model::bitstate::{bitstate_search, Bitstate};
use model::replay::{render_actions, replay};
use model::search::{Identity, Limits, Parallel, StateGraph, Stopped, Watch};
use model::sizes::{parse_overrides, resolve, SizeError};
use model::{BuildError, SharedSpec, SpecJob};
use model::{Origin, Property, PropertyKind, Spec, SpecName, Trace, UnknownSpec, Verdict};
use patches::{Config, Patches, Preset, UnknownPreset};
use scenarios::expect::expected_verdict_assuming;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Which specs and configurations to check, and the size overrides (`k=v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSelection {
    pub specs: Vec<SpecName>,
    /// Presets, presets with switch overrides, or variants.
    pub configs: Vec<Config>,
    /// Complete sizes per selected spec (defaults + overrides).
    pub sizes: BTreeMap<SpecName, BTreeMap<String, u64>>,
    /// The assumption settings to check each selected spec under, complete
    /// (default: only the defaults; `--assume`).
    pub assumptions: BTreeMap<SpecName, Vec<Assumptions>>,
    /// Only this property (`chukei check --property`); `None`: all.
    pub property: Option<String>,
    /// Decide safety and reachability on the symmetry-reduced graph
    /// (default; `chukei check --no-symmetry` turns it off to compare).
    pub symmetry: bool,
    /// Where each exploration stops early (`chukei check --max-states`,
    /// ...); a property it cannot decide within them is `inconclusive`.
    pub limits: Limits,
    /// Threads that explore each graph (`chukei check --threads`); the
    /// graph, and so every count, verdict and path, is the same for any.
    pub threads: usize,
    /// Search with a bit table instead of an exact visited set (`chukei
    /// check --bitstate`): safety and reachability only, each verdict that
    /// rests on a state not being there with the probability it was missed.
    pub bitstate: Option<Bitstate>,
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
    #[error(transparent)]
    Assumptions(#[from] AssumeError),
    #[error("no selected spec has a property `{name}` (valid: {valid})")]
    UnknownProperty { name: String, valid: String },
}

impl From<BuildError> for SelectionError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Sizes(e) => e.into(),
            BuildError::Assumptions(e) => e.into(),
        }
    }
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
    pub fn new(
        specs: Vec<SpecName>,
        configs: Vec<impl Into<Config>>,
        sizes: &[String],
    ) -> Result<Self, SelectionError> {
        let sizes = resolve_sizes(&specs, sizes)?;
        let assumptions = specs
            .iter()
            .map(|s| (*s, vec![assume::defaults(s.assumption_params())]))
            .collect();
        Ok(CheckSelection {
            specs,
            configs: configs.into_iter().map(Into::into).collect(),
            sizes,
            assumptions,
            property: None,
            symmetry: true,
            limits: Limits::NONE,
            threads: 1,
            bitstate: None,
        })
    }

    /// Checks only the property `name`; the specs that do not have it are
    /// dropped, and it is an error when none of them has it.
    pub fn with_property(mut self, name: &str) -> Result<Self, SelectionError> {
        let has = |spec: &SpecName| property_names(*spec).contains(&name);
        if !self.specs.iter().any(has) {
            let mut valid: Vec<&str> = self.specs.iter().flat_map(|&s| property_names(s)).collect();
            valid.dedup();
            return Err(SelectionError::UnknownProperty {
                name: name.to_string(),
                valid: valid.join(", "),
            });
        }
        self.specs.retain(has);
        self.property = Some(name.to_string());
        Ok(self)
    }

    /// The assumption settings selected by `name=value` overrides (`--assume`):
    /// a value `all` takes every value of that assumption, the item `all`
    /// every setting of every assumption. With several specs selected, a
    /// name applies to the specs that have it and must belong to one of them.
    pub fn with_assumptions(mut self, overrides: &[String]) -> Result<Self, SelectionError> {
        let name_of = |item: &String| item.split_once('=').map(|(k, _)| k.trim().to_string());
        for item in overrides.iter().filter(|i| i.trim() != "all") {
            let Some(name) = name_of(item) else {
                return Err(AssumeError::Malformed(item.clone()).into());
            };
            let known = |s: &SpecName| s.assumption_params().iter().any(|a| a.name == name);
            if !self.specs.iter().any(known) {
                let valid: Vec<String> = self
                    .specs
                    .iter()
                    .map(|s| format!("{s}: {}", assume::names(s.assumption_params())))
                    .collect();
                return Err(AssumeError::UnknownName {
                    spec: "the selected specs",
                    given: name,
                    valid: valid.join("; "),
                }
                .into());
            }
        }
        for spec in &self.specs {
            let params = spec.assumption_params();
            let mine: Vec<String> = overrides
                .iter()
                .filter(|i| {
                    i.trim() == "all"
                        || name_of(i).is_some_and(|n| params.iter().any(|a| a.name == n))
                })
                .cloned()
                .collect();
            let settings = assume::select(spec.name(), params, &mine)?;
            self.assumptions.insert(*spec, settings);
        }
        Ok(self)
    }

    /// Every setting of every assumption of the selected specs.
    pub fn with_every_assumption(self) -> Self {
        self.with_assumptions(&["all".to_string()])
            .expect("`all` is always valid")
    }

    /// Whether safety and reachability run on the symmetry-reduced graph.
    pub fn with_symmetry(mut self, symmetry: bool) -> Self {
        self.symmetry = symmetry;
        self
    }

    /// Explores each graph on `threads` threads.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Stops each exploration at `limits`.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Searches with a bit table ([`Bitstate`]) instead of exploring the
    /// graph (`None`: exactly, the default).
    pub fn with_bitstate(mut self, bitstate: Option<Bitstate>) -> Self {
        self.bitstate = bitstate;
        self
    }
}

/// The names of `spec`'s properties, in its own order.
pub fn property_names(spec: SpecName) -> Vec<&'static str> {
    struct Names;
    impl SpecJob for Names {
        type Output = Vec<&'static str>;
        fn run<S: SharedSpec>(self, spec: S) -> Vec<&'static str> {
            spec.properties().iter().map(|p| p.name).collect()
        }
    }
    spec.build(Preset::Jan2016.patches(), &BTreeMap::new(), Names)
        .expect("default sizes are valid")
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
    /// "explore" (the full graph), "explore-reduced" (the
    /// symmetry-reduced one), "explore-reduced-but-first" (reduced over
    /// all processes but the first) or "search" (one property, until its
    /// first counterexample).
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
    /// The environment assumptions the verdict holds under, complete.
    pub assumptions: Assumptions,
    pub property: String,
    pub kind: PropertyKind,
    pub verdict: Verdict,
    /// The verdict recorded for this (spec, switch set, sizes, property) in
    /// `scenarios/expectations.toml`; `None` where none is recorded.
    pub expected: Option<Verdict>,
    /// "bfs" or "fair-lasso".
    pub checker: String,
    /// Unique states the deciding checker explored (symmetry classes when
    /// `symmetry`).
    pub states: usize,
    /// Whether `states` counts symmetry classes (safety and reachability
    /// with symmetry on).
    pub symmetry: bool,
    /// The reachable states of the spec, symmetry-reduced and full, when the
    /// run explored them completely.
    pub states_reduced: Option<usize>,
    pub states_unreduced: Option<usize>,
    pub millis: u64,
    /// The shortest counterexample as readable steps (`None` when it holds).
    pub counterexample: Option<Vec<String>>,
    /// Number of steps of the counterexample (prefix + cycle for a lasso).
    pub counterexample_len: Option<usize>,
    /// For a liveness lasso: the step where the repeating cycle starts.
    pub cycle_start: Option<usize>,
    /// The state the counterexample ends in (or loops back to).
    pub final_state: Option<String>,
    /// For a lasso: the steps enabled in every state of the cycle and never
    /// taken on it. Weak fairness of any of them would rule the lasso out,
    /// so under `fairness=none` they show that the verdict rests on that
    /// assumption (a relay that is never scheduled, an HSM that never
    /// answers), not on the design.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub postponed: Vec<String>,
    /// The limit that stopped the deciding exploration, and how far it got
    /// (`None`: every reachable state was explored, or the property was
    /// decided by what was).
    pub stopped: Option<Stopped>,
    /// The counterexample (or, for `sometimes`, the example) as a trace file.
    pub trace: Option<Trace>,
    /// The bit table of a `--bitstate` search, with what it says of the
    /// states it may have missed.
    pub bitstate: Option<BitstateNote>,
    /// Why the verdict is not a proof, when it is not (a `--bitstate`
    /// verdict that rests on a state not being found).
    pub caveat: Option<String>,
}

/// What a bitstate search reports about itself.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BitstateNote {
    /// The table had `2^log2_bits` bits; each state set `hashes` of them.
    pub log2_bits: u32,
    pub hashes: u32,
    /// The table's size in bytes.
    pub table_bytes: u64,
    /// States stored.
    pub states: usize,
    /// The fraction of the table's bits set.
    pub fill: f64,
    /// The estimated number of reachable states missed.
    pub expected_misses: f64,
    /// The estimated probability that some reachable state was missed.
    pub miss_probability: f64,
}

impl CheckResult {
    /// The assumptions that differ from the spec's defaults, as
    /// `name=value,...`, or `defaults`.
    pub fn assumption_label(&self) -> String {
        let params = self
            .spec
            .parse::<SpecName>()
            .map_or(&[][..], |s| s.assumption_params());
        let differ = assume::non_default(params, &self.assumptions);
        if differ.is_empty() {
            "defaults".to_string()
        } else {
            differ.join(",")
        }
    }

    /// False only where a recorded expectation differs (an inconclusive
    /// verdict differs from none: see [`all_decided`]).
    pub fn matches_expectation(&self) -> bool {
        self.verdict == Verdict::Inconclusive || self.expected.is_none_or(|e| e == self.verdict)
    }
}

/// Whether every property was decided: no limit left one inconclusive.
pub fn all_decided(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.verdict != Verdict::Inconclusive)
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
    let defaults = |name: SpecName| vec![assume::defaults(name.assumption_params())];
    for &name in &selection.specs {
        let sizes = &selection.sizes[&name];
        let settings = selection
            .assumptions
            .get(&name)
            .cloned()
            .unwrap_or_else(|| defaults(name));
        for config in &selection.configs {
            for assumptions in &settings {
                let checked = CheckRequest::new(name, config.clone())
                    .sizes(sizes)
                    .assuming(assumptions)
                    .property(selection.property.as_deref())
                    .symmetry(selection.symmetry)
                    .limits(selection.limits)
                    .threads(selection.threads)
                    .bitstate(selection.bitstate)
                    .run(progress);
                results.extend(checked.expect("validated by CheckSelection"));
            }
        }
    }
    results
}

/// All properties of one spec on one preset or configuration; `sizes` may
/// be partial (defaults fill the rest) and are recorded complete in the
/// traces.
pub fn check_spec_preset(
    name: SpecName,
    preset: impl Into<Config>,
    sizes: &BTreeMap<String, u64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<CheckResult>, SizeError> {
    let checked = CheckRequest::new(name, preset).sizes(sizes).run(progress);
    checked.map_err(|e| match e {
        BuildError::Sizes(e) => e,
        BuildError::Assumptions(e) => unreachable!("default assumptions: {e}"),
    })
}

/// One (spec, configuration) to check and everything that may vary about
/// it: the one way a check is asked for. [`CheckRequest::new`] gives the
/// defaults (default sizes and assumptions, every property, symmetry on, no
/// limits, one thread); the builder methods change one thing each.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub spec: SpecName,
    pub config: Config,
    /// Size overrides; the defaults fill the rest.
    pub sizes: BTreeMap<String, u64>,
    /// Assumption overrides (`name -> value`); the defaults fill the rest.
    pub assumptions: BTreeMap<String, String>,
    /// Only this property; `None`: all of the spec's.
    pub property: Option<String>,
    /// Decide safety and reachability on the symmetry-reduced graph.
    pub symmetry: bool,
    /// Where each exploration stops early.
    pub limits: Limits,
    /// Threads that explore each graph.
    pub threads: usize,
    /// A bit table instead of the graph ([`CheckSelection::bitstate`]).
    pub bitstate: Option<Bitstate>,
}

impl CheckRequest {
    /// Every property of `spec` on `config` with the defaults.
    pub fn new(spec: SpecName, config: impl Into<Config>) -> Self {
        CheckRequest {
            spec,
            config: config.into(),
            sizes: BTreeMap::new(),
            assumptions: BTreeMap::new(),
            property: None,
            symmetry: true,
            limits: Limits::NONE,
            threads: 1,
            bitstate: None,
        }
    }

    /// At `sizes` (partial).
    pub fn sizes(mut self, sizes: &BTreeMap<String, u64>) -> Self {
        self.sizes = sizes.clone();
        self
    }

    /// Under `assumptions` (partial).
    pub fn assuming(mut self, assumptions: &BTreeMap<String, String>) -> Self {
        self.assumptions = assumptions.clone();
        self
    }

    /// Only `property` (`None`: all).
    pub fn property(mut self, property: Option<&str>) -> Self {
        self.property = property.map(str::to_string);
        self
    }

    /// With or without symmetry reduction.
    pub fn symmetry(mut self, symmetry: bool) -> Self {
        self.symmetry = symmetry;
        self
    }

    /// Each exploration stopped at `limits`.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Each graph explored on `threads` threads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// With a bit table instead of the graph (`None`: exactly).
    pub fn bitstate(mut self, bitstate: Option<Bitstate>) -> Self {
        self.bitstate = bitstate;
        self
    }

    /// Checks it, in the spec's property order.
    pub fn run(&self, progress: &mut dyn FnMut(Progress)) -> Result<Vec<CheckResult>, BuildError> {
        let name = self.spec;
        let sizes = resolve(name.name(), name.size_params(), &self.sizes)?;
        let assumptions =
            assume::resolve(name.name(), name.assumption_params(), &self.assumptions)?;
        let patches = self.config.patches;
        let run = Run {
            name,
            config: self.config.clone(),
            sizes: sizes.clone(),
            assumptions: assumptions.clone(),
            property: self.property.clone(),
            symmetry: self.symmetry,
            limits: self.limits,
            threads: self.threads,
            bitstate: self.bitstate,
        };
        name.build_assuming(patches, &sizes, &assumptions, CheckJob { run, progress })
    }
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
    assumptions: Assumptions,
    /// Only this property, when given.
    property: Option<String>,
    symmetry: bool,
    limits: Limits,
    threads: usize,
    bitstate: Option<Bitstate>,
}

/// A condition on states a check watches while exploring.
type Condition<'a, S> = Box<dyn Fn(&<S as Spec>::State) -> bool + Sync + 'a>;

/// An explored graph and what it cost.
struct Explored<S: Spec> {
    graph: StateGraph<S>,
    /// Which states the graph tells apart.
    identity: Identity,
    elapsed: Duration,
    /// Every reachable state (class) was explored, not only those up to a
    /// first counterexample.
    complete: bool,
    /// Whether each property's condition was marked on every state while
    /// exploring ([`Run::explore`]); else `found` is the one search's.
    watched: bool,
    found: Option<usize>,
}

impl Run {
    fn check<S: SharedSpec>(
        &self,
        spec: S,
        progress: &mut dyn FnMut(Progress),
    ) -> Vec<CheckResult> {
        let properties: Vec<Property<S>> = spec
            .properties()
            .into_iter()
            .filter(|p| self.property.as_deref().is_none_or(|name| name == p.name))
            .collect();
        if let Some(bitstate) = self.bitstate {
            return self.check_bitstate(&spec, &properties, bitstate, progress);
        }
        let (liveness, safety): (Vec<_>, Vec<_>) = properties
            .iter()
            .partition(|p| p.kind == PropertyKind::Eventually);
        let identity = if self.symmetry {
            Identity::Symmetric
        } else {
            Identity::Exact
        };
        // What each property needs to know of every state, in the order of
        // `properties`: whether it decides a safety or reachability
        // property, whether it is off the goal of a liveness one.
        let conditions: Vec<Condition<'_, S>> = properties
            .iter()
            .map(|p| -> Condition<'_, S> {
                match p.kind {
                    PropertyKind::Eventually => Box::new(|s| !(p.condition)(&spec, s)),
                    _ => Box::new(|s| decides(&spec, p, s)),
                }
            })
            .collect();
        let watches: Vec<Watch<'_, S>> = conditions.iter().map(|c| &**c as Watch<'_, S>).collect();
        let watch_of = |p: &Property<S>| {
            properties
                .iter()
                .position(|q| q.name == p.name)
                .expect("one of the properties")
        };
        // Liveness of a symmetric property is decided on the reduced graph
        // (with its edges); a property about one process, or without
        // symmetry, on the full graph, which then serves safety too.
        let on_quotient = |p: &Property<S>| identity == Identity::Symmetric && p.symmetric;
        let quotient_liveness = liveness.iter().any(|p| on_quotient(p));
        let mut full = (identity == Identity::Exact && !liveness.is_empty())
            .then(|| self.explore(&spec, Identity::Exact, true, &watches, progress));
        let own = match (safety.as_slice(), &full) {
            _ if quotient_liveness => Some(self.explore(&spec, identity, true, &watches, progress)),
            ([], _) => None,
            (_, Some(_)) => None,
            ([one], _) if self.property.is_some() => {
                Some(self.search(&spec, identity, one, progress))
            }
            _ => Some(self.explore(&spec, identity, false, &watches, progress)),
        };
        // Liveness, symmetric properties first, on a reduced graph until
        // one shows a fair lasso (`None`): that lasso is built on the full
        // graph, which then decides the rest. A property that follows the
        // first process: on classes that permute only the others.
        // With a thread to spare, the reduced graph's unreduced count runs
        // beside the liveness checks instead of after them (it is dropped
        // if a lasso makes the full graph be explored).
        let complete = |e: &&Explored<S>| e.complete;
        let countable =
            |e: &&Explored<S>| e.complete && e.watched && identity == Identity::Symmetric;
        let (decided, counted, but_first) = std::thread::scope(|scope| {
            let counted = own
                .as_ref()
                .filter(countable)
                .filter(|_| self.threads > 1 && quotient_liveness)
                .map(|e| scope.spawn(|| unreduced_count(&e.graph, 1)));
            let mut order: Vec<usize> = (0..liveness.len()).collect();
            order.sort_by_key(|&i| !liveness[i].symmetric);
            let mut but_first = None;
            let mut decided: Vec<Option<(Verdict, Duration)>> = vec![None; liveness.len()];
            for i in order {
                if full.is_some() {
                    break;
                }
                let p = liveness[i];
                let quotient = match p.symmetric {
                    true => own.as_ref().filter(|_| on_quotient(p)),
                    false => Some(&*but_first.get_or_insert_with(|| {
                        self.explore(&spec, Identity::SymmetricButFirst, true, &watches, progress)
                    })),
                };
                decided[i] =
                    quotient.and_then(|q| self.decide_on_quotient(&spec, q, p, watch_of(p)));
                if decided[i].is_none() {
                    full = Some(self.explore(&spec, Identity::Exact, true, &watches, progress));
                }
            }
            let counted =
                counted.map(|c| c.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            (decided, counted, but_first)
        });
        let quotient_of = |p: &Property<S>| match p.symmetric {
            true => own.as_ref(),
            false => but_first.as_ref(),
        };
        let reduced = own
            .as_ref()
            .filter(complete)
            .filter(|_| identity == Identity::Symmetric);
        let counts = Counts {
            reduced: reduced.map(|e| e.graph.len()),
            unreduced: full
                .as_ref()
                .or(own.as_ref().filter(|_| identity == Identity::Exact))
                .filter(complete)
                .map(|e| e.graph.len())
                .or(counted)
                .or_else(|| {
                    own.as_ref()
                        .filter(countable)
                        .map(|e| unreduced_count(&e.graph, self.threads))
                }),
        };
        let mut results = Vec::new();
        if let Some(on) = own.as_ref().or(full.as_ref()) {
            for p in &safety {
                results.push(self.bfs(&spec, on, p, watch_of(p), counts));
            }
        }
        for (p, decided) in liveness.iter().zip(decided) {
            let result = match (decided, quotient_of(p), &full) {
                (Some((verdict, took)), Some(quotient), _) => {
                    self.fair_on_quotient(&spec, quotient, p, verdict, took, counts)
                }
                (_, _, Some(full)) => self.fair(&spec, full, p, watch_of(p), counts),
                _ => unreachable!("a liveness property is decided on one of the graphs"),
            };
            results.push(result);
        }
        // Report in the spec's own property order.
        results.sort_by_key(|r| properties.iter().position(|p| p.name == r.property));
        results
    }

    /// Every property by one bitstate search: a state found that decides a
    /// safety or reachability property decides it (its path replays);
    /// otherwise the verdict rests on the search having missed no state,
    /// and says with what probability it may have. Liveness needs the
    /// graph: inconclusive.
    fn check_bitstate<S: SharedSpec>(
        &self,
        spec: &S,
        properties: &[Property<S>],
        bitstate: Bitstate,
        progress: &mut dyn FnMut(Progress),
    ) -> Vec<CheckResult> {
        let started = Instant::now();
        let safety: Vec<&Property<S>> = properties
            .iter()
            .filter(|p| p.kind != PropertyKind::Eventually)
            .collect();
        let conditions: Vec<Condition<'_, S>> = safety
            .iter()
            .map(|&p| -> Condition<'_, S> { Box::new(move |s| decides(spec, p, s)) })
            .collect();
        let watches: Vec<Watch<'_, S>> = conditions.iter().map(|c| &**c as Watch<'_, S>).collect();
        let identity = match self.symmetry {
            true => Identity::Symmetric,
            false => Identity::Exact,
        };
        let search = bitstate_search(spec, identity, bitstate, self.limits, &watches, &mut |n| {
            progress(self.progress("bitstate", n, started, false))
        });
        progress(self.progress("bitstate", search.states, started, true));
        let millis = started.elapsed().as_millis() as u64;
        let note = BitstateNote {
            log2_bits: bitstate.log2_bits,
            hashes: bitstate.hashes,
            table_bytes: bitstate.bytes(),
            states: search.states,
            fill: search.fill,
            expected_misses: search.expected_misses,
            miss_probability: search.miss_probability,
        };
        let caveat = format!(
            "bitstate search: no such state among the {} states stored in 2^{} bits; an estimated {:.2e} states were missed (probability {:.2e} that any was), so this is not a proof",
            search.states, bitstate.log2_bits, search.expected_misses, search.miss_probability
        );
        properties
            .iter()
            .map(|p| {
                let watch = safety.iter().position(|q| q.name == p.name);
                let found = watch.and_then(|w| search.first[w].clone());
                let verdict = match (p.kind, &found) {
                    (PropertyKind::Eventually, _) => Verdict::Inconclusive,
                    (PropertyKind::Sometimes, Some(_)) => Verdict::Holds,
                    (PropertyKind::Always, Some(_)) => Verdict::Violated,
                    (_, None) if search.stopped.is_some() => Verdict::Inconclusive,
                    (PropertyKind::Always, None) => Verdict::Holds,
                    (PropertyKind::Sometimes, None) => Verdict::Violated,
                };
                let path = found.map(|actions| (actions, None));
                let mut result = self.result(
                    spec,
                    p.name,
                    p.kind,
                    verdict,
                    "bitstate",
                    search.states,
                    millis,
                    path,
                );
                result.symmetry = self.symmetry;
                result.bitstate = Some(note);
                result.caveat = match (p.kind, result.trace.is_some()) {
                    (PropertyKind::Eventually, _) => Some(
                        "liveness needs the state graph: not decided by a bitstate search".into(),
                    ),
                    (_, false) if verdict != Verdict::Inconclusive => Some(caveat.clone()),
                    _ => None,
                };
                if verdict == Verdict::Inconclusive {
                    result.stopped = search.stopped;
                }
                result
            })
            .collect()
    }

    /// A symmetric liveness property on the reduced graph: `Holds` when no
    /// fair lasso exists ([`fair_lasso_exists`]), `Inconclusive` when a
    /// limit cut the graph short, `None` when a lasso exists (it is built
    /// on the full graph); with the time the decision took.
    fn decide_on_quotient<S: Spec>(
        &self,
        spec: &S,
        quotient: &Explored<S>,
        property: &Property<S>,
        watch: usize,
    ) -> Option<(Verdict, Duration)> {
        let t = Instant::now();
        if quotient.graph.stopped.is_some() {
            return Some((Verdict::Inconclusive, t.elapsed()));
        }
        let bad: Vec<bool> = (0..quotient.graph.len())
            .map(|id| quotient.graph.marked(watch, id))
            .collect();
        let lasso = fair_lasso_exists(spec, &quotient.graph, quotient.identity, property, &bad);
        (!lasso).then(|| (Verdict::Holds, t.elapsed()))
    }

    /// The row of a liveness property decided on the reduced graph.
    fn fair_on_quotient<S: Spec>(
        &self,
        spec: &S,
        quotient: &Explored<S>,
        property: &Property<S>,
        verdict: Verdict,
        took: Duration,
        counts: Counts,
    ) -> CheckResult {
        let millis = (quotient.elapsed + took).as_millis() as u64;
        let states = quotient.graph.len();
        let mut result = self.result(
            spec,
            property.name,
            property.kind,
            verdict,
            "fair-lasso",
            states,
            millis,
            None,
        );
        result.symmetry = true;
        if verdict == Verdict::Inconclusive {
            result.stopped = quotient.graph.stopped;
        }
        counts.fill(&mut result);
        result
    }

    fn phase(&self, identity: Identity) -> &'static str {
        match identity {
            Identity::Exact => "explore",
            Identity::Symmetric => "explore-reduced",
            Identity::SymmetricButFirst => "explore-reduced-but-first",
        }
    }

    /// Every reachable state under `identity`, with the edges when `edges`
    /// (the full graph always keeps them; a reduced one keeps them when
    /// liveness is decided on it).
    fn explore<S: SharedSpec>(
        &self,
        spec: &S,
        identity: Identity,
        edges: bool,
        watches: &[Watch<'_, S>],
        progress: &mut dyn FnMut(Progress),
    ) -> Explored<S> {
        let started = Instant::now();
        let phase = self.phase(identity);
        let graph = StateGraph::explore_parallel_edges(
            spec,
            identity,
            self.limits,
            watches,
            Parallel::threads(self.threads),
            edges || identity == Identity::Exact,
            &mut |states| progress(self.progress(phase, states, started, false)),
        );
        progress(self.progress(phase, graph.len(), started, true));
        Explored {
            complete: graph.stopped.is_none(),
            graph,
            identity,
            elapsed: started.elapsed(),
            watched: true,
            found: None,
        }
    }

    /// States breadth-first until the first one that decides `property`
    /// (a violation of an `always`, an example of a `sometimes`).
    fn search<S: Spec>(
        &self,
        spec: &S,
        identity: Identity,
        property: &Property<S>,
        progress: &mut dyn FnMut(Progress),
    ) -> Explored<S> {
        let started = Instant::now();
        let (graph, found) = StateGraph::explore_until(
            spec,
            identity,
            self.limits,
            &mut |s| decides(spec, property, s),
            &mut |states| progress(self.progress("search", states, started, false)),
        );
        progress(self.progress("search", graph.len(), started, true));
        Explored {
            complete: found.is_none() && graph.stopped.is_none(),
            graph,
            identity,
            elapsed: started.elapsed(),
            watched: false,
            found,
        }
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

    /// Safety and reachability: the states are ids in BFS order, so the
    /// first state that decides the property has a shortest path, and on
    /// the reduced graph that path is a real one (its BFS tree links each
    /// state to the state it was first reached from).
    fn bfs<S: Spec>(
        &self,
        spec: &S,
        on: &Explored<S>,
        property: &Property<S>,
        watch: usize,
        counts: Counts,
    ) -> CheckResult {
        let t = Instant::now();
        let witness = match on.watched {
            true => on.graph.first_marked(watch),
            false => on.found,
        };
        // A witness decides even in a graph a limit cut short (and its path
        // is still a shortest one: every state is discovered in BFS order).
        let verdict = match (property.kind, witness.is_some()) {
            (PropertyKind::Sometimes, true) => Verdict::Holds,
            (_, false) if on.graph.stopped.is_some() => Verdict::Inconclusive,
            (PropertyKind::Always, false) => Verdict::Holds,
            _ => Verdict::Violated,
        };
        let found = witness.map(|w| (on.graph.path_to(w), None));
        let millis = (on.elapsed + t.elapsed()).as_millis() as u64;
        let mut result = self.result(
            spec,
            property.name,
            property.kind,
            verdict,
            "bfs",
            on.graph.len(),
            millis,
            found,
        );
        result.symmetry = self.symmetry;
        if verdict == Verdict::Inconclusive {
            result.stopped = on.graph.stopped;
        }
        counts.fill(&mut result);
        result
    }

    /// Liveness by the fair-lasso checker on the full graph.
    fn fair<S: Spec>(
        &self,
        spec: &S,
        full: &Explored<S>,
        property: &Property<S>,
        watch: usize,
        counts: Counts,
    ) -> CheckResult {
        let t = Instant::now();
        let bad: Vec<bool> = (0..full.graph.len())
            .map(|id| full.graph.marked(watch, id))
            .collect();
        // In a graph cut short, unexpanded states look terminal and cycles
        // may be missing: no liveness verdict either way.
        let lasso = match full.graph.stopped {
            None => find_fair_lasso_in(spec, &full.graph, property, &bad),
            Some(_) => None,
        };
        let millis = (full.elapsed + t.elapsed()).as_millis() as u64;
        let verdict = match (&lasso, full.graph.stopped) {
            (Some(_), _) => Verdict::Violated,
            (None, None) => Verdict::Holds,
            (None, Some(_)) => Verdict::Inconclusive,
        };
        let found = lasso.map(|l| (l.actions(), l.cycle_start()));
        let mut result = self.result(
            spec,
            property.name,
            property.kind,
            verdict,
            "fair-lasso",
            full.graph.len(),
            millis,
            found,
        );
        result.stopped = full.graph.stopped;
        counts.fill(&mut result);
        result
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
            assumptions: self.assumptions.clone(),
            property: property.to_string(),
            kind,
            verdict,
            expected: expected_verdict_assuming(
                self.name,
                &self.config.patches,
                &self.sizes,
                &self.assumptions,
                property,
            ),
            checker: checker.to_string(),
            states,
            symmetry: false,
            states_reduced: None,
            states_unreduced: None,
            millis,
            counterexample: None,
            counterexample_len: None,
            cycle_start: None,
            final_state: None,
            postponed: Vec::new(),
            stopped: None,
            trace: None,
            bitstate: None,
            caveat: None,
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
            if let Some(start) = cycle_start {
                let cycle = &replayed.states[start..actions.len()];
                result.postponed = postponed(spec, cycle, &actions[start..]);
            }
        }
        result.trace = Some(trace);
        result
    }
}

/// The steps enabled in every state of `cycle` and not among `taken`, as
/// timeline lines (see [`CheckResult::postponed`]).
fn postponed<S: Spec>(spec: &S, cycle: &[S::State], taken: &[S::Action]) -> Vec<String> {
    let enabled = |state: &S::State| -> Vec<S::Action> {
        spec.successors(state).into_iter().map(|(a, _)| a).collect()
    };
    let mut always: Vec<S::Action> = cycle.first().map(enabled).unwrap_or_default();
    for state in cycle.iter().skip(1) {
        let here = enabled(state);
        always.retain(|a| here.contains(a));
    }
    always
        .iter()
        .filter(|a| !taken.contains(a))
        .map(|a| spec.describe_action(a))
        .collect()
}

/// Whether `state` decides `property` on its own: it violates an `always`
/// or is an example of a `sometimes`.
fn decides<S: Spec>(spec: &S, property: &Property<S>, state: &S::State) -> bool {
    (property.condition)(spec, state) == (property.kind == PropertyKind::Sometimes)
}

/// The state counts of one run, for every row of it.
#[derive(Clone, Copy, Debug)]
struct Counts {
    reduced: Option<usize>,
    unreduced: Option<usize>,
}

impl Counts {
    fn fill(self, result: &mut CheckResult) {
        result.states_reduced = self.reduced;
        result.states_unreduced = self.unreduced;
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
        .max("preset".len());
    let labels: Vec<String> = results.iter().map(CheckResult::assumption_label).collect();
    let assumed = labels.iter().map(String::len).max().unwrap_or(0).max(11);
    // "inconclusive" is wider than the other verdicts; only then is the
    // column widened.
    let verdict_width = results
        .iter()
        .map(|r| r.verdict.to_string().len())
        .max()
        .unwrap_or(0)
        .max(9);
    let mut out = format!(
        "{:<11} {:<width$} {:<assumed$} {:<26} {:<verdict_width$} {:<9} {:>8} {:>9} {:>7} {:>5}\n",
        "spec",
        "preset",
        "assumptions",
        "property",
        "verdict",
        "expected",
        "states",
        "unreduced",
        "ms",
        "steps"
    );
    for (r, label) in results.iter().zip(&labels) {
        let steps = match (r.counterexample_len, r.cycle_start) {
            (Some(n), Some(k)) => format!("{k}+{}", n - k),
            (Some(n), None) => n.to_string(),
            (None, _) => "-".to_string(),
        };
        let unreduced = r
            .states_unreduced
            .map_or("-".to_string(), |n| n.to_string());
        let expected = r.expected.map_or("-".to_string(), |e| e.to_string());
        out += &format!(
            "{:<11} {:<width$} {:<assumed$} {:<26} {:<verdict_width$} {:<9} {:>8} {:>9} {:>7} {:>5}{}\n",
            r.spec,
            r.config,
            label,
            r.property,
            r.verdict.to_string(),
            expected,
            r.states,
            unreduced,
            r.millis,
            steps,
            match (r.matches_expectation(), &r.caveat) {
                (false, _) => "  <-- UNEXPECTED",
                (true, Some(_)) => "  (not a proof: bitstate)",
                (true, None) => "",
            }
        );
    }
    out += &render_stopped(results);
    out += &render_bitstate(results);
    let mismatches = results.iter().filter(|r| !r.matches_expectation()).count();
    let unrecorded = results.iter().filter(|r| r.expected.is_none()).count();
    out += &format!(
        "{} checks, {} unexpected, {} without a recorded expectation. Steps of a lasso are prefix+cycle.\n",
        results.len(),
        mismatches,
        unrecorded
    );
    if results.iter().any(|r| r.symmetry && r.bitstate.is_none()) {
        out += &render_symmetry(results);
    }
    let (states, millis) = throughput(results);
    out += &format!(
        "{states} states explored in {millis} ms ({:.0} states/s)\n",
        states as f64 * 1000.0 / (millis.max(1) as f64)
    );
    if let Some(cpu) = process_cpu_seconds() {
        // The whole process, every thread: what a per-state rate is fair
        // on (the line above leaves out start-up, the checks after the
        // search and, on several threads, counts wall time only).
        out += &format!(
            "CPU time {cpu:.2} s for the whole process so far, all threads ({:.0} states per CPU-second)\n",
            states as f64 / cpu.max(0.01)
        );
    }
    if let Some(peak) = peak_memory_bytes() {
        out += &format!(
            "peak memory {:.1} MB for the whole process ({} bytes per explored state)\n",
            peak as f64 / 1e6,
            peak / states.max(1) as u64
        );
    }
    out + &render_assumptions(results) + &render_configs(results)
}

/// Which graph decided what, with symmetry on.
fn render_symmetry(results: &[CheckResult]) -> String {
    // A liveness property decided on a graph other than the fully reduced
    // one follows one process (counterexamples are on the full graph).
    let mut one_process: Vec<&str> = results
        .iter()
        .filter(|r| r.kind == PropertyKind::Eventually && r.symmetry)
        .filter(|r| r.states_reduced.is_some_and(|n| n != r.states))
        .map(|r| r.property.as_str())
        .collect();
    one_process.sort();
    one_process.dedup();
    let mut line = "Safety, reachability and liveness ran on the symmetry-reduced graph (states: symmetry classes; --no-symmetry to compare); each liveness counterexample is built on the full graph".to_string();
    if !one_process.is_empty() {
        line += &format!(
            "; the properties that follow one process ({}) on classes that permute only the others",
            one_process.join(", ")
        );
    }
    line + ".\n"
}

/// The default assumptions of every spec in `results` (the `defaults` of
/// the assumptions column).
fn render_assumptions(results: &[CheckResult]) -> String {
    let mut specs: Vec<SpecName> = results.iter().filter_map(|r| r.spec.parse().ok()).collect();
    specs.sort();
    specs.dedup();
    specs
        .iter()
        .map(|spec| {
            let defaults = assume::defaults(spec.assumption_params());
            format!(
                "assumptions {spec} defaults: {}\n",
                assume::render(&defaults)
            )
        })
        .collect()
}

/// One line per (spec, configuration) searched with a bit table: its size,
/// its fill and the probability that it missed a state.
fn render_bitstate(results: &[CheckResult]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for r in results {
        let Some(b) = &r.bitstate else { continue };
        let line = format!(
            "BITSTATE {} {}: {} states in 2^{} bits ({} MB, {} hashes, {:.1}% set); an estimated {:.2e} states missed, probability {:.2e} that any was: a `holds` (or a `sometimes` never met) is not a proof, a violation found is real (it replays); liveness is not decided (it needs the graph)\n",
            r.spec,
            r.config,
            b.states,
            b.log2_bits,
            b.table_bytes / 1_000_000,
            b.hashes,
            b.fill * 100.0,
            b.expected_misses,
            b.miss_probability
        );
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines.concat()
}

/// One line per (spec, configuration) that a limit left inconclusive:
/// which limit, and how much was checked before it.
fn render_stopped(results: &[CheckResult]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for r in results
        .iter()
        .filter(|r| r.verdict == Verdict::Inconclusive)
    {
        let Some(stopped) = &r.stopped else { continue };
        let line = format!(
            "INCONCLUSIVE {} {}: {stopped} (raise the limit to decide)\n",
            r.spec, r.config
        );
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines.concat()
}

/// The process's peak resident memory, where the OS tells it (Linux:
/// `VmHWM` in /proc/self/status).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The CPU time (user and system, every thread) the process has used so
/// far, where the OS tells it (Linux: /proc/self/stat, in the kernel's
/// user-visible ticks of 1/100 s).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (the second field) may hold spaces: count the
    // fields after its closing parenthesis, from the third (the state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    let (user, system) = (ticks(14)?, ticks(15)?);
    Some((user + system) as f64 / 100.0)
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

/// Unique states and time per (spec, configuration) run, summed: each graph a run
/// explored (reduced, full) once, and its slowest property's time (which
/// includes the exploration).
fn throughput(results: &[CheckResult]) -> (usize, u64) {
    // Per run: the largest reduced and full graph a row was decided on
    // (the unreduced count may be computed, not explored), and the time.
    type Run = (BTreeSet<usize>, usize, u64);
    let mut runs: BTreeMap<(&str, &str, &Assumptions), Run> = BTreeMap::new();
    for r in results {
        let run = runs
            .entry((r.spec.as_str(), r.config.as_str(), &r.assumptions))
            .or_default();
        match r.symmetry {
            true => _ = run.0.insert(r.states),
            false => run.1 = run.1.max(r.states),
        }
        run.2 = run.2.max(r.millis);
    }
    runs.values()
        .fold((0, 0), |(s, m), (reduced, full, millis)| {
            (s + reduced.iter().sum::<usize>() + full, m + millis)
        })
}

/// Each counterexample as a numbered timeline ending in its final state,
/// with the command that shows it again ([`check_command`]).
pub fn render_timelines(results: &[CheckResult]) -> String {
    render_timelines_with(results, &|r| vec![check_command(r)])
}

/// The `chukei check` command line that finds `r`'s counterexample again.
pub fn check_command(r: &CheckResult) -> String {
    format!(
        "replay: chukei check {} --property {}",
        selection_args(r),
        r.property
    )
}

/// `--spec`, `--preset`/`--patch`, `--size` and `--assume` arguments that
/// select `r`'s check again: every switch, size and assumption that differs
/// from its default, so a printed command (replay or explore) opens the same
/// counterexample, also at non-default sizes and for variants.
pub fn selection_args(r: &CheckResult) -> String {
    let config = Config {
        base: r.preset,
        patches: r.patches,
        variant: None,
    };
    let mut args = format!("--spec {} {}", r.spec, config.cli_args());
    let spec: Option<SpecName> = r.spec.parse().ok();
    if let (Some(spec), Some(trace)) = (spec, &r.trace) {
        args += &size_args(spec, &trace.sizes);
    }
    if let Some(spec) = spec {
        args += &assume_args(spec, &r.assumptions);
    }
    args
}

/// ` --assume k=v ...` for every assumption that differs from its default.
pub fn assume_args(spec: SpecName, assumptions: &Assumptions) -> String {
    assume::non_default(spec.assumption_params(), assumptions)
        .iter()
        .map(|item| format!(" --assume {item}"))
        .collect()
}

/// ` --size k=v ...` for every size that differs from the spec's default.
pub fn size_args(spec: SpecName, sizes: &BTreeMap<String, u64>) -> String {
    let defaults = model::sizes::defaults(spec.size_params());
    let changed: Vec<String> = sizes
        .iter()
        .filter(|(k, v)| defaults.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if changed.is_empty() {
        String::new()
    } else {
        format!(" --size {}", changed.join(" "))
    }
}

/// The number of steps, `prefix+cycle` for a lasso (the cycle marker line
/// of the timeline is no step).
pub fn steps_in_words(r: &CheckResult) -> String {
    match (r.counterexample_len, r.cycle_start) {
        (Some(len), Some(k)) => format!("{k}+{} steps", len - k),
        (Some(len), None) => format!("{len} steps"),
        _ => "no steps".into(),
    }
}

/// As [`render_timelines`], with `hints(r)` (how to replay or explain a
/// counterexample) under each timeline. A timeline identical to another
/// (the same spec, property, steps and final state on several presets) is
/// printed once, headed by every preset it stands for.
pub fn render_timelines_with(
    results: &[CheckResult],
    hints: &dyn Fn(&CheckResult) -> Vec<String>,
) -> String {
    let mut groups: Vec<(&CheckResult, Vec<String>)> = Vec::new();
    let name = |r: &CheckResult| match r.assumption_label().as_str() {
        "defaults" => r.config.clone(),
        label => format!("{} assuming {label}", r.config),
    };
    for r in results.iter().filter(|r| r.counterexample.is_some()) {
        let same = |g: &CheckResult| {
            (&g.spec, &g.property, &g.counterexample, &g.final_state)
                == (&r.spec, &r.property, &r.counterexample, &r.final_state)
        };
        match groups.iter_mut().find(|(g, _)| same(g)) {
            Some((_, presets)) => presets.push(name(r)),
            None => groups.push((r, vec![name(r)])),
        }
    }
    let mut out = String::new();
    for (r, presets) in groups {
        // The lasso checker finds *a* fair cycle behind a shortest prefix,
        // not the shortest prefix+cycle overall: say so.
        let shape = if r.cycle_start.is_some() {
            "fair lasso, not guaranteed shortest"
        } else if r.bitstate.is_some() {
            "the shortest the bitstate search found"
        } else {
            "shortest path"
        };
        out += &format!(
            "\n{} {} {} violated ({}, {}, {}):\n",
            r.spec,
            presets.join(", "),
            r.property,
            r.checker,
            steps_in_words(r),
            shape
        );
        for line in r.counterexample.iter().flatten() {
            out += &format!("  {line}\n");
        }
        if let Some(state) = &r.final_state {
            out += &format!("  => {state}\n");
        }
        if !r.postponed.is_empty() {
            out += &format!(
                "  postponed forever (enabled all along the cycle, never taken): {}\n",
                r.postponed.join("; ")
            );
            if r.assumptions.get("fairness").is_some_and(|f| f == "none") {
                out += "  an environment assumption fails here, not the design: only fairness=none lets these steps wait forever (weak fairness takes them)\n";
            }
        }
        for hint in hints(r) {
            out += &format!("  {hint}\n");
        }
    }
    out
}

/// The matrix followed by the timelines (what `chukei check` prints).
pub fn render_report(results: &[CheckResult]) -> String {
    render_matrix(results) + &render_timelines(results)
}

/// As [`render_report`], with `hints` under each timeline.
pub fn render_report_with(
    results: &[CheckResult],
    hints: &dyn Fn(&CheckResult) -> Vec<String>,
) -> String {
    render_matrix(results) + &render_timelines_with(results, hints)
}
