//! Trace refinement of relay event logs: real threads under load agree with
//! the specs; a deliberately broken relay diverges; a 2016-01 log reaches the
//! violation; a corrupt log is a typed error with its line number.

use patches::Preset;
use relay::{CsRule, EventKind, EventLog, Fault, RelayConfig, Std};
use scenarios::refine::{parse_jsonl, ValidateError};
use scenarios::registry::{validate, validate_jsonl};
use scenarios::search::{search, Cause};
use scenarios::workload::Workload;
use std::thread;

const TERMINALS: u16 = 4;
const CARDS_EACH: u64 = 75;

/// Several CS terminals at once on real threads; returns the JSONL log.
fn load(config: RelayConfig, terminals: u16, cards: u64, linger_ms: u64) -> String {
    let log = EventLog::new();
    let workload = Workload::load(config, terminals, cards, 8, CsRule::Improved);
    workload.run_inspecting::<Std, _>(&log, |_, _| {
        thread::sleep(std::time::Duration::from_millis(linger_ms));
    });
    log.to_jsonl()
}

#[test]
fn hundreds_of_telegrams_on_real_threads_refine_both_specs() {
    for preset in [Preset::Apr2016, Preset::Proposed] {
        let jsonl = load(RelayConfig::fast(preset), TERMINALS, CARDS_EACH, 0);
        let events = parse_jsonl(&jsonl).expect("the relay's own log parses");
        let arrivals = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Arrived { .. }))
            .count();
        assert!(arrivals >= 300, "{arrivals} telegrams");
        for spec in ["timer-free", "irq-order"] {
            let report = validate(&events, spec, preset).unwrap();
            println!(
                "{spec} {preset}: {} events, {} mapped, {} checked, {} skipped",
                report.events, report.mapped, report.checked, report.skipped
            );
            assert!(report.agrees(), "{spec} {preset}: {:#?}", report.divergence);
            assert!(report.violations.is_empty(), "{:?}", report.violations);
            // Every telegram's arrival, handling and two completions at least.
            assert!(
                report.mapped >= 600,
                "{spec}: only {} events mapped",
                report.mapped
            );
            let shutdown = events
                .iter()
                .position(|e| e.kind == EventKind::Shutdown)
                .expect("the log ends with the shutdown");
            assert_eq!(
                shutdown,
                report.mapped + report.checked + report.skipped,
                "every event before the shutdown is accounted for"
            );
        }
    }
}

#[test]
fn a_relay_that_skips_its_timer_reset_diverges_from_timer_free() {
    let config = RelayConfig {
        // Short enough that the last telegram's forgotten timer fires.
        telegram_timeout: 40,
        fault: Some(Fault::SkipTimerReset),
        ..RelayConfig::fast(Preset::Proposed)
    };
    let jsonl = load(config, 1, 10, 200);
    let report = validate_jsonl(&jsonl, "timer-free", Preset::Proposed).unwrap();
    let divergence = report
        .divergence
        .clone()
        .expect("the broken relay diverges");
    println!("{divergence:#?}");
    assert!(
        divergence.event.contains("timeout-posted"),
        "the forgotten timer fires where the spec has none armed: {divergence:?}"
    );
    assert!(
        divergence.reason.contains("OS fires"),
        "{}",
        divergence.reason
    );
    assert!(
        divergence.spec_state.contains("timer=-"),
        "{}",
        divergence.spec_state
    );
    // The same log is fine for irq-order: the defect is in the AP's timer.
    let irq = validate_jsonl(&jsonl, "irq-order", Preset::Proposed).unwrap();
    assert!(irq.agrees(), "{:?}", irq.divergence);
    // And the healthy relay with the same short timer agrees.
    let healthy = RelayConfig {
        telegram_timeout: 40,
        ..RelayConfig::fast(Preset::Proposed)
    };
    let jsonl = load(healthy, 1, 10, 200);
    let report = validate_jsonl(&jsonl, "timer-free", Preset::Proposed).unwrap();
    assert!(report.agrees(), "{:#?}", report.divergence);
}

#[test]
fn a_2016_01_log_agrees_with_the_spec_and_reaches_the_violation() {
    let finding = search(Cause::TimerFree, Preset::Jan2016, 0, 300);
    assert!(finding.reproduced);
    let report = validate(&finding.timeline, "timer-free", Preset::Jan2016).unwrap();
    assert!(report.agrees(), "{:#?}", report.divergence);
    let properties: Vec<&str> = report
        .violations
        .iter()
        .map(|v| v.property.as_str())
        .collect();
    assert!(
        properties.contains(&"no_free_of_unallocated"),
        "{properties:?}"
    );
    // The fixed spec does not allow what the 2016-01 relay did.
    let fixed = validate(&finding.timeline, "timer-free", Preset::Apr2016).unwrap();
    assert!(
        !fixed.agrees(),
        "a 2016-01 log cannot refine the 2016-04 spec"
    );
}

#[test]
fn a_corrupt_log_is_a_typed_error_with_its_line() {
    let jsonl = load(RelayConfig::fast(Preset::Proposed), 1, 2, 0);
    let mut lines: Vec<&str> = jsonl.lines().collect();
    lines.insert(3, "{\"seq\": 3, \"event\": \"teleport\"}");
    let corrupt = lines.join("\n");
    match parse_jsonl(&corrupt) {
        Err(ValidateError::Parse { line, message }) => {
            assert_eq!(line, 4);
            assert!(!message.is_empty());
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let truncated = &jsonl[..jsonl.len() / 2];
    let err = validate_jsonl(truncated, "timer-free", Preset::Proposed);
    assert!(
        matches!(err, Err(ValidateError::Parse { .. })) || err.is_ok(),
        "a cut line is a parse error (or the cut fell on a line end)"
    );
    assert!(matches!(
        validate_jsonl(&jsonl, "timer", Preset::Proposed),
        Err(ValidateError::UnknownSpec(_))
    ));
    assert_eq!(
        validate_jsonl(&jsonl, "cs-block", Preset::Proposed),
        Err(ValidateError::Unsupported("cs-block".into()))
    );
    let err = parse_jsonl("not json at all").unwrap_err();
    assert_eq!(err.to_string().split(':').next(), Some("line 1"));
}
