//! Headless Chromium for the web-page tests (Explorer, review report).
//!
//! The page is loaded by Debian's `chromium` (installed by `scripts/test`),
//! its scripts run, and the rendered DOM is returned, so a test asserts what a
//! reader would see, not what the server meant to send.

use std::path::PathBuf;
use std::process::Command;

/// The binary: `CHUKEI_CHROMIUM` if set, else `chromium` on the PATH.
fn binary() -> String {
    std::env::var("CHUKEI_CHROMIUM").unwrap_or_else(|_| "chromium".to_string())
}

/// A fresh profile per run, so runs never share state or lock each other out.
fn profile_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("chukei-chromium-{}-{n}", std::process::id()))
}

/// Loads `url` headless, gives its scripts up to `budget_ms` of virtual time,
/// and returns the DOM as rendered. Panics with Chromium's own stderr if it
/// cannot start: a browser test that cannot see the page must fail, not pass.
pub fn rendered_dom(url: &str, budget_ms: u32) -> String {
    let profile = profile_dir();
    let output = Command::new(binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} (run scripts/test, which installs it): {e}",
                binary()
            )
        });
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("chromium prints the DOM as UTF-8")
}
