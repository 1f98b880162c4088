#![no_main]
//! libFuzzer entry of `fuzzing::frame_single` (the body and its invariants live
//! there; `cargo test -p fuzzing` runs the same function on stable).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::frame_single(data));
