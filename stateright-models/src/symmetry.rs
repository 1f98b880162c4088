//! Symmetry reduction: identical workers (timer-free) and CSs (cs-block) are
//! permuted into a canonical order (`Spec::representative`). stateright 0.31
//! applies symmetry in its DFS checker only; its counts ([`dfs_state_count`])
//! cross-check the reduced graph of `model::search` (`Identity::Symmetric`)
//! that `chukei check` decides safety, reachability and liveness on.
//!
//! # Liveness on the reduced graph
//!
//! The full graph M and the group G of process permutations: each `g` in G
//! maps reachable states to reachable states and edges to edges (the
//! initial state is its own permutation and the spec is equivariant:
//! [`model::Spec::processes`]). The reduced graph (quotient) has one state
//! per orbit, stored as the member `m_q` the search met first, and an edge
//! `q -a-> q'` when `a` leads from `m_q` to some `ρ(m_q')`.
//!
//! A property whose condition is the same on every permutation
//! (`Property::symmetric`) has the same "bad" states in a whole orbit, and
//! weak fairness is equivariant too (a permuted action is weakly fair iff
//! the action is; classes map to classes). So:
//!
//! * A terminal bad orbit is a terminal bad state of M: a violation.
//! * A bad cycle of M projects onto a bad strongly connected component Q of
//!   the quotient. Conversely the states of M over Q fall into components
//!   `C, g(C), ...` that are permutations of one another (a path from `s` to
//!   `g(s)` repeats under `g` until it comes back), so they are all fair or
//!   all unfair, and no edge leaves `C` for another of them (that would
//!   close a cycle through all of them).
//! * `C` is computed exactly without exploring it: a spanning tree of Q
//!   from `q0` places each orbit, `π_q(m_q)` in `C` (`π_q0` the identity,
//!   `π_q' = π_q ∘ ρ` along a tree edge); every other edge of Q gives an
//!   element `π_q ∘ ρ ∘ π_q'^-1` of H, the permutations that map `C` onto
//!   itself, and these with the stabilizer of `m_q0` generate H (any path
//!   of `C` from `m_q0` to `h(m_q0)` projects onto a closed walk of Q whose
//!   edges compose `h`). The states of `C` over `q` are then `h(π_q(m_q))`
//!   for `h` in H, their enabled actions and internal edges the permuted
//!   ones of `m_q`.
//! * Weak fairness of `C` is then checked as on the full graph: every fair
//!   class enabled in all of `C`'s states is taken on one of its edges.
//!
//! So the quotient tells exactly whether M has a fair lasso. When it has
//! none the property holds, decided on the reduced graph; when it has one,
//! `chukei check` builds the lasso on the full graph, so that a reported
//! counterexample (and its length) is the full graph's. A property that
//! follows one process (`cs0`: `Property::about_one_process`) is not
//! invariant and is checked on the full graph.

use crate::adapter::{representative, SpecModel};
use crate::fair::bad_components;
pub use model::search::orbit_size;
use model::search::{Identity, StateGraph};
use model::{Property, Spec, SpecName};
use model::{SharedSpec, SpecJob};
use patches::Preset;
use stateright::{Checker, Model};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Unique states found by stateright's DFS, with or without symmetry.
pub fn dfs_state_count(
    spec: SpecName,
    preset: Preset,
    sizes: &BTreeMap<String, u64>,
    symmetry: bool,
) -> Result<usize, model::sizes::SizeError> {
    spec.build(preset.patches(), sizes, DfsCount { symmetry })
}

/// Counts the unique states of whichever spec was named.
struct DfsCount {
    symmetry: bool,
}

impl SpecJob for DfsCount {
    type Output = usize;
    fn run<S: SharedSpec>(self, spec: S) -> usize {
        let builder = SpecModel::new(spec).checker();
        let builder = if self.symmetry {
            builder.symmetry_fn(representative::<S>)
        } else {
            builder
        };
        builder.spawn_dfs().join().unique_state_count()
    }
}

/// A permutation of processes: process `i` moves to position `p[i]`.
pub type Permutation = Vec<usize>;

fn identity(n: usize) -> Permutation {
    (0..n).collect()
}

/// `outer ∘ inner`: first `inner`, then `outer`.
fn compose(outer: &[usize], inner: &[usize]) -> Permutation {
    inner.iter().map(|&i| outer[i]).collect()
}

fn inverse(p: &[usize]) -> Permutation {
    let mut inverse = vec![0; p.len()];
    for (i, &to) in p.iter().enumerate() {
        inverse[to] = i;
    }
    inverse
}

/// The permutation that sorts `state`'s processes: `permute(state, p)` is
/// `representative(state)`.
pub fn sorting<S: Spec>(state: &S::State) -> Permutation {
    model::search::sorting::<S>(state, 0)
}

/// Generators of the permutations of the processes from `fixed` on that
/// leave `state` as it is: swaps of equal processes.
fn stabilizer<S: Spec>(state: &S::State, fixed: usize) -> Vec<Permutation> {
    let n = S::processes(state);
    let mut order: Vec<usize> = (fixed.min(n)..n).collect();
    order.sort_by(|&i, &j| S::compare_processes(state, i, j));
    order
        .windows(2)
        .filter(|w| S::compare_processes(state, w[0], w[1]).is_eq())
        .map(|w| {
            let mut swap = identity(n);
            swap.swap(w[0], w[1]);
            swap
        })
        .collect()
}

/// The group `generators` generate (groups here have at most 5! elements).
fn closure(n: usize, generators: &[Permutation]) -> Vec<Permutation> {
    let mut group = vec![identity(n)];
    let mut seen: HashSet<Permutation> = group.iter().cloned().collect();
    let mut at = 0;
    while at < group.len() {
        for g in generators {
            let next = compose(g, &group[at]);
            if seen.insert(next.clone()) {
                group.push(next);
            }
        }
        at += 1;
    }
    group
}

/// The states of the full graph, counted on the reduced one: each class
/// stands for its whole orbit (the reachable states are closed under
/// permutation), on `threads` threads (it decodes every class: 0.3 s of a
/// 2 s check of timer-free `workers=3 telegrams=5` on one).
pub fn unreduced_count<S: SharedSpec>(reduced: &StateGraph<S>, threads: usize) -> usize {
    let orbits = |ids: std::ops::Range<usize>| -> usize {
        ids.map(|id| reduced.class_size(id) as usize).sum()
    };
    let n = reduced.len();
    let step = n.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let others: Vec<_> = (step..n)
            .step_by(step)
            .map(|start| scope.spawn(move || orbits(start..(start + step).min(n))))
            .collect();
        let mine = orbits(0..step.min(n));
        let theirs = others.into_iter().map(|other| {
            other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        mine + theirs.sum::<usize>()
    })
}

/// Whether the full graph has a fair lasso violating the symmetric
/// `eventually` property, decided on the reduced graph `quotient` (explored
/// with its edges; `bad[id]`: the goal is false in class `id`). The module
/// documentation has the argument.
///
/// `identity` is the graph's: with [`Identity::SymmetricButFirst`] the
/// group is the permutations that keep the first process in place, and the
/// property may follow that process; the argument is the same.
pub fn fair_lasso_exists<S: Spec>(
    spec: &S,
    quotient: &StateGraph<S>,
    identity: Identity,
    property: &Property<S>,
    bad: &[bool],
) -> bool {
    let fixed = identity.fixed_processes();
    assert!(
        property.symmetric || fixed > 0,
        "{} follows one process",
        property.name
    );
    let terminal = (0..quotient.len()).any(|i| bad[i] && quotient.edges[i].is_empty());
    terminal
        || bad_components(quotient, bad)
            .iter()
            .any(|c| lifted_component_is_fair(spec, quotient, fixed, property, c))
}

/// Whether the component `C` of the full graph over the quotient component
/// `component` is weakly fair.
fn lifted_component_is_fair<S: Spec>(
    spec: &S,
    quotient: &StateGraph<S>,
    fixed: usize,
    property: &Property<S>,
    component: &[usize],
) -> bool {
    let index: HashMap<usize, usize> = component.iter().enumerate().map(|(i, &q)| (q, i)).collect();
    let members: Vec<S::State> = component.iter().map(|&q| quotient.state(q)).collect();
    let n = S::processes(&members[0]);
    // Where each orbit's member sits in C, and the generators of H.
    let mut place: Vec<Option<Permutation>> = vec![None; component.len()];
    place[0] = Some(identity(n));
    let mut generators = stabilizer::<S>(&members[0], fixed);
    // Per member, its edges that stay in the component.
    let mut internal: Vec<Vec<usize>> = vec![Vec::new(); component.len()];
    let sort = |s: &S::State| model::search::sorting::<S>(s, fixed);
    let mut queue = VecDeque::from([0]);
    while let Some(at) = queue.pop_front() {
        let here = place[at].clone().expect("queued states are placed");
        let edges = quotient.edges.out(component[at]);
        let successors = spec.successors(&members[at]);
        assert_eq!(successors.len(), edges.len(), "the spec is deterministic");
        for (e, ((action, next), (edge_action, target))) in successors.iter().zip(edges).enumerate()
        {
            assert_eq!(action, edge_action, "the spec is deterministic");
            let Some(&to) = index.get(&target) else {
                continue;
            };
            internal[at].push(e);
            // `next` is the member of `target`'s orbit permuted by `rho`.
            let rho = compose(&inverse(&sort(next)), &sort(&members[to]));
            debug_assert_eq!(
                &S::permute(&members[to], &rho),
                next,
                "Spec::permute and Spec::representative agree"
            );
            let via = compose(&here, &rho);
            match &place[to] {
                None => {
                    place[to] = Some(via);
                    queue.push_back(to);
                }
                // Most edges close a loop by a permutation already known
                // (there are n! at most): kept once, not once per edge.
                Some(there) => {
                    let generator = compose(&via, &inverse(there));
                    if !generators.contains(&generator) {
                        generators.push(generator);
                    }
                }
            }
        }
    }
    let group = closure(n, &generators);
    // C's states: h(π_q(m_q)); their enabled actions and internal edges are
    // m_q's, permuted alike. Permuted as the check reads them, not kept:
    // C can have millions of states (a list of actions each was most of a
    // check's memory), and the check stops once no class is left.
    let placed = |at: usize| {
        let here = place[at].as_ref().expect("a component is connected");
        group.iter().map(move |h| (at, compose(h, here)))
    };
    let lifted = || (0..component.len()).flat_map(placed);
    let enabled = lifted().map(|(at, p)| {
        let out = quotient.edges.out(component[at]);
        out.map(move |(a, _)| S::permute_action(a, &p))
    });
    let taken = lifted().flat_map(|(at, p)| {
        let edges = &quotient.edges[component[at]];
        let internal = internal[at].iter();
        internal.map(move |&e| S::permute_action(quotient.edges.action(edges[e]), &p))
    });
    property.starved_classes(spec, enabled, taken).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::cs_block::CsBlock;
    use model::timer_free::TimerFree;
    use model::PropertyKind;
    use std::collections::HashSet;

    /// Every permutation of `n` processes.
    fn all_permutations(n: usize) -> Vec<Permutation> {
        let swaps: Vec<Permutation> = (1..n)
            .map(|i| {
                let mut swap = identity(n);
                swap.swap(i - 1, i);
                swap
            })
            .collect();
        closure(n, &swaps)
    }

    /// What the liveness check on the reduced graph relies on, on every
    /// reachable class of `spec` and every permutation of its processes.
    fn assert_symmetric<S: Spec>(spec: &S) {
        let graph = StateGraph::explore_as(spec, Identity::Symmetric, &mut |_| {});
        let properties = spec.properties();
        for state in graph.states() {
            let sorted = S::permute(&state, &sorting::<S>(&state));
            assert_eq!(sorted, S::representative(&state));
            let successors = spec.successors(&state);
            for p in all_permutations(S::processes(&state)) {
                let permuted = S::permute(&state, &p);
                let expected: HashSet<(S::Action, S::State)> = successors
                    .iter()
                    .map(|(a, t)| (S::permute_action(a, &p), S::permute(t, &p)))
                    .collect();
                let got: HashSet<(S::Action, S::State)> =
                    spec.successors(&permuted).into_iter().collect();
                assert_eq!(got, expected, "{} is equivariant", spec.name());
                // A property about the first process, only where it stays.
                let invariant = |q: &&Property<S>| q.symmetric || p.first() == Some(&0);
                for property in properties.iter().filter(invariant) {
                    let on = |s| (property.condition)(spec, s);
                    assert_eq!(on(&state), on(&permuted), "{}", property.name);
                    for (a, _) in &successors {
                        let class = property.fair_class(spec, a);
                        let permuted_class = property.fair_class(spec, &S::permute_action(a, &p));
                        let expected = class.map(|c| S::permute_action(&c, &p));
                        assert_eq!(permuted_class, expected, "{}", property.name);
                    }
                }
            }
        }
    }

    fn assuming<S>(spec: Result<S, impl std::fmt::Debug>) -> S {
        spec.expect("valid sizes and assumptions")
    }

    #[test]
    fn the_specs_permute_as_they_declare_on_every_reachable_class() {
        // Default sizes, but continuous demand with one card (55,659
        // classes otherwise).
        for preset in [Preset::Jan2016, Preset::Proposed] {
            let sizes = BTreeMap::new();
            assert_symmetric(&assuming(TimerFree::new(preset.patches(), &sizes)));
            let cs_block = assuming(CsBlock::new(preset.patches(), &sizes));
            let one_card = BTreeMap::from([("cards".to_string(), 1)]);
            let one_card = assuming(CsBlock::new(preset.patches(), &one_card));
            let continuous = BTreeMap::from([("demand".to_string(), "continuous".to_string())]);
            assert_symmetric(&assuming(one_card.assuming(&continuous)));
            assert_symmetric(&cs_block);
        }
    }

    #[test]
    fn a_property_about_one_cs_is_declared_so_and_is_not_invariant() {
        let spec = assuming(CsBlock::new(Preset::Jan2016.patches(), &BTreeMap::new()));
        let graph = StateGraph::explore_as(&spec, Identity::Symmetric, &mut |_| {});
        for property in spec.properties() {
            let differs = graph.states().any(|s| {
                let swapped = CsBlock::permute(&s, &[1, 0, 2]);
                (property.condition)(&spec, &s) != (property.condition)(&spec, &swapped)
            });
            assert_eq!(differs, !property.symmetric, "{}", property.name);
        }
    }

    /// A state's orbit is its distinct permutations, sorted or not.
    #[test]
    fn an_orbit_is_the_distinct_permutations() {
        let sizes = BTreeMap::from([("workers".to_string(), 3), ("telegrams".to_string(), 2)]);
        let spec = TimerFree::new(Preset::Jan2016.patches(), &sizes).unwrap();
        let full = StateGraph::explore_as(&spec, Identity::Exact, &mut |_| {});
        let permutations = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let (mut unsorted, mut sizes_seen) = (0, HashSet::new());
        for state in full.states() {
            let orbit: HashSet<_> = permutations
                .iter()
                .map(|to| TimerFree::permute(&state, to))
                .collect();
            assert_eq!(
                orbit_size::<TimerFree>(&state),
                orbit.len() as u64,
                "{state:?}"
            );
            unsorted += usize::from(state != TimerFree::representative(&state));
            sizes_seen.insert(orbit.len());
        }
        assert!(unsorted > 0, "the unsorted path is tried");
        assert_eq!(sizes_seen, HashSet::from([1, 3, 6]));
    }

    #[test]
    fn orbit_sizes_count_the_full_graph() {
        for preset in Preset::ALL {
            let spec = assuming(CsBlock::new(preset.patches(), &BTreeMap::new()));
            let reduced = StateGraph::explore_as(&spec, Identity::Symmetric, &mut |_| {});
            let full = StateGraph::explore_as(&spec, Identity::Exact, &mut |_| {});
            for threads in [1, 2, 3] {
                assert_eq!(unreduced_count(&reduced, threads), full.len(), "{preset}");
            }
        }
    }

    #[test]
    fn the_reduced_graph_finds_the_full_graphs_fair_lassos() {
        // Every liveness property of cs-block under both demands (those
        // about cs0 on classes that permute the other CSs): the quotient
        // says a fair lasso exists exactly where the full graph's checker
        // finds one.
        let continuous = BTreeMap::from([("demand".to_string(), "continuous".to_string())]);
        // Two cards each: the legacy rule's livelock needs a second card
        // (under continuous demand the symmetric liveness properties are the
        // finite ones; the others follow cs0).
        let sizes = BTreeMap::from([("cards".to_string(), 2), ("css".to_string(), 2)]);
        let mut lassos = 0;
        for preset in Preset::ALL {
            let finite = assuming(CsBlock::new(preset.patches(), &sizes));
            for spec in [finite.clone(), assuming(finite.assuming(&continuous))] {
                let reduced = StateGraph::explore_parallel_edges(
                    &spec,
                    Identity::Symmetric,
                    model::search::Limits::NONE,
                    &[],
                    model::search::Parallel::threads(1),
                    true,
                    &mut |_| {},
                );
                let full = StateGraph::explore(&spec, &mut |_| {});
                let but_first = StateGraph::explore_parallel_edges(
                    &spec,
                    Identity::SymmetricButFirst,
                    model::search::Limits::NONE,
                    &[],
                    model::search::Parallel::threads(1),
                    true,
                    &mut |_| {},
                );
                let liveness = spec.properties().into_iter();
                for property in liveness.filter(|p| p.kind == PropertyKind::Eventually) {
                    let (reduced, identity) = match property.symmetric {
                        true => (&reduced, Identity::Symmetric),
                        false => (&but_first, Identity::SymmetricButFirst),
                    };
                    let bad = |g: &StateGraph<CsBlock>| -> Vec<bool> {
                        g.states()
                            .map(|s| !(property.condition)(&spec, &s))
                            .collect()
                    };
                    let on_full =
                        crate::fair::find_fair_lasso_in(&spec, &full, &property, &bad(&full));
                    let on_quotient =
                        fair_lasso_exists(&spec, reduced, identity, &property, &bad(reduced));
                    assert_eq!(on_quotient, on_full.is_some(), "{preset} {}", property.name);
                    lassos += usize::from(on_quotient);
                }
            }
        }
        assert!(lassos > 0, "some settings violate liveness");
    }
}
