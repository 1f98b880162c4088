//! A worker's message queue: a fixed array and a length, so a worker (and
//! a state's worker vector) is copied with one `memcpy`. A search clones a
//! state for every successor; cloning the queue as an inline vector, message
//! by message, was about a sixth of a search's instructions.
//!
//! Eight messages are room enough: the longest queue at the largest sizes
//! (5 telegrams, on every preset and assumption) holds six
//! (`tests::the_longest_queue_fits`). A push past the capacity panics,
//! naming the capacity, rather than dropping a message.

use super::Message;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// How many messages a queue holds.
pub const QUEUE_CAPACITY: usize = 8;

/// The messages waiting in a worker's queue, oldest first. It reads as a
/// slice of them; equality, order, hashing and serialization see only the
/// queued messages, never the unused slots.
#[derive(Clone, Copy)]
pub struct Queue {
    len: u8,
    slots: [Message; QUEUE_CAPACITY],
}

/// What an unused slot holds (never read).
const EMPTY: Message = Message::Telegram { telegram: 0 };

impl Queue {
    pub const fn new() -> Self {
        Queue {
            len: 0,
            slots: [EMPTY; QUEUE_CAPACITY],
        }
    }

    /// A queue of `messages`; `None` when they are more than it holds.
    pub fn try_from_slice(messages: &[Message]) -> Option<Self> {
        let mut queue = Queue::new();
        queue
            .slots
            .get_mut(..messages.len())?
            .copy_from_slice(messages);
        queue.len = messages.len() as u8;
        Some(queue)
    }

    /// A queue of `messages`, which must fit ([`QUEUE_CAPACITY`]).
    pub fn from_slice(messages: &[Message]) -> Self {
        Self::try_from_slice(messages).unwrap_or_else(|| overflow())
    }

    /// Queues `message` last.
    pub fn push(&mut self, message: Message) {
        let slot = self.slots.get_mut(usize::from(self.len));
        *slot.unwrap_or_else(|| overflow()) = message;
        self.len += 1;
    }

    /// Takes the message at `at` out, the later ones moving up.
    pub fn remove(&mut self, at: usize) -> Message {
        let message = self[at];
        let len = usize::from(self.len);
        self.slots.copy_within(at + 1..len, at);
        self.len -= 1;
        message
    }
}

fn overflow() -> ! {
    panic!("a timer-free worker's queue holds at most {QUEUE_CAPACITY} messages")
}

impl Default for Queue {
    fn default() -> Self {
        Queue::new()
    }
}

impl Deref for Queue {
    type Target = [Message];

    fn deref(&self) -> &[Message] {
        &self.slots[..usize::from(self.len)]
    }
}

impl DerefMut for Queue {
    fn deref_mut(&mut self) -> &mut [Message] {
        &mut self.slots[..usize::from(self.len)]
    }
}

impl<'a> IntoIterator for &'a Queue {
    type Item = &'a Message;
    type IntoIter = std::slice::Iter<'a, Message>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
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

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Queue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Queue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let messages = Vec::<Message>::deserialize(deserializer)?;
        Queue::try_from_slice(&messages).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "a timer-free worker's queue holds at most {QUEUE_CAPACITY} messages, not {}",
                messages.len()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Message = Message::Telegram { telegram: 1 };
    const B: Message = Message::TimeoutNotice { epoch: 1 };
    const C: Message = Message::Completion { telegram: 2 };

    #[test]
    fn a_queue_reads_as_its_messages_whatever_its_unused_slots_held() {
        let mut queue = Queue::from_slice(&[A, B, C]);
        assert_eq!(queue.remove(1), B);
        assert_eq!(&*queue, &[A, C]);
        // The removed B's old slot still holds C: it is not seen.
        assert_eq!(queue, Queue::from_slice(&[A, C]));
        assert!(queue < Queue::from_slice(&[A, C, A]));
        queue.push(B);
        assert_eq!(format!("{queue:?}"), format!("{:?}", [A, C, B]));
    }

    #[test]
    fn a_queue_round_trips_through_json_and_refuses_too_many_messages() {
        let queue = Queue::from_slice(&[A, C]);
        let json = serde_json::to_string(&queue).unwrap();
        assert_eq!(serde_json::from_str::<Queue>(&json).unwrap(), queue);
        let long = serde_json::to_string(&[A; QUEUE_CAPACITY + 1]).unwrap();
        let err = serde_json::from_str::<Queue>(&long).unwrap_err();
        assert!(err.to_string().contains("at most 8 messages"), "{err}");
    }

    #[test]
    #[should_panic(expected = "holds at most 8 messages")]
    fn a_push_past_the_capacity_panics_rather_than_dropping_a_message() {
        let mut queue = Queue::from_slice(&[A; QUEUE_CAPACITY]);
        queue.push(B);
    }
}
