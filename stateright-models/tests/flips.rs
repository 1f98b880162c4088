//! Both directions of every verdict flip, one readable row each: every
//! assumption that flips a verdict (the other assumptions held), and the two
//! recorded variants against their base preset (the March guard alone, the
//! wrong epoch fix). Each row runs the checker on both sides; a second test
//! derives every flip from `scenarios/expectations.toml` and fails when one
//! has no row here, so a new flip needs a row saying why.

use model::assume::Assumptions;
use model::{SpecName, Verdict};
use patches::{Config, Preset};
use scenarios::expect::{expectations, Expectation};
use stateright_models::record::recorded;
use stateright_models::CheckRequest;
use std::collections::BTreeMap;

/// A configuration (`2016-04`, or a preset with one switch:
/// `proposed+timer_fix=epoch-uncleared`) under assumption overrides, and
/// what the checker says there: `holds`, or `violated` and the shortest
/// counterexample's length (`10`, `4+2` for a lasso).
struct Side {
    config: &'static str,
    assume: &'static [&'static str],
    says: &'static str,
}

/// One property whose verdict differs between two sides that differ in one
/// thing only: one assumption, or the configuration.
struct Flip {
    spec: SpecName,
    property: &'static str,
    from: Side,
    to: Side,
}

const fn side(config: &'static str, assume: &'static [&'static str], says: &'static str) -> Side {
    Side {
        config,
        assume,
        says,
    }
}

use SpecName::{CsBlock, IrqOrder, TimerFree};

const ONE: &str = "arrivals=one-terminal";
const FIFO: &str = "delivery=fifo";
const UNFAIR: &str = "fairness=none";
const ONCE: &str = "monitor-polls=once";
const WAIT_EXPIRES: &str = "hsm-wait=may-expire";
const CONTINUOUS: &str = "demand=continuous";
const GUARD_ALONE: &str = "2016-01+hsm_guard=error-on-interrupted";
const EPOCH_UNCLEARED: &str = "proposed+timer_fix=epoch-uncleared";
const FIRST_COME: &str = "proposed+admission=first-come";

#[rustfmt::skip]
const FLIPS: &[Flip] = &[
    // The April question, and the same on 2016-01/03 (no guard at all: the
    // stale notice hits the next telegram there too). One terminal that
    // waits for each reply sends its next telegram only after the stale
    // notice was queued; WM_TIMER's low priority still lets that telegram
    // be taken first (violated), FIFO delivery retrieves the notice while
    // nothing is allocated (holds).
    Flip { spec: TimerFree, property: "no_spurious_termination", from: side("2016-04", &[ONE], "violated 10"), to: side("2016-04", &[ONE, FIFO], "holds") },
    Flip { spec: TimerFree, property: "no_spurious_termination", from: side("2016-03", &[ONE], "violated 10"), to: side("2016-03", &[ONE, FIFO], "holds") },
    Flip { spec: TimerFree, property: "no_spurious_termination", from: side("2016-01", &[ONE], "violated 10"), to: side("2016-01", &[ONE, FIFO], "holds") },
    // ... and with several terminals the next telegram can be queued
    // before the stale notice, so FIFO delivery alone does not help.
    Flip { spec: TimerFree, property: "no_spurious_termination", from: side("2016-04", &[FIFO], "violated 10"), to: side("2016-04", &[FIFO, ONE], "holds") },
    Flip { spec: TimerFree, property: "no_spurious_termination", from: side("2016-03", &[FIFO], "violated 10"), to: side("2016-03", &[FIFO, ONE], "holds") },
    Flip { spec: TimerFree, property: "no_spurious_termination", from: side("2016-01", &[FIFO], "violated 10"), to: side("2016-01", &[FIFO, ONE], "holds") },
    // Without fairness the CPU may service only the monitor forever: the
    // fixed presets' request never completes (a 0+2 lasso) ...
    Flip { spec: IrqOrder, property: "hsm_request_completes", from: side("2016-04", &[], "holds"), to: side("2016-04", &[UNFAIR], "violated 0+2") },
    Flip { spec: IrqOrder, property: "hsm_request_completes", from: side("proposed", &[], "holds"), to: side("proposed", &[UNFAIR], "violated 0+2") },
    // ... which needs a monitor that polls again and again: one that polls
    // once cannot keep the CPU busy forever.
    Flip { spec: IrqOrder, property: "hsm_request_completes", from: side("2016-04", &[UNFAIR], "violated 0+2"), to: side("2016-04", &[UNFAIR, ONCE], "holds") },
    Flip { spec: IrqOrder, property: "hsm_request_completes", from: side("proposed", &[UNFAIR], "violated 0+2"), to: side("proposed", &[UNFAIR, ONCE], "holds") },
    // A bounded wait that may run out while the HSM still answers
    // (`hsm-wait=may-expire`, what the driver's clock jumps produce) answers
    // that request with an error: with the guard, no design completes a
    // request whose HSM is slower than the bound. `relay_never_hangs`, the
    // property the guard is for, still holds.
    Flip { spec: IrqOrder, property: "hsm_request_completes", from: side("2016-03", &[], "holds"), to: side("2016-03", &[WAIT_EXPIRES], "violated 6") },
    Flip { spec: IrqOrder, property: "hsm_request_completes", from: side("2016-04", &[], "holds"), to: side("2016-04", &[WAIT_EXPIRES], "violated 6+2") },
    Flip { spec: IrqOrder, property: "hsm_request_completes", from: side("proposed", &[], "holds"), to: side("proposed", &[WAIT_EXPIRES], "violated 6+2") },
    // Logical mode with a periodic monitor loses the interrupt in a cycle
    // (`hsm_request_completes` catches it); polling once, it ends in a
    // terminal state where the relay still waits.
    Flip { spec: IrqOrder, property: "no_deadlock", from: side("2016-01", &[], "holds"), to: side("2016-01", &[ONCE], "violated 4") },
    // The March guard alone ends the hang (its bounded wait always wakes
    // the relay), with a periodic monitor and with one that polls once;
    // the request is still lost (`hsm_request_completes` stays violated:
    // `the_march_guard_unhangs_the_relay_but_loses_the_request`).
    Flip { spec: IrqOrder, property: "relay_never_hangs", from: side("2016-01", &[], "violated 4"), to: side(GUARD_ALONE, &[], "holds") },
    Flip { spec: IrqOrder, property: "no_deadlock", from: side("2016-01", &[ONCE], "violated 4"), to: side(GUARD_ALONE, &[ONCE], "holds") },
    // The wrong epoch fix: the finished telegram's own notice still
    // matches its uncleared generation, and termination frees a work area
    // no longer allocated (the stale-notice question it still answers).
    Flip { spec: TimerFree, property: "no_free_of_unallocated", from: side("proposed", &[], "holds"), to: side(EPOCH_UNCLEARED, &[], "violated 8") },
    Flip { spec: TimerFree, property: "exactly_one_reply", from: side("proposed", &[], "holds"), to: side(EPOCH_UNCLEARED, &[], "violated 8") },
    Flip { spec: TimerFree, property: "no_deadlock", from: side("proposed", &[], "holds"), to: side(EPOCH_UNCLEARED, &[], "violated 9") },
    Flip { spec: TimerFree, property: "telegrams_finish", from: side("proposed", &[], "holds"), to: side(EPOCH_UNCLEARED, &[], "violated 8") },
    // Continuous demand with the deployed first-come admission: a rejected
    // card retries only when a connection is free, the other CSs' new cards
    // take every freed connection first, and weak fairness never forces the
    // retry ...
    Flip { spec: CsBlock, property: "no_cs_starves", from: side(FIRST_COME, &[], "holds"), to: side(FIRST_COME, &[CONTINUOUS], "violated 3+17") },
    Flip { spec: CsBlock, property: "card_finishes", from: side(FIRST_COME, &[], "holds"), to: side(FIRST_COME, &[CONTINUOUS], "violated 3+17") },
    Flip { spec: CsBlock, property: "cs_keeps_issuing", from: side(FIRST_COME, &[], "holds"), to: side(FIRST_COME, &[CONTINUOUS], "violated 3+17") },
    // ... which proposed's oldest-retry-first admission fixes: a freed
    // connection is held for the oldest refused CS, so its retry stays
    // enabled until taken and weak fairness forces it.
    Flip { spec: CsBlock, property: "no_cs_starves", from: side("proposed", &[CONTINUOUS], "holds"), to: side(FIRST_COME, &[CONTINUOUS], "violated 3+17") },
    Flip { spec: CsBlock, property: "card_finishes", from: side("proposed", &[CONTINUOUS], "holds"), to: side(FIRST_COME, &[CONTINUOUS], "violated 3+17") },
    Flip { spec: CsBlock, property: "cs_keeps_issuing", from: side("proposed", &[CONTINUOUS], "holds"), to: side(FIRST_COME, &[CONTINUOUS], "violated 3+17") },
    // Without fairness, under continuous demand, a CS that is never
    // scheduled issues nothing, whatever the admission order: fairness is
    // what makes progress possible (finite demand ends regardless) ...
    Flip { spec: CsBlock, property: "accepted_request_answered", from: side("proposed", &[UNFAIR], "holds"), to: side("proposed", &[UNFAIR, CONTINUOUS], "violated 1+24") },
    Flip { spec: CsBlock, property: "no_cs_starves", from: side("proposed", &[UNFAIR], "holds"), to: side("proposed", &[UNFAIR, CONTINUOUS], "violated 5+21") },
    Flip { spec: CsBlock, property: "card_finishes", from: side("proposed", &[UNFAIR], "holds"), to: side("proposed", &[UNFAIR, CONTINUOUS], "violated 1+24") },
    Flip { spec: CsBlock, property: "cs_keeps_issuing", from: side("proposed", &[UNFAIR], "holds"), to: side("proposed", &[UNFAIR, CONTINUOUS], "violated 0+22") },
    Flip { spec: CsBlock, property: "accepted_request_answered", from: side(FIRST_COME, &[UNFAIR], "holds"), to: side(FIRST_COME, &[UNFAIR, CONTINUOUS], "violated 1+19") },
    // ... and the same seen from the fairness side.
    Flip { spec: CsBlock, property: "accepted_request_answered", from: side("proposed", &[CONTINUOUS], "holds"), to: side("proposed", &[CONTINUOUS, UNFAIR], "violated 1+24") },
    Flip { spec: CsBlock, property: "no_cs_starves", from: side("proposed", &[CONTINUOUS], "holds"), to: side("proposed", &[CONTINUOUS, UNFAIR], "violated 5+21") },
    Flip { spec: CsBlock, property: "card_finishes", from: side("proposed", &[CONTINUOUS], "holds"), to: side("proposed", &[CONTINUOUS, UNFAIR], "violated 1+24") },
    Flip { spec: CsBlock, property: "cs_keeps_issuing", from: side("proposed", &[CONTINUOUS], "holds"), to: side("proposed", &[CONTINUOUS, UNFAIR], "violated 0+22") },
    Flip { spec: CsBlock, property: "accepted_request_answered", from: side(FIRST_COME, &[CONTINUOUS], "holds"), to: side(FIRST_COME, &[CONTINUOUS, UNFAIR], "violated 1+19") },
];

fn config(name: &str) -> Config {
    let (preset, patch) = name
        .split_once('+')
        .map_or((name, None), |(p, s)| (p, Some(s)));
    let preset: Preset = preset.parse().unwrap();
    let patches: Vec<String> = patch.into_iter().map(str::to_string).collect();
    Config::with_patches(preset, &patches).unwrap()
}

fn overrides(assume: &[&str]) -> BTreeMap<String, String> {
    assume
        .iter()
        .map(|item| {
            let (k, v) = item.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// What the checker says about `property` on one side.
fn says(spec: SpecName, property: &str, side: &Side) -> String {
    let results = CheckRequest::new(spec, config(side.config))
        .assuming(&overrides(side.assume))
        .property(Some(property))
        .run(&mut |_| {})
        .unwrap();
    let r = &results[0];
    match (r.verdict, r.counterexample_len, r.cycle_start) {
        (Verdict::Violated, Some(n), Some(k)) => format!("violated {k}+{}", n - k),
        (Verdict::Violated, Some(n), None) => format!("violated {n}"),
        (verdict, _, _) => verdict.to_string(),
    }
}

/// What one flip changes: `assumption name` or `config`.
fn changed(flip: &Flip) -> String {
    let (a, b) = (overrides(flip.from.assume), overrides(flip.to.assume));
    let mut names: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    names.dedup();
    match (flip.from.config == flip.to.config, names.as_slice()) {
        (true, [one]) => one.to_string(),
        (false, []) => "config".to_string(),
        _ => panic!(
            "{} {}: the sides differ in more than one thing",
            flip.spec, flip.property
        ),
    }
}

#[test]
fn every_flip_holds_in_both_directions() {
    for flip in FLIPS {
        let what = changed(flip);
        let (from, to) = (
            says(flip.spec, flip.property, &flip.from),
            says(flip.spec, flip.property, &flip.to),
        );
        let row = format!(
            "{} {} ({what}): {} {:?} -> {} {:?}",
            flip.spec,
            flip.property,
            flip.from.config,
            flip.from.assume,
            flip.to.config,
            flip.to.assume
        );
        assert_eq!(
            (from.as_str(), to.as_str()),
            (flip.from.says, flip.to.says),
            "{row}"
        );
        assert_ne!(
            from.split(' ').next(),
            to.split(' ').next(),
            "{row}: no flip"
        );
    }
}

/// Every (spec, configuration, property, assumption) whose verdict differs
/// between two settings that differ in that assumption only, and every
/// (spec, variant, property) whose verdict differs from the variant's base
/// preset under the same setting, from the recorded verdicts.
fn flips_in_the_data() -> Vec<String> {
    let all = expectations();
    let find = |spec: SpecName,
                patches: &patches::Patches,
                setting: &Assumptions|
     -> Option<&Expectation> {
        all.iter()
            .find(|e| e.spec == spec && e.config.patches == *patches && e.assumptions == *setting)
    };
    let mut found = Vec::new();
    for r in recorded() {
        for e in all
            .iter()
            .filter(|e| e.spec == r.spec && e.config.patches == r.config.patches)
        {
            for (property, verdict) in &e.verdicts {
                for a in r.spec.assumption_params() {
                    for value in a.values {
                        let mut other = e.assumptions.clone();
                        other.insert(a.name.to_string(), value.to_string());
                        let flips = find(r.spec, &r.config.patches, &other)
                            .and_then(|o| o.verdicts.get(property))
                            .is_some_and(|v| v != verdict);
                        if flips {
                            found.push(format!(
                                "{} {} {property} {}",
                                r.spec,
                                plain_name(&r.config),
                                a.name
                            ));
                        }
                    }
                }
                if r.variant.is_some() {
                    let base = r.config.base.patches();
                    let flips = find(r.spec, &base, &e.assumptions)
                        .and_then(|o| o.verdicts.get(property))
                        .is_some_and(|v| v != verdict);
                    if flips {
                        found.push(format!("{} {} {property} config", r.spec, r.config.base));
                    }
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// A configuration named by its preset and switches (a variant's own name
/// set aside), as the rows name it.
fn plain_name(c: &Config) -> String {
    let switches: Vec<String> = c
        .patches
        .diff(&c.base.patches())
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Config::with_patches(c.base, &switches).unwrap().name()
}

#[test]
fn every_flip_in_the_recorded_verdicts_has_a_row() {
    let pinned: Vec<String> = FLIPS
        .iter()
        .map(|f| {
            let what = changed(f);
            let at = if what == "config" {
                f.from.config.to_string()
            } else {
                plain_name(&config(f.from.config))
            };
            format!("{} {at} {} {what}", f.spec, f.property)
        })
        .collect();
    let missing: Vec<String> = flips_in_the_data()
        .into_iter()
        .filter(|f| !pinned.contains(f))
        .collect();
    assert!(
        missing.is_empty(),
        "flips without a row in FLIPS (add one, with why):\n{}",
        missing.join("\n")
    );
}
