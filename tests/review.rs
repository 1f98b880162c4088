//! `chukei review` as a reviewer uses it: the verdict diff of a change, and
//! its HTML page as headless Chromium renders it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chukei(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chukei"))
        .args(args)
        .output()
        .expect("the chukei binary runs")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chukei-review-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `chukei review --base BASE --change CHANGE --out DIR` (50 relay
/// schedules per cause: every cause that reproduces on these presets does
/// within 10) and returns the page as Chromium rendered it.
fn review_page(base: &str, change: &str, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["review", "--base", base, "--change", change];
    args.extend(["--budget", "50", "--quiet", "--out", dir.to_str().unwrap()]);
    let out = chukei(&[args.as_slice(), extra].concat());
    assert_eq!(
        out.status.code(),
        Some(0),
        "the change breaks nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("review.json").is_file());
    let page = dir.join("review.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for forbidden in ["http://", "https://", "src=\"", "<link"] {
        let outside = html
            .replace("http://www.w3.org/2000/svg", "")
            .contains(forbidden);
        assert!(!outside, "self-contained: no `{forbidden}` on the page");
    }
    support::chromium::rendered_dom(&format!("file://{}", page.display()), 2000)
}

/// The table row of (checker, spec, property) carries this flip.
fn assert_row(dom: &str, flip: &str, checker: &str, spec: &str, property: &str) {
    let row = format!(
        "data-flip=\"{flip}\" data-checker=\"{checker}\" data-spec=\"{spec}\" data-property=\"{property}\""
    );
    assert!(dom.contains(&row), "no row {row}");
}

fn rows_of(dom: &str, flip: &str) -> usize {
    dom.matches(&format!("<tr class=\"verdict {flip}\""))
        .count()
}

/// The counterexample section of (spec, property) has `steps` steps, its
/// sequence diagram says so in its title, and its trace file is next to the
/// page.
fn assert_diagram(dom: &str, dir: &Path, spec: &str, property: &str, steps: usize, title: &str) {
    let head = format!("data-spec=\"{spec}\" data-property=\"{property}\" data-steps=\"{steps}\"");
    let start = dom
        .find(&head)
        .unwrap_or_else(|| panic!("no counterexample section {head}"));
    let section = &dom[start..start + dom[start..].find("</section>").unwrap()];
    assert!(section.contains("<svg"), "a sequence diagram in {head}");
    assert!(section.contains(title), "diagram titled {title:?}");
    let href = section
        .split("class=\"trace-file\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a link to the trace file");
    assert!(
        dir.join(href).is_file(),
        "{href} is written next to the page"
    );
}

#[test]
fn review_2016_04_to_proposed_fixes_the_stale_timeout_and_the_cs_block() {
    let dir = out_dir("apr-proposed");
    let dom = review_page("2016-04", "proposed", &dir, &[]);
    assert_row(
        &dom,
        "fixes",
        "check",
        "timer-free",
        "no_spurious_termination",
    );
    assert_row(&dom, "fixes", "check", "cs-block", "chip_and_system_agree");
    assert_row(
        &dom,
        "fixes",
        "check",
        "cs-block",
        "accepted_request_answered",
    );
    assert_row(&dom, "fixes", "check", "cs-block", "no_cs_starves");
    assert_row(
        &dom,
        "fixes",
        "reproduce",
        "timer-free",
        "no_spurious_termination",
    );
    assert_eq!(rows_of(&dom, "fixes"), 5);
    assert_eq!(rows_of(&dom, "breaks"), 0);
    assert_eq!(rows_of(&dom, "still-violated"), 0);
    // The page's script counted the rows into the filter buttons.
    assert!(dom.contains(">fixes (5)</button>"), "{dom}");
    assert!(dom.contains(">breaks (0)</button>"));
    assert_diagram(
        &dom,
        &dir,
        "timer-free",
        "no_spurious_termination",
        10,
        "timer-free on 2016-04: no_spurious_termination violated (10 steps)",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn review_2016_01_to_2016_03_fixes_the_hang_and_leaves_the_timer_race() {
    let dir = out_dir("jan-mar");
    // Minimizing the 2016-03 relay schedules takes seconds each; the spec's
    // counterexamples are shortest anyway.
    let dom = review_page("2016-01", "2016-03", &dir, &["--no-minimize"]);
    assert_row(&dom, "fixes", "check", "irq-order", "hsm_request_completes");
    assert_row(&dom, "fixes", "check", "irq-order", "relay_never_hangs");
    assert_row(&dom, "fixes", "reproduce", "irq-order", "relay_never_hangs");
    assert_eq!(rows_of(&dom, "fixes"), 3);
    assert_eq!(rows_of(&dom, "breaks"), 0);
    for property in ["no_free_of_unallocated", "no_spurious_termination"] {
        assert_row(&dom, "still-violated", "check", "timer-free", property);
        assert_row(&dom, "still-violated", "reproduce", "timer-free", property);
    }
    assert!(dom.contains(">fixes (3)</button>"));
    assert_diagram(
        &dom,
        &dir,
        "irq-order",
        "relay_never_hangs",
        4,
        "irq-order on 2016-01: relay_never_hangs violated (4 steps)",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn undoing_the_march_measures_breaks_the_hang_and_exits_1() {
    let out = chukei(&[
        "review", "--base", "2016-03", "--change", "2016-01", "--budget", "50", "--quiet", "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "a change that breaks a verdict");
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let breaks: Vec<(String, String, String, u64)> = review["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["flip"] == "breaks")
        .map(|r| {
            (
                r["checker"].as_str().unwrap().to_string(),
                r["spec"].as_str().unwrap().to_string(),
                r["property"].as_str().unwrap().to_string(),
                r["change_counterexample"]["steps"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |c: &str, p: &str, n| (c.to_string(), "irq-order".into(), p.to_string(), n);
    assert_eq!(
        breaks,
        [
            row("check", "hsm_request_completes", 6),
            row("check", "relay_never_hangs", 4),
            row("reproduce", "relay_never_hangs", 26),
        ]
    );
    let relay_hang = review["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["checker"] == "reproduce" && r["spec"] == "irq-order")
        .unwrap();
    assert_eq!(
        relay_hang["change_counterexample"]["shortest"],
        "1-minimal relay schedule"
    );
    assert_eq!(review["summary"]["breaks"], 3);
    assert_eq!(review["summary"]["fixes"], 0);
}

#[test]
fn a_config_that_is_neither_preset_nor_file_is_a_usage_error() {
    let out = chukei(&["review", "--base", "2016-02", "--change", "proposed"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`2016-02` is neither a preset (2016-01, 2016-03, 2016-04, proposed) nor a variant file"),
        "{stderr}"
    );
}

#[test]
fn the_wrong_epoch_fix_from_a_variant_file_breaks_what_proposed_fixed() {
    let variant = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("variants/epoch-uncleared.toml");
    let out = chukei(&[
        "review",
        "--base",
        "proposed",
        "--change",
        variant.to_str().unwrap(),
        "--budget",
        "50",
        "--quiet",
        "--json",
        "--no-minimize",
    ]);
    assert_eq!(out.status.code(), Some(1), "it breaks verdicts");
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(review["change"]["name"], "epoch-uncleared");
    assert_eq!(review["switches"][0]["switch"], "timer_fix");
    assert_eq!(review["switches"][0]["change"], "epoch-uncleared");
    let breaks: Vec<(&str, &str, u64)> = review["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["flip"] == "breaks")
        .map(|r| {
            (
                r["checker"].as_str().unwrap(),
                r["property"].as_str().unwrap(),
                r["change_counterexample"]["steps"].as_u64().unwrap(),
            )
        })
        .filter(|(checker, _, _)| *checker == "check")
        .collect();
    assert_eq!(
        breaks,
        [
            ("check", "no_free_of_unallocated", 8),
            ("check", "exactly_one_reply", 8),
            ("check", "telegrams_finish", 8),
        ]
    );
    // The real relay with the wrong fix frees an unallocated work area too.
    let relay_breaks = review["rows"].as_array().unwrap().iter().any(|r| {
        r["flip"] == "breaks"
            && r["checker"] == "reproduce"
            && r["property"] == "no_free_of_unallocated"
    });
    assert!(relay_breaks, "the timer-free cause reproduces on the relay");
    assert_eq!(review["summary"]["breaks"], 4);
    assert_eq!(review["summary"]["fixes"], 0);
}
