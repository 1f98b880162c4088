//! The one small trait every executable specification implements
//! (docs/architecture.md, "Spec").
//!
//! A spec is a transition system: initial states, the actions enabled in a
//! state, the state an action leads to, and named properties. It knows
//! nothing of any checker: `stateright-models` turns it into a
//! `stateright::Model`, the proptest adapter into a reference state machine,
//! and [`crate::replay::replay`] re-checks a stored counterexample with it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Borrow;
use std::fmt::Debug;
use std::hash::Hash;

/// A transition system with named properties.
pub trait Spec: Sized {
    /// Everything a checker needs to tell two situations apart. Serialized
    /// so that a search can store it compactly, as bytes; equal states must
    /// serialize to equal bytes (no hash maps or floats in a state).
    type State: Clone + Eq + Hash + Debug + Serialize + DeserializeOwned;
    /// One atomic step. Actions say who does what (worker, telegram, CS...),
    /// so a stored action list reads as a timeline and replays on its own.
    type Action: Clone + Eq + Hash + Debug + Serialize + DeserializeOwned;

    /// The spec's name as used by the CLI and in trace files ("timer-free").
    fn name(&self) -> &'static str;

    /// Initial states, in a deterministic order.
    fn init_states(&self) -> Vec<Self::State>;

    /// Candidate actions in `state`, in a deterministic order.
    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>);

    /// The state `action` leads to, or `None` when it is not enabled.
    fn next_state(&self, state: &Self::State, action: &Self::Action) -> Option<Self::State>;

    /// The named properties of this spec.
    fn properties(&self) -> Vec<Property<Self>>;

    /// Canonical member of the state's symmetry class (identical processes
    /// permuted into a fixed order). The default is no symmetry.
    fn representative(state: &Self::State) -> Self::State {
        state.clone()
    }

    /// The symmetry in detail, for checkers that must map a state of the
    /// reduced graph back to the one the spec really reached (the liveness
    /// check on the reduced graph): the number of identical processes in
    /// `state` (workers, CSs). The default is none.
    ///
    /// A spec with processes promises: permuting them maps behaviours to
    /// behaviours (`next_state(permute(s), permute_action(a))` is
    /// `permute(next_state(s, a))`), the initial state is its own
    /// permutation, and `representative` sorts the processes by
    /// [`Spec::compare_processes`].
    fn processes(_state: &Self::State) -> usize {
        0
    }

    /// The order `representative` sorts processes `i` and `j` of `state` in.
    fn compare_processes(_state: &Self::State, _i: usize, _j: usize) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }

    /// `state` with process `i` moved to position `to[i]`.
    fn permute(state: &Self::State, _to: &[usize]) -> Self::State {
        state.clone()
    }

    /// [`Spec::permute`] of a state the caller gives up: a spec may move
    /// its processes rather than copy them (a search decodes a stored
    /// class member this way, [`crate::search::StateGraph::state`]).
    fn permute_owned(state: Self::State, to: &[usize]) -> Self::State {
        Self::permute(&state, to)
    }

    /// `action` done by process `to[i]` instead of process `i`.
    fn permute_action(action: &Self::Action, _to: &[usize]) -> Self::Action {
        action.clone()
    }

    /// `state`'s bytes as a search stores them, into `buf` (cleared
    /// first): equal states give equal bytes and [`Spec::decode_state`]
    /// gives the state back. The default is postcard; a spec whose state
    /// space is large packs its fields by hand (a search encodes every
    /// successor it finds, so this is on its hottest path).
    fn encode_state(state: &Self::State, buf: &mut Vec<u8>) {
        let mut bytes = std::mem::take(buf);
        bytes.clear();
        *buf = postcard::to_extend(state, bytes).expect("a state encodes");
    }

    /// The state [`Spec::encode_state`] wrote as `bytes`.
    fn decode_state(bytes: &[u8]) -> Self::State {
        postcard::from_bytes(bytes).expect("a stored state decodes")
    }

    /// `permute(state, to)`'s bytes ([`Spec::encode_state`]); a spec may
    /// write them without building the permuted state.
    fn encode_permuted(state: &Self::State, to: &[usize], buf: &mut Vec<u8>) {
        Self::encode_state(&Self::permute(state, to), buf)
    }

    /// The key of `state`'s symmetry class: the encoding
    /// ([`Spec::encode_state`]) of its member with the processes from
    /// `fixed` on sorted by [`Spec::compare_processes`], into `buf`; into
    /// `moved` (cleared), the permutation that sorted them, a byte per
    /// process (process `i` to position `moved[i]`), left empty when none
    /// moved. A search computes it for every successor it finds; a spec
    /// may sort its processes' own encodings, as long as they order as
    /// `compare_processes` does.
    fn encode_representative(
        state: &Self::State,
        fixed: usize,
        buf: &mut Vec<u8>,
        moved: &mut Vec<u8>,
    ) {
        crate::search::encode_sorted::<Self>(state, fixed, buf, moved);
    }

    /// How many states the symmetry class of `key` stands for: its
    /// orbit's size ([`crate::search::orbit_size`]), `key` being a class's
    /// key with every process sorted ([`Spec::encode_representative`] from
    /// 0). Asked of every class to count the unreduced states; a spec may
    /// read it off the bytes rather than decode the state.
    fn class_size(key: &[u8]) -> u64 {
        crate::search::orbit_size::<Self>(&Self::decode_state(key))
    }

    /// The environment assumptions this spec was built with, complete
    /// (`crate::assume`); the default is none.
    fn assumptions(&self) -> crate::assume::Assumptions {
        crate::assume::Assumptions::new()
    }

    /// One line for a timeline; the default is the action's `Debug` form.
    fn describe_action(&self, action: &Self::Action) -> String {
        format!("{action:?}")
    }

    /// A one-line summary of a state for timelines.
    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }

    /// Whether no action is enabled in `state`: a behaviour stops there.
    /// The deadlock properties ask it of every state a search finds, so a
    /// spec whose `actions` lists only enabled ones answers without
    /// building a successor; the default tries each listed action.
    fn is_terminal(&self, state: &Self::State) -> bool {
        let mut actions = Vec::new();
        self.actions(state, &mut actions);
        actions.iter().all(|a| self.next_state(state, a).is_none())
    }

    /// The enabled actions of `state` with the states they lead to.
    fn successors(&self, state: &Self::State) -> Vec<(Self::Action, Self::State)> {
        let mut successors = Vec::new();
        self.successors_into(state, &mut Vec::new(), &mut successors);
        successors
    }

    /// [`Spec::successors`] into `successors` (cleared first), with
    /// `actions` for scratch: a search expands every state it stores and
    /// reuses both vectors, with no allocation per state.
    fn successors_into(
        &self,
        state: &Self::State,
        actions: &mut Vec<Self::Action>,
        successors: &mut Vec<(Self::Action, Self::State)>,
    ) {
        actions.clear();
        successors.clear();
        self.actions(state, actions);
        let enabled = actions
            .drain(..)
            .filter_map(|a| self.next_state(state, &a).map(|s| (a, s)));
        successors.extend(enabled);
    }

    /// [`Spec::successors_into`], with each successor's key under
    /// `identity` into `keys` (successor `i`'s is `keys.get(i)`), as
    /// [`crate::search::encode_key`] writes it. A search asks this of every
    /// state it expands; a spec may reuse what the successors share with
    /// `state` (a process an action leaves alone encodes as it did).
    fn successors_with_keys(
        &self,
        state: &Self::State,
        identity: crate::search::Identity,
        actions: &mut Vec<Self::Action>,
        successors: &mut Vec<(Self::Action, Self::State)>,
        keys: &mut crate::search::Keys,
    ) {
        self.successors_into(state, actions, successors);
        keys.clear();
        for (_, next) in successors.iter() {
            let (key, moved) = keys.next_slot();
            crate::search::encode_key::<Self>(identity, next, key, moved);
        }
    }

    /// Looks a property up by name.
    fn property(&self, name: &str) -> Option<Property<Self>> {
        self.properties().into_iter().find(|p| p.name == name)
    }
}

/// How a property's condition is quantified over behaviours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyKind {
    /// Safety: the condition holds in every reachable state.
    Always,
    /// Reachability: the condition holds in some reachable state (an example
    /// guards against a vacuous model).
    Sometimes,
    /// Liveness, `[]<>condition`: on every behaviour that is fair for the
    /// property's [`Fairness`], the condition holds again and again. A
    /// behaviour that stops stays in its last state forever, so a terminal
    /// state where the condition is false is a violation too.
    Eventually,
}

/// The weak-fairness assumption of a liveness property: a fair step cannot
/// stay enabled forever without being taken.
///
/// A step is a *class* of actions: `class` maps an action to a representative
/// of its class. Usually every action is its own class (`Fairness::new`),
/// but one intention can have several outcomes (a CS sending is admitted or
/// gets connection excess, depending on the relay): those actions form one
/// class, enabled when any of them is.
pub struct Fairness<S: Spec> {
    /// For humans: which steps are assumed to happen eventually.
    pub description: &'static str,
    pub weakly_fair: fn(&S, &S::Action) -> bool,
    pub class: fn(&S::Action) -> S::Action,
}

impl<S: Spec> Fairness<S> {
    /// Every action is its own class.
    pub fn new(description: &'static str, weakly_fair: fn(&S, &S::Action) -> bool) -> Self {
        Fairness {
            description,
            weakly_fair,
            class: S::Action::clone,
        }
    }
}

impl<S: Spec> Clone for Fairness<S> {
    fn clone(&self) -> Self {
        Fairness {
            description: self.description,
            weakly_fair: self.weakly_fair,
            class: self.class,
        }
    }
}

/// A named condition with its quantifier.
pub struct Property<S: Spec> {
    pub name: &'static str,
    pub kind: PropertyKind,
    pub condition: fn(&S, &S::State) -> bool,
    /// Only for [`PropertyKind::Eventually`].
    pub fairness: Option<Fairness<S>>,
    /// Whether the condition is the same on every permutation of the
    /// spec's identical processes ([`Spec::processes`]), so that it can be
    /// decided on the symmetry-reduced graph. True unless the property
    /// follows one process ([`Property::about_one_process`]); checked on
    /// every reachable state at default sizes by
    /// `stateright-models/src/symmetry.rs`'s tests.
    pub symmetric: bool,
}

impl<S: Spec> Clone for Property<S> {
    fn clone(&self) -> Self {
        Property {
            name: self.name,
            kind: self.kind,
            condition: self.condition,
            fairness: self.fairness.clone(),
            symmetric: self.symmetric,
        }
    }
}

impl<S: Spec> Property<S> {
    pub fn always(name: &'static str, condition: fn(&S, &S::State) -> bool) -> Self {
        Property {
            name,
            kind: PropertyKind::Always,
            condition,
            fairness: None,
            symmetric: true,
        }
    }

    pub fn sometimes(name: &'static str, condition: fn(&S, &S::State) -> bool) -> Self {
        Property {
            name,
            kind: PropertyKind::Sometimes,
            condition,
            fairness: None,
            symmetric: true,
        }
    }

    pub fn eventually(
        name: &'static str,
        condition: fn(&S, &S::State) -> bool,
        fairness: Fairness<S>,
    ) -> Self {
        Property {
            name,
            kind: PropertyKind::Eventually,
            condition,
            fairness: Some(fairness),
            symmetric: true,
        }
    }

    /// Marks a property that follows the first process (`cs0`), so it is
    /// invariant only under permuting the other processes: a checker
    /// reduces by those alone (`Identity::SymmetricButFirst`).
    pub fn about_one_process(mut self) -> Self {
        self.symmetric = false;
        self
    }

    /// The fairness class of `action` if it is weakly fair, else `None`.
    pub fn fair_class(&self, spec: &S, action: &S::Action) -> Option<S::Action> {
        let fairness = self.fairness.as_ref()?;
        (fairness.weakly_fair)(spec, action).then(|| (fairness.class)(action))
    }

    /// Weak fairness, defined once for the suite: the fair classes that a
    /// behaviour staying forever in a set of states, taking only the actions
    /// `taken`, would starve: enabled in *every* state of the set, yet never
    /// taken. The behaviour is weakly fair iff there are none.
    ///
    /// `enabled` lists the actions enabled in each state of the set. The
    /// classes come in the order of the first state's actions, so that
    /// checkers built on this are reproducible. Actions come as references
    /// or values (a checker may build them state by state as it goes,
    /// rather than keep every state's list at once), and are read only
    /// until no class is left.
    pub fn starved_classes<State, Action, Taken>(
        &self,
        spec: &S,
        enabled: impl IntoIterator<Item = State>,
        taken: impl IntoIterator<Item = Taken>,
    ) -> Vec<S::Action>
    where
        State: IntoIterator<Item = Action>,
        Action: Borrow<S::Action>,
        Taken: Borrow<S::Action>,
    {
        let class = |action: &S::Action| self.fair_class(spec, action);
        let mut states = enabled.into_iter();
        let mut starved: Vec<S::Action> = Vec::new();
        for c in states
            .next()
            .into_iter()
            .flatten()
            .filter_map(|a| class(a.borrow()))
        {
            if !starved.contains(&c) {
                starved.push(c);
            }
        }
        // The candidates are few (a class per process at most): a flag
        // each, no set per state; once none is left the answer is known.
        let mut here = Vec::new();
        for actions in states {
            if starved.is_empty() {
                return starved;
            }
            here.clear();
            here.resize(starved.len(), false);
            for c in actions.into_iter().filter_map(|a| class(a.borrow())) {
                if let Some(i) = starved.iter().position(|s| *s == c) {
                    here[i] = true;
                }
            }
            let mut flags = here.iter();
            starved.retain(|_| *flags.next().expect("a flag per candidate"));
        }
        for c in taken.into_iter().filter_map(|a| class(a.borrow())) {
            if starved.is_empty() {
                break;
            }
            starved.retain(|s| *s != c);
        }
        starved
    }

    /// Whether a cycle of states (each followed by the action taken from it,
    /// the last action leading back to the first state) is weakly fair.
    pub fn cycle_is_fair(&self, spec: &S, cycle: &[(S::State, S::Action)]) -> bool {
        let successors: Vec<_> = cycle.iter().map(|(s, _)| spec.successors(s)).collect();
        let enabled = successors.iter().map(|next| next.iter().map(|(a, _)| a));
        let taken = cycle.iter().map(|(_, a)| a);
        self.starved_classes(spec, enabled, taken).is_empty()
    }
}

/// Whether `state` has no enabled action ([`Spec::is_terminal`]).
pub fn is_terminal<S: Spec>(spec: &S, state: &S::State) -> bool {
    spec.is_terminal(state)
}

/// `properties` with every liveness property's fairness dropped when
/// `unfair` (`fairness=none`).
pub fn with_fairness<S: Spec>(mut properties: Vec<Property<S>>, unfair: bool) -> Vec<Property<S>> {
    if unfair {
        for p in properties
            .iter_mut()
            .filter(|p| p.kind == PropertyKind::Eventually)
        {
            p.fairness = Some(no_fairness());
        }
    }
    properties
}

/// No fairness at all: every step may be postponed forever, so any cycle
/// that avoids a liveness goal is a counterexample (`--fairness none`).
pub fn no_fairness<S: Spec>() -> Fairness<S> {
    Fairness::new("none: any step may be postponed forever", |_, _| false)
}

/// Test support for a spec whose `actions` lists only enabled actions (so
/// its `is_terminal` need build no successor): in each of `specs`, on every
/// reachable state each listed action has a next state and `is_terminal`
/// agrees; and some state is terminal, so both answers were tried.
#[cfg(test)]
pub(crate) fn assert_listed_actions_enabled<S: Spec>(specs: &[S]) {
    let mut terminal = 0;
    for spec in specs {
        let graph = crate::search::StateGraph::explore(spec, &mut |_| {});
        let mut actions = Vec::new();
        for state in graph.states() {
            actions.clear();
            spec.actions(&state, &mut actions);
            let successors = spec.successors(&state);
            assert_eq!(
                actions.len(),
                successors.len(),
                "a listed action is disabled in {state:?}"
            );
            assert_eq!(spec.is_terminal(&state), successors.is_empty());
            terminal += usize::from(successors.is_empty());
        }
    }
    assert!(
        terminal > 0,
        "some behaviours stop: is_terminal is tried both ways"
    );
}
