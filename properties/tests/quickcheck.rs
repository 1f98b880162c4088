//! quickcheck where it fits best: stateless properties over plain values.
//!
//! * The telegram codec on **streams**: any sequence of telegrams encodes to
//!   one byte stream that decodes frame by frame to the same sequence; any
//!   cut of that stream decodes a prefix and then reports a truncation,
//!   never a panic and never a wrong telegram. (Single-frame round trip and
//!   garbage input are quickcheck properties in `relay::telegram` already.)
//! * The **admission counter**: after any sequence of admits and releases
//!   (a release only for a held slot), the slots in use equal the model
//!   count, never exceed the limit, and an admit is refused exactly when the
//!   model is full.

use quickcheck::{quickcheck, Arbitrary, Gen, TestResult};
use relay::admission::Admission;
use relay::telegram::{
    decode, encode, CardId, CsId, FrameError, Telegram, TelegramId, TelegramKind,
};
use relay::Std;

#[derive(Clone, Debug)]
struct AnyTelegram(Telegram);

impl Arbitrary for AnyTelegram {
    fn arbitrary(g: &mut Gen) -> Self {
        let kinds = [
            TelegramKind::Register,
            TelegramKind::Search,
            TelegramKind::ReplyOk,
            TelegramKind::ConnectionExcess,
            TelegramKind::ErrorTimeout,
            TelegramKind::ErrorHsm,
            TelegramKind::ErrorUnauthorized,
        ];
        AnyTelegram(Telegram {
            kind: *g.choose(&kinds).expect("non-empty"),
            cs: CsId(u16::arbitrary(g)),
            id: TelegramId(u64::arbitrary(g)),
            card: CardId(u64::arbitrary(g)),
            payload: Vec::<u8>::arbitrary(g),
        })
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let t = self.0.clone();
        Box::new(self.0.payload.shrink().map(move |payload| {
            AnyTelegram(Telegram {
                payload,
                ..t.clone()
            })
        }))
    }
}

fn decode_all(mut bytes: &[u8]) -> (Vec<Telegram>, Option<FrameError>) {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match decode(bytes) {
            Ok((t, used)) => {
                out.push(t);
                bytes = &bytes[used..];
            }
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn stream(telegrams: &[AnyTelegram]) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for t in telegrams {
        bytes.extend(encode(&t.0).expect("small payloads encode"));
        ends.push(bytes.len());
    }
    (bytes, ends)
}

quickcheck! {
    fn a_stream_decodes_to_the_telegrams_it_was_made_of(telegrams: Vec<AnyTelegram>) -> bool {
        let (bytes, _) = stream(&telegrams);
        let (decoded, error) = decode_all(&bytes);
        error.is_none() && decoded == telegrams.iter().map(|t| t.0.clone()).collect::<Vec<_>>()
    }

    fn a_cut_stream_decodes_a_prefix_then_reports_truncation(telegrams: Vec<AnyTelegram>, cut: usize) -> TestResult {
        let (bytes, ends) = stream(&telegrams);
        if bytes.is_empty() {
            return TestResult::discard();
        }
        let cut = cut % bytes.len();
        let (decoded, error) = decode_all(&bytes[..cut]);
        let whole = ends.iter().filter(|&&end| end <= cut).count();
        let prefix_ok = decoded == telegrams[..whole].iter().map(|t| t.0.clone()).collect::<Vec<_>>();
        let at_boundary = cut == 0 || ends.contains(&cut);
        let error_ok = match error {
            None => at_boundary,
            Some(FrameError::Truncated { .. }) => !at_boundary,
            Some(_) => false,
        };
        TestResult::from_bool(prefix_ok && error_ok)
    }

    fn admission_matches_a_counter_model(limit: u8, ops: Vec<bool>) -> bool {
        let limit = u64::from(limit % 8);
        let admission = Admission::<Std>::new(limit);
        let mut held = 0u64;
        for admit in ops {
            if admit {
                let granted = admission.try_admit().is_ok();
                if granted != (held < limit) {
                    return false;
                }
                if granted {
                    held += 1;
                }
            } else if held > 0 {
                admission.release();
                held -= 1;
            }
            if admission.in_use() != held || held > limit {
                return false;
            }
        }
        true
    }
}
