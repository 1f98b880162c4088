//! `chukei expectations`: the recorded verdicts (scenarios/expectations.toml)
//! and the generated tables of docs/specs.md, regenerated from the checker
//! or compared with it.

use anyhow::{Context, Result};
use model::search::Limits;
use scenarios::expect;
use stateright_models::record::{self, Entry};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rewrite the expectations file and the docs tables (review the diff);
    /// without it, compare them with the checker and exit 1 where they
    /// differ.
    #[arg(long)]
    write: bool,
    /// The expectations file (run from the repository root, or give it).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "scenarios/expectations.toml"
    )]
    file: PathBuf,
    /// The document with the generated tables.
    #[arg(long, value_name = "FILE", default_value = "docs/specs.md")]
    docs: PathBuf,
    /// Print every verdict an assumption setting changes from the defaults
    /// (the docs' `changes` list), from the fresh run.
    #[arg(long)]
    changes: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let committed_text = read(&args.file)?;
    let doc = read(&args.docs)?;
    let committed =
        expect::parse(&committed_text).with_context(|| args.file.display().to_string())?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut progress = crate::check::progress_printer(args.quiet);
    let recording = record::record(Limits::NONE, threads, &mut progress);
    let text = record::render_toml(&recording.entries);
    let fresh = expect::parse(&text).context("the generated expectations")?;
    let docs_name = args.docs.display().to_string();
    let new_doc = record::splice(&docs_name, &doc, &record::render_tables(&fresh))?;
    let checks: usize = recording.entries.iter().map(|e| e.verdicts.len()).sum();
    say!(
        "{} runs, {checks} verdicts ({} recorded spec configurations x every assumption setting, default sizes)",
        recording.entries.len(),
        record::recorded().len()
    );
    if args.changes {
        for line in record::changes(&fresh) {
            say!("changed: {line}");
        }
    }
    if args.write {
        write_if_changed(&args.file, &committed_text, &text)?;
        write_if_changed(&args.docs, &doc, &new_doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut stale = record::differences(&committed, &fresh);
    let canonical = record::render_toml(
        &committed
            .iter()
            .map(Entry::from_expectation)
            .collect::<Vec<_>>(),
    );
    if stale.is_empty() && (canonical != committed_text || text != committed_text) {
        stale.push(format!(
            "{}: not in the generated format",
            args.file.display()
        ));
    }
    if new_doc != doc {
        stale.push(format!("{docs_name}: the generated tables differ"));
    }
    for line in &stale {
        say!("STALE {line}");
    }
    if stale.is_empty() {
        say!(
            "{} and {docs_name} agree with the checker",
            args.file.display()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        say!("regenerate with: {}", record::REGENERATE);
        Ok(ExitCode::from(1))
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (run from the repository root, or pass --file/--docs)",
            path.display()
        )
    })
}

fn write_if_changed(path: &Path, old: &str, new: &str) -> Result<()> {
    if old == new {
        say!("{}: unchanged", path.display());
        return Ok(());
    }
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))?;
    say!("{}: rewritten (review the diff)", path.display());
    Ok(())
}
