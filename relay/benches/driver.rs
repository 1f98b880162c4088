//! How fast the deterministic driver runs the real relay, and how fast the
//! codec is: the figures behind "a one-second counterexample".

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::reproduce::{run_schedule, Cause};
use relay::sim::Chooser;
use relay::telegram::{decode, encode, CardId, CsId, Kind, Telegram, TelegramId};
use relay::Preset;
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
                black_box(run_schedule(cause, Preset::Apr2016, chooser))
            })
        });
    }
    group.finish();
}

fn codec(c: &mut Criterion) {
    let telegram = Telegram {
        kind: Kind::Register,
        cs: CsId(1),
        id: TelegramId(100_001),
        card: CardId(42),
        payload: vec![7; 256],
    };
    let frame = encode(&telegram).expect("encodes");
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("encode 256-byte telegram", |b| {
        b.iter(|| encode(black_box(&telegram)))
    });
    group.bench_function("decode 256-byte telegram", |b| {
        b.iter(|| decode(black_box(&frame)))
    });
    group.finish();
}

criterion_group!(benches, schedules, codec);
criterion_main!(benches);
