//! `load`: N municipal CS terminals against one or more relayds.
//!
//! Each terminal is the real [`relay::cs`] logic with its rule (Legacy or
//! Improved), reaching the relay through [`TcpLink`]: one TCP connection per
//! telegram, round-robin over the targets (the distributor in front of 2,
//! later 4, relays). A terminal paces its sends so that all of them together
//! offer `rate` telegrams per second (the card write-and-verify time), and
//! has `rate * duration / N` cards to issue, so a run is bounded in count;
//! every wait (connect, acknowledgement, answer, search timeout, block) is
//! bounded in time.

use crate::frame::{read_frame, write_frame};
use crate::seal::{KeyRing, Leg};
use hdrhistogram::Histogram;
use relay::admission::ConnectionExcess;
use relay::cs::{run_cs_over, CsConfig, CsLink, CsReport};
use relay::platform::{Lock, Millis, StdLock, Wait};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{CsRule, EventKind, Platform, Std, SubmitError, ThreadName};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One load run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Relays, served round-robin.
    pub targets: Vec<SocketAddr>,
    pub terminals: u16,
    /// Telegrams per second offered by all terminals together.
    pub rate: f64,
    pub duration: Duration,
    pub rule: CsRule,
    /// Telegrams in flight per terminal.
    pub window: usize,
    /// A terminal's wait for an answer before it gives up on it.
    pub search_timeout: Duration,
    /// How long the Legacy rule blocks (one minute in 2016).
    pub block_for: Duration,
    /// The Improved rule's first backoff.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// After the acknowledgement, how long a connection waits for its answer
    /// before the telegram counts as lost.
    pub answer_deadline: Duration,
    /// Card numbers start here, so runs against one relayd use new cards.
    pub first_card: u64,
    /// The session key the terminals seal payloads with.
    pub key: [u8; 32],
    /// Per-CS keys: when set, each terminal seals its requests with its own
    /// key and checks the relay's answers ([`crate::seal`]).
    pub keys: Option<Arc<KeyRing>>,
    /// This run's part of every telegram ID (`relay::cs::telegram_id`), so
    /// that runs against one relayd never reuse an ID; new per config.
    pub run: u32,
}

/// A run number unlikely to repeat against one relayd: from the clock,
/// never 0 (0 is the explorers' readable IDs).
fn new_run() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    ((nanos ^ (nanos >> 23)) as u32 & 0x7F_FFFF).max(1)
}

impl LoadConfig {
    pub fn new(targets: Vec<SocketAddr>, terminals: u16, rate: f64, duration: Duration) -> Self {
        LoadConfig {
            targets,
            terminals,
            rate,
            duration,
            rule: CsRule::Improved,
            window: 4,
            search_timeout: Duration::from_secs(60),
            block_for: Duration::from_secs(60),
            backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            answer_deadline: Duration::from_secs(120),
            first_card: 1,
            key: relay::RelayConfig::production(relay::Preset::Proposed).key,
            keys: None,
            run: new_run(),
        }
    }

    /// Cards each terminal issues.
    pub fn cards_each(&self) -> u64 {
        let total = (self.rate * self.duration.as_secs_f64()).ceil() as u64;
        total.div_ceil(self.terminals.max(1) as u64).max(1)
    }

    fn send_interval(&self) -> Duration {
        Duration::from_secs_f64(self.terminals.max(1) as f64 / self.rate.max(1e-3))
    }
}

/// Latency percentiles of answered telegrams, milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// What a load run saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadReport {
    pub terminals: u16,
    pub rule: String,
    pub elapsed_s: f64,
    /// Telegrams sent (every attempt, connection excess included).
    pub sent: u64,
    /// Telegrams the relay acknowledged as admitted.
    pub admitted: u64,
    /// Admitted telegrams that got their final answer.
    pub answered: u64,
    pub connection_excess: u64,
    /// Final answers by kind (`reply-ok`, `error-timeout`, ...).
    pub answers: BTreeMap<String, u64>,
    /// Failures that are not answers: connect, write, missing
    /// acknowledgement.
    pub errors: BTreeMap<String, u64>,
    /// Admitted telegrams whose connection ended with no answer.
    pub lost: u64,
    pub cards: u64,
    pub issued: u64,
    /// Cards whose chip is written but which the terminal does not hold as
    /// issued: the card has to be reissued.
    pub disagreements: u64,
    pub blocks: u64,
    pub blocked_cs_minutes: f64,
    pub answered_per_s: f64,
    pub latency_ms: Latency,
}

/// A running tally, for a progress bar.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub elapsed: Duration,
    pub sent: u64,
    pub answered: u64,
    pub connection_excess: u64,
    pub lost: u64,
    /// Telegrams the run will send at least (one per card).
    pub planned: u64,
}

/// Counters every link of a run shares.
struct Tally {
    sent: AtomicU64,
    admitted: AtomicU64,
    answered: AtomicU64,
    connection_excess: AtomicU64,
    lost: AtomicU64,
    answers: Mutex<BTreeMap<String, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    latency_us: Mutex<Histogram<u64>>,
    next_target: AtomicUsize,
    /// Reader threads still waiting for an answer.
    readers: AtomicUsize,
}

impl Tally {
    fn new() -> Self {
        Tally {
            sent: AtomicU64::new(0),
            admitted: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            connection_excess: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            answers: Mutex::default(),
            errors: Mutex::default(),
            // 1 µs .. 1 hour, 3 significant digits.
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            ),
            next_target: AtomicUsize::new(0),
            readers: AtomicUsize::new(0),
        }
    }

    fn count(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
        *lock(map).entry(key.to_string()).or_default() += 1;
    }

    fn error(&self, kind: &str) {
        Tally::count(&self.errors, kind);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `ReplyOk` → `reply-ok`.
pub fn kind_name(kind: TelegramKind) -> String {
    let debug = format!("{kind:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// One terminal's connection to the relays: a TCP connection per telegram.
pub struct TcpLink {
    config: Arc<LoadConfig>,
    tally: Arc<Tally>,
    inbox: Arc<StdLock<VecDeque<Telegram>>>,
    next_send: Mutex<Instant>,
    /// Sends of each telegram so far: a retry is a new sealed attempt.
    attempts: Mutex<HashMap<TelegramId, u8>>,
}

impl TcpLink {
    fn new(config: Arc<LoadConfig>, tally: Arc<Tally>, start: Instant) -> Self {
        TcpLink {
            config,
            tally,
            inbox: Arc::new(StdLock::new(VecDeque::new())),
            next_send: Mutex::new(start),
            attempts: Mutex::default(),
        }
    }

    /// Waits for this terminal's next send slot (the card write time).
    fn pace(&self) {
        let at = {
            let mut next = lock(&self.next_send);
            let at = (*next).max(Instant::now());
            *next = at + self.config.send_interval();
            at
        };
        let wait = at.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn target(&self) -> SocketAddr {
        let n = self.tally.next_target.fetch_add(1, Ordering::Relaxed);
        self.config.targets[n % self.config.targets.len()]
    }

    /// The telegram as it goes on the wire (sealed when there are keys),
    /// with its attempt number.
    fn seal(&self, telegram: &Telegram) -> Result<(Telegram, u8), &'static str> {
        let Some(keys) = &self.config.keys else {
            return Ok((telegram.clone(), 0));
        };
        let attempt = {
            let mut attempts = lock(&self.attempts);
            let n = attempts.entry(telegram.id).or_default();
            let attempt = *n;
            *n = n.wrapping_add(1);
            attempt
        };
        let sealed = keys.seal(telegram.cs, attempt, Leg::Request, telegram);
        sealed.map(|t| (t, attempt)).ok_or("no-key-for-cs")
    }

    /// Opens what the relay sent back, when there are keys.
    fn open(&self, leg: Leg, t: Telegram) -> Result<Telegram, &'static str> {
        match &self.config.keys {
            None => Ok(t),
            Some(_) if t.kind == TelegramKind::ErrorRejected => Ok(t),
            Some(keys) => keys
                .open(leg, &t)
                .map(|o| o.telegram)
                .map_err(|_| "unauthentic-answer"),
        }
    }

    /// Connects, sends, and reads the acknowledgement.
    fn exchange(&self, telegram: &Telegram) -> Result<(TcpStream, Telegram), &'static str> {
        let (wire, _) = self.seal(telegram)?;
        let telegram = &wire;
        let addr = self.target();
        let mut stream = TcpStream::connect_timeout(&addr, self.config.connect_timeout)
            .map_err(|_| "connect")?;
        let _ = stream.set_nodelay(true);
        write_frame(&mut stream, telegram, self.config.connect_timeout).map_err(|_| "write")?;
        let first = read_frame(&mut stream, self.config.answer_deadline).map_err(|_| "no-ack")?;
        Ok((stream, self.open(Leg::Acknowledgement, first)?))
    }

    /// Waits on its own thread for an admitted telegram's answer.
    fn await_answer(&self, mut stream: TcpStream, id: TelegramId, sent_at: Instant) {
        let (tally, inbox) = (self.tally.clone(), self.inbox.clone());
        let keys = self.config.keys.clone();
        let deadline = self.config.answer_deadline;
        tally.readers.fetch_add(1, Ordering::SeqCst);
        let reader = move || {
            let read = read_frame(&mut stream, deadline).map_err(|e| e.kind());
            let opened = read.and_then(|t| match &keys {
                Some(keys) => keys
                    .open(Leg::Answer, &t)
                    .map(|o| o.telegram)
                    .map_err(|_| "unauthentic-answer"),
                None => Ok(t),
            });
            match opened {
                Ok(answer) => {
                    let us = sent_at.elapsed().as_micros().max(1) as u64;
                    let _ = lock(&tally.latency_us).record(us);
                    tally.answered.fetch_add(1, Ordering::SeqCst);
                    Tally::count(&tally.answers, &kind_name(answer.kind));
                    inbox.with(|q| q.push_back(answer));
                }
                Err(reason) => {
                    tally.lost.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(thread = %std::thread::current().name().unwrap_or("?"), telegram = %id, reason, "admitted telegram got no answer: lost");
                }
            }
            tally.readers.fetch_sub(1, Ordering::SeqCst);
        };
        let spawned = std::thread::Builder::new()
            .name(format!("answer-{id}"))
            .spawn(reader);
        if spawned.is_err() {
            self.tally.readers.fetch_sub(1, Ordering::SeqCst);
            self.tally.lost.fetch_add(1, Ordering::SeqCst);
            self.tally.error("no-thread");
        }
    }
}

impl CsLink for TcpLink {
    fn submit(&self, telegram: Telegram, _from: ThreadName) -> Result<(), SubmitError> {
        self.pace();
        self.tally.sent.fetch_add(1, Ordering::SeqCst);
        let sent_at = Instant::now();
        let refused = SubmitError::ConnectionExcess(ConnectionExcess {
            in_use: 0,
            limit: 0,
        });
        let (stream, first) = self.exchange(&telegram).map_err(|kind| {
            self.tally.error(kind);
            refused.clone()
        })?;
        match first.kind {
            TelegramKind::Accepted => {
                self.tally.admitted.fetch_add(1, Ordering::SeqCst);
                self.await_answer(stream, telegram.id, sent_at);
                Ok(())
            }
            TelegramKind::ConnectionExcess => {
                self.tally.connection_excess.fetch_add(1, Ordering::SeqCst);
                Err(refused)
            }
            TelegramKind::ErrorRejected => {
                let reason = String::from_utf8_lossy(&first.payload).into_owned();
                self.tally.error(&format!("rejected-{reason}"));
                self.inbox.with(|q| q.push_back(first));
                Ok(())
            }
            other => {
                // Refused before admission (shutdown): the terminal sees it
                // as an answer and sends the card again.
                self.tally.error(&kind_name(other));
                self.inbox.with(|q| q.push_back(first));
                Ok(())
            }
        }
    }

    fn take_reply(&self, _cs: CsId, until: Option<Millis>) -> Option<Telegram> {
        self.inbox.wait(|q| match q.pop_front() {
            Some(t) => Wait::Ready(Some(t)),
            None => Wait::or_at_deadline(until, Std::now(), None),
        })
    }

    fn emit(&self, thread: ThreadName, telegram: Option<TelegramId>, kind: EventKind) {
        let telegram = telegram
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        tracing::debug!(thread = %thread, telegram, event = %kind);
    }

    fn session_key(&self) -> [u8; 32] {
        self.config.key
    }
}

/// The terminal settings of one CS in a run.
fn terminal(config: &LoadConfig, cs: u16) -> CsConfig {
    let each = config.cards_each();
    let first = config.first_card + (cs as u64 - 1) * each;
    let cards = (first..first + each).map(CardId).collect();
    let mut t = CsConfig::new(CsId(cs), cards, config.rule);
    t.window = config.window.max(1);
    t.search_timeout = Some(config.search_timeout.as_millis() as Millis);
    t.block_for = config.block_for.as_millis() as Millis;
    t.backoff = config.backoff.as_millis().max(1) as Millis;
    t.run = config.run;
    t
}

/// Runs the load; `progress` is called a few times a second.
pub fn run_load(config: LoadConfig, progress: impl Fn(&Progress) + Sync) -> LoadReport {
    let config = Arc::new(config);
    let tally = Arc::new(Tally::new());
    let start = Instant::now();
    let planned = config.cards_each() * config.terminals as u64;
    let running = AtomicUsize::new(config.terminals as usize);
    let reports: Vec<CsReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=config.terminals)
            .map(|cs| {
                let link = TcpLink::new(config.clone(), tally.clone(), start);
                let terminal = terminal(&config, cs);
                let running = &running;
                std::thread::Builder::new()
                    .name(format!("cs-{cs}"))
                    .spawn_scoped(scope, move || {
                        let report = run_cs_over::<Std, _>(&link, &terminal);
                        running.fetch_sub(1, Ordering::SeqCst);
                        report
                    })
                    .expect("the OS refused a terminal thread")
            })
            .collect();
        while running.load(Ordering::SeqCst) > 0 || tally.readers.load(Ordering::SeqCst) > 0 {
            progress(&snapshot(&tally, start, planned));
            std::thread::sleep(Duration::from_millis(200));
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    progress(&snapshot(&tally, start, planned));
    report(&config, &tally, &reports, start.elapsed())
}

fn snapshot(tally: &Tally, start: Instant, planned: u64) -> Progress {
    Progress {
        elapsed: start.elapsed(),
        sent: tally.sent.load(Ordering::SeqCst),
        answered: tally.answered.load(Ordering::SeqCst),
        connection_excess: tally.connection_excess.load(Ordering::SeqCst),
        lost: tally.lost.load(Ordering::SeqCst),
        planned,
    }
}

fn report(
    config: &LoadConfig,
    tally: &Tally,
    reports: &[CsReport],
    elapsed: Duration,
) -> LoadReport {
    let cards = reports.iter().flat_map(|r| r.cards.values());
    let disagreements = cards
        .clone()
        .filter(|c| c.chip_written && !c.issued)
        .count() as u64;
    let blocks: u64 = reports.iter().map(|r| r.blocks as u64).sum();
    let answered = tally.answered.load(Ordering::SeqCst);
    let h = lock(&tally.latency_us);
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    LoadReport {
        terminals: config.terminals,
        rule: format!("{:?}", config.rule).to_lowercase(),
        elapsed_s: elapsed.as_secs_f64(),
        sent: tally.sent.load(Ordering::SeqCst),
        admitted: tally.admitted.load(Ordering::SeqCst),
        answered,
        connection_excess: tally.connection_excess.load(Ordering::SeqCst),
        answers: lock(&tally.answers).clone(),
        errors: lock(&tally.errors).clone(),
        lost: tally.lost.load(Ordering::SeqCst),
        cards: config.cards_each() * config.terminals as u64,
        issued: cards.clone().filter(|c| c.issued).count() as u64,
        disagreements,
        blocks,
        blocked_cs_minutes: blocks as f64 * config.block_for.as_secs_f64() / 60.0,
        answered_per_s: answered as f64 / elapsed.as_secs_f64().max(1e-9),
        latency_ms: Latency {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
        },
    }
}
