//! The `chukei` binary as a user runs it: verdicts, JSON, exit codes.

mod support;

use support::cli::{chukei, command, json_exit, scratch_dir, stdout_json};

#[test]
fn reproduce_json_reports_every_cause_on_2016_01() {
    let out = chukei(&[
        "reproduce",
        "--preset",
        "2016-01",
        "--json",
        "--budget",
        "200",
    ]);
    let rows = json_exit(&out, 0);
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(row["preset"], "2016-01");
        assert_eq!(row["reproduced"], true);
        assert_eq!(row["expected"], true);
        assert!(row["schedules_tried"].as_u64().unwrap() >= 1);
        assert!(row["millis"].is_u64());
        let timeline = row["timeline"].as_array().expect("timeline");
        assert!(timeline
            .iter()
            .all(|e| e["thread"].is_object() || e["thread"].is_string()));
        assert!(!timeline.is_empty());
    }
}

#[test]
fn reproduce_text_prints_a_replay_command_that_replays() {
    let out = chukei(&["reproduce", "--cause", "timer-free", "--preset", "2016-01"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("free-of-unallocated"), "{text}");
    let replay = text
        .lines()
        .find_map(|l| l.strip_prefix("replay: chukei "))
        .expect("a replay line");
    let again = chukei(&replay.split(' ').collect::<Vec<_>>());
    let again = String::from_utf8(again.stdout).unwrap();
    assert!(again.contains("free-of-unallocated"), "{again}");
    assert!(
        again.contains("        1 "),
        "the replay took one schedule:\n{again}"
    );
}

#[test]
fn fixed_preset_reproduces_nothing_and_exits_zero() {
    let out = chukei(&[
        "reproduce",
        "--preset",
        "proposed",
        "--budget",
        "30",
        "--json",
    ]);
    let rows = json_exit(&out, 0);
    for row in rows.as_array().unwrap() {
        assert_eq!(row["expected"], false);
        assert_eq!(row["reproduced"], false);
        assert_eq!(row["random_schedules"], 30);
        // Then every schedule with one preemption, none reproducing.
        let exhaustive = &row["exhaustive"];
        assert_eq!(exhaustive["result"], "clean", "{row}");
        assert_eq!(exhaustive["bound"], 1);
        let schedules = exhaustive["schedules"].as_u64().unwrap();
        assert!(schedules > 300, "{row}");
        assert_eq!(row["schedules_tried"], 30 + schedules);
        let summary = row["summary"].as_str().unwrap();
        assert!(
            summary.contains(&format!("clean over all {schedules} schedules up to 1")),
            "{summary}"
        );
        assert_eq!(row["timeline"].as_array().unwrap().len(), 0);
    }
}

#[test]
fn reproduce_exhaustive_reports_the_bound_each_row_was_decided_at() {
    let out = chukei(&[
        "reproduce",
        "--exhaustive",
        "--cause",
        "irq-order",
        "--preemptions",
        "1",
        "--json",
    ]);
    let rows = json_exit(&out, 0);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let found = row["preset"] == "2016-01";
        assert_eq!(row["reproduced"], found, "{row}");
        assert_eq!(row["inconclusive"], false, "{row}");
        if found {
            assert_eq!(row["result"], "found");
            assert_eq!(row["preemptions"], 1);
        } else {
            assert_eq!(row["result"], "clean", "{row}");
            assert_eq!(row["preemptions"], 1);
            let summary = row["summary"].as_str().unwrap();
            assert!(summary.starts_with("clean over all "), "{summary}");
        }
    }
}

#[test]
fn reproduce_text_says_the_bound_a_fixed_row_is_clean_to() {
    let out = chukei(&[
        "reproduce",
        "--cause",
        "irq-order",
        "--preset",
        "proposed",
        "--budget",
        "5",
        "--preemptions",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "nothing in 5 random schedules, clean over all 1 schedules up to 0 preemption(s)"
        ),
        "{text}"
    );
}

/// The relay refines irq-order on proposed: every schedule up to one
/// preemption keeps its log inside the spec (`hsm-wait=may-expire`), and
/// the row is as expected (exit 0).
#[test]
fn reproduce_conformance_is_clean_where_the_relay_refines_the_spec() {
    let out = chukei(&[
        "reproduce",
        "--exhaustive",
        "--conformance",
        "--cause",
        "irq-order",
        "--preset",
        "proposed",
        "--preemptions",
        "1",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("clean over all 392 schedules up to 1 preemption(s)"),
        "{text}"
    );
}

/// A divergence is reported with where the relay left the spec and the
/// command that replays it, and exits 1: read under the spec's default
/// `hsm-wait=in-time` (the bound never runs out on a live HSM), the relay's
/// own log leaves irq-order where its bounded wait runs out while the HSM
/// still computes, as it does on the driver.
#[test]
fn reproduce_conformance_reports_a_divergence_with_its_replay_command() {
    let dir = scratch_dir("cli", "conformance-events");
    let out = chukei(&[
        "reproduce",
        "--conformance",
        "--assume",
        "hsm-wait=in-time",
        "--cause",
        "irq-order",
        "--preset",
        "proposed",
        "--seed",
        "1",
        "--budget",
        "1",
        "--events-out",
        dir.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a divergence is not as expected: {text}"
    );
    assert!(
        text.contains("left the spec in random schedule 1"),
        "{text}"
    );
    assert!(
        text.contains("the relay left the irq-order spec at event 65: the spec does not allow `relay's bounded wait ends"),
        "{text}"
    );
    assert!(
        text.contains("replay: chukei reproduce --cause irq-order --preset proposed --seed 1 --budget 1 --conformance --assume hsm-wait=in-time"),
        "{text}"
    );
    // Read as the relay behaves (the default reading), the same schedule
    // stays inside the spec.
    let relays_reading = chukei(&[
        "reproduce",
        "--conformance",
        "--cause",
        "irq-order",
        "--preset",
        "proposed",
        "--seed",
        "1",
        "--budget",
        "1",
    ]);
    let text = String::from_utf8(relays_reading.stdout).unwrap();
    assert_eq!(relays_reading.status.code(), Some(0), "{text}");
    // `validate` reads the divergent schedule's log the same two ways.
    let log = dir.join("reproduce-irq-order-proposed-relay_never_hangs.events.jsonl");
    let validate = |assume: &[&str]| {
        let mut args = vec!["validate", log.to_str().unwrap(), "--spec", "irq-order"];
        args.extend(["--preset", "proposed"]);
        args.extend(assume);
        chukei(&args)
    };
    assert_eq!(validate(&[]).status.code(), Some(0));
    let strict = validate(&["--assume", "hsm-wait=in-time"]);
    let text = String::from_utf8(strict.stdout).unwrap();
    assert_eq!(strict.status.code(), Some(1), "{text}");
    assert!(text.contains("DIVERGENCE at event 65"), "{text}");
    let unknown = validate(&["--assume", "arrivals=one-terminal"]);
    assert_eq!(unknown.status.code(), Some(2));
}

/// `reproduce --assume` reads logs for `--conformance` only, and names an
/// assumption of a selected cause's spec: anything else is exit 2.
#[test]
fn reproduce_assume_is_checked_before_the_search() {
    let refused = |args: &[&str], says: &str| {
        let out = chukei(args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &["reproduce", "--assume", "hsm-wait=in-time"],
        "--conformance",
    );
    refused(
        &[
            "reproduce",
            "--conformance",
            "--cause",
            "timer-free",
            "--assume",
            "guard-effect=resets-hsm",
        ],
        "no assumption `guard-effect` in the specs of the selected causes (valid: timer-free: arrivals, delivery, hsm-wait, fairness)",
    );
    refused(
        &["reproduce", "--conformance", "--assume", "hsm-wait=soon"],
        "unknown value `soon` for assumption `hsm-wait` (valid: in-time, may-expire)",
    );
}

/// `chukei args` refuses `value` for `flag` with exit 2, listing `possible`.
fn assert_refused(args: &[&str], value: &str, flag: &str, possible: &str) {
    let out = chukei(args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let refusal = format!("invalid value '{value}' for '{flag}");
    assert!(err.contains(&refusal), "{err}");
    assert!(
        err.contains(&format!("[possible values: {possible}]")),
        "{err}"
    );
}

#[test]
fn unknown_preset_or_cause_is_a_clear_error_with_exit_2() {
    assert_refused(
        &["reproduce", "--preset", "2016-02"],
        "2016-02",
        "--preset",
        "all, 2016-01, 2016-03, 2016-04, proposed",
    );
    assert_refused(
        &["reproduce", "--cause", "deadlock"],
        "deadlock",
        "--cause",
        "all, timer-free, irq-order, stale-timeout",
    );
    let out = chukei(&["reproduce", "--budget", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_lists_the_commands() {
    let out = chukei(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("reproduce"), "{text}");
}

#[test]
fn a_written_trace_replays_with_its_verdict() {
    let dir = scratch_dir("cli", "traces");
    let out = chukei(&[
        "reproduce",
        "--preset",
        "2016-01",
        "--quiet",
        "--trace-out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files[0].contains("reproduce-irq-order-2016-01-relay_never_hangs.json"));
    let mut args = vec!["replay", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = chukei(&args);
    let rows = json_exit(&out, 0);
    for row in rows.as_array().unwrap() {
        assert_eq!(row["recorded"], "violated");
        assert_eq!(row["outcome"], "reproduced");
        assert_eq!(row["as_expected"], true);
    }
}

#[test]
fn a_corrupt_trace_is_unreadable_with_exit_2_and_the_others_still_replay() {
    let dir = scratch_dir("cli", "corrupt");
    let path = dir.join("bad.json");
    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions/corpus/proptest-timer-free-2016-01-no_free_of_unallocated.json");
    std::fs::write(&path, "{\"format\": 1, \"spec\": ").unwrap();
    let out = chukei(&["replay", path.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("unreadable") && text.contains("bad.json") && text.contains("not valid JSON"),
        "{text}"
    );
    assert!(text.contains("ok    reproduced"), "{text}");
    assert!(text.contains("2 traces, 1 as expected"), "{text}");
    assert!(!String::from_utf8(out.stderr).unwrap().contains("panicked"));

    std::fs::write(&path, "{\"format\": 9}").unwrap();
    let out = chukei(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("format 9 is not supported"));
}

/// A bug's schedule on its fix, without editing JSON: never "holds" when
/// the schedule no longer fits (stale, exit 3), "fixed" where it does.
#[test]
fn replay_on_another_preset_reports_fixed_and_stale() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/corpus");
    let file = |name: &str| corpus.join(name).display().to_string();
    let fixed = file("proptest-timer-free-2016-01-no_free_of_unallocated.json");
    let stale = file("reproduce-timer-free-2016-03-no_free_of_unallocated.json");
    let out = chukei(&["replay", "--preset", "2016-04", "--json", &fixed]);
    let rows = json_exit(&out, 0);
    assert_eq!(rows[0]["outcome"], "fixed");
    assert_eq!(rows[0]["expected"], "holds");
    assert_eq!(rows[0]["preset"], "2016-04");
    assert_eq!(rows[0]["recorded_preset"], "2016-01");

    let out = chukei(&["replay", "--preset", "2016-04", "--json", &fixed, &stale]);
    assert_eq!(out.status.code(), Some(3), "the worst outcome: stale");
    let rows = stdout_json(&out);
    assert_eq!(rows[1]["outcome"], "stale");
    assert!(rows[1]["reason"]
        .as_str()
        .unwrap()
        .contains("not among the options"));
}

#[test]
fn check_json_has_a_verdict_for_every_spec_preset_and_property() {
    let out = chukei(&["check", "--json", "--quiet"]);
    let rows = json_exit(&out, 0);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 80);
    let find = |spec: &str, preset: &str, property: &str| {
        rows.iter()
            .find(|r| r["spec"] == spec && r["preset"] == preset && r["property"] == property)
            .unwrap_or_else(|| panic!("no row {spec} {preset} {property}"))
    };
    let free = find("timer-free", "2016-01", "no_free_of_unallocated");
    assert_eq!(free["verdict"], "violated");
    assert_eq!(free["assumptions"]["delivery"], "low-priority");
    assert_eq!(free["trace"]["assumptions"], free["assumptions"]);
    assert_eq!(free["counterexample"].as_array().unwrap().len(), 8);
    assert!(free["states"].as_u64().unwrap() > 0 && free["millis"].is_u64());
    assert_eq!(
        find("irq-order", "2016-01", "hsm_request_completes")["verdict"],
        "violated"
    );
    assert_eq!(
        find("cs-block", "2016-01", "chip_and_system_agree")["verdict"],
        "violated"
    );
    for r in rows.iter().filter(|r| r["preset"] == "proposed") {
        assert_eq!(r["verdict"], "holds", "{r}");
        assert!(r["counterexample"].is_null());
    }
}

#[test]
fn check_text_prints_the_matrix_and_states_per_second() {
    let out = chukei(&[
        "check",
        "--spec",
        "irq-order",
        "--preset",
        "2016-01",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("hsm_request_completes      violated"),
        "{text}"
    );
    assert!(text.contains("states/s"), "{text}");
    assert!(
        text.contains("-- cycle: the following steps repeat forever --"),
        "{text}"
    );
}

#[test]
fn check_one_property_with_and_without_symmetry() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--spec",
            "cs-block",
            "--preset",
            "2016-01",
            "--property",
            "all_cards_issued",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = chukei(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let rows = stdout_json(&out);
        assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
        rows[0].clone()
    };
    let reduced = run(&[]);
    let full = run(&["--no-symmetry"]);
    assert_eq!(reduced["property"], "all_cards_issued");
    assert_eq!(reduced["verdict"], full["verdict"]);
    assert_eq!(reduced["symmetry"], true);
    assert_eq!(full["symmetry"], false);
    // A reachability property: the first example stops the search, found
    // after fewer states on the reduced graph.
    assert!(reduced["states"].as_u64() < full["states"].as_u64());
    let out = chukei(&["check", "--property", "no_such_property"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("no selected spec has a property `no_such_property`"),
        "{err}"
    );
}

#[test]
fn check_bad_arguments_exit_2() {
    assert_refused(
        &["check", "--spec", "timer"],
        "timer",
        "--spec",
        "all, timer-free, irq-order, cs-block",
    );
    let out = chukei(&["check", "--size", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    let out = chukei(&["check", "--spec", "timer-free", "--size", "colour=3"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_at_other_sizes_prints_verdicts_and_exits_0() {
    // One telegram cannot be terminated by another's stale notice: at this
    // size 2016-04 holds, and nothing is recorded to contradict.
    let out = chukei(&[
        "check",
        "--spec",
        "timer-free",
        "--preset",
        "2016-04",
        "--size",
        "telegrams=1",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let row = stdout
        .lines()
        .find(|l| l.contains("no_spurious_termination"))
        .unwrap();
    assert!(row.contains("holds") && row.contains(" - "), "{row}");
    assert!(!stdout.contains("UNEXPECTED"), "{stdout}");
    assert!(
        stdout.contains("8 without a recorded expectation"),
        "{stdout}"
    );
}

#[test]
fn check_exits_1_only_where_a_recorded_expectation_differs() {
    let dir = std::env::temp_dir().join(format!("chukei-expect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("expectations.toml");
    std::fs::write(
        &file,
        "[[expect]]\nspec = \"timer-free\"\npreset = \"2016-04\"\n\
         sizes = { telegrams = 1 }\nviolated = [\"no_spurious_termination\"]\n",
    )
    .unwrap();
    let out = chukei(&[
        "check",
        "--spec",
        "timer-free",
        "--preset",
        "2016-04",
        "--size",
        "telegrams=1",
        "--quiet",
        "--expectations",
        file.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let unexpected: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("UNEXPECTED"))
        .collect();
    assert_eq!(unexpected.len(), 1, "{stdout}");
    assert!(
        unexpected[0].contains("no_spurious_termination"),
        "{stdout}"
    );
}

#[test]
fn check_takes_patches_and_variant_files() {
    let out = chukei(&[
        "check",
        "--spec",
        "irq-order",
        "--preset",
        "2016-01",
        "--patch",
        "hsm_guard=error-on-interrupted",
        "--json",
        "--quiet",
    ]);
    let rows = json_exit(&out, 0);
    let hang = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["property"] == "relay_never_hangs")
        .unwrap();
    assert_eq!(hang["config"], "2016-01+hsm_guard=error-on-interrupted");
    assert_eq!(hang["patches"]["irq"], "logical");
    assert_eq!(hang["verdict"], "holds");
    assert_eq!(hang["expected"], "holds");
    let variant = concat!(env!("CARGO_MANIFEST_DIR"), "/variants/guard-alone.toml");
    let out = chukei(&[
        "check",
        "--spec",
        "irq-order",
        "--variant",
        variant,
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("guard-alone"), "{stdout}");
    assert!(
        stdout.contains("config guard-alone: timer_fix=none irq=logical monitor=on hsm_guard=error-on-interrupted"),
        "{stdout}"
    );
}

#[test]
fn a_reproduced_switch_set_is_recorded_in_the_trace_and_replays() {
    // 2016-04 without its allocation check: the relay takes the switch set,
    // reproduces the timer race, and the trace records every switch.
    let dir = std::env::temp_dir().join(format!("chukei-switches-{}", std::process::id()));
    let out = chukei(&[
        "reproduce",
        "--cause",
        "timer-free",
        "--preset",
        "2016-04",
        "--patch",
        "timer_fix=none",
        "--quiet",
        "--trace-out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "no recorded expectation");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("replay: chukei reproduce --cause timer-free --preset 2016-04 --patch timer_fix=none --seed"),
        "{stdout}"
    );
    let file = dir.join("reproduce-timer-free-2016-04+timer_fix=none-no_free_of_unallocated.json");
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(trace["preset"], "2016-04");
    assert_eq!(trace["patches"]["timer_fix"], "none");
    assert_eq!(trace["patches"]["irq"], "physical");
    let out = chukei(&["replay", file.to_str().unwrap(), "--json"]);
    std::fs::remove_dir_all(&dir).unwrap();
    let rows = json_exit(&out, 0);
    assert_eq!(rows[0]["preset"], "2016-04+timer_fix=none");
    assert_eq!(rows[0]["outcome"], "reproduced");
}

#[test]
fn bad_patches_and_variant_files_are_clear_errors_with_exit_2() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["check", "--patch", "irq=bios"],
            "unknown value `bios` for switch `irq` (expected one of: logical, physical)",
        ),
        (
            &["reproduce", "--patch", "monitors=off"],
            "unknown switch `monitors` (expected one of: timer_fix, irq, monitor, hsm_guard, cs_rule, admission)",
        ),
        (&["check", "--variant", "/nonexistent/v.toml"], "reading variant file"),
        (
            &["check", "--variant", "v.toml", "--preset", "2016-01"],
            "cannot be used with",
        ),
    ];
    for (args, message) in cases {
        let out = chukei(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn explore_serves_on_localhost_and_a_busy_port_is_an_error() {
    use std::io::{Read, Write};
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = chukei(&[
        "explore",
        "--spec",
        "irq-order",
        "--preset",
        "2016-01",
        "--port",
        &port,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("cannot listen"));
    drop(busy);

    let mut server = command()
        .args([
            "explore",
            "--spec",
            "irq-order",
            "--preset",
            "2016-01",
            "--port",
            &port,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut page = String::new();
    for _ in 0..100 {
        if let Ok(mut conn) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            conn.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let _ = conn.read_to_string(&mut page);
            if !page.is_empty() {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.kill().unwrap();
    let _ = server.wait();
    assert!(page.starts_with("HTTP/1."), "{page}");
    assert!(page.contains("200"), "{page}");
}

#[test]
fn validate_accepts_a_real_log_and_reports_a_doctored_one() {
    let dir = scratch_dir("cli", "events");
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
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let log_arg = log.to_str().unwrap();
    let out = chukei(&[
        "validate",
        log_arg,
        "--spec",
        "timer-free",
        "--preset",
        "2016-01",
        "--json",
    ]);
    let report = json_exit(&out, 0);
    assert!(report["divergence"].is_null());
    assert_eq!(
        report["violations"][0]["property"],
        "no_free_of_unallocated"
    );

    // Drop the allocation: the relay now frees what the spec never allocated.
    let text = std::fs::read_to_string(&log).unwrap();
    let doctored: String = text
        .lines()
        .filter(|l| !l.contains("\"event\":\"alloc\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(doctored.len(), text.len());
    let doctored_path = dir.join("doctored.jsonl");
    std::fs::write(&doctored_path, doctored).unwrap();
    let out = chukei(&[
        "validate",
        doctored_path.to_str().unwrap(),
        "--spec",
        "timer-free",
        "--preset",
        "2016-01",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("DIVERGENCE"));
}

#[test]
fn validate_a_corrupt_log_is_a_clear_error_with_exit_2() {
    let dir = scratch_dir("cli", "corrupt-events");
    let path = dir.join("bad.jsonl");
    std::fs::write(&path, "{\"seq\":0}\nnot json\n").unwrap();
    let out = chukei(&[
        "validate",
        path.to_str().unwrap(),
        "--spec",
        "timer-free",
        "--preset",
        "2016-04",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 1"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = chukei(&[
        "validate",
        path.to_str().unwrap(),
        "--spec",
        "nope",
        "--preset",
        "2016-04",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_stored_regression_trace_replays_with_its_verdict() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/corpus");
    let mut files: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.contains("shuttle-")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("proptest-")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("reproduce-")), "{files:?}");
    let mut args = vec!["replay", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = chukei(&args);
    let rows = json_exit(&out, 0);
    assert_eq!(rows.as_array().unwrap().len(), files.len());
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["as_expected"] == true && r["outcome"] == "reproduced"));
    // A replay that ends at its recorded violation is not news: no shuttle
    // "test panicked" / "Test deadlocked" lines.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn a_reader_that_goes_away_is_no_panic() {
    let mut child = command()
        .args(["check", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `chukei check | head -0`
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn minimize_shrinks_a_found_shuttle_schedule_quietly() {
    let found = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "regressions/tests/found/shuttle-random-timer-free-2016-01-no_free_of_unallocated.json",
    );
    let out_file = scratch_dir("cli", "minimize").join("min.json");
    let out = chukei(&[
        "minimize",
        found.to_str().unwrap(),
        "-o",
        out_file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no shuttle noise");
    let report = stdout_json(&out);
    assert_eq!(report["kind"], "shuttle");
    assert_eq!(report["steps_before"], 401);
    assert_eq!(report["steps_after"], 18);
    assert!(report["millis"].is_u64() && report["replays"].as_u64().unwrap() > 22);
    let out = chukei(&["replay", "--json", out_file.to_str().unwrap()]);
    let rows = json_exit(&out, 0);
    assert_eq!(rows[0]["outcome"], "reproduced");
}

#[test]
fn minimize_refuses_what_does_not_reproduce() {
    let stored = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions/corpus/proptest-timer-free-2016-01-no_free_of_unallocated.json");
    let text = std::fs::read_to_string(stored)
        .unwrap()
        .replace("\"preset\": \"2016-01\"", "\"preset\": \"2016-04\"");
    let path = scratch_dir("cli", "minimize-bad").join("fixed.json");
    std::fs::write(&path, text).unwrap();
    let out = chukei(&["minimize", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("does not reproduce its violation"), "{err}");
    let out = chukei(&["minimize", "/nonexistent/trace.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_draws_every_kind_quietly_in_three_formats() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/corpus");
    let shuttle = corpus.join("shuttle-random-irq-order-2016-01-relay_never_hangs.json");
    let out = chukei(&["explain", shuttle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no shuttle noise");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("lanes: CS 1 | CS 2 | worker 0 | worker 1 | timer | HSM | CPU/IRQ | monitor"),
        "{text}"
    );
    assert!(
        text.contains("only the monitor's is kept, the HSM's is lost"),
        "{text}"
    );
    assert_eq!(
        text.matches("^ the property is violated here").count(),
        1,
        "{text}"
    );

    let spec = corpus.join("proptest-irq-order-2016-01-relay_never_hangs.json");
    let out = chukei(&["explain", "--format", "mermaid", spec.to_str().unwrap()]);
    let mermaid = String::from_utf8(out.stdout).unwrap();
    assert!(mermaid.starts_with("sequenceDiagram\n"), "{mermaid}");
    assert!(
        mermaid.contains("monitor->>cpuirq: 2. monitor raises its interrupt"),
        "{mermaid}"
    );
    assert!(mermaid.contains("rect rgb"), "the violating step is marked");

    let out = chukei(&["explain", "--format", "svg", spec.to_str().unwrap()]);
    let svg = String::from_utf8(out.stdout).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
            && svg.trim_end().ends_with("</svg>")
    );
    assert!(!svg.contains("href") && !svg.contains("http://www.w3.org/1999/xlink"));

    let out = chukei(&["explain", "/nonexistent/trace.json"]);
    assert_eq!(out.status.code(), Some(2));
    let out = chukei(&["explain", "--format", "png", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_trace_out_writes_traces_that_replay_and_says_how() {
    let dir = scratch_dir("cli", "check-traces");
    let out = chukei(&[
        "check",
        "--spec",
        "irq-order",
        "--quiet",
        "--trace-out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lasso = dir.join("fair-lasso-irq-order-2016-01-hsm_request_completes.json");
    assert!(lasso.exists(), "{text}");
    assert!(
        text.contains(&format!("replay: chukei replay {}", lasso.display())),
        "{text}"
    );
    assert!(text.contains("explain: chukei explain"), "{text}");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["replay", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = chukei(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rows = stdout_json(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), files.len());
    // Counterexamples reproduce; `sometimes` examples hold.
    assert!(rows.iter().any(|r| r["outcome"] == "reproduced"));
    assert!(rows.iter().any(|r| r["outcome"] == "fixed"));
}

#[test]
fn a_check_stopped_by_a_limit_is_inconclusive_with_exit_3() {
    let out = chukei(&[
        "check",
        "-q",
        "--spec",
        "timer-free",
        "--preset",
        "2016-04",
        "--max-states",
        "200",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("no_leak                    inconclusive holds"),
        "{text}"
    );
    assert!(
        text.contains("INCONCLUSIVE timer-free 2016-04: stopped by --max-states 200"),
        "{text}"
    );
    assert!(!text.contains("UNEXPECTED"), "{text}");
}

#[test]
fn the_memory_guard_reports_inconclusive_in_json() {
    let out = chukei(&[
        "check",
        "-q",
        "--json",
        "--spec",
        "irq-order",
        "--preset",
        "proposed",
        "--max-memory",
        "1",
    ]);
    let results = json_exit(&out, 3);
    for r in results.as_array().unwrap() {
        assert_eq!(r["verdict"], "inconclusive", "{r}");
        assert_eq!(r["stopped"]["limit"]["name"], "max-memory", "{r}");
        assert_eq!(r["stopped"]["limit"]["value"], 1_000_000, "{r}");
    }
}

#[test]
fn bad_limits_are_refused_with_exit_2() {
    for (flag, value) in [
        ("--max-seconds", "0"),
        ("--max-seconds", "nan"),
        ("--max-states", "0"),
        ("--max-depth", "x"),
    ] {
        let out = chukei(&["check", "--spec", "irq-order", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
}

#[test]
fn check_assume_selects_assumptions_and_bad_ones_are_usage_errors() {
    let out = chukei(&[
        "check",
        "--spec",
        "timer-free",
        "--preset",
        "2016-04",
        "--property",
        "no_spurious_termination",
        "--assume",
        "arrivals=one-terminal",
        "--assume",
        "delivery=all",
        "--quiet",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // One terminal: low priority still hits the next telegram, FIFO does not.
    assert!(
        text.contains("arrivals=one-terminal               no_spurious_termination    violated"),
        "{text}"
    );
    assert!(
        text.contains("arrivals=one-terminal,delivery=fifo no_spurious_termination    holds"),
        "{text}"
    );
    assert!(text.contains("--assume arrivals=one-terminal"), "{text}");
    let out = chukei(&["check", "--spec", "timer-free", "--assume", "arrivals=many"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "unknown value `many` for assumption `arrivals` (valid: several, one-terminal)"
        ),
        "{err}"
    );
}

/// The summary ends with the whole process's CPU time and the states per
/// CPU-second, beside the search's own wall-time figure.
#[test]
fn check_reports_the_whole_process_cpu_time() {
    let out = chukei(&["check", "--spec", "irq-order", "--quiet"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("CPU time "))
        .unwrap_or_else(|| panic!("no CPU line in {stdout}"));
    let seconds: f64 = line["CPU time ".len()..]
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {line}"));
    assert!((0.0..60.0).contains(&seconds), "{line}");
    assert!(line.contains("states per CPU-second"), "{line}");
}
