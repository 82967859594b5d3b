//! Tag detection: find and open the TapDance tag hidden in a TLS application-data record.
//!
//! Chain (tapdance-protocol.md §1–2): take the low 6 bits of the stego bytes that end a fixed
//! distance before the end of the record body → 180 tag bytes = Elligator 2 representative (32)
//! ‖ AES-128-GCM ciphertext (132 + 16). Mask the representative's top bits, decode it to the
//! client's X25519 key, compute X25519 with each station key, K = SHA-256(shared), and open the
//! ciphertext with key K[0..16] and nonce K[16..28]. Authentication success *is* the test.
//!
//! [`TagChecker`] owns every buffer it needs, so a check allocates nothing.
//! [`tls12`] (payload variants 0x00 and 0x12) or [`tls13`] (variant 0x13) then confirms the
//! leaked TLS secrets before any takeover. [`ring::KeyRing`] lets the live station swap its keys without a
//! restart.

pub mod elligator;
pub(crate) mod field;
pub mod ring;
pub mod stego;
pub mod tls12;
pub mod tls13;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha256};

/// Length of the current tag payload.
pub const PAYLOAD_LEN: usize = 132;
/// Largest tag any layout produces (legacy: 186).
const MAX_TAG: usize = 192;

/// Where the stego bytes sit and how the opened payload is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagLayout {
    /// Stego bytes (a multiple of 4); the tag has `stego_len / 4 * 3` bytes.
    pub stego_len: usize,
    /// Distance from the end of the record body back to the first stego byte.
    pub end_offset: usize,
    /// AND-mask for byte 31 of the representative (clears the client's random top bits).
    pub representative_mask: u8,
    /// True for the pre-2018 layout whose plaintext starts with a 2-byte length.
    pub length_prefixed: bool,
}

impl TagLayout {
    /// The layout of the current client: 240 stego bytes ending 16 bytes (the GCM tag) before the
    /// end of the record, top two representative bits masked.
    pub const CURRENT: TagLayout = TagLayout { stego_len: 240, end_offset: 256, representative_mask: 0x3f, length_prefixed: false };
    /// The pre-2018 layout of the public 2017 station's test data (186-byte tag, length prefix).
    pub const LEGACY: TagLayout = TagLayout { stego_len: 248, end_offset: 264, representative_mask: 0x7f, length_prefixed: true };

    fn tag_len(&self) -> usize {
        self.stego_len / 4 * 3
    }
}

/// A station private key (X25519 secret scalar bytes as stored in the key file).
#[derive(Clone)]
pub struct StationKey {
    secret: [u8; 32],
    /// The clamped X25519 scalar divided by the cofactor 8, reduced mod ℓ: X25519(k, P) equals
    /// `(k/8)·(8P)`, which lets the check use the fast Edwards scalar multiplication.
    scalar_div8: Scalar,
}

impl StationKey {
    /// Wraps a 32-byte X25519 secret.
    pub fn from_secret(secret: [u8; 32]) -> StationKey {
        let mut k = secret;
        k[0] &= 248;
        k[31] &= 127;
        k[31] |= 64;
        let mut d = [0u8; 32];
        for i in 0..32 {
            d[i] = (k[i] >> 3) | if i < 31 { k[i + 1] << 5 } else { 0 };
        }
        StationKey { secret, scalar_div8: Scalar::from_bytes_mod_order(d) }
    }

    /// X25519 of this key with the point whose Edwards form is `p8 = 8·P`.
    fn shared_with(&self, p8: &curve25519_dalek::edwards::EdwardsPoint) -> [u8; 32] {
        (p8 * self.scalar_div8).to_montgomery().to_bytes()
    }

    /// The matching public key (what clients are configured with).
    pub fn public(&self) -> [u8; 32] {
        MontgomeryPoint::mul_base_clamped(self.secret).to_bytes()
    }
}

/// Why a record is not a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagMiss {
    /// The record body is shorter than the layout needs.
    TooShort,
    /// No station key authenticated the tag ciphertext (the normal outcome for other traffic).
    NoTag,
}

/// The decoded 132-byte payload of a current-layout tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagPayload {
    /// Flags (0x01 TIL framing, 0x02 proxy header, 0x80 upload-only).
    pub flags: u8,
    /// Byte 1: 0x00 for the TLS 1.2 layout, 0x12 for a TLS 1.2 key block, 0x13 for TLS 1.3 (the
    /// last two pack their secrets into the next fields).
    pub variant: u8,
    /// Negotiated TLS cipher suite.
    pub suite: u16,
    /// TLS master secret.
    pub master_secret: [u8; 48],
    /// ServerHello.random.
    pub server_random: [u8; 32],
    /// ClientHello.random.
    pub client_random: [u8; 32],
    /// Session / connection id.
    pub conn_id: [u8; 16],
}

impl TagPayload {
    /// Parses the fixed layout (flags, variant, suite BE16, MS 48, SR 32, CR 32, id 16). For a TLS
    /// 1.3 payload the three byte fields hold the packed secrets and sequence numbers.
    pub fn parse(p: &[u8; PAYLOAD_LEN]) -> TagPayload {
        let mut t = TagPayload {
            flags: p[0],
            variant: p[1],
            suite: u16::from_be_bytes([p[2], p[3]]),
            master_secret: [0; 48],
            server_random: [0; 32],
            client_random: [0; 32],
            conn_id: [0; 16],
        };
        t.master_secret.copy_from_slice(&p[4..52]);
        t.server_random.copy_from_slice(&p[52..84]);
        t.client_random.copy_from_slice(&p[84..116]);
        t.conn_id.copy_from_slice(&p[116..132]);
        t
    }
}

/// A tag that opened.
#[derive(Clone, Copy)]
pub struct TagHit {
    /// Index of the station key that opened it.
    pub key_index: usize,
    /// SHA-256 of the X25519 shared secret (AES key ‖ IV; the client also seals X-Proto with it).
    pub key_material: [u8; 32],
    /// The plaintext (132 bytes for the current layout; `payload_len` says how many are used).
    pub payload: [u8; 160],
    /// Number of payload bytes.
    pub payload_len: usize,
}

/// Checks records for tags with a fixed set of station keys; reusable, allocation-free per check.
pub struct TagChecker {
    keys: Vec<StationKey>,
    layout: TagLayout,
}

impl TagChecker {
    /// A checker for `keys` (tried in order) and `layout`.
    pub fn new(keys: Vec<StationKey>, layout: TagLayout) -> TagChecker {
        TagChecker { keys, layout }
    }

    /// Number of station keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Looks for a tag in one TLS record (5-byte header included; only the body length matters).
    ///
    /// # Errors
    /// [`TagMiss::TooShort`] or [`TagMiss::NoTag`]; never panics on any input.
    pub fn check_record(&self, record: &[u8]) -> Result<TagHit, TagMiss> {
        let body = record.get(5..).ok_or(TagMiss::TooShort)?;
        self.check_body(body)
    }

    /// As [`check_record`](Self::check_record) on a record body (after the 5-byte header).
    ///
    /// # Errors
    /// [`TagMiss::TooShort`] or [`TagMiss::NoTag`].
    pub fn check_body(&self, body: &[u8]) -> Result<TagHit, TagMiss> {
        let l = &self.layout;
        if body.len() < l.end_offset || l.end_offset < l.stego_len {
            return Err(TagMiss::TooShort);
        }
        let start = body.len() - l.end_offset;
        let mut tag = [0u8; MAX_TAG];
        let tag_len = l.tag_len();
        if tag_len > MAX_TAG || tag_len < 32 + 16 {
            return Err(TagMiss::TooShort);
        }
        stego::extract(&body[start..start + l.stego_len], &mut tag[..tag_len]).ok_or(TagMiss::TooShort)?;
        let mut rep = [0u8; 32];
        rep.copy_from_slice(&tag[..32]);
        rep[31] &= l.representative_mask;
        // Edwards form of the client's point, times the cofactor (see StationKey::scalar_div8).
        let Some(y) = elligator::decode_edwards_y(&rep) else { return Err(TagMiss::NoTag) };
        let Some(point) = CompressedEdwardsY(y).decompress() else { return Err(TagMiss::NoTag) };
        let p8 = point.mul_by_cofactor();
        let ct_len = tag_len - 32 - 16;
        let gcm_tag: [u8; 16] = tag[tag_len - 16..tag_len].try_into().map_err(|_| TagMiss::TooShort)?;
        for (i, key) in self.keys.iter().enumerate() {
            let shared = key.shared_with(&p8);
            if shared == [0u8; 32] {
                continue; // low-order point: never a real client
            }
            let k: [u8; 32] = Sha256::digest(shared).into();
            let Ok(cipher) = <Aes128Gcm as KeyInit>::new_from_slice(&k[..16]) else { continue };
            let nonce: [u8; 12] = k[16..28].try_into().map_err(|_| TagMiss::NoTag)?;
            let mut pt = [0u8; 160];
            let buf = &mut pt[..ct_len];
            buf.copy_from_slice(&tag[32..32 + ct_len]);
            if cipher.decrypt_inout_detached(&Nonce::from(nonce), &[], buf.into(), &Tag::from(gcm_tag)).is_ok() {
                let (payload, payload_len) = if l.length_prefixed {
                    let n = usize::from(u16::from_be_bytes([pt[0], pt[1]])).min(ct_len - 2);
                    let mut p = [0u8; 160];
                    p[..n].copy_from_slice(&pt[2..2 + n]);
                    (p, n)
                } else {
                    (pt, ct_len)
                };
                return Ok(TagHit { key_index: i, key_material: k, payload, payload_len });
            }
        }
        Err(TagMiss::NoTag)
    }

    /// The current-layout payload of a hit, when it has the right length.
    pub fn payload_of(hit: &TagHit) -> Option<TagPayload> {
        if hit.payload_len != PAYLOAD_LEN {
            return None;
        }
        let p: &[u8; PAYLOAD_LEN] = hit.payload[..PAYLOAD_LEN].try_into().ok()?;
        Some(TagPayload::parse(p))
    }
}
