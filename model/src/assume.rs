//! Environment assumptions: named spec parameters whose values are words
//! (`arrivals=several`), each with a documented default. Where the sizes
//! (`crate::sizes`) say how big the model is, the assumptions say what the
//! world around the code may do: how telegrams arrive, how notices are
//! delivered, how often the monitor polls, how long demand lasts.
//!
//! Every verdict is printed with the assumptions it was reached under and
//! every trace records them. Names and values are kebab-case, the same on
//! the command line (`--assume`), in expectations, traces and JSON.
//! [`settings`] enumerates every combination, so a checker or a reviewer can
//! ask a question under each of them.

use std::collections::BTreeMap;

/// One assumption of a spec: its name, its values, and its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assumption {
    pub name: &'static str,
    /// Every value, the default first.
    pub values: &'static [&'static str],
    /// What the assumption is about.
    pub help: &'static str,
    /// What each value means, in the order of `values`.
    pub meanings: &'static [&'static str],
    /// Why the default is the default.
    pub why_default: &'static str,
}

impl Assumption {
    pub fn default_value(&self) -> &'static str {
        self.values[0]
    }
}

/// The fairness assumption of every spec's liveness properties
/// (`--fairness none|weak`, the same as `--assume fairness=...`).
pub const FAIRNESS: Assumption = Assumption {
    name: "fairness",
    values: &["weak", "none"],
    help: "the fairness the liveness properties assume",
    meanings: &[
        "weak fairness of each property's named steps: a step enabled forever is taken",
        "none: any step may be postponed forever, so any cycle that avoids the goal is a counterexample",
    ],
    why_default: "an OS scheduler, an HSM and CSs that keep running take their steps eventually",
};

/// Whether the setting assumes no fairness.
pub fn unfair(setting: &Assumptions) -> bool {
    setting.get(FAIRNESS.name).is_some_and(|v| v == "none")
}

/// A complete setting: every assumption of a spec with its value.
pub type Assumptions = BTreeMap<String, String>;

/// A bad `--assume` override.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssumeError {
    #[error("assumption `{0}` is not of the form name=value")]
    Malformed(String),
    #[error("unknown assumption `{given}` for {spec} (valid: {valid})")]
    UnknownName {
        spec: &'static str,
        given: String,
        valid: String,
    },
    #[error("unknown value `{given}` for assumption `{name}` (valid: {valid})")]
    UnknownValue {
        name: String,
        given: String,
        valid: String,
    },
}

/// Every assumption at its default.
pub fn defaults(params: &[Assumption]) -> Assumptions {
    params
        .iter()
        .map(|a| (a.name.to_string(), a.default_value().to_string()))
        .collect()
}

/// Checks a (possibly partial) setting and fills in the defaults.
pub fn resolve(
    spec: &'static str,
    params: &[Assumption],
    given: &BTreeMap<String, String>,
) -> Result<Assumptions, AssumeError> {
    let mut setting = defaults(params);
    for (name, value) in given {
        let param = find(spec, params, name)?;
        check_value(param, value)?;
        setting.insert(name.clone(), value.clone());
    }
    Ok(setting)
}

/// Parses `name=value` overrides into a complete setting.
pub fn parse_overrides(
    spec: &'static str,
    params: &[Assumption],
    overrides: &[String],
) -> Result<Assumptions, AssumeError> {
    let mut given = BTreeMap::new();
    for item in overrides {
        let (name, value) = split(item)?;
        given.insert(name.to_string(), value.to_string());
    }
    resolve(spec, params, &given)
}

/// The settings selected by `name=value` overrides where a value may be
/// `all` (every value of that assumption) and the single item `all` selects
/// every value of every assumption: the combinations, defaults first.
pub fn select(
    spec: &'static str,
    params: &[Assumption],
    overrides: &[String],
) -> Result<Vec<Assumptions>, AssumeError> {
    let mut choices: BTreeMap<&'static str, Vec<&'static str>> = params
        .iter()
        .map(|a| (a.name, vec![a.default_value()]))
        .collect();
    for item in overrides {
        if item.trim() == "all" {
            for a in params {
                choices.insert(a.name, a.values.to_vec());
            }
            continue;
        }
        let (name, value) = split(item)?;
        let param = find(spec, params, name)?;
        let values = if value == "all" {
            param.values.to_vec()
        } else {
            vec![check_value(param, value)?]
        };
        choices.insert(param.name, values);
    }
    Ok(product(&choices))
}

/// Every combination of every assumption's values, the all-default one first.
pub fn settings(params: &[Assumption]) -> Vec<Assumptions> {
    let choices = params.iter().map(|a| (a.name, a.values.to_vec())).collect();
    product(&choices)
}

/// A spec built by `build` for every preset under every setting of
/// `params` (the specs' tests that must hold whatever is assumed).
#[cfg(test)]
pub(crate) fn every_preset_and_setting<S>(
    params: &[Assumption],
    build: impl Fn(patches::Preset, &Assumptions) -> S,
) -> Vec<S> {
    let mut specs = Vec::new();
    for preset in patches::Preset::ALL {
        for setting in settings(params) {
            specs.push(build(preset, &setting));
        }
    }
    specs
}

/// `name=value` pairs separated by spaces, in name order.
pub fn render(setting: &Assumptions) -> String {
    setting
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Only the values that differ from the defaults, as `name=value`; empty
/// when every assumption is at its default.
pub fn non_default(params: &[Assumption], setting: &Assumptions) -> Vec<String> {
    params
        .iter()
        .filter_map(|a| {
            let value = setting.get(a.name)?;
            (value != a.default_value()).then(|| format!("{}={value}", a.name))
        })
        .collect()
}

fn split(item: &str) -> Result<(&str, &str), AssumeError> {
    let (name, value) = item
        .split_once('=')
        .ok_or_else(|| AssumeError::Malformed(item.to_string()))?;
    Ok((name.trim(), value.trim()))
}

fn find<'a>(
    spec: &'static str,
    params: &'a [Assumption],
    name: &str,
) -> Result<&'a Assumption, AssumeError> {
    params
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| AssumeError::UnknownName {
            spec,
            given: name.to_string(),
            valid: names(params),
        })
}

fn check_value(param: &Assumption, value: &str) -> Result<&'static str, AssumeError> {
    param
        .values
        .iter()
        .copied()
        .find(|v| *v == value)
        .ok_or_else(|| AssumeError::UnknownValue {
            name: param.name.to_string(),
            given: value.to_string(),
            valid: param.values.join(", "),
        })
}

/// The assumptions' names, comma-separated (for errors and `--help`).
pub fn names(params: &[Assumption]) -> String {
    params.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
}

fn product(choices: &BTreeMap<&'static str, Vec<&'static str>>) -> Vec<Assumptions> {
    let mut all = vec![Assumptions::new()];
    for (name, values) in choices {
        all = all
            .into_iter()
            .flat_map(|partial| {
                values.iter().map(move |v| {
                    let mut next = partial.clone();
                    next.insert(name.to_string(), v.to_string());
                    next
                })
            })
            .collect();
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[Assumption] = &[
        Assumption {
            name: "arrivals",
            values: &["several", "one-terminal"],
            help: "",
            meanings: &["", ""],
            why_default: "",
        },
        Assumption {
            name: "delivery",
            values: &["low-priority", "fifo"],
            help: "",
            meanings: &["", ""],
            why_default: "",
        },
    ];

    fn items(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn overrides_fill_in_defaults() {
        let s = parse_overrides("timer-free", PARAMS, &items(&["delivery=fifo"])).unwrap();
        assert_eq!(render(&s), "arrivals=several delivery=fifo");
        assert_eq!(non_default(PARAMS, &s), vec!["delivery=fifo"]);
    }

    #[test]
    fn bad_names_and_values_list_the_valid_ones() {
        let err = parse_overrides("timer-free", PARAMS, &items(&["arrival=several"]));
        assert_eq!(
            err.unwrap_err().to_string(),
            "unknown assumption `arrival` for timer-free (valid: arrivals, delivery)"
        );
        let err = parse_overrides("timer-free", PARAMS, &items(&["arrivals=many"]));
        assert_eq!(
            err.unwrap_err().to_string(),
            "unknown value `many` for assumption `arrivals` (valid: several, one-terminal)"
        );
        let err = parse_overrides("timer-free", PARAMS, &items(&["arrivals"]));
        assert_eq!(err, Err(AssumeError::Malformed("arrivals".into())));
    }

    #[test]
    fn every_setting_is_enumerated_defaults_first() {
        let all = settings(PARAMS);
        assert_eq!(all.len(), 4);
        assert_eq!(all[0], defaults(PARAMS));
        let one = select("timer-free", PARAMS, &items(&["delivery=all"])).unwrap();
        assert_eq!(one.len(), 2);
        assert!(one.iter().all(|s| s["arrivals"] == "several"));
        assert_eq!(select("timer-free", PARAMS, &items(&["all"])).unwrap(), all);
    }
}
