//! The regression corpus and its one harness.
//!
//! * [`corpus`]: the files in `regressions/corpus/` (the suite's common
//!   [`model::Trace`] format), one naming scheme
//!   (`{checker}-{spec}-{preset}-{property}.json`), reading, and keeping a
//!   newly found counterexample (`CHUKEI_BLESS=1` rewrites it);
//!   [`corpus::add`] (`chukei corpus add`): minimize, name, store, record
//!   the outcome on the fixing preset (`on-fix.toml`), write the timeline
//!   snapshot.
//! * [`replay`](mod@replay): one typed [`replay()`] for every schedule kind:
//!   spec actions on the model, driver choices on the real relay, shuttle
//!   schedules on the real relay under shuttle.
//!
//! `tests/corpus.rs` replays every stored trace on every test run; `chukei
//! replay` calls the same [`replay()`].
//!
//! A schedule (shuttle or driver) replays only on the relay code it was found
//! on. After an intended relay change, record them again:
//! `chukei reproduce --trace-out regressions/corpus` and
//! `CHUKEI_BLESS=1 cargo test -p loom-tests -p properties`.

pub mod corpus;
pub mod minimize;
pub mod preempt;
pub mod replay;

pub use minimize::{minimize, MinimizeError, Minimized};
pub use preempt::Pressure;
pub use replay::{judge, judge_on, replay, replay_on, Fit, Judged, Outcome, ReplayError, Replayed};
