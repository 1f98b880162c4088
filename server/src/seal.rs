//! Per-CS authentication on the wire: every request telegram is sealed with
//! its CS's own AES-256-GCM key (from a key file), inside the payload the
//! HSM decrypts.
//!
//! Envelope (the wire payload): `sender: u16, attempt: u8, sealed`, where
//! `sealed` is the AEAD of the inner payload under the sender's key, with
//! the nonce `sender, telegram, direction, attempt` and the telegram header
//! (kind, cs, telegram, card) as associated data. So the nonce binds CS,
//! telegram and direction; a changed header or body fails authentication; a
//! retry of the same telegram (the Improved rule) is a new attempt, and a
//! frame seen before is a replay. What the relay rejects, and why:
//! [`Rejection`].

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use relay::telegram::{CsId, Telegram, TelegramId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;

/// An envelope starts with these bytes: a payload that does not was never
/// sealed (`not-sealed`), whatever its length.
const ENVELOPE_MAGIC: [u8; 2] = *b"CE";

/// Bytes before the sealed part of an envelope: magic, sender, attempt.
const ENVELOPE_HEADER: usize = ENVELOPE_MAGIC.len() + 3;

/// Which way a sealed message travels; part of the nonce, so the three
/// messages of one attempt never share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leg {
    /// CS → relay.
    Request = 1,
    /// relay → CS: admitted (or refused) at once.
    Acknowledgement = 2,
    /// relay → CS: the final answer.
    Answer = 3,
}

/// Why a request was refused before it reached the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    /// The payload is too short to be an envelope.
    #[error("no envelope: the payload is not sealed")]
    NotSealed,
    /// The sender is not in the key file.
    #[error("unknown CS: no key for the sender")]
    UnknownCs,
    /// Forged (sealed with another key) or tampered (header or body changed
    /// on the way): AEAD cannot tell these apart, and either way the
    /// telegram is not what the CS sent.
    #[error("authentication failed: forged or tampered")]
    Unauthentic,
    /// The same sealed frame was accepted before.
    #[error("replayed: this attempt of the telegram was already accepted")]
    Replayed,
    /// Authentic from its sender, but the telegram is another CS's.
    #[error("another CS's telegram")]
    OtherCs,
}

impl Rejection {
    /// A stable name, for counters, logs and the answer's payload.
    pub fn name(self) -> &'static str {
        match self {
            Rejection::NotSealed => "not-sealed",
            Rejection::UnknownCs => "unknown-cs",
            Rejection::Unauthentic => "unauthentic",
            Rejection::Replayed => "replayed",
            Rejection::OtherCs => "other-cs",
        }
    }
}

/// A key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {why} (expected `CS-NUMBER 64-HEX-DIGIT-KEY`)")]
    Line {
        path: String,
        line: usize,
        why: String,
    },
    #[error("{0}: no keys")]
    Empty(String),
}

/// Per-CS keys.
#[derive(Clone)]
pub struct KeyRing {
    keys: HashMap<CsId, Aes256Gcm>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing({} CSs)", self.keys.len())
    }
}

impl KeyRing {
    pub fn new(keys: impl IntoIterator<Item = (CsId, [u8; 32])>) -> Self {
        let keys = keys
            .into_iter()
            .map(|(cs, k)| (cs, Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&k))))
            .collect();
        KeyRing { keys }
    }

    /// Reads `CS KEY` lines (key: 64 hex digits); `#` starts a comment.
    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut keys = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let entry = parse_line(line).map_err(|why| KeyFileError::Line {
                path: shown.clone(),
                line: n + 1,
                why,
            })?;
            keys.push(entry);
        }
        if keys.is_empty() {
            return Err(KeyFileError::Empty(shown));
        }
        Ok(KeyRing::new(keys))
    }

    pub fn contains(&self, cs: CsId) -> bool {
        self.keys.contains_key(&cs)
    }

    /// Seals `t`'s payload as `sender`'s attempt; `None` if `sender` has no
    /// key.
    pub fn seal(&self, sender: CsId, attempt: u8, leg: Leg, t: &Telegram) -> Option<Telegram> {
        let cipher = self.keys.get(&sender)?;
        let nonce = nonce(sender, t.id, leg, attempt);
        let aad = header(t);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &t.payload,
                    aad: &aad,
                },
            )
            .ok()?;
        let mut payload = Vec::with_capacity(ENVELOPE_HEADER + sealed.len());
        payload.extend_from_slice(&ENVELOPE_MAGIC);
        payload.extend_from_slice(&sender.0.to_be_bytes());
        payload.push(attempt);
        payload.extend_from_slice(&sealed);
        Some(Telegram {
            payload,
            ..t.clone()
        })
    }

    /// Opens an envelope: the telegram with its inner payload, the sender
    /// and the attempt.
    pub fn open(&self, leg: Leg, t: &Telegram) -> Result<Opened, Rejection> {
        if t.payload.len() < ENVELOPE_HEADER || t.payload[..2] != ENVELOPE_MAGIC {
            return Err(Rejection::NotSealed);
        }
        let sender = CsId(u16::from_be_bytes([t.payload[2], t.payload[3]]));
        let attempt = t.payload[4];
        let cipher = self.keys.get(&sender).ok_or(Rejection::UnknownCs)?;
        let nonce = nonce(sender, t.id, leg, attempt);
        let aad = header(t);
        let inner = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &t.payload[ENVELOPE_HEADER..],
                    aad: &aad,
                },
            )
            .map_err(|_| Rejection::Unauthentic)?;
        if sender != t.cs {
            return Err(Rejection::OtherCs);
        }
        Ok(Opened {
            telegram: Telegram {
                payload: inner,
                ..t.clone()
            },
            attempt,
        })
    }
}

/// An authentic request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub telegram: Telegram,
    pub attempt: u8,
}

fn parse_line(line: &str) -> Result<(CsId, [u8; 32]), String> {
    let mut fields = line.split_whitespace();
    let (Some(cs), Some(hex), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err("two fields needed".into());
    };
    let cs = cs
        .trim_start_matches("cs-")
        .parse::<u16>()
        .map_err(|e| format!("CS number {cs:?}: {e}"))?;
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(format!(
            "key of {} characters, not 64 hex digits",
            hex.len()
        ));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| "key is not hexadecimal".to_string())?;
    }
    Ok((CsId(cs), key))
}

fn nonce(sender: CsId, telegram: TelegramId, leg: Leg, attempt: u8) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..2].copy_from_slice(&sender.0.to_be_bytes());
    n[2..10].copy_from_slice(&telegram.0.to_be_bytes());
    n[10] = leg as u8;
    n[11] = attempt;
    n
}

/// The telegram's header, authenticated with its payload.
fn header(t: &Telegram) -> [u8; 19] {
    let mut h = [0u8; 19];
    h[0] = t.kind.code();
    h[1..3].copy_from_slice(&t.cs.0.to_be_bytes());
    h[3..11].copy_from_slice(&t.id.0.to_be_bytes());
    h[11..19].copy_from_slice(&t.card.0.to_be_bytes());
    h
}

/// One sealed send of a telegram.
type Attempt = (CsId, TelegramId, u8);

/// Which sealed requests were accepted already: bounded, the oldest are
/// forgotten first (a replay older than the window is then caught only by
/// the card management server's own check).
pub struct ReplayGuard {
    seen: Mutex<(HashSet<Attempt>, VecDeque<Attempt>)>,
    capacity: usize,
}

impl ReplayGuard {
    pub fn new(capacity: usize) -> Self {
        ReplayGuard {
            seen: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// Records an attempt; `Err(Replayed)` if it was accepted before.
    pub fn admit(&self, cs: CsId, telegram: TelegramId, attempt: u8) -> Result<(), Rejection> {
        let mut guard = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        let key = (cs, telegram, attempt);
        if !set.insert(key) {
            return Err(Rejection::Replayed);
        }
        order.push_back(key);
        if order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        Ok(())
    }

    /// Attempts remembered now (at most the capacity).
    pub fn remembered(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).1.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay::telegram::{CardId, TelegramKind};

    fn ring() -> KeyRing {
        KeyRing::new([(CsId(1), [1; 32]), (CsId(2), [2; 32])])
    }

    fn request(cs: u16) -> Telegram {
        Telegram {
            kind: TelegramKind::Register,
            cs: CsId(cs),
            id: TelegramId(100_001),
            card: CardId(5),
            payload: b"inner".to_vec(),
        }
    }

    #[test]
    fn sealed_requests_open_and_every_alteration_is_rejected_by_name() {
        let keys = ring();
        let sealed = keys.seal(CsId(1), 0, Leg::Request, &request(1)).unwrap();
        let opened = keys.open(Leg::Request, &sealed).unwrap();
        assert_eq!(opened.telegram, request(1));

        let mut tampered = sealed.clone();
        tampered.card = CardId(6);
        assert_eq!(
            keys.open(Leg::Request, &tampered),
            Err(Rejection::Unauthentic)
        );
        let forged = KeyRing::new([(CsId(1), [9; 32])])
            .seal(CsId(1), 0, Leg::Request, &request(1))
            .unwrap();
        assert_eq!(
            keys.open(Leg::Request, &forged),
            Err(Rejection::Unauthentic)
        );
        let other = keys.seal(CsId(2), 0, Leg::Request, &request(1)).unwrap();
        assert_eq!(keys.open(Leg::Request, &other), Err(Rejection::OtherCs));
        assert_eq!(keys.open(Leg::Answer, &sealed), Err(Rejection::Unauthentic));
        assert_eq!(
            keys.open(Leg::Request, &request(1)),
            Err(Rejection::NotSealed),
            "a plain request is not sealed, whatever its first bytes"
        );
        let stranger = KeyRing::new([(CsId(9), [9; 32])])
            .seal(CsId(9), 0, Leg::Request, &request(1))
            .unwrap();
        assert_eq!(
            keys.open(Leg::Request, &stranger),
            Err(Rejection::UnknownCs)
        );
        let mut bare = request(1);
        bare.payload.clear();
        assert_eq!(keys.open(Leg::Request, &bare), Err(Rejection::NotSealed));
    }

    #[test]
    fn a_replay_is_caught_within_the_window_and_a_new_attempt_is_not_one() {
        let guard = ReplayGuard::new(2);
        let (cs, t) = (CsId(1), TelegramId(1));
        assert_eq!(guard.admit(cs, t, 0), Ok(()));
        assert_eq!(guard.admit(cs, t, 0), Err(Rejection::Replayed));
        assert_eq!(guard.admit(cs, t, 1), Ok(()));
        assert_eq!(guard.admit(cs, TelegramId(2), 0), Ok(()));
        assert_eq!(guard.admit(cs, t, 0), Ok(()), "forgotten past the window");
        assert_eq!(guard.remembered(), 2);
    }

    #[test]
    fn key_files_are_parsed_with_line_numbers_in_errors() {
        let dir = std::env::temp_dir().join(format!("chukei-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        let key = "ab".repeat(32);
        std::fs::write(&good, format!("# keys\ncs-1 {key}\n2 {key} # second\n")).unwrap();
        let ring = KeyRing::from_file(&good).unwrap();
        assert!(ring.contains(CsId(1)) && ring.contains(CsId(2)));
        let bad = dir.join("bad");
        std::fs::write(&bad, format!("1 {key}\n2 xyz\n")).unwrap();
        let e = KeyRing::from_file(&bad).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("64 hex"), "{e}");
        std::fs::write(&bad, "# nothing\n").unwrap();
        assert!(matches!(
            KeyRing::from_file(&bad),
            Err(KeyFileError::Empty(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
