//! The shuttle schedule decoder: the same schedules as shuttle's own on
//! every string shuttle writes, and a clear error (never a panic, never an
//! allocation of a claimed size) on every string it does not.

use loom_tests::explore::{decode_schedule, encode_schedule, parse_schedule, ScheduleStep};
use shuttle::scheduler::{Schedule, TaskId};

fn schedule(seed: u64, steps: &[Option<usize>]) -> Schedule {
    let mut s = Schedule::new(seed);
    s.steps = steps
        .iter()
        .map(|s| {
            s.map_or(ScheduleStep::Random, |t| {
                ScheduleStep::Task(TaskId::from(t))
            })
        })
        .collect();
    s
}

#[test]
fn decodes_what_shuttle_encodes_as_shuttle_does() {
    let cases = [
        schedule(0, &[]),
        schedule(10, &[None]),
        schedule(10, &[Some(0)]),
        schedule(u64::MAX, &[Some(1), None, Some(2), Some(0), None]),
        schedule(
            1 << 40,
            &(0..300)
                .map(|i| (i % 7 != 0).then_some(i % 13))
                .collect::<Vec<_>>(),
        ),
        schedule(3, &[Some(9_999), Some(usize::MAX >> 1)]),
    ];
    for case in cases {
        let encoded = encode_schedule(&case);
        let ours = parse_schedule(&encoded).expect("shuttle's encoding decodes");
        let theirs = shuttle_engine::scheduler::serialization::deserialize_schedule(&encoded);
        assert_eq!(Some(&ours), theirs.as_ref(), "{encoded}");
        assert_eq!(ours, case);
    }
}

#[test]
fn a_bad_schedule_is_a_clear_error() {
    let cases = [
        ("", "empty"),
        ("9", "hex byte pairs"),
        ("zz", "hex byte pairs"),
        ("7f0101", "not shuttle's 0x91"),
        ("91", "ends inside its task-ID width"),
        ("9101", "ends inside its step count"),
        // The fuzzed string that made shuttle's decoder index out of bounds.
        ("910216bc4294967295", "cut short"),
        ("9141010000", "do not fit a task ID"),
        ("9101ffffffffffffffffff7f00", "exceeds 64 bits"),
        (
            "9101ffffffff0f0000",
            "claims 4294967295 steps but has 8 bits",
        ),
    ];
    for (input, says) in cases {
        let e = parse_schedule(input).expect_err(input);
        assert!(e.contains(says), "{input}: {e}");
        assert!(decode_schedule(input).is_none());
    }
}
