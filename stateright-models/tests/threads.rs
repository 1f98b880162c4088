//! `chukei check --threads N`: the parallel search builds the sequential
//! graph, so every verdict, count and counterexample is the same.

use stateright_models::{run_checks, CheckResult, CheckSelection};

fn outcome(r: &CheckResult) -> String {
    format!(
        "{} {} {} {} {} {:?} {:?} {:?} {:?} {:?}",
        r.spec,
        r.config,
        r.property,
        r.verdict,
        r.states,
        r.states_reduced,
        r.states_unreduced,
        r.counterexample_len,
        r.cycle_start,
        r.counterexample
    )
}

#[test]
fn two_threads_give_the_sequential_verdicts_counts_and_paths() {
    let check = |threads| {
        let selection = CheckSelection::all().with_threads(threads);
        let results = run_checks(&selection, &mut |_| {});
        results.iter().map(outcome).collect::<Vec<_>>()
    };
    let sequential = check(1);
    assert_eq!(sequential.len(), 80);
    assert_eq!(sequential, check(2));
}

/// The summary's CPU figure counts every thread's time: work on another
/// thread shows in it (the per-state rate is taken on it).
#[test]
fn the_process_cpu_time_counts_every_thread() {
    use stateright_models::checks::process_cpu_seconds;
    let before = process_cpu_seconds().expect("Linux tells a process's CPU time");
    let spun = std::thread::spawn(move || {
        // Until the process has used a tenth of a second more (the
        // figure's resolution is 1/100 s), or ten seconds have passed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut x = 1u64;
        while std::time::Instant::now() < deadline {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            if process_cpu_seconds().unwrap() >= before + 0.1 {
                return true;
            }
        }
        false
    });
    assert!(spun.join().unwrap(), "another thread's work never showed");
}
