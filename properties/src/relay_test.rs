//! The state-machine test: a spec as proptest's reference, the real relay
//! (steered by that mechanism's `scenarios` map) as the system under test.
//!
//! How each spec action is carried out on the relay and what is compared
//! after every step is the mechanism's `Steer` in `scenarios`
//! (`scenarios::timer_free::Steer`, `scenarios::irq_order::Steer`); this file
//! only ties it to proptest-state-machine.

use crate::reference::{RefState, Reference, Step, Target};
use model::irq_order::IrqOrder;
use model::timer_free::TimerFree;
use model::Spec;
use patches::Preset;
use proptest_state_machine::StateMachineTest;
use scenarios::steer::{SpecMap, Steered};
use scenarios::{irq_order, timer_free};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// The system under test: the relay in lockstep.
pub struct Sut {
    pub steered: Steered,
}

/// The state-machine test: the spec of `T` as reference, the relay as SUT.
pub struct RelayTest<T>(PhantomData<T>);

/// Prefix of the panic message when relay and spec disagree.
pub const DISAGREE: &str = "relay and spec disagree";
/// Prefix of the panic message when the property fails on the relay.
pub const VIOLATED: &str = "property violated on the relay";

impl<T: Target> StateMachineTest for RelayTest<T>
where
    <T::Spec as Spec>::State: Send + Sync,
    <T::Spec as Spec>::Action: Send + Sync,
{
    type SystemUnderTest = Sut;
    type Reference = Reference<T>;

    fn init_test(ref_state: &RefState<T::Spec>) -> Sut {
        let steered = Steered::start::<T::Map>(&ref_state.spec, T::PRESET)
            .unwrap_or_else(|why| panic!("{DISAGREE}: {why}"));
        Sut { steered }
    }

    fn apply(
        mut sut: Sut,
        _ref_state: &RefState<T::Spec>,
        transition: Step<<T::Spec as Spec>::Action>,
    ) -> Sut {
        if let Step::Act(action) = &transition {
            if let Err(why) = T::Map::carry_out(&mut sut.steered, action) {
                panic!("{DISAGREE} at {action:?}: {why}");
            }
        }
        sut
    }

    fn check_invariants(sut: &Sut, ref_state: &RefState<T::Spec>) {
        let relay = &sut.steered.relay;
        let seen = relay
            .observe()
            .unwrap_or_else(|s| panic!("{DISAGREE}: {}", scenarios::steer::stopped(s)));
        let events = relay.events();
        if let Err(why) = T::Map::agree(&ref_state.spec, &ref_state.state, &seen, &events) {
            panic!("{DISAGREE}: {why}\n  spec:  {ref_state:?}\n  relay: {seen:?}");
        }
        if let Err(why) = T::Map::relay_property(&ref_state.spec, &seen, &events) {
            panic!("{VIOLATED}: {}: {why}", T::Map::PROPERTY);
        }
    }
}

/// timer-free at preset `Preset::ALL[P]` with `N` telegrams (one worker,
/// low-priority timeout notices as in the spec's default).
pub struct TimerFreeAt<const P: usize, const N: u64>;

impl<const P: usize, const N: u64> Target for TimerFreeAt<P, N> {
    type Spec = TimerFree;
    type Map = timer_free::Steer;
    const PRESET: Preset = Preset::ALL[P];
    fn sizes() -> BTreeMap<String, u64> {
        BTreeMap::from([("telegrams".to_string(), N), ("workers".to_string(), 1)])
    }
    fn spec() -> TimerFree {
        TimerFree::new(Self::PRESET.patches(), &Self::sizes()).expect("valid sizes")
    }
}

/// irq-order at preset `Preset::ALL[P]` with `N` HSM requests.
pub struct IrqOrderAt<const P: usize, const N: u64>;

impl<const P: usize, const N: u64> Target for IrqOrderAt<P, N> {
    type Spec = IrqOrder;
    type Map = irq_order::Steer;
    const PRESET: Preset = Preset::ALL[P];
    fn sizes() -> BTreeMap<String, u64> {
        BTreeMap::from([("requests".to_string(), N), ("reraise".to_string(), 0)])
    }
    fn spec() -> IrqOrder {
        IrqOrder::new(Self::PRESET.patches(), &Self::sizes()).expect("valid sizes")
    }
}

/// The presets by index, for the const parameters above.
pub const JAN: usize = 0;
pub const MAR: usize = 1;
pub const APR: usize = 2;
pub const PROPOSED: usize = 3;
