//! The table of work areas shared by the AP workers.

use crate::platform::{Lock, Platform};
use crate::telegram::TelegramId;

/// Why a free was refused: the AP freed what it does not own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FreeError {
    #[error("work area {0} is not allocated")]
    NotAllocated(u32),
    #[error("work area {area} belongs to {owner}")]
    OwnedByAnother { area: u32, owner: TelegramId },
}

/// Fixed-size table of work areas: slot `i` holds its owner telegram.
pub struct WorkAreas<P: Platform> {
    slots: P::Mutex<Vec<Option<TelegramId>>>,
}

impl<P: Platform> WorkAreas<P> {
    pub fn new(size: u32) -> Self {
        WorkAreas {
            slots: P::Mutex::new(vec![None; size as usize]),
        }
    }

    /// Allocates the lowest free area to `telegram`.
    pub fn alloc(&self, telegram: TelegramId) -> Option<u32> {
        self.slots.with(|slots| {
            let free = slots.iter().position(Option::is_none)?;
            slots[free] = Some(telegram);
            Some(free as u32)
        })
    }

    /// Frees `area` on behalf of `telegram`. Freeing an area that is free or
    /// owned by another telegram is refused: in the 2016 AP it corrupted the
    /// heap and ended the process (abnormal termination).
    pub fn free(&self, area: u32, telegram: TelegramId) -> Result<(), FreeError> {
        self.slots
            .with(|slots| match slots.get(area as usize).copied().flatten() {
                None => Err(FreeError::NotAllocated(area)),
                Some(owner) if owner != telegram => Err(FreeError::OwnedByAnother { area, owner }),
                Some(_) => {
                    slots[area as usize] = None;
                    Ok(())
                }
            })
    }

    /// The telegrams holding an area, by area.
    pub fn allocated(&self) -> Vec<(u32, TelegramId)> {
        self.slots.with(|slots| {
            slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|t| (i as u32, t)))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Std;

    #[test]
    fn alloc_and_free() {
        let areas = WorkAreas::<Std>::new(2);
        assert_eq!(areas.alloc(TelegramId(1)), Some(0));
        assert_eq!(areas.alloc(TelegramId(2)), Some(1));
        assert_eq!(areas.alloc(TelegramId(3)), None);
        assert_eq!(areas.free(0, TelegramId(1)), Ok(()));
        assert_eq!(areas.allocated(), vec![(1, TelegramId(2))]);
    }

    #[test]
    fn freeing_twice_or_anothers_area_is_refused() {
        let areas = WorkAreas::<Std>::new(2);
        let a = areas.alloc(TelegramId(1)).unwrap();
        areas.free(a, TelegramId(1)).unwrap();
        assert_eq!(
            areas.free(a, TelegramId(1)),
            Err(FreeError::NotAllocated(a))
        );
        let b = areas.alloc(TelegramId(2)).unwrap();
        assert_eq!(
            areas.free(b, TelegramId(1)),
            Err(FreeError::OwnedByAnother {
                area: b,
                owner: TelegramId(2)
            })
        );
        assert_eq!(
            areas.free(9, TelegramId(1)),
            Err(FreeError::NotAllocated(9))
        );
    }
}
