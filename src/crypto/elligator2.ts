/**
 * Elligator 2 on Curve25519, as TapDance uses it to hide the client's ephemeral X25519 public key
 * among uniformly random bytes (Bernstein, Hamburg, Krasnova, Lange, "Elligator: elliptic-curve
 * points indistinguishable from uniform random strings", 2013, §5).
 *
 * - {@link representativeToPublicKey} is the *direct* (forward) map the station runs on the first
 *   32 tag bytes: representative r → Montgomery u.
 * - {@link publicKeyToRepresentative} is the *inverse* map u → r; only about half of all u have
 *   one (those with −2u(u+A) a square).
 * - {@link scalarBaseMultWithRepresentative} reproduces the client side of the public TapDance
 *   client (`extra25519.ScalarBaseMult` of refraction-networking/ed25519) byte for byte: it knows
 *   the full point, so it picks between the two roots by the sign of the Montgomery v coordinate,
 *   and it always outputs the root r ≤ (p−1)/2. Bits 254 and 255 of a representative are
 *   therefore zero; callers randomise them (see `sealTag`).
 *
 * Any root (r or −r, either formula) maps back to the same u, so the station never needs to know
 * which choice the client made.
 *
 * Field arithmetic comes from @noble/curves (the ed25519 base field, p = 2^255 − 19). None of
 * this is constant time: bigint arithmetic leaks timing. The client runs it once per connection
 * on a fresh ephemeral key, the station on public wire bytes.
 *
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { abytes } from './bytes.js';

const Fp = ed25519.Point.Fp;
const P = Fp.ORDER;
/** Order of the prime-order subgroup of edwards25519. */
const L = ed25519.Point.CURVE().n;
/** Montgomery coefficient of Curve25519: v² = u³ + A·u² + u. */
const A = 486662n;
const HALF_P = (P - 1n) / 2n;
/** p ≡ 5 (mod 8): a square root candidate of x is x^((p+3)/8). */
const SQRT_EXP = (P + 3n) / 8n;
const SQRT_M1 = Fp.pow(2n, (P - 1n) / 4n);
/** The root of −(A+2) that is ≤ (p−1)/2; it scales Edwards x to Montgomery v (RFC 7748 §4.1). */
const SQRT_NEG_A_PLUS_2 = abs(mustSqrt(Fp.neg(A + 2n)));

function abs(x: bigint): bigint {
  return x > HALF_P ? P - x : x;
}

/** A square root of x, or null when x is not a square. */
function sqrt(x: bigint): bigint | null {
  const c = Fp.pow(x, SQRT_EXP);
  const c2 = Fp.sqr(c);
  if (c2 === x) return c;
  if (c2 === Fp.neg(x)) return Fp.mul(c, SQRT_M1);
  return null;
}

function mustSqrt(x: bigint): bigint {
  const r = sqrt(x);
  if (r === null) throw new Error('unreachable: constant has no square root');
  return r;
}

/**
 * Whether x (reduced, < p) is zero or a square mod p: the Jacobi symbol (x/p) by the binary
 * algorithm, about 5× faster on bigints than Euler's criterion x^((p−1)/2). Variable time; it
 * only ever sees public values (representatives on the wire, public keys).
 */
function isSquare(x: bigint): boolean {
  let a = x;
  let n = P;
  let t = 1;
  while (a !== 0n) {
    while ((a & 1n) === 0n) {
      a >>= 1n;
      const r = n & 7n;
      if (r === 3n || r === 5n) t = -t; // (2/n) = −1 iff n ≡ ±3 (mod 8)
    }
    [a, n] = [n, a]; // quadratic reciprocity
    if ((a & 3n) === 3n && (n & 3n) === 3n) t = -t;
    a %= n;
  }
  return n !== 1n || t === 1; // n ≠ 1 only when gcd > 1, i.e. x = 0
}

/**
 * The Elligator 2 direct map: representative → Curve25519 public key (Montgomery u).
 *
 * As ref10's field decoder does, bit 255 is ignored and values ≥ p are reduced; any other masking
 * (TapDance randomises bits 254 and 255) is the caller's job. Total: every 32-byte string maps to
 * some u, so the station can run it on arbitrary bytes.
 *
 * Steps (paper §5.2, with the non-square 2): v = −A / (1 + 2r²); e = χ(v³ + A·v² + v);
 * u = v if e ≠ −1, else −v − A. A zero denominator (1 + 2r² = 0) gives v = 0 like ref10's
 * inversion of zero.
 *
 * @param representative - 32 bytes, little endian
 * @returns the 32-byte little-endian u coordinate
 * @throws {@link InvalidArgumentError} when `representative` is not 32 bytes
 * @example
 * ```ts
 * const rep = tag.slice(0, 32); rep[31] &= 0x3f
 * const clientPublic = representativeToPublicKey(rep)
 * ```
 */
export function representativeToPublicKey(representative: Uint8Array): Uint8Array {
  abytes(representative, 'representative', 32);
  const r = Fp.create(bytesToNumberLE(representative) & ((1n << 255n) - 1n));
  const d = Fp.add(Fp.ONE, Fp.mul(2n, Fp.sqr(r)));
  const v = d === 0n ? 0n : Fp.neg(Fp.mul(A, Fp.inv(d)));
  const v2 = Fp.sqr(v);
  const gv = Fp.add(Fp.add(Fp.mul(v2, v), Fp.mul(A, v2)), v);
  const u = isSquare(gv) ? v : Fp.sub(Fp.neg(v), A);
  return numberToBytesLE(u, 32);
}

/**
 * The Elligator 2 inverse map for a Montgomery u coordinate: the representative r ≤ (p−1)/2 with
 * `representativeToPublicKey(r) = u`, or `null` when u has none.
 *
 * u has a representative iff u ≠ 0, u ≠ −A and −2u(u+A) is a square. Two roots exist,
 * r = √(−u / (2(u+A))) and r = √(−(u+A) / (2u)); with only u the point's v sign is unknown, so the
 * caller picks the branch (`vIsHigh` = v > (p−1)/2 selects the second, as extra25519 does).
 *
 * @param publicKey - 32-byte little-endian u (bit 255 ignored)
 * @param options - `vIsHigh`: choose the branch used for points whose v is > (p−1)/2
 * @returns 32-byte representative with bits 254 and 255 clear, or `null`
 * @throws {@link InvalidArgumentError} when `publicKey` is not 32 bytes
 */
export function publicKeyToRepresentative(
  publicKey: Uint8Array,
  options: { vIsHigh?: boolean } = {},
): Uint8Array | null {
  abytes(publicKey, 'publicKey', 32);
  const u = Fp.create(bytesToNumberLE(publicKey) & ((1n << 255n) - 1n));
  const r = inverseMap(u, options.vIsHigh === true);
  return r === null ? null : numberToBytesLE(r, 32);
}

function inverseMap(u: bigint, vIsHigh: boolean): bigint | null {
  const uPlusA = Fp.add(u, A);
  if (u === 0n || uPlusA === 0n) return null;
  if (!isSquare(Fp.mul(Fp.neg(2n), Fp.mul(u, uPlusA)))) return null;
  const ratio = vIsHigh
    ? Fp.div(Fp.neg(uPlusA), Fp.mul(2n, u)) // −(u+A) / 2u
    : Fp.div(Fp.neg(u), Fp.mul(2n, uPlusA)); // −u / 2(u+A)
  const r = sqrt(ratio);
  return r === null ? null : abs(r);
}

/**
 * X25519 public key of a private key together with its Elligator 2 representative, exactly as
 * `extra25519.ScalarBaseMult` computes them (the function the public TapDance client uses).
 *
 * The private key is clamped (RFC 7748), multiplied with the ed25519 base point, converted to
 * Montgomery form u = (1+y)/(1−y), v = √(−(A+2))·u/x, and the representative branch is chosen by
 * whether v ≤ (p−1)/2.
 *
 * @param privateKey - 32 random bytes
 * @returns `{ publicKey, representative }` (32 bytes each; `publicKey` equals X25519(priv, 9)),
 *   or `null` for the roughly half of keys whose public key has no representative
 * @throws {@link InvalidArgumentError} when `privateKey` is not 32 bytes
 */
export function scalarBaseMultWithRepresentative(
  privateKey: Uint8Array,
): { publicKey: Uint8Array; representative: Uint8Array } | null {
  abytes(privateKey, 'privateKey', 32);
  const clamped = Uint8Array.from(privateKey);
  clamped[0]! &= 248;
  clamped[31]! &= 127;
  clamped[31]! |= 64;
  // The base point has prime order L, so k·B = (k mod L)·B.
  const k = bytesToNumberLE(clamped) % L;
  if (k === 0n) return null;
  const { x, y } = ed25519.Point.BASE.multiply(k).toAffine();
  const u = Fp.div(Fp.add(Fp.ONE, y), Fp.sub(Fp.ONE, y));
  const v = Fp.mul(SQRT_NEG_A_PLUS_2, Fp.div(u, x));
  const r = inverseMap(u, v > HALF_P);
  if (r === null) return null;
  return { publicKey: numberToBytesLE(u, 32), representative: numberToBytesLE(r, 32) };
}
