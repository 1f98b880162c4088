//! The OS timer service, with Windows semantics: one timer id per AP worker,
//! `set` replaces an armed timer, `kill` disarms it, and a timer that already
//! fired has posted its notice: `kill` cannot take the notice back
//! (`KillTimer` does not remove a posted `WM_TIMER`).

use crate::platform::{Lock, Millis, Platform, Wait};
use crate::telegram::TelegramId;
use std::collections::BTreeMap;

/// An armed timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Armed {
    pub timer: u16,
    pub epoch: u64,
    pub set_by: TelegramId,
    pub deadline: Millis,
}

#[derive(Debug, Default)]
struct Table {
    armed: BTreeMap<u16, Armed>,
    shutdown: bool,
}

/// The timer table; its thread is [`TimerService::run`].
pub struct TimerService<P: Platform> {
    table: P::Mutex<Table>,
}

impl<P: Platform> Default for TimerService<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Platform> TimerService<P> {
    pub fn new() -> Self {
        TimerService {
            table: P::Mutex::new(Table::default()),
        }
    }

    /// `SetTimer`: arms (or re-arms) the timer.
    pub fn set(&self, armed: Armed) {
        self.table.with(|t| t.armed.insert(armed.timer, armed));
    }

    /// `KillTimer`: true if the timer was still armed. False means it has
    /// fired: its notice is (or is about to be) in the worker's queue.
    pub fn kill(&self, timer: u16) -> bool {
        self.table.with(|t| t.armed.remove(&timer).is_some())
    }

    pub fn armed(&self) -> usize {
        self.table.with(|t| t.armed.len())
    }

    /// The timer thread: fires each timer whose deadline has passed, handing
    /// it to `post` (which queues the notice), until shutdown.
    pub fn run(&self, mut post: impl FnMut(Armed)) {
        loop {
            let fired = self.table.wait(|t| {
                if t.shutdown {
                    return Wait::Ready(None);
                }
                let now = P::now();
                let due = t.armed.values().find(|a| a.deadline <= now).copied();
                match due {
                    Some(a) => {
                        t.armed.remove(&a.timer);
                        Wait::Ready(Some(a))
                    }
                    None => Wait::Pending {
                        until: t.armed.values().map(|a| a.deadline).min(),
                    },
                }
            });
            match fired {
                Some(armed) => post(armed),
                None => return,
            }
        }
    }

    pub fn shutdown(&self) {
        self.table.with(|t| t.shutdown = true);
    }
}
