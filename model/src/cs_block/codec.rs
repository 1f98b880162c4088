//! cs-block's states as a search stores them, packed by hand: through
//! postcard, encoding and decoding took about a quarter of a search's
//! instructions (css4c3), and sorting the CSs by comparing them field by
//! field another eighth (`Spec::encode_state`).
//!
//! The layout, a byte each:
//! * `number of CSs | accepted_dropped << 7`;
//! * per CS, its [`cs_key`]'s bytes: `number of cards | blocked << 7`, a
//!   byte per card (`held | system_registered << 4 | phase << 5`), and
//!   `held_processed | queued << 4` (an option is 0 or its value + 1).
//!
//! Counts of held telegrams fit in a nibble: each holds a connection and
//! the sizes allow 8 ([`super::SIZES`]).

use super::{Answer, Card, CardPhase, Cs, CsBlockState};
use crate::search::orbit_of_runs;
use smallvec::SmallVec;

/// The most CSs the sizes allow ([`super::SIZES`]): the fast path's arrays.
pub(super) const MOST_CSS: usize = 5;

/// The most cards a CS's key holds: a byte before them, one after, and
/// the last of its eight left free for sorting ([`sorted_from`]). The
/// sizes allow 4.
const MOST_CARDS: usize = 5;

/// A CS's bytes in a number, first byte highest, zeros after them.
///
/// These numbers also order CSs in a symmetry class's key
/// (`CsBlock::compare_processes`): one comparison, not one per field.
/// Only equal CSs have equal numbers, and CSs with as many cards (every
/// CS of a state the spec reaches) order as their fields do: blocked,
/// then the cards, then the queue place and the held answers.
pub(super) fn cs_key(cs: &Cs) -> u64 {
    let cards = cs.cards.len();
    assert!(cards <= MOST_CARDS, "a CS's key holds {MOST_CARDS} cards");
    let mut key = u64::from(u8::from(cs.blocked) << 7 | cards as u8);
    let mut counts = cs.held_processed;
    for card in &cs.cards {
        key = key << 8 | u64::from(card_byte(card));
        counts |= card.held;
    }
    let queued = cs.queued.map_or(0, |p| p + 1);
    key = key << 8 | u64::from(cs.held_processed | queued << 4);
    // One check for every count that must fit its nibble.
    assert!(
        counts < 16 && queued < 16,
        "cs-block counts fit a nibble: {cs:?}"
    );
    key << (64 - 8 * (cards + 2))
}

/// How many of a [`cs_key`]'s bytes are the CS's: the cards, and a byte
/// before and after them.
fn cs_len(first_byte: u8) -> usize {
    usize::from(first_byte & 0x7f) + 2
}

/// A card's phase ranks as `CardPhase`'s derived order does, so card
/// bytes order as cards do.
fn card_byte(card: &Card) -> u8 {
    let phase = match card.phase {
        CardPhase::Unsent => 0,
        CardPhase::InFlight { answer: None } => 1,
        CardPhase::InFlight {
            answer: Some(Answer::Issued),
        } => 2,
        CardPhase::InFlight {
            answer: Some(Answer::Unauthorized),
        } => 3,
        CardPhase::Rejected => 4,
        CardPhase::Discarded => 5,
        CardPhase::Done(Answer::Issued) => 6,
        CardPhase::Done(Answer::Unauthorized) => 7,
    };
    card.held | u8::from(card.system_registered) << 4 | phase << 5
}

fn card_of(byte: u8) -> Card {
    let phase = match byte >> 5 {
        0 => CardPhase::Unsent,
        1 => CardPhase::InFlight { answer: None },
        2 => CardPhase::InFlight {
            answer: Some(Answer::Issued),
        },
        3 => CardPhase::InFlight {
            answer: Some(Answer::Unauthorized),
        },
        4 => CardPhase::Rejected,
        5 => CardPhase::Discarded,
        6 => CardPhase::Done(Answer::Issued),
        _ => CardPhase::Done(Answer::Unauthorized),
    };
    Card {
        phase,
        system_registered: byte & 0x10 != 0,
        held: byte & 0xf,
    }
}

/// Writes `state` with the CS at position `p` being `state.css[at(p)]`
/// (the identity, or a permutation's inverse).
pub(super) fn encode(state: &CsBlockState, at: impl Fn(usize) -> usize, buf: &mut Vec<u8>) {
    let keys = (0..state.css.len()).map(|p| cs_key(&state.css[at(p)]));
    write(state, keys, buf);
}

/// Writes `state`'s header, then each CS's bytes from its key, in the
/// order of `keys` (one per CS; a sorted key's last byte, beyond the CS's
/// bytes, is overwritten or cut).
fn write(state: &CsBlockState, keys: impl Iterator<Item = u64>, buf: &mut Vec<u8>) {
    buf.clear();
    buf.resize(1 + 8 * state.css.len(), 0);
    let mut len = put(buf, 0, header(state), 1);
    for key in keys {
        len = put(buf, len, key, cs_len((key >> 56) as u8));
    }
    buf.truncate(len);
}

/// The state's first byte, as the high byte of a number.
fn header(state: &CsBlockState) -> u64 {
    let n = u8::try_from(state.css.len()).ok().filter(|&n| n < 0x80);
    let n = n.expect("a cs-block state has under 128 CSs");
    u64::from(n | u8::from(state.accepted_dropped) << 7) << 56
}

/// Writes the first `len` bytes of `number` (first byte highest) at `at`
/// as all 8 (one store), the rest left to be overwritten or cut, and
/// returns where the next bytes go. `buf` has room for 8.
fn put(buf: &mut [u8], at: usize, number: u64, len: usize) -> usize {
    buf[at..at + 8].copy_from_slice(&number.to_be_bytes());
    at + len
}

/// `state` with CS `i` moved to position `to[i]`, written without building
/// the permuted state.
pub(super) fn encode_permuted(state: &CsBlockState, to: &[usize], buf: &mut Vec<u8>) {
    let at = crate::search::inverse(to.iter().copied());
    encode(state, |p| at[p], buf);
}

/// The key of `state`'s symmetry class (`Spec::encode_representative`):
/// each CS is encoded once, the encodings are sorted and written out, with
/// no comparison of the CSs themselves.
pub(super) fn encode_sorted(
    state: &CsBlockState,
    fixed: usize,
    buf: &mut Vec<u8>,
    moved: &mut Vec<u8>,
) {
    match cs_keys(state) {
        Some(keys) => encode_sorted_keys(state, keys, fixed, buf, moved),
        // Not at any size the spec allows: the general way.
        None => crate::search::encode_sorted::<super::CsBlock>(state, fixed, buf, moved),
    }
}

/// The [`cs_key`]s of `state`'s CSs (zeros after them), if the sizes
/// allow that many CSs: the keys of such a state are written from numbers
/// ([`encode_sorted_keys`]).
pub(super) fn cs_keys(state: &CsBlockState) -> Option<[u64; MOST_CSS]> {
    if state.css.len() > MOST_CSS {
        return None;
    }
    let mut keys = [0; MOST_CSS];
    for (key, cs) in keys.iter_mut().zip(&state.css) {
        *key = cs_key(cs);
    }
    Some(keys)
}

/// [`encode_sorted`] with the CSs' keys given ([`cs_keys`]).
pub(super) fn encode_sorted_keys(
    state: &CsBlockState,
    keys: [u64; MOST_CSS],
    fixed: usize,
    buf: &mut Vec<u8>,
    moved: &mut Vec<u8>,
) {
    let n = state.css.len();
    assert!(n <= MOST_CSS, "the keys of {n} CSs");
    let sorted = sorted_from(keys, n, fixed);
    write(state, sorted[..n].iter().copied(), buf);
    // The position each key came from is in its last byte.
    crate::search::moved_by(n, |p| usize::from(sorted[p] as u8), moved);
}

/// The first `n` of `keys` sorted from position `fixed` on, each with the
/// position it came from in its last byte (free: a key holds at most
/// [`MOST_CARDS`] cards). Those positions make equal CSs keep their order
/// (so a sorted state is not moved) with no stable sort: an insertion
/// sort of distinct numbers, which on a sorted state compares neighbours
/// only.
fn sorted_from(mut keys: [u64; MOST_CSS], n: usize, fixed: usize) -> [u64; MOST_CSS] {
    for (p, key) in keys.iter_mut().enumerate() {
        debug_assert_eq!(*key as u8, 0, "the last byte is free");
        *key |= p as u64;
    }
    for end in fixed + 1..n {
        let key = keys[end];
        let mut p = end;
        while p > fixed && keys[p - 1] > key {
            keys[p] = keys[p - 1];
            p -= 1;
        }
        keys[p] = key;
    }
    keys
}

/// The size of the class a key of sorted CSs ([`encode_sorted`] from 0)
/// stands for, from its bytes: equal CSs are equal byte runs, and sorted,
/// they are neighbours.
pub(super) fn class_size(key: &[u8]) -> u64 {
    let n = usize::from(key[0] & 0x7f);
    let mut rest = &key[1..];
    let mut css: SmallVec<[&[u8]; MOST_CSS]> = SmallVec::new();
    for _ in 0..n {
        let (cs, after) = rest.split_at(cs_len(rest[0]));
        css.push(cs);
        rest = after;
    }
    orbit_of_runs(n, css.windows(2).map(|w| w[0] == w[1]))
}

/// The state [`encode`] wrote.
pub(super) fn decode(bytes: &[u8]) -> CsBlockState {
    let (&header, mut rest) = bytes.split_first().expect(WHOLE);
    let n = usize::from(header & 0x7f);
    let mut css = SmallVec::with_capacity(n);
    for _ in 0..n {
        let len = cs_len(*rest.first().expect(WHOLE));
        let (cs, after) = rest.split_at_checked(len).expect(WHOLE);
        css.push(decode_cs(cs));
        rest = after;
    }
    assert!(rest.is_empty(), "{WHOLE}, and no more");
    CsBlockState {
        css,
        accepted_dropped: header >> 7 == 1,
    }
}

/// A CS from its [`cs_key`]'s bytes.
fn decode_cs(bytes: &[u8]) -> Cs {
    let (first, cards) = bytes.split_first().expect(WHOLE);
    let (last, cards) = cards.split_last().expect(WHOLE);
    Cs {
        blocked: first >> 7 == 1,
        cards: cards.iter().map(|&byte| card_of(byte)).collect(),
        queued: (last >> 4).checked_sub(1),
        held_processed: last & 0xf,
    }
}

const WHOLE: &str = "a stored cs-block state is whole";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assume::every_preset_and_setting;
    use crate::cs_block::{CsBlock, ASSUMPTIONS};
    use crate::search::{encode_key, Identity, Keys, StateGraph};
    use crate::spec::Spec;
    use std::collections::BTreeMap;

    /// Every preset and setting of the assumptions at a size where CSs
    /// queue, block, hold telegrams and answers; but for legacy CSs under
    /// continuous demand (over 300,000 states here, as many phases) and
    /// fairness (the same states).
    fn specs() -> Vec<CsBlock> {
        let sizes = BTreeMap::from([("css".to_string(), 3), ("cards".to_string(), 2)]);
        let specs = every_preset_and_setting(ASSUMPTIONS, |preset, given| {
            let spec = CsBlock::new(preset.patches(), &sizes).unwrap();
            spec.assuming(given).unwrap()
        });
        let small = |s: &CsBlock| !(s.continuous && s.cs_rule == patches::CsRule::Legacy);
        specs
            .into_iter()
            .filter(|s| small(s) && !s.unfair)
            .collect()
    }

    /// Every reachable state decodes as it was, permuted encodings are the
    /// permuted state's, and CSs order by their keys as by their fields.
    #[test]
    fn every_reachable_state_reads_back_and_permutes_as_the_state_does() {
        let (mut buf, mut permuted) = (Vec::new(), Vec::new());
        let mut phases = std::collections::BTreeSet::new();
        for spec in specs() {
            let graph = StateGraph::explore(&spec, &mut |_| {});
            for state in graph.states() {
                CsBlock::encode_state(&state, &mut buf);
                assert_eq!(CsBlock::decode_state(&buf), state);
                let cards = state.css.iter().flat_map(|cs| &cs.cards);
                phases.extend(cards.map(|card| card_byte(card) >> 5));
                let to = [2, 0, 1];
                CsBlock::encode_permuted(&state, &to, &mut permuted);
                CsBlock::encode_state(&CsBlock::permute(&state, &to), &mut buf);
                assert_eq!(permuted, buf);
                for (i, j) in [(0, 1), (1, 2), (0, 2)] {
                    let by_fields = state.css[i].cmp(&state.css[j]);
                    assert_eq!(CsBlock::compare_processes(&state, i, j), by_fields);
                }
            }
        }
        assert_eq!(phases.len(), 8, "every phase: {phases:?}");
    }

    /// Sorting the CSs' encodings gives the key (and the permutation) that
    /// sorting the CSs by `compare_processes` and writing them permuted
    /// gives, with the first CS fixed or not; and the class's size read off
    /// the key is its canonical member's orbit.
    #[test]
    fn sorted_encodings_give_the_representative_key_and_class_size() {
        let (mut key, mut moved) = (Vec::new(), Vec::new());
        let (mut by_compare, mut moved_by_compare) = (Vec::new(), Vec::new());
        let (mut permuted, mut orbits) = (0, std::collections::BTreeSet::new());
        for spec in specs() {
            let graph = StateGraph::explore(&spec, &mut |_| {});
            for state in graph.states() {
                for fixed in [0, 1] {
                    encode_sorted(&state, fixed, &mut key, &mut moved);
                    crate::search::encode_sorted::<CsBlock>(
                        &state,
                        fixed,
                        &mut by_compare,
                        &mut moved_by_compare,
                    );
                    assert_eq!((&key, &moved), (&by_compare, &moved_by_compare));
                    permuted += usize::from(!moved.is_empty());
                }
                CsBlock::encode_state(&CsBlock::representative(&state), &mut by_compare);
                encode_sorted(&state, 0, &mut key, &mut moved);
                assert_eq!(key, by_compare, "the key is the representative's encoding");
                let orbit = crate::search::orbit_size::<CsBlock>(&state);
                assert_eq!(class_size(&key), orbit);
                orbits.insert(orbit);
            }
        }
        assert!(
            permuted > 1000,
            "most found states are not sorted: {permuted}"
        );
        assert_eq!(orbits, [1, 3, 6].into());
        let css = crate::cs_block::SIZES.iter().find(|p| p.name == "css");
        assert_eq!(css.unwrap().max, MOST_CSS as u64, "the fast path's arrays");
    }

    /// The successors written in place are those `next_state` builds, and
    /// each one's key written from the parent's CS keys is its own, under
    /// every identity; also when an admitted CS leaves the relay's queue
    /// and those behind it move up.
    #[test]
    fn successors_and_their_keys_are_each_successors_own() {
        let identities = [
            Identity::Exact,
            Identity::Symmetric,
            Identity::SymmetricButFirst,
        ];
        let (mut actions, mut successors, mut keys) = (Vec::new(), Vec::new(), Keys::default());
        let (mut key, mut moved) = (Vec::new(), Vec::new());
        let (mut compared, mut moved_up) = (0, 0);
        for spec in specs() {
            let graph = StateGraph::explore(&spec, &mut |_| {});
            for state in graph.states() {
                let mut listed = Vec::new();
                spec.actions(&state, &mut listed);
                let built: Vec<_> = listed
                    .into_iter()
                    .map(|a| (a.clone(), spec.next_state(&state, &a).unwrap()))
                    .collect();
                for identity in identities {
                    spec.successors_with_keys(
                        &state,
                        identity,
                        &mut actions,
                        &mut successors,
                        &mut keys,
                    );
                    assert_eq!(successors, built);
                    for (i, (action, next)) in successors.iter().enumerate() {
                        encode_key::<CsBlock>(identity, next, &mut key, &mut moved);
                        assert_eq!(keys.get(i), (&key[..], &moved[..]), "{identity:?} {next:?}");
                        compared += usize::from(!moved.is_empty());
                        let others = |s: &CsBlockState| {
                            let mut css = s.css.clone();
                            css.remove(action.cs());
                            css
                        };
                        moved_up += usize::from(others(next) != others(&state));
                    }
                }
            }
        }
        assert!(compared > 10_000, "{compared} moved successors compared");
        assert!(moved_up > 100, "{moved_up} successors moved other CSs");
    }

    /// Moving CSs into place gives the state `permute` builds, for every
    /// permutation of 3 CSs.
    #[test]
    fn permuting_an_owned_state_moves_its_css_as_permute_does() {
        let spec = &specs()[0];
        let graph = StateGraph::explore(spec, &mut |_| {});
        let permutations = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for state in graph.states() {
            for to in permutations {
                let owned = CsBlock::permute_owned(state.clone(), &to);
                assert_eq!(owned, CsBlock::permute(&state, &to), "{to:?}");
            }
        }
    }

    /// The symmetric search stores the keys this codec writes: its graph
    /// is the one the general path (postcard and field comparisons) built,
    /// checked here on its counts.
    #[test]
    fn a_symmetric_search_finds_the_classes_of_the_exact_one() {
        for spec in specs() {
            let exact = StateGraph::explore(&spec, &mut |_| {});
            let classes = StateGraph::explore_as(&spec, Identity::Symmetric, &mut |_| {});
            let unreduced: u64 = (0..classes.len()).map(|id| classes.class_size(id)).sum();
            assert_eq!(unreduced, exact.len() as u64);
            assert!(classes.len() < exact.len());
        }
    }

    fn initial() -> CsBlockState {
        let spec = CsBlock::new(patches::Preset::Proposed.patches(), &BTreeMap::new()).unwrap();
        spec.init_states().remove(0)
    }

    /// Past the sizes the spec allows (more CSs than the arrays hold), a
    /// state still reads back and its class key is the general one.
    #[test]
    fn a_state_past_the_fast_path_reads_back() {
        let mut state = initial();
        let cs = state.css[0].clone();
        state.css = (0..7).map(|_| cs.clone()).collect();
        state.css[3].blocked = true;
        state.css[1].queued = Some(5);
        state.accepted_dropped = true;
        let mut buf = Vec::new();
        CsBlock::encode_state(&state, &mut buf);
        assert_eq!(CsBlock::decode_state(&buf), state);
        assert_eq!(buf.len(), 1 + 7 * (2 + 2));
        let (mut key, mut moved) = (Vec::new(), Vec::new());
        encode_sorted(&state, 0, &mut key, &mut moved);
        assert_eq!(CsBlock::decode_state(&key), CsBlock::representative(&state));
        assert_eq!(moved, [0, 5, 1, 6, 2, 3, 4]);
    }

    /// A count past its nibble is refused, not written over its
    /// neighbour.
    #[test]
    #[should_panic(expected = "cs-block counts fit a nibble")]
    fn a_count_past_its_nibble_is_refused() {
        let mut state = initial();
        state.css[1].cards[0].held = 16;
        CsBlock::encode_state(&state, &mut Vec::new());
    }
}
