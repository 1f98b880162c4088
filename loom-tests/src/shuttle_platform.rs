//! The relay's [`Platform`](relay::platform::Platform) on shuttle: shuttle's
//! schedulers (PCT, random, replay) decide every interleaving of the relay
//! threads. Shuttle has no thread limit, so bigger relays (several workers
//! and CS terminals) run here. See [`crate::condvar_platform`] for time and
//! notification.

use relay::platform::{Counter, Lock, Millis, Platform, Wait, END_OF_TIME};

crate::condvar_platform::condvar_platform!(shuttle, Shuttle, ShuttleLock, ShuttleCounter);
