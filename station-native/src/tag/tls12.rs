//! TLS 1.2 pieces the station needs to trust a tag before taking a connection over: the PRF key
//! expansion (RFC 5246 §5, §6.3) for the AES-GCM suites and the decryption of the client's first
//! application-data record at sequence number 1 (RFC 5288).
//!
//! Does not implement a record layer for traffic: after the takeover, TypeScript speaks TLS.
//! No allocation: callers pass the scratch buffer.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

/// Why a tag's TLS secrets could not be confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The cipher suite named in the tag is not one the station can continue.
    UnsupportedSuite,
    /// The record is too short, not application data, or larger than the scratch buffer.
    Malformed,
    /// The record did not authenticate under the derived keys at sequence number 1.
    BadRecordMac,
}

/// The AEAD and PRF hash of a supported suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// AES-128-GCM with the SHA-256 PRF (0xc02f, 0xc02b, 0x009c).
    Aes128GcmSha256,
    /// AES-256-GCM with the SHA-384 PRF (0xc030, 0xc02c, 0x009d).
    Aes256GcmSha384,
}

impl Suite {
    /// The suite for an IANA cipher-suite number, if supported.
    pub fn from_id(id: u16) -> Option<Suite> {
        match id {
            0xc02f | 0xc02b | 0x009c => Some(Suite::Aes128GcmSha256),
            0xc030 | 0xc02c | 0x009d => Some(Suite::Aes256GcmSha384),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Suite::Aes128GcmSha256 => 16,
            Suite::Aes256GcmSha384 => 32,
        }
    }
}

/// The client-side write key and implicit IV of a key block.
#[derive(Clone, Copy)]
pub struct ClientKeys {
    /// `client_write_key` (16 or 32 bytes used).
    pub key: [u8; 32],
    /// Length of `key` in use.
    pub key_len: usize,
    /// `client_write_IV`, the 4-byte implicit nonce part.
    pub iv: [u8; 4],
}

/// RFC 5246 P_hash, filling `out`.
fn p_hash<M: Mac + hmac::KeyInit + Clone>(secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let base = <M as hmac::KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    // A(1) = HMAC(secret, label || seed)
    let mut a = {
        let mut m = base.clone();
        m.update(label);
        for s in seed {
            m.update(s);
        }
        m.finalize().into_bytes()
    };
    let mut off = 0;
    while off < out.len() {
        let mut m = base.clone();
        m.update(&a);
        m.update(label);
        for s in seed {
            m.update(s);
        }
        let block = m.finalize().into_bytes();
        let n = (out.len() - off).min(block.len());
        out[off..off + n].copy_from_slice(&block[..n]);
        off += n;
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// TLS 1.2 key expansion: the client write key and IV of
/// `PRF(master_secret, "key expansion", server_random || client_random)`.
pub fn client_keys(suite: Suite, master_secret: &[u8; 48], client_random: &[u8; 32], server_random: &[u8; 32]) -> ClientKeys {
    // Block layout: client key, server key, client IV (4), server IV (4).
    let mut block = [0u8; 72];
    let kl = suite.key_len();
    let need = &mut block[..2 * kl + 8];
    let seed: [&[u8]; 2] = [server_random, client_random];
    match suite {
        Suite::Aes128GcmSha256 => p_hash::<Hmac<Sha256>>(master_secret, b"key expansion", &seed, need),
        Suite::Aes256GcmSha384 => p_hash::<Hmac<Sha384>>(master_secret, b"key expansion", &seed, need),
    }
    let mut key = [0u8; 32];
    key[..kl].copy_from_slice(&block[..kl]);
    let mut iv = [0u8; 4];
    iv.copy_from_slice(&block[2 * kl..2 * kl + 4]);
    ClientKeys { key, key_len: kl, iv }
}

/// Payload byte 1 of a TLS 1.2 tag that carries the key block and sequence numbers (SPEC.md §18).
pub const VARIANT_TLS12_KEYS: u8 = 0x12;

/// The client write key and IV packed in a variant-0x12 payload, and the tagged record's
/// sequence number (client key at payload offset 4, client IV at 68, client sequence at 92).
pub fn packed_client_keys(suite: Suite, payload: &[u8; super::PAYLOAD_LEN]) -> (ClientKeys, u64) {
    let kl = suite.key_len();
    let mut key = [0u8; 32];
    key[..kl].copy_from_slice(&payload[4..4 + kl]);
    let mut iv = [0u8; 4];
    iv.copy_from_slice(&payload[68..72]);
    let seq = u32::from_be_bytes([payload[92], payload[93], payload[94], payload[95]]);
    (ClientKeys { key, key_len: kl, iv }, u64::from(seq))
}

/// Decrypts a whole TLS 1.2 AES-GCM application-data record (header included) sent by the client
/// at sequence number `seq`, writing the plaintext into `scratch`; returns its length.
///
/// # Errors
/// [`VerifyError::Malformed`] for a record that is not one complete application-data record or
/// does not fit `scratch`; [`VerifyError::BadRecordMac`] when it does not authenticate.
pub fn open_record(suite: Suite, keys: &ClientKeys, seq: u64, record: &[u8], scratch: &mut [u8]) -> Result<usize, VerifyError> {
    if record.len() < 5 + 8 + 16 || record[0] != 0x17 {
        return Err(VerifyError::Malformed);
    }
    let body_len = usize::from(u16::from_be_bytes([record[3], record[4]]));
    if body_len + 5 != record.len() {
        return Err(VerifyError::Malformed);
    }
    let pt_len = body_len - 8 - 16;
    if pt_len > scratch.len() {
        return Err(VerifyError::Malformed);
    }
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&keys.iv);
    nonce[4..].copy_from_slice(&record[5..13]);
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = 0x17;
    aad[9..11].copy_from_slice(&record[1..3]);
    aad[11..13].copy_from_slice(&(pt_len as u16).to_be_bytes());
    let buf = &mut scratch[..pt_len];
    buf.copy_from_slice(&record[13..13 + pt_len]);
    let tag_bytes: [u8; 16] = record[13 + pt_len..].try_into().map_err(|_| VerifyError::Malformed)?;
    let ok = match suite {
        Suite::Aes128GcmSha256 => {
            let c = <Aes128Gcm as KeyInit>::new_from_slice(&keys.key[..16]).map_err(|_| VerifyError::Malformed)?;
            c.decrypt_inout_detached(&Nonce::from(nonce), &aad, buf.into(), &Tag::from(tag_bytes)).is_ok()
        }
        Suite::Aes256GcmSha384 => {
            let c = <Aes256Gcm as KeyInit>::new_from_slice(&keys.key[..32]).map_err(|_| VerifyError::Malformed)?;
            c.decrypt_inout_detached(&Nonce::from(nonce), &aad, buf.into(), &Tag::from(tag_bytes)).is_ok()
        }
    };
    if ok { Ok(pt_len) } else { Err(VerifyError::BadRecordMac) }
}

/// Finds the X-Proto value in a decrypted tagged request and base64-decodes it (`iv12 ||
/// AES-GCM(ClientToStation)`) into `out`. Returns the decoded length. The value is the
/// `X-Proto:` header of an HTTP/1.1 request, or the `x-proto` field of an HTTP/2 HEADERS frame
/// (an HPACK never-indexed literal with a raw string, as the client encodes it).
pub fn find_xproto(plaintext: &[u8], out: &mut [u8]) -> Option<usize> {
    const NEEDLE: &[u8] = b"\r\nX-Proto: ";
    const H2_NEEDLE: &[u8] = b"\x10\x07x-proto";
    if let Some(at) = plaintext.windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let rest = &plaintext[at + NEEDLE.len()..];
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        return base64_decode(&rest[..end], out);
    }
    let at = plaintext.windows(H2_NEEDLE.len()).position(|w| w == H2_NEEDLE)? + H2_NEEDLE.len();
    let (len, used) = hpack_raw_string_len(plaintext.get(at..)?)?;
    base64_decode(plaintext.get(at + used..at + used + len)?, out)
}

/// The length of an HPACK string literal without Huffman coding (RFC 7541 §5.1, 7-bit prefix),
/// and how many bytes the length took.
fn hpack_raw_string_len(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    if first & 0x80 != 0 {
        return None; // Huffman-coded: not what the client writes
    }
    let mut len = usize::from(first & 0x7f);
    if len < 0x7f {
        return Some((len, 1));
    }
    for (i, byte) in b.iter().enumerate().skip(1).take(3) {
        len += usize::from(byte & 0x7f) << (7 * (i - 1));
        if byte & 0x80 == 0 {
            return Some((len, i + 1));
        }
    }
    None
}

/// Standard-alphabet base64 with optional `=` padding; `None` on any other byte or overflow.
fn base64_decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut n = 0usize;
    let mut pad = 0usize;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            _ => return None,
        };
        if pad > 0 {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n >= out.len() {
                return None;
            }
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    if pad > 2 { None } else { Some(n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_padded_and_unpadded_values() {
        let mut out = [0u8; 16];
        assert_eq!(base64_decode(b"aGVsbG8=", &mut out), Some(5));
        assert_eq!(&out[..5], b"hello");
        assert_eq!(base64_decode(b"aGVsbG8", &mut out), Some(5));
        assert_eq!(base64_decode(b"aGV*", &mut out), None);
        assert_eq!(base64_decode(b"aGVsbG8=x", &mut out), None);
    }

    #[test]
    fn finds_the_xproto_header_value() {
        let mut out = [0u8; 16];
        let n = find_xproto(b"GET / HTTP/1.1\r\nHost: a\r\nX-Proto: aGk=\r\nX-Ignore: ##", &mut out);
        assert_eq!(n, Some(2));
        assert_eq!(&out[..2], b"hi");
        assert_eq!(find_xproto(b"GET / HTTP/1.1\r\nHost: a\r\nX-Ignore: ##", &mut out), None);
    }

    #[test]
    fn finds_the_xproto_field_of_an_http2_headers_frame() {
        let mut out = [0u8; 16];
        let mut block = vec![0x82, 0x84, 0x10, 0x07];
        block.extend_from_slice(b"x-proto");
        block.push(4);
        block.extend_from_slice(b"aGk=");
        block.extend_from_slice(&[0x10, 0x08]);
        block.extend_from_slice(b"x-ignore");
        assert_eq!(find_xproto(&block, &mut out), Some(2));
        assert_eq!(&out[..2], b"hi");
        block[11] = 0x84; // Huffman flag: not ours
        assert_eq!(find_xproto(&block, &mut out), None);
        block[11] = 40; // longer than the bytes that follow
        assert_eq!(find_xproto(&block, &mut out), None);
        assert_eq!(hpack_raw_string_len(&[0x7f, 0x81, 0x01]), Some((127 + 1 + 128, 3)));
        assert_eq!(hpack_raw_string_len(&[0x7f, 0x80, 0x80, 0x80]), None);
    }

    #[test]
    fn a_packed_key_block_opens_the_record_at_its_sequence_number() {
        use super::super::testkit::{TestRng, random_payload, seal_record};
        let mut rng = TestRng::new(12);
        let p = random_payload(&mut rng, 0xc02f);
        let keys = client_keys(Suite::Aes128GcmSha256, &p.master_secret, &p.client_random, &p.server_random);
        let mut payload = [0u8; super::super::PAYLOAD_LEN];
        payload[1] = VARIANT_TLS12_KEYS;
        payload[2..4].copy_from_slice(&0xc02fu16.to_be_bytes());
        payload[4..20].copy_from_slice(&keys.key[..16]);
        payload[68..72].copy_from_slice(&keys.iv);
        payload[92..96].copy_from_slice(&2u32.to_be_bytes());
        let (packed, seq) = packed_client_keys(Suite::Aes128GcmSha256, &payload);
        assert_eq!(seq, 2);
        let record = seal_record(Suite::Aes128GcmSha256, &keys, 2, b"HEADERS frame");
        let mut scratch = [0u8; 64];
        assert_eq!(open_record(Suite::Aes128GcmSha256, &packed, seq, &record, &mut scratch), Ok(13));
        assert_eq!(open_record(Suite::Aes128GcmSha256, &packed, 1, &record, &mut scratch), Err(VerifyError::BadRecordMac));
    }

    #[test]
    fn unsupported_suites_are_named() {
        assert_eq!(Suite::from_id(0xcca8), None);
        assert_eq!(Suite::from_id(0xc02f), Some(Suite::Aes128GcmSha256));
    }
}
