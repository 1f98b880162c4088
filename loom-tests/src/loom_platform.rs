//! The relay's [`Platform`] on loom: every lock, condition and counter is a
//! loom object, so loom explores every interleaving of the relay threads up
//! to its preemption bound.
//!
//! Loom has no clock: [`Platform::now`] is [`END_OF_TIME`], so every deadline
//! counts as passed (an armed timer may fire whenever loom schedules the
//! timer thread; a guarded wait gives up whenever its message is not there
//! yet). `sleep` is a yield.
//!
//! State space: a loom condition variable's `notify_all` is a scheduling point
//! of its own, so a lock notifies only when some thread is waiting on it
//! (counted under the mutex). A wait never wakes spuriously under loom.

use relay::platform::{Counter, Lock, Millis, Platform, Wait, END_OF_TIME};

/// The loom platform (use it only inside [`crate::explore::loom_model`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Loom;

struct Guarded<T> {
    value: T,
    /// Threads parked on the condition variable.
    waiters: usize,
}

/// A loom mutex with a condition variable.
pub struct LoomLock<T> {
    state: loom::sync::Mutex<Guarded<T>>,
    changed: loom::sync::Condvar,
}

impl<T> LoomLock<T> {
    fn lock(&self) -> loom::sync::MutexGuard<'_, Guarded<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Send> Lock<T> for LoomLock<T> {
    fn new(value: T) -> Self {
        LoomLock {
            state: loom::sync::Mutex::new(Guarded { value, waiters: 0 }),
            changed: loom::sync::Condvar::new(),
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

/// A loom atomic (sequentially consistent).
pub struct LoomCounter(loom::sync::atomic::AtomicU64);

impl Counter for LoomCounter {
    fn new(value: u64) -> Self {
        LoomCounter(loom::sync::atomic::AtomicU64::new(value))
    }
    fn load(&self) -> u64 {
        self.0.load(loom::sync::atomic::Ordering::SeqCst)
    }
    fn fetch_add(&self, n: u64) -> u64 {
        self.0.fetch_add(n, loom::sync::atomic::Ordering::SeqCst)
    }
    fn fetch_sub(&self, n: u64) -> u64 {
        self.0.fetch_sub(n, loom::sync::atomic::Ordering::SeqCst)
    }
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        use loom::sync::atomic::Ordering::SeqCst;
        self.0.compare_exchange(current, new, SeqCst, SeqCst)
    }
}

impl Platform for Loom {
    type Mutex<T: Send + 'static> = LoomLock<T>;
    type Counter = LoomCounter;
    type JoinHandle = loom::thread::JoinHandle<()>;

    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Self::JoinHandle {
        loom::thread::Builder::new()
            .name(name.to_string())
            .spawn(f)
            .expect("loom refused a relay thread (more than loom::MAX_THREADS?)")
    }

    fn join(handle: Self::JoinHandle) {
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    }

    fn yield_now() {
        loom::thread::yield_now();
    }

    fn now() -> Millis {
        END_OF_TIME
    }

    fn sleep(_duration: Millis) {
        loom::thread::yield_now();
    }
}
