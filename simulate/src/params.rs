//! What a simulated day is made of, and where each number comes from.
//!
//! Every parameter is one of three kinds, and its doc comment says which:
//! **fact** (`/work/shared/INCIDENT.md`, the published review), **assumed**
//! (a modelling choice the facts do not fix, kept the same on every day and
//! in every prediction), or **fitted** (chosen so that the two published
//! days come out right; [`FITTED`] lists them). Predictions change only the
//! facility (connections, HSM boards) and never refit.

use patches::{CsRule, HsmGuard, IrqMode, Monitor, Patches, Preset, TimerFix};
use serde::Serialize;

/// Microseconds since 08:00 of the simulated day.
pub type Micros = u64;

pub const SECOND: Micros = 1_000_000;
pub const MINUTE: Micros = 60 * SECOND;

/// The simulated day starts at 08:00 and ends at 18:30 (630 minutes).
pub const DAY_MINUTES: usize = 630;

/// Offices open at 08:30 and close at 17:15 (assumed: municipal hours).
pub const OPEN: Micros = 30 * MINUTE;
pub const CLOSE: Micros = (9 * 60 + 15) * MINUTE;

/// Relative applicant arrival rate per half hour from 08:30 (the last slot
/// is the quarter hour to 17:15). Shape from the facts: weekday peaks
/// 9:30-12:00 and around 14:00; the heights are assumed.
pub const HALF_HOUR_WEIGHTS: [f64; 18] = [
    0.6, 0.9, // 08:30, 09:00
    1.5, 1.6, 1.6, 1.5, 1.4, // 09:30 .. 12:00: morning peak
    0.7, 0.8, // 12:00 lunch
    1.2, 1.5, 1.3, // 13:30 .. 15:00: around 14:00
    1.0, 1.0, 0.9, 0.8, 0.6, // 15:00 .. 17:30
    0.4, // 17:00 .. 17:15
];

/// The relay facility: what the predictions change.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Facility {
    /// Relay servers behind the round-robin distributor (fact: 2, later 4).
    pub relays: u32,
    /// Connections each relay admits; one more is answered connection
    /// excess (fact: 70, later 94).
    pub max_connections: u32,
    /// HSM boards per relay (fact: 2 -> 1 -> 2).
    pub hsm_boards: u32,
    /// The fix switches in force (CS rule, and the root causes' fixes).
    pub patches: Patches,
}

/// The municipal CS terminals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Terminals {
    /// CS gateways, one per municipality office (assumed; the facts say
    /// about 600 municipalities were hit at a time).
    pub cs_count: u32,
    /// Operator windows per CS, each issuing one card at a time (assumed).
    pub windows_per_cs: u32,
    /// Telegrams per card: the last is the registration sent after the
    /// chip is written, the others come before the write (assumed).
    pub telegrams_per_card: u32,
    /// Writing and verifying a card's chip (fact: about 10 s, later 5 s).
    pub write_verify: Micros,
    /// A CS gives up on an answer after this long (assumed, as
    /// `relay::cs::CsConfig`).
    pub search_timeout: Micros,
    /// The legacy rule's block (fact: one minute).
    pub block_for: Micros,
    /// The improved rule's first backoff, doubling per refusal up to
    /// `block_for` (assumed, as `relay::cs::CsConfig`).
    pub backoff: Micros,
}

/// Work offered during the day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Demand {
    /// Applicants (cards to issue) arriving between 08:30 and 17:15,
    /// spread by [`HALF_HOUR_WEIGHTS`] (fitted per calibration day).
    pub cards: f64,
    /// Move-in/move-out update telegrams to the upstream server per ten
    /// minutes while offices are open (fact: 4,000 reserved).
    pub moves_per_10min: f64,
    /// Day-to-day and hour-to-hour unevenness: each ten minutes' arrival
    /// rate is the profile's times a log-normal factor of mean 1 and this
    /// log standard deviation (fitted).
    pub burstiness: f64,
}

/// Service times of the chain a telegram passes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Service {
    /// One way between CS and relay (assumed).
    pub network: Micros,
    /// Mean time of one HSM operation; a telegram needs two, decrypt and
    /// encrypt (assumed: the facts give no figure; one board then serves
    /// 25 telegrams/s).
    pub hsm_op: Micros,
    /// Requests the upstream server works on at once (assumed: enough
    /// that the upstream is no queue at these loads).
    pub upstream_threads: u32,
    /// Mean upstream service time per request (fitted).
    pub upstream_op: Micros,
}

/// The root causes as rates (per relay per business day) and their outages.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Faults {
    /// HSM hangs (root cause 1; fact: 15 in 13 Jan - 9 Mar on 2 relays,
    /// with the monitor on and Logical mode).
    pub hsm_hangs_per_relay_day: f64,
    /// Abnormal terminations of the business AP (root cause 2; fact: 38 in
    /// 18 Jan - 19 Mar on 2 relays, without the allocation check).
    pub ap_aborts_per_relay_day: f64,
    /// An unguarded hang or an abort stops that relay for 10 minutes to
    /// 3.5 hours (fact), uniformly (assumed).
    pub outage_min: Micros,
    pub outage_max: Micros,
    /// With `HsmGuard::ErrorOnInterrupted` a hang is one error answer.
    pub hsm_guard: bool,
}

impl Faults {
    /// The rates the facts give for a set of switches: a switch that fixes
    /// a cause removes it.
    pub fn of(patches: Patches) -> Faults {
        let hang_prone = patches.monitor == Monitor::On && patches.irq_mode == IrqMode::Logical;
        let abort_prone = patches.timer_fix == TimerFix::None;
        Faults {
            hsm_hangs_per_relay_day: if hang_prone { 15.0 / 56.0 / 2.0 } else { 0.0 },
            ap_aborts_per_relay_day: if abort_prone { 38.0 / 61.0 / 2.0 } else { 0.0 },
            outage_min: 10 * MINUTE,
            outage_max: 210 * MINUTE,
            hsm_guard: patches.hsm_guard == HsmGuard::ErrorOnInterrupted,
        }
    }

    /// No root-cause fault occurs.
    pub fn none(self) -> Faults {
        Faults {
            hsm_hangs_per_relay_day: 0.0,
            ap_aborts_per_relay_day: 0.0,
            ..self
        }
    }
}

/// One simulated day: everything [`crate::run_day`] needs besides a seed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Params {
    pub facility: Facility,
    pub terminals: Terminals,
    pub demand: Demand,
    pub service: Service,
    pub faults: Faults,
}

/// The fitted parameters: the only numbers chosen to match the published
/// days. Everything else is a fact or an assumption made before fitting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Fitted {
    /// Applicants on 29 Mar 2016 (fitted to its 715k requests).
    pub cards_29_mar: f64,
    /// Applicants on 18 Apr 2016 (fitted to its 549k requests).
    pub cards_18_apr: f64,
    /// Mean upstream service time (fitted to the excess answers of both days).
    pub upstream_op: Micros,
    /// Unevenness of arrivals (fitted to the excess answers of both days).
    pub burstiness: f64,
}

pub const FITTED: Fitted = Fitted {
    cards_29_mar: 176_500.0,
    cards_18_apr: 136_000.0,
    upstream_op: 3_500_000,
    burstiness: 0.1,
};

/// The assumed terminals, the same on every day.
pub const TERMINALS: Terminals = Terminals {
    cs_count: 1_000,
    windows_per_cs: 2,
    telegrams_per_card: 4,
    write_verify: 10 * SECOND,
    search_timeout: 60 * SECOND,
    block_for: 60 * SECOND,
    backoff: SECOND,
};

/// The assumed and fitted service chain, the same on every day.
pub const SERVICE: Service = Service {
    network: 5_000,
    hsm_op: 20_000,
    upstream_threads: 400,
    upstream_op: FITTED.upstream_op,
};

/// A published day to calibrate against.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CalibrationDay {
    pub name: &'static str,
    /// Upstream request telegrams (fact).
    pub requests: u64,
    /// Connection-excess answers at the relays (fact).
    pub connection_excess: u64,
    pub params: Params,
    /// Why the facility is what it is on that day.
    pub facility_note: &'static str,
}

/// 29 Mar 2016: the temporary measures (`2016-03`), 2 relays of 70
/// connections with one HSM board each. The timer avoidance was in place
/// (no abnormal termination after 19 Mar), the monitor stopped.
pub fn mar_29() -> CalibrationDay {
    let patches = Preset::Mar2016.patches();
    CalibrationDay {
        name: "29-mar",
        requests: 715_000,
        connection_excess: 12_650,
        params: Params {
            facility: Facility {
                relays: 2,
                max_connections: 70,
                hsm_boards: 1,
                patches,
            },
            terminals: TERMINALS,
            demand: Demand {
                cards: FITTED.cards_29_mar,
                moves_per_10min: 4_000.0,
                burstiness: FITTED.burstiness,
            },
            service: SERVICE,
            faults: Faults::of(patches).none(),
        },
        facility_note:
            "2016-03 measures, timer avoidance in place; 2 relays x 70 connections x 1 HSM board",
    }
}

/// 18 Apr 2016: the permanent fixes (`2016-04`, legacy CS rule still) and
/// more capacity: the second HSM board back in each of the 2 relays of 70
/// connections (assumed: the facts do not date the move to 4 relays and 94
/// connections; the issue asks what 94 would have done, so we take both as
/// later).
pub fn apr_18() -> CalibrationDay {
    let patches = Preset::Apr2016.patches();
    CalibrationDay {
        name: "18-apr",
        requests: 549_000,
        connection_excess: 79,
        params: Params {
            facility: Facility {
                relays: 2,
                max_connections: 70,
                hsm_boards: 2,
                patches,
            },
            terminals: TERMINALS,
            demand: Demand {
                cards: FITTED.cards_18_apr,
                moves_per_10min: 4_000.0,
                burstiness: FITTED.burstiness,
            },
            service: SERVICE,
            faults: Faults::of(patches),
        },
        facility_note:
            "2016-04 fixes, second HSM board back; 2 relays x 70 connections x 2 HSM boards",
    }
}

/// Both published days.
pub fn calibration_days() -> [CalibrationDay; 2] {
    [mar_29(), apr_18()]
}

/// A what-if on the peak day: 29 Mar's demand and everything else, with
/// only the facility changed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Prediction {
    pub name: &'static str,
    pub params: Params,
}

/// The questions, on 29 Mar: as it was, 94 connections, and 94
/// connections plus a second HSM board per relay.
pub fn predictions() -> [Prediction; 3] {
    let base = mar_29().params;
    let with = |max_connections, hsm_boards| Params {
        facility: Facility {
            max_connections,
            hsm_boards,
            ..base.facility
        },
        ..base
    };
    [
        Prediction {
            name: "29-mar as it was (70, 1 board)",
            params: base,
        },
        Prediction {
            name: "94 connections",
            params: with(94, 1),
        },
        Prediction {
            name: "94 connections + 2nd HSM board",
            params: with(94, 2),
        },
    ]
}

impl Params {
    /// The same day under another CS rule.
    pub fn with_rule(self, rule: CsRule) -> Params {
        let mut p = self;
        p.facility.patches.cs_rule = rule;
        p
    }
}
