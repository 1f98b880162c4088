//! A [`Spec`] as a proptest-state-machine [`ReferenceStateMachine`].
//!
//! proptest-state-machine's trait has only associated functions, so the spec
//! instance (preset and sizes) comes from a type: a [`Target`] names one spec
//! at one preset and sizes. The reference state carries the spec itself, the
//! transitions are the spec's own actions, the preconditions are the spec's
//! enabledness, and `apply` is the spec's `next_state`: the model is the one
//! in `model`, not a copy.
//!
//! Two additions, both explicit:
//! * [`Step::Stutter`] is generated only where the spec has no enabled action
//!   (a terminal state); it changes nothing on either side and shrinking
//!   deletes it.
//! * `SpecMap::steerable` narrows the generated actions to those the real
//!   relay can be steered into. The relay implements the spec with fewer
//!   choices in one place (its CPU core serves a pending HSM interrupt before
//!   the monitor's in Physical mode); nothing else is filtered.

use model::{Origin, Spec, Trace, Verdict};
use patches::Preset;
use proptest::prelude::*;
use proptest::sample::select;
use proptest_state_machine::ReferenceStateMachine;
use scenarios::steer::SpecMap;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// One spec at one preset and sizes, as a type, and how the relay is
/// steered through it (its mechanism's map in `scenarios`).
pub trait Target: 'static {
    type Spec: Spec + Send + Sync + 'static;
    type Map: SpecMap<Spec = Self::Spec>;
    const PRESET: Preset;
    /// Size overrides (defaults fill the rest).
    fn sizes() -> BTreeMap<String, u64>;
    fn spec() -> Self::Spec;
}

/// The reference state: the spec and its current state.
pub struct RefState<S: Spec> {
    pub spec: Arc<S>,
    pub state: S::State,
}

impl<S: Spec> Clone for RefState<S> {
    fn clone(&self) -> Self {
        RefState {
            spec: self.spec.clone(),
            state: self.state.clone(),
        }
    }
}

impl<S: Spec> fmt::Debug for RefState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec.describe_state(&self.state))
    }
}

/// A transition: a spec action, or nothing at all in a terminal state.
#[derive(Clone, PartialEq, Eq)]
pub enum Step<A> {
    Act(A),
    Stutter,
}

impl<A: fmt::Debug> fmt::Debug for Step<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Act(a) => a.fmt(f),
            Step::Stutter => f.write_str("Stutter"),
        }
    }
}

/// The spec's actions of a transition list, stutters dropped.
pub fn actions_of<A: Clone>(steps: &[Step<A>]) -> Vec<A> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Act(a) => Some(a.clone()),
            Step::Stutter => None,
        })
        .collect()
}

/// The adapter: `Reference<T>` is the spec of `T` as a reference machine.
pub struct Reference<T>(PhantomData<T>);

/// The actions generated from `state`.
pub fn steerable_actions<T: Target>(r: &RefState<T::Spec>) -> Vec<<T::Spec as Spec>::Action> {
    r.spec
        .successors(&r.state)
        .into_iter()
        .map(|(a, _)| a)
        .filter(|a| T::Map::steerable(&r.spec, &r.state, a))
        .collect()
}

impl<T: Target> ReferenceStateMachine for Reference<T>
where
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    type State = RefState<T::Spec>;
    type Transition = Step<<T::Spec as Spec>::Action>;

    fn init_state() -> BoxedStrategy<Self::State> {
        let spec = Arc::new(T::spec());
        let state = spec
            .init_states()
            .into_iter()
            .next()
            .expect("a spec has an initial state");
        Just(RefState { spec, state }).boxed()
    }

    fn transitions(state: &Self::State) -> BoxedStrategy<Self::Transition> {
        let actions = steerable_actions::<T>(state);
        if actions.is_empty() {
            Just(Step::Stutter).boxed()
        } else {
            select(actions).prop_map(Step::Act).boxed()
        }
    }

    fn preconditions(state: &Self::State, transition: &Self::Transition) -> bool {
        match transition {
            Step::Stutter => true,
            Step::Act(a) => {
                T::Map::steerable(&state.spec, &state.state, a)
                    && state.spec.next_state(&state.state, a).is_some()
            }
        }
    }

    fn apply(mut state: Self::State, transition: &Self::Transition) -> Self::State {
        if let Step::Act(a) = transition {
            state.state = state
                .spec
                .next_state(&state.state, a)
                .expect("preconditions checked");
        }
        state
    }
}

/// The trace of a shrunk proptest counterexample.
pub fn proptest_trace<T: Target>(
    spec: &T::Spec,
    property: &str,
    actions: &[<T::Spec as Spec>::Action],
    note: &str,
) -> Trace {
    Trace::from_actions(
        spec,
        &T::PRESET.into(),
        T::sizes(),
        property,
        Verdict::Violated,
        actions,
        None,
        Origin {
            checker: "proptest".into(),
            seed: None,
            note: Some(note.to_string()),
        },
    )
}
