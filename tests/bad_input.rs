//! Bad input as an adversarial user gives it: every invocation in the table
//! must end with a clear message and a non-zero exit (or say what it
//! skipped), never a panic and never a false "ok".

mod support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use support::cli::{chukei, command};
use support::explorer::Explorer;

fn scratch_dir(name: &str) -> PathBuf {
    support::cli::scratch_dir("bad-input", name)
}

/// The event log of a real 2016-01 run (`reproduce --events-out`): it ends
/// at the AP's abnormal termination.
fn real_2016_01_log(dir: &Path) -> String {
    let out = chukei(&[
        "reproduce",
        "--cause",
        "timer-free",
        "--preset",
        "2016-01",
        "--quiet",
        "--events-out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let log = std::fs::read_dir(dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::read_to_string(log).unwrap()
}

/// The files the table refers to, by name.
struct Fixtures {
    dir: PathBuf,
}

impl Fixtures {
    fn new(name: &str) -> Self {
        let dir = scratch_dir(name);
        let log = real_2016_01_log(&dir.join("events"));
        let lines: Vec<&str> = log.lines().collect();
        let keep = |pred: &dyn Fn(&str) -> bool| -> String {
            lines
                .iter()
                .filter(|l| pred(l))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        let files = [
            ("real.jsonl", log.clone()),
            ("empty.jsonl", String::new()),
            ("blank.jsonl", "\n\n  \n".to_string()),
            (
                "no-arrival.jsonl",
                keep(&|l| !l.contains("\"event\":\"arrived\"")),
            ),
            (
                "null-telegram.jsonl",
                log.replacen(
                    "\"telegram\":100001,\"event\":\"alloc\"",
                    "\"telegram\":null,\"event\":\"alloc\"",
                    1,
                ),
            ),
            // Only the CS terminals' and the HSM's events: nothing of the AP.
            (
                "not-the-ap.jsonl",
                keep(&|l| {
                    !l.contains("\"worker\"")
                        && !l.contains("\"timer\",\"telegram\"")
                        && !l.contains("\"event\":\"arrived\"")
                        && !l.contains("\"event\":\"completion-notice\"")
                }),
            ),
            ("after-abnormal.jsonl", after_abnormal_termination(&lines)),
        ];
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Fixtures { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }
}

/// The real log, then the restarted AP taking a second telegram (its first
/// worker events, renumbered).
fn after_abnormal_termination(lines: &[&str]) -> String {
    let mut out: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let seq = lines.len();
    let again = lines
        .iter()
        .filter(|l| l.contains("\"worker\"") || l.contains("\"event\":\"arrived\""))
        .take(3);
    for (i, line) in again.enumerate() {
        let mut event: serde_json::Value = serde_json::from_str(line).unwrap();
        event["seq"] = (seq + i).into();
        event["telegram"] = 100_002.into();
        out.push_str(&format!("{event}\n"));
    }
    out
}

/// One bad invocation: what it runs and what it must answer.
struct Case {
    what: &'static str,
    args: Vec<String>,
    code: i32,
    /// Text the answer (stdout + stderr) must contain.
    says: &'static str,
}

fn case(what: &'static str, args: Vec<String>, code: i32, says: &'static str) -> Case {
    Case {
        what,
        args,
        code,
        says,
    }
}

fn run_table(cases: &[Case]) {
    let mut failures = vec![];
    for c in cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let out = chukei(&args);
        let answer = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let ok = out.status.code() == Some(c.code)
            && answer.contains(c.says)
            && !answer.contains("panicked");
        // The table of docs/reliability.md (scripts/reliability reads it).
        println!(
            "bad-input\t{}\t{}\t{}",
            c.what,
            out.status.code().unwrap_or(-1),
            c.says
        );
        if !ok {
            failures.push(format!(
                "{}: `chukei {}` exited {:?} (want {}), wanted {:?} in:\n{answer}",
                c.what,
                args.join(" "),
                out.status.code(),
                c.code,
                c.says
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn validate_never_passes_a_log_it_did_not_check() {
    let f = Fixtures::new("validate");
    let validate = |file: &str, spec: &str, preset: &str| -> Vec<String> {
        [
            "validate",
            &f.path(file),
            "--spec",
            spec,
            "--preset",
            preset,
        ]
        .map(String::from)
        .to_vec()
    };
    let cases = [
        // The baseline: the real log agrees and reaches the violation...
        case(
            "a real 2016-01 log",
            validate("real.jsonl", "timer-free", "2016-01"),
            0,
            "code and spec agree",
        ),
        // ... and fails on the fixed spec.
        case(
            "a 2016-01 log on 2016-04",
            validate("real.jsonl", "timer-free", "2016-04"),
            1,
            "DIVERGENCE",
        ),
        case(
            "no arrived line",
            validate("no-arrival.jsonl", "timer-free", "2016-04"),
            1,
            "T100001 never arrived",
        ),
        case(
            "no arrived line, 2016-01",
            validate("no-arrival.jsonl", "timer-free", "2016-01"),
            1,
            "never arrived",
        ),
        case(
            "telegram: null",
            validate("null-telegram.jsonl", "timer-free", "2016-01"),
            1,
            "names no telegram",
        ),
        case(
            "an empty log",
            validate("empty.jsonl", "timer-free", "2016-01"),
            2,
            "the log has no events",
        ),
        case(
            "a log of blank lines",
            validate("blank.jsonl", "irq-order", "2016-01"),
            2,
            "the log has no events",
        ),
        case(
            "no step of the spec",
            validate("not-the-ap.jsonl", "timer-free", "2016-01"),
            2,
            "is this a log of another spec?",
        ),
        case(
            "events after the abnormal termination",
            validate("after-abnormal.jsonl", "timer-free", "2016-01"),
            1,
            "INCOMPLETE: no divergence in what was checked, but 3 events",
        ),
        // A timer-free run's terminal gave up waiting (production
        // timeouts): not a log of the cs-block spec's assumptions.
        case(
            "a log with a search timeout, as cs-block",
            validate("real.jsonl", "cs-block", "2016-01"),
            1,
            "the spec's terminals wait for every answer",
        ),
    ];
    run_table(&cases);
}

#[test]
fn validate_json_counts_what_it_checked_and_skipped() {
    let f = Fixtures::new("validate-json");
    let out = chukei(&[
        "validate",
        &f.path("after-abnormal.jsonl"),
        "--spec",
        "timer-free",
        "--preset",
        "2016-01",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "incomplete");
    assert_eq!(report["telegrams"], 1);
    assert_eq!(report["skipped_by_reason"]["after-abnormal-termination"], 3);
    let counted = ["mapped", "checked", "skipped"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(counted, report["events"].as_u64().unwrap());
}

/// Runs `chukei args` with a stdout whose reader is already gone.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command()
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap()
}

#[test]
fn the_exit_code_survives_a_closed_stdout() {
    let dir = scratch_dir("closed-stdout");
    let stored = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions/corpus/reproduce-timer-free-2016-01-no_free_of_unallocated.json");
    let flipped = std::fs::read_to_string(stored).unwrap().replacen(
        "\"verdict\": \"violated\"",
        "\"verdict\": \"holds\"",
        1,
    );
    let mismatch = dir.join("mismatch.json");
    std::fs::write(&mismatch, flipped).unwrap();
    let replay = ["replay", mismatch.to_str().unwrap()];
    assert_eq!(chukei(&replay).status.code(), Some(1), "the baseline");
    let out = with_closed_stdout(&replay);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "like `| head -1`: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // And a success stays a success.
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions/corpus/reproduce-timer-free-2016-01-no_free_of_unallocated.json");
    let out = with_closed_stdout(&["replay", real.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[test]
fn inputs_are_refused_before_the_long_work() {
    let dir = scratch_dir("inputs");
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let inside_a_file = file.join("out");
    let (file, inside_a_file) = (file.to_str().unwrap(), inside_a_file.to_str().unwrap());
    let max = u64::MAX.to_string();
    let cases = [
        case(
            "a seed whose schedules run past u64::MAX",
            argv(&["reproduce", "--seed", &max, "--quiet"]),
            2,
            "runs past the largest seed",
        ),
        case(
            "the last seed that fits",
            argv(&[
                "reproduce",
                "--seed",
                &max,
                "--budget",
                "1",
                "--cause",
                "timer-free",
                "--preset",
                "proposed",
                "--preemptions",
                "0",
                "--quiet",
            ]),
            0,
            "nothing in 1 random schedules, clean over all 1 schedules",
        ),
        case(
            "--trace-out inside a file",
            argv(&["reproduce", "--trace-out", inside_a_file, "--quiet"]),
            2,
            "creating",
        ),
        case(
            "--events-out is a file",
            argv(&["reproduce", "--events-out", file, "--quiet"]),
            2,
            "creating",
        ),
        case(
            "explore: an unknown size",
            argv(&[
                "explore",
                "--spec",
                "timer-free",
                "--preset",
                "2016-01",
                "--size",
                "colour=3",
            ]),
            2,
            "unknown size `colour`",
        ),
        case(
            "explore: a size out of range",
            argv(&[
                "explore",
                "--spec",
                "timer-free",
                "--preset",
                "2016-01",
                "--size",
                "telegrams=0",
            ]),
            2,
            "telegrams",
        ),
    ];
    run_table(&cases);
    // Refused before any output: the URL is never printed for a bad request.
    let out = chukei(&[
        "explore",
        "--spec",
        "irq-order",
        "--preset",
        "2016-01",
        "--size",
        "colour=3",
    ]);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // And the search never ran: no progress, no results.
    let out = chukei(&["reproduce", "--trace-out", inside_a_file]);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn explore_on_port_0_prints_the_port_it_serves_on() {
    use std::io::{Read, Write};
    let server = Explorer::start(&["--spec", "irq-order", "--preset", "2016-01"]);
    let port = server.port;
    assert_ne!(port, 0);
    let mut page = String::new();
    for _ in 0..100 {
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            conn.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let _ = conn.read_to_string(&mut page);
            if !page.is_empty() {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.stop();
    assert!(page.contains("200"), "{page}");
}

#[test]
fn bad_files_presets_and_sizes_are_clear_errors() {
    let dir = scratch_dir("classes");
    let corrupt = dir.join("corrupt.json");
    std::fs::write(&corrupt, "{\"format\":1,\n").unwrap();
    let event = dir.join("teleport.jsonl");
    std::fs::write(
        &event,
        "{\"seq\":0,\"at\":0,\"thread\":\"hsm\",\"telegram\":1,\"event\":\"teleport\"}\n",
    )
    .unwrap();
    let missing = dir.join("missing.json");
    let (corrupt, event, missing) = (
        corrupt.to_str().unwrap(),
        event.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let cases = [
        case(
            "a corrupt trace file",
            argv(&["replay", corrupt]),
            2,
            "trace is not valid JSON",
        ),
        case(
            "a trace file that does not exist",
            argv(&["replay", missing]),
            2,
            "No such file",
        ),
        case(
            "an expectations file that does not exist",
            argv(&["expectations", "--file", missing]),
            2,
            "run from the repository root, or pass --file/--docs",
        ),
        case(
            "an unknown preset",
            argv(&["check", "--preset", "2017-01"]),
            2,
            "invalid value '2017-01'",
        ),
        case(
            "a size that is not a number",
            argv(&["check", "--spec", "timer-free", "--size", "telegrams=abc"]),
            2,
            "must be a non-negative integer",
        ),
        case(
            "an event of an unknown kind",
            argv(&[
                "validate",
                event,
                "--spec",
                "timer-free",
                "--preset",
                "2016-01",
            ]),
            2,
            "line 1: not a relay event",
        ),
        case(
            "an event log that does not exist",
            argv(&[
                "validate",
                missing,
                "--spec",
                "irq-order",
                "--preset",
                "2016-01",
            ]),
            2,
            "No such file",
        ),
    ];
    run_table(&cases);
}

/// A stored trace with one edit, written to `dir`.
fn edited_trace(
    dir: &Path,
    name: &str,
    stored: &str,
    edit: impl Fn(&mut serde_json::Value),
) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions/corpus")
        .join(stored);
    let mut trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut trace);
    let out = dir.join(name);
    std::fs::write(&out, trace.to_string()).unwrap();
    out.to_str().unwrap().to_string()
}

/// What the fuzz targets found in trace replay (`fuzz/findings/`), and the
/// input bound of `replay`: each a clear "unreadable" (exit 2), none a panic
/// or an allocation of what the file claims.
#[test]
fn traces_that_claim_too_much_are_refused_before_the_replay() {
    let dir = scratch_dir("claims");
    let huge = dir.join("huge.json");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len((8 << 20) + 1).unwrap();
    let shuttle = "shuttle-random-timer-free-2016-01-no_free_of_unallocated.json";
    let driver = "reproduce-timer-free-2016-01-no_free_of_unallocated.json";
    let cut = edited_trace(&dir, "cut.json", shuttle, |t| {
        t["schedule"]["schedule"] = "910216bc4294967295".into();
    });
    let telegrams = edited_trace(&dir, "telegrams.json", shuttle, |t| {
        t["sizes"]["telegrams"] = u64::from(u32::MAX).into();
    });
    let cards = edited_trace(&dir, "cards.json", driver, |t| {
        t["sizes"]["cards"] = u64::from(u32::MAX).into();
    });
    let unused = edited_trace(&dir, "unused.json", driver, |t| {
        t["sizes"]["workers"] = 2.into();
    });
    let cases = [
        case(
            "a trace file past the size bound",
            argv(&["replay", huge.to_str().unwrap()]),
            2,
            "more than 8388608 bytes",
        ),
        case(
            "a shuttle schedule cut short",
            vec!["replay".into(), cut],
            2,
            "the shuttle schedule does not decode: step 14 of 22 is cut short",
        ),
        case(
            "a shuttle trace of 4294967295 telegrams",
            vec!["replay".into(), telegrams],
            2,
            "size `telegrams` = 4294967295 is past 64",
        ),
        case(
            "a driver trace of 4294967295 cards",
            vec!["replay".into(), cards],
            2,
            "`cards` is 4294967295: a driver trace sends 1 to 64 cards",
        ),
        case(
            "a driver trace with a size it does not use",
            vec!["replay".into(), unused],
            2,
            "`workers` is not used by the run",
        ),
    ];
    run_table(&cases);
}
