//! Executable specifications of the three dangerous mechanisms of the 2016
//! My Number relay incident, with no checker dependency.
//!
//! * [`spec`]: the `Spec` trait every specification implements.
//! * [`timer_free`], [`irq_order`], [`cs_block`]: the three specifications,
//!   parameterized by [`patches::Patches`] and by sizes ([`sizes`]).
//! * [`trace`]: the trace format shared by every tool.
//! * [`replay`]: a trace re-checked against its spec, without any checker.
//! * [`search`]: the breadth-first search of a spec's reachable states:
//!   the state graph, shortest paths, `always` verdicts.
//! * [`registry`]: the specs by name, for tools that choose at run time.

pub mod assume;
pub mod bitstate;
pub mod cs_block;
pub mod irq_order;
pub mod registry;
pub mod replay;
pub mod search;
pub mod sizes;
pub mod spec;
pub mod timer_free;
pub mod trace;

pub use assume::{AssumeError, Assumption, Assumptions};
pub use registry::{BuildError, SharedSpec, SpecJob, SpecName, UnknownSpec};
pub use replay::replay_trace;
pub use spec::{Fairness, Property, PropertyKind, Spec};
pub use trace::{Origin, Schedule, Trace, TraceError, Verdict};
