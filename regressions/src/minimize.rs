//! Counterexample minimization: delta debugging (ddmin, Zeller and
//! Hildebrandt 2002) over the steps of any schedule kind, until removing any
//! single step no longer reproduces the recorded violation (1-minimal).
//!
//! * spec actions: ddmin, then the breadth-first search's shortest path to
//!   the same violation when the property is an `always` one (a 1-minimal
//!   sequence need not be the shortest);
//! * driver choices: a choice removed shifts the later ones to other
//!   scheduling points; past the last choice the driver's default policy
//!   runs (lowest runnable thread, the clock moves only when nothing can), so
//!   a minimal schedule names only the preemptions the bug needs;
//! * driver choices, then fewer preemptions: a 1-minimal choice list can
//!   still switch threads more than the bug needs; [`crate::preempt`]
//!   replaces preemptions and clock jumps by "the current thread goes on"
//!   where the bug stays, ddmin runs again, and the schedule with less
//!   switching ([`Pressure`]) is kept;
//! * shuttle schedules: the same over task switches, the current task going
//!   on past the end.
//!
//! "Reproduces" is [`replay`]'s verdict for the trace's own (spec, property)
//! with a schedule that fits: no step names a thread that is not runnable.

use crate::preempt::{choices_of, fewer_preemptions, Pressure, Workload};
use crate::replay::{judge_on, replay, Outcome, ReplayError};
use loom_tests::explore::{encode_steps, parse_schedule, ScheduleStep};
use model::search::shortest_violation;
use model::{PropertyKind, Schedule, Spec, SpecJob, SpecName, Trace, Verdict};
use patches::Config;
use serde::Serialize;
use std::time::Instant;

/// A minimized trace and what it took.
#[derive(Debug, Clone, Serialize)]
pub struct Minimized {
    pub trace: Trace,
    /// Schedule steps before and after.
    pub before: usize,
    pub after: usize,
    /// Replays run.
    pub replays: usize,
    pub millis: u64,
    /// "ddmin", "ddmin+bfs" when the search found a shorter path,
    /// "ddmin+preemptions" when fewer preemptions gave a better schedule.
    pub method: &'static str,
    /// Driver schedules: preemptions, clock jumps and threads switched,
    /// before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_before: Option<Pressure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_after: Option<Pressure>,
}

/// Why a trace cannot be minimized.
#[derive(Debug, thiserror::Error)]
pub enum MinimizeError {
    #[error("only a violated trace can be minimized; this one records `{0}`")]
    NotAViolation(Verdict),
    #[error("the trace does not reproduce its violation on its own preset ({0})")]
    NotReproduced(String),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("the shuttle schedule does not decode: {0}")]
    BadShuttleSchedule(String),
    #[error("the trace does not replay `fixed` on {0}, the fix it was to keep")]
    NotFixedOn(String),
}

/// Minimizes `trace`: the result reproduces the same violation (spec,
/// preset, property) and no single step of it can be removed.
pub fn minimize(trace: &Trace) -> Result<Minimized, MinimizeError> {
    minimize_with(trace, Oracle::default())
}

/// Minimizes `trace` keeping both directions: every candidate must
/// reproduce the violation on the trace's own configuration **and** replay
/// `fixed` on `fix` (a configuration that fixes the bug: the schedule fits
/// it to its end and the property holds), so the stored schedule shows
/// the bug and its fix. The trace must be fixed there to begin with.
pub fn minimize_keeping_fixed(trace: &Trace, fix: &Config) -> Result<Minimized, MinimizeError> {
    let fixed_on = |t: &Trace| judge_on(t, Some(fix)).outcome == Outcome::Fixed;
    if !fixed_on(trace) {
        return Err(MinimizeError::NotFixedOn(fix.name()));
    }
    let oracle = Oracle {
        replays: 0,
        fixed_on: Some(fix.clone()),
    };
    let minimized = minimize_with(trace, oracle)?;
    // ddmin cuts a candidate to the steps its own run used: check the cut.
    if !fixed_on(&minimized.trace) {
        return Err(MinimizeError::NotFixedOn(fix.name()));
    }
    Ok(minimized)
}

fn minimize_with(trace: &Trace, mut oracle: Oracle) -> Result<Minimized, MinimizeError> {
    if trace.verdict != Verdict::Violated {
        return Err(MinimizeError::NotAViolation(trace.verdict));
    }
    let started = Instant::now();
    let before = steps_of(trace)?;
    if oracle.reproduces(trace).is_none() {
        let why = match replay(trace) {
            Ok(r) => format!("replayed {}", r.verdict),
            Err(e) => e.to_string(),
        };
        return Err(MinimizeError::NotReproduced(why));
    }
    let (mut minimal, mut method) = match &trace.schedule {
        Schedule::Actions { .. } => (minimize_actions(trace, &mut oracle), "ddmin"),
        Schedule::Driver { choices } => {
            let rebuild = |kept: &[serde_json::Value]| with_schedule(trace, driver(kept));
            let minimal = shrink(choices.clone(), &mut oracle, rebuild);
            less_switching(trace, minimal, &mut oracle)?
        }
        Schedule::Shuttle { schedule } => {
            let decoded = parse_schedule(schedule).map_err(MinimizeError::BadShuttleSchedule)?;
            let seed = decoded.seed;
            let rebuild = |kept: &[ScheduleStep]| with_schedule(trace, shuttle(seed, kept));
            (shrink(decoded.steps, &mut oracle, rebuild), "ddmin")
        }
        // Loom's path is a tree walk's position (each branch point records
        // the threads still to explore), not a list of steps to drop: it is
        // kept as loom wrote it.
        Schedule::Loom { .. } => (trace.clone(), "as found (loom path)"),
    };
    if let Some(shortest) = bfs_shortest(trace) {
        if steps_of(&shortest)? < steps_of(&minimal)? && oracle.keeps(&shortest) {
            minimal = shortest;
            method = "ddmin+bfs";
        }
    }
    minimal.timeline = timeline_of(&minimal)?;
    let after = steps_of(&minimal)?;
    minimal.origin.note = Some(noted(trace.origin.note.as_deref(), before, after, method));
    let pressure_before = crate::preempt::pressure(trace);
    let pressure_after = crate::preempt::pressure(&minimal);
    Ok(Minimized {
        trace: minimal,
        before,
        after,
        replays: oracle.replays,
        millis: started.elapsed().as_millis() as u64,
        method,
        pressure_before,
        pressure_after,
    })
}

/// The origin's note with the minimization in it: a trace minimized again
/// keeps its first length ("minimized from 401 to 18 steps"), not two notes.
fn noted(note: Option<&str>, before: usize, after: usize, method: &str) -> String {
    const MARK: &str = "minimized from ";
    let Some(note) = note else {
        return format!("{MARK}{before} to {after} steps ({method})");
    };
    let Some(at) = note.find(MARK) else {
        return format!("{note}; {MARK}{before} to {after} steps ({method})");
    };
    let first: String = note[at + MARK.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let first = first.parse().unwrap_or(before);
    // The old note's own length and method end at its closing parenthesis.
    let rest = note[at..].find(')').map_or("", |end| &note[at + end + 1..]);
    format!(
        "{}{MARK}{first} to {after} steps ({method}){rest}",
        &note[..at]
    )
}

/// A 1-minimal driver schedule with less switching, if there is one: its
/// preemptions replaced where the bug stays, then ddmin again (so the
/// result is 1-minimal too); kept when its [`Pressure`] (then its length)
/// is smaller.
fn less_switching(
    trace: &Trace,
    minimal: Trace,
    oracle: &mut Oracle,
) -> Result<(Trace, &'static str), MinimizeError> {
    let Schedule::Driver { choices } = &minimal.schedule else {
        unreachable!("a driver trace")
    };
    let Some(workload) = Workload::of(trace) else {
        return Ok((minimal, "ddmin"));
    };
    let first = choices_of(choices)?;
    let Some(fewer) = fewer_preemptions(&workload, &first) else {
        return Ok((minimal, "ddmin"));
    };
    let limit = workload.pressure(&fewer);
    let fewer: Vec<serde_json::Value> = fewer.iter().map(|c| serde_json::json!(c)).collect();
    let rebuild = |kept: &[serde_json::Value]| with_schedule(trace, driver(kept));
    // ddmin again, keeping only cuts that do not bring preemptions back.
    let mut test = |candidate: &[serde_json::Value]| {
        let used = oracle.reproduces(&rebuild(candidate))?;
        let kept = choices_of(&candidate[..used.min(candidate.len())]).ok()?;
        (workload.pressure(&kept) <= limit).then_some(used)
    };
    let second = rebuild(&ddmin_to_fixpoint(fewer, &mut test));
    let cost = |t: &Trace| -> Result<(Pressure, usize), MinimizeError> {
        let Schedule::Driver { choices } = &t.schedule else {
            unreachable!("a driver trace")
        };
        Ok((workload.pressure(&choices_of(choices)?), choices.len()))
    };
    Ok(
        if cost(&second)? < cost(&minimal)? && oracle.keeps(&second) {
            (second, "ddmin+preemptions")
        } else {
            (minimal, "ddmin")
        },
    )
}

/// Steps in a trace's schedule.
pub fn steps_of(trace: &Trace) -> Result<usize, MinimizeError> {
    Ok(match &trace.schedule {
        Schedule::Actions { actions, .. } => actions.len(),
        Schedule::Driver { choices } => choices.len(),
        Schedule::Shuttle { schedule } => parse_schedule(schedule)
            .map_err(MinimizeError::BadShuttleSchedule)?
            .steps
            .len(),
        Schedule::Loom { path } => loom_tests::explore::loom_path_steps(path)
            .map_err(|e| MinimizeError::Replay(ReplayError::BadLoomPath(e)))?,
    })
}

/// Whether a candidate reproduces, counting replays.
#[derive(Default)]
struct Oracle {
    replays: usize,
    /// A fix each candidate must also replay `fixed` on
    /// ([`minimize_keeping_fixed`]).
    fixed_on: Option<Config>,
}

impl Oracle {
    /// `Some(steps the run used)` when `trace` shows its violation with a
    /// schedule that fits (and is fixed on the fix to keep).
    fn reproduces(&mut self, trace: &Trace) -> Option<usize> {
        self.replays += 1;
        let replayed = replay(trace).ok()?;
        let fits = replayed.fit.diverged.is_none();
        let shown = fits && replayed.verdict == Verdict::Violated;
        (shown && self.fixed_where_kept(trace)).then_some(replayed.fit.used)
    }

    fn fixed_where_kept(&mut self, trace: &Trace) -> bool {
        let Some(fix) = &self.fixed_on else {
            return true;
        };
        self.replays += 1;
        judge_on(trace, Some(fix)).outcome == Outcome::Fixed
    }

    /// Whether a schedule built outside ddmin (the BFS-shortest path, the
    /// one with fewer preemptions) may replace the minimal one: with a fix
    /// to keep, only if it passes the same test.
    fn keeps(&mut self, trace: &Trace) -> bool {
        self.fixed_on.is_none() || self.reproduces(trace).is_some()
    }
}

/// ddmin over `items`, then single-step removal until none can go; a
/// candidate that reproduces is cut to the steps its run used.
fn shrink<T: Clone>(items: Vec<T>, oracle: &mut Oracle, rebuild: impl Fn(&[T]) -> Trace) -> Trace {
    let mut test = |candidate: &[T]| oracle.reproduces(&rebuild(candidate));
    let kept = ddmin_to_fixpoint(items, &mut test);
    rebuild(&kept)
}

/// [`ddmin`] again on its own result until it shrinks no more: a removal
/// shifts the later steps to other scheduling points, so a 1-minimal
/// schedule can have a shorter 1-minimal one inside (a stored 22-step
/// shuttle schedule went to 18). Minimizing a minimized trace then gives
/// it back unchanged.
pub fn ddmin_to_fixpoint<T: Clone>(
    mut items: Vec<T>,
    test: &mut impl FnMut(&[T]) -> Option<usize>,
) -> Vec<T> {
    loop {
        let before = items.len();
        items = ddmin(items, test);
        if items.len() >= before {
            return items;
        }
    }
}

/// Zeller's ddmin: split into `n` chunks; keep a chunk or a complement that
/// still reproduces; refine until chunks are single steps. The result is
/// 1-minimal: every single-step removal was tried at the finest split.
pub fn ddmin<T: Clone>(mut items: Vec<T>, test: &mut impl FnMut(&[T]) -> Option<usize>) -> Vec<T> {
    let mut n = 2usize;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(n);
        let mut reduced = false;
        for start in (0..items.len()).step_by(chunk) {
            let end = (start + chunk).min(items.len());
            let complement: Vec<T> = items[..start]
                .iter()
                .chain(&items[end..])
                .cloned()
                .collect();
            let subset = items[start..end].to_vec();
            // Subsets first (a big jump) only while chunks are big.
            if n > 2 {
                if let Some(used) = test(&subset) {
                    items = subset[..used.min(subset.len())].to_vec();
                    n = 2;
                    reduced = true;
                    break;
                }
            }
            if let Some(used) = test(&complement) {
                items = complement[..used.min(complement.len())].to_vec();
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (2 * n).min(items.len());
        }
    }
    if items.len() == 1 && test(&[]).is_some() {
        items.clear();
    }
    items
}

fn minimize_actions(trace: &Trace, oracle: &mut Oracle) -> Trace {
    let Schedule::Actions {
        actions,
        cycle_start,
    } = &trace.schedule
    else {
        unreachable!("called on actions")
    };
    // Steps carry their index so a lasso's cycle start follows removals.
    let indexed: Vec<(usize, serde_json::Value)> = actions.iter().cloned().enumerate().collect();
    let rebuild = |kept: &[(usize, serde_json::Value)]| {
        let cycle_start = cycle_start.map(|k| kept.iter().filter(|(i, _)| *i < k).count());
        let cycle_start = cycle_start.filter(|k| *k < kept.len());
        with_schedule(
            trace,
            Schedule::Actions {
                actions: kept.iter().map(|(_, a)| a.clone()).collect(),
                cycle_start,
            },
        )
    };
    // A lasso without its cycle is no lasso: the oracle rejects it.
    shrink(indexed, oracle, rebuild)
}

fn with_schedule(trace: &Trace, schedule: Schedule) -> Trace {
    Trace {
        schedule,
        ..trace.clone()
    }
}

fn driver(kept: &[serde_json::Value]) -> Schedule {
    Schedule::Driver {
        choices: kept.to_vec(),
    }
}

fn shuttle(seed: u64, kept: &[ScheduleStep]) -> Schedule {
    Schedule::Shuttle {
        schedule: encode_steps(seed, kept),
    }
}

/// The timeline a trace's replay shows (relay events, or spec actions).
fn timeline_of(trace: &Trace) -> Result<Vec<String>, MinimizeError> {
    match &trace.schedule {
        Schedule::Actions { .. } => Ok(spec_side(trace, false)?.timeline),
        _ => Ok(replay(trace)?.timeline),
    }
}

/// The breadth-first shortest violation of an `always` property, as a trace.
fn bfs_shortest(trace: &Trace) -> Option<Trace> {
    match trace.schedule {
        Schedule::Actions { .. } => spec_side(trace, true).ok()?.shortest,
        _ => None,
    }
}

struct SpecSide {
    timeline: Vec<String>,
    shortest: Option<Trace>,
}

fn spec_side(trace: &Trace, search: bool) -> Result<SpecSide, MinimizeError> {
    let name: SpecName = trace
        .spec
        .parse()
        .map_err(|e| MinimizeError::Replay(ReplayError::UnknownSpec(e)))?;
    name.build(
        trace.config().patches,
        &trace.sizes,
        SpecSideJob { trace, search },
    )
    .map_err(|e| MinimizeError::Replay(ReplayError::Model(e.into())))
}

struct SpecSideJob<'a> {
    trace: &'a Trace,
    search: bool,
}

impl SpecJob for SpecSideJob<'_> {
    type Output = SpecSide;
    fn run<S: Spec>(self, spec: S) -> SpecSide {
        let trace = self.trace;
        let Schedule::Actions {
            actions,
            cycle_start,
        } = &trace.schedule
        else {
            unreachable!("spec side of an actions trace")
        };
        let typed: Vec<S::Action> = actions
            .iter()
            .filter_map(|a| serde_json::from_value(a.clone()).ok())
            .collect();
        let timeline = model::replay::render_actions(&spec, &typed, *cycle_start);
        let always = spec
            .property(&trace.property)
            .is_some_and(|p| p.kind == PropertyKind::Always);
        let shortest = (self.search && always)
            .then(|| shortest_violation(&spec, &trace.property, usize::MAX))
            .flatten()
            .map(|path| {
                Trace::from_actions(
                    &spec,
                    &trace.config(),
                    trace.sizes.clone(),
                    &trace.property,
                    Verdict::Violated,
                    &path,
                    None,
                    trace.origin.clone(),
                )
            });
        SpecSide { timeline, shortest }
    }
}

#[cfg(test)]
mod tests {
    use super::noted;

    #[test]
    fn a_trace_minimized_again_keeps_its_first_length_in_one_note() {
        assert_eq!(
            noted(None, 40, 9, "ddmin"),
            "minimized from 40 to 9 steps (ddmin)"
        );
        assert_eq!(
            noted(Some("seed 3"), 40, 9, "ddmin"),
            "seed 3; minimized from 40 to 9 steps (ddmin)"
        );
        assert_eq!(
            noted(
                Some("seed 3; minimized from 401 to 22 steps (ddmin); kept"),
                22,
                18,
                "ddmin"
            ),
            "seed 3; minimized from 401 to 18 steps (ddmin); kept"
        );
    }
}
