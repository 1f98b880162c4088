//! The `relayd_connection` target: arbitrary bytes sent to relayd's
//! connection handler over loopback TCP, as a client would send them.
//!
//! Two relayds run for the whole process (one plain, one that requires
//! sealed requests), started on the first input: a long-lived server is
//! what a stream of hostile clients meets. The handler runs on relayd's
//! own connection threads, so a panic there is caught by a panic hook and
//! reported by the next input.

use relay::telegram::{self, CsId};
use relay::{EventLog, Preset, RelayConfig};
use server::seal::KeyRing;
use server::{Relayd, ServerConfig};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Panics seen on any thread since the hook was installed.
static PANICS: AtomicU64 = AtomicU64::new(0);

/// The answers relayd writes are at most this long (a few frames).
const MAX_ANSWER: usize = 4 * (telegram::LEN_PREFIX + telegram::MAX_BODY);

struct Servers {
    plain: SocketAddr,
    sealed: SocketAddr,
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        count_panics();
        Servers {
            plain: start(None),
            sealed: start(Some(Arc::new(keys()))),
        }
    })
}

/// The keys of the sealed relayd: CS 1..=4, key byte = CS number (what the
/// seed corpus was sealed with).
pub fn keys() -> KeyRing {
    KeyRing::new((1..=4u16).map(|cs| (CsId(cs), [cs as u8; 32])))
}

fn start(keys: Option<Arc<KeyRing>>) -> SocketAddr {
    let mut config = ServerConfig::new(RelayConfig::fast(Preset::Proposed));
    config.frame_deadline = Duration::from_secs(2);
    config.answer_deadline = Duration::from_secs(2);
    config.keys = keys;
    config.replay_window = 1 << 16;
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for relayd");
    let relayd = Relayd::start(listener, config, EventLog::tracing_only())
        .expect("relayd starts on loopback");
    let addr = relayd.local_addr();
    // Serves until the process ends: the fuzzer's inputs are its clients.
    std::mem::forget(relayd);
    addr
}

fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
}

/// First byte: which relayd (even plain, odd sealed); the rest is sent as
/// is, then the write half is closed. Whatever relayd answers must be whole,
/// well-formed frames, and no relayd thread may have panicked.
pub fn relayd_connection(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let servers = servers();
    let addr = if which % 2 == 0 {
        servers.plain
    } else {
        servers.sealed
    };
    let before = PANICS.load(Ordering::SeqCst);
    let answer = exchange(addr, bytes);
    assert_frames(&answer);
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        before,
        "a relayd thread panicked on this input"
    );
}

/// Sends `bytes`, closes the write half, reads the answer until relayd
/// closes the connection.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("relayd accepts on loopback");
    let deadline = Some(Duration::from_secs(10));
    stream.set_read_timeout(deadline).expect("a read timeout");
    stream.set_write_timeout(deadline).expect("a write timeout");
    // relayd may close early (an oversized prefix): the rest is not read.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let read = (&mut stream)
        .take(MAX_ANSWER as u64)
        .read_to_end(&mut answer);
    if let Err(e) = read {
        let gone = server::frame::is_disconnect(&e);
        assert!(gone, "reading relayd's answer failed: {e}");
    }
    answer
}

/// Relayd writes whole frames only: an acknowledgement, an answer.
fn assert_frames(mut answer: &[u8]) {
    while !answer.is_empty() {
        match telegram::decode(answer) {
            Ok((_, used)) => answer = &answer[used..],
            Err(e) => panic!("relayd wrote a bad frame: {e}"),
        }
    }
}
