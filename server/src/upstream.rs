//! The card management server as a process of its own (`chukei upstream`),
//! and the relay's link to it (`relayd --upstream ADDR`).
//!
//! On the wire it is the telegram frame format again, one connection per
//! request: the relay sends the request (its kind, telegram ID and card),
//! the upstream answers `ReplyOk` or `ErrorUnauthorized` after its latency,
//! with at most its capacity of requests in progress. The register itself
//! is `relay::upstream::Upstream`, the same one the in-process relay uses,
//! so a card registered by one telegram is refused to another here too.
//! [`TcpUpstream`] answers `ErrorUpstream` whenever the server cannot be
//! reached or does not answer in time: the relay then answers its CS with
//! that error instead of hanging, and nothing it admitted is lost.

use crate::frame::{read_frame, write_frame};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::upstream::{Upstream, UpstreamLink};
use relay::Std;
use serde::Serialize;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What a running upstream server did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpstreamStats {
    pub connections: u64,
    /// Requests answered.
    pub answered: u64,
    /// Requests refused as unauthorized (card registered by another telegram).
    pub unauthorized: u64,
    /// Connections dropped: bad frame, not a request, or killed mid-request.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    answered: AtomicU64,
    unauthorized: AtomicU64,
    dropped: AtomicU64,
}

/// A running upstream server.
pub struct UpstreamServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Set by [`UpstreamServer::kill`]: requests in progress get no answer.
    dead: Arc<AtomicBool>,
    counters: Arc<Counters>,
    acceptor: JoinHandle<()>,
}

impl UpstreamServer {
    /// Serves `listener` with `register` (shared, so that a server started
    /// again on the same register keeps its records, as a database would).
    pub fn start(
        listener: TcpListener,
        register: Arc<Upstream<Std>>,
        frame_deadline: Duration,
    ) -> std::io::Result<UpstreamServer> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let dead = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let acceptor = {
            let (stop, dead, counters) = (stop.clone(), dead.clone(), counters.clone());
            std::thread::Builder::new()
                .name("upstream-acceptor".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(conn) = conn else { continue };
                        counters.connections.fetch_add(1, Ordering::SeqCst);
                        let (register, dead, counters) =
                            (register.clone(), dead.clone(), counters.clone());
                        let spawned = std::thread::Builder::new()
                            .name("upstream-conn".into())
                            .spawn(move || {
                                serve(conn, &register, frame_deadline, &dead, &counters)
                            });
                        if spawned.is_err() {
                            tracing::warn!(
                                thread = "upstream-acceptor",
                                telegram = "-",
                                "no thread for a connection: dropped"
                            );
                        }
                    }
                })?
        };
        tracing::info!(thread = "main", telegram = "-", %addr, "upstream listening");
        Ok(UpstreamServer {
            addr,
            stop,
            dead,
            counters,
            acceptor,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> UpstreamStats {
        snapshot(&self.counters)
    }

    /// Stops accepting and closes the listener; requests in progress are
    /// still answered.
    pub fn shutdown(self) -> UpstreamStats {
        self.stop.store(true, Ordering::SeqCst);
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        let _ = self.acceptor.join();
        snapshot(&self.counters)
    }

    /// The server goes away at once: the listener closes and requests in
    /// progress are dropped without an answer.
    pub fn kill(self) -> UpstreamStats {
        self.dead.store(true, Ordering::SeqCst);
        self.shutdown()
    }
}

fn snapshot(c: &Counters) -> UpstreamStats {
    let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
    UpstreamStats {
        connections: get(&c.connections),
        answered: get(&c.answered),
        unauthorized: get(&c.unauthorized),
        dropped: get(&c.dropped),
    }
}

fn serve(
    mut conn: TcpStream,
    register: &Upstream<Std>,
    frame_deadline: Duration,
    dead: &AtomicBool,
    counters: &Counters,
) {
    let drop_it = |why: &str, telegram: String| {
        counters.dropped.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(thread = "upstream-conn", %telegram, why, "upstream dropped a connection");
    };
    let request = match read_frame(&mut conn, frame_deadline) {
        Ok(t) if t.kind.is_request() => t,
        Ok(t) => return drop_it("not a request", t.id.to_string()),
        Err(e) => return drop_it(e.kind(), "-".into()),
    };
    let kind = register.call(request.kind, request.card, request.id);
    if dead.load(Ordering::SeqCst) {
        return drop_it("killed mid-request", request.id.to_string());
    }
    if kind == TelegramKind::ErrorUnauthorized {
        counters.unauthorized.fetch_add(1, Ordering::SeqCst);
    }
    match write_frame(&mut conn, &request.answer(kind, vec![]), frame_deadline) {
        Ok(()) => {
            counters.answered.fetch_add(1, Ordering::SeqCst);
        }
        Err(_) => drop_it("relay gone before the answer", request.id.to_string()),
    }
}

/// The relay's link to an upstream server over TCP.
#[derive(Debug)]
pub struct TcpUpstream {
    addr: SocketAddr,
    /// Connecting, sending and the whole answer must fit in this.
    deadline: Duration,
    errors: AtomicU64,
}

impl TcpUpstream {
    pub fn new(addr: SocketAddr, deadline: Duration) -> TcpUpstream {
        TcpUpstream {
            addr,
            deadline,
            errors: AtomicU64::new(0),
        }
    }

    /// Requests answered `ErrorUpstream` so far (server away or too slow).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::SeqCst)
    }

    fn exchange(&self, request: &Telegram) -> Result<TelegramKind, String> {
        let mut conn = TcpStream::connect_timeout(&self.addr, self.deadline)
            .map_err(|e| format!("connecting: {e}"))?;
        write_frame(&mut conn, request, self.deadline).map_err(|e| format!("sending: {e}"))?;
        let answer = read_frame(&mut conn, self.deadline).map_err(|e| format!("reading: {e}"))?;
        if answer.id != request.id {
            return Err(format!("answer for {} instead", answer.id));
        }
        Ok(answer.kind)
    }
}

impl UpstreamLink for TcpUpstream {
    fn call(&self, kind: TelegramKind, card: CardId, telegram: TelegramId) -> TelegramKind {
        let request = Telegram {
            kind,
            cs: CsId(0),
            id: telegram,
            card,
            payload: vec![],
        };
        self.exchange(&request).unwrap_or_else(|why| {
            self.errors.fetch_add(1, Ordering::SeqCst);
            let thread = std::thread::current();
            let thread = thread.name().unwrap_or("?");
            tracing::warn!(thread, telegram = %telegram, upstream = %self.addr, why, "upstream unreachable: answering ErrorUpstream");
            TelegramKind::ErrorUpstream
        })
    }
}
