//! stateright adapters for the `model` specs, the fair-lasso liveness
//! checker, and the library behind `chukei check` and `chukei explore`.
//!
//! * [`adapter`]: a `model::Spec` as a `stateright::Model`.
//! * [`fair`]: fair-lasso liveness checking (stateright only judges
//!   `eventually` at terminal states).
//! * [`checks`]: run every check, the verdict matrix and timelines.
//! * [`expect`]: the expected verdict per (spec, preset, property).
//! * [`explore`]: stateright's Explorer for one spec and preset.
//! * [`symmetry`]: state counts with identical processes identified.

pub mod adapter;
pub mod checks;
pub mod expect;
pub mod explore;
pub mod fair;
pub mod symmetry;

pub use checks::{
    all_as_expected, check_spec_preset, render_matrix, render_report, render_timelines, run_checks,
    CheckResult, CheckSelection, Progress, SelectionError,
};
pub use expect::expected_verdict;
pub use explore::{serve_explorer, ExploreError};
