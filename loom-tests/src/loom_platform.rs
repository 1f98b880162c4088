//! The relay's [`Platform`](relay::platform::Platform) on loom: every lock,
//! condition and counter is a loom object, so loom explores every
//! interleaving of the relay threads up to its preemption bound. A loom
//! wait never wakes spuriously. See [`crate::condvar_platform`] for time and
//! notification.

use relay::platform::{Counter, Lock, Millis, Platform, Wait, END_OF_TIME};

crate::condvar_platform::condvar_platform!(loom, Loom, LoomLock, LoomCounter);
