//! Spec parameters ("sizes"): named non-negative integers with defaults and
//! bounds, given on the command line as `k=v` and recorded in every trace.

use std::collections::BTreeMap;

/// One parameter of a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeParam {
    pub name: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
    pub help: &'static str,
}

/// A bad size override.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("size override `{0}` is not of the form key=value")]
    Malformed(String),
    #[error("unknown size `{key}` for {spec} (valid: {valid})")]
    UnknownKey {
        spec: &'static str,
        key: String,
        valid: String,
    },
    #[error("size `{key}` must be a non-negative integer, got `{value}`")]
    NotANumber { key: String, value: String },
    #[error("size `{key}`={value} is out of range {min}..={max}")]
    OutOfRange {
        key: String,
        value: u64,
        min: u64,
        max: u64,
    },
}

/// Every parameter at its default.
pub fn defaults(params: &[SizeParam]) -> BTreeMap<String, u64> {
    params
        .iter()
        .map(|p| (p.name.to_string(), p.default))
        .collect()
}

/// Parses `k=v` overrides into a complete map (defaults for the rest).
pub fn parse_overrides(
    spec: &'static str,
    params: &[SizeParam],
    overrides: &[String],
) -> Result<BTreeMap<String, u64>, SizeError> {
    let mut given = BTreeMap::new();
    for item in overrides {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| SizeError::Malformed(item.clone()))?;
        let (key, value) = (key.trim(), value.trim());
        let number = value.parse::<u64>().map_err(|_| SizeError::NotANumber {
            key: key.to_string(),
            value: value.to_string(),
        })?;
        given.insert(key.to_string(), number);
    }
    resolve(spec, params, &given)
}

/// Checks a (possibly partial) map against the parameters and fills in defaults.
pub fn resolve(
    spec: &'static str,
    params: &[SizeParam],
    given: &BTreeMap<String, u64>,
) -> Result<BTreeMap<String, u64>, SizeError> {
    let mut sizes = defaults(params);
    for (key, &value) in given {
        let param = params
            .iter()
            .find(|p| p.name == key)
            .ok_or_else(|| SizeError::UnknownKey {
                spec,
                key: key.clone(),
                valid: params.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
            })?;
        if !(param.min..=param.max).contains(&value) {
            return Err(SizeError::OutOfRange {
                key: key.clone(),
                value,
                min: param.min,
                max: param.max,
            });
        }
        sizes.insert(key.clone(), value);
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[SizeParam] = &[
        SizeParam {
            name: "telegrams",
            default: 2,
            min: 1,
            max: 4,
            help: "",
        },
        SizeParam {
            name: "workers",
            default: 1,
            min: 1,
            max: 3,
            help: "",
        },
    ];

    fn parse(items: &[&str]) -> Result<BTreeMap<String, u64>, SizeError> {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        parse_overrides("timer-free", PARAMS, &items)
    }

    #[test]
    fn overrides_fill_in_defaults() {
        let sizes = parse(&["telegrams=3"]).unwrap();
        assert_eq!(sizes["telegrams"], 3);
        assert_eq!(sizes["workers"], 1);
    }

    #[test]
    fn unknown_key_lists_the_valid_ones() {
        let err = parse(&["cores=2"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown size `cores` for timer-free (valid: telegrams, workers)"
        );
    }

    #[test]
    fn malformed_and_out_of_range_are_rejected() {
        assert_eq!(
            parse(&["telegrams"]),
            Err(SizeError::Malformed("telegrams".into()))
        );
        assert!(matches!(
            parse(&["telegrams=many"]),
            Err(SizeError::NotANumber { .. })
        ));
        assert!(matches!(
            parse(&["telegrams=9"]),
            Err(SizeError::OutOfRange { value: 9, .. })
        ));
    }
}
