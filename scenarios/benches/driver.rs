//! How fast the deterministic driver runs the real relay: the figure behind
//! "a one-second counterexample".

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::sim::Chooser;
use relay::Preset;
use scenarios::exhaustive::search_exhaustive;
use scenarios::search::{run_schedule, Cause, CARDS};
use std::hint::black_box;

fn schedules(c: &mut Criterion) {
    let mut group = c.benchmark_group("driver");
    group.sample_size(20);
    for cause in Cause::ALL {
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("one {cause} schedule on 2016-04"), |b| {
            let mut seed = 0;
            b.iter(|| {
                seed += 1;
                let chooser = Chooser::Seeded {
                    seed,
                    clock_jump: 0.03,
                };
                black_box(run_schedule(cause, Preset::Apr2016, CARDS, chooser))
            })
        });
    }
    group.finish();
}

/// Every schedule with at most one preemption of one fixed row (403 of
/// them): the exhaustive part of a default `reproduce` row.
fn exhaustive(c: &mut Criterion) {
    let mut group = c.benchmark_group("exhaustive");
    group.sample_size(10);
    group.throughput(Throughput::Elements(403));
    group.bench_function("irq-order on proposed up to 1 preemption", |b| {
        b.iter(|| {
            let r = search_exhaustive(Cause::IrqOrder, Preset::Proposed, 1, 10_000, |_, _| {});
            assert_eq!(r.finding.schedules_tried, 403);
            black_box(r)
        })
    });
    group.finish();
}

criterion_group!(benches, schedules, exhaustive);
criterion_main!(benches);
