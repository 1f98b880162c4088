//! Fuzz targets of the suite's input boundaries, as plain functions of
//! bytes, so that the same body runs three ways: under libFuzzer
//! (`fuzz/`, `cargo fuzz run NAME`), as a bounded randomized test inside
//! `cargo test` (`tests/stable.rs`), and as a deep stable run
//! (`CHUKEI_FUZZ_INPUTS=N cargo test -p fuzzing --release`).
//!
//! Targets (`runner::TARGETS`): `frame_single`, `frame_stream` (the
//! telegram codec), `trace_replay` (trace loader, replay and judge),
//! `event_log` (event-log parser and `validate`), `driver_schedule`
//! (driver replay of mutated schedules), `relayd_connection` (relayd's
//! connection handler over loopback). Each panics only when an invariant
//! breaks; bad input must end in a clean error.

mod relayd;
pub mod runner;
mod targets;

pub use relayd::{keys, relayd_connection};
pub use runner::{Target, TARGETS};
pub use targets::{
    driver_schedule, driver_seed, driver_trace, event_log, frame_single, frame_stream,
    trace_replay, MAX_INPUT,
};
