//! A replayed loom path that runs a thread where it cannot run is told
//! apart (`loom_tests::loom_fit`): loom itself resumes such a thread, and a
//! thread waiting in `join` or on a condition variable then just goes on.
//! The relay's own case (its CS waiting for an answer) is pinned on the
//! corpus trace by `regressions/tests/corpus.rs`; this is the join.

use loom_tests::explore::{loom_replay, Witness};
use loom_tests::Loom;
use relay::events::EventLog;
use relay::platform::{Lock, Platform};
use std::sync::Arc;

/// Two threads add to a counter twice each under the platform's lock;
/// the main thread joins both, then reads the sum.
fn two_adders(w: &Witness) {
    w.watch(&EventLog::new());
    let counter = Arc::new(<Loom as Platform>::Mutex::new(0u64));
    let adder = |c: Arc<<Loom as Platform>::Mutex<u64>>| {
        Loom::spawn("adder", move || {
            c.with(|v| *v += 1);
            c.with(|v| *v += 1);
        })
    };
    let (a, b) = (adder(counter.clone()), adder(counter.clone()));
    Loom::join(a);
    Loom::join(b);
    assert_eq!(counter.with(|v| *v), 4);
}

/// The path loom stores before its iteration `n` of `two_adders` (a prefix
/// it replays to reach that iteration).
fn stored_path(n: usize) -> serde_json::Value {
    let file =
        std::env::temp_dir().join(format!("chukei-loom-fit-{}-{n}.json", std::process::id()));
    let mut builder = loom::model::Builder::new();
    builder.checkpoint_file = Some(file.clone());
    builder.checkpoint_interval = 1;
    builder.max_permutations = Some(n);
    let w = Witness::default();
    builder.check(move || two_adders(&w));
    let text = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_loom_path_switched_onto_a_thread_waiting_in_join_does_not_fit() {
    // A stored path in which the main thread (0) waits in join while an
    // adder runs: a branch where 0 is disabled and another thread active.
    let (path, at) = (2..20)
        .find_map(|n| {
            let path = stored_path(n);
            let entries = path["branches"]["entries"].as_array()?;
            let at = entries.iter().position(|e| {
                let threads = &e["Schedule"]["threads"];
                threads[0] == "Disabled"
                    && threads
                        .as_array()
                        .is_some_and(|t| t.contains(&"Active".into()))
            })?;
            Some((path, at))
        })
        .expect("a stored path with the main thread in join");
    // As stored it fits.
    let replayed = loom_replay(&path, two_adders).unwrap();
    assert_eq!(replayed.misfit, None);
    assert!(replayed.run.is_ok());
    // Edited so that the main thread runs there instead.
    let mut edited = path.clone();
    let threads = edited["branches"]["entries"][at]["Schedule"]["threads"]
        .as_array_mut()
        .unwrap();
    for t in threads.iter_mut().filter(|t| **t == "Active") {
        *t = "Skip".into();
    }
    threads[0] = "Active".into();
    let replayed = loom_replay(&edited, two_adders).unwrap();
    let misfit = replayed
        .misfit
        .expect("the main thread could not run there");
    assert!(misfit.contains("thread 0, which waits in join"), "{misfit}");
}
