//! `RUST_LOG=relay=debug`: every relay event as a tracing line, under the
//! one kebab-case name the timelines, JSON lines and docs use, with its
//! telegram and thread IDs; no colour codes when stderr is no terminal.

use std::process::Command;

#[test]
fn relay_debug_lines_use_the_event_names_and_no_colour_off_a_terminal() {
    let out = Command::new(env!("CARGO_BIN_EXE_chukei"))
        .args([
            "reproduce",
            "--cause",
            "timer-free",
            "--preset",
            "2016-01",
            "--quiet",
        ])
        .env("RUST_LOG", "relay=debug")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let alloc = stderr
        .lines()
        .find(|l| l.contains("event=alloc "))
        .unwrap_or_else(|| panic!("an alloc line: {stderr}"));
    assert!(alloc.contains("thread=worker-0"), "{alloc}");
    assert!(alloc.contains("telegram=T1"), "{alloc}");
    assert!(alloc.ends_with("event=alloc area=0"), "{alloc}");
    for name in [
        "set-timer",
        "timeout-posted",
        "free-of-unallocated",
        "ap-abnormal-termination",
    ] {
        assert!(
            stderr.contains(&format!("event={name}")),
            "{name}: {stderr}"
        );
    }
    // Not the Rust `Debug` names, and no ANSI escape codes.
    assert!(!stderr.contains("FreeOfUnallocated"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}
