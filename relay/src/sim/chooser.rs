//! Who makes the driver's scheduling decisions, and what a decision is.

use crate::platform::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Index of a simulated thread: 0 is the body given to
/// [`Driver::run`](super::Driver::run).
pub type Tid = u32;

/// One scheduling decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Choice {
    /// Let this thread take its next step.
    Run(Tid),
    /// Let the clock jump to the earliest pending deadline first.
    Clock,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::Run(tid) => write!(f, "{tid}"),
            Choice::Clock => f.write_str("clock"),
        }
    }
}

// In trace files a choice is a thread number or the string "clock".
impl Serialize for Choice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Choice::Run(tid) => s.serialize_u32(*tid),
            Choice::Clock => s.serialize_str("clock"),
        }
    }
}

impl<'de> Deserialize<'de> for Choice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Run(Tid),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Run(tid) => Ok(Choice::Run(tid)),
            Raw::Word(w) if w == "clock" => Ok(Choice::Clock),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "a driver choice is a thread number or \"clock\", not {w:?}"
            ))),
        }
    }
}

/// What the steps between two choice points touched: the locks and counters
/// they used (by id), or everything (`global`: a spawn, join, finish,
/// sleep or clock move, which can change what any thread may do). Two
/// segments that are independent commute: running them in either order
/// leaves the same state (a partial-order reduction's relation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub objects: Vec<u64>,
    pub global: bool,
}

impl Footprint {
    /// Adds `object` (once).
    pub fn touch(&mut self, object: u64) {
        if !self.objects.contains(&object) {
            self.objects.push(object);
        }
    }

    /// Whether the two can run in either order with the same result.
    pub fn independent(&self, other: &Footprint) -> bool {
        !self.global && !other.global && self.objects.iter().all(|o| !other.objects.contains(o))
    }
}

/// What the chooser is asked at a scheduling point with more than one option.
#[derive(Debug)]
pub struct ChoicePoint<'a> {
    /// Runnable threads (ascending), then `Choice::Clock` if a deadline is pending.
    pub options: &'a [Choice],
    pub clock: Millis,
    pub step: u64,
    /// The thread that reached this scheduling point, if it can go on
    /// running: choosing another is a preemption (bounded searches count them).
    pub current: Option<Tid>,
    /// What the run did since the previous choice point (or its start).
    pub segment: &'a Footprint,
}

/// Who makes the scheduling decisions.
pub enum Chooser {
    /// Seeded random search: uniform over runnable threads; the clock jumps
    /// with probability `clock_jump` when a deadline is pending.
    Seeded { seed: u64, clock_jump: f64 },
    /// Replay recorded choices; when they run out, the lowest runnable thread
    /// runs and the clock only moves when nothing can run.
    Replay(Vec<Choice>),
    /// The caller decides.
    Callback(Box<dyn FnMut(&ChoicePoint<'_>) -> Choice + Send>),
}

impl fmt::Debug for Chooser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chooser::Seeded { seed, clock_jump } => {
                write!(f, "Seeded {{ seed: {seed}, clock_jump: {clock_jump} }}")
            }
            Chooser::Replay(c) => write!(f, "Replay({} choices)", c.len()),
            Chooser::Callback(_) => f.write_str("Callback"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_serialize_as_numbers_and_clock() {
        let json = serde_json::to_string(&vec![Choice::Run(2), Choice::Clock]).unwrap();
        assert_eq!(json, "[2,\"clock\"]");
        let back: Vec<Choice> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![Choice::Run(2), Choice::Clock]);
        assert!(serde_json::from_str::<Vec<Choice>>("[\"tick\"]").is_err());
    }
}
