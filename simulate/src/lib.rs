//! A national card-issuing day as a discrete-event simulation.
//!
//! Municipal CS terminals issue cards (telegrams before the chip write, the
//! write and verify, the registration), a round-robin distributor spreads
//! their telegrams over the relays, each relay admits up to its connection
//! limit and holds a connection through HSM decrypt, the upstream request
//! and HSM encrypt; the upstream server also takes the reserved move-in /
//! move-out updates; the CS rule (`patches::CsRule`) decides what a terminal
//! does on connection excess; the root causes strike as rates. One seed is
//! one deterministic day on one thread; seeds run in parallel (rayon).
//!
//! [`params`] says which numbers are facts, which assumed and which fitted
//! to the two published days; [`calibrate`] checks them, [`predict`] runs
//! the what-ifs on the peak day without refitting.

mod engine;
pub mod params;
pub mod plot;
pub mod report;

pub use params::{CalibrationDay, Params, Prediction, FITTED};
pub use report::{DayResult, Series, Stat, Summary};

use patches::CsRule;
use rayon::prelude::*;
use serde::Serialize;

/// One day on one seed: the same seed gives the same day.
pub fn run_day(params: Params, seed: u64) -> DayResult {
    engine::Engine::new(params, seed).run()
}

/// Seeds `first..first + count` of a day, in parallel.
pub fn run_seeds(params: Params, first: u64, count: u64) -> Vec<DayResult> {
    (first..first + count)
        .into_par_iter()
        .map(|seed| run_day(params, seed))
        .collect()
}

/// Acceptance bounds of the calibration (the issue's): requests within 10%,
/// connection-excess answers within a factor of 2.
pub const REQUESTS_TOLERANCE: f64 = 0.10;
pub const EXCESS_FACTOR: f64 = 2.0;

/// A published day against its simulation.
#[derive(Clone, Debug, Serialize)]
pub struct Calibration {
    pub day: CalibrationDay,
    pub simulated: Summary,
    /// simulated / published
    pub requests_ratio: f64,
    pub excess_ratio: f64,
    pub within_bounds: bool,
}

impl Calibration {
    pub fn new(day: CalibrationDay, simulated: Summary) -> Calibration {
        let requests_ratio = simulated.requests.mean / day.requests as f64;
        let excess_ratio = simulated.connection_excess.mean / day.connection_excess as f64;
        let within_bounds = (requests_ratio - 1.0).abs() <= REQUESTS_TOLERANCE
            && (1.0 / EXCESS_FACTOR..=EXCESS_FACTOR).contains(&excess_ratio);
        Calibration {
            day,
            simulated,
            requests_ratio,
            excess_ratio,
            within_bounds,
        }
    }
}

/// One day (a published one or a what-if) under one CS rule.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub name: &'static str,
    pub rule: CsRule,
    pub params: Params,
    pub simulated: Summary,
}

impl Outcome {
    fn run(name: &'static str, params: Params, seeds: &Seeds) -> Outcome {
        Outcome {
            name,
            rule: params.facility.patches.cs_rule,
            params,
            simulated: Summary::of(&run_seeds(params, seeds.first, seeds.count)),
        }
    }
}

/// Which seeds each day runs on (the same for every day, so that days
/// differ by their parameters only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Seeds {
    pub first: u64,
    pub count: u64,
}

/// Everything `chukei simulate` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Study {
    pub seeds: Seeds,
    pub fitted: params::Fitted,
    /// The published days as they were (legacy rule).
    pub calibration: Vec<Calibration>,
    /// The published days under the improved rule (for comparison).
    pub improved: Vec<Outcome>,
    /// The what-ifs on 29 Mar under both rules, not refitted.
    pub predictions: Vec<Outcome>,
    /// Engine events handled, over every day and seed.
    pub events: u64,
}

impl Study {
    /// Calibration first, then the predictions; `progress` hears of each
    /// finished day (name, rule).
    pub fn run(seeds: Seeds, progress: impl Fn(&str, CsRule)) -> Study {
        let mut calibration = Vec::new();
        let mut improved = Vec::new();
        for day in params::calibration_days() {
            let legacy = Outcome::run(day.name, day.params, &seeds);
            progress(day.name, legacy.rule);
            calibration.push(Calibration::new(day, legacy.simulated));
            improved.push(Outcome::run(
                day.name,
                day.params.with_rule(CsRule::Improved),
                &seeds,
            ));
            progress(day.name, CsRule::Improved);
        }
        let mut predictions = Vec::new();
        for p in params::predictions() {
            for rule in [CsRule::Legacy, CsRule::Improved] {
                predictions.push(Outcome::run(p.name, p.params.with_rule(rule), &seeds));
                progress(p.name, rule);
            }
        }
        let events = calibration
            .iter()
            .map(|c| &c.simulated)
            .chain(improved.iter().chain(&predictions).map(|o| &o.simulated))
            .map(|s| (s.events.mean * s.seeds.len() as f64).round() as u64)
            .sum();
        Study {
            seeds,
            fitted: FITTED,
            calibration,
            improved,
            predictions,
            events,
        }
    }

    /// Both published days reproduced within the bounds.
    pub fn calibrated(&self) -> bool {
        self.calibration.iter().all(|c| c.within_bounds)
    }
}
