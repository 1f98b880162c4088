//! Answers on their way back to the CSs.

use crate::platform::{Lock, Millis, Platform, Wait};
use crate::telegram::{CsId, Telegram, TelegramId};
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Default)]
struct Board {
    by_cs: BTreeMap<CsId, VecDeque<Telegram>>,
    /// How many answers each telegram got (exactly one is right).
    answers: BTreeMap<TelegramId, u32>,
    shutdown: bool,
}

/// Per-CS queues of answers.
pub struct ReplyBoard<P: Platform> {
    board: P::Mutex<Board>,
}

impl<P: Platform> Default for ReplyBoard<P> {
    fn default() -> Self {
        ReplyBoard {
            board: P::Mutex::new(Board::default()),
        }
    }
}

impl<P: Platform> ReplyBoard<P> {
    pub fn post(&self, answer: Telegram) {
        self.board.with(|b| {
            *b.answers.entry(answer.id).or_default() += 1;
            b.by_cs.entry(answer.cs).or_default().push_back(answer);
        });
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

    /// Answers given per telegram.
    pub fn answer_counts(&self) -> BTreeMap<TelegramId, u32> {
        self.board.with(|b| b.answers.clone())
    }

    pub fn shutdown(&self) {
        self.board.with(|b| b.shutdown = true);
    }
}
