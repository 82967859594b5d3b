/**
 * Station side, in TypeScript: find and open the tag in a client's first application-data record,
 * then read the X-Proto header from the record's plaintext. This is the reference (and the
 * fallback) for the native fast path in `station-native/`.
 *
 * Where the tag sits (SPEC.md "Where the station looks"): the record must be exactly one TLS
 * application-data record (a TCP payload that is one whole record); the stego bytes are the last
 * `tagLength / 3 * 4` plaintext bytes, so their ciphertext ends just before the 16-byte AEAD tag.
 * For the current layout that is the 240 bytes at `body.length − 256` of the record body, decoding
 * to 180 tag bytes. The offset is measured from the end, so the explicit nonce does not matter.
 *
 * TLS 1.3 tags (variant 0x13) sit at the same place; their payload carries the application
 * traffic secrets and sequence numbers, and {@link continueTaggedSession} continues either kind of
 * session (the native station's takeover path uses it through `station/flow-tls.ts`). X-Proto is
 * found in an HTTP/1.1 request or in the HPACK block of an HTTP/2 HEADERS frame.
 *
 * Every function here is total on arbitrary bytes: no tag, a damaged tag, a record that does not
 * decrypt, a missing or broken X-Proto all give `null` (or a `null` field), never an exception.
 * Only mistyped arguments (a station key that is not 32 bytes) throw; {@link continueTaggedSession}
 * throws typed errors by design (its callers want the reason).
 *
 * @module
 */
import { abytes } from '../crypto/bytes.js';
import { stegoDecode } from '../crypto/stego.js';
import {
  DEFAULT_REPRESENTATIVE_MASK,
  decodeTagPayload,
  decodeTls12Keys,
  decodeTls13Secrets,
  openTag,
  tagPayloadVariant,
  TAG_LENGTH,
  TAG_PAYLOAD_LENGTH,
  TAG_VARIANT_TLS12,
  TAG_VARIANT_TLS12_KEYS,
  TAG_VARIANT_TLS13,
  type TagKey,
  type TagPayload,
} from '../crypto/tag.js';
import { GCM_TAG_LENGTH } from '../crypto/aead.js';
import { InvalidArgumentError } from '../errors.js';
import { createSessionFromSecrets, RecordProtection, type SessionFromSecrets } from '../tls/record-layer.js';
import { createTls13SessionFromSecrets, type Tls13SessionFromSecrets } from '../tls/record-layer13.js';
import { cipherSuite, tls13CipherSuite } from '../tls/cipher-suites.js';
import { TlsError } from '../tls/errors.js';
import { ContentType } from '../tls/wire.js';
import { CryptoError } from '../crypto/errors.js';
import { findH2XProtoValue } from './h2-request.js';
import { decodeClientToStation, type ClientToStation } from './messages.js';
import { findXProtoValue, openXProto } from './xproto.js';

/** TLS record header length. */
const RECORD_HEADER = 5;
/** TLS content type application_data. */
const APPLICATION_DATA = 0x17;

/** Where a tag sits in a record and how its representative is masked. */
export interface TagLayout {
  /** Tag bytes carried (a multiple of 3). */
  readonly tagLength: number;
  /** Record body bytes after the stego ciphertext (the AEAD tag). */
  readonly trailerLength: number;
  /** Mask applied to representative byte 31 before decoding. */
  readonly representativeMask: number;
}

/** The current layout: 180-byte tag (132-byte payload), stego at body end − 256, mask 0x3f. */
export const CURRENT_TAG_LAYOUT: TagLayout = Object.freeze({
  tagLength: TAG_LENGTH,
  trailerLength: GCM_TAG_LENGTH,
  representativeMask: DEFAULT_REPRESENTATIVE_MASK,
});

/**
 * The pre-2018 layout of the public station test vector: 186-byte tag (plaintext = 2-byte length +
 * 136-byte payload), stego at body end − 264, mask 0x7f.
 */
export const LEGACY_TAG_LAYOUT: TagLayout = Object.freeze({
  tagLength: 186,
  trailerLength: GCM_TAG_LENGTH,
  representativeMask: 0x7f,
});

function checkLayout(layout: TagLayout): void {
  const ok =
    Number.isInteger(layout.tagLength) && layout.tagLength > 0 && layout.tagLength % 3 === 0 &&
    Number.isInteger(layout.trailerLength) && layout.trailerLength >= 0 &&
    Number.isInteger(layout.representativeMask) && layout.representativeMask >= 0 && layout.representativeMask <= 0xff;
  if (!ok) throw new InvalidArgumentError('"layout" expected tagLength multiple of 3, trailerLength ≥ 0, mask 0..255');
}

/**
 * Pull the stego-encoded tag bytes out of one whole TLS application-data record.
 *
 * @param record - header (5 bytes) + body; its length field must match exactly
 * @param layout - tag layout (default {@link CURRENT_TAG_LAYOUT})
 * @returns the tag bytes (unauthenticated), or `null` when the bytes are not one application-data
 *   record long enough to carry a tag
 */
export function extractTag(record: Uint8Array, layout: TagLayout = CURRENT_TAG_LAYOUT): Uint8Array | null {
  abytes(record, 'record');
  checkLayout(layout);
  if (record.length < RECORD_HEADER || record[0] !== APPLICATION_DATA || record[1] !== 0x03) return null;
  const bodyLength = (record[3]! << 8) | record[4]!;
  if (bodyLength !== record.length - RECORD_HEADER) return null;
  const stegoLength = (layout.tagLength / 3) * 4;
  const end = record.length - layout.trailerLength;
  const start = end - stegoLength;
  if (start < RECORD_HEADER) return null;
  return stegoDecode(record.subarray(start, end));
}

/** A tag found in a record. */
export interface FoundTag {
  /** Decrypted tag plaintext (132 bytes in the current layout). */
  rawPayload: Uint8Array;
  /** The parsed payload, or `null` when `rawPayload` is not the 132-byte layout. */
  payload: TagPayload | null;
  /** Keys derived from the tag; `key.aesKey` decrypts X-Proto. */
  key: TagKey;
  /** Which station key opened it. */
  keyIndex: number;
}

/**
 * Find and open the tag of a record with any of the station's secret keys.
 *
 * @param record - one whole TLS record
 * @param stationSecretKeys - 32-byte station secret keys
 * @param options - `layout` (default {@link CURRENT_TAG_LAYOUT})
 * @returns the tag, or `null` when there is none
 * @throws {@link InvalidArgumentError} only for mistyped arguments
 * @example
 * ```ts
 * const found = readTag(firstAppDataSegment, [stationSecret])
 * if (found?.payload) console.log(found.payload.cipherSuite.toString(16))
 * ```
 */
export function readTag(
  record: Uint8Array,
  stationSecretKeys: readonly Uint8Array[],
  options: { layout?: TagLayout } = {},
): FoundTag | null {
  const layout = options.layout ?? CURRENT_TAG_LAYOUT;
  const tag = extractTag(record, layout);
  stationSecretKeys.forEach((k, i) => abytes(k, `stationSecretKeys[${i}]`, 32));
  if (tag === null) return null;
  const opened = openTag(tag, stationSecretKeys, { representativeMask: layout.representativeMask });
  if (opened === null) return null;
  const payload = opened.payload.length === TAG_PAYLOAD_LENGTH ? decodeTagPayload(opened.payload) : null;
  return { rawPayload: opened.payload, payload, key: opened.key, keyIndex: opened.keyIndex };
}

/** An X-Proto header read from a request. */
export interface FoundXProto {
  /** The header value (base64). */
  value: string;
  /** The decrypted ClientToStation bytes. */
  bytes: Uint8Array;
  /** The decoded message. */
  message: ClientToStation;
}

/**
 * Find, decrypt and decode the X-Proto header of a tagged request's plaintext (an HTTP/1.1
 * `X-Proto:` line, or the `x-proto` field of an HTTP/2 HEADERS frame).
 *
 * @param plaintext - the decrypted record
 * @param aesKey - the tag's AES key
 * @returns the header, or `null` when it is absent, not base64, fails authentication or does not
 *   decode
 */
export function readXProto(plaintext: Uint8Array, aesKey: Uint8Array): FoundXProto | null {
  abytes(plaintext, 'plaintext');
  abytes(aesKey, 'aesKey', 16, 32);
  const value = findXProtoValue(plaintext) ?? findH2XProtoValue(plaintext);
  if (value === null) return null;
  try {
    const bytes = openXProto(value, aesKey);
    return { value, bytes, message: decodeClientToStation(bytes) };
  } catch {
    return null;
  }
}

/** The server side of a taken-over session, TLS 1.2 or 1.3. */
export type StationTlsSession = Pick<SessionFromSecrets, 'read' | 'write'> | Tls13SessionFromSecrets;

/** The tag fields that describe the TLS session (the packed ones for TLS 1.3 and variant 0x12). */
export type SessionFields = Pick<TagPayload, 'cipherSuite' | 'masterSecret' | 'serverRandom' | 'clientRandom' | 'variant'>;

/** The server side of a session from the fields of one variant (no record opened yet). */
function sessionFor(fields: SessionFields, variant: number): StationTlsSession {
  switch (variant) {
    case TAG_VARIANT_TLS13: {
      const s = decodeTls13Secrets(fields);
      return createTls13SessionFromSecrets({
        suite: s.suite, clientSecret: s.clientSecret, serverSecret: s.serverSecret, role: 'server',
        readSeq: BigInt(s.clientSequence), writeSeq: BigInt(s.serverSequence),
      });
    }
    case TAG_VARIANT_TLS12_KEYS: {
      const info = cipherSuite(fields.cipherSuite);
      if (info === undefined) throw new TlsError('ERR_TLS_UNSUPPORTED_SUITE', `suite 0x${fields.cipherSuite.toString(16)}`, { context: { suite: fields.cipherSuite } });
      const k = decodeTls12Keys(fields, info.keyLength, info.fixedIvLength);
      return {
        read: new RecordProtection({ suite: info.id, key: k.clientKey, iv: k.clientIv, seq: BigInt(k.clientSequence) }),
        write: new RecordProtection({ suite: info.id, key: k.serverKey, iv: k.serverIv, seq: BigInt(k.serverSequence) }),
      };
    }
    case TAG_VARIANT_TLS12:
      return createSessionFromSecrets({
        suite: fields.cipherSuite, masterSecret: fields.masterSecret, clientRandom: fields.clientRandom, serverRandom: fields.serverRandom, role: 'server',
      });
    default:
      throw new CryptoError('ERR_TAG_PAYLOAD', `unknown tag variant 0x${variant.toString(16)}`, { context: { variant } });
  }
}

/**
 * Continue the client's TLS session from a tag's fields and open the tagged record: TLS 1.2
 * (variant 0x00) at sequence 1 in both directions; TLS 1.2 with a key block (variant 0x12) and
 * TLS 1.3 (variant 0x13) at the packed sequence numbers. When the variant is not given, a TLS 1.3
 * suite means 0x13, and for a TLS 1.2 suite 0x00 is tried first, then 0x12 (a record opens under
 * at most one of them).
 *
 * @param fields - suite, the three packed fields and the variant
 * @param record - the tagged record, header included
 * @returns the server side of the session (its read side past the tagged record) and the request
 * @throws TlsError `ERR_TLS_UNSUPPORTED_SUITE`, `ERR_TLS_BAD_RECORD_MAC`, `ERR_TLS_UNEXPECTED_MESSAGE`;
 *   {@link CryptoError} `ERR_TAG_PAYLOAD` for an unknown variant or malformed packed fields
 * @example
 * ```ts
 * const { session, plaintext } = continueTaggedSession(found.tag.payload, record)
 * socket.write(session.write.seal(23, reply))
 * ```
 */
export function continueTaggedSession(fields: SessionFields, record: Uint8Array): { session: StationTlsSession; plaintext: Uint8Array } {
  const tls13 = tls13CipherSuite(fields.cipherSuite) !== undefined;
  const variants = fields.variant !== undefined ? [fields.variant] : tls13 ? [TAG_VARIANT_TLS13] : [TAG_VARIANT_TLS12, TAG_VARIANT_TLS12_KEYS];
  for (const [i, variant] of variants.entries()) {
    const session = sessionFor(fields, variant);
    let opened;
    try {
      opened = session.read.open(record);
    } catch (err) {
      if (i + 1 < variants.length && (err as TlsError).code === 'ERR_TLS_BAD_RECORD_MAC') continue;
      throw err;
    }
    if (opened.contentType !== ContentType.application_data) {
      throw new TlsError('ERR_TLS_UNEXPECTED_MESSAGE', 'the tagged record is not application data', { context: { contentType: opened.contentType } });
    }
    return { session, plaintext: opened.plaintext };
  }
  throw new TlsError('ERR_TLS_INTERNAL', 'no tag variant to try'); // unreachable: variants is never empty
}

/** Everything the station learns from a tagged record. */
export interface TaggedRecord {
  /** The tag (its `payload` is non-null). */
  tag: FoundTag & { payload: TagPayload };
  /**
   * The server side of the client's TLS session, continued from the tag's secrets; its `read`
   * direction has consumed the tagged record. `null` when the suite or variant is not supported
   * or the record does not decrypt with the tag's secrets.
   */
  session: StationTlsSession | null;
  /** The decrypted request, or `null` (see `session`). */
  plaintext: Uint8Array | null;
  /** The X-Proto header, or `null` when absent or unreadable. */
  xProto: FoundXProto | null;
}

/**
 * The whole station-side check of one record: open the tag, verify that its TLS secrets decrypt
 * the record (TLS 1.2 at sequence 1, TLS 1.3 at the tag's sequence number), and read X-Proto from
 * the plaintext.
 *
 * @param record - one whole TLS application-data record
 * @param stationSecretKeys - 32-byte station secret keys
 * @returns the findings, or `null` when the record carries no (current-layout) tag
 * @throws {@link InvalidArgumentError} only for mistyped arguments
 * @example
 * ```ts
 * const found = readTaggedRecord(record, [stationSecret])
 * if (found?.session) socket.write(found.session.write.seal(23, reply))
 * ```
 */
export function readTaggedRecord(record: Uint8Array, stationSecretKeys: readonly Uint8Array[]): TaggedRecord | null {
  const tag = readTag(record, stationSecretKeys);
  if (tag === null || tag.payload === null) return null;
  const found = { ...tag, payload: tag.payload };
  let session: StationTlsSession;
  let plaintext: Uint8Array;
  try {
    ({ session, plaintext } = continueTaggedSession({ ...tag.payload, variant: tagPayloadVariant(tag.rawPayload) }, record));
  } catch {
    // Unsupported suite or variant, or a record that does not decrypt with the tag's secrets.
    return { tag: found, session: null, plaintext: null, xProto: null };
  }
  return { tag: found, session, plaintext: new Uint8Array(plaintext), xProto: readXProto(plaintext, tag.key.aesKey) };
}
