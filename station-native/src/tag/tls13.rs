//! TLS 1.3 pieces the station needs to trust a TLS 1.3 tag (variant 0x13, SPEC.md "TLS 1.3 tag")
//! before taking a connection over: unpack the client's application traffic secret and the tagged
//! record's sequence number from the payload, derive its key and IV with HKDF-Expand-Label
//! (RFC 8446 §7.1, §7.3), and decrypt the tagged record (§5.2: nonce = IV XOR seq, additional data
//! = the record header, inner content type 0x17 after the content).
//!
//! Suites: TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384 (ChaCha20 is not in this crate;
//! such tags are counted as unsupported). No allocation: callers pass the scratch buffer.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

use super::PAYLOAD_LEN;
use super::tls12::VerifyError;

/// Payload byte 1 of a TLS 1.3 tag.
pub const VARIANT_TLS13: u8 = 0x13;

/// Offsets in the 132-byte payload (see the SPEC table).
const CLIENT_SECRET: usize = 4;
const SERVER_SECRET: usize = 52;
const CLIENT_SEQ: usize = 100;

/// A TLS 1.3 suite the station can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite13 {
    /// TLS_AES_128_GCM_SHA256 (0x1301).
    Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (0x1302).
    Aes256GcmSha384,
}

impl Suite13 {
    /// The suite for an IANA number, if supported.
    pub fn from_id(id: u16) -> Option<Suite13> {
        match id {
            0x1301 => Some(Suite13::Aes128GcmSha256),
            0x1302 => Some(Suite13::Aes256GcmSha384),
            _ => None,
        }
    }

    /// Length of the traffic secrets (the hash length).
    pub fn hash_len(self) -> usize {
        match self {
            Suite13::Aes128GcmSha256 => 32,
            Suite13::Aes256GcmSha384 => 48,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Suite13::Aes128GcmSha256 => 16,
            Suite13::Aes256GcmSha384 => 32,
        }
    }
}

/// The client's record key and IV, and the sequence number of the tagged record.
#[derive(Clone, Copy)]
pub struct ClientKeys13 {
    /// The suite.
    pub suite: Suite13,
    /// Write key (16 or 32 bytes used).
    pub key: [u8; 32],
    /// Per-record IV.
    pub iv: [u8; 12],
    /// Sequence number of the tagged record under this key.
    pub seq: u64,
}

/// HKDF-Expand-Label for outputs no longer than one hash block (keys and IVs): one HMAC of
/// `HkdfLabel || 0x01` (RFC 5869 §2.3 with L ≤ HashLen).
fn expand_label<M: Mac + hmac::KeyInit>(secret: &[u8], label: &[u8], out: &mut [u8]) {
    let mut m = <M as hmac::KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    let len = (out.len() as u16).to_be_bytes();
    m.update(&len);
    m.update(&[(6 + label.len()) as u8]);
    m.update(b"tls13 ");
    m.update(label);
    m.update(&[0u8]); // empty context
    m.update(&[1u8]);
    let block = m.finalize().into_bytes();
    out.copy_from_slice(&block[..out.len()]);
}

/// Unpacks the client's secret and derives its record key and IV from a TLS 1.3 payload.
///
/// # Errors
/// [`VerifyError::UnsupportedSuite`] for a suite other than 0x1301 / 0x1302,
/// [`VerifyError::Malformed`] when the zero fill after a SHA-256 secret is not zero.
pub fn client_keys13(payload: &[u8; PAYLOAD_LEN]) -> Result<ClientKeys13, VerifyError> {
    let suite = Suite13::from_id(u16::from_be_bytes([payload[2], payload[3]])).ok_or(VerifyError::UnsupportedSuite)?;
    let h = suite.hash_len();
    let zero_fill = payload[CLIENT_SECRET + h..SERVER_SECRET].iter().chain(&payload[SERVER_SECRET + h..CLIENT_SEQ]);
    if zero_fill.into_iter().any(|b| *b != 0) {
        return Err(VerifyError::Malformed);
    }
    let secret = &payload[CLIENT_SECRET..CLIENT_SECRET + h];
    let mut key = [0u8; 32];
    let mut iv = [0u8; 12];
    let kl = suite.key_len();
    match suite {
        Suite13::Aes128GcmSha256 => {
            expand_label::<Hmac<Sha256>>(secret, b"key", &mut key[..kl]);
            expand_label::<Hmac<Sha256>>(secret, b"iv", &mut iv);
        }
        Suite13::Aes256GcmSha384 => {
            expand_label::<Hmac<Sha384>>(secret, b"key", &mut key[..kl]);
            expand_label::<Hmac<Sha384>>(secret, b"iv", &mut iv);
        }
    }
    let seq = u32::from_be_bytes([payload[CLIENT_SEQ], payload[CLIENT_SEQ + 1], payload[CLIENT_SEQ + 2], payload[CLIENT_SEQ + 3]]);
    Ok(ClientKeys13 { suite, key, iv, seq: u64::from(seq) })
}

/// Decrypts the client's tagged TLS 1.3 record (header included) into `scratch` and returns the
/// length of its content (inner content type and padding removed).
///
/// # Errors
/// [`VerifyError::Malformed`] for a record that is not one whole protected record, does not fit
/// `scratch`, or whose inner type is not application data; [`VerifyError::BadRecordMac`] when it
/// does not authenticate.
pub fn open_record13(keys: &ClientKeys13, record: &[u8], scratch: &mut [u8]) -> Result<usize, VerifyError> {
    if record.len() < 5 + 1 + 16 || record[0] != 0x17 || record[1] != 3 {
        return Err(VerifyError::Malformed);
    }
    let body_len = usize::from(u16::from_be_bytes([record[3], record[4]]));
    if body_len + 5 != record.len() {
        return Err(VerifyError::Malformed);
    }
    let ct_len = body_len - 16;
    if ct_len > scratch.len() {
        return Err(VerifyError::Malformed);
    }
    let mut nonce = keys.iv;
    for (n, s) in nonce[4..].iter_mut().zip(keys.seq.to_be_bytes()) {
        *n ^= s;
    }
    let aad: [u8; 5] = record[..5].try_into().map_err(|_| VerifyError::Malformed)?;
    let buf = &mut scratch[..ct_len];
    buf.copy_from_slice(&record[5..5 + ct_len]);
    let tag: [u8; 16] = record[5 + ct_len..].try_into().map_err(|_| VerifyError::Malformed)?;
    let ok = match keys.suite {
        Suite13::Aes128GcmSha256 => {
            let c = <Aes128Gcm as KeyInit>::new_from_slice(&keys.key[..16]).map_err(|_| VerifyError::Malformed)?;
            c.decrypt_inout_detached(&Nonce::from(nonce), &aad, buf.into(), &Tag::from(tag)).is_ok()
        }
        Suite13::Aes256GcmSha384 => {
            let c = <Aes256Gcm as KeyInit>::new_from_slice(&keys.key[..32]).map_err(|_| VerifyError::Malformed)?;
            c.decrypt_inout_detached(&Nonce::from(nonce), &aad, buf.into(), &Tag::from(tag)).is_ok()
        }
    };
    if !ok {
        return Err(VerifyError::BadRecordMac);
    }
    // RFC 8446 §5.4: the content type is the last non-zero byte.
    let inner = scratch[..ct_len].iter().rposition(|b| *b != 0).ok_or(VerifyError::Malformed)?;
    if scratch[inner] != 0x17 {
        return Err(VerifyError::Malformed);
    }
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8448_server_handshake_key_from_its_secret() {
        // RFC 8448 §3: server_handshake_traffic_secret → write key 3fce5160…
        let secret: [u8; 32] = hex32("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let mut key = [0u8; 16];
        expand_label::<Hmac<Sha256>>(&secret, b"key", &mut key);
        assert_eq!(key, hex16("3fce516009c21727d0f2e4e86ee403bc"));
    }

    #[test]
    fn malformed_payloads_are_refused_before_any_crypto() {
        let mut p = [0u8; PAYLOAD_LEN];
        p[1] = VARIANT_TLS13;
        p[2..4].copy_from_slice(&0x1303u16.to_be_bytes());
        assert_eq!(client_keys13(&p).err(), Some(VerifyError::UnsupportedSuite));
        p[2..4].copy_from_slice(&0x1301u16.to_be_bytes());
        p[40] = 1; // inside the zero fill of a 32-byte secret
        assert_eq!(client_keys13(&p).err(), Some(VerifyError::Malformed));
        p[40] = 0;
        let keys = client_keys13(&p).expect("zero secrets are well formed");
        let mut scratch = [0u8; 64];
        assert_eq!(open_record13(&keys, &[0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5], &mut scratch).err(), Some(VerifyError::Malformed));
        let mut rec = vec![0x17, 3, 3, 0, 20];
        rec.extend_from_slice(&[9u8; 20]);
        assert_eq!(open_record13(&keys, &rec, &mut scratch).err(), Some(VerifyError::BadRecordMac));
    }

    #[test]
    fn a_tls13_tagged_record_opens_with_the_packed_secret_and_sequence_number() {
        use super::super::testkit::{TestRng, random_payload13, tagged_record13};
        use super::super::{StationKey, TagChecker, TagLayout};
        let key = StationKey::from_secret([5; 32]);
        let checker = TagChecker::new(vec![key.clone()], TagLayout::CURRENT);
        let mut rng = TestRng::new(13);
        let mut scratch = vec![0u8; 20000];
        for (suite, seq) in [(0x1301u16, 0u32), (0x1302, 1), (0x1301, 7)] {
            let payload = random_payload13(&mut rng, suite, seq, 3);
            let (record, _) = tagged_record13(&mut rng, &key.public(), &payload);
            let hit = checker.check_record(&record).expect("the tag is where the station looks, content type included");
            let p = TagChecker::payload_of(&hit).expect("132 bytes");
            assert_eq!(p.variant, VARIANT_TLS13);
            let bytes: [u8; PAYLOAD_LEN] = hit.payload[..PAYLOAD_LEN].try_into().expect("132");
            let keys = client_keys13(&bytes).expect("well formed");
            assert_eq!(keys.seq, u64::from(seq));
            let n = open_record13(&keys, &record, &mut scratch).expect("decrypts at the packed sequence number");
            assert!(scratch[..n].starts_with(b"GET / HTTP/1.1\r\n"));
            let wrong = ClientKeys13 { seq: keys.seq + 1, ..keys };
            assert_eq!(open_record13(&wrong, &record, &mut scratch).err(), Some(VerifyError::BadRecordMac));
        }
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
        }
        out
    }

    fn hex16(s: &str) -> [u8; 16] {
        let full = hex32(&format!("{s}{s}"));
        full[..16].try_into().expect("16")
    }
}
