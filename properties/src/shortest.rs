//! The length of the shortest counterexample of an `always` property,
//! by breadth-first search through the [`Spec`] trait (the same number
//! stateright's BFS reports: both count actions from the initial state).

use model::{Kind, Spec};
use std::collections::{HashMap, VecDeque};

/// How BFS reached each state: the state before and the action taken.
type Parents<S> = HashMap<<S as Spec>::State, Option<(<S as Spec>::State, <S as Spec>::Action)>>;

/// The shortest action sequence that reaches a state violating the `always`
/// property `property`, or `None` when the property holds (or is not an
/// `always` property). Explores at most `max_states` states.
pub fn shortest_violation<S: Spec>(
    spec: &S,
    property: &str,
    max_states: usize,
) -> Option<Vec<S::Action>> {
    let property = spec.property(property)?;
    if property.kind != Kind::Always {
        return None;
    }
    let holds = |s: &S::State| (property.condition)(spec, s);
    // state -> (parent state, action taken from it)
    let mut parent: Parents<S> = HashMap::new();
    let mut queue = VecDeque::new();
    for init in spec.init_states() {
        parent.insert(init.clone(), None);
        queue.push_back(init);
    }
    while let Some(state) = queue.pop_front() {
        if !holds(&state) {
            let mut path = Vec::new();
            let mut at = state;
            while let Some(Some((prev, action))) = parent.get(&at).cloned() {
                path.push(action);
                at = prev;
            }
            path.reverse();
            return Some(path);
        }
        if parent.len() >= max_states {
            return None;
        }
        for (action, next) in spec.successors(&state) {
            if !parent.contains_key(&next) {
                parent.insert(next.clone(), Some((state.clone(), action)));
                queue.push_back(next);
            }
        }
    }
    None
}
