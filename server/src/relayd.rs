//! `relayd`: the relay crate on real threads ([`Std`]) behind a TCP
//! listener speaking the telegram frame format.
//!
//! One connection per telegram, as in 2016: the CS connects and sends its
//! request; the relay answers connection excess and closes when it is over
//! its limit, else acknowledges with `Accepted` and sends the answer on the
//! same connection when the relay has it. Every connection is bounded: a
//! whole request frame within the frame deadline and of at most
//! [`relay::telegram::MAX_BODY`] bytes, an answer within the answer deadline
//! (past it the relay lost the telegram: the connection is closed with no
//! answer and counted). On shutdown the listener stops accepting, in-flight
//! telegrams get until the drain deadline to finish, and every one still
//! open then is answered `ErrorShutdown`.

use crate::frame::{read_frame, write_frame, ReadError};
use crate::router::Router;
use crate::seal::{KeyRing, Leg, Rejection, ReplayGuard};
use crate::upstream::TcpUpstream;
use relay::telegram::{Telegram, TelegramKind};
use relay::{EventLog, Relay, RelayConfig, RelayHandle, Retention, Std, ThreadName};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How one relayd serves its connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub relay: RelayConfig,
    /// A whole request frame must arrive within this (slow clients).
    pub frame_deadline: Duration,
    /// After admission, the relay's answer must come within this; past it
    /// the telegram is counted lost by the relay.
    pub answer_deadline: Duration,
    /// At shutdown, how long in-flight telegrams may still finish.
    pub drain: Duration,
    /// Connections served at once (one thread each); a connection over it
    /// is closed at once, before anything is read.
    pub max_open: usize,
    /// Per-CS keys: when set, every request must be sealed by its CS
    /// ([`crate::seal`]) and every answer is sealed back.
    pub keys: Option<Arc<KeyRing>>,
    /// Sealed requests remembered to catch replays.
    pub replay_window: usize,
    /// A separate upstream server (`chukei upstream`); `None`: in process.
    pub upstream: Option<SocketAddr>,
}

impl ServerConfig {
    /// Answer counts a relayd remembers at most ([`Retention`]): a few
    /// megabytes, some seconds of traffic at full speed.
    pub const ANSWERS_REMEMBERED: usize = 1 << 16;

    /// Deadlines derived from the relay's own timers; unless `relay` says
    /// otherwise, answer counts are remembered for one answer deadline (no
    /// attempt of a telegram is waited for longer) and at most
    /// [`Self::ANSWERS_REMEMBERED`] of them, so memory stays flat however
    /// long relayd runs.
    pub fn new(relay: RelayConfig) -> Self {
        let timers = relay.telegram_timeout + relay.hsm_guard_timeout;
        let answer_deadline = 2 * timers + relay.upstream_latency + 1_000;
        let retention = Retention {
            window: answer_deadline,
            cap: Self::ANSWERS_REMEMBERED,
        };
        let relay = RelayConfig {
            answer_retention: relay.answer_retention.or(Some(retention)),
            ..relay
        };
        ServerConfig {
            frame_deadline: Duration::from_secs(5),
            answer_deadline: Duration::from_millis(answer_deadline),
            drain: Duration::from_millis(timers + 1_000),
            max_open: 4 * relay.connection_limit as usize + 64,
            keys: None,
            replay_window: 1 << 20,
            upstream: None,
            relay,
        }
    }
}

/// Counters of what the server did, by outcome.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    busy: AtomicU64,
    admitted: AtomicU64,
    answered: AtomicU64,
    connection_excess: AtomicU64,
    malformed: AtomicU64,
    oversized: AtomicU64,
    stalled: AtomicU64,
    closed_early: AtomicU64,
    not_a_request: AtomicU64,
    vanished: AtomicU64,
    lost_by_relay: AtomicU64,
    shutdown_errors: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
    /// The link to a separate upstream, whose failures are counted there.
    upstream: Option<Arc<TcpUpstream>>,
}

/// A snapshot of the server's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServerStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Connections closed at once: too many open.
    pub busy: u64,
    /// Telegrams the relay admitted.
    pub admitted: u64,
    /// Admitted telegrams whose answer was written back.
    pub answered: u64,
    pub connection_excess: u64,
    pub malformed: u64,
    pub oversized: u64,
    /// Frames not complete within the frame deadline.
    pub stalled: u64,
    /// Connections closed by the client before a whole frame.
    pub closed_early: u64,
    /// Frames that were telegrams but not requests.
    pub not_a_request: u64,
    /// Answers the relay gave whose client was gone.
    pub vanished: u64,
    /// Admitted telegrams the relay never answered.
    pub lost_by_relay: u64,
    /// In-flight telegrams answered `ErrorShutdown`.
    pub shutdown_errors: u64,
    /// Requests refused before admission, by reason (`unauthentic`,
    /// `replayed`, `other-cs`, ...): none of them reached the relay.
    pub rejected: BTreeMap<String, u64>,
    /// Requests a separate upstream did not answer (away or too slow):
    /// each was answered `ErrorUpstream`.
    pub upstream_errors: u64,
    /// Operations (decrypt, encrypt) each HSM board computed.
    pub hsm_operations: Vec<u64>,
    /// AP workers restarted after dying (each lost its telegram in flight,
    /// answered `ErrorShutdown`).
    pub worker_restarts: u64,
    /// Telegrams whose answer count the relay remembers (bounded by
    /// `RelayConfig::answer_retention`).
    pub answers_remembered: usize,
    /// Sealed attempts remembered to catch replays (at most
    /// `ServerConfig::replay_window`).
    pub replays_remembered: usize,
}

impl ServerStats {
    /// Admitted telegrams that got neither an answer nor a shutdown error
    /// and whose client did not vanish: what the server itself lost.
    pub fn unaccounted(&self) -> u64 {
        self.admitted
            .saturating_sub(self.answered + self.vanished + self.shutdown_errors)
    }
}

impl Counters {
    fn snapshot(&self) -> ServerStats {
        let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
        ServerStats {
            connections: get(&self.connections),
            busy: get(&self.busy),
            admitted: get(&self.admitted),
            answered: get(&self.answered),
            connection_excess: get(&self.connection_excess),
            malformed: get(&self.malformed),
            oversized: get(&self.oversized),
            stalled: get(&self.stalled),
            closed_early: get(&self.closed_early),
            not_a_request: get(&self.not_a_request),
            vanished: get(&self.vanished),
            lost_by_relay: get(&self.lost_by_relay),
            shutdown_errors: get(&self.shutdown_errors),
            rejected: lock(&self.rejected).clone(),
            upstream_errors: self.upstream.as_ref().map_or(0, |u| u.errors()),
            hsm_operations: Vec::new(),
            worker_restarts: 0,
            answers_remembered: 0,
            replays_remembered: 0,
        }
    }

    fn frame_error(&self, e: &ReadError) -> &AtomicU64 {
        match e {
            ReadError::Oversized { .. } => &self.oversized,
            ReadError::Stalled(_) => &self.stalled,
            ReadError::Closed { .. } | ReadError::Io(_) => &self.closed_early,
            ReadError::Malformed(_) => &self.malformed,
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::SeqCst);
}

/// The connection threads, each accepting its own connections from the
/// listener: a connection costs one wake-up (the kernel's, of a thread
/// blocked in `accept`), where an acceptor thread handing connections over
/// cost a second one per telegram. A thread serves its connection to the
/// end (so a stalled client blocks only its own thread, up to `max_open` of
/// them); one that accepts while no other thread is accepting starts
/// another first, so a thread is always accepting; one that finishes while
/// [`ConnectionThreads::SPARES`] others are accepting ends.
#[derive(Default)]
struct ConnectionThreads {
    /// Threads blocked in (or about to enter) `accept`.
    accepting: AtomicUsize,
    /// Threads started so far, for their names.
    started: AtomicU64,
}

impl ConnectionThreads {
    const SPARES: usize = 4;
}

impl Front {
    /// The counters, and the HSM boards' from the relay.
    fn snapshot(&self) -> ServerStats {
        let relay = self.relay.shared();
        ServerStats {
            hsm_operations: relay.hsm_operations(),
            worker_restarts: relay.worker_restarts.load(Ordering::SeqCst),
            answers_remembered: relay.replies.remembered(),
            replays_remembered: self.replays.remembered(),
            ..self.counters.snapshot()
        }
    }
}

/// What every connection thread shares.
struct Front {
    listener: TcpListener,
    /// Set by a [`Stopper`]: stop accepting.
    stop: Arc<AtomicBool>,
    threads: ConnectionThreads,
    config: ServerConfig,
    relay: RelayHandle<Std>,
    router: Arc<Router>,
    counters: Counters,
    open: AtomicUsize,
    replays: ReplayGuard,
    /// Set when shutdown begins: the instant in-flight telegrams must end by.
    drain_until: Mutex<Option<Instant>>,
}

/// A running relayd.
pub struct Relayd {
    addr: SocketAddr,
    front: Arc<Front>,
    relay: Relay<Std>,
}

/// Asks a running relayd to stop (from a signal handler, another thread).
#[derive(Clone)]
pub struct Stopper {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Stopper {
    /// Stops accepting; an accepting thread is woken by a connection to
    /// itself (the others, by [`Relayd::shutdown`]).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// What a graceful shutdown saw.
#[derive(Clone, Debug, Serialize)]
pub struct Shutdown {
    pub stats: ServerStats,
    /// Connections still open when the drain deadline passed (they were
    /// answered `ErrorShutdown` or closed).
    pub open_at_deadline: usize,
}

impl Relayd {
    /// Starts the relay and serves `listener` on a thread of its own.
    pub fn start(
        listener: TcpListener,
        config: ServerConfig,
        events: EventLog,
    ) -> std::io::Result<Relayd> {
        let addr = listener.local_addr()?;
        let relay = Relay::<Std>::start(config.relay.clone(), events);
        let upstream = config.upstream.map(|addr| {
            // A request waits for the upstream at most its own latency and
            // a margin; past it the relay answers ErrorUpstream.
            let deadline =
                Duration::from_millis(config.relay.upstream_latency) + Duration::from_secs(2);
            let link = Arc::new(TcpUpstream::new(addr, deadline));
            relay.shared().upstream.link_to(link.clone());
            link
        });
        let front = Arc::new(Front {
            listener,
            stop: Arc::new(AtomicBool::new(false)),
            replays: ReplayGuard::new(config.replay_window),
            config,
            relay: relay.handle(),
            router: Arc::default(),
            counters: Counters {
                upstream,
                ..Counters::default()
            },
            open: AtomicUsize::new(0),
            threads: ConnectionThreads::default(),
            drain_until: Mutex::new(None),
        });
        front.router.serve(&front.relay);
        start_thread(&front)?;
        let hsm_boards = front.config.relay.hsm_boards;
        tracing::info!(thread = "main", telegram = "-", %addr, hsm_boards, "relayd listening");
        Ok(Relayd { addr, front, relay })
    }

    /// The address the listener is bound to (with the port an ephemeral
    /// bind chose).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stopper(&self) -> Stopper {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Stopper {
            stop: self.front.stop.clone(),
            addr,
        }
    }

    pub fn stats(&self) -> ServerStats {
        self.front.snapshot()
    }

    /// The relay behind the listener (post-mortem checks in tests).
    pub fn relay(&self) -> &RelayHandle<Std> {
        &self.front.relay
    }

    /// Waits until a [`Stopper`] fires, then shuts down gracefully.
    pub fn wait(self) -> Shutdown {
        while !self.front.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.shutdown()
    }

    /// Stops accepting, lets in-flight telegrams finish until the drain
    /// deadline (then they are answered `ErrorShutdown`), stops the relay.
    pub fn shutdown(self) -> Shutdown {
        self.stopper().stop();
        wake_accepting_threads(&self.front, self.stopper().addr);
        let until = Instant::now() + self.front.config.drain;
        *lock(&self.front.drain_until) = Some(until);
        tracing::info!(
            thread = "main",
            telegram = "-",
            in_flight = self.front.open.load(Ordering::SeqCst),
            "relayd stopping: draining in-flight telegrams"
        );
        let open_at_deadline = wait_for_connections(&self.front, until);
        self.relay.shutdown();
        let stats = self.front.snapshot();
        tracing::info!(thread = "main", telegram = "-", ?stats, "relayd stopped");
        Shutdown {
            stats,
            open_at_deadline,
        }
    }
}

/// Waits for the connection threads to finish; they answer `ErrorShutdown`
/// themselves at the deadline, so this waits a little past it at most.
fn wait_for_connections(front: &Front, until: Instant) -> usize {
    let mut at_deadline = None;
    let grace = until + Duration::from_secs(2);
    loop {
        let open = front.open.load(Ordering::SeqCst);
        let now = Instant::now();
        if now >= until && at_deadline.is_none() {
            at_deadline = Some(open);
        }
        if open == 0 || now >= grace {
            return at_deadline.unwrap_or(0);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_string()).spawn(f)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wakes every thread still blocked in `accept` once the stop flag is set:
/// one connection to itself each (each sees the flag and ends), until none
/// is accepting or a second has passed.
fn wake_accepting_threads(front: &Front, addr: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        let accepting = front.threads.accepting.load(Ordering::SeqCst);
        if accepting == 0 {
            return;
        }
        for _ in 0..accepting {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Starts a connection thread.
fn start_thread(front: &Arc<Front>) -> std::io::Result<()> {
    let serial = front.threads.started.fetch_add(1, Ordering::Relaxed) + 1;
    let conn = front.clone();
    spawn(&format!("conn-{serial}"), move || connection_thread(&conn)).map(drop)
}

/// A connection thread: accepts a connection, serves it, again, until the
/// listener stops or enough other threads are accepting.
fn connection_thread(front: &Arc<Front>) {
    while let Some(stream) = accept_one(front) {
        serve(front, stream);
        front.open.fetch_sub(1, Ordering::SeqCst);
        if front.threads.accepting.load(Ordering::SeqCst) >= ConnectionThreads::SPARES {
            return;
        }
    }
}

/// The next connection to serve (counted open); `None` once stopped.
fn accept_one(front: &Arc<Front>) -> Option<TcpStream> {
    let threads = &front.threads;
    loop {
        threads.accepting.fetch_add(1, Ordering::SeqCst);
        if front.stop.load(Ordering::SeqCst) {
            threads.accepting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let accepted = front.listener.accept();
        let others = threads.accepting.fetch_sub(1, Ordering::SeqCst) - 1;
        if front.stop.load(Ordering::SeqCst) {
            // A wake-up from `shutdown`, or a client too late: not served.
            return None;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(thread = %thread_name(), telegram = "-", error = %e, "accept failed");
                // Out of descriptors, say: let connections close first.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if others == 0 {
            if let Err(e) = start_thread(front) {
                tracing::error!(thread = %thread_name(), telegram = "-", error = %e, "no thread to accept the next connection");
            }
        }
        bump(&front.counters.connections);
        if front.open.load(Ordering::SeqCst) >= front.config.max_open {
            bump(&front.counters.busy);
            tracing::warn!(
                thread = %thread_name(),
                telegram = "-",
                "too many open connections: closed"
            );
            continue;
        }
        front.open.fetch_add(1, Ordering::SeqCst);
        return Some(stream);
    }
}

/// The peer's address, for a log line.
fn peer(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default()
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// One connection: read the request, submit it, answer it.
fn serve(front: &Front, mut stream: TcpStream) {
    // Names and the peer are formatted only by the log lines that print
    // them (tracing evaluates fields of enabled lines only): nothing is
    // allocated per connection for logs that are off.
    let current = std::thread::current();
    let thread = current.name().unwrap_or("?");
    let _ = stream.set_nodelay(true);
    let request = match read_frame(&mut stream, front.config.frame_deadline) {
        Ok(t) => t,
        Err(e) => {
            bump(front.counters.frame_error(&e));
            tracing::warn!(thread, telegram = "-", peer = %peer(&stream), reason = e.kind(), error = %e, "connection dropped");
            return;
        }
    };
    let telegram = request.id;
    if !matches!(request.kind, TelegramKind::Register | TelegramKind::Search) {
        bump(&front.counters.not_a_request);
        tracing::warn!(thread, %telegram, peer = %peer(&stream), kind = ?request.kind, "not a request: rejected");
        let why = b"not a request telegram".to_vec();
        answer(
            front,
            &mut stream,
            &request.answer(TelegramKind::ErrorRejected, why),
        );
        return;
    }
    let (request, session) = match authenticate(front, request) {
        Ok(opened) => opened,
        Err((request, reason)) => {
            *lock(&front.counters.rejected)
                .entry(reason.name().to_string())
                .or_default() += 1;
            tracing::warn!(thread, %telegram, peer = %peer(&stream), reason = reason.name(), cs = %request.cs, "rejected: {reason}");
            let why = reason.name().as_bytes().to_vec();
            answer(
                front,
                &mut stream,
                &request.answer(TelegramKind::ErrorRejected, why),
            );
            return;
        }
    };
    if lock(&front.drain_until).is_some() {
        bump(&front.counters.shutdown_errors);
        let refused = request.answer(TelegramKind::ErrorShutdown, vec![]);
        answer(
            front,
            &mut stream,
            &session.seal(Leg::Acknowledgement, refused),
        );
        return;
    }
    relay_one(front, &mut stream, request, &session, thread);
}

/// Who sent an authentic request, to seal the answers back to.
struct Session<'a> {
    keys: Option<&'a KeyRing>,
    attempt: u8,
}

impl Session<'_> {
    fn seal(&self, leg: Leg, t: Telegram) -> Telegram {
        match self.keys.and_then(|k| k.seal(t.cs, self.attempt, leg, &t)) {
            Some(sealed) => sealed,
            None => t,
        }
    }
}

/// With keys: opens the CS's envelope and refuses replays, before anything
/// reaches the relay. Without keys every request is taken as it is.
fn authenticate(
    front: &Front,
    request: Telegram,
) -> Result<(Telegram, Session<'_>), (Telegram, Rejection)> {
    let Some(keys) = front.config.keys.as_deref() else {
        return Ok((
            request,
            Session {
                keys: None,
                attempt: 0,
            },
        ));
    };
    let opened = match keys.open(Leg::Request, &request) {
        Ok(o) => o,
        Err(reason) => return Err((request, reason)),
    };
    let t = opened.telegram;
    if let Err(reason) = front.replays.admit(t.cs, t.id, opened.attempt) {
        return Err((t, reason));
    }
    let session = Session {
        keys: Some(keys),
        attempt: opened.attempt,
    };
    Ok((t, session))
}

/// Submits an admitted-or-refused request and writes its answer.
fn relay_one(
    front: &Front,
    stream: &mut TcpStream,
    request: Telegram,
    session: &Session,
    thread: &str,
) {
    let telegram = request.id;
    let (ticket, answers) = front.router.expect(request.id);
    let from = ThreadName::Cs(request.cs.0);
    // The ids stay here for the answers; the payload goes to the relay.
    let (request, submitted) = (request.answer(request.kind, Vec::new()), request);
    if front.relay.submit(submitted, from).is_err() {
        front.router.cancel(request.id, ticket);
        bump(&front.counters.connection_excess);
        tracing::info!(thread, %telegram, cs = %request.cs, "connection excess");
        let excess = request.answer(TelegramKind::ConnectionExcess, vec![]);
        answer(front, stream, &session.seal(Leg::Acknowledgement, excess));
        return;
    }
    bump(&front.counters.admitted);
    tracing::debug!(thread, %telegram, cs = %request.cs, "admitted");
    let ack = request.answer(TelegramKind::Accepted, vec![]);
    let acked = answer(front, stream, &session.seal(Leg::Acknowledgement, ack));
    let admitted_at = Instant::now();
    loop {
        let drain = *lock(&front.drain_until);
        let until = match drain {
            Some(d) => d.min(admitted_at + front.config.answer_deadline),
            None => admitted_at + front.config.answer_deadline,
        };
        let left = until.saturating_duration_since(Instant::now());
        match answers.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(reply) => {
                let kind = reply.kind;
                let written = acked && answer(front, stream, &session.seal(Leg::Answer, reply));
                let counter = if written {
                    &front.counters.answered
                } else {
                    tracing::warn!(thread, %telegram, ?kind, "client gone before its answer");
                    &front.counters.vanished
                };
                bump(counter);
                return;
            }
            Err(_) if !left.is_zero() => continue,
            Err(_) => {
                front.router.cancel(request.id, ticket);
                give_up(front, stream, &request, session, drain.is_some(), thread);
                return;
            }
        }
    }
}

/// No answer by the deadline: at shutdown an explicit error, otherwise the
/// relay lost the telegram (closed without an answer, and counted).
fn give_up(
    front: &Front,
    stream: &mut TcpStream,
    request: &Telegram,
    session: &Session,
    draining: bool,
    thread: &str,
) {
    let telegram = request.id;
    if draining {
        bump(&front.counters.shutdown_errors);
        tracing::warn!(
            thread,
            %telegram,
            "still in flight at shutdown: answered ErrorShutdown"
        );
        answer(
            front,
            stream,
            &session.seal(
                Leg::Answer,
                request.answer(TelegramKind::ErrorShutdown, vec![]),
            ),
        );
    } else {
        bump(&front.counters.lost_by_relay);
        tracing::error!(thread, %telegram, deadline = ?front.config.answer_deadline, "the relay gave no answer: telegram lost");
    }
}

/// Writes one answer; false when the client is gone.
fn answer(front: &Front, stream: &mut TcpStream, t: &Telegram) -> bool {
    match write_frame(stream, t, front.config.frame_deadline) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(thread = thread_name(), telegram = %t.id, error = %e, "answer not delivered");
            false
        }
    }
}
