//! Trace refinement of relay event logs: real threads under load agree with
//! the specs; a deliberately broken relay diverges; a 2016-01 log reaches the
//! violation; a corrupt log is a typed error with its line number.

use patches::Preset;
use relay::events::{Event, ThreadName};
use relay::telegram::TelegramId;
use relay::{CsRule, EventKind, EventLog, Fault, RelayConfig, Std};
use scenarios::cs_block::{Load, Timeouts};
use scenarios::refine::{parse_jsonl, Report, SkipReason, ValidateError, Verdict};
use scenarios::registry::{validate, validate_jsonl};
use scenarios::search::{search, Cause};
use scenarios::workload::Workload;
use std::collections::BTreeMap;
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
            assert_eq!(report.verdict, Verdict::Agree);
            assert!(report.telegrams >= 300, "{} telegrams", report.telegrams);
            let shutdown = events
                .iter()
                .position(|e| e.kind == EventKind::Shutdown)
                .expect("the log ends with the shutdown");
            assert_eq!(
                report.events,
                report.mapped + report.checked + report.skipped,
                "every event is accounted for"
            );
            assert_eq!(
                report.skipped_by_reason[&SkipReason::AfterShutdown],
                events.len() - shutdown
            );
            assert_eq!(report.unchecked(), 0);
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
    let err = parse_jsonl("not json at all").unwrap_err();
    assert_eq!(err.to_string().split(':').next(), Some("line 1"));
}

/// The 2016-01 timeline the seeded search finds (it ends at the AP's
/// abnormal termination).
fn jan_2016_log() -> Vec<Event> {
    let finding = search(Cause::TimerFree, Preset::Jan2016, 0, 300);
    assert!(finding.reproduced);
    finding.timeline
}

#[test]
fn nothing_checked_is_never_agreement() {
    assert_eq!(
        validate(&[], "timer-free", Preset::Proposed),
        Err(ValidateError::Empty)
    );
    assert_eq!(
        validate_jsonl("\n\n", "irq-order", Preset::Proposed),
        Err(ValidateError::Empty)
    );
    let log = jan_2016_log();
    // Only the HSM's and the CSs' events: nothing of timer-free's AP.
    let hsm_only: Vec<Event> = log
        .iter()
        .filter(|e| {
            !matches!(
                e.thread,
                relay::ThreadName::Worker(_) | relay::ThreadName::Timer
            )
        })
        .filter(|e| {
            !matches!(
                e.kind,
                EventKind::Arrived { .. } | EventKind::CompletionNotice
            )
        })
        .cloned()
        .collect();
    match validate(&hsm_only, "timer-free", Preset::Jan2016) {
        Err(ValidateError::NothingChecked {
            events, skipped, ..
        }) => {
            assert_eq!(events, hsm_only.len());
            assert!(skipped.contains("other-mechanism"), "{skipped}");
        }
        other => panic!("an HSM-only log checked nothing of timer-free: {other:?}"),
    }
    // Only the AP's events: nothing of irq-order's HSM.
    let ap_only: Vec<Event> = log
        .iter()
        .filter(|e| matches!(e.thread, relay::ThreadName::Worker(_)))
        .cloned()
        .collect();
    assert!(matches!(
        validate(&ap_only, "irq-order", Preset::Jan2016),
        Err(ValidateError::NothingChecked { .. })
    ));
}

#[test]
fn a_missing_arrival_is_a_divergence_not_a_pass() {
    let log = jan_2016_log();
    // The real log fails on the fixed spec, and reaches the violation on its own.
    assert_eq!(
        validate(&log, "timer-free", Preset::Apr2016)
            .unwrap()
            .verdict,
        Verdict::Diverge
    );
    let without_arrival: Vec<Event> = log
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::Arrived { .. }))
        .cloned()
        .collect();
    assert_eq!(without_arrival.len(), log.len() - 1, "one arrival");
    for preset in [Preset::Jan2016, Preset::Apr2016] {
        let report = validate(&without_arrival, "timer-free", preset).unwrap();
        assert_eq!(report.verdict, Verdict::Diverge, "{preset}");
        let divergence = report.divergence.unwrap();
        assert!(
            divergence.reason.contains("never arrived"),
            "{}",
            divergence.reason
        );
        assert!(divergence.event.contains("alloc"), "{}", divergence.event);
    }
}

#[test]
fn an_event_without_its_telegram_is_a_divergence() {
    let mut log = jan_2016_log();
    let alloc = log
        .iter()
        .position(|e| matches!(e.kind, EventKind::Alloc { .. }))
        .unwrap();
    log[alloc].telegram = None;
    let report = validate(&log, "timer-free", Preset::Jan2016).unwrap();
    assert_eq!(report.verdict, Verdict::Diverge);
    let divergence = report.divergence.unwrap();
    assert_eq!(divergence.index, alloc);
    assert!(
        divergence.reason.contains("names no telegram"),
        "{}",
        divergence.reason
    );
    // irq-order: an HSM completion that names no telegram.
    let mut log = jan_2016_log();
    let done = log
        .iter()
        .position(|e| matches!(e.kind, EventKind::HsmDone { .. }))
        .unwrap();
    log[done].telegram = None;
    let report = validate(&log, "irq-order", Preset::Jan2016).unwrap();
    assert_eq!(report.divergence.unwrap().index, done);
}

#[test]
fn events_after_an_abnormal_termination_make_the_verdict_incomplete() {
    let mut log = jan_2016_log();
    let end = log
        .iter()
        .position(|e| matches!(e.kind, EventKind::ApAbnormalTermination { .. }))
        .expect("the 2016-01 timeline ends in the AP's abnormal termination");
    let alone = validate(&log[..=end], "timer-free", Preset::Jan2016).unwrap();
    assert_eq!(alone.verdict, Verdict::Agree, "{:?}", alone.divergence);
    assert_eq!(alone.telegrams, 1);
    // The restarted AP handles a second telegram: the spec stopped.
    let next = TelegramId(log[end].telegram.unwrap().0 + 1);
    let again: Vec<Event> = log[..end]
        .iter()
        .filter(|e| e.telegram.is_some())
        .take(5)
        .map(|e| Event {
            telegram: Some(next),
            ..e.clone()
        })
        .collect();
    // Its arrival and its worker's events; the CS's chip write is cs-block's.
    let worker_events = again
        .iter()
        .filter(|e| {
            matches!(e.thread, relay::ThreadName::Worker(_))
                || matches!(e.kind, EventKind::Arrived { .. })
        })
        .count();
    assert_eq!(worker_events, 4);
    log.truncate(end + 1);
    log.extend(again);
    let report = validate(&log, "timer-free", Preset::Jan2016).unwrap();
    assert_eq!(report.verdict, Verdict::Incomplete);
    assert!(!report.agrees());
    assert_eq!(report.unchecked(), worker_events);
    assert_eq!(
        report.skipped_by_reason[&SkipReason::AfterAbnormalTermination],
        worker_events
    );
}

/// The relay's own logs with the March guard on: when the HSM is slower
/// than the bounded wait, the relay answers with an error, resets the board
/// and frees the work area. timer-free maps that to its `HsmWaitExpires`
/// step (the bounded wait is in the spec), so code and spec agree on
/// 2016-03 and 2016-04, and the step is really taken.
#[test]
fn the_bounded_hsm_wait_of_the_relays_own_logs_is_a_step_of_timer_free() {
    for preset in [Preset::Mar2016, Preset::Apr2016, Preset::Proposed] {
        let config = RelayConfig {
            hsm_latency: 30,
            hsm_guard_timeout: 5,
            ..RelayConfig::fast(preset)
        };
        let jsonl = load(config, 1, 4, 100);
        let events = parse_jsonl(&jsonl).unwrap();
        let timed_out = events
            .iter()
            .filter(|e| e.kind == EventKind::HsmWaitTimedOut)
            .count();
        assert!(timed_out >= 1, "{preset}: the guard never ran out");
        let report = validate(&events, "timer-free", preset).unwrap();
        assert!(report.agrees(), "{preset}: {:#?}", report.divergence);
        assert!(report.mapped >= timed_out, "{preset}: {report:?}");
    }
}

/// Seeded driver schedules per preset and mechanism: the ones
/// `chukei reproduce --conformance` tries first. Each diverged before the
/// relay named the telegram of an ignored timeout notice (timer-free,
/// 2016-04 seed 3, proposed seed 1) and before irq-order read the relay's
/// bounded wait as `hsm-wait=may-expire` (2016-03 seed 1, 2016-04 seed 19,
/// proposed seed 1).
const DRIVER_SEEDS: u64 = 400;

/// `chukei validate` agrees with the relay's own logs on every preset: on
/// the deterministic driver, whose clock jumps let the HSM or the CPU thread
/// run later than the relay's bounded wait, every log stays inside the spec
/// of its preset (a 2016 relay reaches the spec's violation there, and
/// proposed reaches none).
#[test]
fn validate_agrees_with_the_relays_own_driver_logs_on_every_preset() {
    use relay::sim::Chooser;
    use scenarios::search::{run_schedule, CARDS, CLOCK_JUMP};
    let mut timed_out = 0;
    let mut failures = Vec::new();
    for preset in Preset::ALL {
        for cause in [Cause::StaleTimeout, Cause::IrqOrder] {
            for seed in 0..DRIVER_SEEDS {
                let chooser = Chooser::Seeded {
                    seed,
                    clock_jump: CLOCK_JUMP,
                };
                let run = run_schedule(cause, preset, CARDS, chooser);
                timed_out += run
                    .events
                    .iter()
                    .filter(|e| e.kind == EventKind::HsmWaitTimedOut)
                    .count();
                let spec = cause.spec().name();
                let report = validate(&run.events, spec, preset).unwrap();
                let at = format!("{spec} on {preset}, seed {seed}");
                if let Some(d) = &report.divergence {
                    failures.push(format!("{at}: {} ({})", d.reason, d.event));
                } else if preset == Preset::Proposed && !report.violations.is_empty() {
                    failures.push(format!("{at}: {:?}", report.violations));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The bounded wait really runs out on these schedules.
    assert!(timed_out >= 10, "{timed_out} bounded waits ran out");
}

/// The driver schedules beyond [`DRIVER_SEEDS`] (seeds 400 to 3000) whose
/// logs left timer-free before the map followed every result of a retried
/// telegram: the CS retries under the same telegram ID, so one ID can have
/// two abandoned HSM results (each dropped as stale), a result the board
/// computed after the next one's `hsm-done` was logged, or one a reset
/// dropped (`hsm-reset dropped=true`). 2016-03 seed 1037: the OS fired the
/// timer after the spec's AP had died.
const FAR_SCHEDULES: [(Preset, u64); 7] = [
    (Preset::Proposed, 1056),
    (Preset::Proposed, 1377),
    (Preset::Proposed, 1871),
    (Preset::Proposed, 2368),
    (Preset::Proposed, 2733),
    (Preset::Proposed, 2754),
    (Preset::Mar2016, 1037),
];

/// Each of [`FAR_SCHEDULES`] stays inside timer-free: proposed's logs
/// agree (the abandoned results of a retried telegram are skipped as
/// such), and 2016-03's reaches the spec's violation, unchecked after its
/// AP died.
#[test]
fn far_driver_schedules_of_retried_telegrams_refine_timer_free() {
    use relay::sim::Chooser;
    use scenarios::search::{run_schedule, CARDS, CLOCK_JUMP};
    let mut dropped = 0;
    for (preset, seed) in FAR_SCHEDULES {
        let chooser = Chooser::Seeded {
            seed,
            clock_jump: CLOCK_JUMP,
        };
        let run = run_schedule(Cause::StaleTimeout, preset, CARDS, chooser);
        dropped += run
            .events
            .iter()
            .filter(|e| e.kind == EventKind::HsmReset { dropped: true })
            .count();
        let report = validate(&run.events, "timer-free", preset).unwrap();
        let at = format!("{preset} seed {seed}");
        assert_eq!(report.divergence, None, "{at}");
        let abandoned = report.skipped_by_reason[&SkipReason::AbandonedRequest];
        assert!(abandoned >= 2, "{at}: {report:?}");
        if preset == Preset::Proposed {
            assert_eq!(report.verdict, Verdict::Agree, "{at}");
            assert!(report.violations.is_empty(), "{at}: {report:?}");
        } else {
            assert_eq!(report.verdict, Verdict::Incomplete, "{at}");
            assert_eq!(report.violations[0].property, "no_free_of_unallocated");
        }
    }
    // Resets dropped a result the board held on some of them.
    assert!(dropped >= 3, "{dropped} results dropped");
}

/// irq-order on 2016-04, seed 2500: the relay hands the board request r2
/// while the HSM still holds the result of r1, which the relay gave up on;
/// r2's own bounded wait runs out before the board takes it, and its reset
/// drops r1's result (`hsm-reset dropped=true`), after which the board
/// computes r2 anyway. The spec's board queue (`hsm-wait=may-expire`)
/// follows it; before it, the log left the spec at the board's `hsm-done`
/// of r2 (event 40). Read under the default `hsm-wait=in-time`, the log
/// leaves the spec where the relay first gives up on a live HSM.
#[test]
fn a_request_queued_behind_an_abandoned_one_refines_irq_order() {
    use relay::sim::Chooser;
    use scenarios::registry::validate_assuming;
    use scenarios::search::{run_schedule, CARDS, CLOCK_JUMP};
    let chooser = Chooser::Seeded {
        seed: 2500,
        clock_jump: CLOCK_JUMP,
    };
    let run = run_schedule(Cause::IrqOrder, Preset::Apr2016, CARDS, chooser);
    let dropped = run
        .events
        .iter()
        .position(|e| e.kind == EventKind::HsmReset { dropped: true });
    assert_eq!(dropped, Some(33));
    let report = validate(&run.events, "irq-order", Preset::Apr2016).unwrap();
    assert!(report.agrees(), "{:#?}", report.divergence);
    counts_add_up(&report);
    let in_time = BTreeMap::from([("hsm-wait".to_string(), "in-time".to_string())]);
    let strict = validate_assuming(&run.events, "irq-order", Preset::Apr2016, &in_time).unwrap();
    let d = strict.divergence.expect("the relay gives up on a live HSM");
    assert!(d.reason.contains("relay's bounded wait ends"), "{d:?}");
    assert!(d.index < 33, "{d:?}");
}

/// cs-block's workload in the spec's default sizes: 3 terminals, 2 cards
/// each, 2 in flight each, 2 connections.
const CS_LOAD: Load = Load {
    terminals: 3,
    cards_each: 2,
    in_flight: 2,
    limit: 2,
};

fn cs_block_log(preset: Preset, seed: u64) -> Vec<Event> {
    CS_LOAD
        .events(preset, Timeouts::AsInTheSpec, seed)
        .unwrap_or_else(|outcome| panic!("{preset} seed {seed}: {outcome:?}"))
}

/// A walk that went to the end accounts for every event.
fn counts_add_up(r: &Report) {
    if r.divergence.is_some() {
        return;
    }
    assert_eq!(r.mapped + r.checked + r.skipped, r.events, "{r:?}");
    assert_eq!(r.skipped_by_reason.values().sum::<usize>(), r.skipped);
}

/// The relay's own cs-block logs (relay admission, upstream and reply
/// events, the `cs` terminals' events) on the driver, 100 seeds a preset
/// (500 agreed when probed): code and spec agree on every one, the Legacy
/// logs too, read under `discarded-connections=held-until-answered` (the
/// relay holds a discarded telegram's connection until it answers it, and
/// may still register its card upstream). Under `freed` only 2 of 20
/// Legacy logs a preset agreed.
#[test]
fn cs_block_logs_agree_with_the_spec_on_every_preset() {
    let mut discarded = 0;
    for preset in Preset::ALL {
        for seed in 0..100 {
            let events = cs_block_log(preset, seed);
            let r = validate(&events, "cs-block", preset).unwrap();
            counts_add_up(&r);
            assert!(r.mapped >= 3, "{preset} seed {seed}: {r:?}");
            assert!(r.agrees(), "{preset} seed {seed}: {:#?}", r.divergence);
            // Nothing is skipped as abandoned: every discarded telegram's
            // processing and answer is a step of the spec.
            assert_eq!(r.skipped_by_reason.get(&SkipReason::AbandonedRequest), None);
            discarded += events
                .iter()
                .filter(|e| matches!(e.kind, EventKind::CsDiscarded { .. }))
                .count();
        }
    }
    // The Legacy logs do discard admitted telegrams: the held connections
    // were exercised, not avoided.
    assert!(discarded >= 100, "{discarded} discarded telegrams");
    // Pinned: 2016-01's seed 1 diverged under `freed` at cs-3's refusal
    // (event 11: the relay still held a discarded telegram's connection).
    let held = validate(
        &cs_block_log(Preset::Jan2016, 1),
        "cs-block",
        Preset::Jan2016,
    )
    .unwrap();
    assert!(held.agrees(), "{held:?}");
}

/// Edited cs-block logs diverge where the edit is: an admission past the
/// connection limit, and a terminal sending during its minute of blocking.
#[test]
fn an_edited_cs_block_log_diverges_where_it_was_edited() {
    // proposed, seed 0: a refusal turned into an admission.
    let mut past_limit = cs_block_log(Preset::Proposed, 0);
    let refused = past_limit
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::ConnectionExcess { .. }))
        .expect("a refusal");
    let EventKind::ConnectionExcess { cs, .. } = past_limit[refused].kind else {
        unreachable!()
    };
    let card = past_limit[..refused]
        .iter()
        .rev()
        .find_map(|e| match e.kind {
            EventKind::ChipWritten { card } | EventKind::CsRetry { card }
                if e.telegram == past_limit[refused].telegram =>
            {
                Some(card)
            }
            _ => None,
        })
        .expect("the refused telegram's card");
    past_limit[refused].kind = EventKind::Arrived { cs, card };
    let r = validate(&past_limit, "cs-block", Preset::Proposed).unwrap();
    counts_add_up(&r);
    let d = r.divergence.expect("an admission past the limit diverges");
    assert_eq!(d.index, refused, "{d:?}");
    assert!(d.reason.contains("does not allow"), "{}", d.reason);

    // 2016-01, seed 3 (agrees as logged): the terminal's first send after
    // its block moved into the block.
    let mut early = cs_block_log(Preset::Jan2016, 3);
    let (blocked, until) = early
        .iter()
        .enumerate()
        .find_map(|(i, e)| match e.kind {
            EventKind::CsBlocked { until } => Some((i, until)),
            _ => None,
        })
        .expect("a block");
    let terminal = early[blocked].thread;
    let send = (blocked..early.len())
        .find(|&i| {
            early[i].thread == terminal
                && matches!(
                    early[i].kind,
                    EventKind::CsRetry { .. } | EventKind::ChipWritten { .. }
                )
        })
        .expect("a send after the block");
    assert!(early[send].at >= until, "as logged, after the block");
    early[send].at = until - 1;
    let r = validate(&early, "cs-block", Preset::Jan2016).unwrap();
    let d = r.divergence.expect("a send during the block diverges");
    assert_eq!(d.index, send, "{d:?}");
    assert!(d.reason.contains("during its block"), "{}", d.reason);

    // 2016-01: a telegram its terminal discarded before the system
    // processed it, whose processing is cut from the log: the relay then
    // answers a held telegram the spec's system never processed.
    let (seed, mut unprocessed, upstream) = (0..100)
        .find_map(|seed| {
            let log = cs_block_log(Preset::Jan2016, seed);
            let upstream = log.iter().enumerate().position(|(i, e)| {
                matches!(e.kind, EventKind::UpstreamReply { .. })
                    && log[..i].iter().any(|d| {
                        d.telegram == e.telegram && matches!(d.kind, EventKind::CsDiscarded { .. })
                    })
            })?;
            Some((seed, log, upstream))
        })
        .expect("a discarded telegram processed after its discard");
    let telegram = unprocessed.remove(upstream).telegram;
    let reply = (upstream..unprocessed.len())
        .find(|&i| {
            unprocessed[i].telegram == telegram
                && matches!(unprocessed[i].kind, EventKind::Reply { .. })
        })
        .expect("the relay's answer to it");
    let r = validate(&unprocessed, "cs-block", Preset::Jan2016).unwrap();
    let d = r
        .divergence
        .expect("an answer to an unprocessed discarded telegram");
    assert_eq!(d.index, reply, "seed {seed}: {d:?}");
    assert!(d.reason.contains("does not allow"), "{}", d.reason);
}

/// Nothing passes unseen: an empty log and a log with no event of a
/// terminal or of the relay's admission (only the AP's and the HSM's) are
/// errors, not agreement.
#[test]
fn a_cs_block_log_with_nothing_to_check_is_an_error() {
    assert_eq!(
        validate(&[], "cs-block", Preset::Proposed),
        Err(ValidateError::Empty)
    );
    let not_cs: Vec<Event> = cs_block_log(Preset::Proposed, 0)
        .into_iter()
        .filter(|e| {
            !matches!(e.thread, ThreadName::Cs(_))
                && !matches!(
                    e.kind,
                    EventKind::Arrived { .. }
                        | EventKind::ConnectionExcess { .. }
                        | EventKind::UpstreamForward
                        | EventKind::UpstreamReply { .. }
                        | EventKind::Reply { .. }
                )
        })
        .collect();
    assert!(!not_cs.is_empty());
    assert!(matches!(
        validate(&not_cs, "cs-block", Preset::Proposed),
        Err(ValidateError::NothingChecked { .. })
    ));
}
