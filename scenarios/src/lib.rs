//! One home per mechanism, shared by every checker.
//!
//! The relay (`relay`) and the specs (`model`) know nothing of each other;
//! this crate joins them, one file per mechanism:
//!
//! * [`timer_free`], [`irq_order`], [`cs_block`]: each holds that mechanism's
//!   workload settings, the relay-side checks **named after the spec's
//!   properties**, the verdicts we expect per preset, and both directions of
//!   the relay<->spec map side by side: relay events -> spec actions
//!   (refinement, `chukei validate`) and spec actions -> relay steps
//!   (steering, the proptest lockstep).
//!
//! The machinery the mechanisms share:
//! * [`workload`]: the relay plus CS terminals on any `Platform` (std, the
//!   deterministic driver, loom, shuttle), and what a run leaves to check.
//! * [`search`]: the seeded schedule search of `chukei reproduce` on the
//!   deterministic driver; a cause is a (spec, property) pair.
//! * [`exhaustive`]: every driver schedule up to a bound on preemptions
//!   (`chukei reproduce --exhaustive`).
//! * [`refine`]: walking a relay event log through a spec.
//! * [`lockstep`], [`steer`]: the relay on the driver, steered one spec
//!   action at a time.
//! * [`expect`]: the verdict recorded for every (spec, preset, property).
//! * [`registry`]: what is picked by name at run time (the relay check of a
//!   property, the scenario of a trace, the spec to validate a log against),
//!   above the mechanism files so that they never depend on each other.
//!
//! Dependencies point one way: `relay`, `model` <- `scenarios` <- checkers
//! (`stateright-models`, `loom-tests`, `properties`, `regressions`) <- CLI.

pub mod cs_block;
pub mod exhaustive;
pub mod expect;
pub mod irq_order;
pub mod lockstep;
pub mod refine;
pub mod registry;
pub mod search;
pub mod steer;
pub mod timer_free;
pub mod workload;

pub use expect::expected_verdict;
pub use registry::RelayCheck;
pub use workload::{RunRecord, Scenario};
