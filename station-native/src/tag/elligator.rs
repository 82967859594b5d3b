//! Elligator 2 on Curve25519: the direct map (representative → Montgomery u) the station runs on
//! every candidate tag, and (test kit only) the inverse map a client uses to hide its key.
//!
//! Direct map, with A = 486662 and the non-square 2:
//! `w = 1 + 2r²`, `v = −A / w`, `x = v` when `v³ + A·v² + v` is a square, else `x = −v − A`.
//! Both roots ±r, and both formula choices of the public client's encoder, decode to the same u,
//! so the station only needs this one map. Constant time; no allocation.

use super::field::Fe;

/// Montgomery coefficient A of Curve25519.
const A: Fe = Fe::from_u64(486_662);

/// Maps a representative (already masked to 254 bits by the caller) to the Montgomery
/// u-coordinate it encodes, little-endian.
pub fn decode(representative: &[u8; 32]) -> [u8; 32] {
    let r = Fe::from_bytes(representative);
    let w = Fe::ONE.add(Fe::from_u64(2).mul(r.square())); // never zero: −1/2 is a non-square
    let v = A.neg().mul(w.invert());
    let v2 = v.square();
    let g = v2.mul(v).add(A.mul(v2)).add(v);
    let x = if g.is_square() { v } else { v.neg().sub(A) };
    x.to_bytes()
}

/// Maps a representative straight to the Edwards y-coordinate of the same point (birational map
/// `y = (u − 1)/(u + 1)`), sharing one inversion and one quadratic-character test between the two
/// steps: with `w = 1 + 2r²`, `χ(v³ + A·v² + v) = χ(−A·w·(A² − A²·w + w²))`. Returns `None` for
/// u = −1, which has no Edwards image.
pub fn decode_edwards_y(representative: &[u8; 32]) -> Option<[u8; 32]> {
    let r = Fe::from_bytes(representative);
    let w = Fe::ONE.add(Fe::from_u64(2).mul(r.square()));
    let a2 = A.square();
    let n = a2.sub(a2.mul(w)).add(w.square());
    let square = A.neg().mul(w).mul(n).is_square();
    // u = −A/w when the curve value is a square, else u = A(1 − w)/w; y = (u − 1)/(u + 1).
    let (num, den) = if square {
        (A.neg().sub(w), w.sub(A))
    } else {
        let t = A.mul(Fe::ONE.sub(w));
        (t.sub(w), t.add(w))
    };
    if den.ct_eq(Fe::ZERO) {
        return None;
    }
    Some(num.mul(den.invert()).to_bytes())
}

/// The inverse map of the public client (extra25519): the representative of u, the root that is
/// at most (p − 1)/2, or `None` when u has none (about half of all keys).
#[cfg(any(test, feature = "testkit"))]
pub fn encode(u_bytes: &[u8; 32]) -> Option<[u8; 32]> {
    let u = Fe::from_bytes(u_bytes);
    let upa = u.add(A);
    if upa.ct_eq(Fe::ZERO) {
        return None;
    }
    // r² = −u / (2(u + A)); decoding r gives v = −u − A, whose curve value is a non-square, so
    // the map answers u.
    let r2 = u.neg().mul(Fe::from_u64(2).mul(upa).invert());
    let r = r2.sqrt()?;
    let neg = r.neg();
    // Pick the root ≤ (p − 1)/2 by comparing canonical encodings as big integers.
    let (a, b) = (r.to_bytes(), neg.to_bytes());
    let r_is_smaller = a.iter().rev().cmp(b.iter().rev()) != core::cmp::Ordering::Greater;
    let out = if r_is_smaller { a } else { b };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..64).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        v.try_into().unwrap()
    }

    #[test]
    fn decodes_the_legacy_vector_representative_to_its_u() {
        // station_full_chain_legacy_layout: first 32 stego bytes, byte 31 masked with 0x7f.
        // (The representative itself is checked through the whole chain in tests/vectors.rs;
        // here the synthetic vector of tapdance-protocol.md §7.2 gives u directly.)
        let rep = hex32("d9aec4c7da2c0e333951976aa89b841056a62b7420702ca3aea42630ca5b2038");
        let u = decode(&rep);
        assert_eq!(u, hex32("7f1374745881a854e41dfac6eeb8b3e3df04b9e88d4607ab136a1b571bdb753c"));
    }

    #[test]
    fn encoded_representatives_decode_back_and_leave_the_top_bits_clear() {
        let u = hex32("7f1374745881a854e41dfac6eeb8b3e3df04b9e88d4607ab136a1b571bdb753c");
        let rep = encode(&u).expect("this key has a representative");
        assert_eq!(rep[31] & 0xc0, 0);
        assert_eq!(decode(&rep), u);
    }

    #[test]
    fn edwards_shortcut_agrees_with_the_montgomery_decode() {
        use curve25519_dalek::montgomery::MontgomeryPoint;
        let mut seed = [7u8; 32];
        for i in 0..64u8 {
            seed[0] = i;
            seed[31] &= 0x3f;
            let u = decode(&seed);
            let y = decode_edwards_y(&seed).unwrap();
            let e = curve25519_dalek::edwards::CompressedEdwardsY(y).decompress().expect("on curve");
            assert_eq!(e.to_montgomery(), MontgomeryPoint(u));
            seed = e.compress().to_bytes();
        }
    }

    #[test]
    fn either_root_decodes_to_the_same_u() {
        let u = hex32("7f1374745881a854e41dfac6eeb8b3e3df04b9e88d4607ab136a1b571bdb753c");
        let rep = encode(&u).unwrap();
        let neg = Fe::from_bytes(&rep).neg().to_bytes();
        assert_eq!(decode(&neg), u);
    }
}
