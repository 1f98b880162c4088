//! proptest (and quickcheck) driving the **real relay** against the
//! executable specs of `model`.
//!
//! * [`reference`]: any [`model::Spec`] as a proptest-state-machine
//!   `ReferenceStateMachine` (one generic adapter, no second model), and a
//!   shrunk counterexample as a [`model::Trace`].
//! * [`relay_test`]: the `StateMachineTest` that steers the real relay
//!   through the same actions, with each mechanism's map from `scenarios`.
//!
//! Shrunk failures are kept in `regressions/corpus/` (`regressions::corpus`).

pub mod reference;
pub mod relay_test;
