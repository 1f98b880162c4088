//! proptest (and quickcheck) driving the **real relay** against the
//! executable specs of `model`, and trace refinement of relay event logs.
//!
//! * [`reference`]: any [`model::Spec`] as a proptest-state-machine
//!   `ReferenceStateMachine` (one generic adapter, no second model).
//! * [`lockstep`]: the real relay on the deterministic driver, steered one
//!   spec action at a time (which thread runs, when the clock jumps).
//! * [`steer`]: how each spec action is carried out on the relay, what of the
//!   relay is compared with the spec after every step, and the
//!   `StateMachineTest` that ties the two together.
//! * [`corpus`]: shrunk failures written and read as [`model::Trace`] files.
//! * [`refinement`]: `chukei validate`: a relay event log (any platform)
//!   checked step by step against a spec.

pub mod corpus;
pub mod lockstep;
pub mod reference;
pub mod refinement;
pub mod steer;
