//! How fast the deterministic driver runs the real relay: the figure behind
//! "a one-second counterexample".

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::sim::Chooser;
use relay::Preset;
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

criterion_group!(benches, schedules);
criterion_main!(benches);
