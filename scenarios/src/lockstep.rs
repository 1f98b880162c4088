//! The real relay on the deterministic driver, steered step by step.
//!
//! The relay runs with all of its own threads (AP worker, timer service, HSM
//! firmware, CPU core, monitoring agent) under [`relay::sim::Driver`],
//! whose every scheduling decision goes to a `Chooser::Callback` owned here.
//! The driver's thread 0 (the body) serves commands sent from the test's
//! thread over a channel, so a proptest `StateMachineTest` can apply one
//! transition, look at the relay, and apply the next.
//!
//! A command lets a chosen set of relay threads run, and nobody else:
//! * the chooser picks the lowest-numbered runnable thread of the set, until
//!   none of them can run (they all wait) or a stop condition holds;
//! * it jumps the virtual clock only when told to, until a given thread can
//!   run (the timer service at its deadline, the monitor at its period);
//! * otherwise it gives the turn back to the body.
//!
//! Between commands every relay thread is blocked or parked at a scheduling
//! point, so what [`Lockstep::observe`] sees is a stable state. Stop
//! conditions read observer counters that are not scheduling points
//! ([`relay::mailbox::Mailbox::turns`], [`relay::irq::IrqController::serviced`])
//! so "the worker handles exactly one message" is one command.

use relay::events::{Event, EventLog, IrqSource, ThreadName};
use relay::relay::RelayHandle;
use relay::shared::Observation;
use relay::sim::{Choice, ChoicePoint, Chooser, Driver, RunOutcome, RunReport, Sim, Tid};
use relay::telegram::Telegram;
use relay::{Platform, Relay, RelayConfig, Role};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// When a run command stops (besides "no thread of the set can run").
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// Until every thread of the set waits.
    Quiescent,
    /// Until AP worker `worker` has completed `n` more turns of its message
    /// loop (one message handled, or its HSM deadline taken, per turn).
    WorkerTurns { worker: u16, n: u64 },
    /// Until the CPU has ended `n` more interrupts.
    Serviced { n: u64 },
    /// Until `n` more events satisfying `matching` are recorded.
    Events {
        matching: fn(&relay::EventKind) -> bool,
        n: usize,
    },
}

/// What the relay looks like between steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub observation: Observation,
    /// Timers armed in the timer service.
    pub timers_armed: usize,
    /// Interrupts pending (not in service) on the core.
    pub irq_pending: Vec<IrqSource>,
}

enum Command {
    Submit(Telegram),
    Run {
        threads: Vec<Role>,
        until: Until,
        clock_until: Option<Until>,
    },
    Observe,
}

enum Response {
    Submitted(bool),
    Ran(bool),
    Seen(Box<Seen>),
}

type Probe = Box<dyn Fn(&RelayHandle<Sim>) -> bool + Send>;

/// The chooser's instructions, shared by the body and the chooser.
#[derive(Default)]
struct Ctl {
    /// Threads allowed to run, by driver thread id, in priority order.
    target: Vec<Tid>,
    /// Jump the clock (when no target thread can run) until this holds.
    clock_until: Option<Probe>,
    probe: Option<Probe>,
    /// Set when the chooser let a target thread run.
    progressed: bool,
    /// Shutting down: anybody may run.
    free: bool,
    handle: Option<RelayHandle<Sim>>,
}

impl Ctl {
    fn probe_done(&self) -> bool {
        match (&self.probe, &self.handle) {
            (Some(probe), Some(handle)) => probe(handle),
            _ => false,
        }
    }

    fn clock_wanted(&self) -> bool {
        match (&self.clock_until, &self.handle) {
            (Some(effect), Some(handle)) => !effect(handle),
            _ => false,
        }
    }
}

fn choose(ctl: &Mutex<Ctl>, point: &ChoicePoint<'_>) -> Choice {
    let mut c = ctl.lock().unwrap_or_else(|e| e.into_inner());
    let runnable = |t: Tid| point.options.contains(&Choice::Run(t));
    let fallback = if runnable(0) {
        Choice::Run(0)
    } else {
        point.options[0]
    };
    if c.free {
        return point
            .options
            .iter()
            .copied()
            .find(|o| matches!(o, Choice::Run(_)))
            .unwrap_or(point.options[0]);
    }
    if c.probe_done() {
        return fallback;
    }
    if let Some(t) = c.target.iter().copied().find(|&t| runnable(t)) {
        c.progressed = true;
        return Choice::Run(t);
    }
    // No target thread can run: a deadline may wake one, if we are told to
    // wait for it (a thread preempted long enough for its timer to expire).
    if c.clock_wanted() && point.options.contains(&Choice::Clock) {
        c.progressed = true;
        return Choice::Clock;
    }
    fallback
}

/// A relay running under the driver, waiting for commands.
pub struct Lockstep {
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    answers: mpsc::Receiver<Response>,
    driver: Mutex<Option<std::thread::JoinHandle<RunReport>>>,
    roles: Vec<Role>,
    log: EventLog,
    pub config: RelayConfig,
}

/// The relay stopped answering commands: the driver's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped(pub RunOutcome);

impl Lockstep {
    /// Starts the relay threads `roles` (driver thread `i + 1` runs
    /// `roles[i]`) and lets them all run until each one waits.
    pub fn start(config: RelayConfig, roles: Vec<Role>) -> Result<Self, Stopped> {
        let ctl = Arc::new(Mutex::new(Ctl::default()));
        let (command_tx, command_rx) = mpsc::channel::<Command>();
        let (answer_tx, answer_rx) = mpsc::channel::<Response>();
        let log = EventLog::new();
        let chooser_ctl = ctl.clone();
        let chooser = Chooser::Callback(Box::new(move |p| choose(&chooser_ctl, p)));
        let body = Body {
            ctl,
            roles: roles.clone(),
            config: config.clone(),
            log: log.clone(),
        };
        let driver = std::thread::Builder::new()
            .name("lockstep-driver".into())
            .spawn(move || {
                let (report, _) = Driver::new(chooser)
                    .max_steps(2_000_000)
                    .run(move || body.serve(command_rx, answer_tx));
                report
            })
            .expect("the OS starts the driver thread");
        let lockstep = Lockstep {
            commands: Mutex::new(Some(command_tx)),
            answers: answer_rx,
            driver: Mutex::new(Some(driver)),
            roles,
            log,
            config,
        };
        // The body answers once the relay has settled.
        match lockstep.answers.recv() {
            Ok(_) => Ok(lockstep),
            Err(_) => Err(lockstep.stopped()),
        }
    }

    fn stopped(&self) -> Stopped {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let driver = self.driver.lock().unwrap_or_else(|e| e.into_inner()).take();
        let report = driver.map(|d| d.join());
        match report {
            Some(Ok(report)) => Stopped(report.outcome),
            None => Stopped(RunOutcome::Completed),
            Some(Err(_)) => Stopped(RunOutcome::Panicked {
                thread: "lockstep-driver".into(),
                message: "the driver thread panicked".into(),
            }),
        }
    }

    fn ask(&self, command: Command) -> Result<Response, Stopped> {
        let sent = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|c| c.send(command).is_ok());
        if sent != Some(true) {
            return Err(self.stopped());
        }
        match self.answers.recv() {
            Ok(answer) => Ok(answer),
            Err(_) => Err(self.stopped()),
        }
    }

    /// A CS telegram reaches the relay; false on connection excess.
    pub fn submit(&self, telegram: Telegram) -> Result<bool, Stopped> {
        match self.ask(Command::Submit(telegram))? {
            Response::Submitted(ok) => Ok(ok),
            _ => unreachable!("submit answers Submitted"),
        }
    }

    /// Lets `threads` run until [`Until`] holds or none of them can run.
    /// With `clock_until`, whenever none of them can run the clock jumps to
    /// the next deadline, until that condition holds. True if any ran.
    pub fn run(
        &self,
        threads: &[Role],
        until: Until,
        clock_until: Option<Until>,
    ) -> Result<bool, Stopped> {
        let command = Command::Run {
            threads: threads.to_vec(),
            until,
            clock_until,
        };
        match self.ask(command)? {
            Response::Ran(progressed) => Ok(progressed),
            _ => unreachable!("run answers Ran"),
        }
    }

    /// The relay's observable state.
    pub fn observe(&self) -> Result<Seen, Stopped> {
        match self.ask(Command::Observe)? {
            Response::Seen(seen) => Ok(*seen),
            _ => unreachable!("observe answers Seen"),
        }
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.log.snapshot()
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Shuts the relay down and returns how the driver's run ended.
    pub fn finish(self) -> RunOutcome {
        self.stopped().0
    }
}

impl Drop for Lockstep {
    fn drop(&mut self) {
        self.stopped();
    }
}

/// The driver's thread 0.
struct Body {
    ctl: Arc<Mutex<Ctl>>,
    roles: Vec<Role>,
    config: RelayConfig,
    log: EventLog,
}

impl Body {
    fn tid(&self, role: Role) -> Option<Tid> {
        self.roles
            .iter()
            .position(|r| *r == role)
            .map(|i| i as Tid + 1)
    }

    fn ctl(&self) -> std::sync::MutexGuard<'_, Ctl> {
        self.ctl.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn serve(self, commands: mpsc::Receiver<Command>, answers: mpsc::Sender<Response>) {
        let relay = Relay::<Sim>::start_roles(self.config.clone(), self.log.clone(), &self.roles);
        let handle = relay.handle();
        self.ctl().handle = Some(handle.clone());
        let everyone = self.roles.clone();
        self.drive(&everyone, Until::Quiescent, None);
        if answers.send(Response::Ran(true)).is_ok() {
            while let Ok(command) = commands.recv() {
                let answer = match command {
                    Command::Submit(t) => {
                        Response::Submitted(handle.submit(t, ThreadName::Cs(1)).is_ok())
                    }
                    Command::Run {
                        threads,
                        until,
                        clock_until,
                    } => Response::Ran(self.drive(&threads, until, clock_until)),
                    Command::Observe => Response::Seen(Box::new(observe(&handle))),
                };
                if answers.send(answer).is_err() {
                    break;
                }
            }
        }
        {
            let mut c = self.ctl();
            c.free = true;
            c.handle = None;
        }
        relay.shutdown();
    }

    /// Lets `threads` run until they all wait or `until` holds.
    fn drive(&self, threads: &[Role], until: Until, clock_until: Option<Until>) -> bool {
        let handle = self.ctl().handle.clone().expect("relay started");
        let stop = probe(&handle, until);
        let clock_until = clock_until.and_then(|u| probe(&handle, u));
        {
            let mut c = self.ctl();
            c.target = threads.iter().filter_map(|r| self.tid(*r)).collect();
            c.clock_until = clock_until;
            c.probe = stop;
        }
        let mut any = false;
        loop {
            self.ctl().progressed = false;
            Sim::yield_now();
            let c = self.ctl();
            if c.probe_done() {
                any |= c.progressed;
                break;
            }
            if !c.progressed {
                break;
            }
            any |= c.progressed;
        }
        let mut c = self.ctl();
        c.target.clear();
        c.clock_until = None;
        c.probe = None;
        any
    }
}

/// A stop condition measured from now on.
fn probe(handle: &RelayHandle<Sim>, until: Until) -> Option<Probe> {
    match until {
        Until::Quiescent => None,
        Until::WorkerTurns { worker, n } => {
            let target = handle.shared().mailboxes[worker as usize].turns() + n;
            Some(Box::new(move |h: &RelayHandle<Sim>| {
                h.shared().mailboxes[worker as usize].turns() >= target
            }))
        }
        Until::Serviced { n } => {
            let target = handle.shared().irq.serviced() + n;
            Some(Box::new(move |h: &RelayHandle<Sim>| {
                h.shared().irq.serviced() >= target
            }))
        }
        Until::Events { matching, n } => {
            let count = move |h: &RelayHandle<Sim>| {
                let events = h.shared().events.snapshot();
                events.iter().filter(|e| matching(&e.kind)).count()
            };
            let target = count(handle) + n;
            Some(Box::new(move |h: &RelayHandle<Sim>| count(h) >= target))
        }
    }
}

fn observe(handle: &RelayHandle<Sim>) -> Seen {
    let shared = handle.shared();
    Seen {
        observation: shared.observe(),
        timers_armed: shared.timers.armed(),
        irq_pending: shared.irq.pending(),
    }
}
