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

/// Sealing of TLS 1.2 application records in batches (RFC 5246 §6.2.3.3, RFC 5288, RFC 7905):
/// one call cuts a batch of plaintext into records of at most 16384 bytes across chunk
/// boundaries and writes each whole record (header, explicit nonce for GCM, ciphertext, tag)
/// into `out`, so that a relay writing many records pays one call and one buffer per batch.
pub mod tls12 {
    use super::{AeadError, NONCE_LENGTH, RecordAead, TAG_LENGTH};

    /// Largest plaintext of one record (2^14).
    pub const MAX_PLAINTEXT: usize = 16384;
    const HEADER: usize = 5;

    /// Number of records a batch of `len` plaintext bytes becomes (none for an empty batch).
    pub fn record_count(len: usize) -> usize {
        len.div_ceil(MAX_PLAINTEXT)
    }

    /// Bytes the records of `len` plaintext bytes take: per record a header, the explicit nonce
    /// (8 bytes for AES-GCM, none for ChaCha20-Poly1305) and a tag.
    pub fn sealed_len(len: usize, explicit_nonce: bool) -> usize {
        len + record_count(len) * (HEADER + if explicit_nonce { 8 } else { 0 } + TAG_LENGTH)
    }

    /// Seal the concatenation of `chunks` as records of `content_type` with sequence numbers
    /// from `seq`, into `out` (exactly [`sealed_len`] bytes). `iv` is the 4-byte salt of an
    /// AES-GCM suite (`explicit_nonce`, nonce `salt || seq`) or the 12-byte IV of
    /// ChaCha20-Poly1305 (nonce `iv XOR seq`). Returns the number of records; the caller checks
    /// that their sequence numbers do not pass 2^64 - 1.
    pub fn seal_records(
        aead: &RecordAead,
        iv: &[u8],
        explicit_nonce: bool,
        seq: u64,
        content_type: u8,
        chunks: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, AeadError> {
        let len: usize = chunks.iter().map(|c| c.len()).sum();
        if out.len() != sealed_len(len, explicit_nonce) || iv.len() != if explicit_nonce { 4 } else { NONCE_LENGTH } {
            return Err(AeadError::BufferLength);
        }
        let explicit = if explicit_nonce { 8 } else { 0 };
        let (mut at, mut chunk, mut chunk_off, mut left, mut seq) = (0usize, 0usize, 0usize, len, seq);
        while left > 0 {
            let n = left.min(MAX_PLAINTEXT);
            let record = &mut out[at..at + HEADER + explicit + n + TAG_LENGTH];
            record[0] = content_type;
            record[1..3].copy_from_slice(&[3, 3]);
            record[3..5].copy_from_slice(&((explicit + n + TAG_LENGTH) as u16).to_be_bytes());
            let mut nonce = [0u8; NONCE_LENGTH];
            if explicit_nonce {
                record[5..13].copy_from_slice(&seq.to_be_bytes());
                nonce[..4].copy_from_slice(iv);
                nonce[4..].copy_from_slice(&seq.to_be_bytes());
            } else {
                nonce.copy_from_slice(iv);
                for (d, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                    *d ^= s;
                }
            }
            // Gather this record's plaintext from the chunks, then seal it where it lies.
            let body = &mut record[HEADER + explicit..];
            let mut filled = 0;
            while filled < n {
                let c = chunks[chunk];
                let take = (c.len() - chunk_off).min(n - filled);
                body[filled..filled + take].copy_from_slice(&c[chunk_off..chunk_off + take]);
                filled += take;
                chunk_off += take;
                if chunk_off == c.len() {
                    chunk += 1;
                    chunk_off = 0;
                }
            }
            let mut aad = [0u8; 13];
            aad[..8].copy_from_slice(&seq.to_be_bytes());
            aad[8] = content_type;
            aad[9..11].copy_from_slice(&[3, 3]);
            aad[11..].copy_from_slice(&(n as u16).to_be_bytes());
            aead.seal_in_place(nonce, &aad, body, n)?;
            at += HEADER + explicit + n + TAG_LENGTH;
            left -= n;
            seq = seq.wrapping_add(1);
        }
        Ok(record_count(len))
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

    #[test]
    fn tls12_batches_become_whole_records_that_open_one_by_one() {
        for (alg, key_len, explicit) in [(Algorithm::Aes128Gcm, 16, true), (Algorithm::Aes256Gcm, 32, true), (Algorithm::ChaCha20Poly1305, 32, false)] {
            let key = vec![5u8; key_len];
            let iv: Vec<u8> = (1..=if explicit { 4u8 } else { 12 }).collect();
            let aead = RecordAead::new(alg, &key).unwrap();
            let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 253) as u8).collect();
            let chunks: Vec<&[u8]> = vec![&data[..2], &data[2..2], &data[2..16_390], &data[16_390..]];
            let mut out = vec![0u8; tls12::sealed_len(data.len(), explicit)];
            assert_eq!(tls12::seal_records(&aead, &iv, explicit, 9, 23, &chunks, &mut out), Ok(3));
            let (mut at, mut joined, mut seq) = (0, Vec::new(), 9u64);
            while at < out.len() {
                let len = u16::from_be_bytes([out[at + 3], out[at + 4]]) as usize;
                assert_eq!(&out[at..at + 3], &[23, 3, 3]);
                let e = if explicit { 8 } else { 0 };
                let mut nonce = [0u8; 12];
                if explicit {
                    assert_eq!(&out[at + 5..at + 13], &seq.to_be_bytes());
                    nonce[..4].copy_from_slice(&iv);
                    nonce[4..].copy_from_slice(&seq.to_be_bytes());
                } else {
                    nonce.copy_from_slice(&iv);
                    for (d, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                        *d ^= s;
                    }
                }
                let n = len - e - TAG_LENGTH;
                let mut aad = seq.to_be_bytes().to_vec();
                aad.extend_from_slice(&[23, 3, 3]);
                aad.extend_from_slice(&(n as u16).to_be_bytes());
                let mut body = out[at + 5 + e..at + 5 + len].to_vec();
                assert_eq!(aead.open_in_place(nonce, &aad, &mut body), Ok(n));
                joined.extend_from_slice(&body[..n]);
                at += 5 + len;
                seq += 1;
            }
            assert_eq!(joined, data);
            let mut none = [];
            assert_eq!(tls12::seal_records(&aead, &iv, explicit, 0, 23, &[&[]], &mut none), Ok(0));
            assert_eq!(tls12::seal_records(&aead, &iv, explicit, 0, 23, &[b"x"], &mut [0u8; 10]), Err(AeadError::BufferLength));
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
