//! The corpus directory and its one file-naming scheme.

use crate::minimize::MinimizeError;
use crate::replay::Outcome;
use model::search::always_verdict;
use model::{PropertyKind, SharedSpec, SpecJob, SpecName, Trace, TraceError, Verdict};
use patches::{Config, Preset};
use serde::Serialize;
use std::collections::BTreeMap;
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
    #[error("{path}: {error}")]
    OnFix { path: PathBuf, error: String },
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

/// The data file, in the corpus directory, that records what each stored
/// bug's schedule shows on the presets that fix it.
pub const ON_FIX_FILE: &str = "on-fix.toml";

/// Per trace file, per configuration that fixes it ([`fixing_configs`],
/// by [`Config::name`]: `2016-04`, `2016-03+timer_fix=alloc-guard`), the
/// outcome its schedule shows there: `fixed`, or `stale` where the fix
/// changes the code path the schedule walks (a thread it names is not
/// runnable there). Never `reproduced`: that is a regression.
pub type OnFix = BTreeMap<String, BTreeMap<String, String>>;

/// Reads `dir`'s [`ON_FIX_FILE`] (empty when there is none yet).
pub fn read_on_fix(dir: &Path) -> Result<OnFix, CorpusError> {
    let path = dir.join(ON_FIX_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OnFix::new()),
        Err(error) => return Err(CorpusError::Io { path, error }),
    };
    toml::from_str(&text).map_err(|e| CorpusError::OnFix {
        path,
        error: e.to_string(),
    })
}

/// Writes `dir`'s [`ON_FIX_FILE`].
pub fn write_on_fix(dir: &Path, on_fix: &OnFix) -> Result<(), CorpusError> {
    let path = dir.join(ON_FIX_FILE);
    let body = toml::to_string(on_fix).map_err(|e| CorpusError::OnFix {
        path: path.clone(),
        error: e.to_string(),
    })?;
    let text = format!(
        "# What each stored bug's schedule shows on the configurations that fix\n\
         # it (the later presets that do, and each switch of the first alone\n\
         # that fixes the bug): `fixed`, or `stale` where the fix changes the\n\
         # code path the schedule walks. Read by regressions/tests/corpus.rs; `chukei corpus add` adds\n\
         # the entry of a new trace.\n\n{body}"
    );
    std::fs::write(&path, text).map_err(|error| CorpusError::Io { path, error })
}

/// The preset that fixes a trace's bug: the first one after the trace's
/// own on which the expectations table says the property holds.
pub fn fixing_preset(trace: &Trace) -> Option<Preset> {
    let spec: SpecName = trace.spec.parse().ok()?;
    Preset::ALL
        .into_iter()
        .skip_while(|p| *p != trace.preset)
        .find(|p| {
            scenarios::expect::expected_at_defaults(spec, &p.patches(), &trace.property)
                == Some(Verdict::Holds)
        })
}

/// The configurations that fix a trace's bug: the presets after its own
/// on which the expectations say the property holds (the first is
/// [`fixing_preset`]), then each switch on which that first one differs
/// from the trace's configuration, set alone on the trace's configuration,
/// where the spec says the property holds (`always_verdict` at default
/// sizes).
/// The single switch is the fix of this bug: a bug's schedule fits it,
/// where the whole preset may also change code the schedule walks (2016-03
/// stops the monitor, whose thread an irq-order schedule names; 2016-04
/// starts it again, a thread a 2016-03 schedule never saw).
pub fn fixing_configs(trace: &Trace) -> Vec<Config> {
    let Some(preset) = fixing_preset(trace) else {
        return Vec::new();
    };
    let Ok(spec) = trace.spec.parse::<SpecName>() else {
        return Vec::new();
    };
    let own = Config {
        variant: None,
        ..trace.config()
    };
    let switches = preset
        .patches()
        .diff(&own.patches)
        .into_iter()
        .filter_map(|(switch, value)| own.clone().patched(&[format!("{switch}={value}")]).ok())
        .filter(|config| spec_holds(spec, config, &trace.property));
    let presets = Preset::ALL
        .into_iter()
        .skip_while(|p| *p != preset)
        .filter(|p| {
            scenarios::expect::expected_at_defaults(spec, &p.patches(), &trace.property)
                == Some(Verdict::Holds)
        })
        .map(Config::preset);
    presets.chain(switches).collect()
}

/// Whether `spec` says the `always` property holds on `config`.
fn spec_holds(spec: SpecName, config: &Config, property: &str) -> bool {
    struct Holds<'a>(&'a str);
    impl SpecJob for Holds<'_> {
        type Output = bool;
        fn run<S: SharedSpec>(self, spec: S) -> bool {
            let always = spec
                .property(self.0)
                .is_some_and(|p| p.kind == PropertyKind::Always);
            always && always_verdict(&spec, self.0) == Verdict::Holds
        }
    }
    spec.build(config.patches, &BTreeMap::new(), Holds(property))
        .unwrap_or(false)
}

/// The configuration an [`OnFix`] key names (`2016-03+timer_fix=alloc-guard`).
pub fn config_named(name: &str) -> Option<Config> {
    let mut parts = name.split('+');
    let base: Preset = parts.next()?.parse().ok()?;
    let patches: Vec<String> = parts.map(str::to_string).collect();
    Config::with_patches(base, &patches).ok()
}

/// The directory of the timeline snapshots (insta's `.snap` files).
pub fn snapshot_dir(dir: &Path) -> PathBuf {
    dir.join("snapshots")
}

/// A trace file's snapshot name: its file name without `.json`.
pub fn snapshot_name(file_name: &str) -> &str {
    file_name.strip_suffix(".json").unwrap_or(file_name)
}

/// What a trace's timeline snapshot shows: what it is a counterexample of,
/// on which configuration, and its timeline as stored (the corpus test
/// checks that a replay gives the same one).
pub fn timeline_snapshot(trace: &Trace) -> String {
    let mut text = format!(
        "{} on {}: {} {} ({} schedule, {} timeline lines)\n",
        trace.spec,
        trace.config(),
        trace.property,
        trace.verdict,
        trace.schedule.kind(),
        trace.timeline.len()
    );
    for line in &trace.timeline {
        text += line;
        text += "\n";
    }
    text
}

/// Writes the timeline snapshot of the trace stored as `file_name`, in
/// insta's file format, so the corpus test's `assert_snapshot!` finds it.
pub fn write_snapshot(dir: &Path, file_name: &str, trace: &Trace) -> Result<PathBuf, CorpusError> {
    let snapshots = snapshot_dir(dir);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CorpusError::Io { path, error }
    };
    std::fs::create_dir_all(&snapshots).map_err(io(&snapshots))?;
    let path = snapshots.join(format!("{}.snap", snapshot_name(file_name)));
    let text = format!(
        "---\nsource: regressions/tests/corpus.rs\nexpression: \"corpus::timeline_snapshot(&trace)\"\n---\n{}",
        timeline_snapshot(trace)
    );
    std::fs::write(&path, text).map_err(io(&path))?;
    Ok(path)
}

/// What [`add`] stored.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// The trace file written.
    pub path: PathBuf,
    /// Schedule steps before and after minimizing.
    pub steps_before: usize,
    pub steps_after: usize,
    /// The replays minimizing took, and its time.
    pub replays: usize,
    pub millis: u64,
    /// Each configuration that fixes the bug ([`fixing_configs`]; none
    /// when no preset does yet) and what the schedule shows there: `fixed`
    /// or `stale`.
    pub fix: Vec<(String, String)>,
    /// The timeline snapshot written.
    pub snapshot: PathBuf,
}

/// Why a trace cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Minimize(#[from] MinimizeError),
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(
        "{path} is already stored with another schedule; remove it first (or --force) to replace it"
    )]
    Exists { path: PathBuf },
    #[error(
        "the bug reproduces on {config}, which should fix it: that is a regression to \
         fix, not a trace to store"
    )]
    NotFixed { config: String },
    #[error("on {config}, which fixes it, the trace is unreadable: {reason}")]
    Unreadable { config: String, reason: String },
}

/// Adds a counterexample to the corpus in `dir` in one step: minimizes it
/// (it must reproduce its violation; where it replays `fixed` on a
/// configuration that fixes it, the minimal schedule must too:
/// [`crate::minimize::minimize_keeping_fixed`]), names it by the corpus
/// scheme, stores it, replays it on every configuration that fixes it and
/// records what each shows ([`ON_FIX_FILE`]), and writes its timeline
/// snapshot. `force` replaces a stored trace of the same name with another
/// schedule.
pub fn add(dir: &Path, trace: &Trace, force: bool) -> Result<Added, AddError> {
    let fixes = fixing_configs(trace);
    let kept = fixes
        .iter()
        .find(|fix| crate::judge_on(trace, Some(fix)).outcome == Outcome::Fixed);
    let minimized = match kept {
        Some(fix) => crate::minimize::minimize_keeping_fixed(trace, fix)?,
        None => crate::minimize(trace)?,
    };
    let trace = minimized.trace;
    let name = file_name(&trace);
    let path = dir.join(&name);
    if path.exists() && !force && read(&path)?.schedule != trace.schedule {
        return Err(AddError::Exists { path });
    }
    let fix = fixes
        .iter()
        .map(|config| on_fix_outcome(&trace, config))
        .collect::<Result<Vec<_>, _>>()?;
    let path = write(dir, &trace)?;
    let snapshot = write_snapshot(dir, &name, &trace)?;
    let mut on_fix = read_on_fix(dir)?;
    on_fix.insert(name, fix.iter().cloned().collect());
    write_on_fix(dir, &on_fix)?;
    Ok(Added {
        path,
        steps_before: minimized.before,
        steps_after: minimized.after,
        replays: minimized.replays,
        millis: minimized.millis,
        fix,
        snapshot,
    })
}

/// What a bug's schedule shows on `config`, which fixes it: `fixed` or
/// `stale`; an error when the bug is still there.
fn on_fix_outcome(trace: &Trace, config: &Config) -> Result<(String, String), AddError> {
    let name = config.name();
    match crate::judge_on(trace, Some(config)).outcome {
        Outcome::Reproduced => Err(AddError::NotFixed { config: name }),
        Outcome::Unreadable(reason) => Err(AddError::Unreadable {
            config: name,
            reason,
        }),
        outcome => Ok((name, outcome.name().to_string())),
    }
}
