//! Fair-lasso liveness checking.
//!
//! stateright judges `eventually` only at terminal states, so a behaviour
//! that loops forever without meeting the goal (the monitor servicing its own
//! interrupt again and again while the HSM waits) goes unreported. This
//! checker explores the whole state graph (`model::search`) and looks for
//! * a reachable terminal state where the goal is false (the behaviour stops
//!   there), or
//! * a reachable cycle of goal-false states that is *weakly fair*: every
//!   fair action enabled in all of the cycle's states is taken on it (the
//!   definition is [`Property::starved_classes`]).
//!
//! Method: the strongly connected components of the goal-false subgraph.
//! Under weak fairness a component contains a fair cycle iff every fair
//! action enabled in *all* its states is taken on one of its internal edges
//! (a cycle through the whole component then is fair, and no smaller cycle
//! can do better). The lasso reported is a shortest path to the component
//! plus a cycle through the waypoints that make it fair.

use model::search::StateGraph;
use model::{Property, Spec};
use std::collections::{HashMap, HashSet, VecDeque};

/// A liveness counterexample: a path to a state, then a cycle back to it.
/// An empty cycle means the behaviour stops in a terminal state.
pub struct Lasso<S: Spec> {
    pub prefix: Vec<S::Action>,
    pub cycle: Vec<S::Action>,
}

// By hand: a derive would demand `S: Debug + PartialEq` of the spec itself.
impl<S: Spec> std::fmt::Debug for Lasso<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lasso")
            .field("prefix", &self.prefix)
            .field("cycle", &self.cycle)
            .finish()
    }
}

impl<S: Spec> PartialEq for Lasso<S> {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix && self.cycle == other.cycle
    }
}

impl<S: Spec> Lasso<S> {
    /// All actions, prefix then cycle (the trace's `Schedule::Actions`).
    pub fn actions(&self) -> Vec<S::Action> {
        self.prefix.iter().chain(&self.cycle).cloned().collect()
    }

    /// Where the cycle starts in [`Lasso::actions`]; `None` for a terminal state.
    pub fn cycle_start(&self) -> Option<usize> {
        (!self.cycle.is_empty()).then_some(self.prefix.len())
    }
}

/// Finds a fair lasso violating the `[]<>condition` property, preferring the
/// one reached by the shortest prefix (a terminal state wins ties).
pub fn find_fair_lasso<S: Spec>(
    spec: &S,
    graph: &StateGraph<S>,
    property: &Property<S>,
) -> Option<Lasso<S>> {
    let bad: Vec<bool> = graph
        .states()
        .map(|s| !(property.condition)(spec, &s))
        .collect();
    find_fair_lasso_in(spec, graph, property, &bad)
}

/// As [`find_fair_lasso`], with the states where the goal is false already
/// known (`bad[id]`: marked while the graph was explored, so no state is
/// decoded again).
pub fn find_fair_lasso_in<S: Spec>(
    spec: &S,
    graph: &StateGraph<S>,
    property: &Property<S>,
    bad: &[bool],
) -> Option<Lasso<S>> {
    let terminal = (0..graph.len())
        .filter(|&i| bad[i] && graph.edges[i].is_empty())
        .min_by_key(|&i| graph.depth(i));
    // The first fair component (in Tarjan's order) among the shallowest:
    // components by depth, stable, then the first fair one, so that only
    // the components up to it are judged.
    let mut components = bad_components(graph, bad);
    let depth_of = |c: &[usize]| c.iter().map(|&i| graph.depth(i)).min();
    components.sort_by_cached_key(|c| depth_of(c));
    let mut member = vec![false; graph.len()];
    let fair_component = components.into_iter().find(|c| {
        c.iter().for_each(|&s| member[s] = true);
        let fair = is_fair_component(spec, graph, property, c, &member);
        c.iter().for_each(|&s| member[s] = false);
        fair
    });
    let component_depth = fair_component.as_deref().and_then(depth_of);
    match (terminal, component_depth) {
        (Some(t), d) if d.is_none_or(|d| graph.depth(t) <= d) => Some(Lasso {
            prefix: graph.path_to(t),
            cycle: Vec::new(),
        }),
        (_, Some(_)) => Some(fair_cycle(spec, graph, property, &fair_component?)),
        _ => None,
    }
}

/// Strongly connected components of the subgraph of `bad` states that can
/// carry a cycle (more than one state, or a self-loop). Iterative Tarjan.
pub(crate) fn bad_components<S: Spec>(graph: &StateGraph<S>, bad: &[bool]) -> Vec<Vec<usize>> {
    let mut tarjan = Tarjan::new(graph.len());
    let mut components = Vec::new();
    for root in (0..graph.len()).filter(|&i| bad[i]) {
        if tarjan.index[root] != UNSEEN {
            continue;
        }
        tarjan.enter(root, &graph.edges[root]);
        while let Some(frame) = tarjan.frames.last_mut() {
            let v = frame.state;
            if let Some((edge, rest)) = frame.edges.split_first() {
                frame.edges = rest;
                let w = edge.target();
                frame.self_loop |= w == v;
                if !bad[w] {
                    continue;
                }
                if tarjan.index[w] == UNSEEN {
                    tarjan.enter(w, &graph.edges[w]);
                } else if tarjan.on_stack[w] {
                    tarjan.low[v] = tarjan.low[v].min(tarjan.index[w]);
                }
                continue;
            }
            let self_loop = frame.self_loop;
            tarjan.frames.pop();
            if let Some(parent) = tarjan.frames.last() {
                tarjan.low[parent.state] = tarjan.low[parent.state].min(tarjan.low[v]);
            }
            if tarjan.low[v] == tarjan.index[v] {
                components.extend(tarjan.pop_component(v, self_loop));
            }
        }
    }
    components
}

const UNSEEN: u32 = u32::MAX;

/// Iterative Tarjan's bookkeeping ([`bad_components`]).
struct Tarjan<'g> {
    /// Visit numbers in 32 bits (a graph has fewer than 2^32 states):
    /// half the memory an edge's look-up at its target touches.
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next_index: u32,
    /// The depth-first path.
    frames: Vec<Frame<'g>>,
}

/// A state on Tarjan's depth-first path.
struct Frame<'g> {
    state: usize,
    /// The edges it has left to follow (its edge list is looked up once,
    /// not once per edge).
    edges: &'g [model::search::Edge],
    /// Whether an edge followed so far leads back to it.
    self_loop: bool,
}

impl<'g> Tarjan<'g> {
    fn new(n: usize) -> Self {
        Tarjan {
            index: vec![UNSEEN; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next_index: 0,
            frames: Vec::new(),
        }
    }

    /// Visits state `v`, whose edges are `edges`.
    fn enter(&mut self, v: usize, edges: &'g [model::search::Edge]) {
        self.index[v] = self.next_index;
        self.low[v] = self.next_index;
        self.next_index += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        self.frames.push(Frame {
            state: v,
            edges,
            self_loop: false,
        });
    }

    /// Pops the component rooted at `v` (with an edge to itself if
    /// `self_loop`) off Tarjan's stack; the component if it can carry a cycle.
    /// Most components are single states without a self-loop: they are
    /// dropped without building a vector for them.
    fn pop_component(&mut self, v: usize, self_loop: bool) -> Option<Vec<usize>> {
        let at = self
            .stack
            .iter()
            .rposition(|&w| w == v)
            .expect("v is on the stack");
        for &w in &self.stack[at..] {
            self.on_stack[w] = false;
        }
        let members = &self.stack[at..];
        // In the order they are popped, as before: the last pushed first.
        let component =
            (members.len() > 1 || self_loop).then(|| members.iter().rev().copied().collect());
        self.stack.truncate(at);
        component
    }
}

/// The fair classes starved by staying in `states` forever taking `taken`
/// ([`Property::starved_classes`], with the enabled actions read off the graph).
fn starved<'a, S: Spec>(
    spec: &S,
    graph: &'a StateGraph<S>,
    property: &Property<S>,
    states: &[usize],
    taken: impl IntoIterator<Item = &'a S::Action>,
) -> Vec<S::Action> {
    let enabled = states.iter().map(|&s| graph.edges.out(s).map(|(a, _)| a));
    property.starved_classes(spec, enabled, taken)
}

/// Whether staying in the component forever, taking any of its internal
/// edges, can be weakly fair (then a cycle through all of it is).
fn is_fair_component<S: Spec>(
    spec: &S,
    graph: &StateGraph<S>,
    property: &Property<S>,
    component: &[usize],
    member: &[bool],
) -> bool {
    let internal = component
        .iter()
        .flat_map(|&s| graph.edges.out(s))
        .filter(|&(_, t)| member[t])
        .map(|(a, _)| a);
    starved(spec, graph, property, component, internal).is_empty()
}

/// Where a fair cycle must pass: over an edge taking an action, or through
/// a state where an action is disabled.
enum Waypoint {
    Edge(usize, usize),
    State(usize),
}

/// Builds a prefix to the component and a fair cycle through it, adding
/// waypoints until the cycle is fair.
fn fair_cycle<S: Spec>(
    spec: &S,
    graph: &StateGraph<S>,
    property: &Property<S>,
    component: &[usize],
) -> Lasso<S> {
    let members: HashSet<usize> = component.iter().copied().collect();
    let entry = *component
        .iter()
        .min_by_key(|&&i| (graph.depth(i), i))
        .expect("components are not empty");
    // An internal edge taking an action of `class` (any edge for `None`).
    let internal_edge = |class: Option<&S::Action>| {
        component.iter().find_map(|&s| {
            graph
                .edges
                .out(s)
                .position(|(a, t)| {
                    let in_class = || property.fair_class(spec, a).as_ref() == class;
                    members.contains(&t) && (class.is_none() || in_class())
                })
                .map(|e| Waypoint::Edge(s, e))
        })
    };
    // Every class a cycle taking nothing would starve needs an edge taking it.
    let mut waypoints: Vec<Waypoint> = starved(spec, graph, property, component, [])
        .iter()
        .filter_map(|c| internal_edge(Some(c)))
        .collect();
    if waypoints.is_empty() {
        waypoints.extend(internal_edge(None));
    }
    loop {
        let (states, cycle) = walk(graph, &members, entry, &waypoints);
        let unfair = starved(spec, graph, property, &states, &cycle)
            .into_iter()
            .next();
        let Some(class) = unfair else {
            return Lasso {
                prefix: graph.path_to(entry),
                cycle,
            };
        };
        let disabled_at = component
            .iter()
            .copied()
            .find(|&s| {
                let mut classes = graph
                    .edges
                    .out(s)
                    .filter_map(|(a, _)| property.fair_class(spec, a));
                classes.all(|c| c != class)
            })
            .expect("a class enabled everywhere in the component is a waypoint edge");
        waypoints.push(Waypoint::State(disabled_at));
    }
}

/// The cycle from `entry` through every waypoint and back: its states (each
/// before its action) and actions.
fn walk<S: Spec>(
    graph: &StateGraph<S>,
    members: &HashSet<usize>,
    entry: usize,
    waypoints: &[Waypoint],
) -> (Vec<usize>, Vec<S::Action>) {
    let (mut states, mut actions, mut at) = (Vec::new(), Vec::new(), entry);
    let go =
        |from: &mut usize, to: usize, states: &mut Vec<usize>, actions: &mut Vec<S::Action>| {
            for (s, a) in path_within(graph, members, *from, to) {
                states.push(s);
                actions.push(a);
            }
            *from = to;
        };
    for waypoint in waypoints {
        match *waypoint {
            Waypoint::State(s) => go(&mut at, s, &mut states, &mut actions),
            Waypoint::Edge(s, e) => {
                go(&mut at, s, &mut states, &mut actions);
                let edge = graph.edges[s][e];
                states.push(s);
                actions.push(graph.edges.action(edge).clone());
                at = edge.target();
            }
        }
    }
    go(&mut at, entry, &mut states, &mut actions);
    (states, actions)
}

/// A shortest path inside the component: (state, action taken there) pairs.
fn path_within<S: Spec>(
    graph: &StateGraph<S>,
    members: &HashSet<usize>,
    from: usize,
    to: usize,
) -> Vec<(usize, S::Action)> {
    if from == to {
        return Vec::new();
    }
    let mut came_from: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(s) = queue.pop_front() {
        for (e, (_, t)) in graph.edges.out(s).enumerate() {
            if !members.contains(&t) || t == from || came_from.contains_key(&t) {
                continue;
            }
            came_from.insert(t, (s, e));
            if t == to {
                let mut path = Vec::new();
                let mut at = to;
                while at != from {
                    let (prev, edge) = came_from[&at];
                    path.push((prev, graph.edges.action(graph.edges[prev][edge]).clone()));
                    at = prev;
                }
                path.reverse();
                return path;
            }
            queue.push_back(t);
        }
    }
    unreachable!("states of one component reach each other")
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Fairness, PropertyKind};
    use serde::{Deserialize, Serialize};

    /// A hand-made graph: states are numbers, an action is "go to `to`".
    /// Fair actions are those whose target is in `fair_targets`.
    struct Graph {
        edges: Vec<(u8, u8)>,
        goal: Vec<u8>,
        fair_targets: Vec<u8>,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct Go {
        to: u8,
    }

    impl Spec for Graph {
        type State = u8;
        type Action = Go;
        fn name(&self) -> &'static str {
            "graph"
        }
        fn init_states(&self) -> Vec<u8> {
            vec![0]
        }
        fn actions(&self, s: &u8, actions: &mut Vec<Go>) {
            let targets = self.edges.iter().filter(|(f, _)| f == s);
            actions.extend(targets.map(|&(_, to)| Go { to }));
        }
        fn next_state(&self, s: &u8, a: &Go) -> Option<u8> {
            self.edges.contains(&(*s, a.to)).then_some(a.to)
        }
        fn properties(&self) -> Vec<Property<Self>> {
            vec![Property::<Self>::eventually(
                "reaches_goal",
                |g, s| g.goal.contains(s),
                Fairness {
                    description: "steps into fair targets",
                    weakly_fair: |g, a| g.fair_targets.contains(&a.to),
                    // Stepping to 8 or to 9 is one class: "leave for a goal".
                    class: |a| Go {
                        to: if a.to == 8 { 9 } else { a.to },
                    },
                },
            )]
        }
    }

    fn check(graph: &Graph) -> Option<Lasso<Graph>> {
        let explored = StateGraph::explore(graph, &mut |_| {});
        let property = graph.properties().remove(0);
        assert_eq!(property.kind, PropertyKind::Eventually);
        let lasso = find_fair_lasso(graph, &explored, &property);
        if let Some(lasso) = &lasso {
            assert_lasso_is_valid(graph, &property, lasso);
        }
        lasso
    }

    /// The lasso replays, its cycle closes, stays off the goal and is fair.
    fn assert_lasso_is_valid(graph: &Graph, property: &Property<Graph>, lasso: &Lasso<Graph>) {
        let mut s = 0u8;
        for a in &lasso.prefix {
            s = graph.next_state(&s, a).expect("prefix replays");
        }
        let entry = s;
        let mut cycle = Vec::new();
        for a in &lasso.cycle {
            assert!(!graph.goal.contains(&s));
            cycle.push((s, a.clone()));
            s = graph.next_state(&s, a).expect("cycle replays");
        }
        assert_eq!(s, entry, "cycle closes");
        assert!(property.cycle_is_fair(graph, &cycle));
    }

    fn go(targets: &[u8]) -> Vec<Go> {
        targets.iter().map(|&to| Go { to }).collect()
    }

    #[test]
    fn fair_cycle_is_found() {
        // 0 -> 1 <-> 2, goal 3 reachable only by an unfair step from 2.
        let graph = Graph {
            edges: vec![(0, 1), (1, 2), (2, 1), (2, 3)],
            goal: vec![3],
            fair_targets: vec![1, 2],
        };
        let lasso = check(&graph).expect("the 1-2 loop is fair");
        assert_eq!(lasso.prefix, go(&[1]));
        assert_eq!(lasso.cycle, go(&[2, 1]));
        assert_eq!(lasso.cycle_start(), Some(1));
    }

    /// A state that steps to itself is a cycle of one: found (the loop is
    /// fair) and, once the goal step is fair and enabled there, ignored.
    /// The other states are single-state components without a loop.
    #[test]
    fn a_self_loop_is_a_cycle() {
        let mut graph = Graph {
            edges: vec![(0, 1), (1, 1), (1, 2), (2, 3)],
            goal: vec![3],
            fair_targets: vec![1],
        };
        let lasso = check(&graph).expect("the loop at 1 is fair");
        assert_eq!(lasso.prefix, go(&[1]));
        assert_eq!(lasso.cycle, go(&[1]));
        graph.fair_targets.push(2);
        assert_eq!(check(&graph), None);
    }

    #[test]
    fn unfair_cycle_is_ignored() {
        // Same loop, but the step to the goal is fair and always enabled on it
        // (from both 1 and 2), so looping forever is unfair.
        let graph = Graph {
            edges: vec![(0, 1), (1, 2), (2, 1), (1, 3), (2, 3)],
            goal: vec![3],
            fair_targets: vec![1, 2, 3],
        };
        assert_eq!(check(&graph), None);
    }

    #[test]
    fn intermittently_enabled_escape_does_not_help_under_weak_fairness() {
        // The goal step is fair but enabled only in state 2: a loop through 1
        // disables it, so the loop is weakly fair (only strong fairness would
        // force the escape).
        let graph = Graph {
            edges: vec![(0, 1), (1, 2), (2, 1), (2, 3)],
            goal: vec![3],
            fair_targets: vec![1, 2, 3],
        };
        let lasso = check(&graph).expect("weakly fair loop");
        assert_eq!(lasso.cycle, go(&[2, 1]));
    }

    #[test]
    fn terminal_violation_is_found() {
        // 0 -> 1 -> goal 2, but 0 -> 4 is a dead end off the goal.
        let graph = Graph {
            edges: vec![(0, 1), (1, 2), (0, 4)],
            goal: vec![2],
            fair_targets: vec![1, 2, 4],
        };
        let lasso = check(&graph).expect("dead end");
        assert_eq!(lasso.prefix, go(&[4]));
        assert!(lasso.cycle.is_empty());
        assert_eq!(lasso.cycle_start(), None);
    }

    #[test]
    fn cycles_through_the_goal_satisfy_the_property() {
        // 0 -> 1 -> 0 forever, and 1 is the goal: []<>goal holds.
        let graph = Graph {
            edges: vec![(0, 1), (1, 0)],
            goal: vec![1],
            fair_targets: vec![],
        };
        assert_eq!(check(&graph), None);
    }

    #[test]
    fn cycle_passes_a_state_that_disables_a_fair_escape() {
        // Component {1, 2, 3}: 1->2, 2->1, 1->3, 3->1. The fair escape to the
        // goal 9 is enabled in 1 and 2 but not in 3, so a fair cycle must
        // visit 3; the 1-2 loop alone would be unfair.
        let graph = Graph {
            edges: vec![(0, 1), (1, 2), (2, 1), (1, 3), (3, 1), (1, 9), (2, 9)],
            goal: vec![9],
            fair_targets: vec![9],
        };
        let lasso = check(&graph).expect("fair through 3");
        assert!(lasso.cycle.contains(&Go { to: 3 }), "{lasso:?}");
    }

    #[test]
    fn one_class_enabled_through_different_actions_must_be_taken() {
        // Loop 1 <-> 2; from 1 the fair escape is "to 9", from 2 it is "to 8".
        // Each action alone is disabled somewhere on the loop, but they are
        // one class, enabled everywhere: looping forever is unfair.
        let graph = Graph {
            edges: vec![(0, 1), (1, 2), (2, 1), (1, 9), (2, 8)],
            goal: vec![8, 9],
            fair_targets: vec![8, 9],
        };
        assert_eq!(check(&graph), None);
    }
}
