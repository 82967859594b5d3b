/**
 * The TapDance tag: what the client hides in its first application-data record so that the
 * station can recognise the connection and learn its TLS secrets.
 *
 * Layout (reference: gotapdance `conn_raw.go` and `utils.go`; see SPEC.md "Tag"):
 *
 * ```
 * payload (132) = flags(1) variant(1) cipher_suite(2, BE) master_secret(48)
 *                 server_random(32) client_random(32) connection_id(16)
 * K             = SHA-256(X25519(client_ephemeral_private, station_public))
 * tag (180)     = representative(32, top bits randomised) || AES-128-GCM(K[0:16], K[16:28], payload)
 * ```
 *
 * The variant byte was unassigned (0x00) in the public protocol; 0x00 still means TLS 1.2. Variant
 * 0x13 (TLS 1.3, SPEC.md "TLS 1.3 tag") keeps the length and every offset and packs into the same
 * 112 bytes the client and server application traffic secrets, both sequence numbers and 8 fit
 * bytes ({@link encodeTls13Secrets}); {@link fitTag13} varies the fit bytes so that the tag ends in
 * the 6 bits the TLS 1.3 record's encrypted content type will carry. Variant 0x12 packs a TLS 1.2
 * key block and both sequence numbers the same way ({@link encodeTls12Keys}).
 *
 * The station reverses it with {@link openTag}: clear the randomised bits, Elligator 2 direct map,
 * X25519 with each station secret key, SHA-256, GCM open. Embedding the tag into ciphertext
 * (stego) and finding it in a record are separate modules (`stego.ts`, `protocol/tag-reader.ts`).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { aesGcmOpen, aesGcmSeal, GCM_TAG_LENGTH } from './aead.js';
import { abytes, u8 } from './bytes.js';
import { representativeToPublicKey } from './elligator2.js';
import { CryptoError } from './errors.js';
import { generateTaggingKey, systemRandom, type RandomSource, type TaggingKey } from './keys.js';
import { x25519, x25519OrNull } from './x25519.js';
import { InvalidArgumentError } from '../errors.js';

/** Length of the plaintext tag payload. */
export const TAG_PAYLOAD_LENGTH = 132;
/** Length of the Elligator 2 representative at the start of a tag. */
export const REPRESENTATIVE_LENGTH = 32;
/** Length of a current tag: representative + sealed payload (32 + 132 + 16). */
export const TAG_LENGTH = REPRESENTATIVE_LENGTH + TAG_PAYLOAD_LENGTH + GCM_TAG_LENGTH;

/** Flag bit: upload-only flow (legacy split flows). */
export const TAG_FLAG_UPLOAD_ONLY = 0x80;
/** Flag bit: the station prepends a PROXY-protocol line to the covert stream. */
export const TAG_FLAG_PROXY_HEADER = 0x02;
/** Flag bit: use the type-length framing inside TLS. The public client always sets it. */
export const TAG_FLAG_USE_TIL = 0x01;
/** Flags the public client sends by default. */
export const DEFAULT_TAG_FLAGS = TAG_FLAG_USE_TIL;

/** Payload byte 1: the public TLS 1.2 layout (master secret and randoms). */
export const TAG_VARIANT_TLS12 = 0x00;
/** Payload byte 1: the TLS 1.3 layout (application traffic secrets and sequence numbers). */
export const TAG_VARIANT_TLS13 = 0x13;
/**
 * Payload byte 1: TLS 1.2 with the key block and sequence numbers instead of the master secret
 * and randoms, for flows whose tag is not the first record (HTTP/2 decoys over TLS 1.2).
 */
export const TAG_VARIANT_TLS12_KEYS = 0x12;

/** Default mask of representative bits the client randomises (bits 254, 255: the current client). */
export const DEFAULT_TOP_BITS_MASK = 0xc0;
/** Default mask the station applies to representative byte 31 before decoding (Conjure's). */
export const DEFAULT_REPRESENTATIVE_MASK = 0x3f;

/** The decoded 132-byte tag payload. */
export interface TagPayload {
  /** Flag bits (`TAG_FLAG_*`). */
  flags: number;
  /**
   * Payload byte 1 when encoding: {@link TAG_VARIANT_TLS12} (0x00, the default) or
   * {@link TAG_VARIANT_TLS13}, for which the next three fields are the packed secrets of
   * {@link encodeTls13Secrets}, not a master secret and randoms. {@link decodeTagPayload} leaves
   * it out ({@link tagPayloadVariant} reads it).
   */
  variant?: number;
  /** Negotiated TLS cipher suite, e.g. `0xc02f`. */
  cipherSuite: number;
  /** 48-byte TLS master secret. */
  masterSecret: Uint8Array;
  /** 32-byte ServerHello.random. */
  serverRandom: Uint8Array;
  /** 32-byte ClientHello.random. */
  clientRandom: Uint8Array;
  /** 16-byte session id the station keys sessions by; reused across reconnects. */
  connectionId: Uint8Array;
}

/** Keys derived from the X25519 shared secret of a tag. */
export interface TagKey {
  /** K = SHA-256(shared secret), 32 bytes; the station hands it to whoever decrypts X-Proto. */
  material: Uint8Array;
  /** K[0:16]: AES-128-GCM key for the payload and for X-Proto. */
  aesKey: Uint8Array;
  /** K[16:28]: the GCM nonce of the tag payload (X-Proto uses a fresh random nonce). */
  iv: Uint8Array;
}

/**
 * Serialize a tag payload into its 132 bytes.
 *
 * @param payload - the fields
 * @returns 132 bytes
 * @throws {@link InvalidArgumentError} for out-of-range numbers or wrong field sizes
 */
export function encodeTagPayload(payload: TagPayload): Uint8Array {
  const { flags, cipherSuite } = payload;
  const variant = payload.variant ?? TAG_VARIANT_TLS12;
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff) {
    throw new InvalidArgumentError(`"flags" expected integer 0..255, got ${flags}`);
  }
  if (!Number.isInteger(variant) || variant < 0 || variant > 0xff) {
    throw new InvalidArgumentError(`"variant" expected integer 0..255, got ${variant}`);
  }
  if (!Number.isInteger(cipherSuite) || cipherSuite < 0 || cipherSuite > 0xffff) {
    throw new InvalidArgumentError(`"cipherSuite" expected integer 0..65535, got ${cipherSuite}`);
  }
  const out = new Uint8Array(TAG_PAYLOAD_LENGTH);
  out[0] = flags;
  out[1] = variant;
  out[2] = cipherSuite >> 8;
  out[3] = cipherSuite & 0xff;
  out.set(abytes(payload.masterSecret, 'masterSecret', 48), 4);
  out.set(abytes(payload.serverRandom, 'serverRandom', 32), 52);
  out.set(abytes(payload.clientRandom, 'clientRandom', 32), 84);
  out.set(abytes(payload.connectionId, 'connectionId', 16), 116);
  return out;
}

/**
 * Parse a 132-byte tag payload. Byte 1, the variant, is not part of the result (read it with
 * {@link tagPayloadVariant}); the suite already tells TLS 1.3 payloads apart.
 *
 * @param bytes - the decrypted payload
 * @returns the fields (copies, not views)
 * @throws {@link CryptoError} `ERR_TAG_PAYLOAD` when the length is not 132
 */
export function decodeTagPayload(bytes: Uint8Array): TagPayload {
  abytes(bytes, 'bytes');
  if (bytes.length !== TAG_PAYLOAD_LENGTH) {
    throw new CryptoError('ERR_TAG_PAYLOAD', `tag payload must be ${TAG_PAYLOAD_LENGTH} bytes, got ${bytes.length}`, {
      context: { length: bytes.length },
    });
  }
  return {
    flags: bytes[0]!,
    cipherSuite: (bytes[2]! << 8) | bytes[3]!,
    masterSecret: bytes.slice(4, 52),
    serverRandom: bytes.slice(52, 84),
    clientRandom: bytes.slice(84, 116),
    connectionId: bytes.slice(116, 132),
  };
}

/**
 * The variant byte of a raw payload: {@link TAG_VARIANT_TLS12} or {@link TAG_VARIANT_TLS13}
 * (other values are unassigned).
 *
 * @param bytes - the decrypted payload (132 bytes)
 * @returns byte 1
 * @throws {@link CryptoError} `ERR_TAG_PAYLOAD` when the length is not 132
 */
export function tagPayloadVariant(bytes: Uint8Array): number {
  abytes(bytes, 'bytes');
  if (bytes.length !== TAG_PAYLOAD_LENGTH) {
    throw new CryptoError('ERR_TAG_PAYLOAD', `tag payload must be ${TAG_PAYLOAD_LENGTH} bytes, got ${bytes.length}`, { context: { length: bytes.length } });
  }
  return bytes[1]!;
}

/**
 * Derive the tag keys from an X25519 shared secret: K = SHA-256(shared), key K[0:16], IV K[16:28].
 *
 * @param sharedSecret - 32-byte X25519 output
 * @returns the {@link TagKey}
 * @throws {@link InvalidArgumentError} when `sharedSecret` is not 32 bytes
 */
export function deriveTagKey(sharedSecret: Uint8Array): TagKey {
  abytes(sharedSecret, 'sharedSecret', 32);
  return tagKeyFromMaterial(u8(createHash('sha256').update(sharedSecret).digest()));
}

/**
 * Rebuild a {@link TagKey} from K (e.g. handed over by the native station).
 *
 * @param material - K = SHA-256(shared secret), 32 bytes
 * @returns the {@link TagKey} (views into `material`)
 * @throws {@link InvalidArgumentError} when `material` is not 32 bytes
 */
export function tagKeyFromMaterial(material: Uint8Array): TagKey {
  abytes(material, 'material', 32);
  return { material, aesKey: material.subarray(0, 16), iv: material.subarray(16, 28) };
}

/** Options of {@link sealTag}. */
export interface SealTagOptions {
  /**
   * Representative bits (of byte 31) to fill with random bits. Only bits of `0xc0` are allowed.
   * `0xc0` (default) is the current public client; `0x80` is the 2018–2023 client and also safe
   * against stations that clear only the top bit; `0` leaves them zero.
   */
  topBitsMask?: number;
  /** Random source for the ephemeral key and the top bits (default: system CSPRNG). */
  random?: RandomSource;
  /** Use this ephemeral key instead of generating one (tests, vectors). */
  taggingKey?: TaggingKey;
}

/**
 * Seal a tag payload for a station: a fresh tagging key, X25519 with the station's public key,
 * AES-128-GCM of the payload, and the representative with its top bits randomised.
 *
 * @param stationPublicKey - the station's 32-byte X25519 public key
 * @param payload - the payload, as fields or as bytes (normally the 132 bytes)
 * @param options - see {@link SealTagOptions}
 * @returns `tag` (32 + payload + 16 bytes; 180 for a normal payload) and the derived `key`,
 *   which also encrypts X-Proto
 * @throws {@link InvalidArgumentError} for a wrong key size or a mask outside `0xc0`
 * @throws {@link CryptoError} `ERR_CRYPTO_INVALID_KEY` when the station key is a low-order point
 * @example
 * ```ts
 * const { tag, key } = sealTag(stationPublicKey, encodeTagPayload(fields))
 * ```
 */
export function sealTag(
  stationPublicKey: Uint8Array,
  payload: Uint8Array | TagPayload,
  options: SealTagOptions = {},
): { tag: Uint8Array; key: TagKey } {
  abytes(stationPublicKey, 'stationPublicKey', 32);
  const mask = options.topBitsMask ?? DEFAULT_TOP_BITS_MASK;
  if (!Number.isInteger(mask) || (mask & ~0xc0) !== 0) {
    throw new InvalidArgumentError(`"topBitsMask" expected a subset of 0xc0, got ${mask}`);
  }
  const plaintext = payload instanceof Uint8Array ? payload : encodeTagPayload(payload);
  const random = options.random ?? systemRandom;
  const ephemeral = options.taggingKey ?? generateTaggingKey(random);
  const key = deriveTagKey(x25519(ephemeral.privateKey, stationPublicKey));
  const sealed = aesGcmSeal(key.aesKey, key.iv, plaintext);
  const tag = new Uint8Array(REPRESENTATIVE_LENGTH + sealed.length);
  tag.set(abytes(ephemeral.representative, 'representative', 32), 0);
  if (mask !== 0) tag[31]! |= mask & random(1)[0]!;
  tag.set(sealed, REPRESENTATIVE_LENGTH);
  return { tag, key };
}

/** Options of {@link openTag}. */
export interface OpenTagOptions {
  /**
   * Mask applied to representative byte 31 before decoding. `0x3f` (default) clears both
   * randomised bits; `0x7f` is what the 2018 TapDance station did (it only understands clients
   * that randomise bit 255 alone).
   */
  representativeMask?: number;
}

/** A successfully opened tag. */
export interface OpenedTag {
  /** The decrypted payload (132 bytes for the current layout). */
  payload: Uint8Array;
  /** The tag keys; `key.aesKey` also decrypts X-Proto. */
  key: TagKey;
  /** Index into the station key list of the key that opened the tag. */
  keyIndex: number;
}

/**
 * Try to open a tag with each station secret key in turn.
 *
 * Total on its input bytes: any byte string (too short, random, tampered) gives `null`, never an
 * exception, so it can run on every candidate record the station sees.
 *
 * @param tag - representative (32) followed by the sealed payload; any length
 * @param stationSecretKeys - 32-byte station secret keys, tried in order
 * @param options - see {@link OpenTagOptions}
 * @returns the payload, key and key index, or `null` when no key opens the tag
 * @throws {@link InvalidArgumentError} only for wrongly typed arguments (a key that is not
 *   32 bytes, a mask outside 0..255)
 * @example
 * ```ts
 * const opened = openTag(tag, [station.secretKey])
 * if (opened) console.log(decodeTagPayload(opened.payload).connectionId)
 * ```
 */
export function openTag(
  tag: Uint8Array,
  stationSecretKeys: readonly Uint8Array[],
  options: OpenTagOptions = {},
): OpenedTag | null {
  abytes(tag, 'tag');
  stationSecretKeys.forEach((k, i) => abytes(k, `stationSecretKeys[${i}]`, 32));
  const mask = options.representativeMask ?? DEFAULT_REPRESENTATIVE_MASK;
  if (!Number.isInteger(mask) || mask < 0 || mask > 0xff) {
    throw new InvalidArgumentError(`"representativeMask" expected integer 0..255, got ${mask}`);
  }
  if (tag.length < REPRESENTATIVE_LENGTH + GCM_TAG_LENGTH) return null;
  const representative = tag.slice(0, REPRESENTATIVE_LENGTH);
  representative[31]! &= mask;
  const clientPublic = representativeToPublicKey(representative);
  const sealed = tag.subarray(REPRESENTATIVE_LENGTH);
  for (let i = 0; i < stationSecretKeys.length; i++) {
    const shared = x25519OrNull(stationSecretKeys[i]!, clientPublic);
    if (shared === null) continue;
    const key = deriveTagKey(shared);
    const payload = aesGcmOpen(key.aesKey, key.iv, sealed);
    if (payload !== null) return { payload, key, keyIndex: i };
  }
  return null;
}

/** The TLS 1.3 session state a variant-0x13 tag carries (SPEC.md "TLS 1.3 tag"). */
export interface Tls13TagSecrets {
  /** TLS 1.3 suite: 0x1301, 0x1302 or 0x1303. */
  suite: number;
  /** The client's current application traffic secret (32 bytes, 48 for 0x1302). */
  clientSecret: Uint8Array;
  /** The server's current application traffic secret. */
  serverSecret: Uint8Array;
  /** Sequence number of the tagged record under `clientSecret`. */
  clientSequence: number;
  /** Records the client received under `serverSecret` before tagging: the station writes from here. */
  serverSequence: number;
  /** 8 free bytes {@link fitTag13} varies (zeros when encoding; any value when decoding). */
  fit?: Uint8Array;
}

const TLS13_HASH_LENGTH = new Map([[0x1301, 32], [0x1302, 48], [0x1303, 32]]);
/** Offsets inside the 112 bytes that follow the suite (payload offset − 4). */
const T13 = { client: 0, server: 48, clientSeq: 96, serverSeq: 100, fit: 104, end: 112 } as const;
/** Payload offset of the 8 fit bytes. */
const FIT_OFFSET = 4 + T13.fit;

/**
 * Pack TLS 1.3 secrets into the three TagPayload fields of the TLS 1.2 layout: each secret
 * left-aligned in 48 bytes (zero-filled for SHA-256 suites), then the client and server sequence
 * numbers (u32, big-endian) and 8 fit bytes.
 *
 * @param s - the secrets
 * @returns `masterSecret` (48), `serverRandom` (32), `clientRandom` (32) to put in a TagPayload with
 *   `variant: TAG_VARIANT_TLS13` and `cipherSuite: s.suite`
 * @throws {@link InvalidArgumentError} for an unknown suite, secrets of the wrong length or
 *   sequence numbers outside 0..2^32 − 1
 */
export function encodeTls13Secrets(s: Tls13TagSecrets): { masterSecret: Uint8Array; serverRandom: Uint8Array; clientRandom: Uint8Array } {
  const h = TLS13_HASH_LENGTH.get(s.suite);
  if (h === undefined) throw new InvalidArgumentError(`"suite" expected a TLS 1.3 suite, got 0x${s.suite.toString(16)}`);
  for (const [name, v] of [['clientSequence', s.clientSequence], ['serverSequence', s.serverSequence]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new InvalidArgumentError(`"${name}" expected 0..2^32-1, got ${v}`);
  }
  const r = new Uint8Array(T13.end);
  r.set(abytes(s.clientSecret, 'clientSecret', h), T13.client);
  r.set(abytes(s.serverSecret, 'serverSecret', h), T13.server);
  const view = new DataView(r.buffer);
  view.setUint32(T13.clientSeq, s.clientSequence);
  view.setUint32(T13.serverSeq, s.serverSequence);
  if (s.fit !== undefined) r.set(abytes(s.fit, 'fit', 8), T13.fit);
  return { masterSecret: r.slice(0, 48), serverRandom: r.slice(48, 80), clientRandom: r.slice(80, 112) };
}

/**
 * Unpack the TLS 1.3 secrets of a variant-0x13 payload.
 *
 * @param p - suite and the three packed fields (as {@link decodeTagPayload} returns them)
 * @returns the secrets
 * @throws {@link CryptoError} `ERR_TAG_PAYLOAD` for a suite that is not TLS 1.3 or a secret whose
 *   zero fill is not zero
 */
export function decodeTls13Secrets(p: Pick<TagPayload, 'cipherSuite' | 'masterSecret' | 'serverRandom' | 'clientRandom'>): Tls13TagSecrets {
  const h = TLS13_HASH_LENGTH.get(p.cipherSuite);
  if (h === undefined) {
    throw new CryptoError('ERR_TAG_PAYLOAD', `TLS 1.3 tag with suite 0x${p.cipherSuite.toString(16)}`, { context: { suite: p.cipherSuite } });
  }
  const r = new Uint8Array(T13.end);
  r.set(abytes(p.masterSecret, 'masterSecret', 48), 0);
  r.set(abytes(p.serverRandom, 'serverRandom', 32), 48);
  r.set(abytes(p.clientRandom, 'clientRandom', 32), 80);
  const zeroFill = [...r.subarray(T13.client + h, T13.server), ...r.subarray(T13.server + h, T13.clientSeq)];
  if (zeroFill.some((b) => b !== 0)) throw new CryptoError('ERR_TAG_PAYLOAD', 'TLS 1.3 tag secrets are not zero-filled');
  const view = new DataView(r.buffer);
  return {
    suite: p.cipherSuite,
    clientSecret: r.slice(T13.client, T13.client + h),
    serverSecret: r.slice(T13.server, T13.server + h),
    clientSequence: view.getUint32(T13.clientSeq),
    serverSequence: view.getUint32(T13.serverSeq),
    fit: r.slice(T13.fit, T13.end),
  };
}

/** Attempts before {@link fitTag13} gives up: (63/64)^4096 < 10^-28. */
const MAX_FIT_ATTEMPTS = 4096;

/**
 * Make a TLS 1.3 tag end in chosen bits. In a TLS 1.3 record the byte after the content is the
 * encrypted content type, which the client cannot choose; the station still reads 240 stego bytes
 * ending at the AEAD tag, so that byte is the last stego byte, and its low 6 bits are
 * `(0x17 XOR keystream)`. This reseals the payload under the same key with fresh fit bytes until
 * the tag's last 6 bits equal them (64 tries on average, each one AES-GCM of 132 bytes). Only the
 * final ciphertext is ever sent, so reusing the key and nonce across tries exposes nothing.
 *
 * @param tag - a sealed tag (its representative is kept)
 * @param key - the tag's key (from {@link sealTag})
 * @param payload - the 132-byte variant-0x13 payload that was sealed
 * @param lastSixBits - the wanted value of `tag[tag.length − 1] & 0x3f`
 * @param random - random source for the fit bytes
 * @returns the new tag and the payload it seals
 * @throws {@link InvalidArgumentError} for a payload that is not variant 0x13 or bits above 63
 * @throws {@link CryptoError} `ERR_TAG_PAYLOAD` if no fit was found (practically never)
 */
export function fitTag13(tag: Uint8Array, key: TagKey, payload: Uint8Array, lastSixBits: number,
  random: RandomSource = systemRandom): { tag: Uint8Array; payload: Uint8Array } {
  abytes(payload, 'payload', TAG_PAYLOAD_LENGTH);
  if (payload[1] !== TAG_VARIANT_TLS13) throw new InvalidArgumentError('"payload" expected a TLS 1.3 (variant 0x13) payload');
  if (!Number.isInteger(lastSixBits) || lastSixBits < 0 || lastSixBits > 0x3f) {
    throw new InvalidArgumentError(`"lastSixBits" expected 0..63, got ${lastSixBits}`);
  }
  const p = payload.slice();
  for (let i = 0; i < MAX_FIT_ATTEMPTS; i++) {
    p.set(random(8), FIT_OFFSET);
    const sealed = aesGcmSeal(key.aesKey, key.iv, p);
    if ((sealed[sealed.length - 1]! & 0x3f) === lastSixBits) {
      const out = new Uint8Array(REPRESENTATIVE_LENGTH + sealed.length);
      out.set(tag.subarray(0, REPRESENTATIVE_LENGTH), 0);
      out.set(sealed, REPRESENTATIVE_LENGTH);
      return { tag: out, payload: p };
    }
  }
  throw new CryptoError('ERR_TAG_PAYLOAD', `no tag fit found in ${MAX_FIT_ATTEMPTS} attempts`);
}

/** A TLS 1.2 session as a variant-0x12 tag carries it (SPEC.md §18). */
export interface Tls12TagKeys {
  /** TLS 1.2 AEAD suite. */
  suite: number;
  /** client_write_key (16 or 32 bytes). */
  clientKey: Uint8Array;
  /** server_write_key. */
  serverKey: Uint8Array;
  /** client_write_IV (4 bytes for AES-GCM, 12 for ChaCha20). */
  clientIv: Uint8Array;
  /** server_write_IV. */
  serverIv: Uint8Array;
  /** Sequence number of the tagged record. */
  clientSequence: number;
  /** Sequence number of the next record the server sends: the station writes from here. */
  serverSequence: number;
}

/** Offsets inside the 112 packed bytes (payload offset − 4). */
const K12 = { clientKey: 0, serverKey: 32, clientIv: 64, serverIv: 76, clientSeq: 88, serverSeq: 92, end: 112 } as const;

/**
 * Pack a TLS 1.2 key block and sequence numbers into the three TagPayload fields: each key
 * left-aligned in 32 bytes, each IV in 12, zero-filled, then the client and server sequence
 * numbers (u32, big-endian); the last 16 bytes are zero.
 *
 * @param k - keys, IVs and sequence numbers
 * @returns `masterSecret`, `serverRandom`, `clientRandom` for a TagPayload with
 *   `variant: TAG_VARIANT_TLS12_KEYS`
 * @throws {@link InvalidArgumentError} for keys or IVs of impossible lengths or sequence numbers
 *   outside 0..2^32 − 1
 */
export function encodeTls12Keys(k: Tls12TagKeys): { masterSecret: Uint8Array; serverRandom: Uint8Array; clientRandom: Uint8Array } {
  const r = new Uint8Array(K12.end);
  for (const [name, v, max, at] of [['clientKey', k.clientKey, 32, K12.clientKey], ['serverKey', k.serverKey, 32, K12.serverKey],
    ['clientIv', k.clientIv, 12, K12.clientIv], ['serverIv', k.serverIv, 12, K12.serverIv]] as const) {
    abytes(v, name);
    if (v.length === 0 || v.length > max) throw new InvalidArgumentError(`"${name}" expected 1..${max} bytes, got ${v.length}`);
    r.set(v, at);
  }
  for (const [name, v] of [['clientSequence', k.clientSequence], ['serverSequence', k.serverSequence]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new InvalidArgumentError(`"${name}" expected 0..2^32-1, got ${v}`);
  }
  const view = new DataView(r.buffer);
  view.setUint32(K12.clientSeq, k.clientSequence);
  view.setUint32(K12.serverSeq, k.serverSequence);
  return { masterSecret: r.slice(0, 48), serverRandom: r.slice(48, 80), clientRandom: r.slice(80, 112) };
}

/**
 * Unpack a variant-0x12 payload, given the lengths its suite uses.
 *
 * @param p - the three packed fields
 * @param keyLength - the suite's key length
 * @param ivLength - the suite's fixed IV length
 * @returns keys, IVs and sequence numbers (`suite` is taken from `p`)
 */
export function decodeTls12Keys(p: Pick<TagPayload, 'cipherSuite' | 'masterSecret' | 'serverRandom' | 'clientRandom'>, keyLength: number,
  ivLength: number): Tls12TagKeys {
  const r = new Uint8Array(K12.end);
  r.set(abytes(p.masterSecret, 'masterSecret', 48), 0);
  r.set(abytes(p.serverRandom, 'serverRandom', 32), 48);
  r.set(abytes(p.clientRandom, 'clientRandom', 32), 80);
  const view = new DataView(r.buffer);
  return {
    suite: p.cipherSuite,
    clientKey: r.slice(K12.clientKey, K12.clientKey + keyLength),
    serverKey: r.slice(K12.serverKey, K12.serverKey + keyLength),
    clientIv: r.slice(K12.clientIv, K12.clientIv + ivLength),
    serverIv: r.slice(K12.serverIv, K12.serverIv + ivLength),
    clientSequence: view.getUint32(K12.clientSeq),
    serverSequence: view.getUint32(K12.serverSeq),
  };
}
