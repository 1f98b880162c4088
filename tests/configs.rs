//! `--patch` and `--variant` on the commands that run one configuration
//! against stored evidence: `chukei replay` (a trace on another switch set)
//! and `chukei validate` (a relay log against the spec of a switch set).

use std::path::PathBuf;
use std::process::{Command, Output};

fn chukei(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chukei"))
        .args(args)
        .output()
        .expect("the chukei binary runs")
}

fn root(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn json_rows(out: &Output) -> Vec<serde_json::Value> {
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    rows.as_array().expect("a JSON array").clone()
}

const HANG: &str = "regressions/corpus/reproduce-irq-order-2016-01-relay_never_hangs.json";
const STALE: &str = "regressions/corpus/reproduce-timer-free-2016-01-no_spurious_termination.json";

#[test]
fn replay_on_the_guard_alone_variant_shows_the_guard_ends_the_hang() {
    let variant = root("variants/guard-alone.toml");
    for config in [
        ["--variant", variant.as_str()],
        // The same switch set, given as an override of the trace's own.
        ["--patch", "hsm_guard=error-on-interrupted"],
    ] {
        let hang = root(HANG);
        let out = chukei(&[&["replay", "--json"][..], &config, &[hang.as_str()]].concat());
        assert_eq!(out.status.code(), Some(0), "{config:?}");
        let row = &json_rows(&out)[0];
        assert_eq!(row["recorded_preset"], "2016-01");
        assert_eq!(row["outcome"], "fixed", "{config:?}");
        // guard-alone's switch set is recorded: its hang property holds.
        assert_eq!(row["expected"], "holds");
    }
}

#[test]
fn replay_with_a_patch_on_an_unrecorded_switch_set_informs_and_exits_0() {
    let stale = root(STALE);
    let out = chukei(&["replay", "--json", "--patch", "timer_fix=epoch", &stale]);
    assert_eq!(out.status.code(), Some(0));
    let row = &json_rows(&out)[0];
    assert_eq!(row["preset"], "2016-01+timer_fix=epoch");
    assert_eq!(
        row["outcome"], "fixed",
        "the epoch fix stops the stale timeout"
    );
    assert!(row["expected"].is_null(), "no verdict recorded for it");
    let text = chukei(&["replay", "--patch", "timer_fix=epoch", &stale]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("(no recorded verdict)"));
}

#[test]
fn replay_rejects_a_bad_patch_and_a_missing_variant_file() {
    let hang = root(HANG);
    let bad = chukei(&["replay", "--patch", "timer_fix=sometimes", &hang]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("unknown value `sometimes` for switch `timer_fix`"));
    let missing = chukei(&["replay", "--variant", "/no/such/variant.toml", &hang]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr)
        .contains("reading variant file /no/such/variant.toml"));
}

#[test]
fn validate_a_2016_01_timer_race_log_against_other_switch_sets() {
    let dir = std::env::temp_dir().join(format!("chukei-configs-{}", std::process::id()));
    let written = chukei(&[
        "reproduce",
        "--quiet",
        "--preset",
        "2016-01",
        "--cause",
        "timer-free",
        "--events-out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(written.status.code(), Some(0));
    let log = dir.join("reproduce-timer-free-2016-01-no_free_of_unallocated.events.jsonl");
    let log = log.to_str().unwrap();
    let validate = |config: &[&str]| {
        let out = chukei(
            &[
                &["validate", "--json", "--spec", "timer-free"],
                config,
                &[log],
            ]
            .concat(),
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    // With April's allocation check the spec's AP never frees an
    // unallocated work area: the 2016-01 log diverges where the relay does.
    let (code, report) = validate(&["--preset", "2016-01", "--patch", "timer_fix=alloc-guard"]);
    assert_eq!(code, Some(1));
    assert_eq!(report["preset"], "2016-01+timer_fix=alloc-guard");
    assert_eq!(report["verdict"], "diverge");
    assert!(report["divergence"]["event"]
        .as_str()
        .unwrap()
        .contains("free-of-unallocated"));
    // The wrong epoch fix allows the very same free: the log agrees with
    // it, and violates no_free_of_unallocated.
    let variant = root("variants/epoch-uncleared.toml");
    let (code, report) = validate(&["--variant", &variant]);
    assert_eq!(code, Some(0));
    assert_eq!(report["preset"], "epoch-uncleared");
    assert_eq!(
        report["violations"][0]["property"],
        "no_free_of_unallocated"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
