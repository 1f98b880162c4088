//! The simulated day: determinism per seed, the CS rules' signatures, the
//! root-cause faults, and the calibration against the published days.

use patches::{CsRule, Preset};
use simulate::params::{self, Faults, Params};
use simulate::{run_day, run_seeds, Calibration, Summary};

/// 29 Mar at a tenth of its demand and of its facility: the same shape,
/// 70k telegrams, a tenth of a second.
fn small_day() -> Params {
    let mut p = params::mar_29().params;
    p.demand.cards /= 10.0;
    p.demand.moves_per_10min /= 10.0;
    p.terminals.cs_count /= 10;
    p
}

/// The small day with a tenth of the connections: overloaded at the peaks.
fn small_overloaded_day() -> Params {
    let mut p = small_day();
    p.facility.max_connections = 7;
    p
}

#[test]
fn a_seed_is_one_day_and_another_seed_another() {
    let p = small_overloaded_day();
    let first = run_day(p, 42);
    assert_eq!(first, run_day(p, 42), "same seed, same day");
    assert!(
        first.connection_excess > 0,
        "the day has excess answers to compare"
    );
    let other = run_day(p, 43);
    assert_ne!(
        (first.requests, first.connection_excess),
        (other.requests, other.connection_excess),
        "another seed is another day"
    );
}

#[test]
fn seeds_in_parallel_are_the_seeds_one_by_one() {
    let p = small_day();
    let parallel = run_seeds(p, 5, 3);
    let serial: Vec<_> = (5..8).map(|seed| run_day(p, seed)).collect();
    assert_eq!(parallel, serial);
}

#[test]
fn every_applicant_is_issued_a_card_or_still_waiting_or_being_served() {
    let p = small_overloaded_day();
    let d = run_day(p, 1);
    let windows = (p.terminals.cs_count * p.terminals.windows_per_cs) as u64;
    let accounted = d.cards_issued + d.unserved;
    let counts = (d.applicants, d.cards_issued, d.unserved);
    assert!(accounted <= d.applicants, "{counts:?}");
    assert!(
        d.applicants - accounted <= windows,
        "at most one card per window in progress: {counts:?}"
    );
    assert!(d.requests <= d.sent, "only sent telegrams reach upstream");
    assert!(d.processed <= d.requests);
}

#[test]
fn the_legacy_rule_blocks_and_leaves_inconsistent_cards_where_the_improved_rule_does_not() {
    let legacy = Summary::of(&run_seeds(
        small_overloaded_day().with_rule(CsRule::Legacy),
        1,
        2,
    ));
    let improved = Summary::of(&run_seeds(
        small_overloaded_day().with_rule(CsRule::Improved),
        1,
        2,
    ));
    assert!(legacy.connection_excess.mean > 0.0);
    assert!(legacy.blocked_cs_minutes.mean > 0.0);
    assert!(
        legacy.inconsistencies.mean > 0.0,
        "discarded registrations that reached the system"
    );
    assert_eq!(improved.blocked_cs_minutes.mean, 0.0);
    assert_eq!(improved.inconsistencies.mean, 0.0);
    assert!(
        improved.connection_excess.mean > 0.0,
        "the same overload is refused..."
    );
    assert!(
        improved.cards_issued.mean >= legacy.cards_issued.mean,
        "...but costs no cards: {} improved, {} legacy",
        improved.cards_issued.mean,
        legacy.cards_issued.mean
    );
}

#[test]
fn an_unguarded_hsm_hang_stops_a_relay_and_its_connections_fill() {
    let mut hung = small_day();
    hung.faults = Faults {
        hsm_hangs_per_relay_day: 3.0,
        ap_aborts_per_relay_day: 0.0,
        ..Faults::of(Preset::Jan2016.patches())
    };
    let healthy = run_day(small_day(), 3);
    let d = run_day(hung, 3);
    assert!(d.hsm_hangs > 0);
    assert!(
        d.connection_excess > healthy.connection_excess + 100,
        "{} vs {}",
        d.connection_excess,
        healthy.connection_excess
    );
    assert!(d.lost > 0, "a restart loses what the hung relay held");
    let mut guarded = hung;
    guarded.faults.hsm_guard = true;
    let g = run_day(guarded, 3);
    assert!(
        g.hsm_errors > 0,
        "the bounded wait answers an error instead"
    );
    assert_eq!(g.lost, 0, "and the relay keeps serving");
}

#[test]
fn fault_rates_follow_the_switches() {
    let jan = Faults::of(Preset::Jan2016.patches());
    assert!(jan.hsm_hangs_per_relay_day > 0.0 && jan.ap_aborts_per_relay_day > 0.0);
    let apr = Faults::of(Preset::Apr2016.patches());
    assert_eq!(
        (apr.hsm_hangs_per_relay_day, apr.ap_aborts_per_relay_day),
        (0.0, 0.0)
    );
}

/// The acceptance: both published days within 10% on requests and
/// a factor 2 on connection-excess answers, here on seeds 1..=4 to stay
/// fast (`chukei simulate` runs 8 by default), and the predictions move
/// the right way.
#[test]
fn both_published_days_are_reproduced_and_94_connections_cut_the_excess() {
    let mut as_it_was = None;
    for day in params::calibration_days() {
        let c = Calibration::new(day, Summary::of(&run_seeds(day.params, 1, 4)));
        assert!(
            c.within_bounds,
            "{}: requests x{:.3}, excess x{:.2}",
            day.name, c.requests_ratio, c.excess_ratio
        );
        if day.name == "29-mar" {
            as_it_was = Some(c.simulated);
        }
    }
    let before = as_it_was.expect("29 Mar is a calibration day");
    let [base, more_connections, _] = params::predictions();
    assert_eq!(
        base.params,
        params::mar_29().params,
        "predictions start from 29 Mar"
    );
    let after = Summary::of(&run_seeds(more_connections.params, 1, 1));
    assert!(after.connection_excess.mean < before.connection_excess.mean / 10.0);
    assert!(after.peak_processed_per_10min.mean >= before.peak_processed_per_10min.mean);
}

#[test]
fn the_plot_is_an_svg_with_four_panels_and_both_rules() {
    let legacy = run_day(small_overloaded_day(), 1).series;
    let improved = run_day(small_overloaded_day().with_rule(CsRule::Improved), 1).series;
    let svg = simulate::plot::day_svg("small day", &legacy, &improved).expect("draws");
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    for text in [
        "small day",
        "upstream requests per 10 min",
        "connection-excess answers per 10 min",
        "blocked CS-minutes per 10 min",
        "inconsistent cards per 10 min",
        "legacy rule",
        "improved rule",
    ] {
        assert!(svg.contains(text), "the plot shows {text:?}");
    }
}
