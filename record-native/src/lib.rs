//! TLS record AEAD for the TapDance client and station, through `ring`.
//!
//! Node's `crypto` builds a cipher object (and expands the key) for every record and returns a
//! new buffer for its output; at 16 KiB records that costs several times the cipher itself. Here
//! a key is expanded once per direction and each record is sealed or opened in place with one
//! native call (`napi.rs`). The TypeScript record layers (`src/tls/record-layer*.ts`) use this
//! addon when it is built and produce the same bytes without it.
//!
//! Nonces and additional data are the record layer's business: this crate only runs the AEAD.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305};

#[cfg(feature = "node")]
mod napi;

/// Length of every supported AEAD's tag.
pub const TAG_LENGTH: usize = 16;
/// Length of every supported AEAD's nonce.
pub const NONCE_LENGTH: usize = 12;

/// The AEADs TLS 1.2 and 1.3 suites use here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// AES-128-GCM (16-byte key).
    Aes128Gcm,
    /// AES-256-GCM (32-byte key).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (32-byte key).
    ChaCha20Poly1305,
}

impl Algorithm {
    /// By the names `node:crypto` uses (`aes-128-gcm`, `aes-256-gcm`, `chacha20-poly1305`).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "aes-128-gcm" => Some(Algorithm::Aes128Gcm),
            "aes-256-gcm" => Some(Algorithm::Aes256Gcm),
            "chacha20-poly1305" => Some(Algorithm::ChaCha20Poly1305),
            _ => None,
        }
    }
}

/// Why an operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadError {
    /// The key length does not fit the algorithm.
    KeyLength,
    /// The buffer is shorter than a tag, or has no room for one.
    BufferLength,
    /// Authentication failed (the buffer's contents are then unspecified).
    Authentication,
}

impl std::fmt::Display for AeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AeadError::KeyLength => "key length does not fit the algorithm",
            AeadError::BufferLength => "buffer too short for the tag",
            AeadError::Authentication => "record failed authentication",
        })
    }
}

/// One direction's key, expanded once.
pub struct RecordAead {
    key: LessSafeKey,
}

impl RecordAead {
    /// Expand `key` for `algorithm`.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Result<RecordAead, AeadError> {
        let alg = match algorithm {
            Algorithm::Aes128Gcm => &AES_128_GCM,
            Algorithm::Aes256Gcm => &AES_256_GCM,
            Algorithm::ChaCha20Poly1305 => &CHACHA20_POLY1305,
        };
        let key = UnboundKey::new(alg, key).map_err(|_| AeadError::KeyLength)?;
        Ok(RecordAead { key: LessSafeKey::new(key) })
    }

    /// Encrypt `buf[..len]` in place and write the tag to `buf[len..len + 16]`.
    pub fn seal_in_place(&self, nonce: [u8; NONCE_LENGTH], aad: &[u8], buf: &mut [u8], len: usize) -> Result<(), AeadError> {
        if buf.len() < len + TAG_LENGTH {
            return Err(AeadError::BufferLength);
        }
        let (text, rest) = buf.split_at_mut(len);
        // The nonce is unique per record: the record layer derives it from the sequence number.
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), text)
            .map_err(|_| AeadError::BufferLength)?;
        rest[..TAG_LENGTH].copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// Check and decrypt `buf` (ciphertext then tag) in place; returns the plaintext length (the
    /// plaintext is `buf[..n]`).
    pub fn open_in_place(&self, nonce: [u8; NONCE_LENGTH], aad: &[u8], buf: &mut [u8]) -> Result<usize, AeadError> {
        if buf.len() < TAG_LENGTH {
            return Err(AeadError::BufferLength);
        }
        self.key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
            .map(|p| p.len())
            .map_err(|_| AeadError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_every_algorithm_and_refuses_tampering() {
        for (alg, key_len) in [(Algorithm::Aes128Gcm, 16), (Algorithm::Aes256Gcm, 32), (Algorithm::ChaCha20Poly1305, 32)] {
            let key: Vec<u8> = (0..key_len as u8).collect();
            let aead = RecordAead::new(alg, &key).unwrap();
            let nonce = [3u8; 12];
            let plain: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
            let mut buf = plain.clone();
            buf.resize(plain.len() + TAG_LENGTH, 0);
            aead.seal_in_place(nonce, b"aad", &mut buf, plain.len()).unwrap();
            assert_ne!(&buf[..plain.len()], &plain[..]);
            let mut copy = buf.clone();
            assert_eq!(aead.open_in_place(nonce, b"aad", &mut copy), Ok(plain.len()));
            assert_eq!(&copy[..plain.len()], &plain[..]);
            for tamper in [0usize, plain.len() + 3] {
                let mut bad = buf.clone();
                bad[tamper] ^= 1;
                assert_eq!(aead.open_in_place(nonce, b"aad", &mut bad), Err(AeadError::Authentication));
            }
            let mut other = buf.clone();
            assert_eq!(aead.open_in_place(nonce, b"aaD", &mut other), Err(AeadError::Authentication));
        }
    }

    #[test]
    fn known_answer_aes_128_gcm() {
        // NIST GCM test case 3 (key feffe9..., IV cafebabe facedbad decaf888, no AAD).
        let key = hex("feffe9928665731c6d6a8f9467308308");
        let nonce: [u8; 12] = hex("cafebabefacedbaddecaf888").try_into().unwrap();
        let plain = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
        let mut buf = plain.clone();
        buf.resize(plain.len() + 16, 0);
        RecordAead::new(Algorithm::Aes128Gcm, &key).unwrap().seal_in_place(nonce, &[], &mut buf, plain.len()).unwrap();
        assert_eq!(&buf[..plain.len()], &hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985")[..]);
        assert_eq!(&buf[plain.len()..], &hex("4d5c2af327cd64a62cf35abd2ba6fab4")[..]);
    }

    #[test]
    fn refuses_wrong_key_lengths_and_short_buffers() {
        assert!(RecordAead::new(Algorithm::Aes128Gcm, &[0; 32]).is_err());
        assert!(RecordAead::new(Algorithm::ChaCha20Poly1305, &[0; 16]).is_err());
        let aead = RecordAead::new(Algorithm::Aes128Gcm, &[0; 16]).unwrap();
        assert_eq!(aead.open_in_place([0; 12], &[], &mut [0; 15]), Err(AeadError::BufferLength));
        assert_eq!(aead.seal_in_place([0; 12], &[], &mut [0; 20], 5), Err(AeadError::BufferLength));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
