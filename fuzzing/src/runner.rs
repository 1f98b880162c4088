//! The stable-Rust runner of the fuzz targets: every seed of a target's
//! checked-in corpus, then inputs made by mutating the seeds (bytes, and
//! numbers and strings in JSON text) and some random bytes, from a seeded
//! generator. `cargo test` runs a few thousand inputs a target; the deep
//! run (`CHUKEI_FUZZ_INPUTS`) millions. libFuzzer (`fuzz/`, cargo-fuzz)
//! runs the same target functions with coverage guidance.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fuzz target: a name (its `fuzz/fuzz_targets/NAME.rs` and
/// `fuzz/corpus/NAME/`) and its body.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Inputs in a `cargo test` run: each target's share of a few seconds.
    pub quick_inputs: u64,
    /// Whether each input is written to `fuzz/artifacts/NAME/current`
    /// before it runs, so that an abort the runner cannot catch (out of
    /// memory) leaves it behind: for targets whose inputs take
    /// milliseconds, where the write costs nothing.
    pub keep_current: bool,
}

/// Every target, in the order `docs/reliability.md` lists them.
pub const TARGETS: [Target; 6] = [
    Target {
        name: "frame_single",
        run: crate::frame_single,
        quick_inputs: 20_000,
        keep_current: false,
    },
    Target {
        name: "frame_stream",
        run: crate::frame_stream,
        quick_inputs: 20_000,
        keep_current: false,
    },
    Target {
        name: "trace_replay",
        run: crate::trace_replay,
        quick_inputs: 300,
        keep_current: true,
    },
    Target {
        name: "event_log",
        run: crate::event_log,
        quick_inputs: 1_000,
        keep_current: true,
    },
    Target {
        name: "driver_schedule",
        run: crate::driver_schedule,
        quick_inputs: 200,
        keep_current: true,
    },
    Target {
        name: "relayd_connection",
        run: crate::relayd_connection,
        quick_inputs: 300,
        keep_current: true,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.into_iter().find(|t| t.name == name)
}

/// What one run of a target did.
#[derive(Debug)]
pub struct RunStats {
    pub target: &'static str,
    pub seeds: usize,
    /// Inputs run, the seeds included.
    pub inputs: u64,
    pub elapsed: Duration,
}

/// An input on which a target panicked, kept in a file to replay.
#[derive(Debug)]
pub struct Crash {
    pub target: &'static str,
    pub input: Vec<u8>,
    pub message: String,
    pub saved: Option<PathBuf>,
}

impl std::fmt::Display for Crash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} panicked: {} (input of {} bytes{}: {:?})",
            self.target,
            self.message,
            self.input.len(),
            self.saved
                .as_ref()
                .map(|p| format!(", saved as {}", p.display()))
                .unwrap_or_default(),
            String::from_utf8_lossy(&self.input[..self.input.len().min(400)]),
        )
    }
}

/// The checked-in seed corpus of `target`: `fuzz/corpus/NAME/*`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Where a target's crashing inputs are kept (cargo-fuzz's place too).
fn artifacts(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/artifacts")
        .join(target)
}

/// The seeds of `target`, sorted by file name.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(corpus_dir(target)) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Runs every seed of `target`, then `inputs` inputs in all, mutated from
/// the seeds with a generator seeded by `seed`. Stops at the first panic.
pub fn run(target: Target, seed: u64, inputs: u64) -> Result<RunStats, Box<Crash>> {
    let started = Instant::now();
    let seeds = seeds(target.name);
    let dictionary = Dictionary::of(&seeds);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut done = 0u64;
    for input in &seeds {
        one(target, input)?;
        done += 1;
    }
    let current = target
        .keep_current
        .then(|| artifacts(target.name).join("current"));
    while done < inputs {
        let input = mutated(&mut rng, &seeds, &dictionary);
        if let Some(path) = &current {
            let _ = std::fs::create_dir_all(artifacts(target.name));
            let _ = std::fs::write(path, &input);
        }
        one(target, &input)?;
        done += 1;
    }
    Ok(RunStats {
        target: target.name,
        seeds: seeds.len(),
        inputs: done,
        elapsed: started.elapsed(),
    })
}

/// Runs one input, turning a panic into a [`Crash`] saved under
/// `fuzz/artifacts/NAME/` (where cargo-fuzz keeps its crashes too).
pub fn one(target: Target, input: &[u8]) -> Result<(), Box<Crash>> {
    let Err(panic) = catch_unwind(AssertUnwindSafe(|| (target.run)(input))) else {
        return Ok(());
    };
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-string panic".to_string());
    Err(Box::new(Crash {
        target: target.name,
        input: input.to_vec(),
        message,
        saved: save(target.name, input),
    }))
}

fn save(target: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = artifacts(target);
    std::fs::create_dir_all(&dir).ok()?;
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Tokens worth trying in place of others: every quoted string of the
/// seeds (spec, preset, property, event and schedule names) and numbers
/// at the edges of the integer types.
struct Dictionary {
    strings: Vec<String>,
}

const NUMBERS: [&str; 14] = [
    "0",
    "1",
    "-1",
    "2",
    "7",
    "255",
    "65535",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "1e400",
    "0.5",
];

impl Dictionary {
    fn of(seeds: &[Vec<u8>]) -> Dictionary {
        let mut strings: Vec<String> = seeds
            .iter()
            .filter_map(|s| std::str::from_utf8(s).ok())
            .flat_map(quoted)
            .map(str::to_string)
            .collect();
        strings.sort();
        strings.dedup();
        strings.extend(["\"\"".into(), "null".into(), "[]".into(), "{}".into()]);
        Dictionary { strings }
    }
}

/// The quoted strings of `text`, quotes included.
fn quoted(text: &str) -> impl Iterator<Item = &str> {
    let quotes: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
    let pairs: Vec<(usize, usize)> = quotes.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    pairs
        .into_iter()
        .filter(|(a, b)| b - a < 64)
        .map(move |(a, b)| &text[a..=b])
}

fn mutated(rng: &mut ChaCha8Rng, seeds: &[Vec<u8>], dictionary: &Dictionary) -> Vec<u8> {
    if seeds.is_empty() || rng.random_ratio(1, 16) {
        let len = rng.random_range(0..256);
        return (0..len).map(|_| rng.random()).collect();
    }
    let mut input = seeds[rng.random_range(0..seeds.len())].clone();
    // JSON seeds mostly keep their shape (numbers and strings swapped), so
    // that most inputs get past the parser to the code behind it.
    let json = input.first() == Some(&b'{');
    for _ in 0..rng.random_range(1..=4) {
        if json && !rng.random_ratio(1, 8) {
            mutate_token(rng, &mut input, dictionary);
        } else {
            mutate(rng, &mut input, seeds, dictionary);
        }
    }
    input
}

fn mutate_token(rng: &mut ChaCha8Rng, input: &mut Vec<u8>, d: &Dictionary) {
    if rng.random_ratio(1, 2) {
        replace_token(
            rng,
            input,
            |b| b.is_ascii_digit() || b == b'-',
            |rng| NUMBERS[rng.random_range(0..NUMBERS.len())].to_string(),
        );
    } else {
        let pick = |rng: &mut ChaCha8Rng| d.strings[rng.random_range(0..d.strings.len())].clone();
        replace_quoted(rng, input, pick);
    }
}

fn mutate(rng: &mut ChaCha8Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>], d: &Dictionary) {
    let len = input.len();
    match rng.random_range(0..10) {
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            input[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            input[i] = [0, 1, 0x7f, 0x80, 0xff][rng.random_range(0..5)];
        }
        2 => {
            let at = rng.random_range(0..=len);
            let n = rng.random_range(1..16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            input.splice(at..at, bytes);
        }
        3 if len > 0 => {
            let a = rng.random_range(0..len);
            let b = rng.random_range(a..=len.min(a + 64));
            input.drain(a..b);
        }
        4 if len > 0 => {
            let a = rng.random_range(0..len);
            let b = rng.random_range(a..=len.min(a + 64));
            let copy = input[a..b].to_vec();
            let at = rng.random_range(0..=len);
            input.splice(at..at, copy);
        }
        5 if len > 0 => input.truncate(rng.random_range(0..len)),
        6 => {
            let other = &seeds[rng.random_range(0..seeds.len())];
            let cut = rng.random_range(0..=len);
            let from = rng.random_range(0..=other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        _ => mutate_token(rng, input, d),
    }
}

/// Replaces a run of bytes matching `part` (a number) with `with`.
fn replace_token(
    rng: &mut ChaCha8Rng,
    input: &mut Vec<u8>,
    part: impl Fn(u8) -> bool,
    with: impl Fn(&mut ChaCha8Rng) -> String,
) {
    let starts: Vec<usize> = (0..input.len())
        .filter(|&i| part(input[i]) && (i == 0 || !part(input[i - 1])))
        .collect();
    if starts.is_empty() {
        return;
    }
    let a = starts[rng.random_range(0..starts.len())];
    let b = (a..input.len())
        .find(|&i| !part(input[i]))
        .unwrap_or(input.len());
    let token = with(rng);
    input.splice(a..b, token.into_bytes());
}

/// Replaces one quoted string with another (from the dictionary).
fn replace_quoted(
    rng: &mut ChaCha8Rng,
    input: &mut Vec<u8>,
    with: impl Fn(&mut ChaCha8Rng) -> String,
) {
    let quotes: Vec<usize> = (0..input.len()).filter(|&i| input[i] == b'"').collect();
    if quotes.len() < 2 {
        return;
    }
    let pair = rng.random_range(0..quotes.len() / 2);
    let (a, b) = (quotes[2 * pair], quotes[2 * pair + 1]);
    let token = with(rng);
    input.splice(a..=b, token.into_bytes());
}

/// Inputs per target of a deep run: `CHUKEI_FUZZ_INPUTS` (one number for
/// every target, or `name=N,name=N`), `None` when unset.
pub fn deep_inputs(target: &str) -> Option<u64> {
    let spec = std::env::var("CHUKEI_FUZZ_INPUTS").ok()?;
    if let Ok(n) = spec.trim().parse() {
        return Some(n);
    }
    spec.split(',')
        .filter_map(|part| part.split_once('='))
        .find(|(name, _)| name.trim() == target)
        .and_then(|(_, n)| n.trim().parse().ok())
        .or(Some(0))
}

/// The generator seed: `CHUKEI_FUZZ_SEED`, else 0 (reproducible).
pub fn seed() -> u64 {
    std::env::var("CHUKEI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
