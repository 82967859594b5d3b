//! Client-side tag construction for tests, benchmarks and fuzzing (feature `testkit`).
//!
//! Builds what the TapDance client sends: a tag sealed to a station key and a TLS 1.2 AES-GCM
//! application-data record at sequence number 1 whose ciphertext carries it, or the TLS 1.3 form
//! (variant 0x13 payload, 239 stego bytes, the tag fitted to the encrypted content type). Never
//! used by the station itself; allocation is fine here.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use sha2::{Digest, Sha256};

use super::tls12::{Suite, client_keys};
use super::tls13::{ClientKeys13, Suite13, VARIANT_TLS13, client_keys13};
use super::{PAYLOAD_LEN, TagPayload, elligator, stego};

/// A small deterministic generator (SplitMix64) so fixtures are reproducible.
pub struct TestRng(u64);

impl TestRng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> TestRng {
        TestRng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Serialises a payload in the current 132-byte layout.
pub fn payload_bytes(p: &TagPayload) -> [u8; PAYLOAD_LEN] {
    let mut out = [0u8; PAYLOAD_LEN];
    out[0] = p.flags;
    out[1] = p.variant;
    out[2..4].copy_from_slice(&p.suite.to_be_bytes());
    out[4..52].copy_from_slice(&p.master_secret);
    out[52..84].copy_from_slice(&p.server_random);
    out[84..116].copy_from_slice(&p.client_random);
    out[116..132].copy_from_slice(&p.conn_id);
    out
}

/// A random payload for `suite`.
pub fn random_payload(rng: &mut TestRng, suite: u16) -> TagPayload {
    let mut p = TagPayload { flags: 0x01, variant: 0, suite, master_secret: [0; 48], server_random: [0; 32], client_random: [0; 32], conn_id: [0; 16] };
    rng.fill(&mut p.master_secret);
    rng.fill(&mut p.server_random);
    rng.fill(&mut p.client_random);
    rng.fill(&mut p.conn_id);
    p
}

/// Seals `payload` to `station_public`: returns the 180-byte tag and K = SHA-256(shared).
pub fn seal_tag(rng: &mut TestRng, station_public: &[u8; 32], payload: &[u8; PAYLOAD_LEN]) -> ([u8; 180], [u8; 32]) {
    let (private, mut rep) = loop {
        let mut k = [0u8; 32];
        rng.fill(&mut k);
        let u = MontgomeryPoint::mul_base_clamped(k).to_bytes();
        if let Some(rep) = elligator::encode(&u) {
            break (k, rep);
        }
    };
    rep[31] |= (rng.next_u64() as u8) & 0xc0;
    let shared = MontgomeryPoint(*station_public).mul_clamped(private).to_bytes();
    let k: [u8; 32] = Sha256::digest(shared).into();
    (seal_with(&rep, &k, payload), k)
}

/// The tag for `payload` under the already agreed K (representative kept).
fn seal_with(rep: &[u8; 32], k: &[u8; 32], payload: &[u8; PAYLOAD_LEN]) -> [u8; 180] {
    let cipher = Aes128Gcm::new_from_slice(&k[..16]).expect("16-byte key");
    let nonce: [u8; 12] = k[16..28].try_into().expect("12 bytes");
    let mut ct = *payload;
    let gcm = cipher.encrypt_inout_detached(&Nonce::from(nonce), &[], (&mut ct[..]).into()).expect("small input");
    let mut tag = [0u8; 180];
    tag[..32].copy_from_slice(rep);
    tag[32..164].copy_from_slice(&ct);
    tag[164..].copy_from_slice(&gcm);
    tag
}

/// A random TLS 1.3 payload: secrets of the suite's hash length (zero-filled to 48), the tagged
/// record's sequence number `client_seq` and `server_seq` records seen from the server.
pub fn random_payload13(rng: &mut TestRng, suite: u16, client_seq: u32, server_seq: u32) -> [u8; PAYLOAD_LEN] {
    let h = Suite13::from_id(suite).map_or(32, Suite13::hash_len);
    let mut p = [0u8; PAYLOAD_LEN];
    p[0] = 0x01;
    p[1] = VARIANT_TLS13;
    p[2..4].copy_from_slice(&suite.to_be_bytes());
    rng.fill(&mut p[4..4 + h]);
    rng.fill(&mut p[52..52 + h]);
    p[100..104].copy_from_slice(&client_seq.to_be_bytes());
    p[104..108].copy_from_slice(&server_seq.to_be_bytes());
    rng.fill(&mut p[116..132]);
    p
}

/// Encrypts `content` as a TLS 1.3 record (inner type 0x17) under `keys` at their sequence number.
pub fn seal_record13(keys: &ClientKeys13, content: &[u8]) -> Vec<u8> {
    let mut inner = content.to_vec();
    inner.push(0x17);
    let body = inner.len() + 16;
    let header = [0x17, 3, 3, (body >> 8) as u8, body as u8];
    let mut nonce = keys.iv;
    for (n, s) in nonce[4..].iter_mut().zip(keys.seq.to_be_bytes()) {
        *n ^= s;
    }
    let tag = match keys.suite {
        Suite13::Aes128GcmSha256 => Aes128Gcm::new_from_slice(&keys.key[..16]).expect("key")
            .encrypt_inout_detached(&Nonce::from(nonce), &header, (&mut inner[..]).into()).expect("fits"),
        Suite13::Aes256GcmSha384 => Aes256Gcm::new_from_slice(&keys.key[..32]).expect("key")
            .encrypt_inout_detached(&Nonce::from(nonce), &header, (&mut inner[..]).into()).expect("fits"),
    };
    let mut rec = header.to_vec();
    rec.extend_from_slice(&inner);
    rec.extend_from_slice(&tag);
    rec
}

/// The client's TLS 1.3 tagged record for a variant-0x13 `payload`: an incomplete HTTP/1.1
/// request with 239 stego bytes, the tag refitted (fit bytes 108..116) until its last 6 bits are
/// those of the encrypted content type. Returns the record and K.
pub fn tagged_record13(rng: &mut TestRng, station_public: &[u8; 32], payload: &[u8; PAYLOAD_LEN]) -> (Vec<u8>, [u8; 32]) {
    let keys = client_keys13(payload).expect("a supported TLS 1.3 payload");
    let (first, k) = seal_tag(rng, station_public, payload);
    let rep: [u8; 32] = first[..32].try_into().expect("32");
    let mut prefix = b"GET / HTTP/1.1\r\nHost: decoy.example\r\nX-Ignore: ".to_vec();
    prefix.extend(std::iter::repeat_n(b'#', 7 + (rng.next_u64() % 200) as usize));
    let content_len = prefix.len() + 239;
    // Keystream = the encryption of zeros; byte content_len covers the inner content type.
    let zeros = seal_record13(&keys, &vec![0u8; content_len + 1]);
    let ks = &zeros[5..5 + content_len + 1];
    let want = (0x17 ^ ks[content_len]) & 0x3f;
    let mut p = *payload;
    let tag = loop {
        rng.fill(&mut p[108..116]);
        let t = seal_with(&rep, &k, &p);
        if t[179] & 0x3f == want {
            break t;
        }
    };
    let stego_pt = stego::encode(&tag, &ks[prefix.len()..prefix.len() + 240]);
    let mut content = prefix;
    content.extend_from_slice(&stego_pt[..239]);
    (seal_record13(&keys, &content), k)
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Encrypts `plaintext` as the client's TLS 1.2 application-data record number `seq`
/// (explicit nonce = seq, as Go's TLS stack does).
pub fn seal_record(suite: Suite, keys: &super::tls12::ClientKeys, seq: u64, plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&keys.iv);
    nonce[4..].copy_from_slice(&seq.to_be_bytes());
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = 0x17;
    aad[9] = 3;
    aad[10] = 3;
    aad[11..].copy_from_slice(&(plaintext.len() as u16).to_be_bytes());
    let mut buf = plaintext.to_vec();
    let tag = match suite {
        Suite::Aes128GcmSha256 => Aes128Gcm::new_from_slice(&keys.key[..16]).expect("key")
            .encrypt_inout_detached(&Nonce::from(nonce), &aad, (&mut buf[..]).into()).expect("fits"),
        Suite::Aes256GcmSha384 => Aes256Gcm::new_from_slice(&keys.key[..32]).expect("key")
            .encrypt_inout_detached(&Nonce::from(nonce), &aad, (&mut buf[..]).into()).expect("fits"),
    };
    let body = 8 + buf.len() + 16;
    let mut rec = vec![0x17, 3, 3, (body >> 8) as u8, body as u8];
    rec.extend_from_slice(&seq.to_be_bytes());
    rec.extend_from_slice(&buf);
    rec.extend_from_slice(&tag);
    rec
}

/// Builds the client's first application-data record carrying a tag for `payload`, with an
/// incomplete HTTP request (`Host`, optional `X-Proto` with `x_proto` bytes, `X-Ignore` padding
/// and the 240 stego bytes). Returns the record and K.
pub fn tagged_record(rng: &mut TestRng, station_public: &[u8; 32], payload: &TagPayload, x_proto: Option<&[u8]>) -> (Vec<u8>, [u8; 32]) {
    let suite = Suite::from_id(payload.suite).expect("testkit builds AES-GCM suites only");
    let (tag, k) = seal_tag(rng, station_public, &payload_bytes(payload));
    let keys = client_keys(suite, &payload.master_secret, &payload.client_random, &payload.server_random);
    let mut prefix = String::from("GET / HTTP/1.1\r\nHost: decoy.example\r\nUser-Agent: TapDance/1.2\r\n");
    if let Some(x) = x_proto {
        prefix.push_str("X-Proto: ");
        prefix.push_str(&base64(x));
        prefix.push_str("\r\n");
    }
    prefix.push_str("X-Ignore: ");
    let pad = 7 + (rng.next_u64() % 200) as usize;
    prefix.extend(std::iter::repeat_n('#', pad));
    let total = prefix.len() + 240;
    // The keystream is the encryption of zeros under the same nonce.
    let zeros = seal_record(suite, &keys, 1, &vec![0u8; total]);
    let ks = &zeros[13..13 + total];
    let mut pt = prefix.into_bytes();
    let stego_pt = stego::encode(&tag, &ks[pt.len()..]);
    pt.extend_from_slice(&stego_pt);
    (seal_record(suite, &keys, 1, &pt), k)
}
