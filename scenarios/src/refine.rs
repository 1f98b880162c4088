//! Trace refinement: a relay event log checked step by step against a spec
//! (the library behind `chukei validate`).
//!
//! Every event of the log either maps to a spec action, which must be enabled
//! in the spec's current state, or is skipped by an explicit rule below. The
//! first event whose action the spec does not allow is the **divergence**:
//! code and spec disagree there. Along the way every `always` property of the
//! spec is judged on each state the log reaches; a log that reaches a
//! violating state (a 2016-01 relay freeing an unallocated work area) agrees
//! with the spec and reports the **violation**.
//!
//! The relay records the events that change a queue, the timer table or the
//! interrupt lines under the lock of that state (see `relay::mailbox::
//! Mailbox::post_logged`), so the log's order is an order the relay really
//! went through, also on real threads.
//!
//! What each event means for each spec is that mechanism's `Refinement`
//! ([`crate::timer_free`], [`crate::irq_order`]), next to its steering.
//! Everything after `shutdown` is skipped.

use model::{PropertyKind, Spec};
use relay::events::Event;
use serde::Serialize;
use std::collections::BTreeSet;

/// Why a log could not be validated (not a divergence: bad input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// A line of the JSON-lines log is not a relay event.
    #[error("line {line}: not a relay event: {message}")]
    Parse { line: usize, message: String },
    #[error(transparent)]
    UnknownSpec(#[from] model::UnknownSpec),
    /// The spec has no mapping from relay events.
    #[error(
        "spec `{0}` cannot be validated from a relay event log (supported: timer-free, irq-order)"
    )]
    Unsupported(String),
    /// More telegrams on one worker than the spec's telegram ids can number.
    #[error(
        "worker {worker} received {telegrams} telegrams; timer-free numbers at most 255 per worker"
    )]
    TooManyTelegrams { worker: u16, telegrams: usize },
}

/// The first event the spec does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// Index of the event in the log (0-based; line `index + 1` of a JSONL file).
    pub index: usize,
    pub seq: u64,
    /// The event as a timeline line.
    pub event: String,
    /// Why the spec does not allow it.
    pub reason: String,
    /// The spec's state at that point.
    pub spec_state: String,
}

/// A spec property that fails in a state the log reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub property: String,
    pub index: usize,
    pub seq: u64,
    pub event: String,
}

/// The result of validating a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub spec: String,
    pub preset: String,
    /// Events in the log.
    pub events: usize,
    /// Events mapped to spec actions (and checked).
    pub mapped: usize,
    /// Events checked against the step they belong to.
    pub checked: usize,
    /// Events with no spec counterpart (the rules in the module docs).
    pub skipped: usize,
    /// The first event the spec does not allow; `None` when code and spec agree.
    pub divergence: Option<Divergence>,
    /// `always` properties violated by states the log reached, first time each.
    pub violations: Vec<Violation>,
}

impl Report {
    /// Code and spec agree on the whole log.
    pub fn agrees(&self) -> bool {
        self.divergence.is_none()
    }
}

/// Parses a JSON-lines event log (`EventLog::to_jsonl`). Blank lines are
/// ignored; the first bad line is an error with its 1-based number.
pub fn parse_jsonl(text: &str) -> Result<Vec<Event>, ValidateError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str::<Event>(line).map_err(|e| ValidateError::Parse {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// What one event means for a spec.
pub(crate) enum Meaning<A> {
    Act(A),
    /// Consistent with the spec state, or a divergence with its reason.
    Check(Result<(), String>),
    Skip,
    Stop,
}

/// A spec instance being walked along the log.
pub(crate) struct Walk<S: Spec> {
    pub(crate) spec: S,
    pub(crate) state: S::State,
    violated: BTreeSet<&'static str>,
}

impl<S: Spec> Walk<S> {
    pub(crate) fn new(spec: S) -> Self {
        let state = spec.init_states().remove(0);
        Walk {
            spec,
            state,
            violated: BTreeSet::new(),
        }
    }

    /// Takes `action`; a divergence reason if it is not enabled.
    fn step(
        &mut self,
        action: &S::Action,
        at: (usize, &Event),
        report: &mut Report,
    ) -> Result<(), String> {
        let Some(next) = self.spec.next_state(&self.state, action) else {
            return Err(format!(
                "the spec does not allow `{}` here",
                self.spec.describe_action(action)
            ));
        };
        self.state = next;
        report.mapped += 1;
        for property in self.spec.properties() {
            if property.kind == PropertyKind::Always
                && !(property.condition)(&self.spec, &self.state)
                && self.violated.insert(property.name)
            {
                report.violations.push(Violation {
                    property: property.name.to_string(),
                    index: at.0,
                    seq: at.1.seq,
                    event: at.1.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Accounts for one event of the log; false when the walk ends here
    /// (the log stops, or it diverged from the spec).
    pub(crate) fn take(
        &mut self,
        at: (usize, &Event),
        meaning: Meaning<S::Action>,
        report: &mut Report,
    ) -> bool {
        let result = match meaning {
            Meaning::Stop => return false,
            Meaning::Skip => {
                report.skipped += 1;
                Ok(())
            }
            Meaning::Check(result) => {
                report.checked += 1;
                result
            }
            Meaning::Act(action) => self.step(&action, at, report),
        };
        match result {
            Ok(()) => true,
            Err(reason) => {
                self.diverge(at, reason, report);
                false
            }
        }
    }

    fn diverge(&self, at: (usize, &Event), reason: String, report: &mut Report) {
        report.divergence = Some(Divergence {
            index: at.0,
            seq: at.1.seq,
            event: at.1.to_string(),
            reason,
            spec_state: self.spec.describe_state(&self.state),
        });
    }
}
