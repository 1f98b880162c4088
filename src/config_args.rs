//! The configuration arguments every command that runs a spec or the relay
//! takes: `--preset`, `--patch NAME=VALUE` overrides, `--variant FILE`.

use crate::{all_or_one, one, Selection};
use anyhow::{Context, Result};
use patches::{Config, PatchError, Preset, SWITCHES};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Preset (the base the `--patch` overrides apply to).
    #[arg(long, default_value = "all", value_parser = all_or_one::<Preset>())]
    preset: Selection<Preset>,
    /// Override one switch of the preset (repeatable), e.g.
    /// `--patch hsm_guard=error-on-interrupted --patch irq=logical`.
    #[arg(long = "patch", value_name = "NAME=VALUE", value_parser = parse_patch, long_help = patch_help())]
    patches: Vec<String>,
    /// A variant file (TOML: `name`, `description`, `base` preset and a
    /// `[switches]` table of overrides) instead of `--preset`.
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    variant: Option<PathBuf>,
}

impl ConfigArgs {
    /// The selected configurations: each preset (or the variant) with the
    /// overrides applied.
    pub fn configs(&self) -> Result<Vec<Config>> {
        let bases = match &self.variant {
            Some(path) => vec![read_variant(path)?],
            None => self.preset.0.iter().map(|&p| Config::preset(p)).collect(),
        };
        bases
            .into_iter()
            .map(|c| c.patched(&self.patches).map_err(Into::into))
            .collect()
    }
}

/// One configuration, for a command that runs on exactly one (`validate`):
/// `--preset` (unless `--variant`), `--patch` overrides, `--variant FILE`.
#[derive(clap::Args, Debug, Clone)]
pub struct OneConfigArgs {
    /// Preset (the base the `--patch` overrides apply to).
    #[arg(long, value_parser = one::<Preset>(), required_unless_present = "variant")]
    preset: Option<Preset>,
    /// Override one switch of the preset (repeatable), e.g.
    /// `--patch hsm_guard=error-on-interrupted --patch irq=logical`.
    #[arg(long = "patch", value_name = "NAME=VALUE", value_parser = parse_patch, long_help = patch_help())]
    patches: Vec<String>,
    /// A variant file (TOML: `name`, `description`, `base` preset and a
    /// `[switches]` table of overrides) instead of `--preset`.
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    variant: Option<PathBuf>,
}

impl OneConfigArgs {
    /// The configuration: the preset (or the variant) with the overrides.
    pub fn config(&self) -> Result<Config> {
        let base = match (&self.variant, self.preset) {
            (Some(path), _) => read_variant(path)?,
            (None, Some(preset)) => Config::preset(preset),
            (None, None) => anyhow::bail!("give --preset or --variant"),
        };
        Ok(base.patched(&self.patches)?)
    }
}

pub fn read_variant(path: &PathBuf) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading variant file {}", path.display()))?;
    Config::from_variant_toml(&text).with_context(|| format!("variant file {}", path.display()))
}

/// Checks one `NAME=VALUE` at parse time, so a typo is a usage error.
pub fn parse_patch(patch: &str) -> Result<String, PatchError> {
    Preset::Jan2016.patches().apply(patch)?;
    Ok(patch.to_string())
}

/// `--help` for `--patch`: every switch with its values.
fn patch_help() -> String {
    let mut help = String::from(
        "Override one switch of the preset (repeatable), e.g. \
         `--patch hsm_guard=error-on-interrupted --patch irq=logical`. Switches:",
    );
    for switch in SWITCHES {
        help += &format!(
            "\n  {}: {} ({})",
            switch.name,
            (switch.values)(),
            switch.doc
        );
    }
    help
}

/// A configuration named on the command line by a preset's name or a
/// variant file's path, with `NAME=VALUE` overrides (`chukei review --base
/// 2016-01 --base-patch irq=physical`, `--change variants/guard-alone.toml`).
pub fn named_config(preset_or_file: &str, patches: &[String]) -> Result<Config> {
    let config = match preset_or_file.parse::<Preset>() {
        Ok(preset) => Config::preset(preset),
        Err(_) if std::path::Path::new(preset_or_file).is_file() => {
            read_variant(&PathBuf::from(preset_or_file))?
        }
        Err(_) => anyhow::bail!(
            "`{preset_or_file}` is neither a preset ({}) nor a variant file",
            Preset::names()
        ),
    };
    Ok(config.patched(patches)?)
}
