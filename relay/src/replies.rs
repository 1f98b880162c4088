//! Answers on their way back to the CSs.

use crate::platform::{Lock, Millis, Platform, Wait};
use crate::telegram::{CsId, Telegram, TelegramId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

/// How long a long-running relay remembers how often a telegram was
/// answered. The checkers' relays remember every telegram (their runs are
/// short and the count is what they check); relayd would grow without bound,
/// so it forgets a telegram once its first answer is older than `window`
/// (past the time a retry of it can still be in the relay), and the oldest
/// first beyond `cap` telegrams. A second answer within the window is still
/// counted as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub window: Millis,
    pub cap: usize,
}

#[derive(Debug, Default)]
struct Board {
    by_cs: BTreeMap<CsId, VecDeque<Telegram>>,
    /// How many answers each telegram got (exactly one is right).
    answers: BTreeMap<TelegramId, u32>,
    /// With a [`Retention`]: the remembered telegrams by their first answer's
    /// time, oldest first.
    first_answered: VecDeque<(Millis, TelegramId)>,
    shutdown: bool,
}

impl Board {
    /// Counts an answer to `id` posted at `now`, then forgets what the
    /// retention no longer covers.
    fn count(&mut self, id: TelegramId, now: Option<Millis>, retention: Option<Retention>) {
        let count = self.answers.entry(id).or_default();
        *count += 1;
        let (Some(now), Some(retention)) = (now, retention) else {
            return;
        };
        if *count == 1 {
            self.first_answered.push_back((now, id));
        }
        while let Some(&(at, oldest)) = self.first_answered.front() {
            let expired = now.saturating_sub(at) > retention.window;
            if !expired && self.first_answered.len() <= retention.cap {
                break;
            }
            self.first_answered.pop_front();
            self.answers.remove(&oldest);
        }
    }
}

/// Where a front end that routes answers itself takes them (relayd's
/// router), called in the thread that posts the answer.
pub type Forward = Box<dyn Fn(Telegram) + Send + Sync>;

/// Per-CS queues of answers.
pub struct ReplyBoard<P: Platform> {
    board: P::Mutex<Board>,
    retention: Option<Retention>,
    /// Set once, before traffic, by a front end on real threads.
    forward: OnceLock<Forward>,
}

impl<P: Platform> Default for ReplyBoard<P> {
    fn default() -> Self {
        ReplyBoard::new(None)
    }
}

impl<P: Platform> ReplyBoard<P> {
    /// A board remembering answer counts per `retention` (`None`: forever).
    pub fn new(retention: Option<Retention>) -> Self {
        ReplyBoard {
            board: P::Mutex::new(Board::default()),
            retention,
            forward: OnceLock::new(),
        }
    }

    /// From now on hands every answer to `forward`, in the posting thread,
    /// instead of queueing it for [`ReplyBoard::take`] and
    /// [`ReplyBoard::take_any`]; answers are counted as before. A front end
    /// routing answers itself saves a thread waiting on the board and a
    /// hand-off per answer. False if a forward was set already. The
    /// explorers never set one: their relays take the same steps as ever.
    pub fn forward_to(&self, forward: Forward) -> bool {
        self.forward.set(forward).is_ok()
    }

    pub fn post(&self, answer: Telegram) {
        // The clock is read only when something is forgotten by age, so the
        // checkers' relays (no retention) take the same steps as ever.
        let now = self.retention.map(|_| P::now());
        match self.forward.get() {
            None => self.board.with(|b| {
                b.count(answer.id, now, self.retention);
                b.by_cs.entry(answer.cs).or_default().push_back(answer);
            }),
            Some(forward) => {
                // Nothing was queued: no waiter on the board can be ready.
                self.board
                    .with_no_wake(|b| b.count(answer.id, now, self.retention));
                forward(answer);
            }
        }
    }

    /// The next answer for `cs`, waiting until `until` at most (forever if
    /// `None`); `None` on timeout or shutdown.
    pub fn take(&self, cs: CsId, until: Option<Millis>) -> Option<Telegram> {
        self.board.wait(|b| {
            if let Some(answer) = b.by_cs.get_mut(&cs).and_then(VecDeque::pop_front) {
                return Wait::Ready(Some(answer));
            }
            if b.shutdown {
                Wait::Ready(None)
            } else {
                Wait::or_at_deadline(until, P::now(), None)
            }
        })
    }

    /// The next answer for any CS, waiting until `until` at most (forever if
    /// `None`); `None` on timeout or shutdown. For a front end that routes
    /// answers to connections itself.
    pub fn take_any(&self, until: Option<Millis>) -> Option<Telegram> {
        self.board.wait(|b| {
            let queued = b.by_cs.values_mut().find_map(VecDeque::pop_front);
            if let Some(answer) = queued {
                return Wait::Ready(Some(answer));
            }
            if b.shutdown {
                Wait::Ready(None)
            } else {
                Wait::or_at_deadline(until, P::now(), None)
            }
        })
    }

    /// Answers given per telegram (the remembered ones, with a retention).
    pub fn answer_counts(&self) -> BTreeMap<TelegramId, u32> {
        self.board.with(|b| b.answers.clone())
    }

    /// Telegrams whose answer count is remembered.
    pub fn remembered(&self) -> usize {
        self.board.with(|b| b.answers.len())
    }

    pub fn shutdown(&self) {
        self.board.with(|b| b.shutdown = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETENTION: Retention = Retention {
        window: 1_000,
        cap: 100,
    };

    fn answered(board: &mut Board, id: u64, at: Millis) {
        board.count(TelegramId(id), Some(at), Some(RETENTION));
    }

    #[test]
    fn with_a_retention_memory_stays_flat_and_a_recent_double_answer_still_counts() {
        let mut board = Board::default();
        for id in 0..10_000 {
            answered(&mut board, id, id / 10);
            assert!(board.answers.len() <= RETENTION.cap);
            assert_eq!(board.answers.len(), board.first_answered.len());
        }
        assert_eq!(
            board.answers.len(),
            RETENTION.cap,
            "the cap, not the window, bounds 10 a ms"
        );
        answered(&mut board, 9_990, 999);
        assert_eq!(
            board.answers[&TelegramId(9_990)],
            2,
            "a double answer is seen"
        );
        assert!(
            !board.answers.contains_key(&TelegramId(9_899)),
            "the oldest are forgotten"
        );
    }

    #[test]
    fn a_telegram_is_forgotten_once_its_window_has_passed_and_not_before() {
        let mut board = Board::default();
        answered(&mut board, 1, 0);
        answered(&mut board, 2, 1_000);
        assert_eq!(board.answers.len(), 2, "1 is exactly at its window");
        answered(&mut board, 3, 1_001);
        assert_eq!(
            board.answers.keys().map(|t| t.0).collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[test]
    fn a_forward_takes_every_answer_and_the_count_is_kept() {
        use crate::telegram::{CardId, TelegramKind};
        let board = ReplyBoard::<crate::Std>::default();
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(board.forward_to(Box::new(move |a| tx.send(a).unwrap())));
        board.post(Telegram {
            kind: TelegramKind::ReplyOk,
            cs: CsId(1),
            id: TelegramId(7),
            card: CardId(1),
            payload: vec![],
        });
        assert_eq!(rx.try_recv().map(|a| a.id), Ok(TelegramId(7)));
        assert_eq!(board.answer_counts()[&TelegramId(7)], 1);
        assert_eq!(board.take_any(Some(0)), None, "nothing queued");
        assert!(!board.forward_to(Box::new(|_| {})), "set once");
    }

    #[test]
    fn without_a_retention_every_telegram_is_remembered() {
        let mut board = Board::default();
        for id in 0..1_000 {
            board.count(TelegramId(id), None, None);
        }
        assert_eq!(board.answers.len(), 1_000);
        assert!(board.first_answered.is_empty());
    }
}
