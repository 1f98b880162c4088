//! Fewer preemptions, clock jumps and threads in a driver schedule.
//!
//! ddmin makes a driver schedule 1-minimal over its choices, but a choice
//! list that cannot lose a single choice can still switch threads more
//! often than the bug needs: each choice that runs another thread while the
//! current one could go on is a preemption, each `clock` while a thread
//! could run is a clock jump, and every thread a switch names is one more
//! lane a reader follows. [`fewer_preemptions`] replaces such choices, one
//! at a time from the last, by "let the current thread go on", keeps a
//! replacement that still reproduces with a smaller [`Pressure`], and
//! repeats until none does.

use crate::replay::{driver_cards, ReplayError};
use model::{SpecName, Trace};
use relay::sim::{Choice, ChoicePoint, Chooser, Tid};
use scenarios::search::{run_schedule, Cause};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// How much switching a driver schedule asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pressure {
    /// Choices that run another thread (or the clock) while the thread that
    /// reached the scheduling point could go on.
    pub preemptions: usize,
    /// `clock` choices taken while a thread could run.
    pub clock_jumps: usize,
    /// Threads a preemption switches from or to.
    pub threads: usize,
}

/// One scheduling point of a replay: who could go on, what was chosen.
#[derive(Debug, Clone, Copy)]
struct Point {
    current: Option<Tid>,
    choice: Choice,
}

impl Point {
    fn preempts(&self) -> bool {
        self.current.is_some_and(|c| self.choice != Choice::Run(c))
    }
}

/// A driver trace's workload: the cause it stands for and the cards sent.
pub(crate) struct Workload<'a> {
    trace: &'a Trace,
    cause: Cause,
    cards: u64,
}

impl<'a> Workload<'a> {
    /// `None` for a trace the driver cannot run (its replay says why).
    pub(crate) fn of(trace: &'a Trace) -> Option<Workload<'a>> {
        let spec: SpecName = trace.spec.parse().ok()?;
        let cause = Cause::of(spec, &trace.property)?;
        let cards = driver_cards(&trace.sizes).ok()?;
        Some(Workload {
            trace,
            cause,
            cards,
        })
    }

    /// The scheduling points the schedule's own choices decide (past its
    /// end the driver's default policy runs, which is no choice of the
    /// schedule).
    fn points(&self, choices: &[Choice]) -> Vec<Point> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let replay = choices.to_vec();
        let chooser = Chooser::Callback(Box::new(move |p: &ChoicePoint<'_>| {
            let mut seen = record.lock().unwrap_or_else(|e| e.into_inner());
            let choice = replay.get(seen.len()).copied().unwrap_or(p.options[0]);
            seen.push(Point {
                current: p.current,
                choice,
            });
            choice
        }));
        run_schedule(self.cause, self.trace.config().patches, self.cards, chooser);
        let mut points = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
        points.truncate(choices.len());
        points
    }

    /// The schedule's preemptions, clock jumps and threads switched.
    pub(crate) fn pressure(&self, choices: &[Choice]) -> Pressure {
        pressure_of(&self.points(choices))
    }
}

fn pressure_of(points: &[Point]) -> Pressure {
    let preempting: Vec<&Point> = points.iter().filter(|p| p.preempts()).collect();
    let threads: BTreeSet<Tid> = preempting
        .iter()
        .flat_map(|p| {
            let to = match p.choice {
                Choice::Run(t) => Some(t),
                Choice::Clock => None,
            };
            p.current.into_iter().chain(to)
        })
        .collect();
    Pressure {
        preemptions: preempting.len(),
        clock_jumps: preempting
            .iter()
            .filter(|p| p.choice == Choice::Clock)
            .count(),
        threads: threads.len(),
    }
}

/// Parses a driver trace's choices.
pub(crate) fn choices_of(values: &[serde_json::Value]) -> Result<Vec<Choice>, ReplayError> {
    values
        .iter()
        .enumerate()
        .map(|(index, c)| {
            serde_json::from_value::<Choice>(c.clone()).map_err(|_| ReplayError::BadChoice {
                index,
                value: c.to_string(),
            })
        })
        .collect()
}

/// A schedule as the driver's non-preemptive policy (the current thread
/// goes on; when it cannot, the lowest runnable one) plus the points where
/// it departs from that policy, by scheduling-point number.
type Departures = std::collections::BTreeMap<usize, Choice>;

/// What the non-preemptive policy takes at a point.
fn go_on(p: &ChoicePoint<'_>) -> Choice {
    p.current.map_or(p.options[0], Choice::Run)
}

impl Workload<'_> {
    /// Runs the policy with these departures (one that the code does not
    /// offer there is skipped): whether the bug showed, and every choice
    /// the run took.
    fn run_departing(&self, departures: &Departures) -> (bool, Vec<Choice>) {
        let taken = Arc::new(Mutex::new(Vec::new()));
        let record = taken.clone();
        let departures = departures.clone();
        let chooser = Chooser::Callback(Box::new(move |p: &ChoicePoint<'_>| {
            let mut taken = record.lock().unwrap_or_else(|e| e.into_inner());
            let choice = departures
                .get(&taken.len())
                .copied()
                .filter(|c| p.options.contains(c))
                .unwrap_or_else(|| go_on(p));
            taken.push(choice);
            choice
        }));
        let run = run_schedule(self.cause, self.trace.config().patches, self.cards, chooser);
        let taken = std::mem::take(&mut *taken.lock().unwrap_or_else(|e| e.into_inner()));
        (run.reproduced, taken)
    }

    /// The departures from the non-preemptive policy of a replayed choice
    /// list (past its end, the replay's own default included).
    fn departures(&self, choices: &[Choice]) -> Departures {
        let seen = Arc::new(Mutex::new(Departures::new()));
        let at = Arc::new(Mutex::new(0usize));
        let (record, count) = (seen.clone(), at.clone());
        let replay = choices.to_vec();
        let chooser = Chooser::Callback(Box::new(move |p: &ChoicePoint<'_>| {
            let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
            let choice = replay.get(*n).copied().unwrap_or(p.options[0]);
            if choice != go_on(p) {
                record
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(*n, choice);
            }
            *n += 1;
            choice
        }));
        run_schedule(self.cause, self.trace.config().patches, self.cards, chooser);
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *seen)
    }
}

/// `choices` with as few departures from the non-preemptive policy as the
/// bug needs: each departure, from the last back, is dropped when the bug
/// still shows and the [`Pressure`] of the run's choices drops; repeated
/// until none can go. Returns the choices of the run (every scheduling
/// point, for ddmin to cut), or `None` when nothing could go.
pub(crate) fn fewer_preemptions(
    workload: &Workload<'_>,
    choices: &[Choice],
) -> Option<Vec<Choice>> {
    let mut departures = workload.departures(choices);
    // The whole run's choices: the replay's own default past the schedule's
    // end preempts too.
    let (_, whole) = workload.run_departing(&departures);
    let mut pressure = workload.pressure(&whole);
    let mut best = None;
    'improve: loop {
        for at in departures.keys().rev().copied().collect::<Vec<_>>() {
            let mut fewer = departures.clone();
            fewer.remove(&at);
            let (reproduced, taken) = workload.run_departing(&fewer);
            if !reproduced {
                continue;
            }
            let less = workload.pressure(&taken);
            if less < pressure {
                departures = workload.departures(&taken);
                pressure = less;
                best = Some(taken);
                continue 'improve;
            }
        }
        return best;
    }
}

/// A driver trace's [`Pressure`]; `None` for other kinds, or a trace the
/// driver cannot run.
pub fn pressure(trace: &Trace) -> Option<Pressure> {
    let model::Schedule::Driver { choices } = &trace.schedule else {
        return None;
    };
    Some(Workload::of(trace)?.pressure(&choices_of(choices).ok()?))
}
