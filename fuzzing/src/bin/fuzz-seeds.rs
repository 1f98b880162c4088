//! Writes the seed corpora of the fuzz targets to `fuzz/corpus/NAME/`,
//! from the suite's own artifacts: telegrams of every kind, the stored
//! traces (`regressions/corpus/`), the event logs of their driver
//! replays, and sealed and plain requests to relayd.
//! Run: `cargo run -p fuzzing --bin fuzz-seeds`.

use fuzzing::runner::corpus_dir;
use model::Trace;
use relay::telegram::{self, CardId, CsId, Telegram, TelegramId, TelegramKind};
use server::seal::Leg;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let traces = stored_traces()?;
    let frames: Vec<Vec<u8>> = telegrams()
        .iter()
        .map(|t| telegram::encode(t).expect("a sample telegram encodes"))
        .collect();
    for (i, f) in frames.iter().enumerate() {
        write("frame_single", &format!("kind-{i:02}"), f)?;
    }
    write("frame_stream", "every-kind", &frames.concat())?;
    write("frame_stream", "two-requests", &frames[..2].concat())?;
    for (name, trace) in &traces {
        let mut small = trace.clone();
        small.timeline.clear();
        write("trace_replay", name, small.to_json_pretty().as_bytes())?;
        if let Some(bytes) = fuzzing::driver_seed(trace) {
            write("driver_schedule", name, &bytes)?;
        }
        if let Ok(replayed) = regressions::replay::replay(trace) {
            if !replayed.events.is_empty() {
                let log: String = replayed
                    .events
                    .iter()
                    .map(|e| serde_json::to_string(e).expect("events serialize") + "\n")
                    .collect();
                write("event_log", &format!("{name}.jsonl"), log.as_bytes())?;
            }
        }
    }
    relayd_seeds()
}

fn stored_traces() -> std::io::Result<Vec<(String, Trace)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../regressions/corpus");
    let mut traces = vec![];
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        // The corpus also holds on-fix.toml and the timeline snapshots.
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let trace = Trace::from_json(&text).expect("the stored traces load");
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        traces.push((name.to_string(), trace));
    }
    traces.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(traces)
}

/// One telegram of every kind, requests first.
fn telegrams() -> Vec<Telegram> {
    let mut kinds: Vec<TelegramKind> = (0..=u8::MAX).filter_map(TelegramKind::from_code).collect();
    kinds.sort_by_key(|k| !k.is_request());
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Telegram {
            kind,
            cs: CsId(1 + i as u16 % 4),
            id: TelegramId(100_001 + i as u64),
            card: CardId(i as u64),
            payload: format!("card-{i}").into_bytes(),
        })
        .collect()
}

/// A plain request (first byte 0: the plain relayd), sealed requests of
/// CS 1..=4 (first byte 1: the sealed relayd), an answer kind, a torn frame.
fn relayd_seeds() -> std::io::Result<()> {
    let keys = fuzzing::keys();
    let all = telegrams();
    let requests: Vec<&Telegram> = all.iter().filter(|t| t.kind.is_request()).collect();
    for (i, t) in requests.iter().enumerate() {
        let frame = telegram::encode(t).expect("encodes");
        write(
            "relayd_connection",
            &format!("plain-{i}"),
            &[&[0][..], &frame].concat(),
        )?;
        let sealed = keys
            .seal(t.cs, 0, Leg::Request, t)
            .expect("CS 1..=4 have keys");
        let frame = telegram::encode(&sealed).expect("encodes");
        write(
            "relayd_connection",
            &format!("sealed-{i}"),
            &[&[1][..], &frame].concat(),
        )?;
    }
    let answer = all
        .iter()
        .find(|t| !t.kind.is_request())
        .expect("answer kinds");
    let frame = telegram::encode(answer).expect("encodes");
    write(
        "relayd_connection",
        "answer-kind",
        &[&[0][..], &frame].concat(),
    )?;
    write(
        "relayd_connection",
        "torn-frame",
        &[&[0][..], &frame[..frame.len() / 2]].concat(),
    )
}

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}
