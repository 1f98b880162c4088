//! Everything that shapes one relay: the patches and the sizes and timings.

use crate::platform::Millis;
use crate::replies::Retention;
use patches::Patches;
use serde::{Deserialize, Serialize};

/// How the timer service's notices are retrieved from the AP's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// In the order they were posted.
    Fifo,
    /// Like `WM_TIMER`: retrieved only when no other message is waiting.
    LowPriority,
}

/// Where encryption and decryption happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CryptoPath {
    /// Through the HSM board, its interrupt and its completion notice.
    Hsm,
    /// In the worker itself, with no board and no interrupts: for exploring
    /// the timer race without the HSM's threads (fewer interleavings).
    InProcess,
}

/// A deliberate defect, for showing that a checker catches a broken relay.
/// Never part of a preset.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The AP forgets to reset (kill) its timer when a telegram's relay work
    /// completes: the timer stays armed after the work area is freed.
    SkipTimerReset,
    /// Test-only: AP worker `worker` panics while handling its
    /// `at_arrival`-th telegram (1-based), with the telegram in flight: a
    /// worker thread dying, for the supervision tests.
    WorkerPanics { worker: u16, at_arrival: u32 },
}

/// One relay's settings. Times are in platform milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelayConfig {
    pub patches: Patches,
    /// Business AP worker threads.
    pub workers: u16,
    /// Admitted connections at once (70 in January 2016, later 94).
    pub connection_limit: u64,
    /// Work areas in the table shared by the workers.
    pub work_areas: u32,
    /// The per-telegram timer.
    pub telegram_timeout: Millis,
    pub timer_delivery: Delivery,
    pub crypto: CryptoPath,
    /// How long the HSM computes one request.
    pub hsm_latency: Millis,
    /// HSM boards (relayd's `--hsm-boards`, simulate's `hsm_boards`), each
    /// with its own firmware thread, interrupt line and CPU core thread;
    /// AP worker `w` uses board `w % hsm_boards`. One in January 2016, two
    /// once the second board was back in April.
    #[serde(default = "one_board", skip_serializing_if = "is_one_board")]
    pub hsm_boards: u16,
    /// The bounded wait of `HsmGuard::ErrorOnInterrupted`.
    pub hsm_guard_timeout: Millis,
    pub upstream_latency: Millis,
    /// Requests the card management server handles at once.
    pub upstream_capacity: u32,
    /// The monitoring agent's period (2 hours in production).
    pub monitor_period: Millis,
    /// Stop the monitor after this many interrupts (bounded explorations).
    pub monitor_raises: Option<u32>,
    /// The session key shared by the CSs and the HSM.
    pub key: [u8; 32],
    /// How long answer counts are remembered ([`Retention`]); `None`:
    /// forever, as the checkers need. relayd sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_retention: Option<Retention>,
    /// A deliberate defect for checker tests; `None` everywhere else.
    #[doc(hidden)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

impl RelayConfig {
    /// The production shape of a preset (one relay server of 2016).
    /// Takes a preset or any switch set.
    pub fn production(patches: impl Into<Patches>) -> Self {
        RelayConfig {
            patches: patches.into(),
            workers: 4,
            connection_limit: 70,
            work_areas: 128,
            telegram_timeout: 30_000,
            timer_delivery: Delivery::LowPriority,
            crypto: CryptoPath::Hsm,
            hsm_latency: 5,
            hsm_boards: 1,
            hsm_guard_timeout: 5_000,
            upstream_latency: 200,
            upstream_capacity: 32,
            monitor_period: 2 * 60 * 60 * 1000,
            monitor_raises: None,
            key: *b"chukei-test-session-key-32bytes!",
            answer_retention: None,
            fault: None,
        }
    }

    /// The production shape with the HSM, upstream and monitor made fast, for
    /// tests on real threads that push hundreds of telegrams in a second.
    pub fn fast(patches: impl Into<Patches>) -> Self {
        RelayConfig {
            hsm_latency: 0,
            upstream_latency: 1,
            monitor_period: 3,
            ..RelayConfig::production(patches)
        }
    }

    /// A small relay for schedule exploration: one worker, few areas.
    pub fn small(patches: impl Into<Patches>) -> Self {
        RelayConfig {
            workers: 1,
            connection_limit: 4,
            work_areas: 4,
            ..RelayConfig::production(patches)
        }
    }
}

fn one_board() -> u16 {
    1
}

fn is_one_board(boards: &u16) -> bool {
    *boards == 1
}
