//! `chukei review`: a change to the relay's configuration, judged by every
//! checker the suite has. Both configurations (the base and the change) are
//! checked exhaustively (every spec and property at default sizes, the
//! library of `chukei check`) and searched on the real relay (every root
//! cause, the seeded search of `chukei reproduce`); each verdict of the base
//! is then paired with the change's and the pair says what the change does to
//! it: it **fixes** a violation, **breaks** what held, or leaves the verdict as
//! it was. Every violation carries its shortest counterexample (a BFS path; a
//! fair lasso; a minimized relay schedule) and the command that replays it.
//!
//! The CLI (`src/review.rs`) prints this as text, JSON or an HTML page; the
//! pairing and classifying live here so that tools and tests use the same.

use model::assume::Assumptions;
use model::{PropertyKind, SpecName, Trace, Verdict};
use patches::{Config, Patches, Preset, Variant};
use scenarios::search::{search, Cause, Finding};
use serde::Serialize;
use stateright_models::{run_checks, CheckResult, CheckSelection, SelectionError};

/// Which assumption settings are checked, and how hard the relay is
/// searched (as `chukei reproduce --seed --budget`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `NAME=VALUE` narrowing the assumption settings checked (as `chukei
    /// check --assume`); empty: every setting of every assumption.
    pub assume: Vec<String>,
    pub seed: u64,
    /// Schedules per cause and configuration.
    pub budget: u64,
    /// Minimize each reproducing relay schedule (`chukei minimize`).
    pub minimize: bool,
}

impl Default for Options {
    /// `chukei reproduce`'s defaults, minimized as `--trace-out` does.
    fn default() -> Self {
        Options {
            assume: vec![],
            seed: 0,
            budget: 300,
            minimize: true,
        }
    }
}

/// What a change does to one verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flip {
    /// Violated on the base, holds on the change.
    Fixes,
    /// Held on the base, violated on the change.
    Breaks,
    /// Violated on both.
    StillViolated,
    /// Holds on both.
    StillHolds,
    /// Inconclusive on either side (a check stopped at a limit).
    Undecided,
}

impl Flip {
    pub const ALL: [Flip; 5] = [
        Flip::Fixes,
        Flip::Breaks,
        Flip::StillViolated,
        Flip::StillHolds,
        Flip::Undecided,
    ];

    fn of(base: Verdict, change: Verdict) -> Flip {
        match (base, change) {
            (Verdict::Violated, Verdict::Holds) => Flip::Fixes,
            (Verdict::Holds, Verdict::Violated) => Flip::Breaks,
            (Verdict::Violated, Verdict::Violated) => Flip::StillViolated,
            (Verdict::Holds, Verdict::Holds) => Flip::StillHolds,
            // Review's checks run without limits (`CheckSelection`'s
            // default), so this is not met today; should it be, the row
            // says so rather than guessing.
            (Verdict::Inconclusive, _) | (_, Verdict::Inconclusive) => Flip::Undecided,
        }
    }

    /// The name in text, JSON and the HTML page.
    pub fn name(self) -> &'static str {
        match self {
            Flip::Fixes => "fixes",
            Flip::Breaks => "breaks",
            Flip::StillViolated => "still-violated",
            Flip::StillHolds => "still-holds",
            Flip::Undecided => "undecided",
        }
    }

    /// A heading for the rows of this kind.
    pub fn heading(self) -> &'static str {
        match self {
            Flip::Fixes => "the change FIXES",
            Flip::Breaks => "the change BREAKS",
            Flip::StillViolated => "the change leaves VIOLATED",
            Flip::StillHolds => "the change leaves HOLDING",
            Flip::Undecided => "UNDECIDED on a side",
        }
    }
}

/// Which checker gave a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checker {
    /// `chukei check`: the spec, exhaustively (BFS, fair lasso).
    Check,
    /// `chukei reproduce`: the real relay on the deterministic driver, a
    /// seeded search (a cause not reproduced is not a proof).
    Reproduce,
}

impl Checker {
    pub fn name(self) -> &'static str {
        match self {
            Checker::Check => "check",
            Checker::Reproduce => "reproduce",
        }
    }
}

/// A configuration as the review names it.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    /// `2016-04`, `2016-01+hsm_guard=error-on-interrupted`, a variant's name.
    pub name: String,
    pub preset: Preset,
    pub patches: Patches,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// The `--preset`/`--patch` arguments that give this switch set.
    pub cli_args: String,
}

impl Side {
    fn of(config: &Config) -> Side {
        Side {
            name: config.name(),
            preset: config.base,
            patches: config.patches,
            variant: config.variant.clone(),
            cli_args: config.cli_args(),
        }
    }
}

/// A switch whose value the change sets differently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SwitchChange {
    pub switch: &'static str,
    pub base: &'static str,
    pub change: &'static str,
}

/// A violation as a reviewer replays it.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// Steps of the schedule: spec actions, or the relay driver's choices.
    pub steps: usize,
    /// For a liveness lasso: the step where the repeating cycle starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle_start: Option<usize>,
    /// How short it is: "shortest path" (BFS), "fair lasso, not guaranteed
    /// shortest", or "1-minimal relay schedule" (ddmin).
    pub shortest: &'static str,
    /// The steps in words (spec) or the relay's events (reproduce).
    pub lines: Vec<String>,
    /// The state it ends in (or loops back to), for a spec counterexample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_state: Option<String>,
    /// The command that finds or runs it again.
    pub replay: String,
    /// The trace file, once written (`chukei review --out`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_file: Option<String>,
    pub trace: Trace,
}

/// One verdict on the base and on the change.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub checker: Checker,
    pub spec: String,
    pub property: String,
    /// The environment assumptions a spec verdict is reached under,
    /// complete (every setting of every assumption is reviewed) ...
    #[serde(skip_serializing_if = "Assumptions::is_empty")]
    pub assumptions: Assumptions,
    /// ... and those off their defaults (`arrivals=several`), or `defaults`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed: Option<String>,
    /// always | sometimes | eventually (spec properties only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<PropertyKind>,
    /// The root cause searched for (reproduce only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    pub flip: Flip,
    pub base: Verdict,
    pub change: Verdict,
    /// The counterexample on each side where it is violated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_counterexample: Option<Counterexample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_counterexample: Option<Counterexample>,
}

impl Row {
    /// `check timer-free no_spurious_termination`, or `reproduce
    /// stale-timeout (timer-free no_spurious_termination)`.
    pub fn title(&self) -> String {
        let title = self.title_without_assumptions();
        match self.assumed.as_deref() {
            None | Some("defaults") => title,
            Some(assumed) => format!("{title} [{assumed}]"),
        }
    }

    /// `check timer-free no_spurious_termination`, whatever the assumptions.
    pub fn title_without_assumptions(&self) -> String {
        match &self.cause {
            Some(cause) => format!(
                "{} {cause} ({} {})",
                self.checker.name(),
                self.spec,
                self.property
            ),
            None => format!("{} {} {}", self.checker.name(), self.spec, self.property),
        }
    }

    /// A verdict in words: a spec's `holds`/`violated`; for the relay search
    /// `reproduced`/`not reproduced` (a search that finds nothing proves
    /// nothing).
    pub fn verdict_word(&self, verdict: Verdict) -> &'static str {
        match (self.checker, verdict) {
            (Checker::Check, Verdict::Holds) => "holds",
            (Checker::Check, Verdict::Violated) => "violated",
            (Checker::Reproduce, Verdict::Holds) => "not reproduced",
            (Checker::Reproduce, Verdict::Violated) => "reproduced",
            (_, Verdict::Inconclusive) => "inconclusive",
        }
    }

    /// The counterexample that shows what the flip is about: the base's for
    /// a fix (the bug that goes away), the change's otherwise.
    pub fn counterexample(&self) -> Option<&Counterexample> {
        match self.flip {
            Flip::Fixes => self.base_counterexample.as_ref(),
            _ => self.change_counterexample.as_ref(),
        }
    }

    /// Both counterexamples, mutably (to record where they were written).
    pub fn counterexamples_mut(
        &mut self,
    ) -> impl Iterator<Item = (&'static str, &mut Counterexample)> {
        [
            ("base", self.base_counterexample.as_mut()),
            ("change", self.change_counterexample.as_mut()),
        ]
        .into_iter()
        .filter_map(|(side, c)| c.map(|c| (side, c)))
    }
}

/// How many verdicts of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub fixes: usize,
    pub breaks: usize,
    pub still_violated: usize,
    pub still_holds: usize,
    pub undecided: usize,
}

/// The whole review.
#[derive(Clone, Debug, Serialize)]
pub struct Review {
    pub base: Side,
    pub change: Side,
    /// The switches the change sets differently (empty: same switch set).
    pub switches: Vec<SwitchChange>,
    pub summary: Summary,
    /// The `--assume` narrowing of the assumption settings (empty: every
    /// setting was checked).
    pub assume: Vec<String>,
    /// Relay search settings, so the reproduce verdicts can be repeated.
    pub seed: u64,
    pub budget: u64,
    pub millis: u64,
    pub rows: Vec<Row>,
}

impl Review {
    /// The rows of one kind, in check-then-reproduce, spec, property order.
    pub fn rows_of(&self, flip: Flip) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.flip == flip)
    }

    /// Whether the change breaks nothing (the CLI's exit code 0).
    pub fn breaks_nothing(&self) -> bool {
        self.summary.breaks == 0
    }
}

/// What happens while a review runs, for a progress line.
#[derive(Clone, Debug)]
pub enum Progress {
    /// A spec's state graph explored on one side (once per assumption
    /// setting and graph kind).
    Explored {
        side: &'static str,
        spec: &'static str,
        states: usize,
    },
    /// A cause searched for on one side.
    Searched {
        side: &'static str,
        cause: Cause,
        reproduced: bool,
    },
}

/// Reviews `change` against `base`: every spec checked and every cause
/// searched on both, paired verdict by verdict.
pub fn review(
    base: &Config,
    change: &Config,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Review, SelectionError> {
    let started = std::time::Instant::now();
    let base_verdicts = verdicts("base", base, options, progress)?;
    let change_verdicts = verdicts("change", change, options, progress)?;
    let mut rows = pair(base_verdicts, change_verdicts);
    if options.minimize {
        rows.iter_mut().for_each(minimize_shown);
    }
    let mut summary = Summary::default();
    for row in &rows {
        *match row.flip {
            Flip::Fixes => &mut summary.fixes,
            Flip::Breaks => &mut summary.breaks,
            Flip::StillViolated => &mut summary.still_violated,
            Flip::StillHolds => &mut summary.still_holds,
            Flip::Undecided => &mut summary.undecided,
        } += 1;
    }
    Ok(Review {
        base: Side::of(base),
        change: Side::of(change),
        switches: change
            .patches
            .diff(&base.patches)
            .into_iter()
            .map(|(switch, value)| SwitchChange {
                switch,
                base: base.patches.get(switch).expect("a listed switch"),
                change: value,
            })
            .collect(),
        summary,
        assume: options.assume.clone(),
        seed: options.seed,
        budget: options.budget,
        millis: started.elapsed().as_millis() as u64,
        rows,
    })
}

/// One verdict of one side, before pairing.
struct Judged {
    checker: Checker,
    spec: String,
    property: String,
    /// The environment assumptions of a spec verdict (empty: relay).
    assumptions: Assumptions,
    assumed: Option<String>,
    kind: Option<PropertyKind>,
    cause: Option<Cause>,
    verdict: Verdict,
    counterexample: Option<Counterexample>,
}

impl Judged {
    fn key(&self) -> (Checker, &str, &str, &Assumptions) {
        (self.checker, &self.spec, &self.property, &self.assumptions)
    }
}

/// Every verdict of one configuration: the specs, then the relay.
fn verdicts(
    side: &'static str,
    config: &Config,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Judged>, SelectionError> {
    // Every setting of every spec's environment assumptions (a change may
    // fix a verdict under one arrival pattern and not another), narrowed
    // by `options.assume`.
    let assume: Vec<String> = std::iter::once("all".to_string())
        .chain(options.assume.iter().cloned())
        .collect();
    let selection = CheckSelection::new(SpecName::ALL.to_vec(), vec![config.clone()], &[])?
        .with_assumptions(&assume)?;
    let results = run_checks(&selection, &mut |p| {
        if p.done {
            progress(Progress::Explored {
                side,
                spec: p.spec,
                states: p.states,
            })
        }
    });
    let mut judged: Vec<Judged> = results.iter().map(|r| from_check(r, config)).collect();
    for cause in Cause::ALL {
        let finding = search(cause, config.clone(), options.seed, options.budget);
        progress(Progress::Searched {
            side,
            cause,
            reproduced: finding.reproduced,
        });
        judged.push(from_finding(&finding));
    }
    Ok(judged)
}

fn from_check(r: &CheckResult, config: &Config) -> Judged {
    let counterexample = match (&r.trace, r.verdict) {
        (Some(trace), Verdict::Violated) => Some(Counterexample {
            steps: r.counterexample_len.unwrap_or(0),
            cycle_start: r.cycle_start,
            shortest: if r.cycle_start.is_some() {
                "fair lasso, not guaranteed shortest"
            } else {
                "shortest path"
            },
            lines: r.counterexample.clone().unwrap_or_default(),
            final_state: r.final_state.clone(),
            replay: format!(
                "chukei check --spec {} {}{} --property {}",
                r.spec,
                config.cli_args(),
                assume_args(r),
                r.property
            ),
            trace_file: None,
            trace: trace.clone(),
        }),
        _ => None,
    };
    Judged {
        checker: Checker::Check,
        spec: r.spec.clone(),
        property: r.property.clone(),
        assumptions: r.assumptions.clone(),
        assumed: Some(r.assumption_label()),
        kind: Some(r.kind),
        cause: None,
        verdict: r.verdict,
        counterexample,
    }
}

/// `--assume NAME=VALUE` for each assumption of `r` off its default.
fn assume_args(r: &CheckResult) -> String {
    let params = r
        .spec
        .parse::<SpecName>()
        .map_or(&[][..], |s| s.assumption_params());
    model::assume::non_default(params, &r.assumptions)
        .iter()
        .map(|a| format!(" --assume {a}"))
        .collect()
}

fn from_finding(f: &Finding) -> Judged {
    let verdict = if f.reproduced {
        Verdict::Violated
    } else {
        Verdict::Holds
    };
    let counterexample = f.reproduced.then(|| {
        let trace = f.to_trace();
        let replay = match f.seed {
            Some(seed) => format!(
                "chukei reproduce --cause {} {} --seed {seed} --budget 1",
                f.cause,
                f.config().cli_args()
            ),
            None => format!(
                "chukei reproduce --cause {} {}",
                f.cause,
                f.config().cli_args()
            ),
        };
        Counterexample {
            steps: regressions::minimize::steps_of(&trace).unwrap_or(0),
            cycle_start: None,
            shortest: AS_FOUND,
            lines: trace.timeline.clone(),
            final_state: None,
            replay,
            trace_file: None,
            trace,
        }
    });
    Judged {
        checker: Checker::Reproduce,
        spec: f.cause.spec().name().to_string(),
        property: f.cause.property().to_string(),
        assumptions: Assumptions::new(),
        assumed: None,
        kind: None,
        cause: Some(f.cause),
        verdict,
        counterexample,
    }
}

/// How a relay schedule is described before and after minimization.
const AS_FOUND: &str = "relay schedule as found, not minimized";
const MINIMIZED: &str = "1-minimal relay schedule";

/// Minimizes the relay schedule a row shows ([`Row::counterexample`]); the
/// other side's stays as found (minimizing costs seconds per schedule on
/// some configurations, and nobody reads it).
fn minimize_shown(row: &mut Row) {
    let shown = match row.flip {
        Flip::Fixes => row.base_counterexample.as_mut(),
        _ => row.change_counterexample.as_mut(),
    };
    let Some(c) = shown.filter(|c| c.shortest == AS_FOUND) else {
        return;
    };
    if let Ok(m) = regressions::minimize(&c.trace) {
        c.steps = m.after;
        c.lines = m.trace.timeline.clone();
        c.trace = m.trace;
        c.shortest = MINIMIZED;
    }
}

/// Pairs each base verdict with the change's of the same (checker, spec,
/// property); both sides check the same specs, so every verdict has a twin.
fn pair(base: Vec<Judged>, change: Vec<Judged>) -> Vec<Row> {
    let mut change: Vec<Option<Judged>> = change.into_iter().map(Some).collect();
    base.into_iter()
        .filter_map(|b| {
            let twin = change
                .iter_mut()
                .find(|c| c.as_ref().is_some_and(|c| c.key() == b.key()))?
                .take()?;
            Some(Row {
                checker: b.checker,
                flip: Flip::of(b.verdict, twin.verdict),
                base: b.verdict,
                change: twin.verdict,
                kind: b.kind,
                cause: b.cause.map(|c| c.name().to_string()),
                base_counterexample: b.counterexample,
                change_counterexample: twin.counterexample,
                spec: b.spec,
                property: b.property,
                assumptions: b.assumptions,
                assumed: b.assumed,
            })
        })
        .collect()
}

/// The review as text for a terminal: the switches, the verdicts grouped by
/// what the change does to them, then each counterexample with its replay
/// command.
pub fn render_text(review: &Review) -> String {
    let mut out = format!("review: {} -> {}\n", review.base.name, review.change.name);
    for side in [&review.base, &review.change] {
        if let Some(v) = &side.variant {
            out += &format!("  {}: {} ({})\n", v.name, v.description, side.cli_args);
        }
    }
    if review.switches.is_empty() {
        out += "switches: the same switch set\n";
    }
    for s in &review.switches {
        out += &format!("switch {}: {} -> {}\n", s.switch, s.base, s.change);
    }
    // One line per (checker, spec, property) and flip, with the
    // assumption settings it holds for: 8 settings of timer-free would
    // otherwise be 8 lines saying the same.
    let width = review
        .rows
        .iter()
        .map(|r| r.title_without_assumptions().len())
        .max()
        .unwrap_or(0);
    for flip in Flip::ALL {
        let groups = groups(review, flip);
        if groups.is_empty() && flip == Flip::Undecided {
            continue;
        }
        let verdicts: usize = groups.iter().map(Vec::len).sum();
        out += &format!("\n{} ({verdicts}):\n", flip.heading());
        if groups.is_empty() {
            out += "  (none)\n";
        }
        for group in &groups {
            let row = group[0];
            let shortest = group
                .iter()
                .filter_map(|r| r.counterexample())
                .min_by_key(|c| c.steps)
                .map_or(String::new(), |c| format!("shortest {}", steps_of(c)));
            let line = format!(
                "  {:<width$} {:>14} -> {:<14} {:<19} {}",
                row.title_without_assumptions(),
                row.verdict_word(row.base),
                row.verdict_word(row.change),
                shortest,
                settings_in_words(review, group),
            );
            out += line.trim_end();
            out += "\n";
        }
    }
    for flip in [Flip::Fixes, Flip::Breaks, Flip::StillViolated] {
        for group in groups(review, flip) {
            out += &render_counterexample(review, group[0]);
            for row in &group[1..] {
                if let Some(c) = row.counterexample() {
                    out += &format!(
                        "  also under {}: {}; replay: {}\n",
                        row.assumed.as_deref().unwrap_or("-"),
                        steps_of(c),
                        c.trace_file
                            .as_ref()
                            .map_or(c.replay.clone(), |f| format!("chukei replay {f}"))
                    );
                }
            }
        }
    }
    let s = review.summary;
    out += &format!(
        "\n{} -> {}: fixes {}, breaks {}, leaves {} violated and {} holding ({} ms; assumptions: {}; relay searched with seed {}, budget {})\n",
        review.base.name,
        review.change.name,
        s.fixes,
        s.breaks,
        s.still_violated,
        s.still_holds,
        review.millis,
        assumptions_in_words(review),
        review.seed,
        review.budget
    );
    out
}

/// The rows of `flip`, grouped by (checker, spec, property) in order.
fn groups(review: &Review, flip: Flip) -> Vec<Vec<&Row>> {
    let mut groups: Vec<Vec<&Row>> = Vec::new();
    for row in review.rows_of(flip) {
        let same = |g: &Vec<&Row>| {
            (g[0].checker, &g[0].spec, &g[0].property) == (row.checker, &row.spec, &row.property)
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(group) => group.push(row),
            None => groups.push(vec![row]),
        }
    }
    groups
}

/// Under which assumption settings a group's flip is: all of them, or the
/// list (a relay verdict has none).
fn settings_in_words(review: &Review, group: &[&Row]) -> String {
    let row = group[0];
    if row.assumed.is_none() {
        return String::new();
    }
    let all = review
        .rows
        .iter()
        .filter(|r| (r.checker, &r.spec, &r.property) == (row.checker, &row.spec, &row.property))
        .count();
    if group.len() == all {
        return match all {
            1 => String::new(),
            n => format!("under all {n} assumption settings"),
        };
    }
    let labels: Vec<&str> = group.iter().filter_map(|r| r.assumed.as_deref()).collect();
    format!("under {} of {all}: {}", group.len(), labels.join("; "))
}

/// Which assumption settings were checked.
pub fn assumptions_in_words(review: &Review) -> String {
    if review.assume.is_empty() {
        "every setting".to_string()
    } else {
        format!("every setting with {}", review.assume.join(", "))
    }
}

fn steps_of(c: &Counterexample) -> String {
    match c.cycle_start {
        Some(k) => format!("{k}+{} steps", c.steps - k),
        None => format!("{} steps", c.steps),
    }
}

fn render_counterexample(review: &Review, row: &Row) -> String {
    let Some(c) = row.counterexample() else {
        return String::new();
    };
    let on = match row.flip {
        Flip::Fixes => &review.base.name,
        _ => &review.change.name,
    };
    let mut out = format!(
        "\n[{}] {} {} on {on} ({}, {}):\n",
        row.flip.name(),
        row.title(),
        row.verdict_word(Verdict::Violated),
        steps_of(c),
        c.shortest
    );
    for line in &c.lines {
        out += &format!("  {line}\n");
    }
    if let Some(state) = &c.final_state {
        out += &format!("  => {state}\n");
    }
    match &c.trace_file {
        Some(file) => {
            out += &format!("  replay: chukei replay {file}\n");
            out += &format!("  explain: chukei explain {file}\n");
        }
        None => out += &format!("  replay: {}\n", c.replay),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flip_is_what_the_change_does_to_the_base_verdict() {
        use Verdict::{Holds, Violated};
        assert_eq!(Flip::of(Violated, Holds), Flip::Fixes);
        assert_eq!(Flip::of(Holds, Violated), Flip::Breaks);
        assert_eq!(Flip::of(Violated, Violated), Flip::StillViolated);
        assert_eq!(Flip::of(Holds, Holds), Flip::StillHolds);
        assert_eq!(Flip::of(Verdict::Inconclusive, Holds), Flip::Undecided);
        assert_eq!(Flip::of(Violated, Verdict::Inconclusive), Flip::Undecided);
    }
}
