//! The deterministic driver: the relay's real code, one thread at a time, on a
//! virtual clock, with every scheduling decision made by a [`Chooser`].
//!
//! Each relay thread is an OS thread, but only the thread holding the baton
//! runs; every platform operation (lock, counter, spawn, join, yield, sleep) is
//! a scheduling point where the chooser picks the next runnable thread, or
//! decides that the clock jumps to the next deadline (a thread preempted long
//! enough for a timer to expire). The list of choices replays the run exactly.
//!
//! When no thread can run and none waits for a deadline, the run is a
//! deadlock: that is how a hang (a lost completion notice) is reported.

use crate::platform::{Counter, Lock, Millis, Platform, Wait};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Index of a simulated thread: 0 is the body given to [`Driver::run`].
pub type Tid = u32;

/// One scheduling decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Choice {
    /// Let this thread take its next step.
    Run(Tid),
    /// Let the clock jump to the earliest pending deadline first.
    Clock,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::Run(tid) => write!(f, "{tid}"),
            Choice::Clock => f.write_str("clock"),
        }
    }
}

// In trace files a choice is a thread number or the string "clock".
impl Serialize for Choice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Choice::Run(tid) => s.serialize_u32(*tid),
            Choice::Clock => s.serialize_str("clock"),
        }
    }
}

impl<'de> Deserialize<'de> for Choice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Run(Tid),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Run(tid) => Ok(Choice::Run(tid)),
            Raw::Word(w) if w == "clock" => Ok(Choice::Clock),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "a driver choice is a thread number or \"clock\", not {w:?}"
            ))),
        }
    }
}

/// What the chooser is asked at a scheduling point with more than one option.
#[derive(Debug)]
pub struct ChoicePoint<'a> {
    /// Runnable threads (ascending), then `Choice::Clock` if a deadline is pending.
    pub options: &'a [Choice],
    pub clock: Millis,
    pub step: u64,
}

/// Who makes the scheduling decisions.
pub enum Chooser {
    /// Seeded random search: uniform over runnable threads; the clock jumps
    /// with probability `clock_jump` when a deadline is pending.
    Seeded { seed: u64, clock_jump: f64 },
    /// Replay recorded choices; when they run out, the lowest runnable thread
    /// runs and the clock only moves when nothing can run.
    Replay(Vec<Choice>),
    /// The caller decides.
    Callback(Box<dyn FnMut(&ChoicePoint<'_>) -> Choice + Send>),
}

impl fmt::Debug for Chooser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chooser::Seeded { seed, clock_jump } => {
                write!(f, "Seeded {{ seed: {seed}, clock_jump: {clock_jump} }}")
            }
            Chooser::Replay(c) => write!(f, "Replay({} choices)", c.len()),
            Chooser::Callback(_) => f.write_str("Callback"),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Every thread finished.
    Completed,
    /// No thread can run and none waits for a deadline.
    Deadlock { blocked: Vec<String> },
    /// A simulated thread panicked.
    Panicked { thread: String, message: String },
    /// The step budget ran out (a livelock, or a budget too small).
    StepLimit { steps: u64 },
    /// A replayed choice was not available at its scheduling point.
    ReplayDiverged { step: u64, wanted: String },
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub outcome: Outcome,
    /// The choices made at every point with more than one option.
    pub choices: Vec<Choice>,
    /// Scheduling points passed.
    pub steps: u64,
    /// The virtual clock at the end.
    pub clock: Millis,
    /// Thread names by [`Tid`].
    pub threads: Vec<String>,
}

/// Runs a body under the deterministic scheduler.
#[derive(Debug)]
pub struct Driver {
    chooser: Chooser,
    max_steps: u64,
    max_clock_jump: Millis,
}

impl Driver {
    pub fn new(chooser: Chooser) -> Self {
        Driver {
            chooser,
            max_steps: 200_000,
            max_clock_jump: Millis::MAX,
        }
    }

    /// Offers the clock jump as a choice only when the next deadline is at
    /// most `jump` away: the longest preemption a schedule may contain. When
    /// nothing can run the clock still goes to the next deadline, however far.
    pub fn max_clock_jump(mut self, jump: Millis) -> Self {
        self.max_clock_jump = jump;
        self
    }

    /// Bounds the number of scheduling points of one run.
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.max_steps = steps;
        self
    }

    /// Runs `body` as thread 0 and returns when every simulated thread has
    /// finished or the run was cut short; the body's value if it finished.
    pub fn run<T: Send + 'static>(
        self,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> (RunReport, Option<T>) {
        let world = Arc::new(World::new(self));
        let result = Arc::new(Mutex::new(None));
        let slot = result.clone();
        world.start_thread("main", move || {
            let value = body();
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        });
        world.begin();
        let report = world.wait_until_done();
        let value = result.lock().unwrap_or_else(|e| e.into_inner()).take();
        (report, value)
    }
}

/// The simulated platform. Use it only inside [`Driver::run`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Sim;

/// Marker payload used to unwind simulated threads when a run is cut short.
struct SimAbort;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Runnable,
    /// Waiting for a change of lock `lock`, or for the clock to reach `until`.
    Blocked {
        lock: u64,
        until: Option<Millis>,
    },
    Sleeping {
        until: Millis,
    },
    Joining {
        thread: Tid,
    },
    Finished,
}

impl Status {
    fn deadline(self) -> Option<Millis> {
        match self {
            Status::Blocked { until, .. } => until,
            Status::Sleeping { until } => Some(until),
            _ => None,
        }
    }
}

struct SimThread {
    name: String,
    status: Status,
    /// Signalled when this thread gets the baton (one condition variable
    /// per thread: a switch wakes exactly the thread that runs next).
    wake: Arc<Condvar>,
}

struct Sched {
    threads: Vec<SimThread>,
    running: Option<Tid>,
    clock: Millis,
    chooser: Chooser,
    rng: Option<ChaCha8Rng>,
    replay_at: usize,
    choices: Vec<Choice>,
    steps: u64,
    max_steps: u64,
    max_clock_jump: Millis,
    /// Set once when the run ends early; every thread then unwinds.
    ended: Option<Outcome>,
    done: bool,
}

struct World {
    sched: Mutex<Sched>,
    /// Signalled when the run is over.
    done: Condvar,
    os_threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

thread_local! {
    static CONTEXT: RefCell<Option<(Arc<World>, Tid)>> = const { RefCell::new(None) };
}

fn context() -> (Arc<World>, Tid) {
    CONTEXT.with(|c| {
        c.borrow()
            .clone()
            .expect("relay::testing::Sim used outside Driver::run")
    })
}

impl World {
    fn new(driver: Driver) -> Self {
        let rng = match &driver.chooser {
            Chooser::Seeded { seed, .. } => Some(ChaCha8Rng::seed_from_u64(*seed)),
            _ => None,
        };
        World {
            sched: Mutex::new(Sched {
                threads: Vec::new(),
                running: None,
                clock: 0,
                chooser: driver.chooser,
                rng,
                replay_at: 0,
                choices: Vec::new(),
                steps: 0,
                max_steps: driver.max_steps,
                max_clock_jump: driver.max_clock_jump,
                ended: None,
                done: false,
            }),
            done: Condvar::new(),
            os_threads: Mutex::new(Vec::new()),
        }
    }

    fn lock_sched(&self) -> MutexGuard<'_, Sched> {
        self.sched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a simulated thread and starts its OS thread, parked until
    /// the scheduler gives it the baton.
    fn start_thread(self: &Arc<Self>, name: &str, f: impl FnOnce() + Send + 'static) -> Tid {
        let tid = {
            let mut s = self.lock_sched();
            s.threads.push(SimThread {
                name: name.to_string(),
                status: Status::Runnable,
                wake: Arc::new(Condvar::new()),
            });
            (s.threads.len() - 1) as Tid
        };
        let world = self.clone();
        let os = std::thread::Builder::new()
            .name(format!("sim-{name}"))
            .spawn(move || world.thread_main(tid, f))
            .expect("the OS refused to start a simulated thread");
        self.os_threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(os);
        tid
    }

    fn thread_main(self: Arc<Self>, tid: Tid, f: impl FnOnce()) {
        CONTEXT.with(|c| *c.borrow_mut() = Some((self.clone(), tid)));
        let guard = self.lock_sched();
        if self.park(guard, tid).is_err() {
            return;
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => self.finish(tid),
            Err(payload) if payload.is::<SimAbort>() => {}
            Err(payload) => self.fail(tid, panic_message(&*payload)),
        }
    }

    /// Hands the baton to thread 0.
    fn begin(&self) {
        let mut s = self.lock_sched();
        s.running = Some(0);
        s.threads[0].wake.notify_one();
    }

    fn wait_until_done(&self) -> RunReport {
        let mut s = self.lock_sched();
        while !s.done {
            s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        let report = RunReport {
            outcome: s.ended.clone().unwrap_or(Outcome::Completed),
            choices: s.choices.clone(),
            steps: s.steps,
            clock: s.clock,
            threads: s.threads.iter().map(|t| t.name.clone()).collect(),
        };
        drop(s);
        let handles =
            std::mem::take(&mut *self.os_threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            let _ = h.join();
        }
        report
    }

    /// Waits until `me` holds the baton; `Err` when the run has ended.
    fn park(&self, mut s: MutexGuard<'_, Sched>, me: Tid) -> Result<(), ()> {
        loop {
            if s.ended.is_some() {
                return Err(());
            }
            if s.running == Some(me) {
                return Ok(());
            }
            let wake = s.threads[me as usize].wake.clone();
            s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A scheduling point of the running thread `me`, which stays runnable.
    fn schedule(&self, me: Tid) {
        let s = self.lock_sched();
        self.switch(s, me);
    }

    /// `me` stops being runnable (blocks, sleeps, joins) until woken.
    fn block(&self, me: Tid, status: Status) {
        let mut s = self.lock_sched();
        s.threads[me as usize].status = status;
        self.switch(s, me);
    }

    /// Picks the next thread and waits for `me`'s next turn.
    fn switch(&self, mut s: MutexGuard<'_, Sched>, me: Tid) {
        if s.ended.is_some() {
            drop(s);
            abort_unwind();
        }
        s.steps += 1;
        if s.steps > s.max_steps {
            let steps = s.max_steps;
            self.end(s, Outcome::StepLimit { steps });
            abort_unwind();
        }
        match pick_next(&mut s) {
            Ok(next) => {
                s.running = Some(next);
                if next != me {
                    s.threads[next as usize].wake.notify_one();
                }
                if self.park(s, me).is_err() {
                    abort_unwind();
                }
            }
            Err(outcome) => {
                self.end(s, outcome);
                abort_unwind();
            }
        }
    }

    fn finish(&self, me: Tid) {
        let mut s = self.lock_sched();
        s.threads[me as usize].status = Status::Finished;
        for t in s.threads.iter_mut() {
            if t.status == (Status::Joining { thread: me }) {
                t.status = Status::Runnable;
            }
        }
        if s.threads.iter().all(|t| t.status == Status::Finished) {
            s.done = true;
            s.running = None;
            self.done.notify_all();
            return;
        }
        match pick_next(&mut s) {
            Ok(next) => {
                s.running = Some(next);
                s.threads[next as usize].wake.notify_one();
            }
            Err(outcome) => self.end(s, outcome),
        }
    }

    fn fail(&self, me: Tid, message: String) {
        let mut s = self.lock_sched();
        let thread = s.threads[me as usize].name.clone();
        s.threads[me as usize].status = Status::Finished;
        self.end(s, Outcome::Panicked { thread, message });
    }

    /// Ends the run early: every parked thread wakes and unwinds.
    fn end(&self, mut s: MutexGuard<'_, Sched>, outcome: Outcome) {
        if s.ended.is_none() {
            s.ended = Some(outcome);
        }
        s.done = true;
        s.running = None;
        for t in &s.threads {
            t.wake.notify_one();
        }
        self.done.notify_all();
    }

    fn wake_waiters(&self, lock: u64) {
        let mut s = self.lock_sched();
        for t in s.threads.iter_mut() {
            if matches!(t.status, Status::Blocked { lock: l, .. } if l == lock) {
                t.status = Status::Runnable;
            }
        }
    }

    fn clock(&self) -> Millis {
        self.lock_sched().clock
    }
}

fn abort_unwind() -> ! {
    resume_unwind(Box::new(SimAbort))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Chooses the next thread to run, moving the clock when the chooser says so
/// or when nothing else can happen.
fn pick_next(s: &mut Sched) -> Result<Tid, Outcome> {
    loop {
        let runnable: Vec<Tid> = s
            .threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status == Status::Runnable)
            .map(|(i, _)| i as Tid)
            .collect();
        let next_deadline = s.threads.iter().filter_map(|t| t.status.deadline()).min();
        if runnable.is_empty() {
            match next_deadline {
                Some(at) => advance_clock(s, at),
                None => return Err(deadlock(s)),
            }
            continue;
        }
        let mut options: Vec<Choice> = runnable.iter().map(|&t| Choice::Run(t)).collect();
        let jump_allowed =
            next_deadline.is_some_and(|d| d.saturating_sub(s.clock) <= s.max_clock_jump);
        if jump_allowed {
            options.push(Choice::Clock);
        }
        let choice = if options.len() == 1 {
            options[0]
        } else {
            let c = ask_chooser(s, &options)?;
            s.choices.push(c);
            c
        };
        match choice {
            Choice::Run(t) => return Ok(t),
            Choice::Clock => advance_clock(s, next_deadline.unwrap_or(s.clock)),
        }
    }
}

fn ask_chooser(s: &mut Sched, options: &[Choice]) -> Result<Choice, Outcome> {
    let step = s.steps;
    let clock = s.clock;
    match &mut s.chooser {
        Chooser::Seeded { clock_jump, .. } => {
            let rng = s.rng.as_mut().expect("seeded chooser has an rng");
            let threads = options
                .iter()
                .filter(|c| matches!(c, Choice::Run(_)))
                .count();
            let jump = options.len() > threads && rng.random_bool(clock_jump.clamp(0.0, 1.0));
            Ok(if jump {
                Choice::Clock
            } else {
                options[rng.random_range(0..threads)]
            })
        }
        Chooser::Replay(recorded) => match recorded.get(s.replay_at).copied() {
            Some(wanted) => {
                s.replay_at += 1;
                if options.contains(&wanted) {
                    Ok(wanted)
                } else {
                    Err(Outcome::ReplayDiverged {
                        step,
                        wanted: wanted.to_string(),
                    })
                }
            }
            None => Ok(options[0]),
        },
        Chooser::Callback(pick) => {
            let c = pick(&ChoicePoint {
                options,
                clock,
                step,
            });
            if options.contains(&c) {
                Ok(c)
            } else {
                Err(Outcome::ReplayDiverged {
                    step,
                    wanted: c.to_string(),
                })
            }
        }
    }
}

fn advance_clock(s: &mut Sched, to: Millis) {
    s.clock = s.clock.max(to);
    let now = s.clock;
    for t in s.threads.iter_mut() {
        if t.status.deadline().is_some_and(|d| d <= now) {
            t.status = Status::Runnable;
        }
    }
}

fn deadlock(s: &Sched) -> Outcome {
    let blocked = s
        .threads
        .iter()
        .filter(|t| t.status != Status::Finished)
        .map(|t| match t.status {
            Status::Joining { thread } => {
                format!("{} (joining {})", t.name, s.threads[thread as usize].name)
            }
            _ => format!("{} (waiting on a lock)", t.name),
        })
        .collect();
    Outcome::Deadlock { blocked }
}

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
        // Ids only need to be unique among the locks of one run; a process-wide
        // counter is simplest and locks may be made outside a run.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SimLock {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(value),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let (world, me) = context();
        world.schedule(me);
        let result = self.access(f);
        world.wake_waiters(self.id);
        result
    }

    fn wait<R>(&self, mut ready: impl FnMut(&mut T) -> Wait<R>) -> R {
        let (world, me) = context();
        world.schedule(me);
        loop {
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

/// A counter of the simulated platform: every operation is a scheduling point.
#[derive(Debug)]
pub struct SimCounter(AtomicU64);

impl SimCounter {
    fn step<R>(&self, op: impl FnOnce(&AtomicU64) -> R) -> R {
        let (world, me) = context();
        world.schedule(me);
        op(&self.0)
    }
}

impl Counter for SimCounter {
    fn new(value: u64) -> Self {
        SimCounter(AtomicU64::new(value))
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
        world.schedule(me);
        SimJoinHandle(tid)
    }

    fn join(handle: SimJoinHandle) {
        let (world, me) = context();
        world.schedule(me);
        let finished = world.lock_sched().threads[handle.0 as usize].status == Status::Finished;
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
        world.block(me, Status::Sleeping { until });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(report.outcome, Outcome::Completed);
        let (again, result) = Driver::new(Chooser::Replay(report.choices.clone())).run(lost_update);
        assert_eq!(result, Some(1));
        assert_eq!(again.choices, report.choices);
    }

    #[test]
    fn the_default_schedule_is_sequential() {
        let (report, result) = Driver::new(Chooser::Replay(vec![])).run(lost_update);
        assert_eq!(result, Some(2));
        assert_eq!(report.outcome, Outcome::Completed);
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
            Outcome::Deadlock { blocked } => {
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
            Outcome::Panicked {
                thread: "bad".into(),
                message: "work area freed twice".into()
            }
        );
    }

    #[test]
    fn a_replay_that_names_an_absent_thread_diverges() {
        let (report, _) = Driver::new(Chooser::Replay(vec![Choice::Run(9)])).run(lost_update);
        assert!(
            matches!(report.outcome, Outcome::ReplayDiverged { .. }),
            "{report:?}"
        );
    }

    #[test]
    fn step_budget_cuts_a_livelock() {
        let (report, _) = seeded(0).max_steps(100).run(|| loop {
            Sim::yield_now();
        });
        assert_eq!(report.outcome, Outcome::StepLimit { steps: 100 });
    }

    #[test]
    fn choices_serialize_as_numbers_and_clock() {
        let json = serde_json::to_string(&vec![Choice::Run(2), Choice::Clock]).unwrap();
        assert_eq!(json, "[2,\"clock\"]");
        let back: Vec<Choice> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![Choice::Run(2), Choice::Clock]);
        assert!(serde_json::from_str::<Vec<Choice>>("[\"tick\"]").is_err());
    }
}
