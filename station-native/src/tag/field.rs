//! Arithmetic in GF(2^255 − 19), the field of Curve25519, for the Elligator 2 map.
//!
//! A thin wrapper over the formally verified `fiat-crypto` routines (5 × 51-bit limbs). Only what
//! the station needs: multiply, square, add, subtract, negate, inversion, the quadratic character
//! and (for the test kit's inverse map) a square root. All operations are constant time; no
//! allocation.

use fiat_crypto::curve25519_64::{
    fiat_25519_add, fiat_25519_carry, fiat_25519_carry_mul, fiat_25519_carry_square,
    fiat_25519_from_bytes, fiat_25519_loose_field_element as Loose, fiat_25519_opp,
    fiat_25519_relax, fiat_25519_sub, fiat_25519_tight_field_element as Tight,
    fiat_25519_to_bytes,
};

/// An element of GF(2^255 − 19), always kept in fiat's "tight" (carried) form.
#[derive(Clone, Copy)]
pub(crate) struct Fe(Tight);

impl Fe {
    pub(crate) const ZERO: Fe = Fe(Tight([0; 5]));
    pub(crate) const ONE: Fe = Fe(Tight([1, 0, 0, 0, 0]));

    /// Small constant.
    pub(crate) const fn from_u64(v: u64) -> Fe {
        // Values below 2^51 fit the first limb unchanged.
        Fe(Tight([v & ((1 << 51) - 1), 0, 0, 0, 0]))
    }

    /// Little-endian decode; bit 255 is ignored (the caller masks representatives first).
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Fe {
        let mut b = *bytes;
        b[31] &= 0x7f;
        let mut out = Tight([0; 5]);
        fiat_25519_from_bytes(&mut out, &b);
        Fe(out)
    }

    /// Canonical little-endian encoding.
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        fiat_25519_to_bytes(&mut out, &self.0);
        out
    }

    fn relax(self) -> Loose {
        let mut l = Loose([0; 5]);
        fiat_25519_relax(&mut l, &self.0);
        l
    }

    fn carry(l: Loose) -> Fe {
        let mut t = Tight([0; 5]);
        fiat_25519_carry(&mut t, &l);
        Fe(t)
    }

    pub(crate) fn mul(self, rhs: Fe) -> Fe {
        let mut t = Tight([0; 5]);
        fiat_25519_carry_mul(&mut t, &self.relax(), &rhs.relax());
        Fe(t)
    }

    pub(crate) fn square(self) -> Fe {
        let mut t = Tight([0; 5]);
        fiat_25519_carry_square(&mut t, &self.relax());
        Fe(t)
    }

    pub(crate) fn add(self, rhs: Fe) -> Fe {
        let mut l = Loose([0; 5]);
        fiat_25519_add(&mut l, &self.0, &rhs.0);
        Fe::carry(l)
    }

    pub(crate) fn sub(self, rhs: Fe) -> Fe {
        let mut l = Loose([0; 5]);
        fiat_25519_sub(&mut l, &self.0, &rhs.0);
        Fe::carry(l)
    }

    pub(crate) fn neg(self) -> Fe {
        let mut l = Loose([0; 5]);
        fiat_25519_opp(&mut l, &self.0);
        Fe::carry(l)
    }

    /// `self^(2^k)`.
    fn pow2k(self, k: u32) -> Fe {
        let mut x = self;
        for _ in 0..k {
            x = x.square();
        }
        x
    }

    /// Returns `(self^(2^250 − 1), self^11)`, the common prefix of the exponent chains below
    /// (the addition chain of the reference implementation of Curve25519).
    fn pow22501(self) -> (Fe, Fe) {
        let t0 = self.square(); // 2
        let t1 = t0.pow2k(2); // 8
        let t1 = self.mul(t1); // 9
        let t0 = t0.mul(t1); // 11
        let t2 = t0.square(); // 22
        let t1 = t1.mul(t2); // 31 = 2^5 - 1
        let t2 = t1.pow2k(5);
        let t1 = t2.mul(t1); // 2^10 - 1
        let t2 = t1.pow2k(10);
        let t2 = t2.mul(t1); // 2^20 - 1
        let t3 = t2.pow2k(20);
        let t2 = t3.mul(t2); // 2^40 - 1
        let t2 = t2.pow2k(10);
        let t1 = t2.mul(t1); // 2^50 - 1
        let t2 = t1.pow2k(50);
        let t2 = t2.mul(t1); // 2^100 - 1
        let t3 = t2.pow2k(100);
        let t2 = t3.mul(t2); // 2^200 - 1
        let t2 = t2.pow2k(50);
        let t1 = t2.mul(t1); // 2^250 - 1
        (t1, t0)
    }

    /// Multiplicative inverse, `self^(p − 2)`; zero maps to zero.
    pub(crate) fn invert(self) -> Fe {
        let (t, z11) = self.pow22501();
        // (2^250 - 1) * 2^5 + 11 = 2^255 - 21 = p - 2
        t.pow2k(5).mul(z11)
    }

    /// The quadratic character as the raw power `self^((p − 1)/2)`: 1 for a non-zero square,
    /// p − 1 for a non-square, 0 for zero.
    fn legendre_power(self) -> Fe {
        let (t, _) = self.pow22501();
        // (2^250 - 1) * 2^4 + 6 = 2^254 - 10 = (p - 1) / 2
        let x2 = self.square();
        let x6 = x2.square().mul(x2);
        t.pow2k(4).mul(x6)
    }

    /// True when `self` is a non-zero square or zero (Euler's criterion).
    pub(crate) fn is_square(self) -> bool {
        let l = self.legendre_power().to_bytes();
        // p - 1 in little-endian ends in ...0x7f with first byte 0xec; 1 and 0 do not.
        l[0] != 0xec
    }

    pub(crate) fn ct_eq(self, rhs: Fe) -> bool {
        let a = self.to_bytes();
        let b = rhs.to_bytes();
        let mut d = 0u8;
        for i in 0..32 {
            d |= a[i] ^ b[i];
        }
        d == 0
    }

    /// A square root of `self` when one exists (p ≡ 5 mod 8: candidate `self^((p+3)/8)`, fixed
    /// up by √−1).
    #[cfg(any(test, feature = "testkit"))]
    pub(crate) fn sqrt(self) -> Option<Fe> {
        // (p + 3) / 8 = 2^252 - 2 = (2^250 - 1) * 4 + 2
        let (t, _) = self.pow22501();
        let cand = t.pow2k(2).mul(self.square());
        if cand.square().ct_eq(self) {
            return Some(cand);
        }
        let c2 = cand.mul(sqrt_m1());
        if c2.square().ct_eq(self) { Some(c2) } else { None }
    }
}

/// √−1 = 2^((p − 1)/4).
#[cfg(any(test, feature = "testkit"))]
fn sqrt_m1() -> Fe {
    // Computed once from its definition rather than typed in as a constant.
    let two = Fe::from_u64(2);
    // (p - 1) / 4 = 2^253 - 5 = (2^250 - 1) * 8 + 3
    let (t, _) = two.pow22501();
    t.pow2k(3).mul(two.square().mul(two))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_times_value_is_one() {
        let x = Fe::from_u64(486662);
        assert!(x.mul(x.invert()).ct_eq(Fe::ONE));
    }

    #[test]
    fn two_is_not_a_square_and_four_is() {
        assert!(!Fe::from_u64(2).is_square());
        assert!(Fe::from_u64(4).is_square());
        assert!(Fe::ZERO.is_square());
    }

    #[test]
    fn sqrt_m1_squares_to_minus_one() {
        assert!(sqrt_m1().square().ct_eq(Fe::ONE.neg()));
        let r = Fe::from_u64(9).sqrt().unwrap();
        assert!(r.square().ct_eq(Fe::from_u64(9)));
    }
}
