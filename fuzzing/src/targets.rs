//! The bodies of the fuzz targets. Each takes arbitrary bytes, runs one
//! input through the code under test, and panics only when an invariant of
//! that code breaks; a clean error for bad input is the expected answer.

use model::Trace;
use patches::Preset;
use relay::telegram::{self, FrameError, Telegram};
use scenarios::search::Cause;

/// The largest input the targets take: bigger inputs only cost time (the
/// commands bound their inputs themselves, and libFuzzer's `-max_len` is
/// smaller still).
pub const MAX_INPUT: usize = 64 * 1024;

/// One frame: a decoded frame re-encodes to exactly the bytes it came from,
/// and never claims more bytes than it was given.
pub fn frame_single(data: &[u8]) {
    match telegram::decode(data) {
        Ok((t, used)) => assert_round_trip(&t, &data[..used], data.len()),
        Err(e) => assert_error_is_sound(&e, data),
    }
}

/// A stream of frames decoded one after another: each frame round-trips,
/// and a cut-short copy of a frame is never taken for a whole one.
pub fn frame_stream(data: &[u8]) {
    let mut at = 0;
    while at < data.len() {
        let rest = &data[at..];
        let Ok((t, used)) = telegram::decode(rest) else {
            return;
        };
        assert_round_trip(&t, &rest[..used], rest.len());
        let cut = used - 1 - (usize::from(rest[used - 1]) % used);
        assert!(
            telegram::decode(&rest[..cut]).is_err(),
            "the first {cut} bytes of a {used}-byte frame decoded as a whole frame"
        );
        at += used;
    }
}

fn assert_round_trip(t: &Telegram, frame: &[u8], given: usize) {
    assert!(frame.len() <= given, "decode used more bytes than given");
    let again = telegram::encode(t).expect("a decoded telegram encodes");
    assert_eq!(again, frame, "decode then encode changed the frame");
}

fn assert_error_is_sound(e: &FrameError, data: &[u8]) {
    if let FrameError::Truncated { needed, have } = *e {
        assert_eq!(have, data.len(), "{e}");
        assert!(needed > have, "{e}");
    }
    assert!(!e.to_string().is_empty());
}

/// A trace file: parsed, then replayed on its own preset and judged, as
/// `chukei replay` does.
pub fn trace_replay(data: &[u8]) {
    let Some(text) = text_of(data) else { return };
    let Ok(trace) = Trace::from_json(text) else {
        return;
    };
    let judged = regressions::judge(&trace, None);
    if let Some(replayed) = &judged.replayed {
        let fit = &replayed.fit;
        assert!(fit.used <= fit.steps || fit.extended, "{fit:?}");
    }
    let _ = judged.outcome.name();
}

/// A relay event log (JSON lines): parsed, then validated against every
/// spec, on every preset. A verdict of agreement
/// always rests on something checked.
pub fn event_log(data: &[u8]) {
    let Some(text) = text_of(data) else { return };
    let Ok(events) = scenarios::refine::parse_jsonl(text) else {
        return;
    };
    for spec in ["timer-free", "irq-order", "cs-block"] {
        for preset in Preset::ALL {
            let Ok(report) = scenarios::registry::validate(&events, spec, preset) else {
                continue;
            };
            assert_eq!(report.events, events.len());
            assert!(
                report.mapped + report.checked + report.skipped <= report.events,
                "{report:?}"
            );
            if report.agrees() {
                assert!(report.mapped > 0, "agreement with nothing mapped");
                assert_eq!(report.unchecked(), 0, "agreement with unchecked events");
            }
        }
    }
}

/// A driver schedule built from bytes: cause, preset and cards from the
/// first three, then one choice a byte (`0xff` the clock, others a thread
/// number, some out of range on purpose). The replay must end in a verdict
/// or a clear error, and the driver is deterministic: twice the same run.
pub fn driver_schedule(data: &[u8]) {
    let Some(trace) = driver_trace(data) else {
        return;
    };
    let first = regressions::replay::replay(&trace);
    let second = regressions::replay::replay(&trace);
    match (first, second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.verdict, b.verdict, "the driver is not deterministic");
            assert_eq!(a.timeline, b.timeline, "the driver is not deterministic");
            assert_eq!(a.fit, b.fit);
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!(
            "the driver is not deterministic: {:?} then {:?}",
            a.map(|r| r.verdict),
            b.map(|r| r.verdict)
        ),
    }
}

/// Choices of [`driver_schedule`] at most: the corpus's longest driver
/// schedule is a few hundred.
const MAX_CHOICES: usize = 4096;

/// The trace [`driver_schedule`] replays for `data`.
pub fn driver_trace(data: &[u8]) -> Option<Trace> {
    let [cause, preset, cards, choices @ ..] = data else {
        return None;
    };
    let cause = Cause::ALL[usize::from(*cause) % Cause::ALL.len()];
    let preset = Preset::ALL[usize::from(*preset) % Preset::ALL.len()];
    let choices: Vec<serde_json::Value> = choices
        .iter()
        .take(MAX_CHOICES)
        .map(|&b| match b {
            0xff => "clock".into(),
            b => (b % 8).into(),
        })
        .collect();
    let json = serde_json::json!({
        "format": model::trace::FORMAT,
        "spec": cause.spec().name(),
        "preset": preset.name(),
        "sizes": { "cards": 1 + cards % 3 },
        "property": cause.property(),
        "verdict": "violated",
        "schedule": { "kind": "driver", "choices": choices },
        "origin": { "checker": "fuzz" },
    });
    Some(Trace::from_json(&json.to_string()).expect("the fuzz trace is well-formed"))
}

/// The bytes [`driver_trace`] turns back into `trace`'s schedule (the seed
/// corpus of `driver_schedule`, made from the stored driver traces).
pub fn driver_seed(trace: &Trace) -> Option<Vec<u8>> {
    let model::trace::Schedule::Driver { choices } = &trace.schedule else {
        return None;
    };
    let cause = Cause::ALL
        .iter()
        .position(|c| c.spec().name() == trace.spec && c.property() == trace.property)?;
    let preset = Preset::ALL.iter().position(|p| *p == trace.preset)?;
    let cards = trace.sizes.get("cards").copied()?.checked_sub(1)?;
    let mut bytes = vec![cause as u8, preset as u8, u8::try_from(cards).ok()?];
    for c in choices {
        bytes.push(match c {
            serde_json::Value::Number(n) => u8::try_from(n.as_u64()?).ok().filter(|n| *n < 8)?,
            _ => 0xff,
        });
    }
    Some(bytes)
}

fn text_of(data: &[u8]) -> Option<&str> {
    if data.len() > MAX_INPUT {
        return None;
    }
    std::str::from_utf8(data).ok()
}
