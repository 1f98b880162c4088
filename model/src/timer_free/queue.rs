//! A worker's message queue: a fixed array and a length, so cloning a
//! worker copies its queue whole, with no loop and no allocation. A search
//! clones a state for every successor; cloning the queue as an inline
//! vector was about a sixth of a search's instructions.
//!
//! Eight messages fit the array: the longest queue at the largest sizes
//! (5 telegrams, on every preset and assumption) holds six
//! (`tests::the_longest_queue_fits`). A longer queue (a relay's log with
//! hundreds of telegrams, walked by `validate`) moves to the heap whole:
//! the spec bounds no queue.

use super::Message;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// How many messages a queue holds without allocating.
pub const INLINE_MESSAGES: usize = 8;

/// The messages waiting in a worker's queue, oldest first. It reads as a
/// slice of them; equality, order, hashing and serialization see only the
/// queued messages, never the unused slots or where they are kept.
pub struct Queue {
    len: u8,
    slots: [Message; INLINE_MESSAGES],
    /// All the messages, once they outgrew `slots` (`len` and `slots` are
    /// then unused). Boxed: one pointer, not a vector's three words, in
    /// every worker of every state a search clones.
    #[allow(clippy::box_collection)]
    spilled: Option<Box<Vec<Message>>>,
}

/// What an unused slot holds (never read).
const EMPTY: Message = Message::Telegram { telegram: 0 };

impl Queue {
    pub const fn new() -> Self {
        Queue {
            len: 0,
            slots: [EMPTY; INLINE_MESSAGES],
            spilled: None,
        }
    }

    /// A queue of `messages`.
    pub fn from_slice(messages: &[Message]) -> Self {
        let mut queue = Queue::new();
        match queue.slots.get_mut(..messages.len()) {
            Some(slots) => {
                slots.copy_from_slice(messages);
                queue.len = messages.len() as u8;
            }
            None => queue.spilled = Some(Box::new(messages.to_vec())),
        }
        queue
    }

    /// Makes the queue `messages`, written into its slots as they come
    /// (a queue built and moved into place, or an array of the messages
    /// built and copied, cost more than the writes).
    #[inline]
    pub fn assign(&mut self, messages: impl ExactSizeIterator<Item = Message>) {
        let len = messages.len();
        match self.slots.get_mut(..len) {
            Some(slots) => {
                for (slot, message) in slots.iter_mut().zip(messages) {
                    *slot = message;
                }
                self.len = len as u8;
                self.spilled = None;
            }
            None => self.spilled = Some(Box::new(messages.collect())),
        }
    }

    /// Queues `message` last.
    #[inline]
    pub fn push(&mut self, message: Message) {
        match self.slots.get_mut(usize::from(self.len)) {
            Some(slot) if self.spilled.is_none() => {
                *slot = message;
                self.len += 1;
            }
            _ => self.push_spilled(message),
        }
    }

    /// [`Queue::push`] past the inline slots, out of the way of the
    /// inline pushes a search makes.
    #[cold]
    fn push_spilled(&mut self, message: Message) {
        match &mut self.spilled {
            Some(spilled) => spilled.push(message),
            None => {
                let mut all = self.slots.to_vec();
                all.push(message);
                self.spilled = Some(Box::new(all));
            }
        }
    }

    /// Takes the message at `at` out, the later ones moving up.
    #[inline]
    pub fn remove(&mut self, at: usize) -> Message {
        if let Some(spilled) = &mut self.spilled {
            return spilled.remove(at);
        }
        let message = self[at];
        let len = usize::from(self.len);
        self.slots.copy_within(at + 1..len, at);
        self.len -= 1;
        message
    }
}

impl Clone for Queue {
    fn clone(&self) -> Self {
        Queue {
            spilled: self.spilled.clone(),
            ..*self
        }
    }

    /// Copies the slots whole and reuses a spilled vector.
    #[inline]
    fn clone_from(&mut self, source: &Self) {
        (self.len, self.slots) = (source.len, source.slots);
        // Checked here: `Option::clone_from` is an out-of-line call for
        // every worker of every successor, and neither side spills at any
        // size a search runs.
        if self.spilled.is_some() || source.spilled.is_some() {
            self.spilled.clone_from(&source.spilled);
        }
    }
}

impl Default for Queue {
    fn default() -> Self {
        Queue::new()
    }
}

impl Deref for Queue {
    type Target = [Message];

    fn deref(&self) -> &[Message] {
        match &self.spilled {
            None => &self.slots[..usize::from(self.len)],
            Some(spilled) => spilled,
        }
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Queue {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Queue {}

impl PartialOrd for Queue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl Hash for Queue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl Serialize for Queue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Queue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Queue::from_slice(&Vec::<Message>::deserialize(
            deserializer,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Message = Message::Telegram { telegram: 1 };
    const B: Message = Message::TimeoutNotice { epoch: 1 };
    const C: Message = Message::Completion { telegram: 2 };

    #[test]
    fn a_queue_reads_as_its_messages() {
        let mut queue = Queue::from_slice(&[A, B, C]);
        assert_eq!(queue.remove(1), B);
        assert_eq!(&*queue, &[A, C]);
        assert_eq!(queue, Queue::from_slice(&[A, C]));
        assert!(queue < Queue::from_slice(&[A, C, A]));
        queue.push(B);
        assert_eq!(format!("{queue:?}"), format!("{:?}", [A, C, B]));
    }

    #[test]
    fn a_queue_round_trips_through_json() {
        let queue = Queue::from_slice(&[A, C]);
        let json = serde_json::to_string(&queue).unwrap();
        assert_eq!(json, serde_json::to_string(&[A, C]).unwrap());
        assert_eq!(serde_json::from_str::<Queue>(&json).unwrap(), queue);
    }

    /// Messages assigned to a queue are all it holds, whether it had
    /// spilled or not, and however many they are.
    #[test]
    fn an_assigned_queue_holds_only_its_new_messages() {
        let mut queue = Queue::from_slice(&[A; INLINE_MESSAGES + 1]);
        queue.assign([B, C].into_iter());
        assert_eq!(&*queue, &[B, C]);
        queue.assign([C; INLINE_MESSAGES + 2].into_iter());
        assert_eq!(&*queue, &[C; INLINE_MESSAGES + 2]);
        queue.assign([].into_iter());
        assert!(queue.is_empty());
    }

    /// A relay's log can queue more than a search ever does: the queue
    /// grows past its inline room and still clones and compares whole.
    #[test]
    fn a_queue_grows_past_its_inline_room() {
        let mut queue = Queue::from_slice(&[A; INLINE_MESSAGES]);
        queue.push(B);
        queue.push(C);
        assert_eq!(queue.len(), INLINE_MESSAGES + 2);
        let copy = queue.clone();
        assert_eq!(copy, queue);
        assert_eq!(copy[INLINE_MESSAGES..], [B, C]);
        assert_eq!(queue.remove(0), A);
        // Compared message by message: B sorts after the A it replaced.
        assert!(copy < queue, "{copy:?} sorts before {queue:?}");
        let long = serde_json::to_string(&copy).unwrap();
        assert_eq!(serde_json::from_str::<Queue>(&long).unwrap(), copy);
        // Where the messages are kept is not seen.
        let mut short = Queue::from_slice(&[A; INLINE_MESSAGES + 1]);
        short.remove(0);
        assert_eq!(short, Queue::from_slice(&[A; INLINE_MESSAGES]));
    }
}
