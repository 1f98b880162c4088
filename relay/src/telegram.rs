//! Telegrams: the wire format between CS, relay and upstream.
//!
//! A frame is a 4-byte big-endian body length followed by the body:
//! `kind: u8, cs: u16, telegram: u64, card: u64, payload: [u8]`.
//! Decoding never panics: a truncated, oversized or garbage frame is a typed
//! [`FrameError`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest body accepted; a CS telegram is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Bytes of the length prefix.
pub const LEN_PREFIX: usize = 4;
/// Bytes of the fixed part of a body.
pub const HEADER: usize = 1 + 2 + 8 + 8;

/// A municipal CS terminal.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct CsId(pub u16);

/// A telegram's identity: the same in every event and log line about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TelegramId(pub u64);

/// A My Number card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CardId(pub u64);

impl fmt::Display for CsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cs-{}", self.0)
    }
}
impl fmt::Display for TelegramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{}", self.0)
    }
}
impl fmt::Display for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "card-{}", self.0)
    }
}

/// What a telegram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TelegramKind {
    /// CS → relay: register a card whose chip has been written.
    Register,
    /// CS → relay: a search.
    Search,
    /// relay → CS: done.
    ReplyOk,
    /// relay → CS: over the connection limit (接続超過).
    ConnectionExcess,
    /// relay → CS: the telegram was terminated by its timeout.
    ErrorTimeout,
    /// relay → CS: HSM processing was interrupted (the March 2016 guard).
    ErrorHsm,
    /// relay → CS: the card is already registered by another telegram
    /// (a retry after a discard is treated as unauthorized).
    ErrorUnauthorized,
    /// relay → CS over TCP: admitted, the answer follows on this connection
    /// (the network front end's acknowledgement; never a final answer).
    Accepted,
    /// relay → CS: the relay shut down before the telegram was answered.
    ErrorShutdown,
    /// relay → CS: the card management server could not be reached.
    ErrorUpstream,
    /// relay → CS: the telegram was refused before admission (failed
    /// authentication, replay, another CS's telegram); the payload says why.
    ErrorRejected,
}

impl TelegramKind {
    /// CS -> relay: what a relay admits (the rest are answers).
    pub fn is_request(self) -> bool {
        matches!(self, TelegramKind::Register | TelegramKind::Search)
    }

    const CODES: [(TelegramKind, u8); 11] = [
        (TelegramKind::Register, 0x01),
        (TelegramKind::Search, 0x02),
        (TelegramKind::ReplyOk, 0x81),
        (TelegramKind::ConnectionExcess, 0x82),
        (TelegramKind::ErrorTimeout, 0x83),
        (TelegramKind::ErrorHsm, 0x84),
        (TelegramKind::ErrorUnauthorized, 0x85),
        (TelegramKind::Accepted, 0x80),
        (TelegramKind::ErrorShutdown, 0x86),
        (TelegramKind::ErrorUpstream, 0x87),
        (TelegramKind::ErrorRejected, 0x88),
    ];

    pub fn code(self) -> u8 {
        TelegramKind::CODES
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, c)| *c)
            .unwrap_or(0)
    }

    pub fn from_code(code: u8) -> Option<TelegramKind> {
        TelegramKind::CODES
            .iter()
            .find(|(_, c)| *c == code)
            .map(|(k, _)| *k)
    }
}

/// One telegram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telegram {
    pub kind: TelegramKind,
    pub cs: CsId,
    pub id: TelegramId,
    pub card: CardId,
    pub payload: Vec<u8>,
}

impl Telegram {
    /// The answer to this telegram, with the same ids.
    pub fn answer(&self, kind: TelegramKind, payload: Vec<u8>) -> Telegram {
        Telegram {
            kind,
            cs: self.cs,
            id: self.id,
            card: self.card,
            payload,
        }
    }
}

/// Why bytes are not a telegram.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("truncated frame: need {needed} bytes, have {have}")]
    Truncated { needed: usize, have: usize },
    #[error("oversized frame: body of {len} bytes exceeds the limit of {max}")]
    Oversized { len: usize, max: usize },
    #[error("frame body of {len} bytes is shorter than the {HEADER}-byte header")]
    BodyTooShort { len: usize },
    #[error("unknown telegram kind 0x{0:02x}")]
    UnknownKind(u8),
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge { len: usize, max: usize },
}

/// Encodes a telegram as one frame.
pub fn encode(t: &Telegram) -> Result<Vec<u8>, FrameError> {
    let body_len = HEADER + t.payload.len();
    if body_len > MAX_BODY {
        return Err(FrameError::PayloadTooLarge {
            len: t.payload.len(),
            max: MAX_BODY - HEADER,
        });
    }
    let mut out = Vec::with_capacity(LEN_PREFIX + body_len);
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    out.push(t.kind.code());
    out.extend_from_slice(&t.cs.0.to_be_bytes());
    out.extend_from_slice(&t.id.0.to_be_bytes());
    out.extend_from_slice(&t.card.0.to_be_bytes());
    out.extend_from_slice(&t.payload);
    Ok(out)
}

/// Decodes the first frame of `bytes`; returns the telegram and the number of
/// bytes it used, so a stream can be decoded frame by frame.
pub fn decode(bytes: &[u8]) -> Result<(Telegram, usize), FrameError> {
    let prefix: [u8; LEN_PREFIX] = take(bytes, 0)?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_BODY {
        return Err(FrameError::Oversized { len, max: MAX_BODY });
    }
    if len < HEADER {
        return Err(FrameError::BodyTooShort { len });
    }
    let total = LEN_PREFIX + len;
    if bytes.len() < total {
        return Err(FrameError::Truncated {
            needed: total,
            have: bytes.len(),
        });
    }
    let body = &bytes[LEN_PREFIX..total];
    let [code] = take(body, 0)?;
    let kind = TelegramKind::from_code(code).ok_or(FrameError::UnknownKind(code))?;
    let telegram = Telegram {
        kind,
        cs: CsId(u16::from_be_bytes(take(body, 1)?)),
        id: TelegramId(u64::from_be_bytes(take(body, 3)?)),
        card: CardId(u64::from_be_bytes(take(body, 11)?)),
        payload: body[HEADER..].to_vec(),
    };
    Ok((telegram, total))
}

/// `N` bytes of `bytes` from `at`, or a truncation error.
fn take<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], FrameError> {
    bytes
        .get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(FrameError::Truncated {
            needed: at + N,
            have: bytes.len(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{quickcheck, Arbitrary, Gen};

    fn sample() -> Telegram {
        Telegram {
            kind: TelegramKind::Register,
            cs: CsId(12),
            id: TelegramId(345),
            card: CardId(6789),
            payload: b"sealed".to_vec(),
        }
    }

    #[test]
    fn round_trip() {
        let frame = encode(&sample()).unwrap();
        assert_eq!(frame.len(), LEN_PREFIX + HEADER + 6);
        assert_eq!(decode(&frame), Ok((sample(), frame.len())));
    }

    #[test]
    fn two_frames_in_a_stream_decode_one_by_one() {
        let mut stream = encode(&sample()).unwrap();
        let second = sample().answer(TelegramKind::ReplyOk, vec![]);
        stream.extend(encode(&second).unwrap());
        let (first, used) = decode(&stream).unwrap();
        assert_eq!(first, sample());
        assert_eq!(decode(&stream[used..]).unwrap().0, second);
    }

    #[test]
    fn truncated_frames_are_errors() {
        let frame = encode(&sample()).unwrap();
        assert_eq!(
            decode(&frame[..2]),
            Err(FrameError::Truncated { needed: 4, have: 2 })
        );
        assert_eq!(
            decode(&frame[..frame.len() - 1]),
            Err(FrameError::Truncated {
                needed: frame.len(),
                have: frame.len() - 1
            })
        );
    }

    #[test]
    fn oversized_and_short_bodies_are_errors() {
        let huge = ((MAX_BODY + 1) as u32).to_be_bytes();
        assert_eq!(
            decode(&huge),
            Err(FrameError::Oversized {
                len: MAX_BODY + 1,
                max: MAX_BODY
            })
        );
        let short = [0, 0, 0, 3, 1, 0, 0];
        assert_eq!(decode(&short), Err(FrameError::BodyTooShort { len: 3 }));
    }

    #[test]
    fn unknown_kind_is_an_error() {
        let mut frame = encode(&sample()).unwrap();
        frame[LEN_PREFIX] = 0x7f;
        assert_eq!(decode(&frame), Err(FrameError::UnknownKind(0x7f)));
    }

    #[test]
    fn an_oversized_payload_is_refused_when_encoding() {
        let mut t = sample();
        t.payload = vec![0; MAX_BODY];
        assert!(matches!(
            encode(&t),
            Err(FrameError::PayloadTooLarge { .. })
        ));
    }

    impl Arbitrary for TelegramKind {
        fn arbitrary(g: &mut Gen) -> Self {
            g.choose(&TelegramKind::CODES)
                .map(|(k, _)| *k)
                .unwrap_or(TelegramKind::Register)
        }
    }

    impl Arbitrary for Telegram {
        fn arbitrary(g: &mut Gen) -> Self {
            Telegram {
                kind: TelegramKind::arbitrary(g),
                cs: CsId(u16::arbitrary(g)),
                id: TelegramId(u64::arbitrary(g)),
                card: CardId(u64::arbitrary(g)),
                payload: Vec::<u8>::arbitrary(g),
            }
        }
    }

    quickcheck! {
        fn qc_round_trip(t: Telegram) -> bool {
            let frame = encode(&t).unwrap();
            decode(&frame) == Ok((t, frame.len()))
        }

        // Any byte string either decodes to a telegram that re-encodes to the
        // same prefix of bytes, or is a typed error: never a panic.
        fn qc_garbage_never_panics(bytes: Vec<u8>) -> bool {
            match decode(&bytes) {
                Ok((t, used)) => encode(&t).unwrap() == bytes[..used],
                Err(_) => true,
            }
        }
    }
}
