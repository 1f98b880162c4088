//! stateright adapters for the `model` specs, the fair-lasso liveness
//! checker, and the library behind `chukei check` and `chukei explore`.
//!
//! * [`adapter`]: a `model::Spec` as a `stateright::Model`.
//! * [`fair`]: fair-lasso liveness checking (stateright only judges
//!   `eventually` at terminal states).
//! * [`checks`]: run every check, the verdict matrix and timelines.
//!
//! The verdict expected per (spec, preset, property) is each mechanism's, in
//! `scenarios` ([`scenarios::expected_verdict`]).
//! * [`explore`]: the Explorer's views of one spec and configuration
//!   (verdicts from [`checks`], states by the spec's own description).
//! * [`symmetry`]: state counts with identical processes identified.
//! * [`record`]: `scenarios/expectations.toml` and the docs tables,
//!   regenerated from the checker (`chukei expectations`).

pub mod adapter;
pub mod checks;
pub mod explore;
pub mod fair;
pub mod record;
pub mod symmetry;

pub use checks::{
    all_as_expected, all_decided, check_command, check_spec_preset, render_matrix, render_report,
    render_report_with, render_timelines, render_timelines_with, run_checks, steps_in_words,
    BitstateNote, CheckRequest, CheckResult, CheckSelection, Progress, SelectionError,
};
pub use explore::{explore_command, listen, ExploreError, Explorer};
