//! The floor under relayd's throughput on this machine: a minimal server
//! doing exactly what the protocol of 2016 costs and nothing else, one TCP
//! connection per telegram (connect, one frame each way, close), with the
//! clients in the same process on the same cores, as in the `relayd` bench.
//! No relay threads, no hand-offs: whatever relayd does beyond this floor is
//! its own cost, and a goal above the floor is unreachable on this box.
//!
//! * `floor/bare`: frames only (the server's codec, `server::frame`).
//! * `floor/sealed`: plus the AES-256-GCM work relayd does per telegram with
//!   one answer: the client seals the session payload and the per-CS
//!   envelope; the server opens both, seals the answer's payload and
//!   envelope; the client opens the envelope.
//!
//! Settings from the environment: `CHUKEI_BENCH_CLIENTS` (CSs, default 8),
//! `CHUKEI_BENCH_ACCEPTORS` (server threads, each accept-read-write-close,
//! default 2: one per core).

mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use relay::crypto::{Direction, SessionCipher};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use server::frame::{read_frame, write_frame};
use server::seal::{KeyRing, Leg};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use support::{clients, cpu_ticks, report_cpu, setting, sized, EACH};

const DEADLINE: Duration = Duration::from_secs(5);
const SESSION_KEY: [u8; 32] = *b"chukei-test-session-key-32bytes!";

/// The AES-GCM keys of the sealed variant: per-CS envelopes and the session.
struct Crypto {
    ring: KeyRing,
    session: SessionCipher,
}

impl Crypto {
    fn new() -> Self {
        Crypto {
            ring: KeyRing::new((1..=clients()).map(|cs| (CsId(cs), [cs as u8; 32]))),
            session: SessionCipher::new(&SESSION_KEY),
        }
    }

    /// The server's work on one request: open envelope and payload, seal the
    /// answer's payload and envelope.
    fn answer(&self, request: &Telegram) -> Telegram {
        let opened = self.ring.open(Leg::Request, request).expect("authentic");
        let t = opened.telegram;
        let plain = self
            .session
            .open(t.id, Direction::Request, &t.payload)
            .expect("session payload");
        let reply = t.answer(
            TelegramKind::ReplyOk,
            self.session.seal(t.id, Direction::Reply, &plain),
        );
        self.ring
            .seal(t.cs, opened.attempt, Leg::Answer, &reply)
            .expect("a key")
    }
}

/// Acceptor threads, each serving one connection at a time to completion.
struct FloorServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl FloorServer {
    fn start(crypto: Option<Arc<Crypto>>) -> Self {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").expect("a loopback port"));
        let addr = listener.local_addr().expect("bound");
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..setting("CHUKEI_BENCH_ACCEPTORS", 2usize).max(1))
            .map(|_| {
                let (listener, stop, crypto) = (listener.clone(), stop.clone(), crypto.clone());
                std::thread::spawn(move || {
                    while let Ok((mut c, _)) = listener.accept() {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        serve(&mut c, crypto.as_deref());
                    }
                })
            })
            .collect();
        FloorServer {
            addr,
            stop,
            threads,
        }
    }

    /// Stops every acceptor: the flag, then one connection each to wake it.
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for _ in &self.threads {
            let _ = TcpStream::connect(self.addr);
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// One connection: a request in, its answer out, close.
fn serve(c: &mut TcpStream, crypto: Option<&Crypto>) {
    let _ = c.set_nodelay(true);
    let Ok(request) = read_frame(c, DEADLINE) else {
        return;
    };
    let answer = match crypto {
        Some(crypto) => crypto.answer(&request),
        None => request.answer(TelegramKind::ReplyOk, request.payload.clone()),
    };
    let _ = write_frame(c, &answer, DEADLINE);
}

/// One CS: `EACH` telegrams, one connection each, waiting for each answer.
fn client(addr: SocketAddr, cs: u16, next: &AtomicU64, crypto: Option<&Crypto>) {
    for _ in 0..EACH {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let mut t = Telegram {
            kind: TelegramKind::Register,
            cs: CsId(cs),
            id: TelegramId(n),
            card: CardId(n),
            payload: b"register".to_vec(),
        };
        if let Some(crypto) = crypto {
            t.payload = crypto.session.seal(t.id, Direction::Request, &t.payload);
            t = crypto.ring.seal(t.cs, 0, Leg::Request, &t).expect("a key");
        }
        let mut c = TcpStream::connect(addr).expect("connects");
        let _ = c.set_nodelay(true);
        write_frame(&mut c, &t, DEADLINE).expect("sends");
        let answer = read_frame(&mut c, DEADLINE).expect("answered");
        if let Some(crypto) = crypto {
            crypto
                .ring
                .open(Leg::Answer, &answer)
                .expect("authentic answer");
        }
    }
}

fn floor(c: &mut Criterion, name: &str, crypto: Option<Arc<Crypto>>) {
    let server = FloorServer::start(crypto.clone());
    let next = AtomicU64::new(1);
    let before = cpu_ticks();
    let mut group = c.benchmark_group("floor");
    sized(&mut group);
    group.bench_function(name, |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for cs in 1..=clients() {
                    let (next, crypto, addr) = (&next, crypto.as_deref(), server.addr);
                    s.spawn(move || client(addr, cs, next, crypto));
                }
            })
        })
    });
    group.finish();
    server.stop();
    report_cpu(
        &format!("floor/{name}"),
        next.load(Ordering::Relaxed) - 1,
        before,
    );
}

fn bare(c: &mut Criterion) {
    floor(c, "bare", None);
}

fn sealed(c: &mut Criterion) {
    floor(c, "sealed", Some(Arc::new(Crypto::new())));
}

criterion_group!(benches, bare, sealed);
criterion_main!(benches);
