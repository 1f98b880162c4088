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
//! ([`crate::timer_free`], [`crate::irq_order`], [`crate::cs_block`]), next
//! to its steering or workload.
//!
//! A verdict says how much it checked: every event is mapped, checked or
//! skipped with a [`SkipReason`], and the report counts each. Nothing is
//! passed unseen: an empty log or one with no step of the spec is an error,
//! an event the spec should speak about but cannot (no telegram ID, a
//! telegram that never arrived) is a divergence, and events left unchecked
//! (after the AP terminated abnormally) make the verdict `incomplete`, not
//! `agree`. The `shutdown` event and everything after it are out of scope.

use model::{PropertyKind, Spec, SpecName};
use patches::Preset;
use relay::events::{Event, EventKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Why a log could not be validated (not a divergence: bad input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// A line of the JSON-lines log is not a relay event.
    #[error("line {line}: not a relay event: {message}")]
    Parse { line: usize, message: String },
    #[error(transparent)]
    UnknownSpec(#[from] model::UnknownSpec),
    /// An assumption the log is read under is not one of the spec's.
    #[error(transparent)]
    Assume(#[from] model::assume::AssumeError),
    /// More telegrams on one worker than the spec's telegram ids can number.
    #[error(
        "worker {worker} received {telegrams} telegrams; timer-free numbers at most 255 per worker"
    )]
    TooManyTelegrams { worker: u16, telegrams: usize },
    /// The log has no events: there is nothing to check.
    #[error("the log has no events: nothing to check")]
    Empty,
    /// No event of the log is a step of the spec: a log of another spec,
    /// or only the out-of-scope part of one.
    #[error("none of the {events} events is a step of {spec} ({skipped}): is this a log of another spec?")]
    NothingChecked {
        spec: String,
        events: usize,
        /// The skips, by reason.
        skipped: String,
    },
}

/// Why an event was not checked on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Part of a spec step mapped from another event of the same handler
    /// (`set-timer`, `free`, the reply of a termination, ...).
    PartOfStep,
    /// An event of another mechanism (the HSM's in a timer-free log, the
    /// AP's in an irq-order log, the CS terminals').
    OtherMechanism,
    /// The completion of a request the spec dropped at termination.
    AbandonedRequest,
    /// A telegram no AP worker ever handled (refused with connection
    /// excess, or still queued).
    NeverHandled,
    /// The `shutdown` event and everything after it.
    AfterShutdown,
    /// A worker's events after its AP terminated abnormally: the relay
    /// restarts it, the spec stops there. **Unchecked**: the verdict is
    /// `incomplete`.
    AfterAbnormalTermination,
}

impl SkipReason {
    /// A skip that leaves part of the relay's behaviour unchecked (the
    /// others are accounted for by a step or are outside the spec).
    pub fn leaves_unchecked(self) -> bool {
        self == SkipReason::AfterAbnormalTermination
    }

    pub fn name(self) -> &'static str {
        match self {
            SkipReason::PartOfStep => "part-of-step",
            SkipReason::OtherMechanism => "other-mechanism",
            SkipReason::AbandonedRequest => "abandoned-request",
            SkipReason::NeverHandled => "never-handled",
            SkipReason::AfterShutdown => "after-shutdown",
            SkipReason::AfterAbnormalTermination => "after-abnormal-termination",
        }
    }
}

/// The overall answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every event in scope was mapped, checked, or skipped as part of a
    /// step or outside the spec; the spec allows them all.
    Agree,
    /// An event the spec does not allow ([`Report::divergence`]).
    Diverge,
    /// No divergence in what was checked, but some events were left
    /// unchecked ([`SkipReason::leaves_unchecked`]).
    Incomplete,
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
    /// `skipped`, by reason.
    pub skipped_by_reason: BTreeMap<SkipReason, usize>,
    /// Distinct telegrams with at least one mapped or checked event.
    pub telegrams: usize,
    /// The answer: agree, diverge, or incomplete.
    pub verdict: Verdict,
    /// The first event the spec does not allow; `None` when code and spec agree.
    pub divergence: Option<Divergence>,
    /// `always` properties violated by states the log reached, first time each.
    pub violations: Vec<Violation>,
    #[serde(skip)]
    seen_telegrams: BTreeSet<u64>,
}

impl Report {
    /// An empty report on `events` events, before the walk.
    pub(crate) fn new(spec: SpecName, preset: Preset, events: usize) -> Self {
        Report {
            spec: spec.name().to_string(),
            preset: preset.name().to_string(),
            events,
            mapped: 0,
            checked: 0,
            skipped: 0,
            skipped_by_reason: BTreeMap::new(),
            telegrams: 0,
            verdict: Verdict::Agree,
            divergence: None,
            violations: vec![],
            seen_telegrams: BTreeSet::new(),
        }
    }

    /// Code and spec agree on the whole log: nothing diverged and nothing
    /// was left unchecked.
    pub fn agrees(&self) -> bool {
        self.verdict == Verdict::Agree
    }

    /// Events left unchecked (skips that are not part of a step or outside
    /// the spec).
    pub fn unchecked(&self) -> usize {
        self.skipped_by_reason
            .iter()
            .filter(|(reason, _)| reason.leaves_unchecked())
            .map(|(_, n)| n)
            .sum()
    }

    /// The skips as `n reason, ...` (`none` without any).
    pub fn skips_summary(&self) -> String {
        if self.skipped_by_reason.is_empty() {
            return "none skipped".to_string();
        }
        let parts: Vec<String> = self
            .skipped_by_reason
            .iter()
            .map(|(reason, n)| format!("{n} {}", reason.name()))
            .collect();
        format!("skipped {}", parts.join(", "))
    }

    pub(crate) fn skip(&mut self, reason: SkipReason, n: usize) {
        if n > 0 {
            self.skipped += n;
            *self.skipped_by_reason.entry(reason).or_default() += n;
        }
    }

    fn saw(&mut self, e: &Event) {
        if let Some(t) = e.telegram {
            self.seen_telegrams.insert(t.0);
        }
    }

    /// A divergence at an event no spec instance can take (it names no
    /// telegram, so no instance is its).
    pub(crate) fn diverge_outside(&mut self, at: (usize, &Event), reason: String) {
        self.checked += 1;
        self.divergence = Some(Divergence {
            index: at.0,
            seq: at.1.seq,
            event: at.1.to_string(),
            reason,
            spec_state: "(no spec instance: the event cannot be attributed)".to_string(),
        });
    }

    /// Settles the verdict once the walk is over; an error when nothing in
    /// the log was a step of the spec.
    pub(crate) fn finish(mut self) -> Result<Self, ValidateError> {
        self.telegrams = self.seen_telegrams.len();
        self.verdict = if self.divergence.is_some() {
            Verdict::Diverge
        } else if self.mapped + self.checked == 0 {
            return Err(ValidateError::NothingChecked {
                spec: self.spec.clone(),
                events: self.events,
                skipped: self.skips_summary(),
            });
        } else if self.unchecked() > 0 {
            Verdict::Incomplete
        } else {
            Verdict::Agree
        };
        Ok(self)
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
    Skip(SkipReason),
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
    /// (it diverged from the spec).
    pub(crate) fn take(
        &mut self,
        at: (usize, &Event),
        meaning: Meaning<S::Action>,
        report: &mut Report,
    ) -> bool {
        let result = match meaning {
            Meaning::Skip(reason) => {
                report.skip(reason, 1);
                Ok(())
            }
            Meaning::Check(result) => {
                report.checked += 1;
                report.saw(at.1);
                result
            }
            Meaning::Act(action) => {
                report.saw(at.1);
                self.step(&action, at, report)
            }
        };
        match result {
            Ok(()) => true,
            Err(reason) => {
                self.diverge(at, reason, report);
                false
            }
        }
    }

    /// Accounts for one event that stands for several spec steps, in the
    /// spec's order (a handler's parts logged around another thread's
    /// step): every step is taken, the event is counted once.
    pub(crate) fn take_steps(
        &mut self,
        at: (usize, &Event),
        meanings: Vec<Meaning<S::Action>>,
        report: &mut Report,
    ) -> bool {
        let mapped = report.mapped;
        for meaning in meanings {
            if !self.take(at, meaning, report) {
                return false;
            }
        }
        report.mapped = report.mapped.min(mapped + 1);
        true
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

/// The part of a log a spec speaks about: everything before `shutdown`.
/// The rest is counted as skipped ([`SkipReason::AfterShutdown`]).
pub(crate) fn in_scope<'a>(events: &'a [Event], report: &mut Report) -> &'a [Event] {
    let end = events
        .iter()
        .position(|e| e.kind == EventKind::Shutdown)
        .unwrap_or(events.len());
    report.skip(SkipReason::AfterShutdown, events.len() - end);
    &events[..end]
}
