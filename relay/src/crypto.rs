//! The session cipher shared by the CSs and the HSM: AES-256-GCM, with a
//! nonce made of the telegram id and the direction, so no two distinct
//! messages under one key share a nonce (a retry of the same telegram seals
//! the same plaintext again, which reveals only that it is a retry).

use crate::telegram::TelegramId;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};

/// Which way a payload travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// CS → relay → upstream.
    Request,
    /// upstream → relay → CS.
    Reply,
}

/// Why a payload could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("payload of {telegram} failed authentication (tampered or wrong key)")]
pub struct SealError {
    pub telegram: TelegramId,
}

/// The AES-GCM session cipher.
#[derive(Clone)]
pub struct SessionCipher(Aes256Gcm);

impl std::fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionCipher(..)")
    }
}

impl SessionCipher {
    pub fn new(key: &[u8; 32]) -> Self {
        SessionCipher(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))
    }

    fn nonce(telegram: TelegramId, direction: Direction) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&telegram.0.to_be_bytes());
        nonce[8] = match direction {
            Direction::Request => 1,
            Direction::Reply => 2,
        };
        nonce
    }

    pub fn seal(&self, telegram: TelegramId, direction: Direction, plain: &[u8]) -> Vec<u8> {
        let nonce = Self::nonce(telegram, direction);
        self.0
            .encrypt(Nonce::from_slice(&nonce), plain)
            .expect("AES-GCM sealing of an in-memory buffer cannot fail")
    }

    pub fn open(
        &self,
        telegram: TelegramId,
        direction: Direction,
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let nonce = Self::nonce(telegram, direction);
        self.0
            .decrypt(Nonce::from_slice(&nonce), sealed)
            .map_err(|_| SealError { telegram })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_and_tamper_detection() {
        let c = SessionCipher::new(&[7; 32]);
        let sealed = c.seal(TelegramId(1), Direction::Request, b"register card 5");
        assert_ne!(sealed, b"register card 5");
        let plain = c.open(TelegramId(1), Direction::Request, &sealed).unwrap();
        assert_eq!(plain, b"register card 5");
        let mut tampered = sealed.clone();
        tampered[0] ^= 1;
        assert!(c
            .open(TelegramId(1), Direction::Request, &tampered)
            .is_err());
        assert!(c.open(TelegramId(2), Direction::Request, &sealed).is_err());
        assert!(c.open(TelegramId(1), Direction::Reply, &sealed).is_err());
    }
}
