//! The regression corpus (`regressions/corpus/*.json`, the suite's common
//! Trace format): minimized counterexamples from proptest (spec actions),
//! shuttle (shuttle schedules) and `chukei reproduce` (driver schedules of the
//! real relay). Today they are replayed by `chukei replay` and by
//! `tests/cli.rs` on every test run: each must come out with its recorded
//! verdict. The replay harness of its own, with insta snapshots, is the next
//! issue's.
//!
//! A schedule (shuttle or driver) replays only on the relay code it was found
//! on. After an intended relay change, record them again:
//! `chukei reproduce --trace-out regressions/corpus` and
//! `CHUKEI_BLESS=1 cargo test -p loom-tests -p properties`.
