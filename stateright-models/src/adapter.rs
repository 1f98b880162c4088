//! A [`model::Spec`] seen as a [`stateright::Model`].
//!
//! stateright wants property conditions as plain `fn(&Model, &State) -> bool`
//! pointers, which cannot capture which spec property they stand for. Each
//! property index therefore gets its own monomorphized function
//! (`condition::<S, I>`), which looks the spec's condition up by index.

use model::{PropertyKind, Spec};
use stateright::{Expectation, Model, Property};

/// The most properties a spec may have (one monomorphized condition each).
pub const MAX_PROPERTIES: usize = 12;

/// A spec, ready for stateright's checkers (the cross-check of `chukei check`).
pub struct SpecModel<S: Spec> {
    pub spec: S,
    properties: Vec<model::Property<S>>,
}

impl<S: Spec> SpecModel<S> {
    pub fn new(spec: S) -> Self {
        let properties = spec.properties();
        assert!(
            properties.len() <= MAX_PROPERTIES,
            "spec {} has more than {MAX_PROPERTIES} properties",
            spec.name()
        );
        SpecModel { spec, properties }
    }
}

fn condition<S: Spec, const I: usize>(m: &SpecModel<S>, s: &S::State) -> bool {
    (m.properties[I].condition)(&m.spec, s)
}

type Condition<S> = fn(&SpecModel<S>, &<S as Spec>::State) -> bool;

fn condition_at<S: Spec>(index: usize) -> Condition<S> {
    macro_rules! table {
        ($($i:literal)*) => {
            match index {
                $($i => condition::<S, $i>,)*
                _ => unreachable!("checked in SpecModel::new"),
            }
        };
    }
    table!(0 1 2 3 4 5 6 7 8 9 10 11)
}

impl<S: Spec> Model for SpecModel<S> {
    type State = S::State;
    type Action = S::Action;

    fn init_states(&self) -> Vec<S::State> {
        self.spec.init_states()
    }

    fn actions(&self, state: &S::State, actions: &mut Vec<S::Action>) {
        self.spec.actions(state, actions)
    }

    fn next_state(&self, state: &S::State, action: S::Action) -> Option<S::State> {
        self.spec.next_state(state, &action)
    }

    fn format_action(&self, action: &S::Action) -> String {
        self.spec.describe_action(action)
    }

    /// Stateright's own `eventually` is only judged at terminal states; the
    /// fair-lasso checker ([`crate::fair`]) gives the real liveness verdict.
    fn properties(&self) -> Vec<Property<Self>> {
        self.properties
            .iter()
            .enumerate()
            .map(|(i, p)| Property {
                expectation: match p.kind {
                    PropertyKind::Always => Expectation::Always,
                    PropertyKind::Sometimes => Expectation::Sometimes,
                    PropertyKind::Eventually => Expectation::Eventually,
                },
                name: p.name,
                condition: condition_at::<S>(i),
            })
            .collect()
    }
}

/// For stateright's `symmetry_fn`, which takes a plain function.
pub fn representative<S: Spec>(state: &S::State) -> S::State {
    S::representative(state)
}
