//! Shared helpers for the CLI-level integration tests.
#![allow(dead_code)] // each test binary uses a different part

pub mod chromium;
pub mod cli;
pub mod explorer;
