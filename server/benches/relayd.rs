//! relayd's throughput on loopback: telegrams per second through the whole
//! server (TCP connection per telegram, per-CS AES-256-GCM envelope, the
//! relay's AES-GCM session crypto through the HSM thread, upstream),
//! proposed preset, with the upstream latency at zero and by default the
//! HSM time too, so the figure is the server's own cost.
//!
//! Settings from the environment: `CHUKEI_BENCH_CLIENTS` (CSs, default 8),
//! `CHUKEI_BENCH_HSM_MS` (HSM time per operation, default 0) and
//! `CHUKEI_BENCH_HSM_BOARDS` (default 1).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn clients() -> u16 {
    setting("CHUKEI_BENCH_CLIENTS", 8)
}

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
const EACH: u64 = 50;

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
    group.sample_size(10);
    group.throughput(Throughput::Elements(clients() as u64 * EACH));
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
    report_cpu(next.load(Ordering::Relaxed) - 1, before);
}

/// CPU time per telegram (client and server together, both in this
/// process): a figure the other jobs on a shared box disturb less than the
/// wall-clock rate. Linux only; elsewhere nothing is printed.
fn report_cpu(telegrams: u64, before: (u64, u64)) {
    let now = cpu_ticks();
    let (user, system) = (now.0 - before.0, now.1 - before.1);
    let per = |t: u64| t as f64 * 10_000.0 / telegrams.max(1) as f64;
    if telegrams > 0 {
        eprintln!(
            "relayd: {telegrams} telegrams; CPU per telegram {:.0} µs user + {:.0} µs system (client and server)",
            per(user),
            per(system)
        );
    }
}

/// This process's (user, system) CPU time in clock ticks (100 per second on
/// Linux); zero elsewhere.
fn cpu_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0, 0);
    };
    // Fields after the command name (which ends with ')'): utime and stime
    // are the 12th and 13th, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11), ticks(12))
}

/// The relay alone, with no TCP: the same telegrams submitted in process
/// (each CS waits for its answer before the next), through the same threads
/// (workers, HSM board, CPU core, timer): the relay's own ceiling.
fn relay_core_throughput(c: &mut Criterion) {
    let config = relay_config();
    let session = SessionCipher::new(&config.key);
    let relay = relay::Relay::<relay::Std>::start(config, EventLog::tracing_only());
    let handle = relay.handle();
    let next = AtomicU64::new(1);
    let before = cpu_ticks();
    let mut group = c.benchmark_group("relay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(clients() as u64 * EACH));
    group.bench_function("400 telegrams, 8 CS, in process", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for cs in 1..=clients() {
                    let (next, session, handle) = (&next, &session, &handle);
                    s.spawn(move || {
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
                            handle.take_reply(CsId(cs), None).expect("answered");
                        }
                    });
                }
            })
        })
    });
    group.finish();
    relay.shutdown();
    report_cpu(next.load(Ordering::Relaxed) - 1, before);
}

criterion_group!(benches, relay_core_throughput, relayd_throughput);
criterion_main!(benches);
