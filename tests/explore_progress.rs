//! `chukei explore` shows `check`'s progress while it explores: off a
//! terminal (here: a pipe), `progress:` lines on stderr, before the URL.
//! `CHUKEI_PROGRESS_EVERY_MS=0` prints every report, so no test waits the
//! 5 s of a real log.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn explore_prints_progress_lines_off_a_terminal_and_quiet_prints_none() {
    for (quiet, expected) in [(false, true), (true, false)] {
        let mut args = vec![
            "explore",
            "--spec",
            "irq-order",
            "--preset",
            "2016-01",
            "--port",
            "0",
        ];
        if quiet {
            args.push("--quiet");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_chukei"))
            .args(&args)
            .env("CHUKEI_PROGRESS_EVERY_MS", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The URL is printed once the graph is explored: by then every
        // progress line is written.
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(url.contains("http://127.0.0.1:"), "{url}");
        let progress: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("progress: "))
            .collect();
        assert_eq!(!progress.is_empty(), expected, "quiet={quiet}: {stderr}");
        if expected {
            assert!(
                progress.iter().any(|l| l.contains("irq-order")
                    && l.contains("2016-01")
                    && l.contains("states")),
                "{stderr}"
            );
            assert!(
                !stderr.contains('\r'),
                "no in-place rewriting off a terminal: {stderr:?}"
            );
        }
    }
}
