//! Spec actions carried out on the real relay, and what is compared: the
//! spec -> relay direction of the map (each mechanism's `Steer`; the other
//! direction is its `Refinement`, in the same file).
//!
//! # The mapping (one spec action = one steered step of the relay)
//!
//! The relay runs on the deterministic driver ([`crate::lockstep`]) with its
//! real threads. A spec action names who acts; the mapping lets exactly that
//! relay thread (or pair of threads) run, and nobody else:
//!
//! **timer-free** (one AP worker; threads: worker, timer service, HSM, CPU)
//! * `Arrive{t}`: a CS telegram `T{t+1}` is submitted (queued to the worker).
//! * `TimerFires`: the clock jumps to the timer's deadline and the timer
//!   service runs until it waits again (it fires and posts the notice).
//! * `HsmCompletes`: the HSM firmware and the CPU core run until both wait
//!   (compute, interrupt, acknowledgement, completion notice posted).
//! * `Handle{m}`: the AP worker runs exactly one turn of its message loop; the
//!   relay picks the message by its own delivery rule, which must be `m`. A
//!   turn that only discards the HSM result of an abandoned request (the
//!   relay's board still computes a request the spec drops at termination;
//!   the spec says such a completion "is discarded") is a stutter, and the
//!   worker runs one more turn.
//!
//! **irq-order** (threads: worker, HSM, CPU, and the monitor when it is on)
//! * `RelayRequests{r}`: the worker runs turn by turn until it hands the HSM
//!   its next request (a decrypt, or after the decrypt's completion the
//!   encrypt); when it has nothing to do a new telegram is submitted first.
//! * `HsmRaisesInterrupt`: the HSM firmware runs until it waits for its
//!   completion notice (it computed and raised its interrupt).
//! * `MonitorRaisesInterrupt`: the clock jumps to the monitor's period and the
//!   monitoring agent runs until it waits again.
//! * `CpuServices{source}`: the CPU core runs until it has ended one
//!   interrupt, which must be `source`'s. In Physical mode the relay's core
//!   serves a pending HSM interrupt first, so `CpuServices{monitor}` with both
//!   pending is not generated ([`SpecMap::steerable`]).
//! * `RelayTimesOut`: the clock jumps to the worker's bounded HSM wait and the
//!   worker runs one turn.
//!
//! The telegram timer and the HSM guard are set far apart (and the monitor's
//! period short) so that a clock jump wakes only the thread it is for.
//!
//! # What is compared after every step
//! timer-free: the work area allocated (and to which telegram), whether the
//! timer is armed, timeout notices queued, replies per telegram, and whether
//! the AP freed an unallocated work area. irq-order: whether the HSM waits for
//! a completion notice, which interrupts the core can still deliver, requests
//! completed and requests error-replied. Then the property under test is
//! judged **on the relay**: the AP never freed an unallocated work area
//! (timer-free), the relay never waits on an HSM with nothing left to
//! deliver (irq-order).

use crate::lockstep::{Lockstep, Seen, Stopped};
use model::Spec;
use patches::Preset;
use relay::crypto::{Direction, SessionCipher};
use relay::events::{Event, EventKind};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{RelayConfig, Role};

/// How one spec is carried out on the relay (the spec -> relay map).
pub trait SpecMap {
    type Spec: Spec;
    /// The property judged on the relay after every step.
    const PROPERTY: &'static str;
    fn config(spec: &Self::Spec, preset: Preset) -> RelayConfig;
    fn roles(spec: &Self::Spec) -> Vec<Role>;
    /// Whether the relay can be steered into `action` in `state`.
    fn steerable(
        spec: &Self::Spec,
        state: &<Self::Spec as Spec>::State,
        action: &<Self::Spec as Spec>::Action,
    ) -> bool {
        let _ = (spec, state, action);
        true
    }
    /// Steers the relay through `action`.
    fn carry_out(relay: &mut Steered, action: &<Self::Spec as Spec>::Action) -> Result<(), String>;
    /// Whether the relay's observable state is the spec's.
    fn agree(
        spec: &Self::Spec,
        state: &<Self::Spec as Spec>::State,
        seen: &Seen,
        events: &[Event],
    ) -> Result<(), String>;
    /// [`SpecMap::PROPERTY`] judged on the relay.
    fn relay_property(spec: &Self::Spec, seen: &Seen, events: &[Event]) -> Result<(), String>;
}

/// The relay in lockstep, and the telegrams submitted to it so far.
pub struct Steered {
    pub relay: Lockstep,
    pub submitted: u64,
}

impl Steered {
    /// Starts the relay of `M`'s map for `spec` at `preset`.
    pub fn start<M: SpecMap>(spec: &M::Spec, preset: Preset) -> Result<Self, String> {
        let relay = Lockstep::start(M::config(spec, preset), M::roles(spec)).map_err(stopped)?;
        Ok(Steered {
            relay,
            submitted: 0,
        })
    }

    /// A registration telegram the relay's HSM can decrypt.
    fn telegram(&self, seq: u64) -> Telegram {
        let id = TelegramId(seq);
        let cipher = SessionCipher::new(&self.relay.config.key);
        let body = format!("register card-{seq}");
        Telegram {
            kind: TelegramKind::Register,
            cs: CsId(1),
            id,
            card: CardId(seq),
            payload: cipher.seal(id, Direction::Request, body.as_bytes()),
        }
    }

    /// Submits the next telegram; connection excess is a disagreement.
    pub fn submit_next(&mut self) -> Result<(), String> {
        self.submitted += 1;
        let telegram = self.telegram(self.submitted);
        match self.relay.submit(telegram).map_err(stopped)? {
            true => Ok(()),
            false => Err("the relay answered connection excess".into()),
        }
    }
}

/// A driver run that ended while being steered, in words.
pub fn stopped(s: Stopped) -> String {
    format!("the relay's driver run ended: {:?}", s.0)
}

pub(crate) fn count(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

pub(crate) fn expect<T: PartialEq + std::fmt::Debug>(
    what: &str,
    relay: T,
    spec: T,
) -> Result<(), String> {
    if relay == spec {
        Ok(())
    } else {
        Err(format!("{what}: relay {relay:?}, spec {spec:?}"))
    }
}
