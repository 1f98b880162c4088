//! How fast `chukei check` explores: states per second of the suite's BFS,
//! on the full graph and on the symmetry-reduced one, per spec at default
//! and larger sizes (2016-01, where every mechanism misbehaves), and one
//! whole check of a spec and preset (every property, as the CLI runs it),
//! and the large checks on `proposed` on 1 and 2 threads (the
//! parallel speed-up). Each benchmark's throughput is in states, so
//! criterion reports states/s; the bytes each graph stores per state are
//! printed once per graph.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use model::bitstate::Bitstate;
use model::search::{Identity, StateGraph};
use model::{SharedSpec, SpecJob, SpecName};
use patches::Preset;
use stateright_models::{check_spec_preset, run_checks, CheckResult, CheckSelection};
use std::collections::BTreeMap;
use std::hint::black_box;

/// The sizes benchmarked per spec: defaults, then a larger space.
fn sizes(spec: SpecName) -> Vec<BTreeMap<String, u64>> {
    let larger: &[(&str, u64)] = match spec {
        SpecName::TimerFree => &[("telegrams", 4)],
        SpecName::IrqOrder => &[("requests", 3)],
        SpecName::CsBlock => &[("cards", 3)],
    };
    let larger = larger.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    vec![BTreeMap::new(), larger]
}

fn label(sizes: &BTreeMap<String, u64>) -> String {
    if sizes.is_empty() {
        return "defaults".to_string();
    }
    let pairs: Vec<String> = sizes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// Explores one graph of whichever spec was named; returns its state count.
struct Explore(Identity);

impl SpecJob for Explore {
    type Output = (usize, usize);
    /// States, and bytes stored per state (states and BFS tree, edges).
    fn run<S: SharedSpec>(self, spec: S) -> (usize, usize) {
        let graph = StateGraph::explore_as(&spec, self.0, &mut |_| {});
        let edges = graph.edges.heap_bytes();
        let bytes = (graph.state_bytes() + edges) / graph.len().max(1);
        (graph.len(), bytes)
    }
}

fn explore(c: &mut Criterion) {
    let mut group = c.benchmark_group("explore");
    group.sample_size(10);
    for spec in SpecName::ALL {
        for sizes in sizes(spec) {
            for (identity, name) in [(Identity::Exact, "full"), (Identity::Symmetric, "reduced")] {
                let run = || {
                    spec.build(Preset::Jan2016.patches(), &sizes, Explore(identity))
                        .expect("valid sizes")
                };
                let (states, bytes) = run();
                group.throughput(Throughput::Elements(states as u64));
                let id = format!("{spec} {} {name}", label(&sizes));
                eprintln!("{id}: {states} states, {bytes} bytes per state");
                group.bench_function(id, |b| b.iter(|| black_box(run())));
            }
        }
    }
    group.finish();
}

fn whole_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for spec in SpecName::ALL {
        let run = || {
            check_spec_preset(spec, Preset::Jan2016, &BTreeMap::new(), &mut |_| {})
                .expect("default sizes")
        };
        let states: usize = run()
            .iter()
            .map(|r| r.states_reduced.unwrap_or(0) + r.states_unreduced.unwrap_or(0))
            .max()
            .unwrap_or(0);
        group.throughput(Throughput::Elements(states as u64));
        group.bench_function(format!("{spec} 2016-01 every property"), |b| {
            b.iter(|| black_box(run()))
        });
    }
    group.finish();
}

/// States a check explored: each distinct graph once (reduced, reduced
/// over all but the first process, full).
fn explored(results: &[CheckResult]) -> usize {
    let mut graphs: Vec<(bool, usize)> = results.iter().map(|r| (r.symmetry, r.states)).collect();
    graphs.sort();
    graphs.dedup();
    graphs.iter().map(|(_, states)| states).sum()
}

/// The large checks, every property on `proposed` as `chukei
/// check` runs them, on 1 and 2 threads.
fn large_checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("check-large");
    group.sample_size(10);
    let large = [
        ("timer-free", ["workers=3", "telegrams=5"]),
        ("cs-block", ["css=4", "cards=3"]),
        // The size its per-state figures are measured at (README).
        ("cs-block", ["css=5", "cards=3"]),
    ];
    for (spec, sizes) in large {
        let sizes = sizes.map(String::from);
        for threads in [1, 2] {
            let selection = CheckSelection::parse(spec, "proposed", &sizes)
                .expect("valid sizes")
                .with_threads(threads);
            let run = || run_checks(&selection, &mut |_| {});
            group.throughput(Throughput::Elements(explored(&run()) as u64));
            let id = format!("{spec} {} proposed threads={threads}", sizes.join(","));
            group.bench_function(id, |b| b.iter(|| black_box(run())));
        }
    }
    group.finish();
}

/// The bitstate search (`chukei check --bitstate 27`: a 16 MB table) on
/// the large timer-free check: states/s, and the bytes per state besides
/// the table (a parent link, and the level being expanded).
fn bitstate(c: &mut Criterion) {
    let mut group = c.benchmark_group("bitstate");
    group.sample_size(10);
    let sizes = ["workers=3", "telegrams=5"].map(String::from);
    let selection = CheckSelection::parse("timer-free", "proposed", &sizes)
        .expect("valid sizes")
        .with_bitstate(Some(Bitstate::new(27)));
    let run = || run_checks(&selection, &mut |_| {});
    let note = run()[0].bitstate.expect("a bitstate row");
    eprintln!(
        "bitstate timer-free w3 t5: {} states, table {} bytes, miss probability {:.2e}",
        note.states, note.table_bytes, note.miss_probability
    );
    group.throughput(Throughput::Elements(note.states as u64));
    group.bench_function("timer-free workers=3,telegrams=5 proposed 2^27 bits", |b| {
        b.iter(|| black_box(run()))
    });
    group.finish();
}

criterion_group!(benches, explore, whole_check, large_checks, bitstate);
criterion_main!(benches);
