//! Every fuzz target on stable Rust: its whole seed corpus, then mutated
//! inputs from a fixed generator seed. A few seconds in `cargo test`; a deep
//! run with `CHUKEI_FUZZ_INPUTS=N` (or `name=N,...`) and `CHUKEI_FUZZ_SEED`:
//! `CHUKEI_FUZZ_INPUTS=1000000 cargo test -p fuzzing --release --test stable -- --nocapture`.

use fuzzing::runner::{self, deep_inputs, Target};

fn fuzz(name: &str) {
    let target = runner::target(name).expect("a fuzz target of that name");
    let inputs = deep_inputs(name).unwrap_or(target.quick_inputs);
    match runner::run(target, runner::seed(), inputs) {
        Ok(stats) => {
            println!(
                "fuzz {}: {} inputs ({} seeds), 0 panics, {:.1} s",
                stats.target,
                stats.inputs,
                stats.seeds,
                stats.elapsed.as_secs_f64()
            );
            assert!(stats.seeds > 0, "{name} has no seed corpus");
            assert!(stats.inputs >= inputs.max(stats.seeds as u64));
        }
        Err(crash) => panic!("{crash}"),
    }
}

#[test]
fn frame_single() {
    fuzz("frame_single");
}

#[test]
fn frame_stream() {
    fuzz("frame_stream");
}

#[test]
fn trace_replay() {
    fuzz("trace_replay");
}

#[test]
fn event_log() {
    fuzz("event_log");
}

#[test]
fn driver_schedule() {
    fuzz("driver_schedule");
}

#[test]
fn relayd_connection() {
    fuzz("relayd_connection");
}

#[test]
fn every_target_has_a_test_and_a_cargo_fuzz_target() {
    let fuzz_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let manifest = std::fs::read_to_string(fuzz_dir.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let this = include_str!("stable.rs");
    for t in fuzzing::TARGETS {
        let file = fuzz_dir.join(format!("fuzz_targets/{}.rs", t.name));
        let body = std::fs::read_to_string(&file).expect("a cargo-fuzz target per target");
        assert!(
            body.contains(&format!("fuzzing::{}(", t.name)),
            "{}",
            file.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{}\"", t.name)),
            "{}",
            t.name
        );
        assert!(this.contains(&format!("fn {}()", t.name)), "{}", t.name);
    }
}

#[test]
fn the_driver_seeds_are_the_stored_driver_traces() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../regressions/corpus");
    let mut encoded = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // The corpus also holds on-fix.toml and the timeline snapshots.
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let trace = model::Trace::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(bytes) = fuzzing::driver_seed(&trace) else {
            continue;
        };
        let back = fuzzing::driver_trace(&bytes).expect("a seed decodes");
        assert_eq!(back.schedule, trace.schedule, "{}", path.display());
        assert_eq!((back.preset, back.sizes), (trace.preset, trace.sizes));
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let seed = std::fs::read(runner::corpus_dir("driver_schedule").join(&name));
        assert_eq!(seed.ok(), Some(bytes), "fuzz seed {name}: run fuzz-seeds");
        encoded += 1;
    }
    assert_eq!(encoded, 6, "driver traces in regressions/corpus");
}

#[test]
fn a_panicking_target_is_reported_with_its_input() {
    fn picky(data: &[u8]) {
        assert!(!data.starts_with(b"{\"format\": 2"), "format 2");
    }
    let target = Target {
        name: "trace_replay",
        run: picky,
        quick_inputs: 1,
        keep_current: false,
    };
    let crash = runner::one(target, b"{\"format\": 2}").unwrap_err();
    assert!(crash.message.contains("format 2"), "{crash}");
    assert_eq!(crash.input, b"{\"format\": 2}");
    let saved = crash.saved.as_ref().expect("the input is saved");
    assert_eq!(std::fs::read(saved).unwrap(), crash.input);
    std::fs::remove_file(saved).unwrap();
    assert!(runner::one(target, b"{}").is_ok());
}
