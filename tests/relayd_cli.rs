//! `chukei relayd` and `chukei load` as a user runs them: a relayd process on
//! an ephemeral port, a load run against it, SIGTERM, a graceful stop.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn chukei() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chukei"))
}

#[test]
fn relayd_serves_a_load_run_and_stops_gracefully_on_sigterm() {
    let mut relayd = chukei()
        .args(["relayd", "--listen", "127.0.0.1:0", "--hsm-latency", "0ms"])
        .args(["--upstream-latency", "1ms", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relayd starts");
    let mut stderr = BufReader::new(relayd.stderr.take().expect("piped stderr"));
    let addr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "relayd exited early"
        );
        if let Some(rest) = line
            .split("listening on ")
            .nth(1)
            .filter(|_| line.starts_with("relayd:"))
        {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let load = chukei()
        .args(["load", "--target", &addr, "--cs", "4", "--rate", "200"])
        .args(["--duration", "500ms", "--json", "--quiet"])
        .output()
        .expect("load runs");
    assert_eq!(
        load.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&load.stdout).expect("JSON report");
    assert_eq!(report["cards"], 100);
    assert_eq!(report["issued"], 100);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["disagreements"], 0);

    let killed = Command::new("kill")
        .args(["-TERM", &relayd.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = relayd.wait_with_output().expect("relayd exits");
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(summary["stats"]["admitted"], report["admitted"]);
    assert_eq!(summary["stats"]["answered"], report["admitted"]);
    assert_eq!(summary["stats"]["lost_by_relay"], 0);
}

#[test]
fn load_refuses_a_bad_rate_and_reports_an_unreachable_target() {
    let out = chukei()
        .args(["load", "--target", "127.0.0.1:9", "--rate=-5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate must be a positive"));
    let out = chukei()
        .args(["load", "--target", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Nothing listens on port 1: every send is a connect error, the card is
    // never issued, and nothing was admitted so nothing is lost.
    let out = chukei()
        .args([
            "load",
            "--target",
            "127.0.0.1:1",
            "--cs",
            "1",
            "--rate",
            "100",
        ])
        .args([
            "--duration",
            "10ms",
            "--backoff",
            "1ms",
            "--block-for",
            "5ms",
        ])
        .args(["--json", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["admitted"], 0);
    assert_eq!(report["issued"], 0);
    assert_eq!(report["disagreements"], 1);
    assert_eq!(report["errors"]["connect"], report["sent"]);
    assert!(report["sent"].as_u64().unwrap() > 1);
}

#[test]
fn simulate_refuses_bad_seeds_and_an_unwritable_plot_directory_before_running() {
    let cases: [(&[&str], &str); 3] = [
        (&["simulate", "--seeds", "0"], "--seeds"),
        (&["simulate", "--first-seed", "x"], "--first-seed"),
        (
            &["simulate", "--plots", "/dev/null/plots", "--quiet"],
            "creating /dev/null/plots",
        ),
    ];
    for (args, message) in cases {
        let out = chukei().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn upstream_and_relayd_refuse_a_bad_address() {
    for args in [
        &["upstream", "--listen", "nowhere"][..],
        &["relayd", "--listen", "127.0.0.1:0", "--upstream", "nowhere"][..],
    ] {
        let out = chukei().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("invalid socket address"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn relayd_runs_a_variant_file_and_refuses_a_bad_patch_or_file() {
    let mut relayd = chukei()
        .args(["relayd", "--listen", "127.0.0.1:0"])
        .args(["--variant", "variants/guard-alone.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relayd starts");
    let mut stderr = BufReader::new(relayd.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    while !line.starts_with("relayd: listening") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "relayd exited early"
        );
    }
    assert!(line.contains("configuration guard-alone"), "{line}");
    let killed = Command::new("kill")
        .args(["-TERM", &relayd.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    assert_eq!(relayd.wait().expect("relayd exits").code(), Some(0));

    let cases: [(&[&str], &str); 3] = [
        (
            &["--patch", "irq=bios"],
            "unknown value `bios` for switch `irq`",
        ),
        (
            &["--variant", "/nonexistent/v.toml"],
            "reading variant file",
        ),
        (
            &["--variant", "v.toml", "--preset", "2016-01"],
            "cannot be used with",
        ),
    ];
    for (args, message) in cases {
        let out = chukei()
            .args(["relayd", "--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
