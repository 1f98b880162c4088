//! The model's verdict for an `always` property, by a plain breadth-first
//! search over the spec (no checker dependency): what a loom or shuttle
//! finding on the relay must agree with.

use model::{Kind, Spec, Verdict};
use std::collections::{HashSet, VecDeque};

/// `Violated` if some reachable state breaks the `always` property `name`.
///
/// Panics if the spec has no such property or it is not an `always` one.
pub fn always_verdict<S: Spec>(spec: &S, name: &str) -> Verdict {
    let property = spec
        .property(name)
        .unwrap_or_else(|| panic!("spec `{}` has no property `{name}`", spec.name()));
    assert_eq!(
        property.kind,
        Kind::Always,
        "`{name}` is not an always property"
    );
    let mut seen = HashSet::new();
    let mut queue: VecDeque<S::State> = spec.init_states().into();
    while let Some(state) = queue.pop_front() {
        if !seen.insert(S::representative(&state)) {
            continue;
        }
        if !(property.condition)(spec, &state) {
            return Verdict::Violated;
        }
        queue.extend(spec.successors(&state).into_iter().map(|(_, s)| s));
    }
    Verdict::Holds
}
