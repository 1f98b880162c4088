//! `chukei corpus add`: one command minimizes, names, stores and
//! snapshots a new regression, and records what it shows on its fix.

mod support;

use regressions::corpus;
use std::path::{Path, PathBuf};
use support::cli::{chukei, fresh_path, json_exit};

/// A shuttle failure of 401 steps, as a suite found it.
fn found() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "regressions/tests/found/shuttle-random-timer-free-2016-01-no_free_of_unallocated.json",
    )
}

#[test]
fn corpus_add_minimizes_names_stores_and_snapshots_a_trace() {
    let dir = fresh_path("corpus", "add");
    let found = found();
    let args = [
        "corpus",
        "add",
        found.to_str().unwrap(),
        "--corpus",
        dir.to_str().unwrap(),
        "--json",
    ];
    let out = chukei(&args);
    let report = json_exit(&out, 0);
    assert_eq!(report["steps_before"], 401);
    let after = report["steps_after"].as_u64().unwrap();
    assert!(after <= 30, "minimized to {after} steps");
    // Fixed on the presets that fix it, and on their one switch that does
    // (the allocation check on 2016-01); minimized keeping it fixed there.
    assert_eq!(
        report["fix"],
        serde_json::json!([
            ["2016-04", "fixed"],
            ["proposed", "fixed"],
            ["2016-01+timer_fix=alloc-guard", "fixed"]
        ])
    );
    // No shuttle noise on a successful run.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Stored under the corpus name, minimized, still reproducing.
    let name = "shuttle-random-timer-free-2016-01-no_free_of_unallocated.json";
    let stored = corpus::read(&dir.join(name)).unwrap();
    assert_eq!(
        regressions::minimize::steps_of(&stored).unwrap() as u64,
        after
    );
    assert_eq!(
        regressions::judge(&stored, None).outcome,
        regressions::Outcome::Reproduced
    );
    // Its outcome on the fix recorded, and its snapshot the one the corpus
    // test asserts.
    let on_fix = corpus::read_on_fix(&dir).unwrap();
    assert_eq!(on_fix[name]["2016-04"], "fixed");
    assert_eq!(on_fix[name]["2016-01+timer_fix=alloc-guard"], "fixed");
    insta::with_settings!({
        snapshot_path => corpus::snapshot_dir(&dir),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(
            corpus::snapshot_name(name),
            corpus::timeline_snapshot(&stored)
        );
    });

    // The same trace again: nothing changes. Another schedule under the
    // same name is refused unless --force.
    assert_eq!(chukei(&args).status.code(), Some(0));
    // A stored trace of that name with another schedule (here the
    // unminimized one) is replaced only with --force.
    std::fs::copy(&found, dir.join(name)).unwrap();
    let out = chukei(&args);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already stored with another schedule"),
        "{stderr}"
    );
    let forced = [&args[..], &["--force"]].concat();
    assert_eq!(chukei(&forced).status.code(), Some(0));
    assert_eq!(
        corpus::read(&dir.join(name)).unwrap().schedule,
        stored.schedule
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corpus_add_refuses_a_trace_that_is_no_bug() {
    let dir = fresh_path("corpus", "holds");
    let mut trace = corpus::read(&found()).unwrap();
    trace.verdict = model::Verdict::Holds;
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("claims-holds.json");
    std::fs::write(&file, trace.to_json_pretty()).unwrap();
    let out = chukei(&[
        "corpus",
        "add",
        file.to_str().unwrap(),
        "--corpus",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only a violated trace"), "{stderr}");
    assert!(!dir.join("on-fix.toml").exists(), "nothing stored");
    std::fs::remove_dir_all(&dir).unwrap();
}
