//! Shrunk proptest failures as [`Trace`] files in `regressions/corpus/`, so
//! they replay without proptest (`model::replay::replay`).
//!
//! A test that shrinks a failure compares it with the stored file: a missing
//! file is written; a different one fails the test unless `CHUKEI_BLESS=1`
//! is set, which rewrites it.

use crate::reference::Target;
use model::{Origin, Spec, Trace, TraceError, Verdict};
use std::path::{Path, PathBuf};

/// `regressions/corpus/` of this workspace.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../regressions/corpus")
}

/// The trace of a shrunk proptest counterexample.
pub fn proptest_trace<T: Target>(
    spec: &T::Spec,
    property: &str,
    actions: &[<T::Spec as Spec>::Action],
    note: &str,
) -> Trace {
    Trace::from_actions(
        spec,
        T::PRESET,
        T::sizes(),
        property,
        Verdict::Violated,
        actions,
        None,
        Origin {
            checker: "proptest".into(),
            seed: None,
            note: Some(note.to_string()),
        },
    )
}

/// The file name a proptest trace is kept under.
pub fn file_name(trace: &Trace) -> String {
    format!(
        "proptest-{}-{}-{}.json",
        trace.spec, trace.preset, trace.property
    )
}

/// What [`keep`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    Written(PathBuf),
    Unchanged(PathBuf),
}

/// Writes `trace` to the corpus, or checks that the stored one has the same
/// schedule (the shrink is deterministic: a difference means the relay, the
/// spec or the mapping changed).
pub fn keep(trace: &Trace) -> Result<Kept, String> {
    let dir = corpus_dir();
    let path = dir.join(file_name(trace));
    let bless = std::env::var("CHUKEI_BLESS").is_ok_and(|v| v == "1");
    if path.exists() && !bless {
        let stored = read(&path)?;
        if stored.schedule != trace.schedule || stored.verdict != trace.verdict {
            return Err(format!(
                "{} differs from the new shrink:\n  stored: {:?}\n  new:    {:?}\n\
                 rerun with CHUKEI_BLESS=1 to rewrite it",
                path.display(),
                stored.timeline,
                trace.timeline
            ));
        }
        return Ok(Kept::Unchanged(path));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&path, trace.to_json_pretty() + "\n")
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Kept::Written(path))
}

/// Reads one trace file.
pub fn read(path: &Path) -> Result<Trace, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Trace::from_json(&text).map_err(|e: TraceError| format!("{}: {e}", path.display()))
}

/// Every proptest trace of the corpus, by path.
pub fn proptest_traces() -> Result<Vec<(PathBuf, Trace)>, String> {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(vec![]);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("proptest-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| read(&p).map(|t| (p, t)))
        .collect()
}
