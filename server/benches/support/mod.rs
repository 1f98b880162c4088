//! What the server benches share: CPU time per telegram, read from
//! `/proc/self/stat` (client and server run in the bench's process), a
//! figure the other jobs on a shared box disturb less than the wall-clock
//! rate.

use criterion::{BenchmarkGroup, Throughput};

/// A bench's settings from the environment, with a default.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Concurrent CS clients (`CHUKEI_BENCH_CLIENTS`, default 8).
pub fn clients() -> u16 {
    setting("CHUKEI_BENCH_CLIENTS", 8)
}

/// Telegrams each client sends per iteration.
pub const EACH: u64 = 50;

/// Ten samples of `clients() * EACH` telegrams.
pub fn sized<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group.sample_size(10);
    group.throughput(Throughput::Elements(clients() as u64 * EACH));
}

/// Prints CPU time per telegram since `before` (Linux only; elsewhere
/// nothing is printed).
pub fn report_cpu(name: &str, telegrams: u64, before: (u64, u64)) {
    let now = cpu_ticks();
    let (user, system) = (now.0 - before.0, now.1 - before.1);
    let per = |t: u64| t as f64 * 10_000.0 / telegrams.max(1) as f64;
    if telegrams > 0 && now != (0, 0) {
        eprintln!(
            "{name}: {telegrams} telegrams; CPU per telegram {:.0} µs user + {:.0} µs system (client and server)",
            per(user),
            per(system)
        );
    }
}

/// This process's (user, system) CPU time in clock ticks (100 per second on
/// Linux); zero elsewhere.
pub fn cpu_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0, 0);
    };
    // Fields after the command name (which ends with ')'): utime and stime
    // are the 12th and 13th, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11), ticks(12))
}
