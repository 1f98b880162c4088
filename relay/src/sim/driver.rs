//! The scheduler: simulated threads as coroutines on the caller's OS thread,
//! one holding the baton at a time, and the virtual clock; [`Driver`] runs a
//! body under it.

use super::chooser::{Choice, ChoicePoint, Chooser, Footprint, Tid};
use crate::platform::Millis;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RunOutcome {
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
    pub outcome: RunOutcome,
    /// The choices made at every point with more than one option.
    pub choices: Vec<Choice>,
    /// Scheduling points passed.
    pub steps: u64,
    /// The virtual clock at the end.
    pub clock: Millis,
    /// Thread names by [`Tid`].
    pub threads: Vec<String>,
    /// How a replayed schedule fit the code ([`Chooser::Replay`] only).
    pub fit: Fit,
}

/// How a replayed list of choices fit the code it ran on: whether the run
/// took them all, and whether it needed more. A schedule recorded on other
/// code may name a thread that is no longer runnable
/// ([`RunOutcome::ReplayDiverged`]), end before the run does (the default
/// policy then decides: `defaulted`) or outlast it (`used < recorded`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fit {
    /// Choices in the replayed schedule.
    pub recorded: usize,
    /// Choices the run consumed (a diverging one included).
    pub used: usize,
    /// Choice points decided by the default policy after the choices ran out.
    pub defaulted: u64,
}

impl Fit {
    /// Recorded choices the run never reached.
    pub fn left_over(&self) -> usize {
        self.recorded.saturating_sub(self.used)
    }
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
        let world = Rc::new(World::new(self));
        let result = Arc::new(Mutex::new(None));
        let slot = result.clone();
        world.start_thread("main", move || {
            let value = body();
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        });
        world.begin();
        let report = world.drive();
        CONTEXT.with(|c| c.borrow_mut().take());
        let value = result.lock().unwrap_or_else(|e| e.into_inner()).take();
        (report, value)
    }
}

/// Marker payload used to unwind simulated threads when a run is cut short.
struct SimAbort;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
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
}

struct Sched {
    threads: Vec<SimThread>,
    running: Option<Tid>,
    clock: Millis,
    chooser: Chooser,
    rng: Option<ChaCha8Rng>,
    replay_at: usize,
    /// Choice points the default policy decided after a replay ran out.
    defaulted: u64,
    choices: Vec<Choice>,
    steps: u64,
    max_steps: u64,
    max_clock_jump: Millis,
    /// Set once when the run ends early; every thread then unwinds.
    ended: Option<RunOutcome>,
    done: bool,
    /// What the run touched since the last choice point.
    segment: Footprint,
}

/// A simulated thread's body, run on its own coroutine stack.
type ThreadBody = Box<dyn FnOnce(&Yielder<(), ()>)>;

/// A simulated thread: a coroutine on the driver's OS thread. Switching
/// threads is a stack switch, not an OS context switch, which is what makes
/// a schedule cheap enough to run thousands of (`reproduce --exhaustive`).
type SimCoroutine = Coroutine<(), (), (), DefaultStack>;

/// Stack of one simulated thread: only touched pages are committed, and
/// stacks are reused from run to run.
const STACK_BYTES: usize = 1 << 20;

pub(super) struct World {
    sched: Mutex<Sched>,
    /// Threads started since the driver last looked, in `Tid` order: the
    /// driver turns them into coroutines before it resumes anything.
    spawned: Mutex<Vec<ThreadBody>>,
}

/// The running simulated thread, as its own code sees it.
#[derive(Clone)]
struct Context {
    world: Rc<World>,
    tid: Tid,
    /// Hands the baton back to the driver; valid while the thread's
    /// coroutine lives, and only used from inside it.
    yielder: *const Yielder<(), ()>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
    /// Coroutine stacks of finished runs, for the next run on this OS thread.
    static STACKS: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn context() -> (Rc<World>, Tid) {
    CONTEXT.with(|c| {
        let c = c.borrow();
        let c = c
            .as_ref()
            .expect("relay::sim::Sim used outside Driver::run");
        (c.world.clone(), c.tid)
    })
}

/// Suspends the running simulated thread until the driver resumes it, then
/// makes it the running context again.
fn suspend() {
    let me = CONTEXT
        .with(|c| c.borrow().clone())
        .expect("relay::sim::Sim used outside Driver::run");
    // SAFETY: the yielder belongs to the coroutine running this code, which
    // is alive for as long as its own code runs.
    unsafe { &*me.yielder }.suspend(());
    CONTEXT.with(|c| *c.borrow_mut() = Some(me));
}

fn new_stack() -> DefaultStack {
    STACKS.with(|s| s.borrow_mut().pop()).unwrap_or_else(|| {
        DefaultStack::new(STACK_BYTES).expect("the OS refused a simulated thread's stack")
    })
}

fn recycle_stack(stack: DefaultStack) {
    STACKS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < 64 {
            s.push(stack);
        }
    });
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
                defaulted: 0,
                choices: Vec::new(),
                steps: 0,
                max_steps: driver.max_steps,
                max_clock_jump: driver.max_clock_jump,
                ended: None,
                done: false,
                segment: Footprint::default(),
            }),
            spawned: Mutex::new(Vec::new()),
        }
    }

    fn lock_sched(&self) -> MutexGuard<'_, Sched> {
        self.sched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a simulated thread; it first runs when the scheduler gives
    /// it the baton.
    pub(super) fn start_thread(
        self: &Rc<Self>,
        name: &str,
        f: impl FnOnce() + Send + 'static,
    ) -> Tid {
        let tid = {
            let mut s = self.lock_sched();
            s.threads.push(SimThread {
                name: name.to_string(),
                status: Status::Runnable,
            });
            (s.threads.len() - 1) as Tid
        };
        let world = self.clone();
        self.spawned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(move |yielder: &Yielder<(), ()>| {
                world.thread_main(tid, yielder, f)
            }));
        tid
    }

    fn thread_main(self: Rc<Self>, tid: Tid, yielder: &Yielder<(), ()>, f: impl FnOnce()) {
        CONTEXT.with(|c| {
            *c.borrow_mut() = Some(Context {
                world: self.clone(),
                tid,
                yielder,
            })
        });
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
        self.lock_sched().running = Some(0);
    }

    /// Resumes the thread holding the baton until the run is over, then
    /// lets every thread left parked unwind; the run's report.
    fn drive(&self) -> RunReport {
        let mut threads: Vec<SimCoroutine> = Vec::new();
        loop {
            self.adopt_spawned(&mut threads);
            let next = {
                let s = self.lock_sched();
                if s.done {
                    None
                } else {
                    s.running
                }
            };
            let Some(next) = next else { break };
            threads[next as usize].resume(());
        }
        // Parked threads see the run ended and unwind (their destructors
        // run on their own stacks); one may still register a thread.
        loop {
            self.adopt_spawned(&mut threads);
            let Some(parked) = threads.iter_mut().find(|t| !t.done()) else {
                break;
            };
            parked.resume(());
        }
        threads
            .into_iter()
            .for_each(|t| recycle_stack(t.into_stack()));
        self.report()
    }

    /// Gives each newly started thread its coroutine.
    fn adopt_spawned(&self, threads: &mut Vec<SimCoroutine>) {
        let spawned = std::mem::take(&mut *self.spawned.lock().unwrap_or_else(|e| e.into_inner()));
        for body in spawned {
            threads.push(Coroutine::with_stack(new_stack(), move |yielder, ()| {
                body(yielder)
            }));
        }
    }

    fn report(&self) -> RunReport {
        let s = self.lock_sched();
        RunReport {
            outcome: s.ended.clone().unwrap_or(RunOutcome::Completed),
            choices: s.choices.clone(),
            steps: s.steps,
            clock: s.clock,
            threads: s.threads.iter().map(|t| t.name.clone()).collect(),
            fit: Fit {
                recorded: match &s.chooser {
                    Chooser::Replay(recorded) => recorded.len(),
                    _ => 0,
                },
                used: s.replay_at,
                defaulted: s.defaulted,
            },
        }
    }

    /// Waits until `me` holds the baton; `Err` when the run has ended.
    fn park<'w>(&'w self, mut s: MutexGuard<'w, Sched>, me: Tid) -> Result<(), ()> {
        loop {
            if s.ended.is_some() {
                return Err(());
            }
            if s.running == Some(me) {
                return Ok(());
            }
            drop(s);
            suspend();
            s = self.lock_sched();
        }
    }

    /// A scheduling point of the running thread `me`, which stays runnable.
    pub(super) fn schedule(&self, me: Tid) {
        let s = self.lock_sched();
        self.switch(s, me);
    }

    /// `me` stops being runnable (blocks, sleeps, joins) until woken.
    pub(super) fn block(&self, me: Tid, status: Status) {
        let mut s = self.lock_sched();
        s.threads[me as usize].status = status;
        self.switch(s, me);
    }

    /// Picks the next thread and waits for `me`'s next turn.
    fn switch<'w>(&'w self, mut s: MutexGuard<'w, Sched>, me: Tid) {
        if s.ended.is_some() {
            drop(s);
            abort_unwind();
        }
        s.steps += 1;
        if s.steps > s.max_steps {
            let steps = s.max_steps;
            self.end(s, RunOutcome::StepLimit { steps });
            abort_unwind();
        }
        match pick_next(&mut s) {
            Ok(next) => {
                s.running = Some(next);
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
        s.segment.global = true;
        s.threads[me as usize].status = Status::Finished;
        for t in s.threads.iter_mut() {
            if t.status == (Status::Joining { thread: me }) {
                t.status = Status::Runnable;
            }
        }
        if s.threads.iter().all(|t| t.status == Status::Finished) {
            s.done = true;
            s.running = None;
            return;
        }
        match pick_next(&mut s) {
            Ok(next) => s.running = Some(next),
            Err(outcome) => self.end(s, outcome),
        }
    }

    fn fail(&self, me: Tid, message: String) {
        let mut s = self.lock_sched();
        let thread = s.threads[me as usize].name.clone();
        s.threads[me as usize].status = Status::Finished;
        self.end(s, RunOutcome::Panicked { thread, message });
    }

    /// Ends the run early: every parked thread unwinds when next resumed.
    fn end(&self, mut s: MutexGuard<'_, Sched>, outcome: RunOutcome) {
        if s.ended.is_none() {
            s.ended = Some(outcome);
        }
        s.done = true;
        s.running = None;
    }

    /// The running thread uses lock or counter `object`.
    pub(super) fn touch(&self, object: u64) {
        self.lock_sched().segment.touch(object);
    }

    /// The running thread does something any thread may depend on.
    pub(super) fn touch_all(&self) {
        self.lock_sched().segment.global = true;
    }

    pub(super) fn wake_waiters(&self, lock: u64) {
        let mut s = self.lock_sched();
        for t in s.threads.iter_mut() {
            if matches!(t.status, Status::Blocked { lock: l, .. } if l == lock) {
                t.status = Status::Runnable;
            }
        }
    }

    pub(super) fn clock(&self) -> Millis {
        self.lock_sched().clock
    }

    /// Whether thread `tid` has finished.
    pub(super) fn finished(&self, tid: Tid) -> bool {
        self.lock_sched().threads[tid as usize].status == Status::Finished
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
fn pick_next(s: &mut Sched) -> Result<Tid, RunOutcome> {
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
            s.segment = Footprint::default();
            c
        };
        match choice {
            Choice::Run(t) => return Ok(t),
            Choice::Clock => advance_clock(s, next_deadline.unwrap_or(s.clock)),
        }
    }
}

fn ask_chooser(s: &mut Sched, options: &[Choice]) -> Result<Choice, RunOutcome> {
    let step = s.steps;
    let clock = s.clock;
    let current = s
        .running
        .filter(|&t| s.threads[t as usize].status == Status::Runnable);
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
                    Err(RunOutcome::ReplayDiverged {
                        step,
                        wanted: wanted.to_string(),
                    })
                }
            }
            None => {
                s.defaulted += 1;
                Ok(options[0])
            }
        },
        Chooser::Callback(pick) => {
            let c = pick(&ChoicePoint {
                options,
                clock,
                step,
                current,
                segment: &s.segment,
            });
            if options.contains(&c) {
                Ok(c)
            } else {
                Err(RunOutcome::ReplayDiverged {
                    step,
                    wanted: c.to_string(),
                })
            }
        }
    }
}

fn advance_clock(s: &mut Sched, to: Millis) {
    s.segment.global = true;
    s.clock = s.clock.max(to);
    let now = s.clock;
    for t in s.threads.iter_mut() {
        if t.status.deadline().is_some_and(|d| d <= now) {
            t.status = Status::Runnable;
        }
    }
}

fn deadlock(s: &Sched) -> RunOutcome {
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
    RunOutcome::Deadlock { blocked }
}
