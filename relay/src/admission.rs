//! The relay's connection limit (70 in January 2016, 94 later): over it, a
//! request is answered with connection excess (接続超過).
//!
//! In which order freed connections go out is the `admission` switch
//! (docs/specs.md, cs-block "admission order"): first come, as deployed,
//! or oldest retry first, ours: the relay remembers, in order, the CSs it
//! answered connection excess (it knows every telegram's CS ID), and holds
//! freed connections for them, oldest first.

use crate::platform::{Counter, Lock, Platform};
use crate::telegram::CsId;
use patches::Admission as Order;
use std::collections::VecDeque;

/// Over the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionExcess {
    pub in_use: u64,
    pub limit: u64,
}

/// The connections in use, and (oldest retry first) the queue of CSs
/// waiting for one.
pub struct Admission<P: Platform> {
    /// First come: a lock-free counter.
    in_use: P::Counter,
    limit: u64,
    order: Order,
    /// Oldest retry first: the count and the queue under one lock, so a
    /// decision sees both at once (a platform lock's closure takes no other
    /// platform step, so the count cannot be the counter above).
    ordered: P::Mutex<Ordered>,
}

/// Oldest retry first: connections in use and the CSs answered connection
/// excess and not admitted since, oldest first; each CS at most once, so
/// the queue is never longer than the CSs there are.
#[derive(Default)]
struct Ordered {
    in_use: u64,
    waiting: VecDeque<CsId>,
}

impl Ordered {
    /// Admits `cs` if more connections are free than CSs wait ahead of it
    /// (all of them, if it is not waiting); otherwise it waits, in its
    /// place if it had one.
    fn admit(&mut self, cs: CsId, limit: u64) -> Result<(), ConnectionExcess> {
        let place = self.waiting.iter().position(|&w| w == cs);
        let ahead = place.unwrap_or(self.waiting.len()) as u64;
        if self.in_use + ahead >= limit {
            if place.is_none() {
                self.waiting.push_back(cs);
            }
            return Err(ConnectionExcess {
                in_use: self.in_use,
                limit,
            });
        }
        if let Some(place) = place {
            self.waiting.remove(place);
        }
        self.in_use += 1;
        Ok(())
    }
}

impl<P: Platform> Admission<P> {
    /// First-come admission.
    pub fn new(limit: u64) -> Self {
        Self::ordered(limit, Order::FirstCome)
    }

    pub fn ordered(limit: u64, order: Order) -> Self {
        Admission {
            in_use: P::Counter::new(0),
            limit,
            order,
            ordered: P::Mutex::new(Ordered::default()),
        }
    }

    /// Admits a request of `cs` in the configured order, or refuses it
    /// with connection excess.
    pub fn admit(&self, cs: CsId) -> Result<(), ConnectionExcess> {
        match self.order {
            Order::FirstCome => self.try_admit(),
            Order::OldestRetryFirst => self.ordered.with(|o| o.admit(cs, self.limit)),
        }
    }

    /// CSs waiting for a connection, oldest first (oldest retry first).
    pub fn waiting(&self) -> Vec<CsId> {
        match self.order {
            Order::FirstCome => Vec::new(),
            Order::OldestRetryFirst => self.ordered.with(|o| o.waiting.iter().copied().collect()),
        }
    }

    /// Takes a slot first come (whatever the order: [`Admission::admit`]
    /// decides by it), or refuses with connection excess. A compare-and-swap
    /// loop, so two requests racing for the last slot never both get it.
    pub fn try_admit(&self) -> Result<(), ConnectionExcess> {
        let mut current = self.in_use.load();
        loop {
            if current >= self.limit {
                return Err(ConnectionExcess {
                    in_use: current,
                    limit: self.limit,
                });
            }
            match self.in_use.compare_exchange(current, current + 1) {
                Ok(_) => return Ok(()),
                Err(seen) => current = seen,
            }
        }
    }

    /// Gives a slot back when its request is answered or lost.
    pub fn release(&self) {
        let before = match self.order {
            Order::FirstCome => self.in_use.fetch_sub(1),
            Order::OldestRetryFirst => self.ordered.with(|o| {
                let before = o.in_use;
                o.in_use = before.saturating_sub(1);
                before
            }),
        };
        debug_assert!(before > 0, "admission released more slots than taken");
    }

    pub fn in_use(&self) -> u64 {
        match self.order {
            Order::FirstCome => self.in_use.load(),
            Order::OldestRetryFirst => self.ordered.with(|o| o.in_use),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Std;

    #[test]
    fn the_limit_is_enforced_and_slots_come_back() {
        let a = Admission::<Std>::new(2);
        assert!(a.try_admit().is_ok());
        assert!(a.try_admit().is_ok());
        assert_eq!(
            a.try_admit(),
            Err(ConnectionExcess {
                in_use: 2,
                limit: 2
            })
        );
        a.release();
        assert!(a.try_admit().is_ok());
        assert_eq!(a.in_use(), 2);
    }

    #[test]
    fn a_freed_connection_is_held_for_the_oldest_refused_cs() {
        let a = Admission::<Std>::ordered(2, Order::OldestRetryFirst);
        let (cs1, cs2, cs3) = (CsId(1), CsId(2), CsId(3));
        assert!(a.admit(cs1).is_ok() && a.admit(cs1).is_ok());
        assert!(a.admit(cs2).is_err() && a.admit(cs3).is_err());
        assert!(a.admit(cs2).is_err(), "a CS waits once, in its place");
        assert_eq!(a.waiting(), [cs2, cs3]);
        a.release();
        // One free connection, held for cs2: cs1's new card and cs3 wait.
        assert!(a.admit(cs1).is_err() && a.admit(cs3).is_err());
        assert!(a.admit(cs2).is_ok());
        assert_eq!(a.waiting(), [cs3, cs1]);
        a.release();
        a.release();
        // Two free: one for cs3, one for cs1 behind it.
        assert!(a.admit(cs1).is_ok() && a.admit(cs3).is_ok());
        assert_eq!((a.waiting(), a.in_use()), (vec![], 2));
    }

    #[test]
    fn first_come_gives_a_freed_connection_to_whoever_asks() {
        let a = Admission::<Std>::new(1);
        assert!(a.admit(CsId(1)).is_ok());
        assert!(a.admit(CsId(2)).is_err());
        a.release();
        assert!(a.admit(CsId(1)).is_ok());
        assert!(a.waiting().is_empty());
    }
}
