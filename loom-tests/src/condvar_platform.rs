//! One definition of a condition-variable platform for both explorers.
//!
//! loom and shuttle offer the same std-like `Mutex`, `Condvar`, `AtomicU64`
//! and threads, so [`condvar_platform!`] writes the relay's [`Platform`] for
//! either from its crate name: the two cannot drift apart.
//!
//! State space: an explorer's `notify_all` is a scheduling point of its own,
//! so a lock notifies only when some thread is waiting on it (counted under
//! the mutex). A wait re-checks its condition, so spurious wake-ups (shuttle)
//! are harmless. Neither explorer has a clock: `now()` is [`END_OF_TIME`],
//! so every deadline counts as passed, and `sleep` is a yield.
//!
//! [`Platform`]: relay::platform::Platform
//! [`END_OF_TIME`]: relay::platform::END_OF_TIME

/// Defines `$platform`, `$lock` and `$counter` on the explorer crate `$krate`.
macro_rules! condvar_platform {
    ($krate:ident, $platform:ident, $lock:ident, $counter:ident) => {
        /// The platform (use it only inside its explorer's runner, see [`crate::explore`]).
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $platform;

        struct Guarded<T> {
            value: T,
            /// Threads parked on the condition variable.
            waiters: usize,
        }

        /// A mutex with a condition variable.
        pub struct $lock<T> {
            state: $krate::sync::Mutex<Guarded<T>>,
            changed: $krate::sync::Condvar,
        }

        impl<T> $lock<T> {
            fn lock(&self) -> $krate::sync::MutexGuard<'_, Guarded<T>> {
                self.state.lock().unwrap_or_else(|e| e.into_inner())
            }
        }

        impl<T: Send> Lock<T> for $lock<T> {
            fn new(value: T) -> Self {
                $lock {
                    state: $krate::sync::Mutex::new(Guarded { value, waiters: 0 }),
                    changed: $krate::sync::Condvar::new(),
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
        pub struct $counter($krate::sync::atomic::AtomicU64);

        impl Counter for $counter {
            fn new(value: u64) -> Self {
                $counter($krate::sync::atomic::AtomicU64::new(value))
            }
            fn load(&self) -> u64 {
                self.0.load($krate::sync::atomic::Ordering::SeqCst)
            }
            fn fetch_add(&self, n: u64) -> u64 {
                self.0.fetch_add(n, $krate::sync::atomic::Ordering::SeqCst)
            }
            fn fetch_sub(&self, n: u64) -> u64 {
                self.0.fetch_sub(n, $krate::sync::atomic::Ordering::SeqCst)
            }
            fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
                use $krate::sync::atomic::Ordering::SeqCst;
                self.0.compare_exchange(current, new, SeqCst, SeqCst)
            }
        }

        impl Platform for $platform {
            type Mutex<T: Send + 'static> = $lock<T>;
            type Counter = $counter;
            type JoinHandle = $krate::thread::JoinHandle<()>;

            fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Self::JoinHandle {
                $krate::thread::Builder::new()
                    .name(name.to_string())
                    .spawn(f)
                    .expect(concat!(
                        stringify!($krate),
                        " refused a relay thread (loom allows five)"
                    ))
            }

            fn join(handle: Self::JoinHandle) {
                if let Err(panic) = handle.join() {
                    std::panic::resume_unwind(panic);
                }
            }

            fn yield_now() {
                $krate::thread::yield_now();
            }

            fn now() -> Millis {
                END_OF_TIME
            }

            fn sleep(_duration: Millis) {
                $krate::thread::yield_now();
            }
        }
    };
}

pub(crate) use condvar_platform;
