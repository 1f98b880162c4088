//! The relay's [`Platform`] on shuttle: every lock, condition and counter is a
//! shuttle object, so shuttle's schedulers (PCT, random, replay) decide every
//! interleaving of the relay threads. Shuttle has no thread limit, so bigger
//! relays (several workers and CS terminals) run here.
//!
//! Shuttle has no clock: [`Platform::now`] is [`END_OF_TIME`], as on loom.
//! A shuttle condition variable may wake spuriously; `wait` re-checks.

use relay::platform::{Counter, Lock, Millis, Platform, Wait, END_OF_TIME};

/// The shuttle platform (use it only inside a shuttle runner, see [`crate::explore`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shuttle;

struct Guarded<T> {
    value: T,
    /// Threads parked on the condition variable.
    waiters: usize,
}

/// A shuttle mutex with a condition variable.
pub struct ShuttleLock<T> {
    state: shuttle::sync::Mutex<Guarded<T>>,
    changed: shuttle::sync::Condvar,
}

impl<T> ShuttleLock<T> {
    fn lock(&self) -> shuttle::sync::MutexGuard<'_, Guarded<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Send> Lock<T> for ShuttleLock<T> {
    fn new(value: T) -> Self {
        ShuttleLock {
            state: shuttle::sync::Mutex::new(Guarded { value, waiters: 0 }),
            changed: shuttle::sync::Condvar::new(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = self.lock();
        let result = f(&mut guard.value);
        if guard.waiters > 0 {
            self.changed.notify_all();
        }
        result
    }

    fn wait<R>(&self, mut ready: impl FnMut(&mut T) -> Wait<R>) -> R {
        let mut guard = self.lock();
        loop {
            match ready(&mut guard.value) {
                Wait::Ready(result) => {
                    // The condition may have changed the state (taken a
                    // message): wake the others as `with` would.
                    if guard.waiters > 0 {
                        self.changed.notify_all();
                    }
                    return result;
                }
                // No clock: a deadline wait is a plain wait (the closures
                // themselves answer Ready once `now()` passes a deadline).
                Wait::Pending { .. } => {
                    guard.waiters += 1;
                    guard = self.changed.wait(guard).unwrap_or_else(|e| e.into_inner());
                    guard.waiters -= 1;
                }
            }
        }
    }
}

/// A shuttle atomic (sequentially consistent).
pub struct ShuttleCounter(shuttle::sync::atomic::AtomicU64);

impl Counter for ShuttleCounter {
    fn new(value: u64) -> Self {
        ShuttleCounter(shuttle::sync::atomic::AtomicU64::new(value))
    }
    fn load(&self) -> u64 {
        self.0.load(shuttle::sync::atomic::Ordering::SeqCst)
    }
    fn fetch_add(&self, n: u64) -> u64 {
        self.0.fetch_add(n, shuttle::sync::atomic::Ordering::SeqCst)
    }
    fn fetch_sub(&self, n: u64) -> u64 {
        self.0.fetch_sub(n, shuttle::sync::atomic::Ordering::SeqCst)
    }
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        use shuttle::sync::atomic::Ordering::SeqCst;
        self.0.compare_exchange(current, new, SeqCst, SeqCst)
    }
}

impl Platform for Shuttle {
    type Mutex<T: Send + 'static> = ShuttleLock<T>;
    type Counter = ShuttleCounter;
    type JoinHandle = shuttle::thread::JoinHandle<()>;

    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Self::JoinHandle {
        shuttle::thread::Builder::new()
            .name(name.to_string())
            .spawn(f)
            .expect("shuttle refused a relay thread")
    }

    fn join(handle: Self::JoinHandle) {
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    }

    fn yield_now() {
        shuttle::thread::yield_now();
    }

    fn now() -> Millis {
        END_OF_TIME
    }

    fn sleep(_duration: Millis) {
        shuttle::thread::yield_now();
    }
}
