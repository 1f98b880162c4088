//! The recorded verdicts are the checker's: `scenarios/expectations.toml`
//! is what `chukei expectations --write` generates, and the tables of
//! docs/specs.md are rendered from it. A verdict or length that changes
//! shows up as a reviewed diff of both files.

use model::search::Limits;
use scenarios::expect::{self, EXPECTATIONS_TOML};
use stateright_models::record::{self, Entry, REGENERATE};

/// Beyond this many states a run is left to `chukei expectations` (the full
/// comparison): here that is cs-block under continuous demand on the
/// legacy rule (322863 states with `discarded-connections=freed`, about
/// 2.5 s each even in release; 1826868 and 30 s with
/// `held-until-answered`), which would take this test from seconds to
/// minutes. The largest run compared here is cs-block's legacy rule with
/// `held-until-answered` (50508 states).
const MAX_STATES_IN_TEST: usize = 60_000;

fn docs_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/specs.md")
}

#[test]
fn the_expectations_file_is_in_the_generated_format() {
    let committed = expect::parse(EXPECTATIONS_TOML).unwrap();
    let entries: Vec<Entry> = committed.iter().map(Entry::from_expectation).collect();
    let canonical = record::render_toml(&entries);
    assert!(
        canonical == EXPECTATIONS_TOML,
        "scenarios/expectations.toml is not what the generator writes (edited by hand?); \
         regenerate it with `{REGENERATE}` and review the diff"
    );
    // Every recorded configuration under every assumption setting: the
    // file is complete.
    let settings: usize = record::recorded()
        .iter()
        .map(|r| model::assume::settings(r.spec.assumption_params()).len())
        .sum();
    assert_eq!(committed.len(), settings);
}

#[test]
fn the_expectations_file_is_what_the_checker_records() {
    let limits = Limits {
        max_states: Some(MAX_STATES_IN_TEST),
        ..Limits::NONE
    };
    let recording = record::record(limits, 1, &mut |_| {});
    let fresh = expect::parse(&record::render_toml(&recording.entries)).unwrap();
    let committed = expect::parse(EXPECTATIONS_TOML).unwrap();
    let stale = record::differences(&committed, &fresh);
    assert!(
        stale.is_empty(),
        "scenarios/expectations.toml disagrees with the checker:\n{}\n\
         regenerate it with `{REGENERATE}` and review the diff",
        stale.join("\n")
    );
    // Only the big continuous-demand runs are left out, and every other
    // run was compared.
    assert!(
        recording
            .stopped
            .iter()
            .all(|s| s.starts_with("cs-block") && s.contains("demand=continuous")),
        "{:?}",
        recording.stopped
    );
    assert!(recording.stopped.len() <= 12, "{:?}", recording.stopped);
    assert_eq!(fresh.len() + recording.stopped.len(), committed.len());
}

#[test]
fn the_docs_tables_are_generated_from_the_expectations_file() {
    let path = docs_path();
    let doc = std::fs::read_to_string(&path).unwrap();
    let committed = expect::parse(EXPECTATIONS_TOML).unwrap();
    let tables = record::render_tables(&committed);
    assert!(tables.len() >= 5, "defaults, one per spec, changes");
    let generated = record::splice("docs/specs.md", &doc, &tables).unwrap();
    assert!(
        generated == doc,
        "the tables of docs/specs.md differ from scenarios/expectations.toml; \
         regenerate them with `{REGENERATE}` and review the diff"
    );
}

#[test]
fn a_missing_or_unclosed_region_is_a_clear_error() {
    let (begin, _) = record::markers("defaults");
    let tables = std::collections::BTreeMap::from([("defaults".to_string(), "x\n".to_string())]);
    for doc in ["no markers\n".to_string(), format!("{begin}\nno end\n")] {
        let err = record::splice("specs.md", &doc, &tables).unwrap_err();
        assert!(
            err.to_string()
                .contains("specs.md: no generated region `defaults`"),
            "{err}"
        );
    }
}

/// The list of changed verdicts names the flips this suite is about: the
/// April check is enough only with one terminal and FIFO delivery, and
/// `fairness=none` breaks the irq-order liveness of the fixed presets.
#[test]
fn the_changes_list_names_the_assumptions_that_matter() {
    let committed = expect::parse(EXPECTATIONS_TOML).unwrap();
    let changes = record::changes(&committed);
    let april = changes
        .iter()
        .find(|l| l.starts_with("timer-free 2016-04 `no_spurious_termination`"))
        .expect("the April flip is listed");
    assert!(
        april.contains("holds under arrivals=one-terminal, delivery=fifo (any hsm-wait, fairness)"),
        "{april}"
    );
    assert!(changes.iter().any(
        |l| l.starts_with("irq-order 2016-04 `hsm_request_completes`")
            && l.contains("violated under monitor-polls=periodic, hsm-wait=in-time, fairness=none")
    ));
}
