//! Unit tests that wait do so with a deadline: a broken queue, timer or
//! shutdown fails the test with a message instead of hanging `cargo test`
//! (and cargo-mutants counts the mutant as caught, not as a timeout).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Far beyond any healthy wait in these tests (they take microseconds).
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// Runs `wait` on its own thread; its result, or a test failure naming
/// `what` when it is still waiting after [`LIMIT`] (the stuck thread is
/// left behind; the test process ends without it).
pub(crate) fn within<T: Send + 'static>(
    what: &str,
    wait: impl FnOnce() -> T + Send + 'static,
) -> T {
    within_for(what, LIMIT, wait)
}

fn within_for<T: Send + 'static>(
    what: &str,
    limit: Duration,
    wait: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(wait());
    });
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what}: still waiting after {limit:?}; a wait that should end did not")
        }
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: the waiting thread panicked"),
    }
}

#[test]
fn a_wait_that_never_ends_fails_with_its_name() {
    let (keep, never) = mpsc::channel::<()>();
    let caught = std::panic::catch_unwind(|| {
        within_for("the forever wait", Duration::from_millis(50), move || {
            never.recv()
        })
    });
    drop(keep);
    let message = caught.expect_err("the deadline fires");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("the forever wait"), "{text}");
    assert_eq!(within("a quick wait", || 7), 7);
}
