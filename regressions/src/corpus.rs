//! The corpus directory and its one file-naming scheme.

use model::{Trace, TraceError};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why the corpus (or one file of it) could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    // The cause is in the message, not a `source` too: `{:#}` would say it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Format { path: PathBuf, error: TraceError },
    /// Past [`MAX_TRACE_BYTES`]: refused before it is parsed.
    #[error("{path}: more than {max} bytes; a trace file is a few KB (refused before parsing: replaying it would take some 46 times its size in memory)")]
    TooLarge { path: PathBuf, max: u64 },
    /// A deterministic search found another counterexample than the stored one.
    #[error(
        "{path} differs from the new counterexample:\n  stored: {stored:?}\n  new:    {new:?}\n\
         rerun with CHUKEI_BLESS=1 to rewrite it"
    )]
    Differs {
        path: PathBuf,
        stored: Vec<String>,
        new: Vec<String>,
    },
}

/// `regressions/corpus/` of this workspace.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The file a trace is kept under: who found it, and the (spec, configuration,
/// property) it is a counterexample of.
pub fn file_name(trace: &Trace) -> String {
    format!(
        "{}-{}-{}-{}.json",
        trace.origin.checker,
        trace.spec,
        trace.config(),
        trace.property
    )
}

/// `CHUKEI_BLESS=1`: a search test rewrites its trace file.
pub fn bless() -> bool {
    std::env::var("CHUKEI_BLESS").is_ok_and(|v| v == "1")
}

/// The largest trace file read: a stored counterexample is a few KB, and
/// parsing and replaying a trace takes some 46 times its size in memory
/// (200 MB of actions took over 8 GiB), so this bounds a replay to a few
/// hundred MB.
pub const MAX_TRACE_BYTES: u64 = 8 << 20;

/// Reads one trace file (at most [`MAX_TRACE_BYTES`]).
pub fn read(path: &Path) -> Result<Trace, CorpusError> {
    let io = |error| CorpusError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TRACE_BYTES + 1).read_to_string(&mut text))
        .map_err(io)?;
    if text.len() as u64 > MAX_TRACE_BYTES {
        return Err(CorpusError::TooLarge {
            path: path.to_path_buf(),
            max: MAX_TRACE_BYTES,
        });
    }
    Trace::from_json(&text).map_err(|error| CorpusError::Format {
        path: path.to_path_buf(),
        error,
    })
}

/// Every trace of the corpus, by path (sorted).
pub fn all() -> Result<Vec<(PathBuf, Trace)>, CorpusError> {
    let dir = dir();
    let entries = std::fs::read_dir(&dir).map_err(|error| CorpusError::Io {
        path: dir.clone(),
        error,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| read(&p).map(|t| (p, t)))
        .collect()
}

/// Writes `trace` into `dir` under its file name; returns the path.
pub fn write(dir: &Path, trace: &Trace) -> Result<PathBuf, CorpusError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CorpusError::Io { path, error }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(file_name(trace));
    std::fs::write(&path, trace.to_json_pretty() + "\n").map_err(io(&path))?;
    Ok(path)
}

/// What [`keep`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    Written(PathBuf),
    Unchanged(PathBuf),
}

/// Writes `trace` to the corpus, or checks that the stored one has the same
/// schedule and verdict: the searches are seeded, so a difference means the
/// relay, the spec or the mapping changed. `CHUKEI_BLESS=1` rewrites it.
pub fn keep(trace: &Trace) -> Result<Kept, CorpusError> {
    let path = dir().join(file_name(trace));
    if path.exists() && !bless() {
        let stored = read(&path)?;
        if stored.schedule != trace.schedule || stored.verdict != trace.verdict {
            return Err(CorpusError::Differs {
                path,
                stored: stored.timeline,
                new: trace.timeline.clone(),
            });
        }
        return Ok(Kept::Unchanged(path));
    }
    write(&dir(), trace).map(Kept::Written)
}
