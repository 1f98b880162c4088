//! Running a body under loom or shuttle, and asserting that a bug *is* found.
//!
//! * [`loom_model`] / [`shuttle_model`]: the body must hold in every explored
//!   schedule (loom: every schedule within the preemption bound; shuttle: the
//!   seeded PCT or random schedules).
//! * [`loom_expect_failure`] / [`shuttle_expect_failure`]: the exploration
//!   must fail, with a panic message containing the expected fault (a
//!   violated property's name, or `deadlock` for a hang). They return a
//!   [`Found`]: the message, after how many iterations, the failing run's
//!   relay events and (shuttle) the schedule that replays it.
//!
//! Bodies take a [`Witness`]: the scenario hands it the run's event log, so
//! the events of the failing run are available even when the explorer, not
//! the body, reports the failure (a deadlock).

use relay::events::{Event, EventLog};
use shuttle::scheduler::{
    DataSource, PctScheduler, RandomDataSource, RandomScheduler, Schedule, Scheduler, Task, TaskId,
};
pub use shuttle_engine::scheduler::ScheduleStep;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A preemption bound meaning "explore every schedule" (small programs only).
pub const UNBOUNDED: usize = usize::MAX;

/// `CHUKEI_DEEP=1` selects the deeper bounds (see README.md).
pub fn deep() -> bool {
    std::env::var("CHUKEI_DEEP").is_ok_and(|v| v == "1")
}

/// The default bound, or the deep one under `CHUKEI_DEEP=1`.
pub fn bound(default: usize, deep_bound: usize) -> usize {
    if deep() {
        deep_bound
    } else {
        default
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts iterations and keeps the event log of the latest one.
#[derive(Clone, Default)]
pub struct Witness(Arc<Mutex<WitnessState>>);

#[derive(Default)]
struct WitnessState {
    iterations: usize,
    log: Option<EventLog>,
}

impl Witness {
    /// Called once per iteration by the body, with that iteration's log.
    pub fn watch(&self, log: &EventLog) {
        let mut s = lock(&self.0);
        s.iterations += 1;
        s.log = Some(log.clone());
    }

    /// A new event log for this iteration, watched.
    pub fn new_log(&self) -> EventLog {
        let log = EventLog::new();
        self.watch(&log);
        log
    }

    /// Bodies run so far.
    pub fn iterations(&self) -> usize {
        lock(&self.0).iterations
    }

    /// The events of the latest iteration.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0)
            .log
            .as_ref()
            .map(EventLog::snapshot)
            .unwrap_or_default()
    }
}

/// What an exploration that passed covered.
#[derive(Clone, Debug)]
pub struct Explored {
    /// "loom", "shuttle-pct", "shuttle-random".
    pub explorer: &'static str,
    pub iterations: usize,
    pub elapsed: Duration,
    /// The bound, in words ("preemption bound 2", "PCT depth 3, seed 7").
    pub bound: String,
}

impl fmt::Display for Explored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} iterations in {:.2} s, {}",
            self.explorer,
            self.iterations,
            self.elapsed.as_secs_f64(),
            self.bound
        )
    }
}

/// A failure an exploration found.
#[derive(Clone, Debug)]
pub struct Found {
    pub explored: Explored,
    /// The panic message: the violated property or the explorer's deadlock.
    pub message: String,
    /// The relay events of the failing run.
    pub events: Vec<Event>,
    /// Shuttle: the schedule that replays the failure.
    pub schedule: Option<FoundSchedule>,
}

/// A shuttle schedule, serialized as `shuttle::replay` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundSchedule {
    pub encoded: String,
    /// Scheduling decisions (and random draws) in the schedule.
    pub steps: usize,
    pub seed: u64,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "found after {}", self.explored)?;
        writeln!(f, "fault: {}", first_line(&self.message))?;
        writeln!(f, "failing run: {} relay events", self.events.len())?;
        for e in &self.events {
            writeln!(f, "  {e}")?;
        }
        if let Some(s) = &self.schedule {
            writeln!(
                f,
                "shuttle schedule ({} steps, seed {}):\n{}",
                s.steps, s.seed, s.encoded
            )?;
        }
        Ok(())
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "a panic without a message".to_string()
    }
}

// ---------------------------------------------------------------- loom ----

/// Loom's settings for one exploration.
///
/// `preemptions` is the bound that keeps loom finite and fast: most
/// concurrency bugs need very few preemptions (the timer race needs one: the
/// timer thread firing between the worker's last message and its reset).
/// Every test states its bound and why. `LOOM_MAX_PREEMPTIONS` and
/// `LOOM_MAX_BRANCHES`, when set, win over the test's own ([`LoomLimits`]).
fn loom_builder(limits: LoomLimits) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = limits.preemption_bound;
    builder.max_branches = limits.max_branches;
    builder
}

/// A relay run takes a few hundred scheduling points; loom's default
/// (1,000) is too tight for two telegrams through the HSM.
const MAX_BRANCHES: usize = 20_000;

/// The bounds of one loom exploration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoomLimits {
    /// `None`: every schedule.
    pub preemption_bound: Option<usize>,
    pub max_branches: usize,
    /// Whether `LOOM_MAX_PREEMPTIONS` set the bound.
    pub from_env: bool,
}

impl LoomLimits {
    /// The test's bound (`UNBOUNDED`: none) and branch limit, unless the
    /// environment (`env`: `std::env::var` in the suites) sets
    /// `LOOM_MAX_PREEMPTIONS` or `LOOM_MAX_BRANCHES`: a deeper or shallower
    /// run without editing a test. A value that is no number panics with
    /// the variable's name (the suites' way of failing).
    pub fn new(preemptions: usize, env: impl Fn(&str) -> Option<String>) -> LoomLimits {
        let number = |name: &str| {
            env(name).map(|v| {
                v.trim()
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
            })
        };
        let from_env = number("LOOM_MAX_PREEMPTIONS");
        // Loom stores the bound in a byte: "unbounded" is no bound at all.
        let test_bound = (preemptions != UNBOUNDED).then_some(preemptions);
        LoomLimits {
            preemption_bound: from_env.or(test_bound),
            max_branches: number("LOOM_MAX_BRANCHES").unwrap_or(MAX_BRANCHES),
            from_env: from_env.is_some(),
        }
    }

    /// The suites' limits: the test's bound, or the environment's.
    fn of(preemptions: usize) -> LoomLimits {
        LoomLimits::new(preemptions, |name| std::env::var(name).ok())
    }

    /// The bound in words, for [`Explored::bound`].
    fn words(self) -> String {
        let bound = match self.preemption_bound {
            None => "no preemption bound".to_string(),
            Some(n) => format!("preemption bound {n}"),
        };
        if self.from_env {
            bound + " (LOOM_MAX_PREEMPTIONS)"
        } else {
            bound
        }
    }
}

/// Runs `body` in every schedule loom explores within `preemptions`
/// preemptions; a panic (a violated property) or a deadlock fails the test.
pub fn loom_model<F>(preemptions: usize, body: F) -> Explored
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    let witness = Witness::default();
    let w = witness.clone();
    let start = Instant::now();
    let limits = LoomLimits::of(preemptions);
    loom_builder(limits).check(move || body(&w));
    Explored {
        explorer: "loom",
        iterations: witness.iterations(),
        elapsed: start.elapsed(),
        bound: limits.words(),
    }
}

/// Runs `body` under loom and asserts that some schedule fails with a panic
/// whose message contains `expected` (`deadlock` for a hang).
pub fn loom_expect_failure<F>(preemptions: usize, expected: &str, body: F) -> Found
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    loom_failure(preemptions, expected, None, body)
}

/// As [`loom_expect_failure`], with loom's checkpoint written before every
/// iteration, so the failing iteration's execution path is kept: returned
/// as loom wrote it (JSON), for a `Schedule::Loom` trace that
/// [`loom_replay`] runs again. The checkpoint costs a file write per
/// iteration: for failures loom finds early.
pub fn loom_expect_failure_traced<F>(
    preemptions: usize,
    expected: &str,
    body: F,
) -> (Found, serde_json::Value)
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    let file = Checkpoint::new();
    let found = loom_failure(preemptions, expected, Some(&file.0), body);
    let path = file
        .read()
        .unwrap_or_else(|e| panic!("loom's checkpoint of the failing iteration: {e}"));
    (found, path)
}

fn loom_failure<F>(
    preemptions: usize,
    expected: &str,
    checkpoint: Option<&std::path::Path>,
    body: F,
) -> Found
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    let witness = Witness::default();
    let w = witness.clone();
    let start = Instant::now();
    let limits = LoomLimits::of(preemptions);
    let mut builder = loom_builder(limits);
    if let Some(file) = checkpoint {
        builder.checkpoint_file = Some(file.to_path_buf());
        builder.checkpoint_interval = 1;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| builder.check(move || body(&w))));
    let explored = Explored {
        explorer: "loom",
        iterations: witness.iterations(),
        elapsed: start.elapsed(),
        bound: limits.words(),
    };
    let message = match outcome {
        Ok(()) => panic!("expected `{expected}`, but {explored} found no failure"),
        Err(payload) => panic_message(payload.as_ref()),
    };
    assert!(
        message.contains(expected),
        "expected `{expected}`, but loom failed otherwise: {message}"
    );
    Found {
        explored,
        message,
        events: witness.events(),
        schedule: None,
    }
}

/// A scratch file for loom's checkpoint, removed when dropped.
struct Checkpoint(std::path::PathBuf);

impl Checkpoint {
    fn new() -> Checkpoint {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("chukei-loom-{}-{n}.json", std::process::id());
        Checkpoint(std::env::temp_dir().join(name))
    }

    fn read(&self) -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(&self.0).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Branch points in a loom checkpoint (thread switches, atomic loads,
/// spurious wake-ups), after checking it has the shape loom writes; the
/// most a replay takes is loom's branch limit.
pub fn loom_path_steps(path: &serde_json::Value) -> Result<usize, String> {
    let entries = path
        .get("branches")
        .and_then(|b| b.get("entries"))
        .and_then(serde_json::Value::as_array)
        .ok_or("a loom path has `branches.entries`, a list")?;
    for field in ["pos", "exploring", "skipping", "exploring_on_start"] {
        if path.get(field).is_none() {
            return Err(format!("a loom path has `{field}`"));
        }
    }
    if entries.len() > MAX_BRANCHES {
        return Err(format!(
            "the path has {} branch points, past loom's limit of {MAX_BRANCHES}",
            entries.len()
        ));
    }
    Ok(entries.len())
}

/// Replays one loom checkpoint: loom loads the path and runs the one
/// iteration it starts (past the path's end loom's own first choices run,
/// as they did when the path was written). `run` is `Ok(events)` if the
/// body passed, else the failure (message and events). A path the code
/// does not fit can make loom panic ("Reached unexpected exploration
/// state", a lock it expected free): that too is an `Err`, told apart by
/// its message. Where loom instead resumes a thread that cannot run there
/// (a wait with no notification), [`crate::loom_fit`] notices: `misfit`.
/// The outer `Err`: the path is not one loom wrote, or loom could not
/// read it (the body never ran).
pub fn loom_replay<F>(path: &serde_json::Value, body: F) -> Result<LoomReplay, String>
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    let steps = loom_path_steps(path)?;
    let file = Checkpoint::new();
    std::fs::write(&file.0, path.to_string())
        .map_err(|e| format!("writing the checkpoint: {e}"))?;
    let witness = Witness::default();
    let w = witness.clone();
    let start = Instant::now();
    let mut builder = loom::model::Builder::new();
    builder.max_branches = MAX_BRANCHES.max(steps + 1);
    builder.checkpoint_file = Some(file.0.clone());
    // Loom looks at its permutation limit before each iteration whose
    // number is a multiple of the interval: 1 and 2 run exactly one.
    builder.checkpoint_interval = 1;
    builder.max_permutations = Some(2);
    // One replay at a time in a process: `tracing` computes which
    // subscribers want loom's events across every thread's scoped
    // subscriber, and a replay on another test thread installing or
    // dropping its own watch meanwhile once left this one without a
    // notification it had to see (a CI run called a good path stale).
    static ONE_REPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ONE_REPLAY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fit = crate::loom_fit::FitWatch::default();
    let outcome = tracing::subscriber::with_default(fit.clone(), || {
        catch_unwind(AssertUnwindSafe(|| builder.check(move || body(&w))))
    });
    let run = match outcome {
        Ok(()) => Ok(witness.events()),
        Err(payload) if witness.iterations() == 0 => {
            return Err(format!(
                "loom could not load the path: {}",
                first_line(&panic_message(payload.as_ref()))
            ))
        }
        Err(payload) => Err(Box::new(Found {
            explored: Explored {
                explorer: "loom-replay",
                iterations: witness.iterations(),
                elapsed: start.elapsed(),
                bound: "one stored checkpoint".into(),
            },
            message: panic_message(payload.as_ref()),
            events: witness.events(),
            schedule: None,
        })),
    };
    Ok(LoomReplay {
        run,
        misfit: fit.misfit(),
    })
}

/// A replayed loom checkpoint.
pub struct LoomReplay {
    pub run: LoomRun,
    /// Where the path ran a thread that could not run there: the path no
    /// longer fits the code, whatever the run showed.
    pub misfit: Option<String>,
}

/// One replayed loom iteration: its events if the body passed, else the
/// failure.
pub type LoomRun = Result<Vec<Event>, Box<Found>>;

// ------------------------------------------------------------- shuttle ----

/// A seeded shuttle scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Probabilistic concurrency testing: `depth` priority change points, a
    /// guarantee of finding any bug of that depth with known probability.
    Pct { seed: u64, depth: usize },
    /// Uniformly random choice at every scheduling point.
    Random { seed: u64 },
}

impl Search {
    /// The trace's `origin.checker`.
    pub fn checker(self) -> &'static str {
        match self {
            Search::Pct { .. } => "shuttle-pct",
            Search::Random { .. } => "shuttle-random",
        }
    }

    pub fn seed(self) -> u64 {
        match self {
            Search::Pct { seed, .. } | Search::Random { seed } => seed,
        }
    }

    fn describe(self, iterations: usize) -> String {
        match self {
            Search::Pct { seed, depth } => {
                format!("PCT depth {depth}, seed {seed}, {iterations} schedules")
            }
            Search::Random { seed } => format!("random, seed {seed}, {iterations} schedules"),
        }
    }

    fn scheduler(self, iterations: usize) -> Box<dyn Scheduler + Send> {
        match self {
            Search::Pct { seed, depth } => {
                Box::new(PctScheduler::new_from_seed(seed, depth, iterations))
            }
            Search::Random { seed } => Box::new(RandomScheduler::new_from_seed(seed, iterations)),
        }
    }
}

/// Wraps a scheduler and writes down every decision of the current
/// execution, so a failing execution's schedule is at hand without parsing
/// shuttle's panic output.
struct Recording<S> {
    inner: S,
    current: Arc<Mutex<Schedule>>,
}

impl<S: Scheduler> Scheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let schedule = self.inner.new_execution()?;
        *lock(&self.current) = Schedule::new(schedule.seed);
        Some(schedule)
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let next = self.inner.next_task(runnable, current, is_yielding);
        if let Some(task) = next {
            lock(&self.current).push_task(task);
        }
        next
    }

    fn next_u64(&mut self) -> u64 {
        lock(&self.current).push_random();
        self.inner.next_u64()
    }
}

/// Shuttle's settings: no printing of its own (we print the schedule), stop
/// at the first panic, relay threads need more than shuttle's default stack.
fn shuttle_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.stack_size = 1 << 20;
    config.silence_warnings = true;
    config.failure_persistence = shuttle::FailurePersistence::None;
    config
        .ungraceful_shutdown_config
        .immediately_return_on_panic = true;
    // A relay run is a few thousand steps; a livelock fails instead of hanging.
    config.max_steps = shuttle::MaxSteps::FailAfter(200_000);
    config
}

/// Runs `body` under `search` for `iterations` schedules; any failure fails
/// the test with its schedule.
pub fn shuttle_model<F>(search: Search, iterations: usize, body: F) -> Explored
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    match shuttle_run(search, iterations, body) {
        Ok(explored) => explored,
        Err(found) => panic!("shuttle found a failure:\n{found}"),
    }
}

/// Runs `body` under `search` and asserts that some schedule fails with a
/// panic containing `expected`; prints the failure and its schedule.
pub fn shuttle_expect_failure<F>(
    search: Search,
    iterations: usize,
    expected: &str,
    body: F,
) -> Found
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    match shuttle_run(search, iterations, body) {
        Ok(explored) => panic!("expected `{expected}`, but {explored} found no failure"),
        Err(found) => {
            assert!(
                found.message.contains(expected),
                "expected `{expected}`, but shuttle failed otherwise:\n{found}"
            );
            println!("{found}");
            *found
        }
    }
}

fn shuttle_run<F>(search: Search, iterations: usize, body: F) -> Result<Explored, Box<Found>>
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    let witness = Witness::default();
    let w = witness.clone();
    let current = Arc::new(Mutex::new(Schedule::new(0)));
    let scheduler = Recording {
        inner: search.scheduler(iterations),
        current: current.clone(),
    };
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        shuttle::Runner::new(scheduler, shuttle_config()).run(move || body(&w))
    }));
    let explored = Explored {
        explorer: search.checker(),
        iterations: witness.iterations(),
        elapsed: start.elapsed(),
        bound: search.describe(iterations),
    };
    match outcome {
        Ok(_) => Ok(explored),
        Err(payload) => {
            let schedule = lock(&current).clone();
            Err(Box::new(Found {
                explored,
                message: panic_message(payload.as_ref()),
                events: witness.events(),
                schedule: Some(FoundSchedule {
                    encoded: encode_schedule(&schedule),
                    steps: schedule.len(),
                    seed: schedule.seed,
                }),
            }))
        }
    }
}

/// How a replayed shuttle schedule fit the code it ran on (the shuttle
/// counterpart of `relay::sim::Fit`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShuttleFit {
    /// Steps in the schedule (task switches and random draws).
    pub recorded: usize,
    /// Steps the run consumed.
    pub used: usize,
    /// Scheduling points decided by the default policy (keep running the
    /// current task, else the lowest runnable one) after the schedule ran out.
    pub defaulted: usize,
    /// The first step the code did not offer (a task that is not runnable, a
    /// task switch where the code drew a random number, or the reverse).
    pub diverged: Option<String>,
}

impl ShuttleFit {
    /// Recorded steps the run never reached.
    pub fn left_over(&self) -> usize {
        self.recorded.saturating_sub(self.used)
    }
}

/// Replays a decoded schedule and notes how it fits, instead of panicking
/// as shuttle's `ReplayScheduler` does: a schedule that stops fitting stops
/// the execution and is reported, one that runs out continues by default
/// (so a bug's schedule can be replayed on a fix, which runs longer).
struct FittingReplay {
    steps: Vec<ScheduleStep>,
    at: usize,
    started: bool,
    data: RandomDataSource,
    fit: Arc<Mutex<ShuttleFit>>,
}

impl FittingReplay {
    fn diverge(&mut self, what: String) -> Option<TaskId> {
        let mut fit = lock(&self.fit);
        fit.used = self.at + 1;
        fit.diverged.get_or_insert(what);
        None
    }

    fn note_used(&self) {
        lock(&self.fit).used = self.at;
    }
}

impl Scheduler for FittingReplay {
    fn new_execution(&mut self) -> Option<Schedule> {
        if std::mem::replace(&mut self.started, true) {
            return None;
        }
        Some(Schedule::new(self.data.reinitialize()))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        _is_yielding: bool,
    ) -> Option<TaskId> {
        match self.steps.get(self.at).cloned() {
            None => {
                lock(&self.fit).defaulted += 1;
                let keep = current.filter(|c| runnable.iter().any(|t| t.id() == *c));
                keep.or_else(|| runnable.iter().map(|t| t.id()).min())
            }
            Some(ScheduleStep::Task(next)) if runnable.iter().any(|t| t.id() == next) => {
                self.at += 1;
                self.note_used();
                Some(next)
            }
            Some(ScheduleStep::Task(next)) => {
                let offered: Vec<usize> = runnable.iter().map(|t| usize::from(t.id())).collect();
                let at = self.at;
                self.diverge(format!(
                    "step {at} runs task {} but the runnable tasks are {offered:?}",
                    usize::from(next)
                ))
            }
            Some(ScheduleStep::Random) => {
                let at = self.at;
                self.diverge(format!(
                    "step {at} is a random draw but the code switches tasks"
                ))
            }
        }
    }

    fn next_u64(&mut self) -> u64 {
        match self.steps.get(self.at) {
            Some(ScheduleStep::Random) => {
                self.at += 1;
                self.note_used();
            }
            Some(ScheduleStep::Task(_)) => {
                let at = self.at;
                self.diverge(format!(
                    "step {at} is a task switch but the code draws a random number"
                ));
            }
            None => lock(&self.fit).defaulted += 1,
        }
        self.data.next_u64()
    }
}

/// Decodes a shuttle schedule string (as `shuttle::replay` reads it).
pub fn decode_schedule(encoded: &str) -> Option<Schedule> {
    parse_schedule(encoded).ok()
}

/// Decodes a shuttle schedule string, or says what is wrong with it.
///
/// The format is shuttle's (hex of: magic `0x91`, varints task-ID bit width,
/// step count and seed, then the steps packed as bits), read here rather
/// than by shuttle's own decoder, which panics on a short or corrupt string
/// (an index out of bounds, an unwrap on `None`) and allocates whatever step
/// count the string claims before reading a step.
pub fn parse_schedule(encoded: &str) -> Result<Schedule, String> {
    let hex: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = hex_bytes(&hex)?;
    let Some((&magic, mut rest)) = bytes.split_first() else {
        return Err("the schedule is empty".into());
    };
    if magic != SCHEDULE_MAGIC {
        return Err(format!(
            "the schedule starts with 0x{magic:02x}, not shuttle's 0x{SCHEDULE_MAGIC:02x}"
        ));
    }
    let width = varint(&mut rest, "task-ID width")?;
    let len = varint(&mut rest, "step count")?;
    let seed = varint(&mut rest, "seed")?;
    if width > u64::from(usize::BITS) {
        return Err(format!("task IDs of {width} bits do not fit a task ID"));
    }
    let bits = Bits(rest);
    // Every step takes at least one bit: a count past that is a lie.
    if len > 8 * rest.len() as u64 {
        return Err(format!(
            "the schedule claims {len} steps but has {} bits of steps",
            8 * rest.len()
        ));
    }
    let mut schedule = Schedule::new(seed);
    let mut at = 0usize;
    for step in 0..len {
        let cut = || format!("step {step} of {len} is cut short");
        if bits.get(at).ok_or_else(cut)? {
            schedule.steps.push(ScheduleStep::Random);
            at += 1;
            continue;
        }
        let width = width as usize;
        let mut task = 0usize;
        for k in 0..width {
            task |= usize::from(bits.get(at + 1 + k).ok_or_else(cut)?) << k;
        }
        schedule.steps.push(ScheduleStep::Task(TaskId::from(task)));
        at += 1 + width;
    }
    Ok(schedule)
}

/// Shuttle's schedule format version 2.
const SCHEDULE_MAGIC: u8 = 0x91;

fn hex_bytes(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the schedule is not a string of hex byte pairs".into());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

/// A little-endian base-128 varint, as shuttle writes them (at most 64 bits).
fn varint(bytes: &mut &[u8], what: &str) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some((&b, rest)) = bytes.split_first() else {
            return Err(format!("the schedule ends inside its {what}"));
        };
        *bytes = rest;
        let part = u64::from(b & 0x7f);
        if shift == 63 && b > 1 {
            return Err(format!("the schedule's {what} exceeds 64 bits"));
        }
        value |= part << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(format!("the schedule's {what} exceeds 64 bits"))
}

/// The step bits, least significant bit of each byte first.
struct Bits<'a>(&'a [u8]);

impl Bits<'_> {
    fn get(&self, i: usize) -> Option<bool> {
        let byte = self.0.get(i / 8)?;
        Some(byte >> (i % 8) & 1 == 1)
    }
}

/// Encodes the schedule of these steps from `seed` (the seed of shuttle's
/// random draws).
pub fn encode_steps(seed: u64, steps: &[ScheduleStep]) -> String {
    let mut schedule = Schedule::new(seed);
    schedule.steps = steps.to_vec();
    encode_schedule(&schedule)
}

/// Encodes a schedule (as `shuttle::replay` reads it).
pub fn encode_schedule(schedule: &Schedule) -> String {
    shuttle_engine::scheduler::serialization::serialize_schedule(schedule)
}

/// Replays one shuttle schedule: `Ok(events)` if the body passed, else the
/// failure (message and events); with how the schedule fit the code.
pub fn shuttle_replay<F>(
    schedule: &Schedule,
    body: F,
) -> (Result<Vec<Event>, Box<Found>>, ShuttleFit)
where
    F: Fn(&Witness) + Send + Sync + 'static,
{
    let witness = Witness::default();
    let w = witness.clone();
    let start = Instant::now();
    let fit = Arc::new(Mutex::new(ShuttleFit {
        recorded: schedule.steps.len(),
        ..ShuttleFit::default()
    }));
    let scheduler = FittingReplay {
        steps: schedule.steps.clone(),
        at: 0,
        started: false,
        data: RandomDataSource::initialize(schedule.seed),
        fit: fit.clone(),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        shuttle::Runner::new(scheduler, shuttle_config()).run(move || body(&w))
    }));
    let fit = lock(&fit).clone();
    let result = match outcome {
        Ok(_) => Ok(witness.events()),
        Err(payload) => Err(Box::new(Found {
            explored: Explored {
                explorer: "shuttle-replay",
                iterations: witness.iterations(),
                elapsed: start.elapsed(),
                bound: "one stored schedule".into(),
            },
            message: panic_message(payload.as_ref()),
            events: witness.events(),
            schedule: None,
        })),
    };
    (result, fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loom_env_bounds_win_over_the_tests_own() {
        let none = |_: &str| None;
        assert_eq!(
            LoomLimits::new(2, none),
            LoomLimits {
                preemption_bound: Some(2),
                max_branches: MAX_BRANCHES,
                from_env: false
            }
        );
        assert_eq!(LoomLimits::new(UNBOUNDED, none).preemption_bound, None);
        let env = |name: &str| match name {
            "LOOM_MAX_PREEMPTIONS" => Some("4".to_string()),
            "LOOM_MAX_BRANCHES" => Some("500".to_string()),
            _ => None,
        };
        let limits = LoomLimits::new(2, env);
        assert_eq!(
            (limits.preemption_bound, limits.max_branches),
            (Some(4), 500)
        );
        assert_eq!(limits.words(), "preemption bound 4 (LOOM_MAX_PREEMPTIONS)");
    }

    #[test]
    #[should_panic(expected = "LOOM_MAX_PREEMPTIONS=two is not a number")]
    fn a_loom_env_bound_that_is_no_number_names_the_variable() {
        LoomLimits::new(2, |_| Some("two".to_string()));
    }
}
