//! The Node-API surface (feature `node`), wrapped for TypeScript by src/tls/native-aead.ts.
//!
//! Buffers are borrowed for the duration of a call (no references kept). Errors carry a stable
//! code as the message prefix (`ERR_AEAD_…: text`); a failed authentication is a return value,
//! not an exception, because it is an expected outcome for a record layer.
#![allow(unsafe_code)] // the napi-derive glue
#![allow(missing_docs)]

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::{Algorithm, NONCE_LENGTH, RecordAead, TAG_LENGTH};

fn js_err(code: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("{code}: {msg}"))
}

fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let (a0, b0) = (a.as_ptr() as usize, b.as_ptr() as usize);
    !a.is_empty() && !b.is_empty() && a0 < b0 + b.len() && b0 < a0 + a.len()
}

fn nonce_of(nonce: &[u8]) -> Result<[u8; NONCE_LENGTH]> {
    nonce.try_into().map_err(|_| js_err("ERR_AEAD_ARGUMENT", "a nonce is 12 bytes"))
}

#[napi]
pub struct AeadCipher {
    inner: RecordAead,
}

#[napi]
impl AeadCipher {
    /// `algorithm`: `aes-128-gcm`, `aes-256-gcm` or `chacha20-poly1305`.
    #[napi(constructor)]
    pub fn new(algorithm: String, key: BufferSlice) -> Result<AeadCipher> {
        let alg = Algorithm::from_name(&algorithm).ok_or_else(|| js_err("ERR_AEAD_ARGUMENT", format!("unknown AEAD {algorithm:?}")))?;
        RecordAead::new(alg, &key).map(|inner| AeadCipher { inner }).map_err(|e| js_err("ERR_AEAD_ARGUMENT", e))
    }

    /// Copies the concatenated `pieces` into `out` and seals them there; the tag follows, so `out`
    /// holds exactly the pieces' length plus 16 bytes.
    #[napi]
    pub fn seal(&self, nonce: BufferSlice, aad: BufferSlice, pieces: Vec<BufferSlice>, mut out: BufferSlice) -> Result<()> {
        let nonce = nonce_of(&nonce)?;
        let len: usize = pieces.iter().map(|p| p.len()).sum();
        if out.len() != len + TAG_LENGTH {
            return Err(js_err("ERR_AEAD_ARGUMENT", "out must hold the plaintext and a 16-byte tag"));
        }
        if overlaps(&aad, &out) || pieces.iter().any(|p| overlaps(p, &out)) {
            return Err(js_err("ERR_AEAD_ARGUMENT", "out overlaps an input"));
        }
        let mut at = 0;
        for p in &pieces {
            out[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.inner.seal_in_place(nonce, &aad, &mut out, len).map_err(|e| js_err("ERR_AEAD_ARGUMENT", e))
    }

    /// Seals the concatenated `chunks` as TLS 1.2 records of `content_type` from sequence number
    /// `seq` into `out` (exactly the records' size, see `tls12::sealed_len`): `iv` is the 4-byte
    /// AES-GCM salt when `explicit_nonce`, else the 12-byte ChaCha20-Poly1305 IV. Returns the
    /// number of records.
    #[napi]
    pub fn seal_tls12_records(
        &self,
        iv: BufferSlice,
        explicit_nonce: bool,
        seq: BigInt,
        content_type: u32,
        chunks: Vec<BufferSlice>,
        mut out: BufferSlice,
    ) -> Result<u32> {
        let (_, seq, lossless) = seq.get_u64();
        let ct = u8::try_from(content_type).map_err(|_| js_err("ERR_AEAD_ARGUMENT", "a content type is one byte"))?;
        if !lossless {
            return Err(js_err("ERR_AEAD_ARGUMENT", "a sequence number is a 64-bit unsigned integer"));
        }
        if overlaps(&iv, &out) || chunks.iter().any(|c| overlaps(c, &out)) {
            return Err(js_err("ERR_AEAD_ARGUMENT", "out overlaps an input"));
        }
        let views: Vec<&[u8]> = chunks.iter().map(|c| &c[..]).collect();
        crate::tls12::seal_records(&self.inner, &iv, explicit_nonce, seq, ct, &views, &mut out)
            .map(|n| n as u32)
            .map_err(|_| js_err("ERR_AEAD_ARGUMENT", "out must be exactly the records' size and the IV 4 (GCM) or 12 bytes"))
    }

    /// Copies `input` (ciphertext then tag) into `out` (at least as long) and checks and decrypts
    /// it there. Returns the plaintext length (`out[..n]`), or -1 when authentication fails.
    #[napi]
    pub fn open(&self, nonce: BufferSlice, aad: BufferSlice, input: BufferSlice, mut out: BufferSlice) -> Result<i32> {
        let nonce = nonce_of(&nonce)?;
        if input.len() < TAG_LENGTH || out.len() < input.len() {
            return Err(js_err("ERR_AEAD_ARGUMENT", "a sealed record is at least 16 bytes and out must hold it"));
        }
        if overlaps(&aad, &out) || overlaps(&input, &out) {
            return Err(js_err("ERR_AEAD_ARGUMENT", "out overlaps an input"));
        }
        let buf = &mut out[..input.len()];
        buf.copy_from_slice(&input);
        Ok(self.inner.open_in_place(nonce, &aad, buf).map_or(-1, |n| n as i32))
    }

    /// Checks and decrypts `buf` (ciphertext then tag) where it lies, for a caller that owns the
    /// memory (a fresh socket read): no copy and no output buffer. Returns the plaintext length
    /// (`buf[..n]`), or -1 when authentication fails; `buf` then holds unspecified bytes.
    #[napi]
    pub fn open_in_place(&self, nonce: BufferSlice, aad: BufferSlice, mut buf: BufferSlice) -> Result<i32> {
        let nonce = nonce_of(&nonce)?;
        if buf.len() < TAG_LENGTH {
            return Err(js_err("ERR_AEAD_ARGUMENT", "a sealed record is at least 16 bytes"));
        }
        if overlaps(&aad, &buf) {
            return Err(js_err("ERR_AEAD_ARGUMENT", "buf overlaps the additional data"));
        }
        Ok(self.inner.open_in_place(nonce, &aad, &mut buf).map_or(-1, |n| n as i32))
    }
}
