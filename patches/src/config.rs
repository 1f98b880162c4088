//! A configuration: a preset plus switch overrides (`--patch irq=logical`),
//! or a variant file naming one. Any of the switch combinations can be
//! asked for, not only the four presets.
//!
//! Every switch and value has one name, used on the command line, in variant
//! files, in trace files and in JSON output: [`SWITCHES`] lists them.

use crate::{Admission, CsRule, HsmGuard, IrqMode, Monitor, Patches, Preset, TimerFix};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One value of a switch, by its name.
trait Setting: Copy + PartialEq + Sized + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;

    fn parse(switch: &'static str, given: &str) -> Result<Self, PatchError> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == given)
            .ok_or_else(|| PatchError::UnknownValue {
                switch,
                given: given.to_string(),
                expected: Self::names(),
            })
    }

    fn names() -> String {
        Self::ALL
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Names a switch's values and makes serde use those names.
macro_rules! setting {
    ($ty:ident, $switch:literal { $($var:ident => $name:literal),+ $(,)? }) => {
        impl Setting for $ty {
            const ALL: &'static [Self] = &[$($ty::$var),+];
            fn name(self) -> &'static str {
                match self { $($ty::$var => $name),+ }
            }
        }

        impl $ty {
            /// The value's name in `--patch`, variant files and traces.
            pub fn name(self) -> &'static str {
                Setting::name(self)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(Setting::name(*self))
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let given = String::deserialize(d)?;
                <$ty as Setting>::parse($switch, &given).map_err(serde::de::Error::custom)
            }
        }
    };
}

setting!(TimerFix, "timer_fix" {
    None => "none",
    AllocGuard => "alloc-guard",
    Epoch => "epoch",
    EpochUncleared => "epoch-uncleared",
});
setting!(IrqMode, "irq" { Logical => "logical", Physical => "physical" });
setting!(Monitor, "monitor" { On => "on", Off => "off" });
setting!(HsmGuard, "hsm_guard" { None => "none", ErrorOnInterrupted => "error-on-interrupted" });
setting!(CsRule, "cs_rule" { Legacy => "legacy", Improved => "improved" });
setting!(Admission, "admission" {
    FirstCome => "first-come",
    OldestRetryFirst => "oldest-retry-first",
});

/// A switch as the command line knows it: its name, values and meaning.
#[derive(Clone, Copy, Debug)]
pub struct Switch {
    pub name: &'static str,
    pub values: fn() -> String,
    pub doc: &'static str,
}

/// Every switch, in the order of [`Patches`]'s fields.
pub const SWITCHES: [Switch; 6] = [
    Switch {
        name: "timer_fix",
        values: TimerFix::names,
        doc: "what the AP does with a timeout notice (root cause 2)",
    },
    Switch {
        name: "irq",
        values: IrqMode::names,
        doc: "BIOS interrupt delivery mode (root cause 1)",
    },
    Switch {
        name: "monitor",
        values: Monitor::names,
        doc: "the hardware monitor's periodic interrupt",
    },
    Switch {
        name: "hsm_guard",
        values: HsmGuard::names,
        doc: "how the relay waits for the HSM's interrupt",
    },
    Switch {
        name: "cs_rule",
        values: CsRule::names,
        doc: "what a CS does on a connection-excess answer",
    },
    Switch {
        name: "admission",
        values: Admission::names,
        doc: "who gets a freed connection: first come, or the oldest CS answered connection excess",
    },
];

fn switch_names() -> String {
    SWITCHES.map(|s| s.name).join(", ")
}

/// A bad `--patch` or variant-file switch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("patch `{0}` is not NAME=VALUE (switches: {names})", names = switch_names())]
    Malformed(String),
    #[error("unknown switch `{given}` (expected one of: {expected})")]
    UnknownSwitch { given: String, expected: String },
    #[error("unknown value `{given}` for switch `{switch}` (expected one of: {expected})")]
    UnknownValue {
        switch: &'static str,
        given: String,
        expected: String,
    },
}

impl Patches {
    /// The value of switch `name`, by its name (`None`: no such switch).
    pub fn get(&self, name: &str) -> Option<&'static str> {
        Some(match name {
            "timer_fix" => self.timer_fix.name(),
            "irq" => self.irq_mode.name(),
            "monitor" => self.monitor.name(),
            "hsm_guard" => self.hsm_guard.name(),
            "cs_rule" => self.cs_rule.name(),
            "admission" => self.admission.name(),
            _ => return None,
        })
    }

    /// Sets switch `name` to the value named `value`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), PatchError> {
        match name {
            "timer_fix" => self.timer_fix = TimerFix::parse("timer_fix", value)?,
            "irq" => self.irq_mode = IrqMode::parse("irq", value)?,
            "monitor" => self.monitor = Monitor::parse("monitor", value)?,
            "hsm_guard" => self.hsm_guard = HsmGuard::parse("hsm_guard", value)?,
            "cs_rule" => self.cs_rule = CsRule::parse("cs_rule", value)?,
            "admission" => self.admission = Admission::parse("admission", value)?,
            _ => {
                return Err(PatchError::UnknownSwitch {
                    given: name.to_string(),
                    expected: switch_names(),
                })
            }
        }
        Ok(())
    }

    /// Applies one `NAME=VALUE` override.
    pub fn apply(&mut self, patch: &str) -> Result<(), PatchError> {
        let (name, value) = patch
            .split_once('=')
            .ok_or_else(|| PatchError::Malformed(patch.to_string()))?;
        self.set(name.trim(), value.trim())
    }

    /// Every switch as `(name, value)`, in [`SWITCHES`] order.
    pub fn switches(&self) -> Vec<(&'static str, &'static str)> {
        SWITCHES
            .iter()
            .map(|s| (s.name, self.get(s.name).expect("a listed switch")))
            .collect()
    }

    /// The switches whose value differs from `base`, as `(name, value)`.
    pub fn diff(&self, base: &Patches) -> Vec<(&'static str, &'static str)> {
        self.switches()
            .into_iter()
            .filter(|(name, value)| base.get(name) != Some(value))
            .collect()
    }

    /// Every combination of the switches' values.
    pub fn all() -> Vec<Patches> {
        let mut all = Vec::new();
        for &timer_fix in TimerFix::ALL {
            for &irq_mode in IrqMode::ALL {
                for &monitor in Monitor::ALL {
                    for &hsm_guard in HsmGuard::ALL {
                        for &cs_rule in CsRule::ALL {
                            for &admission in Admission::ALL {
                                all.push(Patches {
                                    timer_fix,
                                    irq_mode,
                                    monitor,
                                    hsm_guard,
                                    cs_rule,
                                    admission,
                                });
                            }
                        }
                    }
                }
            }
        }
        all
    }

    /// The preset whose switches these are exactly, if any.
    pub fn preset(&self) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.patches() == *self)
    }
}

impl fmt::Display for Patches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .switches()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

impl From<Preset> for Patches {
    fn from(preset: Preset) -> Patches {
        preset.patches()
    }
}

/// A named configuration from a variant file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A configuration to check or run: a base preset, the full switch set, and
/// the variant file it came from, if any.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub base: Preset,
    pub patches: Patches,
    pub variant: Option<Variant>,
}

/// A variant file as written (TOML).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantFile {
    name: String,
    #[serde(default)]
    description: String,
    base: Preset,
    #[serde(default)]
    switches: BTreeMap<String, String>,
}

/// A bad configuration: a bad patch or a bad variant file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error("variant file is not valid: {0}")]
    Toml(String),
    #[error(
        "variant name `{0}` must be non-empty letters, digits, `-`, `_` or `.`, and not a preset's name"
    )]
    BadName(String),
}

impl Config {
    /// A preset as it is.
    pub fn preset(base: Preset) -> Config {
        Config {
            base,
            patches: base.patches(),
            variant: None,
        }
    }

    /// `base` with `NAME=VALUE` overrides applied in order.
    pub fn with_patches(base: Preset, patches: &[String]) -> Result<Config, PatchError> {
        Config::preset(base).patched(patches)
    }

    /// This configuration with `NAME=VALUE` overrides applied in order.
    pub fn patched(mut self, patches: &[String]) -> Result<Config, PatchError> {
        for patch in patches {
            self.patches.apply(patch)?;
        }
        Ok(self)
    }

    /// Reads a variant file: `name`, `description`, `base` (a preset name)
    /// and a `[switches]` table of overrides.
    pub fn from_variant_toml(text: &str) -> Result<Config, ConfigError> {
        let file: VariantFile =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        let valid_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        if file.name.is_empty()
            || !file.name.chars().all(valid_char)
            || file.name.parse::<Preset>().is_ok()
        {
            return Err(ConfigError::BadName(file.name));
        }
        let mut patches = file.base.patches();
        for (name, value) in &file.switches {
            patches.set(name, value)?;
        }
        Ok(Config {
            base: file.base,
            patches,
            variant: Some(Variant {
                name: file.name,
                description: file.description,
            }),
        })
    }

    /// The configuration's name: a variant's own name, or the base preset
    /// followed by each switch that differs from it
    /// (`2016-01+hsm_guard=error-on-interrupted`).
    pub fn name(&self) -> String {
        if let Some(variant) = &self.variant {
            return variant.name.clone();
        }
        let mut name = self.base.name().to_string();
        for (switch, value) in self.patches.diff(&self.base.patches()) {
            name += &format!("+{switch}={value}");
        }
        name
    }

    /// Whether this is one of the presets, unchanged.
    pub fn is_preset(&self) -> bool {
        self.variant.is_none() && self.patches == self.base.patches()
    }

    /// The `--preset`/`--patch` arguments that give this switch set (a
    /// variant's too, so a command line can be copied without the file).
    pub fn cli_args(&self) -> String {
        let mut args = format!("--preset {}", self.base);
        for (switch, value) in self.patches.diff(&self.base.patches()) {
            args += &format!(" --patch {switch}={value}");
        }
        args
    }
}

impl From<Preset> for Config {
    fn from(preset: Preset) -> Config {
        Config::preset(preset)
    }
}

impl From<&Config> for Patches {
    fn from(config: &Config) -> Patches {
        config.patches
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_is_reachable_from_every_preset() {
        let all = Patches::all();
        // 4 timer fixes (one of them the deliberately wrong epoch fix) x 2^5.
        assert_eq!(all.len(), 128);
        for base in Preset::ALL {
            for patches in &all {
                let overrides: Vec<String> = patches
                    .switches()
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect();
                let config = Config::with_patches(base, &overrides).unwrap();
                assert_eq!(config.patches, *patches);
                let json = serde_json::to_string(&config.patches).unwrap();
                assert_eq!(serde_json::from_str::<Patches>(&json).unwrap(), *patches);
            }
        }
    }

    #[test]
    fn a_config_is_named_by_its_base_and_its_differences() {
        let guard = Config::with_patches(
            Preset::Jan2016,
            &[
                "hsm_guard=error-on-interrupted".into(),
                "irq=logical".into(),
            ],
        )
        .unwrap();
        assert_eq!(guard.name(), "2016-01+hsm_guard=error-on-interrupted");
        assert_eq!(
            guard.cli_args(),
            "--preset 2016-01 --patch hsm_guard=error-on-interrupted"
        );
        assert!(!guard.is_preset());
        assert!(Config::preset(Preset::Apr2016).is_preset());
        assert_eq!(Config::preset(Preset::Apr2016).name(), "2016-04");
    }

    #[test]
    fn bad_patches_list_the_valid_names() {
        let err = Config::with_patches(Preset::Jan2016, &["irq=bios".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown value `bios` for switch `irq` (expected one of: logical, physical)"
        );
        let err = Config::with_patches(Preset::Jan2016, &["irq_mode=logical".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown switch `irq_mode` (expected one of: timer_fix, irq, monitor, hsm_guard, cs_rule, admission)"
        );
        let err = Config::with_patches(Preset::Jan2016, &["irq".into()]).unwrap_err();
        assert!(err.to_string().contains("is not NAME=VALUE"), "{err}");
    }

    #[test]
    fn patches_serialize_with_the_command_line_names() {
        let json = serde_json::to_string(&Preset::Mar2016.patches()).unwrap();
        assert_eq!(
            json,
            r#"{"timer_fix":"none","irq":"logical","monitor":"off","hsm_guard":"error-on-interrupted","cs_rule":"legacy","admission":"first-come"}"#
        );
    }

    const GUARD_ALONE: &str = r#"
name = "guard-alone"
description = "The March HSM guard on its own"
base = "2016-01"
[switches]
hsm_guard = "error-on-interrupted"
"#;

    #[test]
    fn a_variant_file_names_a_configuration() {
        let config = Config::from_variant_toml(GUARD_ALONE).unwrap();
        assert_eq!(config.name(), "guard-alone");
        assert_eq!(config.base, Preset::Jan2016);
        assert_eq!(config.patches.hsm_guard, HsmGuard::ErrorOnInterrupted);
        assert_eq!(config.patches.monitor, Monitor::On);
        assert_eq!(
            config.cli_args(),
            "--preset 2016-01 --patch hsm_guard=error-on-interrupted"
        );
    }

    #[test]
    fn bad_variant_files_are_clear_errors() {
        let bad_value = GUARD_ALONE.replace("error-on-interrupted", "maybe");
        let err = Config::from_variant_toml(&bad_value).unwrap_err();
        assert!(err.to_string().contains("unknown value `maybe`"), "{err}");
        let bad_base = GUARD_ALONE.replace("2016-01", "2016-02");
        let err = Config::from_variant_toml(&bad_base).unwrap_err();
        assert!(
            err.to_string().contains("unknown preset `2016-02`"),
            "{err}"
        );
        let preset_name = GUARD_ALONE.replace("guard-alone", "2016-04");
        let err = Config::from_variant_toml(&preset_name).unwrap_err();
        assert!(matches!(err, ConfigError::BadName(_)), "{err}");
        let extra = format!("{GUARD_ALONE}\nowner = \"me\"\n");
        let err = Config::from_variant_toml(&extra).unwrap_err();
        assert!(err.to_string().contains("owner"), "{err}");
    }
}
