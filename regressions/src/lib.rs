//! The regression corpus (`regressions/corpus/*.json`, the suite's common
//! Trace format): minimized counterexamples from proptest and shuttle, and
//! reproduce schedules. Today they are replayed by `chukei replay` and by
//! `tests/cli.rs` (every stored trace must come out with its verdict); the
//! replay harness of its own, with insta snapshots, is the next issue's.
