//! Everything the relay's threads share, and what a post-mortem sees of it.
//!
//! Every relay thread (the AP workers, the timer service, the HSM firmware,
//! the CPU core, the monitoring agent) works on one [`Shared`]; every part of
//! it is a platform [`Lock`] or [`crate::platform::Counter`], so any checker
//! controls every interleaving.

use crate::admission::Admission;
use crate::config::RelayConfig;
use crate::events::{EventKind, EventLog, IrqSource, ThreadName};
use crate::hsm::Hsm;
use crate::irq::{IrqController, Raised};
use crate::mailbox::Mailbox;
use crate::platform::{Lock, Platform};
use crate::replies::ReplyBoard;
use crate::telegram::{CardId, Telegram, TelegramId};
use crate::timer::TimerService;
use crate::upstream::Upstream;
use crate::work_area::WorkAreas;
use std::collections::BTreeMap;

/// An HSM board after the first, with its own interrupt line.
pub struct HsmBoard<P: Platform> {
    pub hsm: Hsm<P>,
    pub irq: IrqController<P>,
}

/// Everything the relay's threads share.
pub struct Shared<P: Platform> {
    pub config: RelayConfig,
    pub events: EventLog,
    pub mailboxes: Vec<Mailbox<P>>,
    pub timers: TimerService<P>,
    pub work_areas: WorkAreas<P>,
    pub admission: Admission<P>,
    /// HSM board 0, and its interrupt line on the CPU core.
    pub hsm: Hsm<P>,
    pub irq: IrqController<P>,
    /// Boards 1.. when `RelayConfig::hsm_boards` > 1, each with its own
    /// line and core (the monitoring agent raises on board 0's line only).
    pub more_boards: Vec<HsmBoard<P>>,
    pub upstream: Upstream<P>,
    pub replies: ReplyBoard<P>,
    /// AP workers restarted after dying (real threads only): an observer
    /// for summaries, never a scheduling point.
    pub worker_restarts: std::sync::atomic::AtomicU64,
    /// Set at shutdown: the monitoring agent stops raising interrupts.
    pub(crate) monitor_stop: P::Mutex<bool>,
}

impl<P: Platform> Shared<P> {
    pub fn new(config: RelayConfig, events: EventLog) -> Self {
        let mailboxes = (0..config.workers.max(1))
            .map(|_| Mailbox::new(config.timer_delivery))
            .collect();
        Shared {
            mailboxes,
            timers: TimerService::new(),
            work_areas: WorkAreas::new(config.work_areas),
            admission: Admission::ordered(config.connection_limit, config.patches.admission),
            hsm: Hsm::new(&config.key, config.hsm_latency),
            irq: IrqController::new(config.patches.irq_mode),
            more_boards: (1..config.hsm_boards.max(1))
                .map(|_| HsmBoard {
                    hsm: Hsm::new(&config.key, config.hsm_latency),
                    irq: IrqController::new(config.patches.irq_mode),
                })
                .collect(),
            upstream: Upstream::new(config.upstream_latency, config.upstream_capacity),
            replies: ReplyBoard::new(config.answer_retention),
            monitor_stop: P::Mutex::new(false),
            worker_restarts: std::sync::atomic::AtomicU64::new(0),
            events,
            config,
        }
    }

    /// Records an event at the platform's time.
    pub fn emit(&self, thread: ThreadName, telegram: Option<TelegramId>, kind: EventKind) {
        self.events.record(P::now(), thread, telegram, kind);
    }

    /// Answers a CS and frees the telegram's admission slot.
    pub(crate) fn reply(&self, thread: ThreadName, answer: Telegram) {
        let (id, kind) = (answer.id, answer.kind);
        self.replies.post(answer);
        self.admission.release();
        self.emit(thread, Some(id), EventKind::Reply { kind });
    }

    /// HSM boards (at least one).
    pub fn hsm_boards(&self) -> u16 {
        1 + self.more_boards.len() as u16
    }

    /// Board `board`'s HSM and interrupt line (0: `hsm` and `irq`).
    pub fn board(&self, board: u16) -> (&Hsm<P>, &IrqController<P>) {
        match board {
            0 => (&self.hsm, &self.irq),
            n => {
                let b = &self.more_boards[n as usize - 1];
                (&b.hsm, &b.irq)
            }
        }
    }

    /// The board AP worker `worker` hands its cryptography to.
    pub fn board_of(&self, worker: u16) -> u16 {
        worker % self.hsm_boards()
    }

    /// Operations each HSM board has computed so far.
    pub fn hsm_operations(&self) -> Vec<u64> {
        (0..self.hsm_boards())
            .map(|b| self.board(b).0.operations())
            .collect()
    }

    /// Raises an interrupt on board 0's line.
    pub(crate) fn raise(
        &self,
        thread: ThreadName,
        telegram: Option<TelegramId>,
        source: IrqSource,
    ) {
        self.raise_on(0, thread, telegram, source);
    }

    /// Raises an interrupt on board `board`'s line; the events are recorded
    /// under the line's lock, in the order the core saw them.
    pub(crate) fn raise_on(
        &self,
        board: u16,
        thread: ThreadName,
        telegram: Option<TelegramId>,
        source: IrqSource,
    ) {
        self.board(board).1.raise_logged(source, |raised| {
            self.emit(thread, telegram, EventKind::InterruptRaised { source });
            if let Raised::Collapsed { kept, lost } = raised {
                self.emit(
                    thread,
                    telegram,
                    EventKind::InterruptCollapsed { kept, lost },
                );
            }
        });
    }
}

/// What a post-mortem sees of a relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub allocated_work_areas: Vec<(u32, TelegramId)>,
    pub pending_timeout_notices: usize,
    pub answers: BTreeMap<TelegramId, u32>,
    pub hsm_awaiting_completion: bool,
    pub registered_cards: BTreeMap<CardId, TelegramId>,
}

impl<P: Platform> Shared<P> {
    /// The relay's observable state (platform calls: not inside a closure).
    pub fn observe(&self) -> Observation {
        Observation {
            allocated_work_areas: self.work_areas.allocated(),
            pending_timeout_notices: self
                .mailboxes
                .iter()
                .map(|m| m.pending_timeout_notices())
                .sum(),
            answers: self.replies.answer_counts(),
            hsm_awaiting_completion: (0..self.hsm_boards())
                .any(|b| self.board(b).0.awaiting_completion()),
            registered_cards: self.upstream.registered(),
        }
    }
}
