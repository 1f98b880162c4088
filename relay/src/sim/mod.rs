//! The deterministic driver: the relay's real code, one thread at a time, on a
//! virtual clock, with every scheduling decision made by a [`Chooser`].
//!
//! Each relay thread is a coroutine on the caller's OS thread (its own stack,
//! switched without the OS), and only the thread holding the baton runs;
//! every platform operation (lock, counter, spawn, join, yield, sleep) is a
//! scheduling point where the chooser picks the next runnable thread, or
//! decides that the clock jumps to the next deadline (a thread preempted long
//! enough for a timer to expire). The list of choices replays the run exactly.
//!
//! When no thread can run and none waits for a deadline, the run is a
//! deadlock: that is how a hang (a lost completion notice) is reported.

mod chooser;
mod driver;

pub use chooser::{Choice, ChoicePoint, Chooser, Footprint, Tid};
pub use driver::{Driver, Fit, RunOutcome, RunReport};

use crate::platform::{Counter, Lock, Millis, Platform, Wait};
use driver::{context, Status};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The simulated platform. Use it only inside [`Driver::run`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Sim;

/// A lock of the simulated platform: never contended (one thread runs at a
/// time); waiting threads are parked in the scheduler.
#[derive(Debug)]
pub struct SimLock<T> {
    id: u64,
    state: Mutex<T>,
}

impl<T> SimLock<T> {
    fn access<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl<T: Send> Lock<T> for SimLock<T> {
    fn new(value: T) -> Self {
        SimLock {
            id: object_id(),
            state: Mutex::new(value),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let (world, me) = context();
        world.schedule(me);
        world.touch(self.id);
        let result = self.access(f);
        world.wake_waiters(self.id);
        result
    }

    fn wait<R>(&self, mut ready: impl FnMut(&mut T) -> Wait<R>) -> R {
        let (world, me) = context();
        world.schedule(me);
        loop {
            world.touch(self.id);
            match self.access(&mut ready) {
                Wait::Ready(result) => {
                    world.wake_waiters(self.id);
                    return result;
                }
                Wait::Pending { until } => world.block(
                    me,
                    Status::Blocked {
                        lock: self.id,
                        until,
                    },
                ),
            }
        }
    }
}

/// Ids of locks and counters, for [`Footprint`]s: they only need to be
/// unique among the objects of one run; a process-wide counter is simplest
/// and objects may be made outside a run.
fn object_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A counter of the simulated platform: every operation is a scheduling point.
#[derive(Debug)]
pub struct SimCounter {
    id: u64,
    value: AtomicU64,
}

impl SimCounter {
    fn step<R>(&self, op: impl FnOnce(&AtomicU64) -> R) -> R {
        let (world, me) = context();
        world.schedule(me);
        world.touch(self.id);
        op(&self.value)
    }
}

impl Counter for SimCounter {
    fn new(value: u64) -> Self {
        SimCounter {
            id: object_id(),
            value: AtomicU64::new(value),
        }
    }
    fn load(&self) -> u64 {
        self.step(|a| a.load(Ordering::SeqCst))
    }
    fn fetch_add(&self, n: u64) -> u64 {
        self.step(|a| a.fetch_add(n, Ordering::SeqCst))
    }
    fn fetch_sub(&self, n: u64) -> u64 {
        self.step(|a| a.fetch_sub(n, Ordering::SeqCst))
    }
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        self.step(|a| a.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst))
    }
}

/// A simulated thread to join.
#[derive(Debug)]
pub struct SimJoinHandle(Tid);

impl Platform for Sim {
    type Mutex<T: Send + 'static> = SimLock<T>;
    type Counter = SimCounter;
    type JoinHandle = SimJoinHandle;

    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> SimJoinHandle {
        let (world, me) = context();
        let tid = world.start_thread(name, f);
        world.touch_all();
        world.schedule(me);
        SimJoinHandle(tid)
    }

    fn join(handle: SimJoinHandle) {
        let (world, me) = context();
        world.schedule(me);
        world.touch_all();
        let finished = world.finished(handle.0);
        if !finished {
            world.block(me, Status::Joining { thread: handle.0 });
        }
    }

    fn yield_now() {
        let (world, me) = context();
        world.schedule(me);
    }

    fn now() -> Millis {
        context().0.clock()
    }

    fn sleep(duration: Millis) {
        let (world, me) = context();
        let until = world.clock().saturating_add(duration);
        world.touch_all();
        world.block(me, Status::Sleeping { until });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn seeded(seed: u64) -> Driver {
        Driver::new(Chooser::Seeded {
            seed,
            clock_jump: 0.2,
        })
    }

    /// Two threads increment a counter with a read-modify-write race.
    fn lost_update() -> u64 {
        let value = Arc::new(SimLock::new(0u64));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let value = value.clone();
                Sim::spawn(&format!("inc-{i}"), move || {
                    let seen = value.with(|v| *v);
                    value.with(|v| *v = seen + 1);
                })
            })
            .collect();
        handles.into_iter().for_each(Sim::join);
        value.with(|v| *v)
    }

    #[test]
    fn a_seed_finds_the_lost_update_and_its_choices_replay_it() {
        let found = (0..50u64).find_map(|seed| {
            let (report, result) = seeded(seed).run(lost_update);
            (result == Some(1)).then_some(report)
        });
        let report = found.expect("some seed among 50 interleaves the increments");
        assert_eq!(report.outcome, RunOutcome::Completed);
        let (again, result) = Driver::new(Chooser::Replay(report.choices.clone())).run(lost_update);
        assert_eq!(result, Some(1));
        assert_eq!(again.choices, report.choices);
        let recorded = report.choices.len();
        assert_eq!(
            again.fit,
            Fit {
                recorded,
                used: recorded,
                defaulted: 0
            },
            "a schedule replays on the code it was recorded on, choice for choice"
        );
    }

    #[test]
    fn a_replay_reports_choices_left_over_and_decided_by_default() {
        let found = (0..50u64).find_map(|seed| {
            let (report, result) = seeded(seed).run(lost_update);
            (result == Some(1)).then_some(report)
        });
        let mut choices = found.expect("some seed interleaves").choices;
        let recorded = choices.len();
        // Too short: the default policy decides the rest.
        let (short, _) = Driver::new(Chooser::Replay(choices[..1].to_vec())).run(lost_update);
        assert_eq!(short.fit.used, 1);
        assert!(short.fit.defaulted > 0, "{:?}", short.fit);
        // Too long: the run ends before the schedule does.
        choices.extend([Choice::Run(0); 5]);
        let (long, _) = Driver::new(Chooser::Replay(choices)).run(lost_update);
        assert_eq!(long.fit.left_over(), 5, "{:?}", long.fit);
        assert_eq!(long.fit.used, recorded);
    }

    #[test]
    fn the_default_schedule_is_sequential() {
        let (report, result) = Driver::new(Chooser::Replay(vec![])).run(lost_update);
        assert_eq!(result, Some(2));
        assert_eq!(report.outcome, RunOutcome::Completed);
    }

    #[test]
    fn a_thread_waiting_forever_is_a_deadlock() {
        let (report, result) = seeded(1).run(|| {
            let never = Arc::new(SimLock::new(false));
            let waiter = never.clone();
            let h = Sim::spawn("waiter", move || {
                waiter.wait(|ready| {
                    if *ready {
                        Wait::Ready(())
                    } else {
                        Wait::blocked()
                    }
                })
            });
            Sim::join(h);
        });
        assert_eq!(result, None);
        match report.outcome {
            RunOutcome::Deadlock { blocked } => {
                assert_eq!(
                    blocked,
                    vec!["main (joining waiter)", "waiter (waiting on a lock)"]
                )
            }
            other => panic!("expected a deadlock, got {other:?}"),
        }
    }

    #[test]
    fn the_clock_jumps_to_deadlines_when_nothing_runs() {
        let (report, woke) = Driver::new(Chooser::Replay(vec![])).run(|| {
            Sim::sleep(30_000);
            Sim::now()
        });
        assert_eq!(woke, Some(30_000));
        assert_eq!(report.clock, 30_000);
    }

    #[test]
    fn a_deadline_wait_times_out_on_the_virtual_clock() {
        let (_, result) = Driver::new(Chooser::Replay(vec![])).run(|| {
            let lock = SimLock::new(());
            let deadline = Sim::now() + 500;
            lock.wait(|_| Wait::or_at_deadline(Some(deadline), Sim::now(), Sim::now()))
        });
        assert_eq!(result, Some(500));
    }

    #[test]
    fn a_far_deadline_is_no_choice_while_threads_can_run() {
        let (report, _) = seeded(4).max_clock_jump(1_000).run(|| {
            let h = Sim::spawn("sleeper", || Sim::sleep(60_000));
            for _ in 0..20 {
                Sim::yield_now();
            }
            Sim::join(h);
        });
        assert!(
            !report.choices.contains(&Choice::Clock),
            "{:?}",
            report.choices
        );
        assert_eq!(report.clock, 60_000);
    }

    #[test]
    fn a_panicking_thread_ends_the_run_with_its_message() {
        let (report, _) = seeded(3).run(|| {
            let h = Sim::spawn("bad", || panic!("work area freed twice"));
            Sim::join(h);
        });
        assert_eq!(
            report.outcome,
            RunOutcome::Panicked {
                thread: "bad".into(),
                message: "work area freed twice".into()
            }
        );
    }

    #[test]
    fn a_replay_that_names_an_absent_thread_diverges() {
        let (report, _) = Driver::new(Chooser::Replay(vec![Choice::Run(9)])).run(lost_update);
        assert!(
            matches!(report.outcome, RunOutcome::ReplayDiverged { .. }),
            "{report:?}"
        );
    }

    #[test]
    fn step_budget_cuts_a_livelock() {
        let (report, _) = seeded(0).max_steps(100).run(|| loop {
            Sim::yield_now();
        });
        assert_eq!(report.outcome, RunOutcome::StepLimit { steps: 100 });
    }
}
