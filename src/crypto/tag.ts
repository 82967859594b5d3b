/**
 * The TapDance tag: what the client hides in its first application-data record so that the
 * station can recognise the connection and learn its TLS secrets.
 *
 * Layout (reference: gotapdance `conn_raw.go` and `utils.go`; see SPEC.md "Tag"):
 *
 * ```
 * payload (132) = flags(1) 0x00(1) cipher_suite(2, BE) master_secret(48)
 *                 server_random(32) client_random(32) connection_id(16)
 * K             = SHA-256(X25519(client_ephemeral_private, station_public))
 * tag (180)     = representative(32, top bits randomised) || AES-128-GCM(K[0:16], K[16:28], payload)
 * ```
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

/** Default mask of representative bits the client randomises (bits 254, 255: the current client). */
export const DEFAULT_TOP_BITS_MASK = 0xc0;
/** Default mask the station applies to representative byte 31 before decoding (Conjure's). */
export const DEFAULT_REPRESENTATIVE_MASK = 0x3f;

/** The decoded 132-byte tag payload. */
export interface TagPayload {
  /** Flag bits (`TAG_FLAG_*`). */
  flags: number;
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
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff) {
    throw new InvalidArgumentError(`"flags" expected integer 0..255, got ${flags}`);
  }
  if (!Number.isInteger(cipherSuite) || cipherSuite < 0 || cipherSuite > 0xffff) {
    throw new InvalidArgumentError(`"cipherSuite" expected integer 0..65535, got ${cipherSuite}`);
  }
  const out = new Uint8Array(TAG_PAYLOAD_LENGTH);
  out[0] = flags;
  out[1] = 0; // unassigned
  out[2] = cipherSuite >> 8;
  out[3] = cipherSuite & 0xff;
  out.set(abytes(payload.masterSecret, 'masterSecret', 48), 4);
  out.set(abytes(payload.serverRandom, 'serverRandom', 32), 52);
  out.set(abytes(payload.clientRandom, 'clientRandom', 32), 84);
  out.set(abytes(payload.connectionId, 'connectionId', 16), 116);
  return out;
}

/**
 * Parse a 132-byte tag payload. The unassigned byte 1 is ignored, so later clients may use it.
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
