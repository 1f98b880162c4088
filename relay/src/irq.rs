//! The interrupt controller of the CPU core that serves the HSM.
//!
//! Physical mode: every source has its own pending bit; each interrupt is
//! delivered and acknowledged. Logical mode (the 2016 BIOS setting): the
//! sources share one delivery slot on the core; when the HSM's and the
//! monitor's interrupts are pending at the same moment they collapse into one,
//! and the CPU answers only the monitor's. Loss needs simultaneity: an
//! interrupt that arrives while another is *in service* is kept pending.

use crate::events::IrqSource;
use crate::platform::{Lock, Platform, Wait};
use patches::IrqMode;
use std::collections::BTreeSet;

/// What a raise did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raised {
    Pending,
    /// Two pending interrupts became one: `lost` will never be acknowledged.
    Collapsed {
        kept: IrqSource,
        lost: IrqSource,
    },
}

#[derive(Debug)]
struct Lines {
    mode: IrqMode,
    /// Logical mode: the core's single pending slot.
    slot: Option<IrqSource>,
    /// Physical mode: one pending bit per source.
    pending: BTreeSet<IrqSource>,
    in_service: Option<IrqSource>,
    shutdown: bool,
}

/// The controller; the CPU thread calls [`IrqController::take_logged`].
pub struct IrqController<P: Platform> {
    lines: P::Mutex<Lines>,
    /// Interrupts ended so far: an observer for step-by-step drivers (a
    /// plain std atomic, never a scheduling point).
    serviced: std::sync::atomic::AtomicU64,
}

impl<P: Platform> IrqController<P> {
    pub fn new(mode: IrqMode) -> Self {
        IrqController {
            lines: P::Mutex::new(Lines {
                mode,
                slot: None,
                pending: BTreeSet::new(),
                in_service: None,
                shutdown: false,
            }),
            serviced: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// [`IrqController::raise_logged`] with nothing to log (unit tests).
    #[cfg(test)]
    fn raise(&self, source: IrqSource) -> Raised {
        self.raise_logged(source, |_| {})
    }

    /// Raises and calls `log` with the result while the lines are locked,
    /// so the event log orders raises and acknowledgements as they happened.
    /// `log` must not call the platform.
    pub fn raise_logged(&self, source: IrqSource, log: impl FnOnce(Raised)) -> Raised {
        self.lines.with(|l| {
            let raised = Self::raise_locked(l, source);
            log(raised);
            raised
        })
    }

    fn raise_locked(l: &mut Lines, source: IrqSource) -> Raised {
        match l.mode {
            IrqMode::Physical => {
                l.pending.insert(source);
                Raised::Pending
            }
            IrqMode::Logical => match l.slot {
                Some(other) if other != source => {
                    // The order cannot be kept: the monitor's vector wins.
                    l.slot = Some(IrqSource::Monitor);
                    let lost = if source == IrqSource::Monitor {
                        other
                    } else {
                        source
                    };
                    Raised::Collapsed {
                        kept: IrqSource::Monitor,
                        lost,
                    }
                }
                _ => {
                    l.slot = Some(source);
                    Raised::Pending
                }
            },
        }
    }

    /// [`IrqController::take_logged`] with nothing to log (unit tests).
    #[cfg(test)]
    fn take(&self) -> Option<IrqSource> {
        self.take_logged(|_| {})
    }

    /// The CPU waits for the next interrupt and puts it in service; `None`
    /// at shutdown. The HSM's pending bit is served first in Physical mode.
    /// Calls `log` with the source put in service while the lines are
    /// locked. `log` must not call the platform.
    pub fn take_logged(&self, mut log: impl FnMut(IrqSource)) -> Option<IrqSource> {
        self.lines.wait(|l| {
            if l.shutdown {
                return Wait::Ready(None);
            }
            if l.in_service.is_some() {
                return Wait::blocked();
            }
            let next = match l.mode {
                IrqMode::Logical => l.slot.take(),
                IrqMode::Physical => l.pending.pop_first(),
            };
            match next {
                Some(source) => {
                    l.in_service = Some(source);
                    log(source);
                    Wait::Ready(Some(source))
                }
                None => Wait::blocked(),
            }
        })
    }

    /// End of interrupt: the core can take the next one.
    pub fn end_of_interrupt(&self) {
        self.lines.with(|l| l.in_service = None);
        self.serviced
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Interrupts ended so far (observer only).
    #[doc(hidden)]
    pub fn serviced(&self) -> u64 {
        self.serviced.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The sources pending (not in service) on the core.
    pub fn pending(&self) -> Vec<IrqSource> {
        self.lines.with(|l| match l.mode {
            IrqMode::Logical => l.slot.into_iter().collect(),
            IrqMode::Physical => l.pending.iter().copied().collect(),
        })
    }

    pub fn shutdown(&self) {
        self.lines.with(|l| l.shutdown = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::within;
    use crate::platform::Std;
    use std::sync::Arc;

    fn controller(mode: IrqMode) -> Arc<IrqController<Std>> {
        Arc::new(IrqController::new(mode))
    }

    /// The CPU's next interrupt, failing the test if the wait does not end.
    fn take(irq: &Arc<IrqController<Std>>) -> Option<IrqSource> {
        let irq = irq.clone();
        within("IrqController::take", move || irq.take())
    }

    #[test]
    fn logical_mode_collapses_simultaneous_interrupts_keeping_the_monitors() {
        let irq = controller(IrqMode::Logical);
        assert_eq!(irq.raise(IrqSource::Hsm), Raised::Pending);
        assert_eq!(
            irq.raise(IrqSource::Monitor),
            Raised::Collapsed {
                kept: IrqSource::Monitor,
                lost: IrqSource::Hsm
            }
        );
        assert_eq!(take(&irq), Some(IrqSource::Monitor));
        irq.end_of_interrupt();
        irq.shutdown();
        assert_eq!(take(&irq), None);
    }

    #[test]
    fn logical_mode_keeps_an_interrupt_raised_while_another_is_in_service() {
        let irq = controller(IrqMode::Logical);
        irq.raise(IrqSource::Monitor);
        assert_eq!(take(&irq), Some(IrqSource::Monitor));
        assert_eq!(irq.raise(IrqSource::Hsm), Raised::Pending);
        irq.end_of_interrupt();
        assert_eq!(take(&irq), Some(IrqSource::Hsm));
    }

    #[test]
    fn logical_mode_coalesces_a_source_raised_again_before_it_is_taken() {
        // One slot per core: a second raise of the same source is the same
        // pending interrupt, not a collision that loses one.
        let irq = controller(IrqMode::Logical);
        assert_eq!(irq.raise(IrqSource::Monitor), Raised::Pending);
        assert_eq!(irq.raise(IrqSource::Monitor), Raised::Pending);
        assert_eq!(irq.pending(), vec![IrqSource::Monitor]);
        assert_eq!(take(&irq), Some(IrqSource::Monitor));
        assert_eq!(irq.pending(), vec![]);
    }

    #[test]
    fn pending_lists_the_waiting_sources_and_serviced_counts_ended_interrupts() {
        let irq = controller(IrqMode::Physical);
        irq.raise(IrqSource::Monitor);
        irq.raise(IrqSource::Hsm);
        assert_eq!(irq.pending(), vec![IrqSource::Hsm, IrqSource::Monitor]);
        assert_eq!(take(&irq), Some(IrqSource::Hsm));
        assert_eq!(irq.pending(), vec![IrqSource::Monitor]);
        assert_eq!(irq.serviced(), 0, "in service is not yet serviced");
        irq.end_of_interrupt();
        assert_eq!(take(&irq), Some(IrqSource::Monitor));
        irq.end_of_interrupt();
        assert_eq!(irq.serviced(), 2);
        assert_eq!(irq.pending(), vec![]);
    }

    #[test]
    fn physical_mode_delivers_both() {
        let irq = controller(IrqMode::Physical);
        irq.raise(IrqSource::Monitor);
        assert_eq!(irq.raise(IrqSource::Hsm), Raised::Pending);
        assert_eq!(take(&irq), Some(IrqSource::Hsm));
        irq.end_of_interrupt();
        assert_eq!(take(&irq), Some(IrqSource::Monitor));
    }
}
