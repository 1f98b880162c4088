//! loom and shuttle explore the **real relay code**.
//!
//! The relay's types are generic over `relay::platform::Platform`; this crate
//! supplies two more platforms, [`Loom`] and [`Shuttle`], so the same relay
//! code that runs on OS threads runs under loom's exhaustive (preemption
//! bounded) exploration and under shuttle's seeded PCT and random
//! schedulers, in one `cargo test`, with no cfg flags.
//!
//! What runs (relay threads, CS terminals) and what is checked (properties
//! named as in the model) is shared with every checker: `scenarios`.
//! * [`explore`]: `model(|| ..)`-style helpers per explorer, helpers that
//!   assert a bug *is* found, and the deep bounds (`CHUKEI_DEEP=1`).
//! * [`traces`]: a shuttle failure as a regression trace; `regressions`
//!   stores and replays it.
//! * [`loom_fit`]: whether a replayed loom path still fits the code (loom
//!   itself resumes a thread the path names even where it cannot run).
//!
//! The suites are in `tests/`; README.md says how to run the deep bounds.

mod condvar_platform;
pub mod explore;
pub mod loom_fit;
pub mod loom_platform;
pub mod shuttle_platform;
pub mod traces;

pub use loom_platform::Loom;
pub use shuttle_platform::Shuttle;
