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
    /// Whether the timer thread is waiting, and until when (`Some(None)`:
    /// for a change, with no deadline); `None` while it runs. So arming a
    /// timer due after the thread wakes anyway need not wake it.
    sleeping_until: Option<Option<Millis>>,
}

impl Table {
    /// Whether a timer due at `deadline` is due before the timer thread
    /// would look again by itself.
    fn due_before_next_look(&self, deadline: Millis) -> bool {
        match self.sleeping_until {
            None => false,
            Some(None) => true,
            Some(Some(until)) => deadline < until,
        }
    }
}

/// The timer table; its thread is [`TimerService::run_logged`].
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
        // A timer due no sooner than the sleeping timer thread's own
        // wake-up is seen then: waking it now would be a context switch per
        // telegram on real threads (on the explorers' platforms `set` is
        // `with`, the same step as ever).
        self.table.with_wake_if(|t| {
            t.armed.insert(armed.timer, armed);
            ((), t.due_before_next_look(armed.deadline))
        });
    }

    /// `KillTimer`: true if the timer was still armed. False means it has
    /// fired: its notice is (or is about to be) in the worker's queue.
    pub fn kill(&self, timer: u16) -> bool {
        // Disarming makes no timer due sooner: the timer thread need not
        // wake (on real threads that was a context switch per telegram).
        self.table
            .with_no_wake(|t| t.armed.remove(&timer).is_some())
    }

    pub fn armed(&self) -> usize {
        self.table.with(|t| t.armed.len())
    }

    /// [`TimerService::run_logged`] with nothing to log (unit tests).
    #[cfg(test)]
    fn run(&self, post: impl FnMut(Armed)) {
        self.run_logged(|_| {}, post);
    }

    /// The timer thread: fires each timer whose deadline has passed, handing
    /// it to `post` (which queues the notice), until shutdown. Calls
    /// `on_fire` while the table is locked at the moment a timer fires: from
    /// then on `kill` cannot remove it, so that is when the event log should
    /// say the notice exists. `on_fire` must not call the platform.
    pub fn run_logged(&self, mut on_fire: impl FnMut(&Armed), mut post: impl FnMut(Armed)) {
        loop {
            let fired = self.table.wait(|t| {
                t.sleeping_until = None;
                if t.shutdown {
                    return Wait::Ready(None);
                }
                let now = P::now();
                let due = t.armed.values().find(|a| a.deadline <= now).copied();
                match due {
                    Some(a) => {
                        t.armed.remove(&a.timer);
                        on_fire(&a);
                        Wait::Ready(Some(a))
                    }
                    None => {
                        let until = t.armed.values().map(|a| a.deadline).min();
                        t.sleeping_until = Some(until);
                        Wait::Pending { until }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Std;
    use std::sync::{mpsc, Arc};

    fn armed(deadline: Millis) -> Armed {
        Armed {
            timer: 0,
            epoch: 1,
            set_by: TelegramId(1),
            deadline,
        }
    }

    #[test]
    fn a_killed_timer_never_fires() {
        let timers = TimerService::<Std>::new();
        timers.set(armed(Std::now() + 60_000));
        assert!(timers.kill(0));
        assert_eq!(timers.armed(), 0);
        assert!(!timers.kill(0));
    }

    #[test]
    fn a_fired_timer_cannot_be_killed_and_its_notice_stays_posted() {
        let timers = Arc::new(TimerService::<Std>::new());
        let (posted, notices) = mpsc::channel();
        let thread = {
            let timers = timers.clone();
            std::thread::spawn(move || timers.run(|a| posted.send(a).unwrap()))
        };
        let at = Std::now();
        timers.set(armed(at));
        let notice = notices
            .recv_timeout(crate::deadline::LIMIT)
            .expect("the timer thread fired the due timer");
        assert_eq!(notice.set_by, TelegramId(1));
        assert!(
            !timers.kill(0),
            "KillTimer after the fire has nothing to remove"
        );
        timers.shutdown();
        crate::deadline::within("the timer thread stopping at shutdown", move || {
            thread.join().unwrap()
        });
    }

    #[test]
    fn a_timer_due_before_the_sleeping_thread_looks_again_wakes_it() {
        let timers = Arc::new(TimerService::<Std>::new());
        let (posted, notices) = mpsc::channel();
        let thread = {
            let timers = timers.clone();
            std::thread::spawn(move || timers.run(|a| posted.send(a).unwrap()))
        };
        // The thread goes to sleep until the first timer, a minute away;
        // a second one due now must wake it, not wait for the first.
        let later = Std::now() + 60_000;
        timers.set(armed(later));
        let asleep = timers.clone();
        crate::deadline::within("the timer thread going to sleep", move || {
            while asleep.table.with_no_wake(|t| t.sleeping_until) != Some(Some(later)) {
                std::thread::yield_now();
            }
        });
        timers.set(Armed {
            timer: 1,
            set_by: TelegramId(2),
            ..armed(Std::now())
        });
        let notice = notices
            .recv_timeout(crate::deadline::LIMIT)
            .expect("the earlier timer fired without waiting for the later one");
        assert_eq!(notice.set_by, TelegramId(2));
        timers.shutdown();
        crate::deadline::within("the timer thread stopping at shutdown", move || {
            thread.join().unwrap()
        });
    }

    #[test]
    fn only_a_timer_due_before_the_next_look_needs_a_wake_up() {
        let mut table = Table::default();
        assert!(!table.due_before_next_look(5), "running: it looks anyway");
        table.sleeping_until = Some(None);
        assert!(table.due_before_next_look(5), "asleep with no deadline");
        table.sleeping_until = Some(Some(10));
        assert!(table.due_before_next_look(9));
        assert!(!table.due_before_next_look(10), "due when it wakes anyway");
    }

    #[test]
    fn set_replaces_the_armed_timer_of_the_same_id() {
        let timers = TimerService::<Std>::new();
        timers.set(armed(Std::now() + 60_000));
        timers.set(Armed {
            epoch: 2,
            ..armed(Std::now() + 90_000)
        });
        assert_eq!(timers.armed(), 1);
    }
}
