//! `chukei explore` shows `check`'s progress while it explores: off a
//! terminal (here: a pipe), `progress:` lines on stderr, before the URL.
//! `CHUKEI_PROGRESS_EVERY_MS=0` prints every report, so no test waits the
//! 5 s of a real log.

mod support;

use std::process::Stdio;
use support::explorer::Explorer;

#[test]
fn explore_prints_progress_lines_off_a_terminal_and_quiet_prints_none() {
    for (quiet, expected) in [(false, true), (true, false)] {
        let mut args = vec!["--spec", "irq-order", "--preset", "2016-01"];
        if quiet {
            args.push("--quiet");
        }
        // The URL is printed once the graph is explored: by then every
        // progress line is written.
        let explorer = Explorer::start_with(&args, |command| {
            command
                .env("CHUKEI_PROGRESS_EVERY_MS", "0")
                .stderr(Stdio::piped());
        });
        let stderr = explorer.stop();
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
