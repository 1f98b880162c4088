//! Running the `chukei` binary as a user does: its exit code, its output,
//! its JSON, and scratch directories for the files it writes.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `chukei` binary of this build, ready for arguments (for tests that
/// spawn it or pipe to it).
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chukei"))
}

/// Runs `chukei args` to the end.
pub fn chukei(args: &[&str]) -> Output {
    command()
        .args(args)
        .output()
        .expect("the chukei binary runs")
}

/// Stdout parsed as JSON.
pub fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Asserts the run exited with `code` (showing its stderr otherwise) and
/// returns its stdout parsed as JSON.
pub fn json_exit(out: &Output, code: i32) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(out)
}

/// A path in the temporary directory for test `name` of suite `suite`,
/// unique to this process and removed if an earlier run left it: for a
/// directory the command creates.
pub fn fresh_path(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chukei-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// As [`fresh_path`], created empty: for files the test writes.
pub fn scratch_dir(suite: &str, name: &str) -> PathBuf {
    let dir = fresh_path(suite, name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
