//! relayd's throughput on loopback: telegrams per second through the whole
//! server (TCP connection per telegram, per-CS AES-256-GCM envelope, the
//! relay's AES-GCM session crypto through the HSM thread, upstream),
//! proposed preset, with the upstream latency at zero and by default the
//! HSM time too, so the figure is the server's own cost.
//!
//! Settings from the environment: `CHUKEI_BENCH_CLIENTS` (CSs, default 8),
//! `CHUKEI_BENCH_HSM_MS` (HSM time per operation, default 0) and
//! `CHUKEI_BENCH_HSM_BOARDS` (default 1).

mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use relay::crypto::{Direction, SessionCipher};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{EventLog, Preset, RelayConfig};
use server::frame::{read_frame, write_frame};
use server::seal::{KeyRing, Leg};
use server::{Relayd, ServerConfig};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{clients, cpu_ticks, report_cpu, setting, sized, EACH};

/// The relay the benches run: proposed, nothing but the HSM (as set) takes
/// time, no connection excess.
fn relay_config() -> RelayConfig {
    RelayConfig {
        upstream_latency: 0,
        connection_limit: 1_000,
        hsm_latency: setting("CHUKEI_BENCH_HSM_MS", 0),
        hsm_boards: setting("CHUKEI_BENCH_HSM_BOARDS", 1),
        workers: setting("CHUKEI_BENCH_HSM_BOARDS", 1u16).max(4),
        ..RelayConfig::fast(Preset::Proposed)
    }
}
fn keys() -> KeyRing {
    KeyRing::new((1..=clients()).map(|cs| (CsId(cs), [cs as u8; 32])))
}

/// One CS: `EACH` telegrams, one connection each, waiting for each answer.
fn client(addr: SocketAddr, cs: u16, next: &AtomicU64, ring: &KeyRing, session: &SessionCipher) {
    let second = Duration::from_secs(5);
    for _ in 0..EACH {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let id = TelegramId(n);
        let t = Telegram {
            kind: TelegramKind::Register,
            cs: CsId(cs),
            id,
            card: CardId(n),
            payload: session.seal(id, Direction::Request, b"register"),
        };
        let sealed = ring.seal(CsId(cs), 0, Leg::Request, &t).expect("a key");
        let mut c = TcpStream::connect(addr).expect("connects");
        let _ = c.set_nodelay(true);
        write_frame(&mut c, &sealed, second).expect("sends");
        read_frame(&mut c, second).expect("acknowledged");
        read_frame(&mut c, second).expect("answered");
    }
}

fn relayd_throughput(c: &mut Criterion) {
    let relay = relay_config();
    let mut config = ServerConfig::new(relay.clone());
    config.keys = Some(Arc::new(keys()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let relayd = Relayd::start(listener, config, EventLog::tracing_only()).expect("starts");
    let addr = relayd.local_addr();
    let (ring, session) = (keys(), SessionCipher::new(&relay.key));
    let next = AtomicU64::new(1);
    let before = cpu_ticks();

    let mut group = c.benchmark_group("relayd");
    sized(&mut group);
    group.bench_function("400 sealed telegrams, 8 CS, loopback", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for cs in 1..=clients() {
                    let (next, ring, session) = (&next, &ring, &session);
                    s.spawn(move || client(addr, cs, next, ring, session));
                }
            })
        })
    });
    group.finish();
    relayd.shutdown();
    report_cpu("relayd", next.load(Ordering::Relaxed) - 1, before);
}

/// The relay alone, with no TCP: the same telegrams submitted in process
/// (each CS waits for its answer before the next), through the same threads
/// (workers, HSM board, CPU core, timer): the relay's own ceiling. Answers
/// reach each CS as in relayd, forwarded as they are posted
/// (`ReplyBoard::forward_to`), each to its CS's channel: eight CS threads
/// waiting on the reply board itself would all wake at every answer.
fn relay_core_throughput(c: &mut Criterion) {
    let config = relay_config();
    let session = SessionCipher::new(&config.key);
    let relay = relay::Relay::<relay::Std>::start(config, EventLog::tracing_only());
    let handle = relay.handle();
    let (senders, inboxes): (Vec<_>, Vec<_>) = (0..=clients())
        .map(|_| {
            let (tx, rx) = std::sync::mpsc::channel::<Telegram>();
            (tx, std::sync::Mutex::new(rx))
        })
        .unzip();
    relay
        .shared()
        .replies
        .forward_to(Box::new(move |answer: Telegram| {
            let _ = senders[answer.cs.0 as usize].send(answer);
        }));
    let next = AtomicU64::new(1);
    let before = cpu_ticks();
    let mut group = c.benchmark_group("relay");
    sized(&mut group);
    group.bench_function("400 telegrams, 8 CS, in process", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for cs in 1..=clients() {
                    let (next, session, handle) = (&next, &session, &handle);
                    let inbox = &inboxes[cs as usize];
                    s.spawn(move || {
                        let inbox = inbox.lock().expect("one thread per CS");
                        for _ in 0..EACH {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            let t = Telegram {
                                kind: TelegramKind::Register,
                                cs: CsId(cs),
                                id: TelegramId(n),
                                card: CardId(n),
                                payload: session.seal(
                                    TelegramId(n),
                                    Direction::Request,
                                    b"register",
                                ),
                            };
                            handle
                                .submit(t, relay::ThreadName::Cs(cs))
                                .expect("admitted");
                            inbox.recv().expect("answered");
                        }
                    });
                }
            })
        })
    });
    group.finish();
    relay.shutdown();
    report_cpu("relay", next.load(Ordering::Relaxed) - 1, before);
}

criterion_group!(benches, relay_core_throughput, relayd_throughput);
criterion_main!(benches);
