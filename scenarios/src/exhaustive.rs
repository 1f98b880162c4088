//! `chukei reproduce --exhaustive`: every schedule of the real relay on the
//! deterministic driver up to a bound on preemptions, instead of a few
//! hundred random ones.
//!
//! The baseline is the non-preemptive schedule: at every scheduling point
//! the thread that reached it goes on running, and when it blocks the
//! lowest runnable thread runs (the driver's replay default); the clock only
//! jumps when nothing can run. A **preemption** is any other choice at a
//! scheduling point: switching away from a thread that could go on, picking
//! another thread than the lowest when one blocks, or letting the clock jump
//! to a timer's deadline while threads could run (a thread preempted long
//! enough for its timer to expire). A schedule is the set of points where it
//! preempts, so every schedule with at most K preemptions is run exactly
//! once, level by level: all schedules with 0 preemptions, then 1, ... K.
//! A bug found at level k therefore needs k preemptions and no fewer.
//!
//! The runs are stateless (each schedule re-runs the relay from the start,
//! replaying its prefix of choices): the relay's state lives in its threads,
//! so there is nothing to store and compare.

use crate::search::{run_schedule_logged, search_seeded, Cause, Conformance, Finding, CARDS};
use patches::{Config, Patches};
use relay::events::EventLog;
use relay::sim::{Choice, ChoicePoint, Chooser, Footprint, RunOutcome, Tid};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Preemptions per schedule `chukei reproduce --exhaustive` allows by default.
pub const DEFAULT_PREEMPTIONS: u32 = 2;

/// Schedules per cause and preset `chukei reproduce --exhaustive` runs at most.
pub const DEFAULT_MAX_SCHEDULES: u64 = 200_000;

/// The bound of the exhaustive part of a default `chukei reproduce` row:
/// every schedule with one preemption is a few hundred schedules, well
/// under a second for all rows together.
pub const DEFAULT_ROW_PREEMPTIONS: u32 = 1;

/// How far a bounded-exhaustive search goes and what it checks.
#[derive(Clone, Debug)]
pub struct Bound {
    /// The most preemptions a schedule may have.
    pub preemptions: u32,
    /// The most schedules to run.
    pub max_schedules: u64,
    /// Also check every schedule's event log against the cause's spec as
    /// [`Conformance`] reads it (`--conformance`: on the searched
    /// configuration).
    pub conformance: Option<Conformance>,
    /// Skip schedules that only reorder independent steps of one already
    /// run (sleep sets; `--no-sleep-sets` to compare).
    pub sleep_sets: bool,
    /// Cards the CS sends in every schedule.
    pub cards: u64,
}

impl Bound {
    pub fn new(preemptions: u32, max_schedules: u64) -> Self {
        Bound {
            preemptions,
            max_schedules,
            conformance: None,
            sleep_sets: true,
            cards: CARDS,
        }
    }
}

/// How far a search went without finding the cause, or at which bound it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Coverage {
    /// A schedule with `preemptions` preemptions reproduces the cause; every
    /// schedule with fewer does not.
    Found { preemptions: u32 },
    /// Every schedule with at most `preemptions` preemptions ran; none
    /// reproduces the cause.
    Clean { preemptions: u32 },
    /// With `--conformance`: a schedule with `preemptions` preemptions left
    /// the spec (every schedule with fewer did not).
    Diverged { preemptions: u32 },
    /// The schedule budget ran out: every schedule with at most
    /// `complete_to` preemptions ran (`None`: not even those with 0), some
    /// with more did too.
    BudgetSpent { complete_to: Option<u32> },
}

/// The result of one exhaustive search: the finding (as for the seeded
/// search, without a seed) and how far it covered.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exhaustive {
    #[serde(flatten)]
    pub finding: Finding,
    #[serde(flatten)]
    pub coverage: Coverage,
    /// The preemption bound asked for.
    pub bound: u32,
    /// Schedules run with exactly 0, 1, ... preemptions.
    pub schedules_per_level: Vec<u64>,
}

impl Exhaustive {
    /// Whether a cause that should reproduce needs more preemptions than the
    /// bound allowed (or more schedules than the budget): not a contradiction
    /// of the expectation, a search too small to decide it.
    pub fn inconclusive(&self) -> bool {
        !self.finding.reproduced
            && self.finding.divergence.is_none()
            && self.finding.expected() == Some(true)
    }

    /// The result matches the expectation, or the search was too small to
    /// tell ([`Exhaustive::inconclusive`]).
    pub fn as_expected(&self) -> bool {
        self.finding.divergence.is_none()
            && (self
                .finding
                .expected()
                .is_none_or(|want| want == self.finding.reproduced)
                || self.inconclusive())
    }

    /// One line for reports: "found at K=1", "clean up to K=2", ...
    pub fn summary(&self) -> String {
        self.covered().summary()
    }

    /// The bound and what was covered within it.
    pub fn covered(&self) -> Covered {
        Covered {
            coverage: self.coverage,
            bound: self.bound,
            schedules: self.finding.schedules_tried,
            schedules_per_level: self.schedules_per_level.clone(),
        }
    }
}

/// What a bounded-exhaustive search covered: the JSON of a default
/// `reproduce` row's exhaustive part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Covered {
    #[serde(flatten)]
    pub coverage: Coverage,
    /// The preemption bound asked for.
    pub bound: u32,
    /// Schedules run.
    pub schedules: u64,
    /// Schedules run with exactly 0, 1, ... preemptions.
    pub schedules_per_level: Vec<u64>,
}

impl Covered {
    /// One line for reports: "found at K=1", "clean up to K=2", ...
    pub fn summary(&self) -> String {
        let n = self.schedules;
        match self.coverage {
            Coverage::Found { preemptions } => {
                format!("found with {preemptions} preemption(s), after {n} schedules")
            }
            Coverage::Clean { preemptions } => {
                format!("clean over all {n} schedules up to {preemptions} preemption(s)")
            }
            Coverage::Diverged { preemptions } => {
                format!("left the spec with {preemptions} preemption(s), after {n} schedules")
            }
            Coverage::BudgetSpent { complete_to: None } => {
                format!("budget of {n} schedules spent before 0 preemptions were covered")
            }
            Coverage::BudgetSpent {
                complete_to: Some(k),
            } => format!(
                "budget of {n} schedules spent: clean up to {k} preemption(s), {} partly",
                k + 1
            ),
        }
    }
}

/// What the chooser saw at one scheduling point of a run.
#[derive(Clone, Debug)]
struct Point {
    options: Vec<Choice>,
    /// The non-preemptive choice.
    baseline: Choice,
    /// What the run did from this point to the next one (everything, for
    /// the last point: not observed).
    segment: Footprint,
}

/// Stands for the relay's event log in a [`Footprint`]: two segments that
/// both record events are dependent, so the reduction never changes the
/// order of events a check or `--conformance` reads.
const EVENT_LOG: u64 = u64::MAX;

/// The chooser's side of one run: the prefix to replay, then the baseline.
struct Recorder {
    prefix: Vec<Choice>,
    points: Vec<Point>,
    log: EventLog,
    /// Events in the log at the previous choice point.
    logged: usize,
}

impl Recorder {
    fn choose(&mut self, at: &ChoicePoint<'_>) -> Choice {
        let logged = self.log.len();
        if let Some(last) = self.points.last_mut() {
            last.segment = at.segment.clone();
            if logged > self.logged {
                last.segment.touch(EVENT_LOG);
            }
        }
        self.logged = logged;
        let baseline = at
            .current
            .map(Choice::Run)
            .filter(|c| at.options.contains(c))
            .unwrap_or(at.options[0]);
        let choice = self
            .prefix
            .get(self.points.len())
            .copied()
            .unwrap_or(baseline);
        self.points.push(Point {
            options: at.options.to_vec(),
            baseline,
            segment: Footprint {
                objects: vec![],
                global: true,
            },
        });
        choice
    }
}

/// A schedule to run: the choices that define it (its last one is its last
/// preemption) and the threads asleep at that last choice, each with what
/// its next step does: a schedule that ran one of them before anything
/// dependent on it would only reorder independent steps of one already run.
#[derive(Clone, Debug, Default)]
struct Pending {
    choices: Vec<Choice>,
    asleep: Vec<(Tid, Footprint)>,
}

/// Searches every schedule of `cause` on `preset` with at most `bound`
/// preemptions (at most `max_schedules` of them), fewest preemptions first,
/// until one reproduces. `progress` gets (schedules run, current level).
pub fn search_exhaustive(
    cause: Cause,
    config: impl Into<Config>,
    bound: u32,
    max_schedules: u64,
    progress: impl FnMut(u64, u32),
) -> Exhaustive {
    search_bounded(cause, config, &Bound::new(bound, max_schedules), progress)
}

/// As [`search_exhaustive`], with conformance when `limits` asks for it: a
/// schedule whose log the spec does not allow ends the search like one
/// that reproduces.
pub fn search_bounded(
    cause: Cause,
    config: impl Into<Config>,
    limits: &Bound,
    mut progress: impl FnMut(u64, u32),
) -> Exhaustive {
    let (bound, max_schedules) = (limits.preemptions, limits.max_schedules);
    let config: Config = config.into();
    let patches = config.patches;
    let started = Instant::now();
    let mut result = Exhaustive {
        finding: Finding {
            cards: limits.cards,
            ..Finding::not_yet(cause, config)
        },
        coverage: Coverage::BudgetSpent { complete_to: None },
        bound,
        schedules_per_level: vec![],
    };
    // The schedules of the current level.
    let mut level: Vec<Pending> = vec![Pending::default()];
    // Whether the budget left some schedules of the current level out.
    let mut truncated = false;
    for k in 0..=bound {
        result.schedules_per_level.push(0);
        let mut next = Vec::new();
        let mut next_truncated = false;
        for pending in level {
            if result.finding.schedules_tried >= max_schedules {
                result.finding.millis = started.elapsed().as_millis() as u64;
                return result;
            }
            let prefix = &pending.choices;
            let (run, points) = run_prefix(cause, patches, limits.cards, prefix.clone());
            result.finding.schedules_tried += 1;
            result.schedules_per_level[k as usize] += 1;
            progress(result.finding.schedules_tried, k);
            if let RunOutcome::Panicked { .. }
            | RunOutcome::StepLimit { .. }
            | RunOutcome::ReplayDiverged { .. } = &run.report.outcome
            {
                result
                    .finding
                    .anomalies
                    .push(format!("{prefix:?}: {:?}", run.report.outcome));
            }
            let choices = run.report.choices.clone();
            let which = || format!("{prefix:?}");
            if result
                .finding
                .record(cause, run, limits.conformance.as_ref(), which)
            {
                result.coverage = if result.finding.reproduced {
                    Coverage::Found { preemptions: k }
                } else {
                    Coverage::Diverged { preemptions: k }
                };
                result.finding.millis = started.elapsed().as_millis() as u64;
                return result;
            }
            if k < bound {
                let room = max_schedules.saturating_sub(result.finding.schedules_tried);
                let asleep = if limits.sleep_sets {
                    pending.asleep
                } else {
                    vec![]
                };
                let run = Explored {
                    prefix,
                    asleep,
                    choices: &choices,
                    points: &points,
                    sleep_sets: limits.sleep_sets,
                };
                next_truncated |= !run.extend(&mut next, room);
            }
        }
        if truncated {
            break;
        }
        truncated = next_truncated;
        result.coverage = if k == bound {
            Coverage::Clean { preemptions: k }
        } else {
            Coverage::BudgetSpent {
                complete_to: Some(k),
            }
        };
        level = next;
    }
    result.finding.millis = started.elapsed().as_millis() as u64;
    result
}

/// A default `chukei reproduce` row: seeded random schedules first (they
/// find the causes of 2016 within a few), then, when none reproduced, every
/// schedule up to `limits.preemptions` preemptions, so a row that does not
/// reproduce says what it covered exhaustively.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// Both phases: a seed when random search found it, choices only when
    /// the exhaustive part did; `schedules_tried` counts both.
    #[serde(flatten)]
    pub finding: Finding,
    /// Seeded schedules run.
    pub random_schedules: u64,
    /// The exhaustive part, absent when random search already decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exhaustive: Option<Covered>,
}

impl Row {
    /// One line for reports: what the row covered.
    pub fn summary(&self) -> String {
        let random = self.random_schedules;
        let f = &self.finding;
        match &self.exhaustive {
            None if f.divergence.is_some() => {
                format!("left the spec in random schedule {random}")
            }
            None => format!("found in random schedule {random}"),
            Some(x) if f.reproduced || f.divergence.is_some() => {
                format!("nothing in {random} random schedules; {}", x.summary())
            }
            Some(x) => format!("nothing in {random} random schedules, {}", x.summary()),
        }
    }

    /// The result matches the expectation (see [`Exhaustive::as_expected`]).
    pub fn as_expected(&self) -> bool {
        self.finding.divergence.is_none()
            && self
                .finding
                .expected()
                .is_none_or(|want| want == self.finding.reproduced)
    }
}

/// Searches one default `chukei reproduce` row: `budget` seeded schedules
/// from `seed`, then the bounded-exhaustive search. `progress` gets the
/// schedules run so far.
pub fn search_row(
    cause: Cause,
    config: impl Into<Config>,
    seed: u64,
    budget: u64,
    limits: &Bound,
    mut progress: impl FnMut(u64),
) -> Row {
    let config: Config = config.into();
    let conformance = limits.conformance.as_ref();
    let random = search_seeded(
        cause,
        config.clone(),
        seed,
        budget,
        conformance,
        &mut progress,
    );
    let random_schedules = random.schedules_tried;
    if random.reproduced || random.divergence.is_some() {
        return Row {
            finding: random,
            random_schedules,
            exhaustive: None,
        };
    }
    let exhaustive = search_bounded(cause, config, limits, |n, _| progress(random_schedules + n));
    let mut finding = exhaustive.finding.clone();
    finding.schedules_tried += random_schedules;
    finding.millis += random.millis;
    finding.anomalies = [random.anomalies, finding.anomalies].concat();
    Row {
        finding,
        random_schedules,
        exhaustive: Some(exhaustive.covered()),
    }
}

/// Runs the schedule that replays `prefix` and then follows the baseline;
/// returns the run and every scheduling point it passed.
fn run_prefix(
    cause: Cause,
    patches: Patches,
    cards: u64,
    prefix: Vec<Choice>,
) -> (crate::search::ScheduleRun, Vec<Point>) {
    let log = EventLog::new();
    let recorder = Arc::new(Mutex::new(Recorder {
        prefix,
        points: vec![],
        log: log.clone(),
        logged: 0,
    }));
    let chooser_side = recorder.clone();
    let chooser = Chooser::Callback(Box::new(move |at| {
        chooser_side
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .choose(at)
    }));
    let run = run_schedule_logged(cause, patches, cards, chooser, log);
    let points = std::mem::take(&mut recorder.lock().unwrap_or_else(|e| e.into_inner()).points);
    (run, points)
}

/// One run of the search, to extend by one preemption.
struct Explored<'a> {
    prefix: &'a [Choice],
    /// The threads asleep at the prefix's last choice.
    asleep: Vec<(Tid, Footprint)>,
    choices: &'a [Choice],
    points: &'a [Point],
    sleep_sets: bool,
}

impl Explored<'_> {
    /// The schedules one preemption deeper: one more preemption at any point
    /// after the prefix's last one (so each set of preemption points is made
    /// once), while `next` holds fewer than `room`; false when some were
    /// left out. With sleep sets, a thread whose step this run (or an
    /// ancestor) already ran at a point stays asleep until a dependent
    /// segment runs: preempting to it, or going on past a point where the
    /// baseline picks it, would only reorder independent steps.
    fn extend(self, next: &mut Vec<Pending>, room: u64) -> bool {
        let mut asleep = self.asleep;
        if let Some(last) = self.prefix.len().checked_sub(1) {
            wake_dependent(&mut asleep, &self.points[last].segment);
        }
        for (j, point) in self.points.iter().enumerate().skip(self.prefix.len()) {
            let chosen = self.choices[j];
            for &alt in point.options.iter().filter(|&&o| o != point.baseline) {
                if is_asleep(&asleep, alt) {
                    continue;
                }
                if next.len() as u64 >= room {
                    return false;
                }
                let mut child_asleep = asleep.clone();
                if let (true, Choice::Run(t)) = (self.sleep_sets, chosen) {
                    child_asleep.push((t, point.segment.clone()));
                }
                let mut choices = self.choices[..j].to_vec();
                choices.push(alt);
                next.push(Pending {
                    choices,
                    asleep: child_asleep,
                });
            }
            if is_asleep(&asleep, chosen) {
                // Whatever follows was run from the point it went to sleep.
                break;
            }
            wake_dependent(&mut asleep, &point.segment);
        }
        true
    }
}

fn is_asleep(asleep: &[(Tid, Footprint)], choice: Choice) -> bool {
    matches!(choice, Choice::Run(t) if asleep.iter().any(|(s, _)| *s == t))
}

/// Wakes the sleeping threads whose next step depends on `segment`.
fn wake_dependent(asleep: &mut Vec<(Tid, Footprint)>, segment: &Footprint) {
    asleep.retain(|(_, step)| step.independent(segment));
}
