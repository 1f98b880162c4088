//! The relay and the CS terminals that load it, on any platform.
//!
//! * [`Workload`]: the one "relay plus terminals" body: a relay
//!   configuration, the relay threads to start, and the real CS client
//!   (`relay::cs::run_cs`) per terminal. Real threads (`Std`), the
//!   deterministic driver (`Sim`), loom and shuttle all run it.
//! * [`Scenario`]: the explorers' workloads described by a few sizes (the
//!   ones a trace records): the relay started with only the threads a study
//!   needs, terminals that wait for every answer.
//!
//! The checks are on what the relay reports (its [`EventLog`]) and on its
//! post-mortem state ([`Observation`]); the property names are the model's
//! (`model::timer_free`, `model::irq_order`) so a finding here and a verdict
//! there talk about the same thing.

use model::SpecName;
use patches::{CsRule, Monitor, Patches, Preset};
use relay::cs::{run_cs, CsConfig, CsReport};
use relay::events::{Event, EventKind, EventLog};
use relay::shared::Observation;
use relay::telegram::{CardId, CsId, TelegramId};
use relay::{CryptoPath, Delivery, Platform, Relay, RelayConfig, RelayHandle, Role};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One explored configuration of the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Which of the model's specs this run exercises.
    pub spec: SpecName,
    pub preset: Preset,
    /// Normally `preset.patches()`; a test may flip one switch to isolate it.
    pub patches: Patches,
    /// CS terminals; terminal 1 is the body's own (main) thread, the others
    /// are spawned.
    pub terminals: u16,
    /// Telegrams each terminal sends.
    pub telegrams: u64,
    /// Telegrams a terminal keeps in flight at once (`CsConfig::window`): 1 =
    /// one after another; more = the next telegram already waits in the
    /// worker's queue while one is processed, as with many CSs in production.
    pub window: u64,
    /// AP worker threads.
    pub workers: u16,
    /// How many interrupts the monitoring agent raises (irq-order only).
    pub monitor_raises: u32,
    /// timer-free: crypto in the worker (no HSM threads) or through the HSM
    /// board. In-process crypto posts its result to the worker's queue at
    /// once, so a busy worker always has a completion ahead of a low-priority
    /// timeout notice; only the HSM path leaves the worker waiting with an
    /// empty queue mid-telegram, the window in which a stale notice can reach
    /// the *next* telegram. irq-order always uses the HSM.
    pub crypto: CryptoPath,
    /// How timeout notices are retrieved: low priority like `WM_TIMER` (the
    /// 2016 relay) or in posting order (the model's `fifo` size).
    pub delivery: Delivery,
}

/// Names of the size parameters stored in a trace's `sizes`.
/// `hsm` is 1 when crypto goes through the HSM board; `fifo` 1 when timeout
/// notices are delivered in posting order (as in the model's sizes).
pub const SIZE_NAMES: [&str; 7] = [
    "terminals",
    "telegrams",
    "window",
    "workers",
    "monitor_raises",
    "hsm",
    "fifo",
];

impl Scenario {
    pub fn terminals(self, terminals: u16) -> Self {
        Scenario { terminals, ..self }
    }

    pub fn telegrams(self, telegrams: u64) -> Self {
        Scenario { telegrams, ..self }
    }

    pub fn window(self, window: u64) -> Self {
        Scenario {
            window: window.max(1),
            ..self
        }
    }

    pub fn workers(self, workers: u16) -> Self {
        Scenario { workers, ..self }
    }

    pub fn monitor_raises(self, monitor_raises: u32) -> Self {
        Scenario {
            monitor_raises,
            ..self
        }
    }

    /// timer-free through the HSM board (worker, timer, HSM, CPU threads).
    pub fn through_hsm(self) -> Self {
        Scenario {
            crypto: CryptoPath::Hsm,
            ..self
        }
    }

    /// Timeout notices in posting order (the model's `fifo = 1`).
    pub fn fifo(self) -> Self {
        Scenario {
            delivery: Delivery::Fifo,
            ..self
        }
    }

    pub fn patches(self, patches: Patches) -> Self {
        Scenario { patches, ..self }
    }

    /// The sizes as a trace records them.
    pub fn sizes(&self) -> BTreeMap<String, u64> {
        let values = [
            u64::from(self.terminals),
            self.telegrams,
            self.window,
            u64::from(self.workers),
            u64::from(self.monitor_raises),
            u64::from(self.crypto == CryptoPath::Hsm),
            u64::from(self.delivery == Delivery::Fifo),
        ];
        SIZE_NAMES
            .iter()
            .zip(values)
            .map(|(name, v)| (name.to_string(), v))
            .collect()
    }

    /// The relay configuration. No latencies: under loom and shuttle a
    /// sleep is only a yield, an extra scheduling point that adds nothing.
    pub fn config(&self) -> RelayConfig {
        let mut config = RelayConfig::small(self.preset);
        config.patches = self.patches;
        config.workers = self.workers;
        config.connection_limit = config
            .connection_limit
            .max(u64::from(self.terminals) * self.window);
        config.work_areas = config.work_areas.max(u32::from(self.workers));
        config.hsm_latency = 0;
        config.upstream_latency = 0;
        config.crypto = self.crypto;
        config.timer_delivery = self.delivery;
        config.monitor_raises = Some(self.monitor_raises);
        config
    }

    /// The relay threads this study runs.
    ///
    /// timer-free runs no monitoring agent (`monitor_raises` 0): its
    /// interrupts are the other study. irq-order runs no timer thread: the AP's telegram timer would turn the
    /// HSM hang into a stream of timeouts (that race is the timer-free study),
    /// and loom allows five threads: main, worker, HSM, CPU, monitor.
    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = (0..self.workers.max(1)).map(Role::Worker).collect();
        if self.spec == SpecName::TimerFree {
            roles.push(Role::Timer);
        }
        if self.crypto == CryptoPath::Hsm {
            roles.extend([Role::Hsm, Role::Cpu]);
        }
        if self.patches.monitor == Monitor::On && self.monitor_raises > 0 {
            roles.push(Role::Monitor);
        }
        roles
    }

    /// Threads including the body's own (loom allows `loom::MAX_THREADS`).
    pub fn threads(&self) -> usize {
        1 + self.roles().len() + usize::from(self.terminals.max(1)) - 1
    }

    /// Terminal `cs` of this scenario: the real CS client (`relay::cs`),
    /// sending `telegrams` cards `window` at a time, each once (the study is
    /// the relay's, not the CS rule's: a refused or failed card is not sent
    /// again), and waiting for every answer: loom and shuttle have no clock,
    /// so a telegram the relay never answers is a deadlock they report.
    pub fn terminal(&self, cs: CsId) -> CsConfig {
        let cards: Vec<CardId> = (1..=self.telegrams)
            .map(|seq| CardId(u64::from(cs.0) * 1_000 + seq))
            .collect();
        let mut config = CsConfig::new(cs, cards, self.patches.cs_rule);
        config.window = usize::try_from(self.window).unwrap_or(usize::MAX);
        config.search_timeout = None;
        config.max_sends = u32::try_from(self.telegrams).unwrap_or(u32::MAX);
        config
    }

    /// The relay and terminals this scenario runs; terminal 1 on the body's
    /// own thread (loom allows five threads in all).
    pub fn workload(&self) -> Workload {
        Workload {
            config: self.config(),
            roles: self.roles(),
            terminals: (1..=self.terminals)
                .map(|cs| self.terminal(CsId(cs)))
                .collect(),
            first_terminal_inline: true,
        }
    }

    /// Runs the scenario once on platform `P` (see [`Workload::run`]); a
    /// telegram the relay never answers is a deadlock the explorer reports.
    pub fn run<P: Platform>(&self, log: &EventLog) -> RunRecord {
        self.workload().run::<P>(log)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The relay and the CS terminals that load it: the one body every checker
/// runs, whatever the platform.
#[derive(Clone, Debug)]
pub struct Workload {
    pub config: RelayConfig,
    /// The relay threads to start (`Role::all_for` for the whole relay).
    pub roles: Vec<Role>,
    /// One CS terminal each.
    pub terminals: Vec<CsConfig>,
    /// The first terminal runs on the body's own thread (explorers count
    /// threads); otherwise every terminal gets a thread of its own.
    pub first_terminal_inline: bool,
}

impl Workload {
    /// The whole relay under `terminals` CSs at once, each on a thread of its
    /// own, sending `cards_each` cards (terminal `n`: cards `n*1000 ..`),
    /// `window` at a time, under `rule`: load tests and logs for `chukei
    /// validate` on real threads.
    pub fn load(
        config: RelayConfig,
        terminals: u16,
        cards_each: u64,
        window: usize,
        rule: CsRule,
    ) -> Workload {
        let terminal = |cs: u16| {
            let cards = (0..cards_each)
                .map(|i| CardId(u64::from(cs) * 1000 + i))
                .collect();
            CsConfig {
                window,
                ..CsConfig::new(CsId(cs), cards, rule)
            }
        };
        Workload {
            roles: Role::all_for(&config),
            config,
            terminals: (1..=terminals).map(terminal).collect(),
            first_terminal_inline: false,
        }
    }

    /// Starts the relay, runs every terminal to the end of its workload,
    /// shuts the relay down. `log` receives the run's events as they happen
    /// (an explorer keeps it to show the events of a run it reports as a
    /// deadlock).
    pub fn run<P: Platform>(&self, log: &EventLog) -> RunRecord {
        self.run_inspecting::<P, ()>(log, |_, _| ()).0
    }

    /// As [`Workload::run`], with `inspect` looking at the relay once the
    /// terminals are done and before it shuts down.
    pub fn run_inspecting<P: Platform, T>(
        &self,
        log: &EventLog,
        inspect: impl FnOnce(&RelayHandle<P>, &[CsReport]) -> T,
    ) -> (RunRecord, T) {
        let relay = Relay::<P>::start_roles(self.config.clone(), log.clone(), &self.roles);
        let (inline, spawned) = match self.terminals.split_first() {
            Some((first, rest)) if self.first_terminal_inline => (Some(first), rest),
            _ => (None, self.terminals.as_slice()),
        };
        let reports = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = spawned
            .iter()
            .map(|terminal| {
                let (handle, reports, terminal) =
                    (relay.handle(), reports.clone(), terminal.clone());
                P::spawn(&format!("cs-{}", terminal.cs.0), move || {
                    let report = run_cs(&handle, &terminal);
                    lock(&reports).push(report);
                })
            })
            .collect();
        let mine = inline.map(|terminal| run_cs(&relay.handle(), terminal));
        for t in threads {
            P::join(t);
        }
        let mut terminals = std::mem::take(&mut *lock(&reports));
        terminals.extend(mine);
        terminals.sort_by_key(|r| r.cs);
        let inspected = inspect(&relay.handle(), &terminals);
        let shared = relay.shutdown();
        let record = RunRecord {
            events: log.snapshot(),
            observation: shared.observe(),
            terminals,
        };
        (record, inspected)
    }
}

/// Everything a check can look at after one run.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub events: Vec<Event>,
    pub observation: Observation,
    pub terminals: Vec<CsReport>,
}

impl RunRecord {
    pub fn sent(&self) -> impl Iterator<Item = TelegramId> + '_ {
        self.terminals.iter().flat_map(|t| t.sent.iter().copied())
    }

    pub fn any(&self, pred: impl Fn(&EventKind) -> bool) -> bool {
        self.events.iter().any(|e| pred(&e.kind))
    }
}
