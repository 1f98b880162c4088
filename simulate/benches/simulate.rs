//! The simulation's speed: engine events per second on one core, over the
//! peak day (29 Mar 2016 as calibrated: ~715k telegrams, ~5.4M events).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use simulate::{params, run_day};
use std::hint::black_box;
use std::time::Duration;

fn peak_day(c: &mut Criterion) {
    let day = params::mar_29().params;
    let events = run_day(day, 1).events;
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(events));
    group.bench_function("29-mar day, events", |b| {
        b.iter(|| black_box(run_day(black_box(day), 1)))
    });
    group.finish();
}

criterion_group!(benches, peak_day);
criterion_main!(benches);
