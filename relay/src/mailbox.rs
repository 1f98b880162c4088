//! The business AP's message queue, Windows-like: a posted message stays
//! posted; a reset of the timer does not take back a timeout notice.

use crate::config::Delivery;
use crate::events::HsmOp;
use crate::platform::{Lock, Millis, Platform, Wait};
use crate::telegram::{Telegram, TelegramId};
use std::collections::VecDeque;

/// A message for the AP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A request telegram to process.
    Arrival(Telegram),
    /// The AP's timer fired. The timer id is the worker's, reused for every
    /// telegram (as with `SetTimer(hwnd, ID, ..)`); only the Epoch fix tags
    /// the notice with the generation of the telegram that set it.
    /// `set_by` is for the event log only: the AP never reads it.
    TimeoutNotice {
        timer: u16,
        epoch: u64,
        set_by: TelegramId,
    },
    /// The CPU relayed the HSM's result for a telegram.
    HsmCompleted {
        telegram: TelegramId,
        /// The epoch of the request (see [`crate::hsm::HsmJob::epoch`]).
        epoch: u64,
        op: HsmOp,
        result: Result<Vec<u8>, String>,
    },
}

impl Message {
    fn is_timer(&self) -> bool {
        matches!(self, Message::TimeoutNotice { .. })
    }
}

/// What [`Mailbox::next_logged`] returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Message(Message),
    /// The deadline passed with nothing acceptable.
    TimedOut,
    Shutdown,
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Message>,
    shutdown: bool,
}

impl Queue {
    /// The index of the next message to retrieve, if any.
    fn pick(&self, delivery: Delivery, accept_arrivals: bool) -> Option<usize> {
        let acceptable = |m: &Message| accept_arrivals || !matches!(m, Message::Arrival(_));
        let mut candidates = self
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| acceptable(m));
        match delivery {
            Delivery::Fifo => candidates.next().map(|(i, _)| i),
            Delivery::LowPriority => {
                // The first message that is no timeout notice, else the
                // first notice (no allocation: this runs on every turn).
                let mut first = None;
                for (i, m) in candidates {
                    if !m.is_timer() {
                        return Some(i);
                    }
                    first.get_or_insert(i);
                }
                first
            }
        }
    }
}

/// One AP worker's queue.
pub struct Mailbox<P: Platform> {
    queue: P::Mutex<Queue>,
    delivery: Delivery,
    /// Turns of the AP's message loop completed (a message handled or a
    /// deadline taken). An observer for step-by-step drivers: a plain std
    /// atomic, never a scheduling point.
    turns: std::sync::atomic::AtomicU64,
}

impl<P: Platform> Mailbox<P> {
    pub fn new(delivery: Delivery) -> Self {
        Mailbox {
            queue: P::Mutex::new(Queue::default()),
            delivery,
            turns: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn post(&self, message: Message) {
        self.post_logged(message, || {});
    }

    /// Posts and calls `log` while the queue is locked, so the event log's
    /// order of posts is the queue's order (a log a refinement checker can
    /// trust). `log` must not call the platform: record an event, nothing else.
    pub fn post_logged(&self, message: Message, log: impl FnOnce()) {
        self.queue.with(|q| {
            q.messages.push_back(message);
            log();
        });
    }

    /// [`Mailbox::post_logged`], unless the queue has shut down (then the
    /// message comes back and nothing is logged): one lock either way.
    pub fn post_unless_shut_down(
        &self,
        message: Message,
        log: impl FnOnce(),
    ) -> Result<(), Message> {
        self.queue.with(|q| {
            if q.shutdown {
                return Err(message);
            }
            q.messages.push_back(message);
            log();
            Ok(())
        })
    }

    /// [`Mailbox::next_logged`] with nothing to log (unit tests).
    #[cfg(test)]
    fn next(&self, accept_arrivals: bool, until: Option<Millis>) -> Next {
        self.next_logged(accept_arrivals, until, |_| {})
    }

    /// Retrieves the next message; arrivals only when `accept_arrivals`
    /// (the AP takes a new telegram only when idle). Calls `log` with the
    /// retrieved message while the queue is still locked (see
    /// [`Mailbox::post_logged`]).
    pub fn next_logged(
        &self,
        accept_arrivals: bool,
        until: Option<Millis>,
        mut log: impl FnMut(&Message),
    ) -> Next {
        let delivery = self.delivery;
        self.queue.wait(|q| {
            if q.shutdown {
                return Wait::Ready(Next::Shutdown);
            }
            if let Some(i) = q.pick(delivery, accept_arrivals) {
                let m = q.messages.remove(i).expect("picked index exists");
                log(&m);
                return Wait::Ready(Next::Message(m));
            }
            Wait::or_at_deadline(until, P::now(), Next::TimedOut)
        })
    }

    /// Takes every queued arrival (an AP restart loses them).
    pub fn drain_arrivals(&self) -> Vec<Telegram> {
        self.queue.with(|q| {
            let (arrivals, rest): (Vec<_>, Vec<_>) = q
                .messages
                .drain(..)
                .partition(|m| matches!(m, Message::Arrival(_)));
            q.messages = rest.into();
            arrivals
                .into_iter()
                .filter_map(|m| match m {
                    Message::Arrival(t) => Some(t),
                    _ => None,
                })
                .collect()
        })
    }

    /// Timeout notices waiting in the queue.
    pub fn pending_timeout_notices(&self) -> usize {
        self.queue
            .with(|q| q.messages.iter().filter(|m| m.is_timer()).count())
    }

    pub fn shutdown(&self) {
        self.queue.with(|q| q.shutdown = true);
    }

    /// Turns of the AP's message loop completed so far (observer only).
    #[doc(hidden)]
    pub fn turns(&self) -> u64 {
        self.turns.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn turn_done(&self) {
        self.turns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::within;
    use crate::platform::Std;
    use crate::telegram::{CardId, CsId, TelegramKind};
    use std::sync::Arc;

    /// The next message, failing the test if the wait does not end.
    fn next(mb: &Arc<Mailbox<Std>>, accept_arrivals: bool) -> Next {
        let mb = mb.clone();
        within("Mailbox::next", move || mb.next(accept_arrivals, None))
    }

    fn arrival(id: u64) -> Message {
        Message::Arrival(Telegram {
            kind: TelegramKind::Register,
            cs: CsId(0),
            id: TelegramId(id),
            card: CardId(id),
            payload: vec![],
        })
    }

    fn notice() -> Message {
        Message::TimeoutNotice {
            timer: 0,
            epoch: 1,
            set_by: TelegramId(1),
        }
    }

    fn completion() -> Message {
        Message::HsmCompleted {
            telegram: TelegramId(2),
            epoch: 1,
            op: HsmOp::Decrypt,
            result: Ok(vec![]),
        }
    }

    #[test]
    fn fifo_delivers_a_notice_before_a_later_message() {
        let mb = Arc::new(Mailbox::<Std>::new(Delivery::Fifo));
        mb.post(notice());
        mb.post(completion());
        assert_eq!(next(&mb, false), Next::Message(notice()));
    }

    #[test]
    fn low_priority_delivers_a_notice_only_when_nothing_else_waits() {
        let mb = Arc::new(Mailbox::<Std>::new(Delivery::LowPriority));
        mb.post(notice());
        mb.post(completion());
        assert_eq!(next(&mb, false), Next::Message(completion()));
        assert_eq!(next(&mb, false), Next::Message(notice()));
    }

    #[test]
    fn a_busy_ap_leaves_arrivals_queued() {
        let mb = Arc::new(Mailbox::<Std>::new(Delivery::Fifo));
        mb.post(arrival(2));
        mb.post(notice());
        assert_eq!(next(&mb, false), Next::Message(notice()));
        assert_eq!(next(&mb, true), Next::Message(arrival(2)));
    }

    #[test]
    fn a_deadline_with_nothing_acceptable_times_out() {
        let mb = Arc::new(Mailbox::<Std>::new(Delivery::Fifo));
        mb.post(arrival(2));
        let until = Std::now() + 5;
        assert_eq!(mb.next(false, Some(until)), Next::TimedOut);
    }

    #[test]
    fn draining_keeps_other_messages() {
        let mb = Arc::new(Mailbox::<Std>::new(Delivery::Fifo));
        mb.post(arrival(2));
        mb.post(notice());
        mb.post(arrival(3));
        assert_eq!(mb.drain_arrivals().len(), 2);
        assert_eq!(mb.pending_timeout_notices(), 1);
        mb.shutdown();
        assert_eq!(next(&mb, true), Next::Shutdown);
    }

    #[test]
    fn notices_are_counted_as_they_queue() {
        let mb = Arc::new(Mailbox::<Std>::new(Delivery::Fifo));
        assert_eq!(mb.pending_timeout_notices(), 0);
        mb.post(notice());
        mb.post(arrival(2));
        mb.post(notice());
        assert_eq!(mb.pending_timeout_notices(), 2);
    }

    #[test]
    fn a_shut_down_mailbox_hands_the_message_back_unlogged() {
        let mb = Arc::new(Mailbox::<Std>::new(Delivery::Fifo));
        let mut logged = 0;
        assert_eq!(mb.post_unless_shut_down(arrival(2), || logged += 1), Ok(()));
        assert_eq!(logged, 1);
        mb.shutdown();
        let refused = mb.post_unless_shut_down(arrival(3), || logged += 1);
        assert_eq!(refused, Err(arrival(3)));
        assert_eq!(logged, 1, "nothing logged for a refused message");
    }

    #[test]
    fn turns_count_the_loops_completed() {
        let mb = Mailbox::<Std>::new(Delivery::Fifo);
        assert_eq!(mb.turns(), 0);
        mb.turn_done();
        mb.turn_done();
        assert_eq!(mb.turns(), 2);
    }
}
