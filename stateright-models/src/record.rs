//! The recorded verdicts, regenerated from the checker (`chukei
//! expectations`): `scenarios/expectations.toml` holds every spec on every
//! preset and recorded variant, under every assumption setting, at default
//! sizes (verdicts and shortest lengths), and the tables of `docs/specs.md`
//! between their `<!-- generated:NAME -->` markers are rendered from that
//! file. Both are reviewed as diffs; `stateright-models/tests/record.rs`
//! fails when either disagrees with the checker.

use crate::checks::{property_names, CheckRequest, CheckResult, Progress};
use model::assume::{self, Assumptions};
use model::search::Limits;
use model::{SpecName, Verdict};
use patches::{Config, Preset};
use scenarios::expect::Expectation;
use std::collections::BTreeMap;

/// The command that regenerates the file and the tables (what a failing
/// freshness test tells you to run).
pub const REGENERATE: &str = "cargo run --release -- expectations --write";

/// The variants recorded next to the presets, each on the spec it is about
/// (its switch changes only that spec's behaviour).
const VARIANTS: [(SpecName, &str, &str); 2] = [
    (
        SpecName::TimerFree,
        "variants/epoch-uncleared.toml",
        include_str!("../../variants/epoch-uncleared.toml"),
    ),
    (
        SpecName::IrqOrder,
        "variants/guard-alone.toml",
        include_str!("../../variants/guard-alone.toml"),
    ),
];

/// One configuration recorded for one spec.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub spec: SpecName,
    pub config: Config,
    /// For a variant: its file and its own leading comment (why it is
    /// recorded), repeated above its entry.
    pub variant: Option<(&'static str, Vec<String>)>,
}

/// Every recorded configuration, in file order: per spec, the presets, then
/// its variants.
pub fn recorded() -> Vec<Recorded> {
    let mut all = Vec::new();
    for spec in SpecName::ALL {
        for preset in Preset::ALL {
            let config = preset.into();
            all.push(Recorded {
                spec,
                config,
                variant: None,
            });
        }
        for (of, path, text) in VARIANTS.into_iter().filter(|v| v.0 == spec) {
            let config = Config::from_variant_toml(text).expect("recorded variants are valid");
            let comment = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#').trim().to_string())
                .collect();
            all.push(Recorded {
                spec: of,
                config,
                variant: Some((path, comment)),
            });
        }
    }
    all
}

/// One recorded (spec, configuration, assumption setting): an `[[expect]]`
/// entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub spec: SpecName,
    pub config: Config,
    /// Complete.
    pub assumptions: Assumptions,
    /// (property, verdict, shortest length as `8` or `7+8`), in the spec's
    /// property order.
    pub verdicts: Vec<(String, Verdict, Option<String>)>,
}

impl Entry {
    fn of(spec: SpecName, config: &Config, results: &[CheckResult]) -> Entry {
        let assumptions = results.first().map_or_else(
            || assume::defaults(spec.assumption_params()),
            |r| r.assumptions.clone(),
        );
        Entry {
            spec,
            config: config.clone(),
            assumptions,
            verdicts: results
                .iter()
                .map(|r| (r.property.clone(), r.verdict, steps(r)))
                .collect(),
        }
    }

    /// A parsed expectation as an entry (to re-render the committed file).
    pub fn from_expectation(e: &Expectation) -> Entry {
        let verdicts = property_names(e.spec)
            .into_iter()
            .filter_map(|p| {
                let verdict = *e.verdicts.get(p)?;
                Some((p.to_string(), verdict, e.steps.get(p).cloned()))
            })
            .collect();
        Entry {
            spec: e.spec,
            config: e.config.clone(),
            assumptions: e.assumptions.clone(),
            verdicts,
        }
    }

    fn label(&self) -> Vec<String> {
        let mut items = assume::non_default(self.spec.assumption_params(), &self.assumptions);
        items.sort();
        items
    }
}

/// A counterexample's length as `chukei check` prints it.
fn steps(r: &CheckResult) -> Option<String> {
    match (r.counterexample_len, r.cycle_start) {
        (Some(n), Some(k)) => Some(format!("{k}+{}", n - k)),
        (Some(n), None) => Some(n.to_string()),
        (None, _) => None,
    }
}

/// What a recording run found.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub entries: Vec<Entry>,
    /// Runs a limit stopped before every property was decided, as
    /// `spec config assumptions` (only when a limit was given): not
    /// recorded.
    pub stopped: Vec<String>,
}

/// Checks every recorded configuration under every assumption setting;
/// `limits` leave the runs they stop out (see [`Recording::stopped`]).
pub fn record(limits: Limits, threads: usize, progress: &mut dyn FnMut(Progress)) -> Recording {
    let mut recording = Recording::default();
    for r in recorded() {
        for setting in assume::settings(r.spec.assumption_params()) {
            let results = CheckRequest::new(r.spec, r.config.clone())
                .assuming(&setting)
                .limits(limits)
                .threads(threads)
                .run(progress)
                .expect("default sizes and every assumption setting are valid");
            let entry = Entry::of(r.spec, &r.config, &results);
            if results.iter().any(|x| x.verdict == Verdict::Inconclusive) {
                let label = entry.label().join(",");
                recording
                    .stopped
                    .push(format!("{} {} {label}", r.spec, r.config.name()));
            } else {
                recording.entries.push(entry);
            }
        }
    }
    recording
}

const HEADER: &str = "\
# The verdicts `chukei check` expects, the source of its exit code: it exits 1
# only where a verdict differs from one recorded here. A (spec, configuration,
# sizes) without an entry is checked and printed, never \"unexpected\".
#
# GENERATED by `chukei expectations --write` (run from the repository root:
# `cargo run --release -- expectations --write`), which checks every spec on
# every preset and recorded variant under every assumption setting at default
# sizes, and also regenerates the tables of docs/specs.md. Do not edit by
# hand; review the diff. `chukei expectations` (without --write) compares.
#
# Each entry: `spec`; `preset` plus optional `patch` overrides (as on the
# command line: `patch = [\"irq=physical\"]`) name the switch set; optional
# `sizes` overrides (defaults fill the rest); optional `assume` overrides of
# the environment assumptions (`assume = [\"arrivals=one-terminal\"]`, the
# defaults fill the rest); `violated` and `holds` list properties; `steps`
# the shortest counterexample's length of each violated one (`p+c`: a lasso's
# prefix and cycle). `chukei reproduce` expects a cause on the real relay
# exactly where its spec property is violated at default sizes.
#
# Why each violation is expected: docs/specs.md.
";

const OTHER_SETTINGS: &str =
    "# ---------------------------------------------------------------------
# Every other assumption setting at default sizes (docs/specs.md has the
# tables and why each flip happens). `assume` lists the assumptions that
# differ from the defaults, as on the command line.
";

/// The expectations file for `entries`: first every recorded configuration
/// under the default assumptions, then every other setting, each part in
/// [`recorded`] order and the settings sorted by their `assume` list.
pub fn render_toml(entries: &[Entry]) -> String {
    let mut defaults = String::new();
    let mut others = String::new();
    for r in recorded() {
        let mut mine: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.spec == r.spec && e.config.patches == r.config.patches)
            .collect();
        mine.sort_by_key(|e| e.label());
        for e in mine {
            let label = e.label();
            if !label.is_empty() {
                others += &render_entry(e, &label);
                continue;
            }
            if let Some((path, comment)) = &r.variant {
                defaults += &format!("# {path} ({}):\n", r.config.name());
                for line in comment {
                    defaults += &format!("# {line}\n").replace("# \n", "#\n");
                }
            }
            defaults += &render_entry(e, &label);
        }
    }
    let text = format!("{HEADER}\n{defaults}{OTHER_SETTINGS}\n{others}");
    text.trim_end().to_string() + "\n"
}

fn render_entry(e: &Entry, label: &[String]) -> String {
    let list = |items: &[String]| {
        let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let pick = |verdict: Verdict| -> Vec<String> {
        e.verdicts
            .iter()
            .filter(|v| v.1 == verdict)
            .map(|v| v.0.clone())
            .collect()
    };
    let mut out = format!(
        "[[expect]]\nspec = \"{}\"\npreset = \"{}\"\n",
        e.spec,
        e.config.base.name()
    );
    let patch: Vec<String> = e
        .config
        .patches
        .diff(&e.config.base.patches())
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !patch.is_empty() {
        out += &format!("patch = {}\n", list(&patch));
    }
    if !label.is_empty() {
        out += &format!("assume = {}\n", list(label));
    }
    for (key, verdict) in [("violated", Verdict::Violated), ("holds", Verdict::Holds)] {
        let names = pick(verdict);
        if !names.is_empty() {
            out += &format!("{key} = {}\n", list(&names));
        }
    }
    let steps: Vec<String> = e
        .verdicts
        .iter()
        .filter_map(|(p, _, s)| Some(format!("{p} = \"{}\"", s.as_ref()?)))
        .collect();
    if !steps.is_empty() {
        out += &format!("steps = {{ {} }}\n", steps.join(", "));
    }
    out + "\n"
}

/// Where `fresh` (the checker's) and `committed` (the file's) disagree, one
/// line each; runs missing from `fresh` (stopped by a limit) are skipped.
pub fn differences(committed: &[Expectation], fresh: &[Expectation]) -> Vec<String> {
    let mut out = Vec::new();
    for f in fresh {
        let label = |e: &Expectation| {
            let items = assume::non_default(e.spec.assumption_params(), &e.assumptions);
            match items.is_empty() {
                true => format!("{} {}", e.spec, e.config.name()),
                false => format!(
                    "{} {} assuming {}",
                    e.spec,
                    e.config.name(),
                    items.join(",")
                ),
            }
        };
        let twin = committed.iter().find(|c| {
            (c.spec, c.config.patches, &c.sizes, &c.assumptions)
                == (f.spec, f.config.patches, &f.sizes, &f.assumptions)
        });
        let Some(c) = twin else {
            out.push(format!("{}: not recorded", label(f)));
            continue;
        };
        for property in property_names(f.spec) {
            let shown = |e: &Expectation| match (e.verdicts.get(property), e.steps.get(property)) {
                (Some(v), Some(s)) => format!("{v} ({s})"),
                (Some(v), None) => v.to_string(),
                (None, _) => "not recorded".to_string(),
            };
            let (was, now) = (shown(c), shown(f));
            if was != now {
                out.push(format!(
                    "{} {property}: recorded {was}, the checker says {now}",
                    label(f)
                ));
            }
        }
    }
    for c in committed {
        let checked = fresh.iter().any(|f| {
            (f.spec, f.config.patches, &f.assumptions) == (c.spec, c.config.patches, &c.assumptions)
        });
        let recorded_here = recorded()
            .iter()
            .any(|r| r.spec == c.spec && r.config.patches == c.config.patches);
        if !checked && !recorded_here {
            out.push(format!(
                "{} {}: recorded, but no longer a recorded configuration",
                c.spec,
                c.config.name()
            ));
        }
    }
    out
}

/// A generated region of a document that is missing or not closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{doc}: no generated region `{name}` (expected a line `{begin}` and, below it, `{end}`)")]
pub struct MarkerError {
    pub doc: String,
    pub name: String,
    pub begin: String,
    pub end: String,
}

/// The begin and end marker lines of the generated region `name`.
pub fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- generated:{name} by `chukei expectations --write`; do not edit -->"),
        format!("<!-- end generated:{name} -->"),
    )
}

/// `doc` with each region named in `regions` replaced by its text.
pub fn splice(
    doc_name: &str,
    doc: &str,
    regions: &BTreeMap<String, String>,
) -> Result<String, MarkerError> {
    let mut out = doc.to_string();
    for (name, text) in regions {
        let (begin, end) = markers(name);
        let missing = || MarkerError {
            doc: doc_name.to_string(),
            name: name.clone(),
            begin: begin.clone(),
            end: end.clone(),
        };
        let start = out.find(&begin).ok_or_else(missing)? + begin.len();
        let stop = start + out[start..].find(&end).ok_or_else(missing)?;
        out.replace_range(start..stop, &format!("\n{text}"));
    }
    Ok(out)
}

/// A cell: `holds`, `**violated** (8)`, or `-` where nothing is recorded.
fn cell(e: Option<&Expectation>, property: &str) -> String {
    let Some(e) = e else {
        return "-".to_string();
    };
    match (e.verdicts.get(property), e.steps.get(property)) {
        (Some(Verdict::Violated), Some(steps)) => format!("**violated** ({steps})"),
        (Some(Verdict::Violated), None) => "**violated**".to_string(),
        (Some(v), _) => v.to_string(),
        (None, _) => "-".to_string(),
    }
}

/// The recorded entry of (spec, configuration, setting).
fn find<'a>(
    all: &'a [Expectation],
    spec: SpecName,
    config: &Config,
    setting: &Assumptions,
) -> Option<&'a Expectation> {
    all.iter().find(|e| {
        e.spec == spec
            && e.config.patches == config.patches
            && &e.assumptions == setting
            && e.sizes == model::sizes::defaults(spec.size_params())
    })
}

/// One property's verdicts per assumption setting: the settings that give
/// the same row are merged, and an assumption that changes no cell of the
/// row is left out of the row's label.
struct PropertyRows {
    /// The assumptions that change some cell, in the spec's order.
    relevant: Vec<&'static str>,
    /// (label, cells) per distinct setting of the relevant assumptions, the
    /// defaults first.
    rows: Vec<(String, Vec<String>)>,
}

/// `same` says which cells count as equal: the tables tell lengths apart,
/// the list of changed verdicts only verdicts.
fn property_rows(
    all: &[Expectation],
    spec: SpecName,
    property: &str,
    same: fn(&str, &str) -> bool,
) -> PropertyRows {
    let columns: Vec<Recorded> = recorded().into_iter().filter(|r| r.spec == spec).collect();
    let params = spec.assumption_params();
    let settings = assume::settings(params);
    let row = |s: &Assumptions| -> Vec<String> {
        columns
            .iter()
            .map(|c| cell(find(all, spec, &c.config, s), property))
            .collect()
    };
    let relevant: Vec<&'static str> = params
        .iter()
        .filter(|a| {
            settings.iter().any(|s| {
                a.values.iter().any(|v| {
                    let mut other = s.clone();
                    other.insert(a.name.to_string(), v.to_string());
                    let (a, b) = (row(s), row(&other));
                    a.iter().zip(&b).any(|(x, y)| !same(x, y))
                })
            })
        })
        .map(|a| a.name)
        .collect();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for s in &settings {
        let items: Vec<String> = relevant.iter().map(|n| format!("{n}={}", s[*n])).collect();
        let label = match items.is_empty() {
            true => "any".to_string(),
            false => items.join(", "),
        };
        if !rows.iter().any(|(l, _)| *l == label) {
            rows.push((label, row(s)));
        }
    }
    PropertyRows { relevant, rows }
}

/// Per spec, a table of every assumption setting x recorded configuration
/// (presets and variants) per property, and the defaults matrix: the
/// generated regions of docs/specs.md, by marker name.
pub fn render_tables(all: &[Expectation]) -> BTreeMap<String, String> {
    let mut regions = BTreeMap::new();
    regions.insert("defaults".to_string(), render_defaults(all));
    for spec in SpecName::ALL {
        regions.insert(spec.name().to_string(), render_spec(all, spec));
    }
    regions.insert("changes".to_string(), render_changes(all));
    regions
}

fn render_defaults(all: &[Expectation]) -> String {
    let mut out = String::from("| spec | property |");
    for preset in Preset::ALL {
        out += &format!(" {preset} |");
    }
    out += "\n|---|---|";
    out += &"---|".repeat(Preset::ALL.len());
    out += "\n";
    for spec in SpecName::ALL {
        let defaults = assume::defaults(spec.assumption_params());
        for property in property_names(spec) {
            out += &format!("| {spec} | {property} |");
            for preset in Preset::ALL {
                let e = find(all, spec, &preset.into(), &defaults);
                out += &format!(" {} |", cell(e, property));
            }
            out += "\n";
        }
    }
    out
}

fn render_spec(all: &[Expectation], spec: SpecName) -> String {
    let columns: Vec<Recorded> = recorded().into_iter().filter(|r| r.spec == spec).collect();
    let mut out = String::from("| property | assumptions |");
    for c in &columns {
        out += &format!(" {} |", c.config.name());
    }
    out += "\n|---|---|";
    out += &"---|".repeat(columns.len());
    out += "\n";
    for property in property_names(spec) {
        for (label, cells) in property_rows(all, spec, property, |a, b| a == b).rows {
            out += &format!("| {property} | {label} | {} |\n", cells.join(" | "));
        }
    }
    out
}

/// Every verdict an assumption setting changes from the same
/// configuration's verdict under the defaults, one line per (spec,
/// configuration, property, setting of the assumptions that matter).
pub fn render_changes(all: &[Expectation]) -> String {
    let mut out = String::new();
    for line in changes(all) {
        out += &format!("* {line}\n");
    }
    if out.is_empty() {
        out += "* none\n";
    }
    out
}

/// The lines of [`render_changes`].
pub fn changes(all: &[Expectation]) -> Vec<String> {
    let mut lines = Vec::new();
    for spec in SpecName::ALL {
        let columns: Vec<Recorded> = recorded().into_iter().filter(|r| r.spec == spec).collect();
        for property in property_names(spec) {
            let same = |a: &str, b: &str| verdict_of(a) == verdict_of(b);
            let PropertyRows { relevant, rows } = property_rows(all, spec, property, same);
            let Some((_, default_row)) = rows.first() else {
                continue;
            };
            for (i, c) in columns.iter().enumerate() {
                let by_default = &default_row[i];
                let differing: Vec<String> = rows
                    .iter()
                    .filter(|(_, cells)| verdict_of(&cells[i]) != verdict_of(by_default))
                    .map(|(label, cells)| format!("{} under {label}", verdict_of(&cells[i])))
                    .collect();
                if differing.is_empty() {
                    continue;
                }
                let others: Vec<&str> = spec
                    .assumption_params()
                    .iter()
                    .map(|a| a.name)
                    .filter(|n| !relevant.contains(n))
                    .collect();
                let any = match others.is_empty() {
                    true => String::new(),
                    false => format!(" (any {})", others.join(", ")),
                };
                lines.push(format!(
                    "{spec} {} `{property}`: {by_default} under the defaults; {}{any}",
                    c.config.name(),
                    differing.join("; ")
                ));
            }
        }
    }
    lines
}

/// The verdict word of a cell (a length change is no verdict change).
fn verdict_of(cell: &str) -> &str {
    let word = cell.split_whitespace().next().unwrap_or("");
    word.trim_matches('*')
}
