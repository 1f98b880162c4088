//! The business AP: one worker thread with a Windows-like message loop.
//!
//! Per telegram: allocate a work area and set the timer; decrypt (HSM);
//! forward upstream; encrypt (HSM); reset the timer; reply; terminate (free).
//! While the HSM works the AP is back in its message loop, so a timeout
//! notice can be retrieved in the middle of a telegram. On a timeout notice,
//! termination frees the work area, guarded as the `TimerFix` says.

use crate::config::{CryptoPath, Fault};
use crate::events::{EventKind, HsmOp, ThreadName};
use crate::hsm::{Hsm, HsmJob};
use crate::mailbox::{Message, Next};
use crate::platform::{deadline_after, Millis, Platform};
use crate::shared::Shared;
use crate::telegram::{Telegram, TelegramId, TelegramKind};
use crate::timer::Armed;
use patches::{HsmGuard, TimerFix};

/// The telegram the AP is working on.
#[derive(Clone, Debug)]
struct InFlight {
    telegram: Telegram,
    area: u32,
    epoch: u64,
    /// The HSM operation the AP waits for.
    awaiting: HsmOp,
    /// The guard's deadline for that wait, if the guard is on.
    hsm_deadline: Option<Millis>,
    /// The upstream's answer, once it came.
    upstream_answer: Option<TelegramKind>,
}

/// How an AP's message loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    Shutdown,
    /// A handler panicked (real threads only): the AP is restarted.
    Died,
}

/// AP worker `id`'s thread: its AP, restarted in place each time it dies
/// (on real threads; elsewhere a panic ends the run as a finding). The
/// fresh AP has the same mailbox, so the telegrams queued to it are served,
/// not lost; only the one in flight when it died is reported lost.
pub(crate) fn run_worker<P: Platform>(shared: &Shared<P>, id: u16) {
    let mut ap = Ap::new(shared, id);
    while ap.run() == Ended::Died {
        ap = ap.restarted();
    }
}

/// One AP worker's state.
pub(crate) struct Ap<'a, P: Platform> {
    shared: &'a Shared<P>,
    id: u16,
    in_flight: Option<InFlight>,
    /// The work-area pointer of the C code: still set after a free, so an
    /// unguarded termination frees it again.
    work_area_pointer: Option<(u32, TelegramId)>,
    /// Generation of the latest telegram (the Epoch fix's tag).
    epoch: u64,
    /// Arrivals taken so far (for the test-only `Fault::WorkerPanics`).
    arrivals: u32,
}

impl<'a, P: Platform> Ap<'a, P> {
    pub(crate) fn new(shared: &'a Shared<P>, id: u16) -> Self {
        Ap {
            shared,
            id,
            in_flight: None,
            work_area_pointer: None,
            epoch: 0,
            arrivals: 0,
        }
    }

    fn thread(&self) -> ThreadName {
        ThreadName::Worker(self.id)
    }

    fn emit(&self, telegram: Option<TelegramId>, kind: EventKind) {
        self.shared.emit(self.thread(), telegram, kind);
    }

    fn current(&self) -> Option<TelegramId> {
        self.in_flight.as_ref().map(|f| f.telegram.id)
    }

    /// A fresh AP in place of this dead one: no stale work-area pointer
    /// (nothing is in flight: `die` answered that telegram). The generation
    /// and arrival counts go on, so a timeout notice the dead AP's timer
    /// left queued can never carry a new telegram's epoch (and a test fault
    /// fires once).
    fn restarted(self) -> Self {
        debug_assert!(self.in_flight.is_none(), "die() took the telegram");
        let restarts = self
            .shared
            .worker_restarts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        tracing::warn!(thread = %self.thread(), telegram = "-", restarts, "AP worker restarted");
        Ap {
            work_area_pointer: None,
            ..self
        }
    }

    /// The message loop, until shutdown or the AP dies.
    fn run(&mut self) -> Ended {
        let mailbox = &self.shared.mailboxes[self.id as usize];
        let (shared, thread) = (self.shared, self.thread());
        // A timeout notice is logged as received at the moment it leaves the
        // queue, so the log orders it against the posts as the queue did.
        let received = |m: &Message| {
            if let Message::TimeoutNotice {
                timer,
                epoch,
                set_by,
            } = *m
            {
                shared.emit(
                    thread,
                    Some(set_by),
                    EventKind::TimeoutReceived { timer, epoch },
                );
            }
        };
        loop {
            let idle = self.in_flight.is_none();
            let until = self.in_flight.as_ref().and_then(|f| f.hsm_deadline);
            match mailbox.next_logged(idle, until, received) {
                Next::Message(m) => {
                    if !self.handle_supervised(m) {
                        self.die();
                        mailbox.turn_done();
                        return Ended::Died;
                    }
                }
                Next::TimedOut => self.on_hsm_wait_timed_out(),
                Next::Shutdown => break,
            }
            mailbox.turn_done();
        }
        if let Some(f) = self.in_flight.take() {
            self.emit(Some(f.telegram.id), EventKind::TelegramLost);
        }
        Ended::Shutdown
    }

    /// Handles a message; false if the handler panicked (on a supervised
    /// platform: elsewhere the panic propagates to the explorer).
    fn handle_supervised(&mut self, message: Message) -> bool {
        if !P::SUPERVISED {
            self.handle(message);
            return true;
        }
        let handled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(message)));
        handled.is_ok()
    }

    /// The AP died with a telegram in flight: its timer is disarmed, the
    /// telegram reported lost and answered (which frees its admission
    /// slot) and its work area freed; what is queued waits for the
    /// restarted AP. An HSM result for the lost telegram that comes later
    /// is a stale message to the new AP.
    fn die(&mut self) {
        if let Some(f) = self.in_flight.take() {
            self.shared.timers.kill(self.id);
            let (area, id) = (f.area, f.telegram.id);
            tracing::error!(thread = %self.thread(), telegram = %id, "AP worker died with this telegram in flight: reported lost");
            self.lose(f.telegram);
            self.free(area, id);
        }
    }

    /// A telegram this worker will never relay: `telegram-lost`, then the
    /// answer the CS would get from a relay going down.
    fn lose(&self, telegram: Telegram) {
        self.emit(Some(telegram.id), EventKind::TelegramLost);
        self.shared.reply(
            self.thread(),
            telegram.answer(TelegramKind::ErrorShutdown, vec![]),
        );
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Arrival(t) => self.on_arrival(t),
            Message::HsmCompleted {
                telegram,
                epoch,
                op,
                result,
            } => self.on_hsm_completed(telegram, epoch, op, result),
            // TimeoutReceived was recorded when the notice left the queue.
            Message::TimeoutNotice { epoch, set_by, .. } => self.on_timeout_notice(epoch, set_by),
        }
    }

    fn on_arrival(&mut self, telegram: Telegram) {
        let id = telegram.id;
        let Some(area) = self.shared.work_areas.alloc(id) else {
            self.emit(Some(id), EventKind::AllocFailed);
            self.shared.reply(
                self.thread(),
                telegram.answer(TelegramKind::ErrorTimeout, vec![]),
            );
            return;
        };
        self.emit(Some(id), EventKind::Alloc { area });
        self.work_area_pointer = Some((area, id));
        self.epoch += 1;
        let deadline = deadline_after(P::now(), self.shared.config.telegram_timeout);
        self.shared.timers.set(Armed {
            timer: self.id,
            epoch: self.epoch,
            set_by: id,
            deadline,
        });
        self.emit(
            Some(id),
            EventKind::SetTimer {
                timer: self.id,
                epoch: self.epoch,
                deadline,
            },
        );
        let payload = telegram.payload.clone();
        self.in_flight = Some(InFlight {
            telegram,
            area,
            epoch: self.epoch,
            awaiting: HsmOp::Decrypt,
            hsm_deadline: None,
            upstream_answer: None,
        });
        self.arrivals += 1;
        if let Some(Fault::WorkerPanics { worker, at_arrival }) = self.shared.config.fault {
            if worker == self.id && at_arrival == self.arrivals {
                panic!(
                    "worker-{} dies with {id} in flight (injected fault)",
                    self.id
                );
            }
        }
        self.request_crypto(HsmOp::Decrypt, payload);
    }

    /// Hands data to the HSM, or computes in process and posts the result to
    /// this AP's own queue (so the message loop runs in both paths).
    fn request_crypto(&mut self, op: HsmOp, data: Vec<u8>) {
        let Some(f) = self.in_flight.as_mut() else {
            return;
        };
        f.awaiting = op;
        let job = HsmJob {
            telegram: f.telegram.id,
            worker: self.id,
            epoch: self.epoch,
            op,
            data,
        };
        let config = &self.shared.config;
        if config.patches.hsm_guard == HsmGuard::ErrorOnInterrupted
            && config.crypto == CryptoPath::Hsm
        {
            f.hsm_deadline = Some(deadline_after(P::now(), config.hsm_guard_timeout));
        }
        self.emit(Some(job.telegram), EventKind::HsmRequest { op });
        match config.crypto {
            CryptoPath::Hsm => {
                let board = self.shared.board_of(self.id);
                self.shared.board(board).0.submit(job)
            }
            CryptoPath::InProcess => {
                let result = Hsm::<P>::compute(self.shared.hsm.cipher(), &job);
                self.shared.mailboxes[self.id as usize].post(Message::HsmCompleted {
                    telegram: job.telegram,
                    epoch: job.epoch,
                    op,
                    result,
                });
            }
        }
    }

    fn on_hsm_completed(
        &mut self,
        telegram: TelegramId,
        epoch: u64,
        op: HsmOp,
        result: Result<Vec<u8>, String>,
    ) {
        // The epoch too: a request abandoned when the bounded HSM wait ran
        // out can complete after the CS retried under the same telegram ID.
        let expected = self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.telegram.id == telegram && f.awaiting == op && epoch == self.epoch);
        if !expected {
            let what = format!("HSM {op:?} result after the telegram ended");
            self.emit(Some(telegram), EventKind::StaleMessage { what });
            return;
        }
        match (op, result) {
            (HsmOp::Decrypt, Ok(_request)) => self.forward_upstream(),
            (HsmOp::Encrypt, Ok(sealed)) => {
                let kind = self
                    .in_flight
                    .as_ref()
                    .and_then(|f| f.upstream_answer)
                    .unwrap_or(TelegramKind::ReplyOk);
                self.finish(kind, sealed);
            }
            (_, Err(_)) => self.finish(TelegramKind::ErrorHsm, vec![]),
        }
    }

    fn forward_upstream(&mut self) {
        let Some(f) = self.in_flight.as_mut() else {
            return;
        };
        f.hsm_deadline = None;
        let (kind, card, id) = (f.telegram.kind, f.telegram.card, f.telegram.id);
        self.emit(Some(id), EventKind::UpstreamForward);
        let answer = self.shared.upstream.call(kind, card, id);
        self.emit(
            Some(id),
            EventKind::UpstreamReply {
                registered: kind == TelegramKind::Register && answer == TelegramKind::ReplyOk,
            },
        );
        if let Some(f) = self.in_flight.as_mut() {
            f.upstream_answer = Some(answer);
        }
        let body = format!("{answer:?} {card}").into_bytes();
        self.request_crypto(HsmOp::Encrypt, body);
    }

    /// Relay work complete: reset the timer, reply, terminate (free).
    fn finish(&mut self, kind: TelegramKind, payload: Vec<u8>) {
        let Some(f) = self.in_flight.take() else {
            return;
        };
        let id = f.telegram.id;
        if self.shared.config.fault != Some(Fault::SkipTimerReset) {
            let removed = self.shared.timers.kill(self.id);
            self.emit(
                Some(id),
                EventKind::ResetTimer {
                    timer: self.id,
                    removed,
                },
            );
        }
        self.shared
            .reply(self.thread(), f.telegram.answer(kind, payload));
        self.free(f.area, id);
    }

    fn free(&mut self, area: u32, owner: TelegramId) {
        match self.shared.work_areas.free(area, owner) {
            Ok(()) => self.emit(Some(owner), EventKind::Free { area }),
            Err(_) => self.abnormal_termination(area, owner),
        }
    }

    /// `set_by` (the telegram whose timer sent the notice) only names the
    /// notice in the log: the AP decides by its epoch and work area.
    fn on_timeout_notice(&mut self, epoch: u64, set_by: TelegramId) {
        let fix = self.shared.config.patches.timer_fix;
        let current_epoch = self.in_flight.as_ref().map(|f| f.epoch);
        match (fix, current_epoch) {
            (TimerFix::Epoch, Some(e)) if e != epoch => self.ignore_notice("stale epoch", set_by),
            // The wrong epoch fix compares with the generation of the last
            // telegram started, which nobody clears when it ends.
            (TimerFix::EpochUncleared, _) if self.epoch != epoch => {
                self.ignore_notice("stale epoch", set_by)
            }
            (TimerFix::EpochUncleared, None) => self.free_unconditionally(),
            (TimerFix::Epoch | TimerFix::AllocGuard, None) => {
                self.ignore_notice("no work area allocated", set_by)
            }
            (_, Some(_)) => self.terminate(),
            (TimerFix::None, None) => self.free_unconditionally(),
        }
    }

    /// Logged under the telegram in flight, or, with none, under the
    /// notice's own telegram: every event names one.
    fn ignore_notice(&self, reason: &str, set_by: TelegramId) {
        self.emit(
            self.current().or(Some(set_by)),
            EventKind::TimeoutIgnored {
                reason: reason.to_string(),
            },
        );
    }

    /// Termination by timeout of the telegram in flight.
    fn terminate(&mut self) {
        let Some(f) = self.in_flight.take() else {
            return;
        };
        let id = f.telegram.id;
        self.emit(Some(id), EventKind::Terminated);
        self.shared.timers.kill(self.id);
        self.shared.reply(
            self.thread(),
            f.telegram.answer(TelegramKind::ErrorTimeout, vec![]),
        );
        self.free(f.area, id);
    }

    /// TimerFix::None (or the uncleared epoch) with nothing in flight:
    /// termination frees the stale
    /// work-area pointer, an area this AP no longer owns (root cause 2).
    fn free_unconditionally(&mut self) {
        if let Some((area, owner)) = self.work_area_pointer {
            self.free(area, owner);
        }
    }

    /// The AP process dies and restarts: queued telegrams are lost.
    fn abnormal_termination(&mut self, area: u32, owner: TelegramId) {
        self.emit(Some(owner), EventKind::FreeOfUnallocated { area });
        let lost = self.shared.mailboxes[self.id as usize].drain_arrivals();
        for t in &lost {
            self.emit(Some(t.id), EventKind::TelegramLost);
            self.shared.admission.release();
        }
        let lost = lost.len() as u32;
        self.emit(Some(owner), EventKind::ApAbnormalTermination { lost });
        self.in_flight = None;
        self.work_area_pointer = None;
    }

    /// HsmGuard: the wait for the HSM ran out; reset the board, answer with
    /// an error instead of hanging.
    fn on_hsm_wait_timed_out(&mut self) {
        let telegram = self.current();
        self.emit(telegram, EventKind::HsmWaitTimedOut);
        let board = &self.shared.board(self.shared.board_of(self.id)).0;
        board.reset_logged(|dropped| self.emit(telegram, EventKind::HsmReset { dropped }));
        self.finish(TelegramKind::ErrorHsm, vec![]);
    }
}
