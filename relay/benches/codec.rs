//! How fast the telegram codec is.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::telegram::{decode, encode, CardId, CsId, Telegram, TelegramId, TelegramKind};
use std::hint::black_box;

fn codec(c: &mut Criterion) {
    let telegram = Telegram {
        kind: TelegramKind::Register,
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

criterion_group!(benches, codec);
criterion_main!(benches);
