//! Executable specifications of the three dangerous mechanisms of the 2016
//! My Number relay incident, with no checker dependency.
//!
//! * [`spec`]: the `Spec` trait every specification implements.
//! * [`timer_free`], [`irq_order`], [`cs_block`]: the three specifications,
//!   parameterized by [`patches::Patches`] and by sizes ([`sizes`]).
//! * [`trace`]: the trace format shared by every tool, and replay.
//! * [`registry`]: the specs by name, for tools that choose at run time.

pub mod cs_block;
pub mod irq_order;
pub mod registry;
pub mod sizes;
pub mod spec;
pub mod timer_free;
pub mod trace;

pub use registry::{replay_trace, SpecName, UnknownSpec};
pub use spec::{Fairness, Kind, Property, Spec};
pub use trace::{Origin, Schedule, Trace, TraceError, Verdict};
