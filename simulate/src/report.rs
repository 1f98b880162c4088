//! What a simulated day produced, and summaries over seeds.

use crate::params::{Micros, MINUTE};
use serde::Serialize;

/// Picks one of a [`Series`]' per-minute counts.
pub type Pick = fn(&Series) -> &Vec<f64>;

/// Per-minute counts over the day (index 0 is 08:00).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Series {
    /// Card telegrams reaching the upstream server.
    pub requests: Vec<f64>,
    pub connection_excess: Vec<f64>,
    /// CS-minutes spent blocked by the legacy rule within each minute.
    pub blocked_cs_minutes: Vec<f64>,
    /// Chip written, registration discarded but on record.
    pub inconsistencies: Vec<f64>,
    /// Telegrams the relays answered successfully.
    pub processed: Vec<f64>,
    pub cards: Vec<f64>,
}

impl Series {
    pub fn new(minutes: usize) -> Series {
        let zero = vec![0.0; minutes];
        Series {
            requests: zero.clone(),
            connection_excess: zero.clone(),
            blocked_cs_minutes: zero.clone(),
            inconsistencies: zero.clone(),
            processed: zero.clone(),
            cards: zero,
        }
    }

    /// Adds the minutes of `[from, to)` to the buckets they fall in.
    pub fn add_interval(
        &mut self,
        series: fn(&mut Series) -> &mut Vec<f64>,
        from: Micros,
        to: Micros,
    ) {
        let buckets = series(self);
        let mut at = from;
        while at < to {
            let minute = (at / MINUTE) as usize;
            if minute >= buckets.len() {
                return;
            }
            let end = ((minute as Micros + 1) * MINUTE).min(to);
            buckets[minute] += (end - at) as f64 / MINUTE as f64;
            at = end;
        }
    }

    /// The largest count in an aligned ten-minute window (09:30-09:40, ...).
    pub fn peak_10min(&self, series: Pick) -> f64 {
        series(self)
            .chunks(10)
            .map(|c| c.iter().sum::<f64>())
            .fold(0.0, f64::max)
    }

    /// The element-wise mean of several series.
    pub fn mean(all: &[&Series]) -> Series {
        let n = all.len().max(1) as f64;
        let minutes = all.first().map_or(0, |s| s.requests.len());
        let mut out = Series::new(minutes);
        for s in all {
            for (field, get) in Series::FIELDS {
                let src = get(s).clone();
                let dst = field(&mut out);
                for (d, v) in dst.iter_mut().zip(src) {
                    *d += v / n;
                }
            }
        }
        out
    }

    #[allow(clippy::type_complexity)]
    const FIELDS: [(fn(&mut Series) -> &mut Vec<f64>, fn(&Series) -> &Vec<f64>); 6] = [
        (|s| &mut s.requests, |s| &s.requests),
        (|s| &mut s.connection_excess, |s| &s.connection_excess),
        (|s| &mut s.blocked_cs_minutes, |s| &s.blocked_cs_minutes),
        (|s| &mut s.inconsistencies, |s| &s.inconsistencies),
        (|s| &mut s.processed, |s| &s.processed),
        (|s| &mut s.cards, |s| &s.cards),
    ];
}

/// One day on one seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DayResult {
    pub seed: u64,
    /// Events the engine handled.
    pub events: u64,
    pub applicants: u64,
    /// Applicants still waiting at 17:15: no card today.
    pub unserved: u64,
    pub cards_issued: u64,
    /// Telegrams the CS windows sent.
    pub sent: u64,
    /// Card telegrams that reached the upstream server.
    pub requests: u64,
    pub processed: u64,
    pub connection_excess: u64,
    pub search_timeouts: u64,
    pub blocks: u64,
    pub discarded: u64,
    pub inconsistencies: u64,
    /// Telegrams a relay outage swallowed.
    pub lost: u64,
    pub hsm_hangs: u64,
    pub hsm_errors: u64,
    pub ap_aborts: u64,
    /// Most telegrams answered in an aligned ten-minute window.
    pub peak_processed_per_10min: f64,
    #[serde(skip)]
    pub series: Series,
}

impl DayResult {
    pub fn blocked_cs_minutes(&self) -> f64 {
        self.series.blocked_cs_minutes.iter().sum()
    }
}

/// Mean and standard deviation of a figure over seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub sd: f64,
}

impl Stat {
    pub fn of(values: impl Iterator<Item = f64>) -> Stat {
        let v: Vec<f64> = values.collect();
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        Stat {
            mean,
            sd: var.sqrt(),
        }
    }
}

/// A day summarized over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub seeds: Vec<u64>,
    pub requests: Stat,
    pub connection_excess: Stat,
    pub processed: Stat,
    pub peak_processed_per_10min: Stat,
    pub cards_issued: Stat,
    pub unserved: Stat,
    pub inconsistencies: Stat,
    pub blocked_cs_minutes: Stat,
    pub search_timeouts: Stat,
    pub lost: Stat,
    pub events: Stat,
    /// The mean day, per minute from 08:00 (for plots).
    #[serde(skip)]
    pub series: Series,
}

impl Summary {
    pub fn of(days: &[DayResult]) -> Summary {
        let stat = |f: fn(&DayResult) -> f64| Stat::of(days.iter().map(f));
        Summary {
            seeds: days.iter().map(|d| d.seed).collect(),
            requests: stat(|d| d.requests as f64),
            connection_excess: stat(|d| d.connection_excess as f64),
            processed: stat(|d| d.processed as f64),
            peak_processed_per_10min: stat(|d| d.peak_processed_per_10min),
            cards_issued: stat(|d| d.cards_issued as f64),
            unserved: stat(|d| d.unserved as f64),
            inconsistencies: stat(|d| d.inconsistencies as f64),
            blocked_cs_minutes: stat(DayResult::blocked_cs_minutes),
            search_timeouts: stat(|d| d.search_timeouts as f64),
            lost: stat(|d| d.lost as f64),
            events: stat(|d| d.events as f64),
            series: Series::mean(&days.iter().map(|d| &d.series).collect::<Vec<_>>()),
        }
    }
}
