//! The verdicts we expect, from the data file `scenarios/expectations.toml`:
//! per (spec, switch set, sizes), which properties are violated and which
//! hold. `chukei check` exits 1 only where a verdict differs from a recorded
//! one; `chukei reproduce` expects a cause to reproduce on the real relay
//! exactly where its spec property is expected violated at default sizes, so
//! a change that breaks a fix, or makes a bug disappear, fails CI.
//!
//! Where nothing is recorded (other sizes, other switch sets) there is no
//! expectation: non-default sizes may legitimately change a verdict (e.g.
//! `telegrams=1` leaves no next telegram for a stale timeout notice to hit).
//! Why each violation is expected is in docs/specs.md.

use model::assume::{self, Assumptions};
use model::sizes::resolve;
use model::{SpecName, Verdict};
use patches::{Config, Patches, Preset};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The expectations file, compiled in so every tool reads the same one.
pub const EXPECTATIONS_TOML: &str = include_str!("../expectations.toml");

/// One recorded (spec, switch set, sizes) and its verdicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub spec: SpecName,
    /// The entry's configuration (its preset plus `patch` overrides).
    pub config: Config,
    /// Complete sizes (defaults plus the entry's overrides).
    pub sizes: BTreeMap<String, u64>,
    /// Complete assumptions (defaults plus the entry's `assume` overrides).
    pub assumptions: Assumptions,
    pub verdicts: BTreeMap<String, Verdict>,
    /// The shortest counterexample's length of each violated property, as
    /// `chukei check` prints it (`8`, or `7+8` for a lasso's prefix+cycle),
    /// where recorded; the docs tables show it.
    pub steps: BTreeMap<String, String>,
}

/// An entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    spec: String,
    preset: Preset,
    #[serde(default)]
    patch: Vec<String>,
    #[serde(default)]
    sizes: BTreeMap<String, u64>,
    /// `name=value` assumption overrides, as on the command line.
    #[serde(default)]
    assume: Vec<String>,
    #[serde(default)]
    violated: Vec<String>,
    #[serde(default)]
    holds: Vec<String>,
    /// `property = "length"` for violated properties.
    #[serde(default)]
    steps: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    expect: Vec<Entry>,
}

/// Why an expectations file is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expectations file: {0}")]
pub struct ExpectError(String);

/// Parses an expectations file: every name must be known, and a property may
/// be recorded once per (spec, switch set, sizes).
pub fn parse(text: &str) -> Result<Vec<Expectation>, ExpectError> {
    let file: File = toml::from_str(text).map_err(|e| ExpectError(e.to_string()))?;
    let mut all: Vec<Expectation> = Vec::new();
    for entry in file.expect {
        let expectation = entry.resolve()?;
        if let Some(twin) = all.iter_mut().find(|e| e.same_run(&expectation)) {
            twin.steps.extend(expectation.steps);
            for (property, verdict) in expectation.verdicts {
                if twin.verdicts.insert(property.clone(), verdict).is_some() {
                    return Err(ExpectError(format!(
                        "{} on {}: `{property}` is recorded twice",
                        twin.spec,
                        twin.config.name()
                    )));
                }
            }
        } else {
            all.push(expectation);
        }
    }
    Ok(all)
}

impl Entry {
    fn resolve(self) -> Result<Expectation, ExpectError> {
        let bad = |e: &dyn std::fmt::Display| ExpectError(e.to_string());
        let spec: SpecName = self.spec.parse().map_err(|e| bad(&e))?;
        let config = Config::with_patches(self.preset, &self.patch).map_err(|e| bad(&e))?;
        let sizes = resolve(spec.name(), spec.size_params(), &self.sizes).map_err(|e| bad(&e))?;
        let assumptions =
            assume::parse_overrides(spec.name(), spec.assumption_params(), &self.assume)
                .map_err(|e| bad(&e))?;
        let known = spec_properties(spec, &config.patches);
        let mut verdicts = BTreeMap::new();
        let listed = self
            .violated
            .iter()
            .map(|p| (p, Verdict::Violated))
            .chain(self.holds.iter().map(|p| (p, Verdict::Holds)));
        for (property, verdict) in listed {
            if !known.contains(&property.as_str()) {
                return Err(ExpectError(format!(
                    "{spec} has no property `{property}` (valid: {})",
                    known.join(", ")
                )));
            }
            if verdicts.insert(property.clone(), verdict).is_some() {
                return Err(ExpectError(format!(
                    "{spec} on {}: `{property}` is recorded twice",
                    config.name()
                )));
            }
        }
        for property in self.steps.keys() {
            if verdicts.get(property) != Some(&Verdict::Violated) {
                return Err(ExpectError(format!(
                    "{spec} on {}: `steps` lists `{property}`, which is not listed as violated",
                    config.name()
                )));
            }
        }
        Ok(Expectation {
            spec,
            config,
            sizes,
            assumptions,
            verdicts,
            steps: self.steps,
        })
    }
}

impl Expectation {
    fn same_run(&self, other: &Expectation) -> bool {
        self.spec == other.spec
            && self.config.patches == other.config.patches
            && self.sizes == other.sizes
            && self.assumptions == other.assumptions
    }
}

/// The property names of `spec`.
fn spec_properties(spec: SpecName, patches: &Patches) -> Vec<&'static str> {
    struct Names;
    impl model::SpecJob for Names {
        type Output = Vec<&'static str>;
        fn run<S: model::SharedSpec>(self, spec: S) -> Vec<&'static str> {
            spec.properties().iter().map(|p| p.name).collect()
        }
    }
    spec.build(*patches, &BTreeMap::new(), Names)
        .expect("default sizes are valid")
}

/// The compiled-in expectations (`scenarios/expectations.toml`).
pub fn expectations() -> &'static [Expectation] {
    static ALL: OnceLock<Vec<Expectation>> = OnceLock::new();
    ALL.get_or_init(|| {
        parse(EXPECTATIONS_TOML).expect("scenarios/expectations.toml is valid (its unit test)")
    })
}

/// The recorded verdict of `property` of `spec` on switch set `patches` at
/// `sizes` (partial; defaults fill the rest) under the default assumptions,
/// if one is recorded.
pub fn expected_verdict(
    spec: SpecName,
    patches: &Patches,
    sizes: &BTreeMap<String, u64>,
    property: &str,
) -> Option<Verdict> {
    expected_verdict_assuming(spec, patches, sizes, &BTreeMap::new(), property)
}

/// As [`expected_verdict`], under `assumptions` (partial; defaults fill the
/// rest).
pub fn expected_verdict_assuming(
    spec: SpecName,
    patches: &Patches,
    sizes: &BTreeMap<String, u64>,
    assumptions: &BTreeMap<String, String>,
    property: &str,
) -> Option<Verdict> {
    verdict_in(expectations(), spec, patches, sizes, assumptions, property)
}

/// As [`expected_verdict`], from another set of expectations (`chukei check
/// --expectations FILE`).
pub fn verdict_in(
    expectations: &[Expectation],
    spec: SpecName,
    patches: &Patches,
    sizes: &BTreeMap<String, u64>,
    assumptions: &BTreeMap<String, String>,
    property: &str,
) -> Option<Verdict> {
    let sizes = resolve(spec.name(), spec.size_params(), sizes).ok()?;
    let assumed = assume::resolve(spec.name(), spec.assumption_params(), assumptions).ok()?;
    expectations
        .iter()
        .find(|e| {
            e.spec == spec
                && e.config.patches == *patches
                && e.sizes == sizes
                && e.assumptions == assumed
        })
        .and_then(|e| e.verdicts.get(property).copied())
}

/// The recorded verdict at default sizes.
pub fn expected_at_defaults(spec: SpecName, patches: &Patches, property: &str) -> Option<Verdict> {
    expected_verdict(spec, patches, &BTreeMap::new(), property)
}

/// The expectations as a table, one line per recorded verdict (what the
/// snapshot reviews).
pub fn render(expectations: &[Expectation]) -> String {
    let mut out = String::new();
    for e in expectations {
        let sizes: Vec<String> = e.sizes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let assumed = assume::non_default(e.spec.assumption_params(), &e.assumptions);
        let assumed = if assumed.is_empty() {
            String::new()
        } else {
            format!(" assuming {}", assumed.join(","))
        };
        for (property, verdict) in &e.verdicts {
            out += &format!(
                "{:<10} {:<24} {:<28} {:<26} {verdict}{assumed}\n",
                e.spec.name(),
                e.config.name(),
                sizes.join(","),
                property
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations() {
        insta::assert_snapshot!(render(super::expectations()));
    }

    #[test]
    fn every_preset_of_every_spec_is_recorded_at_default_sizes() {
        for spec in SpecName::ALL {
            for preset in Preset::ALL {
                for property in spec_properties(spec, &preset.patches()) {
                    assert!(
                        expected_at_defaults(spec, &preset.patches(), property).is_some(),
                        "{spec} {preset} {property} has no expectation"
                    );
                }
            }
        }
    }

    #[test]
    fn other_sizes_and_switch_sets_have_no_expectation() {
        let jan = Preset::Jan2016.patches();
        let prop = "no_spurious_termination";
        assert_eq!(
            expected_at_defaults(SpecName::TimerFree, &jan, prop),
            Some(Verdict::Violated)
        );
        let one = BTreeMap::from([("telegrams".to_string(), 1)]);
        assert_eq!(
            expected_verdict(SpecName::TimerFree, &jan, &one, prop),
            None
        );
        let mut logical_apr = Preset::Apr2016.patches();
        logical_apr.set("irq", "logical").unwrap();
        assert_eq!(
            expected_at_defaults(SpecName::IrqOrder, &logical_apr, "relay_never_hangs"),
            None
        );
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let entry = "[[expect]]\nspec = \"irq-order\"\npreset = \"2016-01\"\n";
        let cases = [
            ("holds = [\"relay_hangs\"]", "has no property `relay_hangs`"),
            (
                "holds = [\"relay_never_hangs\"]\nviolated = [\"relay_never_hangs\"]",
                "recorded twice",
            ),
            ("patch = [\"irq=bios\"]", "unknown value `bios`"),
            ("sizes = { cards = 2 }", "cards"),
            ("verdict = \"holds\"", "verdict"),
            (
                "holds = [\"relay_never_hangs\"]\nsteps = { relay_never_hangs = \"4\" }",
                "not listed as violated",
            ),
        ];
        for (extra, message) in cases {
            let err = parse(&format!("{entry}{extra}\n")).unwrap_err();
            assert!(err.to_string().contains(message), "{extra}: {err}");
        }
        let twice = format!("{entry}holds = [\"relay_never_hangs\"]\n");
        let err = parse(&format!("{twice}{twice}")).unwrap_err();
        assert!(err.to_string().contains("recorded twice"), "{err}");
    }
}
