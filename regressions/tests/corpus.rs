//! Every trace in `regressions/corpus/` replays with its recorded verdict,
//! deterministically, on what it was recorded against: spec actions on the
//! model, driver and shuttle schedules on the real relay. The fixed presets
//! survive the same schedules.

use loom_tests::explore::{decode_schedule, encode_schedule, ScheduleStep};
use model::{Schedule, SpecName, Trace, Verdict};
use patches::Config;
use patches::Preset;
use regressions::{corpus, judge, judge_on, replay, Outcome};
use relay::events::EventKind;
use relay::sim::{Choice, Chooser};
use scenarios::search::{run_schedule, Cause};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn corpus() -> Vec<(PathBuf, Trace)> {
    corpus::all().expect("the corpus reads")
}

fn kind(trace: &Trace) -> &'static str {
    match trace.schedule {
        Schedule::Actions { .. } => "actions",
        Schedule::Driver { .. } => "driver",
        Schedule::Shuttle { .. } => "shuttle",
        Schedule::Loom { .. } => "loom",
    }
}

#[test]
fn the_corpus_holds_every_kind_under_one_naming_scheme() {
    let traces = corpus();
    let count = |k: &str| traces.iter().filter(|(_, t)| kind(t) == k).count();
    // At least what it started with: proptest's two shrinks, reproduce's
    // six findings, shuttle's four (`chukei corpus add` adds more).
    assert!(count("actions") >= 2, "spec-action traces");
    assert!(count("driver") >= 6, "driver traces");
    assert!(count("shuttle") >= 4, "shuttle traces");
    assert!(count("loom") >= 1, "loom checkpoints");
    for (path, trace) in &traces {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(name, corpus::file_name(trace), "{}", path.display());
        assert!(trace.spec.parse::<model::SpecName>().is_ok(), "{name}");
    }
    // Every trace, and only those, has its outcome on the fix recorded.
    let on_fix = corpus::read_on_fix(&corpus::dir()).expect("on-fix.toml reads");
    let names: Vec<String> = traces
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        on_fix.keys().cloned().collect::<Vec<_>>(),
        names,
        "regressions/corpus/on-fix.toml lists every trace file"
    );
}

/// Each trace's timeline is an insta snapshot
/// (`regressions/corpus/snapshots/NAME.snap`, written by `chukei corpus
/// add`), so a changed timeline shows as a reviewable diff.
#[test]
fn every_trace_timeline_is_a_snapshot() {
    for (path, trace) in corpus() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        insta::with_settings!({
            snapshot_path => corpus::snapshot_dir(&corpus::dir()),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(
                corpus::snapshot_name(&file),
                corpus::timeline_snapshot(&trace)
            );
        });
    }
}

#[test]
fn every_stored_trace_replays_with_its_verdict() {
    for (path, trace) in corpus() {
        let judged = judge(&trace, None);
        assert_eq!(
            judged.outcome,
            Outcome::expected_for(trace.verdict),
            "{}",
            path.display()
        );
        let first = judged.replayed.expect("a run");
        assert_eq!(first.fit.misfit(), None, "{}", path.display());
        if kind(&trace) == "actions" {
            continue;
        }
        // The same schedule, the same run, event for event, and the timeline
        // stored with the trace is the replayed run's.
        let again = replay(&trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            first,
            again,
            "{}: replay is not deterministic",
            path.display()
        );
        assert_eq!(first.timeline, trace.timeline, "{}", path.display());
    }
}

/// The stored relay runs show the symptom their property names.
#[test]
fn every_relay_trace_shows_its_symptom() {
    for (path, trace) in corpus() {
        if kind(&trace) == "actions" {
            continue;
        }
        let events = replay(&trace).expect("replays").events;
        let shown = match trace.property.as_str() {
            "no_free_of_unallocated" => events
                .iter()
                .any(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. })),
            "no_spurious_termination" => {
                !scenarios::timer_free::spurious_terminations(&events).is_empty()
            }
            "relay_never_hangs" => scenarios::irq_order::shows_lost_completion_notice(&events),
            other => panic!("{}: no symptom for `{other}`", path.display()),
        };
        assert!(shown, "{}", path.display());
    }
}

/// The shrunk proptest sequences reach the violation with their last step,
/// and the permanent fixes hold on every one that is possible on them.
#[test]
fn the_permanent_fixes_survive_the_kept_spec_schedules() {
    let mut replayed = 0;
    for (path, trace) in corpus() {
        if kind(&trace) != "actions" {
            continue;
        }
        let outcome = model::replay_trace(&trace).expect("replays");
        assert_eq!(
            outcome.witness,
            Some(outcome.states.len() - 1),
            "{}: the violation is reached by the last step, not before",
            path.display()
        );
        replayed += 1;
    }
    assert_eq!(replayed, 2, "the two proptest shrinks");
}

/// Both directions for every trace: it reproduces on its own configuration
/// (`every_stored_trace_replays_with_its_verdict`) and replays `fixed` on a
/// configuration that fixes it: one of its fixing preset's switches set
/// alone (`corpus::fixing_configs`: the allocation check, the epoch, the
/// bounded HSM wait), where the schedule walks the same code up to the
/// fix. Elsewhere a schedule can be stale instead: a thread it names is
/// not runnable there (2016-03 stops the monitor, whose thread an
/// irq-order schedule names, so `monitor=off` alone and 2016-03 are stale
/// for the driver and proptest ones; 2016-04 starts it again beside a
/// 2016-03 schedule; `proposed` also changes the CS rule and admission). What each shows is pinned in
/// `regressions/corpus/on-fix.toml`: a change from "fixed" to "reproduced"
/// is a regression, from "fixed" to "stale" a schedule to record again.
#[test]
fn every_stored_trace_is_fixed_on_the_configuration_that_fixes_it() {
    let on_fix = corpus::read_on_fix(&corpus::dir()).expect("on-fix.toml reads");
    for (path, trace) in &corpus() {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(trace.verdict, Verdict::Violated, "{name}: a bug");
        let recorded = on_fix.get(name.as_ref()).cloned().unwrap_or_default();
        let fixes = corpus::fixing_configs(trace);
        let names: BTreeSet<String> = fixes.iter().map(Config::name).collect();
        assert_eq!(
            recorded.keys().cloned().collect::<BTreeSet<_>>(),
            names,
            "{name}: every configuration that fixes it, and only those, is recorded"
        );
        let switches: Vec<&Config> = fixes
            .iter()
            .filter(|c| c.patches.preset().is_none())
            .collect();
        assert!(
            switches.iter().any(|fix| recorded[&fix.name()] == "fixed"),
            "{name}: fixed on none of its fixing switches {switches:?}"
        );
        for (config, expected) in &recorded {
            assert!(
                ["fixed", "stale"].contains(&expected.as_str()),
                "{name}: {expected}"
            );
            let fix = corpus::config_named(config).expect("a configuration name");
            let judged = judge_on(trace, Some(&fix));
            if fix.patches.preset().is_some() {
                assert_eq!(judged.expected, Verdict::Holds, "{name} on {config}");
            }
            assert_eq!(
                judged.outcome.name(),
                expected,
                "{name} on {config}: {:?}",
                judged.outcome
            );
        }
    }
}

fn stored(prefix: &str) -> Trace {
    corpus()
        .into_iter()
        .find(|(p, _)| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("a stored {prefix} trace"))
}

fn stale_reason(trace: &Trace) -> String {
    match judge(trace, None).outcome {
        Outcome::Stale(reason) => reason,
        other => panic!("expected stale, got {other:?}"),
    }
}

/// A driver schedule edited so it no longer fits the relay: a choice names
/// a thread that is not runnable, or choices are left over at the end.
#[test]
fn an_edited_driver_schedule_is_stale_not_holds() {
    let trace = stored("reproduce-timer-free-2016-01-no_free_of_unallocated");
    let Schedule::Driver { choices } = &trace.schedule else {
        panic!("a driver trace")
    };
    let mut absent = trace.clone();
    let mut edited = choices.clone();
    edited[3] = serde_json::json!(42);
    absent.schedule = Schedule::Driver { choices: edited };
    let reason = stale_reason(&absent);
    assert!(reason.contains("runs 42"), "{reason}");

    // Every choice the run makes, then five more: the run ends first.
    let parsed: Vec<Choice> = serde_json::from_value(serde_json::json!(choices)).unwrap();
    let cause = Cause::of(SpecName::TimerFree, &trace.property).unwrap();
    let run = run_schedule(cause, trace.preset, 3, Chooser::Replay(parsed));
    let mut longer: Vec<serde_json::Value> = run
        .report
        .choices
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    longer.extend(std::iter::repeat_n(serde_json::json!(0), 5));
    let mut too_long = trace.clone();
    too_long.schedule = Schedule::Driver { choices: longer };
    let reason = stale_reason(&too_long);
    assert!(reason.contains("the run ended after"), "{reason}");
}

/// A shuttle schedule edited so a step names another task.
#[test]
fn an_edited_shuttle_schedule_is_stale_not_holds() {
    let trace = stored("shuttle-random-irq-order");
    let Schedule::Shuttle { schedule } = &trace.schedule else {
        panic!("a shuttle trace")
    };
    let mut steps = decode_schedule(schedule).expect("decodes");
    // A task that does not exist in place of the second step.
    steps.steps[1] = ScheduleStep::Task(99usize.into());
    let mut edited = trace.clone();
    edited.schedule = Schedule::Shuttle {
        schedule: encode_schedule(&steps),
    };
    let reason = stale_reason(&edited);
    assert!(reason.contains("step 1 runs task 99"), "{reason}");
}

/// A trace labelled "holds" must show a whole run: with an empty or cut
/// schedule it is stale, never a pass.
#[test]
fn a_holds_trace_with_a_short_schedule_is_stale() {
    for prefix in [
        "reproduce-timer-free-2016-01-no_free",
        "proptest-timer-free",
    ] {
        let mut claim = stored(prefix);
        claim.verdict = Verdict::Holds;
        claim.set_config(&Preset::Apr2016.into());
        match &mut claim.schedule {
            Schedule::Driver { choices } => choices.clear(),
            Schedule::Actions { actions, .. } => actions.truncate(3),
            Schedule::Shuttle { .. } | Schedule::Loom { .. } => unreachable!(),
        }
        let reason = stale_reason(&claim);
        assert!(reason.contains("claims `holds`"), "{prefix}: {reason}");
    }
}

/// An action the spec does not enable is stale; a file that is not a trace
/// is unreadable; neither is "holds".
#[test]
fn illegal_actions_are_stale_and_bad_files_unreadable() {
    let mut trace = stored("proptest-timer-free");
    if let Schedule::Actions { actions, .. } = &mut trace.schedule {
        actions.swap(0, 1);
    }
    assert!(stale_reason(&trace).contains("not enabled"));
    let mut unknown = stored("proptest-timer-free");
    unknown.property = "no_such_property".into();
    assert!(matches!(
        judge(&unknown, None).outcome,
        Outcome::Unreadable(_)
    ));
}

/// A loom path edited so it no longer fits the relay: the timer's switch
/// (the one preemption the race needs) names the CS's thread, which waits
/// for its answer there; or a thread-switch branch point becomes a branch
/// of another kind. Both are stale, never holds; a path loom cannot read
/// is unreadable.
#[test]
fn an_edited_loom_path_is_stale_not_holds() {
    let trace = stored("loom-timer-free-2016-01-no_free_of_unallocated");
    let edit = |change: &dyn Fn(&mut Vec<serde_json::Value>)| {
        let mut edited = trace.clone();
        let Schedule::Loom { path } = &mut edited.schedule else {
            panic!("a loom trace")
        };
        let entries = path["branches"]["entries"].as_array_mut().unwrap();
        change(entries);
        edited
    };
    let blocked = edit(&|entries| {
        let last = entries.iter().rposition(|e| e.get("Schedule").is_some());
        let threads = &mut entries[last.unwrap()]["Schedule"]["threads"];
        assert_eq!(threads[2], "Active", "the timer fires last");
        assert_eq!(threads[0], "Disabled", "the CS waits for its answer");
        threads[2] = "Disabled".into();
        threads[0] = "Active".into();
    });
    let reason = stale_reason(&blocked);
    assert!(
        reason.contains("switches to thread 0, which waits on a condition variable"),
        "{reason}"
    );
    let other_kind = edit(&|entries| {
        entries[3] = serde_json::json!({"Spurious": {"spur": false, "exploring": true}});
    });
    let reason = stale_reason(&other_kind);
    assert!(reason.contains("unexpected exploration state"), "{reason}");
    let unreadable = edit(&|entries| entries[3] = serde_json::json!({"Schedule": "x"}));
    assert!(matches!(
        judge(&unreadable, None).outcome,
        Outcome::Unreadable(r) if r.contains("loom could not load the path")
    ));
}

/// A loom path switched onto a thread that waits on a condition variable
/// (the CS for its answer, the worker for its next telegram) is stale on
/// its own configuration and on every fix. Loom resumes such a thread
/// anyway (its wait returns and the relay's `Lock::wait` waits again), so
/// before `loom_tests::loom_fit` these paths reproduced on 2016-01 (the CS
/// switched in while the worker handles the second telegram: the run
/// goes on to the same violation) and read `fixed` on
/// `2016-01+timer_fix=alloc-guard` and 2016-04.
#[test]
fn a_loom_path_switched_onto_a_waiting_thread_is_stale_everywhere() {
    let trace = stored("loom-timer-free-2016-01-no_free_of_unallocated");
    let Schedule::Loom { path } = &trace.schedule else {
        panic!("a loom trace")
    };
    let entries = path["branches"]["entries"].as_array().unwrap();
    // Null where the branch is no thread switch (an atomic load).
    let schedule = |i: usize| entries[i]["Schedule"]["threads"].clone();
    // The second telegram: the worker runs (1), the CS waits for its
    // answer (0 disabled). The first telegram's reply: the CS runs, the
    // worker waits for mail (1 disabled).
    let cs_waits = (35..45).find(|&i| schedule(i)[0] == "Disabled" && schedule(i)[1] == "Active");
    let worker_waits =
        (30..35).find(|&i| schedule(i)[1] == "Disabled" && schedule(i)[0] == "Active");
    let fixes = [
        None,
        corpus::config_named("2016-01+timer_fix=alloc-guard"),
        Some(Preset::Apr2016.into()),
    ];
    for (at, from, to) in [(cs_waits, 1, 0), (worker_waits, 0, 1)] {
        let at = at.expect("the branch the comment names");
        let mut edited = trace.clone();
        let Schedule::Loom { path } = &mut edited.schedule else {
            unreachable!()
        };
        let threads = &mut path["branches"]["entries"][at]["Schedule"]["threads"];
        threads[from] = "Skip".into();
        threads[to] = "Active".into();
        for config in &fixes {
            let outcome = judge_on(&edited, config.as_ref()).outcome;
            let Outcome::Stale(reason) = &outcome else {
                panic!("branch {at}, {from} -> {to} on {config:?}: {outcome:?}")
            };
            let expected = format!("thread {to}, which waits on a condition variable");
            assert!(reason.contains(&expected), "{reason}");
        }
    }
}
