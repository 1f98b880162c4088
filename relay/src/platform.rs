//! The `Platform` seam: everything the relay does that a checker must control.
//!
//! The relay's types are generic over `P: Platform`, so the same code runs on
//! real threads ([`Std`]), on the deterministic driver ([`crate::sim::Sim`]),
//! and under loom and shuttle (implemented in `loom-tests`), with no cfg flags.
//!
//! Interrupt delivery is not a method here: the interrupt controller is relay
//! state behind a [`Lock`] and the CPU core is a relay thread, so a checker that
//! controls locks and thread scheduling controls when an interrupt is delivered.
//!
//! Time is the platform's. Real and simulated platforms have a clock; loom and
//! shuttle have none and report [`END_OF_TIME`]: every deadline may already have
//! passed, so an armed timer can fire at any point the explorer chooses. A
//! thread that blocks and is woken later is indistinguishable from one that was
//! simply scheduled later, so nothing is lost by that abstraction.

use std::fmt::Debug;

/// Milliseconds on the platform's clock.
pub type Millis = u64;

/// What `now()` returns on a platform without a clock (loom, shuttle).
pub const END_OF_TIME: Millis = Millis::MAX;

/// The answer of a [`Lock::wait`] condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait<R> {
    /// The condition holds; `wait` returns this value.
    Ready(R),
    /// Not yet: wake me when the lock's state changes, or at `until` (on the
    /// platform clock) so that I can re-check a deadline.
    Pending { until: Option<Millis> },
}

impl<R> Wait<R> {
    /// Pending until the state changes, with no deadline.
    pub const fn blocked() -> Self {
        Wait::Pending { until: None }
    }

    /// Not ready yet: `expired` once the clock (`now`) has reached
    /// `deadline`, else pending until it (forever if `None`). The one place
    /// the relay's bounded waits decide that their time is up.
    pub fn or_at_deadline(deadline: Option<Millis>, now: Millis, expired: R) -> Self {
        match deadline {
            Some(d) if now >= d => Wait::Ready(expired),
            _ => Wait::Pending { until: deadline },
        }
    }
}

/// A mutex with a built-in condition: the only way relay threads share state.
///
/// A closure API avoids guard lifetimes across the backends. Closures must not
/// call back into the platform (no nested locks, no spawning, no sleeping): they
/// are atomic steps of the explored program.
pub trait Lock<T>: Send + Sync {
    fn new(value: T) -> Self;
    /// Runs `f` with exclusive access and wakes every thread waiting here.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
    /// Blocks until `ready` answers [`Wait::Ready`]; `ready` is re-evaluated
    /// after every change of the state and when its deadline passes.
    fn wait<R>(&self, ready: impl FnMut(&mut T) -> Wait<R>) -> R;
    /// [`Lock::with`] for a change that can make no waiter ready (a timer
    /// disarmed): a platform may skip the wake-up. By default it is `with`,
    /// so the explorers see the same steps either way.
    fn with_no_wake<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.with(f)
    }
    /// [`Lock::with`] where `f` itself says whether the change can make a
    /// waiter ready (a timer armed later than the timer thread's wake-up):
    /// a platform may skip the wake-up when it says no. By default it is
    /// `with`, so the explorers see the same steps either way.
    fn with_wake_if<R>(&self, f: impl FnOnce(&mut T) -> (R, bool)) -> R {
        self.with(|t| f(t).0)
    }
}

/// A shared counter (sequentially consistent), e.g. the admission counter.
pub trait Counter: Send + Sync {
    fn new(value: u64) -> Self;
    fn load(&self) -> u64;
    fn fetch_add(&self, n: u64) -> u64;
    fn fetch_sub(&self, n: u64) -> u64;
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64>;
}

/// Threads, locks, counters and time, as a checker sees them.
pub trait Platform: Send + Sync + 'static {
    type Mutex<T: Send + 'static>: Lock<T>;
    type Counter: Counter;
    type JoinHandle: Send;

    /// Whether a relay thread's panic is caught and supervised (the worker
    /// reports its telegram in flight lost and is restarted). Only on real
    /// threads: explorers report a panic as a finding, so theirs propagate.
    const SUPERVISED: bool = false;

    /// Starts a thread; `name` is for diagnostics only.
    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Self::JoinHandle;
    /// Waits for the thread to finish; a panic in it is propagated.
    fn join(handle: Self::JoinHandle);
    fn yield_now();
    /// The platform clock, or [`END_OF_TIME`] where there is none.
    fn now() -> Millis;
    fn sleep(duration: Millis);
}

/// Adds a duration to a point in time without overflowing past the end of time.
pub fn deadline_after(now: Millis, duration: Millis) -> Millis {
    now.saturating_add(duration)
}

/// The real platform: OS threads, std mutexes and condition variables, the
/// monotonic clock (milliseconds since the first call).
#[derive(Debug, Clone, Copy, Default)]
pub struct Std;

/// A std mutex with a condition variable.
#[derive(Debug)]
pub struct StdLock<T> {
    state: std::sync::Mutex<T>,
    changed: std::sync::Condvar,
    /// Threads blocked in [`Lock::wait`]; changed only under `state`'s lock,
    /// so a change made under it sees every waiter that could miss it. A
    /// change with nobody waiting skips the wake-up (a futex system call per
    /// change was most of relayd's locking cost).
    waiters: std::sync::atomic::AtomicUsize,
}

impl<T: Send> Lock<T> for StdLock<T> {
    fn new(value: T) -> Self {
        StdLock {
            state: std::sync::Mutex::new(value),
            changed: std::sync::Condvar::new(),
            waiters: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = self.lock();
        let result = f(&mut guard);
        self.unlock_and_wake(guard);
        result
    }

    fn with_no_wake<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock())
    }

    fn with_wake_if<R>(&self, f: impl FnOnce(&mut T) -> (R, bool)) -> R {
        let mut guard = self.lock();
        let (result, wake) = f(&mut guard);
        if wake {
            self.unlock_and_wake(guard);
        }
        result
    }

    fn wait<R>(&self, mut ready: impl FnMut(&mut T) -> Wait<R>) -> R {
        let mut guard = self.lock();
        loop {
            let until = match ready(&mut guard) {
                Wait::Ready(result) => {
                    self.unlock_and_wake(guard);
                    return result;
                }
                Wait::Pending { until } => until,
            };
            self.waiters.fetch_add(1, Relaxed);
            guard = match until {
                None => self.changed.wait(guard).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_sub(Std::now()).max(1);
                    let timeout = std::time::Duration::from_millis(left);
                    match self.changed.wait_timeout(guard, timeout) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    }
                }
            };
            self.waiters.fetch_sub(1, Relaxed);
        }
    }
}

use std::sync::atomic::Ordering::Relaxed;

impl<T> StdLock<T> {
    /// Releases the lock and wakes the waiters, if any: they re-check
    /// their condition against the changed state.
    fn unlock_and_wake(&self, guard: std::sync::MutexGuard<'_, T>) {
        let anyone_waiting = self.waiters.load(Relaxed) > 0;
        drop(guard);
        if anyone_waiting {
            self.changed.notify_all();
        }
    }

    // A panic in another relay thread must not turn every later access into a
    // second panic: the state is still consistent (closures are atomic steps).
    fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A std atomic counter.
#[derive(Debug, Default)]
pub struct StdCounter(std::sync::atomic::AtomicU64);

impl Counter for StdCounter {
    fn new(value: u64) -> Self {
        StdCounter(std::sync::atomic::AtomicU64::new(value))
    }
    fn load(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn fetch_add(&self, n: u64) -> u64 {
        self.0.fetch_add(n, std::sync::atomic::Ordering::SeqCst)
    }
    fn fetch_sub(&self, n: u64) -> u64 {
        self.0.fetch_sub(n, std::sync::atomic::Ordering::SeqCst)
    }
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        use std::sync::atomic::Ordering::SeqCst;
        self.0.compare_exchange(current, new, SeqCst, SeqCst)
    }
}

fn process_epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

impl Platform for Std {
    type Mutex<T: Send + 'static> = StdLock<T>;
    type Counter = StdCounter;
    type JoinHandle = std::thread::JoinHandle<()>;
    const SUPERVISED: bool = true;

    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Self::JoinHandle {
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(f)
            .expect("the OS refused to start a relay thread")
    }

    fn join(handle: Self::JoinHandle) {
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    }

    fn yield_now() {
        std::thread::yield_now();
    }

    fn now() -> Millis {
        process_epoch().elapsed().as_millis() as Millis
    }

    fn sleep(duration: Millis) {
        std::thread::sleep(std::time::Duration::from_millis(duration));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn std_lock_wakes_a_waiter() {
        let queue = Arc::new(StdLock::new(Vec::<u32>::new()));
        let producer = queue.clone();
        let handle = Std::spawn("producer", move || producer.with(|q| q.push(7)));
        let got = crate::deadline::within("StdLock::wait for the producer", move || {
            let got = queue.wait(|q| match q.pop() {
                Some(v) => Wait::Ready(v),
                None => Wait::blocked(),
            });
            Std::join(handle);
            got
        });
        assert_eq!(got, 7);
    }

    #[test]
    fn std_lock_rechecks_at_the_deadline() {
        let lock = StdLock::new(());
        let deadline = Std::now() + 20;
        let woke_at = crate::deadline::within("StdLock::wait with a deadline", move || {
            lock.wait(|_| {
                let now = Std::now();
                if now >= deadline {
                    Wait::Ready(now)
                } else {
                    Wait::Pending {
                        until: Some(deadline),
                    }
                }
            })
        });
        assert!(woke_at >= deadline);
    }

    #[test]
    fn a_deadline_expires_at_its_instant_and_none_never_does() {
        assert_eq!(
            Wait::or_at_deadline(Some(10), 9, 'x'),
            Wait::Pending { until: Some(10) }
        );
        assert_eq!(Wait::or_at_deadline(Some(10), 10, 'x'), Wait::Ready('x'));
        assert_eq!(
            Wait::or_at_deadline(None, END_OF_TIME, 'x'),
            Wait::blocked()
        );
    }

    #[test]
    fn counter_compare_exchange() {
        let c = StdCounter::new(3);
        assert_eq!(c.compare_exchange(3, 4), Ok(3));
        assert_eq!(c.compare_exchange(3, 5), Err(4));
        assert_eq!(c.fetch_sub(1), 4);
        assert_eq!(c.load(), 3);
    }

    #[test]
    fn deadlines_saturate_at_the_end_of_time() {
        assert_eq!(deadline_after(END_OF_TIME, 30_000), END_OF_TIME);
        assert_eq!(deadline_after(10, 5), 15);
    }
}
