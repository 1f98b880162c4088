//! The relay's connection limit (70 in January 2016, 94 later): over it, a
//! request is answered with connection excess (接続超過).

use crate::platform::{Counter, Platform};

/// Over the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionExcess {
    pub in_use: u64,
    pub limit: u64,
}

/// A counter of admitted, not yet answered requests.
pub struct Admission<P: Platform> {
    in_use: P::Counter,
    limit: u64,
}

impl<P: Platform> Admission<P> {
    pub fn new(limit: u64) -> Self {
        Admission {
            in_use: P::Counter::new(0),
            limit,
        }
    }

    /// Takes a slot, or refuses with connection excess. A compare-and-swap
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
        let before = self.in_use.fetch_sub(1);
        debug_assert!(before > 0, "admission released more slots than taken");
    }

    pub fn in_use(&self) -> u64 {
        self.in_use.load()
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
}
