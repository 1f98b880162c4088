//! The relay server assembled: its threads, over the state they share
//! ([`Shared`]).
//!
//! Threads: one per AP worker, the timer service, the HSM firmware, the CPU
//! core taking interrupts, and the monitoring agent (when on). Everything
//! they share is a platform [`Lock`] or [`crate::platform::Counter`], so any
//! checker controls every interleaving.

use crate::admission::ConnectionExcess;
use crate::config::RelayConfig;
use crate::events::{EventKind, EventLog, IrqSource, ThreadName};
use crate::mailbox::Message;
use crate::platform::{deadline_after, Lock, Millis, Platform, Wait};
use crate::shared::Shared;
use crate::telegram::{CsId, Telegram, TelegramKind};
use patches::Monitor;
use std::sync::Arc;

/// The part of a relay its clients use; cheap to clone into CS threads.
pub struct RelayHandle<P: Platform> {
    shared: Arc<Shared<P>>,
}

impl<P: Platform> Clone for RelayHandle<P> {
    fn clone(&self) -> Self {
        RelayHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Platform> RelayHandle<P> {
    /// A request telegram reaches the relay: admitted and queued to its
    /// worker, or refused: connection excess (the caller answers it), the
    /// relay has shut down, or the telegram is not a request. A refused
    /// telegram holds no admission slot.
    pub fn submit(&self, telegram: Telegram, from: ThreadName) -> Result<(), SubmitError> {
        if !telegram.kind.is_request() {
            return Err(SubmitError::NotARequest(telegram.kind));
        }
        let s = &self.shared;
        if let Err(excess) = s.admission.admit(telegram.cs) {
            let kind = EventKind::ConnectionExcess {
                cs: telegram.cs,
                in_use: excess.in_use,
                limit: excess.limit,
            };
            s.emit(from, Some(telegram.id), kind);
            return Err(SubmitError::ConnectionExcess(excess));
        }
        let workers = s.mailboxes.len();
        let first = (telegram.id.0 % workers as u64) as usize;
        let kind = EventKind::Arrived {
            cs: telegram.cs,
            card: telegram.card,
        };
        let id = telegram.id;
        // Recorded under the queue's lock: the log orders arrivals as queued.
        // A queue that has shut down (its worker died, or the relay stops)
        // takes nothing: the next worker's is tried, and when none takes it
        // the slot goes back.
        let mut message = Message::Arrival(telegram);
        for worker in (0..workers).map(|i| (first + i) % workers) {
            let queued = s.mailboxes[worker].post_unless_shut_down(message, || {
                s.emit(from, Some(id), kind.clone());
            });
            match queued {
                Ok(()) => return Ok(()),
                Err(refused) => message = refused,
            }
        }
        s.admission.release();
        Err(SubmitError::ShutDown)
    }

    /// The next answer for `cs`, waiting until `until` (forever if `None`).
    pub fn take_reply(&self, cs: CsId, until: Option<Millis>) -> Option<Telegram> {
        self.shared.replies.take(cs, until)
    }

    pub fn shared(&self) -> &Shared<P> {
        &self.shared
    }
}

/// Why [`RelayHandle::submit`] refused a telegram.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Over the connection limit (the caller answers connection excess).
    #[error("connection excess: {} of {} connections in use", .0.in_use, .0.limit)]
    ConnectionExcess(ConnectionExcess),
    /// The relay has shut down: nothing is admitted any more.
    #[error("the relay has shut down")]
    ShutDown,
    /// Only `Register` and `Search` telegrams are requests.
    #[error("a {0:?} telegram is not a request")]
    NotARequest(TelegramKind),
}

/// A running relay.
pub struct Relay<P: Platform> {
    handle: RelayHandle<P>,
    threads: Vec<P::JoinHandle>,
}

impl<P: Platform> Relay<P> {
    /// Starts every relay thread the configuration calls for.
    pub fn start(config: RelayConfig, events: EventLog) -> Self {
        let roles = Role::all_for(&config);
        Self::start_roles(config, events, &roles)
    }

    /// Starts only the given threads: explorers with a thread limit (loom
    /// allows five) run the real code of just the parts under study.
    pub fn start_roles(config: RelayConfig, events: EventLog, roles: &[Role]) -> Self {
        let shared = Arc::new(Shared::new(config, events));
        let threads = roles
            .iter()
            .map(|&role| {
                let s = shared.clone();
                P::spawn(&role.to_string(), move || role.run(&s))
            })
            .collect();
        Relay {
            handle: RelayHandle { shared },
            threads,
        }
    }

    pub fn handle(&self) -> RelayHandle<P> {
        self.handle.clone()
    }

    pub fn shared(&self) -> &Shared<P> {
        &self.handle.shared
    }

    /// Stops every thread and waits for them; returns the shared state for
    /// post-mortem checks.
    pub fn shutdown(self) -> Arc<Shared<P>> {
        let s = self.handle.shared;
        s.emit(ThreadName::Main, None, EventKind::Shutdown);
        s.monitor_stop.with(|stop| *stop = true);
        s.timers.shutdown();
        for board in 0..s.hsm_boards() {
            let (hsm, irq) = s.board(board);
            hsm.shutdown();
            irq.shutdown();
        }
        s.replies.shutdown();
        for mailbox in &s.mailboxes {
            mailbox.shutdown();
        }
        for t in self.threads {
            P::join(t);
        }
        s
    }
}

/// A relay thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Worker(u16),
    Timer,
    Hsm,
    Cpu,
    Monitor,
    /// The firmware of HSM board `n` >= 1.
    HsmBoard(u16),
    /// The CPU core of board `n` >= 1's interrupt line.
    CpuCore(u16),
}

impl Role {
    /// Every thread a relay with this configuration runs.
    pub fn all_for(config: &RelayConfig) -> Vec<Role> {
        let mut roles: Vec<Role> = (0..config.workers.max(1)).map(Role::Worker).collect();
        roles.push(Role::Timer);
        if config.crypto == crate::config::CryptoPath::Hsm {
            roles.extend([Role::Hsm, Role::Cpu]);
            for board in 1..config.hsm_boards.max(1) {
                roles.extend([Role::HsmBoard(board), Role::CpuCore(board)]);
            }
            if config.patches.monitor == Monitor::On {
                roles.push(Role::Monitor);
            }
        }
        roles
    }

    fn run<P: Platform>(self, s: &Shared<P>) {
        match self {
            Role::Worker(id) => crate::worker::run_worker(s, id),
            Role::Timer => timer_thread(s),
            Role::Hsm => hsm_thread(s, 0),
            Role::Cpu => cpu_thread(s, 0),
            Role::HsmBoard(board) => hsm_thread(s, board),
            Role::CpuCore(board) => cpu_thread(s, board),
            Role::Monitor => monitor_thread(s),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let thread = match *self {
            Role::Worker(id) => ThreadName::Worker(id),
            Role::Timer => ThreadName::Timer,
            Role::Hsm => ThreadName::Hsm,
            Role::Cpu => ThreadName::Cpu,
            Role::Monitor => ThreadName::Monitor,
            Role::HsmBoard(board) => ThreadName::hsm(board),
            Role::CpuCore(board) => ThreadName::cpu(board),
        };
        thread.fmt(f)
    }
}

fn timer_thread<P: Platform>(s: &Shared<P>) {
    // The notice exists from the moment the timer fires (a reset can no
    // longer take it back), so that is where the log records it.
    s.timers.run_logged(
        |armed| {
            let kind = EventKind::TimeoutPosted {
                timer: armed.timer,
                epoch: armed.epoch,
            };
            s.emit(ThreadName::Timer, Some(armed.set_by), kind);
        },
        |armed| {
            s.mailboxes[armed.timer as usize].post(Message::TimeoutNotice {
                timer: armed.timer,
                epoch: armed.epoch,
                set_by: armed.set_by,
            });
        },
    );
}

fn hsm_thread<P: Platform>(s: &Shared<P>, board: u16) {
    let me = ThreadName::hsm(board);
    s.board(board).0.run(
        |done| {
            let kind = EventKind::HsmDone {
                op: done.op,
                ok: done.output.is_ok(),
            };
            s.emit(me, Some(done.telegram), kind);
        },
        |done| {
            s.raise_on(board, me, Some(done.telegram), IrqSource::Hsm);
            s.emit(me, Some(done.telegram), EventKind::HsmAwaitingCompletion);
        },
    );
}

/// The CPU core of board `board`'s line: takes each interrupt, serves it,
/// ends it.
fn cpu_thread<P: Platform>(s: &Shared<P>, board: u16) {
    let (me, (hsm, irq)) = (ThreadName::cpu(board), s.board(board));
    // Acknowledgements and completion notices are recorded under the lock
    // of the state they change, so the log orders them as they happened.
    let acknowledge = |source| {
        s.emit(me, None, EventKind::InterruptAcknowledged { source });
    };
    while let Some(source) = irq.take_logged(acknowledge) {
        if source == IrqSource::Hsm {
            if let Some(done) = hsm.complete() {
                let telegram = done.telegram;
                let completed = Message::HsmCompleted {
                    telegram,
                    epoch: done.epoch,
                    op: done.op,
                    result: done.output,
                };
                s.mailboxes[done.worker as usize].post_logged(completed, || {
                    s.emit(me, Some(telegram), EventKind::CompletionNotice);
                });
            }
        }
        irq.end_of_interrupt();
    }
}

/// The hardware monitoring agent: an interrupt every period.
fn monitor_thread<P: Platform>(s: &Shared<P>) {
    let limit = s.config.monitor_raises.unwrap_or(u32::MAX);
    for _ in 0..limit {
        let deadline = deadline_after(P::now(), s.config.monitor_period);
        let stopped = s.monitor_stop.wait(|stop| {
            if *stop {
                Wait::Ready(true)
            } else {
                Wait::or_at_deadline(Some(deadline), P::now(), false)
            }
        });
        if stopped {
            return;
        }
        s.raise(ThreadName::Monitor, None, IrqSource::Monitor);
    }
}
