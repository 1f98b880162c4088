//! Whether a replayed loom path still fits the code.
//!
//! Loom 0.7 replays a stored path by taking, at each scheduling decision,
//! the thread the path recorded, without asking whether that thread can run
//! there (`rt::path::Path::branch_thread` ignores the runnable set while the
//! path is not yet traversed). A thread that waits for a lock held by
//! another then panics inside loom ("expected to be able to acquire lock");
//! but a thread parked on a condition variable simply returns from its wait
//! (the relay's `Lock::wait` re-checks and waits again) and one waiting in
//! `join` may do the same. The run then goes on, through a schedule loom
//! never explores, and can read `fixed` on a fix: nothing about it is stale
//! in loom's own eyes.
//!
//! Loom does not expose the runnable set, but it reports every change of a
//! thread's state as `tracing` events of its `rt` module (loom 0.7.3, pinned
//! in Cargo.lock): `park` (blocked on a condition variable, unless an unpark
//! was saved), `Object::branch_acquire` with `is_locked` (blocked on a lock
//! or a join), `Mutex::post_acquire` (another thread took the lock it
//! waits for), `Mutex::release_lock`, `Condvar::notify_one`/`notify_all`
//! and `Notify::notify` (woken), `spawn`, `thread_done: terminate`, and
//! the `THREAD n` line of every switch. [`FitWatch`] follows them as a
//! shadow of loom's thread states during one replayed iteration and
//! records the first time the path runs a thread the shadow holds blocked:
//! switched onto it, or a blocked thread going on (any loom event of the
//! active thread while it is blocked). Exploring runs never do that (loom
//! only picks runnable threads), so a report is always a path that no
//! longer fits.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Why the shadow holds a thread unable to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blocked {
    /// Parked in a condition-variable wait with no notification since.
    Parked,
    /// Waiting for a lock another thread holds.
    Locking,
    /// Waiting in `join` for a thread that has not finished.
    Joining,
    /// Finished.
    Terminated,
}

impl Blocked {
    fn describe(self) -> &'static str {
        match self {
            Blocked::Parked => "waits on a condition variable that nothing has notified",
            Blocked::Locking => "waits for a lock another thread holds",
            Blocked::Joining => "waits in join for a thread that has not finished",
            Blocked::Terminated => "has finished",
        }
    }
}

#[derive(Default)]
struct Shadow {
    /// The loom thread running now (thread 0 starts each iteration).
    active: usize,
    blocked: BTreeMap<usize, Blocked>,
    /// Thread switches seen, for the report.
    switches: usize,
    /// The first time the path ran a blocked thread.
    misfit: Option<String>,
}

impl Shadow {
    fn on_event(&mut self, message: &str, fields: &BTreeMap<String, String>) {
        if let Some(thread) = message
            .strip_prefix("~~~~~~~~ THREAD ")
            .and_then(|rest| rest.trim_end_matches('~').trim().parse().ok())
        {
            self.switches += 1;
            self.active = thread;
            self.check_runnable("switches to");
            return;
        }
        // Loom reports a thread's own operations while it runs: a blocked
        // thread that reports one was resumed by the path.
        self.check_runnable("goes on with");
        let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
        match message {
            "park" if !field("active.state").contains("unparked: true") => {
                self.block(thread_ids(field("thread")), Blocked::Parked)
            }
            // A join waits on the finished thread's notifier
            // (`Ref<loom::rt::notify::State>`), a lock on its mutex.
            "Object::branch_acquire" if field("is_locked") == "true" => {
                let why = match field("obj").contains("notify") {
                    true => Blocked::Joining,
                    false => Blocked::Locking,
                };
                self.block(vec![self.active], why)
            }
            "Mutex::post_acquire" => self.block(thread_ids(field("thread")), Blocked::Locking),
            "thread_done: terminate" => {
                self.block(thread_ids(field("thread")), Blocked::Terminated)
            }
            "Mutex::release_lock" | "Notify::notify" | "Condvar::notify_one" | "spawn" => {
                self.wake(thread_ids(field("thread")))
            }
            "Condvar::notify_all" => self.wake(thread_ids(field("threads"))),
            _ => {}
        }
    }

    fn block(&mut self, threads: Vec<usize>, why: Blocked) {
        for t in threads {
            self.blocked.insert(t, why);
        }
    }

    fn wake(&mut self, threads: Vec<usize>) {
        for t in threads {
            // A finished thread stays finished.
            if self.blocked.get(&t) != Some(&Blocked::Terminated) {
                self.blocked.remove(&t);
            }
        }
    }

    fn check_runnable(&mut self, how: &str) {
        if self.misfit.is_some() {
            return;
        }
        if let Some(why) = self.blocked.get(&self.active) {
            self.misfit = Some(format!(
                "after {} thread switches the loom path {how} thread {}, which {} there: \
                 the path no longer fits the code",
                self.switches,
                self.active,
                why.describe()
            ));
        }
    }
}

/// Loom's thread ids in a field: `Id(2)`, `Some(Id(2))`, `[Id(1), Id(2)]`.
fn thread_ids(field: &str) -> Vec<usize> {
    field
        .split("Id(")
        .skip(1)
        .filter_map(|rest| rest.split(')').next()?.parse().ok())
        .collect()
}

/// Collects an event's fields as text (`message` included).
#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

/// A `tracing` subscriber that follows loom's thread states through one
/// replayed iteration (install it with `tracing::subscriber::with_default`
/// around the replay; loom runs every model thread on the caller's OS
/// thread, so a thread-local default sees them all).
#[derive(Clone, Default)]
pub struct FitWatch(Arc<Mutex<Shadow>>);

impl FitWatch {
    /// The first time the path ran a thread that could not run there, if
    /// it did.
    pub fn misfit(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .misfit
            .clone()
    }
}

impl Subscriber for FitWatch {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && metadata.target().starts_with("loom::rt")
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        let mut shadow = self.0.lock().unwrap_or_else(|e| e.into_inner());
        shadow.on_event(&message, &fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(shadow: &mut Shadow, message: &str, fields: &[(&str, &str)]) {
        let fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        shadow.on_event(message, &fields);
    }

    #[test]
    fn thread_ids_read_loom_debug_forms() {
        assert_eq!(thread_ids("Id(2)"), vec![2]);
        assert_eq!(thread_ids("Some(Id(0))"), vec![0]);
        assert_eq!(thread_ids("None"), Vec::<usize>::new());
        assert_eq!(thread_ids("[Id(1), Id(3)]"), vec![1, 3]);
    }

    #[test]
    fn a_switch_onto_a_parked_thread_is_a_misfit_and_a_notified_one_is_not() {
        let mut s = Shadow::default();
        event(&mut s, "spawn", &[("thread", "Id(1)")]);
        let runnable = [
            ("thread", "Id(0)"),
            ("active.state", "Runnable { unparked: false }"),
        ];
        event(&mut s, "park", &runnable);
        event(&mut s, "~~~~~~~~ THREAD 1 ~~~~~~~~", &[]);
        event(&mut s, "Condvar::notify_all", &[("threads", "[Id(0)]")]);
        event(&mut s, "~~~~~~~~ THREAD 0 ~~~~~~~~", &[]);
        assert_eq!(s.misfit, None);
        event(&mut s, "park", &runnable);
        event(&mut s, "~~~~~~~~ THREAD 1 ~~~~~~~~", &[]);
        event(&mut s, "~~~~~~~~ THREAD 0 ~~~~~~~~", &[]);
        let misfit = s.misfit.expect("thread 0 was parked");
        assert!(misfit.contains("switches to thread 0"), "{misfit}");
        assert!(misfit.contains("condition variable"), "{misfit}");
    }

    #[test]
    fn a_blocked_thread_that_goes_on_is_a_misfit_a_saved_unpark_is_not() {
        let mut s = Shadow::default();
        let saved = [
            ("thread", "Id(0)"),
            ("active.state", "Runnable { unparked: true }"),
        ];
        event(&mut s, "park", &saved);
        event(&mut s, "Object::branch_action", &[]);
        assert_eq!(s.misfit, None);
        event(&mut s, "Object::branch_acquire", &[("is_locked", "true")]);
        event(&mut s, "branch", &[("switch", "false")]);
        assert!(s.misfit.expect("went on").contains("goes on with thread 0"));
    }
}
