//! Vectors of a fixed capacity stored inline, for the specs' states.
//!
//! A search clones a state for every successor it generates; with `Vec`s
//! inside, each clone was a heap allocation per vector and its free later,
//! a quarter to a third of a search's time. An [`Inline`] is `Copy` when
//! its items are, so a state made of them is cloned by a plain copy. It
//! reads as a slice, compares, hashes and orders as one, prints as one
//! (`[a, b]`) and serializes as a sequence, exactly as a `Vec` does, so the
//! stored bytes, the symmetry order and every printed state are those of a
//! `Vec`.
//!
//! The capacity is a spec's largest size (its `SizeParam::max`), so a
//! valid spec never fills one; pushing past it is a bug of the spec and
//! panics, and decoding a longer sequence is an error.

use serde::de::{Error, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// Up to `N` items, inline; the slots past `len` hold `T::default()`.
#[derive(Clone, Copy)]
pub struct Inline<T, const N: usize> {
    len: u8,
    items: [T; N],
}

impl<T: Copy + Default, const N: usize> Inline<T, N> {
    /// No items.
    pub fn new() -> Self {
        assert!(N <= usize::from(u8::MAX), "an inline capacity fits a byte");
        Inline {
            len: 0,
            items: [T::default(); N],
        }
    }

    /// `len` copies of `item`.
    pub fn from_elem(item: T, len: usize) -> Self {
        let mut inline = Self::new();
        for _ in 0..len {
            inline.push(item);
        }
        inline
    }

    /// Appends `item`; panics when full (a spec sized past its capacity).
    pub fn push(&mut self, item: T) {
        let len = usize::from(self.len);
        assert!(len < N, "an inline vector holds at most {N} items");
        self.items[len] = item;
        self.len += 1;
    }

    /// Removes and returns the item at `at`, shifting the rest down.
    pub fn remove(&mut self, at: usize) -> T {
        let item = self[at];
        let len = usize::from(self.len);
        self.items.copy_within(at + 1..len, at);
        self.items[len - 1] = T::default();
        self.len -= 1;
        item
    }
}

impl<T: Copy + Default, const N: usize> Default for Inline<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for Inline<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut inline = Self::new();
        for item in iter {
            inline.push(item);
        }
        inline
    }
}

impl<T, const N: usize> Deref for Inline<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..usize::from(self.len)]
    }
}

impl<T, const N: usize> DerefMut for Inline<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..usize::from(self.len)]
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a Inline<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a mut Inline<T, N> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T: PartialEq, const N: usize> PartialEq for Inline<T, N> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq, const N: usize> Eq for Inline<T, N> {}

impl<T: PartialOrd, const N: usize> PartialOrd for Inline<T, N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Ord, const N: usize> Ord for Inline<T, N> {
    fn cmp(&self, other: &Self) -> Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: Hash, const N: usize> Hash for Inline<T, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for Inline<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Serialize, const N: usize> Serialize for Inline<T, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T, const N: usize> Deserialize<'de> for Inline<T, N>
where
    T: Copy + Default + Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T, const N: usize> Visitor<'de> for Items<T, N>
        where
            T: Copy + Default + Deserialize<'de>,
        {
            type Value = Inline<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a sequence of at most {N} items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut inline = Inline::new();
                while let Some(item) = seq.next_element()? {
                    if inline.len() == N {
                        return Err(A::Error::invalid_length(N + 1, &self));
                    }
                    inline.push(item);
                }
                Ok(inline)
            }
        }
        deserializer.deserialize_seq(Items(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Small = Inline<u8, 3>;

    #[test]
    fn reads_orders_prints_and_encodes_as_a_vec() {
        let vectors: [Vec<u8>; 4] = [vec![], vec![1], vec![1, 2], vec![2]];
        for a in &vectors {
            let inline: Small = a.iter().copied().collect();
            assert_eq!(&*inline, &a[..]);
            assert_eq!(format!("{inline:?}"), format!("{a:?}"));
            let bytes = postcard::to_allocvec(&inline).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(a).unwrap());
            assert_eq!(postcard::from_bytes::<Small>(&bytes).unwrap(), inline);
            for b in &vectors {
                let other: Small = b.iter().copied().collect();
                assert_eq!(inline.cmp(&other), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(inline == other, a == b);
            }
        }
    }

    #[test]
    fn remove_shifts_and_clears_the_freed_slot() {
        let mut inline = Small::from_elem(7, 2);
        inline[1] = 8;
        assert_eq!(inline.remove(0), 7);
        assert_eq!(&*inline, &[8]);
        // The freed slot is back to the default: equal vectors are equal
        // bytes in memory too.
        assert_eq!(inline.items, [8, 0, 0]);
    }

    #[test]
    fn a_longer_sequence_does_not_decode() {
        let bytes = postcard::to_allocvec(&vec![1u8, 2, 3, 4]).unwrap();
        assert!(postcard::from_bytes::<Small>(&bytes).is_err());
    }

    #[test]
    fn the_specs_largest_sizes_fit_their_states() {
        let max = |sizes: &[crate::sizes::SizeParam], name| {
            let param = sizes.iter().find(|p| p.name == name).expect(name);
            param.max as usize
        };
        use crate::{cs_block, timer_free};
        assert_eq!(max(cs_block::SIZES, "css"), cs_block::MAX_CSS);
        assert_eq!(max(cs_block::SIZES, "cards"), cs_block::MAX_CARDS);
        assert_eq!(max(timer_free::SIZES, "workers"), timer_free::MAX_WORKERS);
        assert_eq!(
            max(timer_free::SIZES, "telegrams"),
            timer_free::MAX_TELEGRAMS
        );
    }

    #[test]
    #[should_panic(expected = "holds at most 3 items")]
    fn pushing_past_the_capacity_is_a_bug() {
        let mut inline = Small::from_elem(1, 3);
        inline.push(4);
    }
}
