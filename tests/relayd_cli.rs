//! `chukei relayd` and `chukei load` as a user runs them: a relayd process on
//! an ephemeral port, a load run against it, SIGTERM, a graceful stop.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use support::cli::{command, json_exit};

#[test]
fn relayd_serves_a_load_run_and_stops_gracefully_on_sigterm() {
    let mut relayd = command()
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
    let load = command()
        .args(["load", "--target", &addr, "--cs", "4", "--rate", "200"])
        .args(["--duration", "500ms", "--json", "--quiet"])
        .output()
        .expect("load runs");
    let report = json_exit(&load, 0);
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
    let summary = json_exit(&out, 0);
    assert_eq!(summary["stats"]["admitted"], report["admitted"]);
    assert_eq!(summary["stats"]["answered"], report["admitted"]);
    assert_eq!(summary["stats"]["lost_by_relay"], 0);
}

/// A server process, its address and the rest of its stderr (its logs),
/// read on a thread so that they never block it.
struct Server {
    child: std::process::Child,
    addr: String,
    logs: std::thread::JoinHandle<String>,
}

/// Starts a `chukei` server command and reads the address it printed
/// (`<name>: listening on ADDR ...` on stderr).
fn start_server(name: &str, args: &[&str]) -> Server {
    let mut child = command()
        .args(args)
        .env("RUST_LOG", "info,relay=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} starts: {e}"));
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let prefix = format!("{name}: listening on ");
    let addr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "{name} exited before listening"
        );
        if let Some(rest) = line.strip_prefix(&prefix) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let logs = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });
    Server { child, addr, logs }
}

/// Sends SIGTERM and returns the JSON summary the process printed on a
/// clean exit, and its logs.
fn terminate(server: Server, name: &str) -> (serde_json::Value, String) {
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = server.child.wait_with_output().expect("exits");
    assert_eq!(out.status.code(), Some(0), "{name} exit");
    let logs = server.logs.join().expect("logs read");
    let summary =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{name} JSON summary: {e}"));
    (summary, logs)
}

/// The whole chain as an operator runs it: `chukei upstream` (the card
/// management server, a process of its own), `chukei relayd --upstream`
/// (proposed, two HSM boards) and `chukei load` with the improved rule;
/// then SIGTERM to both, each exiting cleanly with a drained summary.
#[test]
fn upstream_relayd_and_load_lose_nothing_and_stop_cleanly() {
    let upstream = start_server(
        "upstream",
        &[
            "upstream",
            "--listen",
            "127.0.0.1:0",
            "--latency",
            "1ms",
            "--json",
        ],
    );
    let relayd = start_server(
        "relayd",
        &[
            "relayd",
            "--listen",
            "127.0.0.1:0",
            "--preset",
            "proposed",
            "--upstream",
            &upstream.addr,
            "--upstream-latency",
            "1ms",
            "--hsm-latency",
            "0ms",
            "--hsm-boards",
            "2",
            "--log-format",
            "json",
            "--json",
        ],
    );
    let load = command()
        .args([
            "load",
            "--target",
            &relayd.addr,
            "--cs",
            "4",
            "--rate",
            "200",
        ])
        .args([
            "--duration",
            "500ms",
            "--rule",
            "improved",
            "--json",
            "--quiet",
        ])
        .output()
        .expect("load runs");
    let report = json_exit(&load, 0);
    assert_eq!(report["rule"], "improved");
    assert_eq!(
        (report["cards"].as_u64(), report["issued"].as_u64()),
        (Some(100), Some(100))
    );
    assert_eq!(report["lost"], 0);
    assert_eq!(report["disagreements"], 0);

    let (summary, logs) = terminate(relayd, "relayd");
    // Every log line is JSON naming its thread and telegram, relay events
    // (`relay=debug`) included.
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 100, "{} log lines", lines.len());
    for line in &lines {
        let fields = &line["fields"];
        assert!(
            fields["thread"].is_string() && fields["telegram"].is_string(),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| l["fields"]["thread"] == "hsm-1"),
        "board 1 logs"
    );
    let stats = &summary["stats"];
    assert_eq!(summary["open_at_deadline"], 0, "{summary}");
    assert_eq!(stats["admitted"], report["admitted"]);
    assert_eq!(stats["answered"], report["admitted"]);
    for drained in [
        "lost_by_relay",
        "shutdown_errors",
        "upstream_errors",
        "vanished",
    ] {
        assert_eq!(stats[drained], 0, "{drained}: {summary}");
    }
    // Two operations per answered telegram, spread over both boards.
    let per_board: Vec<u64> = serde_json::from_value(stats["hsm_operations"].clone()).unwrap();
    assert_eq!(per_board.len(), 2);
    assert!(per_board.iter().all(|&n| n > 0), "{per_board:?}");
    assert_eq!(
        per_board.iter().sum::<u64>(),
        2 * stats["answered"].as_u64().unwrap()
    );

    let (upstream, _) = terminate(upstream, "upstream");
    assert_eq!(upstream["answered"], stats["answered"], "{upstream}");
    assert_eq!(upstream["unauthorized"], 0);
}

#[test]
fn load_refuses_a_bad_rate_and_reports_an_unreachable_target() {
    let out = command()
        .args(["load", "--target", "127.0.0.1:9", "--rate=-5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate must be a positive"));
    let out = command()
        .args(["load", "--target", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Nothing listens on port 1: every send is a connect error, the card is
    // never issued, and nothing was admitted so nothing is lost.
    let out = command()
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
    let report = json_exit(&out, 0);
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
        let out = command().args(args).output().unwrap();
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
        let out = command().args(args).output().unwrap();
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
    let mut relayd = command()
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
        let out = command()
            .args(["relayd", "--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
