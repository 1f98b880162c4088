//! The system under test: a faithful re-implementation of the relay server
//! between Japan's municipal CS terminals and the card management system, as
//! it ran in 2016, bugs included, with every fix a runtime switch.
//!
//! Every type that shares state is generic over [`platform::Platform`], so
//! the same code runs on real threads ([`platform::Std`]), on the
//! deterministic driver ([`sim::Sim`]), and under loom and shuttle.

pub mod admission;
pub mod config;
pub mod crypto;
pub mod cs;
#[cfg(test)]
mod deadline;
pub mod events;
pub mod hsm;
pub mod irq;
pub mod mailbox;
pub mod platform;
pub mod relay;
pub mod replies;
pub mod shared;
pub mod sim;
pub mod telegram;
pub mod timer;
pub mod upstream;
pub mod work_area;
mod worker;

pub use config::{CryptoPath, Delivery, Fault, RelayConfig};
pub use events::{Event, EventKind, EventLog, ThreadName};
pub use patches::{CsRule, HsmGuard, IrqMode, Monitor, Patches, Preset, TimerFix};
pub use platform::{Platform, Std};
pub use relay::{Relay, RelayHandle, Role, SubmitError};
pub use replies::Retention;
