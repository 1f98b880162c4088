//! Answers from the relay back to the connections waiting for them.
//!
//! The relay hands every answer to the router as it posts it
//! ([`relay::replies::ReplyBoard::forward_to`], in the posting thread: no
//! thread of its own, no hand-off), and the router gives it to the oldest
//! connection waiting for that telegram (a CS on the Improved rule may have
//! the same telegram on two connections: a retry while the first attempt is
//! still in the relay).

use relay::telegram::{Telegram, TelegramId};
use relay::{RelayHandle, Std};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// A connection's place in the queue of one telegram's waiters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

/// The connections waiting for one telegram's answers, oldest first.
type Waiters = VecDeque<(Ticket, SyncSender<Telegram>)>;

/// Connections waiting for answers, by telegram.
#[derive(Default)]
pub struct Router {
    waiting: Mutex<HashMap<TelegramId, Waiters>>,
    next: AtomicU64,
}

impl Router {
    /// Registers a connection for the next answer to `telegram`: before the
    /// telegram is submitted, so its answer cannot arrive first.
    pub fn expect(&self, telegram: TelegramId) -> (Ticket, Receiver<Telegram>) {
        let (tx, rx) = sync_channel(1);
        let ticket = Ticket(self.next.fetch_add(1, Ordering::Relaxed));
        self.lock()
            .entry(telegram)
            .or_default()
            .push_back((ticket, tx));
        (ticket, rx)
    }

    /// Withdraws a registration whose telegram will get no answer through
    /// the router (refused, or given up on).
    pub fn cancel(&self, telegram: TelegramId, ticket: Ticket) {
        let mut waiting = self.lock();
        if let Some(queue) = waiting.get_mut(&telegram) {
            queue.retain(|(t, _)| *t != ticket);
            if queue.is_empty() {
                waiting.remove(&telegram);
            }
        }
    }

    /// Hands an answer to the oldest connection waiting for it; gives it back
    /// when nobody is (the connection gave up before the relay answered).
    pub fn deliver(&self, answer: Telegram) -> Result<(), Telegram> {
        let mut waiting = self.lock();
        let Some(queue) = waiting.get_mut(&answer.id) else {
            return Err(answer);
        };
        let next = queue.pop_front();
        if queue.is_empty() {
            waiting.remove(&answer.id);
        }
        match next {
            Some((_, tx)) => tx.send(answer).map_err(|e| e.0),
            None => Err(answer),
        }
    }

    /// Takes every answer of `relay` from now on: each goes to its
    /// connection, or is logged when the connection already gave up.
    pub fn serve(self: &Arc<Self>, relay: &RelayHandle<Std>) {
        let router = self.clone();
        relay.shared().replies.forward_to(Box::new(move |answer| {
            if let Err(orphan) = router.deliver(answer) {
                let current = std::thread::current();
                tracing::warn!(
                    thread = current.name().unwrap_or("?"),
                    telegram = %orphan.id,
                    cs = %orphan.cs,
                    kind = ?orphan.kind,
                    "answer for a connection that already gave up"
                );
            }
        }));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TelegramId, Waiters>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay::telegram::{CardId, CsId, TelegramKind};

    fn answer(id: u64) -> Telegram {
        Telegram {
            kind: TelegramKind::ReplyOk,
            cs: CsId(1),
            id: TelegramId(id),
            card: CardId(1),
            payload: vec![],
        }
    }

    #[test]
    fn answers_go_to_the_oldest_waiter_and_orphans_come_back() {
        let router = Router::default();
        let (_, first) = router.expect(TelegramId(7));
        let (_, second) = router.expect(TelegramId(7));
        router.deliver(answer(7)).unwrap();
        assert_eq!(first.try_recv().unwrap().id, TelegramId(7));
        assert!(second.try_recv().is_err());
        router.deliver(answer(7)).unwrap();
        assert!(second.try_recv().is_ok());
        assert_eq!(router.deliver(answer(7)), Err(answer(7)));

        let (ticket, _rx) = router.expect(TelegramId(8));
        router.cancel(TelegramId(8), ticket);
        assert_eq!(router.deliver(answer(8)), Err(answer(8)));
    }
}
