//! relayd's throughput on loopback: telegrams per second through the whole
//! server (TCP connection per telegram, per-CS AES-256-GCM envelope, the
//! relay's AES-GCM session crypto through the HSM thread, upstream),
//! proposed preset, with the HSM and upstream latencies at zero so the
//! figure is the server's own cost.

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

const CLIENTS: u16 = 8;
const EACH: u64 = 50;

fn keys() -> KeyRing {
    KeyRing::new((1..=CLIENTS).map(|cs| (CsId(cs), [cs as u8; 32])))
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
    let mut relay = RelayConfig::fast(Preset::Proposed);
    relay.upstream_latency = 0;
    relay.connection_limit = 1_000;
    let mut config = ServerConfig::new(relay.clone());
    config.keys = Some(Arc::new(keys()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let relayd = Relayd::start(listener, config, EventLog::tracing_only()).expect("starts");
    let addr = relayd.local_addr();
    let (ring, session) = (keys(), SessionCipher::new(&relay.key));
    let next = AtomicU64::new(1);

    let mut group = c.benchmark_group("relayd");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CLIENTS as u64 * EACH));
    group.bench_function("400 sealed telegrams, 8 CS, loopback", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for cs in 1..=CLIENTS {
                    let (next, ring, session) = (&next, &ring, &session);
                    s.spawn(move || client(addr, cs, next, ring, session));
                }
            })
        })
    });
    group.finish();
    relayd.shutdown();
}

criterion_group!(benches, relayd_throughput);
criterion_main!(benches);
