//! Structured events: what the relay did, each with telegram ID and thread ID
//! (the review's lesson). `tracing` output and every checker read these.

use crate::platform::Millis;
use crate::telegram::{CardId, CsId, TelegramId, TelegramKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Which relay thread did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadName {
    /// The test or driver body.
    Main,
    /// A CS terminal's client thread.
    Cs(u16),
    /// A business AP worker.
    Worker(u16),
    /// The OS timer service.
    Timer,
    /// The HSM board's firmware (board 0).
    Hsm,
    /// The CPU core that takes interrupts (board 0's line).
    Cpu,
    /// The firmware of HSM board `n` >= 1 (`RelayConfig::hsm_boards`).
    HsmBoard(u16),
    /// The CPU core taking the interrupts of HSM board `n` >= 1.
    CpuCore(u16),
    /// The hardware monitoring agent.
    Monitor,
}

impl ThreadName {
    /// The firmware thread of HSM board `board` (board 0 is `hsm`).
    pub fn hsm(board: u16) -> Self {
        match board {
            0 => ThreadName::Hsm,
            n => ThreadName::HsmBoard(n),
        }
    }

    /// The CPU core thread of board `board`'s interrupt line (0 is `cpu`).
    pub fn cpu(board: u16) -> Self {
        match board {
            0 => ThreadName::Cpu,
            n => ThreadName::CpuCore(n),
        }
    }
}

impl fmt::Display for ThreadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadName::Main => f.write_str("main"),
            ThreadName::Cs(n) => write!(f, "cs-{n}"),
            ThreadName::Worker(n) => write!(f, "worker-{n}"),
            ThreadName::Timer => f.write_str("timer"),
            ThreadName::Hsm => f.write_str("hsm"),
            ThreadName::Cpu => f.write_str("cpu"),
            ThreadName::HsmBoard(n) => write!(f, "hsm-{n}"),
            ThreadName::CpuCore(n) => write!(f, "cpu-{n}"),
            ThreadName::Monitor => f.write_str("monitor"),
        }
    }
}

/// A source of interrupts on the CPU core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IrqSource {
    Hsm,
    Monitor,
}

/// An HSM operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HsmOp {
    Decrypt,
    Encrypt,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// A request telegram reached the relay and was admitted.
    Arrived { cs: CsId, card: CardId },
    /// Over the connection limit: answered connection excess.
    ConnectionExcess { cs: CsId, in_use: u64, limit: u64 },
    /// The worker took the telegram and allocated a work area.
    Alloc { area: u32 },
    /// No work area was free.
    AllocFailed,
    /// The worker set its timer (SetTimer).
    SetTimer {
        timer: u16,
        epoch: u64,
        deadline: Millis,
    },
    /// The worker reset its timer (KillTimer); `removed` is false when it
    /// had already fired: a posted notice stays queued.
    ResetTimer { timer: u16, removed: bool },
    /// The timer service posted a timeout notice to the worker's queue.
    TimeoutPosted { timer: u16, epoch: u64 },
    /// The worker retrieved a timeout notice.
    TimeoutReceived { timer: u16, epoch: u64 },
    /// The notice was dropped: no work area allocated, or a stale epoch.
    TimeoutIgnored { reason: String },
    /// Termination by timeout of the telegram in flight.
    Terminated,
    /// The work area was freed.
    Free { area: u32 },
    /// Termination freed a work area that was not allocated (root cause 2).
    FreeOfUnallocated { area: u32 },
    /// The business AP terminated abnormally and restarted.
    ApAbnormalTermination { lost: u32 },
    /// A telegram was lost without a reply (AP restart, shutdown).
    TelegramLost,
    /// A message about an earlier telegram reached the worker after it had
    /// moved on (late HSM completion of a terminated telegram).
    StaleMessage { what: String },
    /// The worker handed a request to the HSM.
    HsmRequest { op: HsmOp },
    /// The HSM finished a request.
    HsmDone { op: HsmOp, ok: bool },
    /// An interrupt was raised.
    InterruptRaised { source: IrqSource },
    /// Logical mode: two pending interrupts collapsed into one (root cause 1).
    InterruptCollapsed { kept: IrqSource, lost: IrqSource },
    /// The CPU took an interrupt and acknowledged it.
    InterruptAcknowledged { source: IrqSource },
    /// The CPU sent the HSM its completion notice.
    CompletionNotice,
    /// The HSM has waited for its completion notice, so it takes no request.
    HsmAwaitingCompletion,
    /// The relay's bounded wait for the HSM ran out (HsmGuard).
    HsmWaitTimedOut,
    /// The HSM board was reset after a lost notice. `dropped`: the board
    /// held a computed result (the board's last `hsm-done`) whose completion
    /// notice had not been fetched; it never will be. Logged under the
    /// board's lock, so no later `hsm-done` of the board comes before it.
    HsmReset {
        #[serde(default)]
        dropped: bool,
    },
    /// The request went to the card management server.
    UpstreamForward,
    /// The card management server answered.
    UpstreamReply { registered: bool },
    /// The relay answered the CS.
    Reply { kind: TelegramKind },
    /// A CS wrote a card's IC chip.
    ChipWritten { card: CardId },
    /// A CS got the final answer for a card.
    CsConfirmed { card: CardId, issued: bool },
    /// Legacy CS rule: every in-flight telegram is discarded.
    CsDiscarded { card: CardId },
    /// Legacy CS rule: all communication blocked until `until`.
    CsBlocked { until: Millis },
    /// A CS sent a request again.
    CsRetry { card: CardId },
    /// A CS gave up waiting for a reply (search timeout).
    CsTimeout,
    /// The relay's threads were told to stop.
    Shutdown,
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Order in the log.
    pub seq: u64,
    /// Platform time (`END_OF_TIME` under loom and shuttle).
    pub at: Millis,
    pub thread: ThreadName,
    pub telegram: Option<TelegramId>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let telegram = self
            .telegram
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        let at = if self.at == crate::platform::END_OF_TIME {
            "-".to_string()
        } else {
            format!("{:>8}ms", self.at)
        };
        write!(
            f,
            "{at} {telegram:>8} {:<9} {}",
            self.thread.to_string(),
            self.kind
        )
    }
}

/// `alloc area=0`: the event's name and fields, as in the JSON lines.
impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = serde_json::to_value(self).map_err(|_| fmt::Error)?;
        let Some(fields) = value.as_object() else {
            return Err(fmt::Error);
        };
        let name = fields.get("event").and_then(|v| v.as_str()).unwrap_or("?");
        f.write_str(name)?;
        for (key, v) in fields.iter().filter(|(k, _)| *k != "event") {
            match v {
                serde_json::Value::String(text) => write!(f, " {key}={text}")?,
                other => write!(f, " {key}={other}")?,
            }
        }
        Ok(())
    }
}

/// Collects events in order. An observer, not part of the system under test:
/// it uses a plain std mutex, never held across a platform call, so it adds no
/// scheduling points for loom, shuttle or the driver to explore.
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    events: Arc<Mutex<Vec<Event>>>,
    /// Emit `tracing` lines but keep no events: a long-running server's
    /// log, whose memory must not grow with every telegram.
    tracing_only: bool,
}

impl EventLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that only emits `tracing` lines (`snapshot` stays empty).
    pub fn tracing_only() -> Self {
        EventLog {
            tracing_only: true,
            ..Self::default()
        }
    }

    /// Records an event and emits it as a `tracing` line with its ids.
    pub fn record(
        &self,
        at: Millis,
        thread: ThreadName,
        telegram: Option<TelegramId>,
        kind: EventKind,
    ) {
        // A tracing-only log keeps nothing, so it takes no lock: every relay
        // thread records here, and a long-running server would queue on it.
        let mut kept =
            (!self.tracing_only).then(|| self.events.lock().unwrap_or_else(|e| e.into_inner()));
        let event = Event {
            seq: kept.as_ref().map_or(0, |events| events.len() as u64),
            at,
            thread,
            telegram,
            kind,
        };
        tracing::debug!(
            thread = %event.thread,
            telegram = %event.telegram.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            at = event.at,
            // The event's one name (kebab-case) and fields, as in timelines
            // and JSON lines: `event=alloc area=0`.
            event = %event.kind,
        );
        if let Some(events) = kept.as_mut() {
            events.push(event);
        }
    }

    /// Events kept so far (without copying them).
    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no event was kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every event so far.
    pub fn snapshot(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The events as JSON lines (the format `chukei validate` reads).
    pub fn to_jsonl(&self) -> String {
        self.snapshot()
            .iter()
            .map(|e| serde_json::to_string(e).expect("events serialize") + "\n")
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_thread_and_telegram_and_serialize_flat() {
        let log = EventLog::new();
        log.record(
            5,
            ThreadName::Worker(0),
            Some(TelegramId(7)),
            EventKind::Alloc { area: 2 },
        );
        let json = log.to_jsonl();
        assert_eq!(
            json,
            "{\"seq\":0,\"at\":5,\"thread\":{\"worker\":0},\"telegram\":7,\"event\":\"alloc\",\"area\":2}\n"
        );
        let back: Event = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(back, log.snapshot()[0]);
    }

    #[test]
    fn display_names_the_thread_and_telegram() {
        let e = Event {
            seq: 0,
            at: 30_000,
            thread: ThreadName::Timer,
            telegram: Some(TelegramId(1)),
            kind: EventKind::TimeoutPosted { timer: 0, epoch: 1 },
        };
        let line = e.to_string();
        assert!(
            line.contains("30000ms") && line.contains("T1") && line.contains("timer"),
            "{line}"
        );
        assert!(line.ends_with("timeout-posted epoch=1 timer=0"), "{line}");
    }
}
