#![no_main]
//! libFuzzer entry of `fuzzing::relayd_connection` (the body and its invariants live
//! there; `cargo test -p fuzzing` runs the same function on stable).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::relayd_connection(data));
