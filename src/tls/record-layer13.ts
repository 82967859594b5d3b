/**
 * TLS 1.3 record protection (RFC 8446 §5.2–5.3) on node:crypto AEADs: every protected record is
 * `application_data` 0x0303 on the wire, the real content type travels inside, the nonce is the
 * IV XOR the sequence number and the additional data is the record header. Also the keystream of
 * the next record, which TapDance needs to embed a tag, and {@link createTls13SessionFromSecrets},
 * which continues a session from its application traffic secrets (the station's side).
 *
 * One object protects one direction under one traffic secret; a KeyUpdate makes a new object
 * (`rekey`). No handshake logic here.
 *
 * @module
 */
import { bufferView } from '../crypto/bytes.js';
import { InvalidArgumentError } from '../errors.js';
import { tls13CipherSuite, type Tls13SuiteInfo } from './cipher-suites.js';
import { TlsError } from './errors.js';
import { nativeAead, type NativeAead } from './native-aead.js';
import { aeadCipher, aeadDecipher, aeadKeystream, sealEachRecord, splitWholeRecord, xorSequenceNonce } from './record-layer.js';
import { nextTrafficSecret, trafficKeys, TLS13_IV_LENGTH } from './tls13-keys.js';
import { ContentType, MAX_PLAINTEXT, ProtocolVersion, RECORD_HEADER_LENGTH } from './wire.js';

const TAG_LENGTH = 16;
const MAX_SEQ = 0xffff_ffff_ffff_ffffn;
/** Largest TLS 1.3 ciphertext body: 2^14 + 256 (RFC 8446 §5.2). */
export const MAX_CIPHERTEXT13 = 16384 + 256;

/** A decrypted TLS 1.3 record: the inner content type and the content without padding. */
export interface OpenedRecord13 {
  /** The inner (real) content type. */
  contentType: number;
  /** The content. */
  plaintext: Buffer;
}

/** Options of {@link Tls13RecordProtection}. */
export interface Tls13RecordProtectionOptions {
  /** IANA TLS 1.3 suite number (0x1301, 0x1302, 0x1303). */
  suite: number;
  /** The traffic secret of the direction this object protects. */
  secret: Uint8Array;
  /** Sequence number of the next record. Default 0n. */
  seq?: bigint;
  /** Use the native AEAD addon when it is built (default true); the bytes are the same. */
  native?: boolean;
}

/**
 * One direction of TLS 1.3 record protection under one traffic secret. Each successful `seal` or
 * `open` consumes one sequence number.
 *
 * @example
 * ```ts
 * const w = new Tls13RecordProtection({ suite: 0x1301, secret: clientApplicationSecret })
 * const ks = w.keystream(100)            // keystream of the next record's first 100 bytes
 * const record = w.seal(23, plaintext)   // 17 03 03 len | ciphertext(plaintext || 0x17) | tag
 * ```
 */
export class Tls13RecordProtection {
  /** The suite. */
  readonly suite: Tls13SuiteInfo;
  /** The traffic secret (a copy), for KeyUpdate and for the tag. */
  readonly secret: Buffer;
  readonly #key: Buffer;
  readonly #iv: Buffer;
  readonly #nonce = Buffer.alloc(TLS13_IV_LENGTH);
  readonly #aad = Buffer.alloc(RECORD_HEADER_LENGTH);
  /** The native AEAD under #key when the addon is in use (src/tls/native-aead.ts). */
  readonly #native: NativeAead | null;
  #seq: bigint;

  /**
   * @param options - suite, traffic secret and first sequence number.
   * @throws TlsError `ERR_TLS_UNSUPPORTED_SUITE` for a suite that is not TLS 1.3.
   * @throws InvalidArgumentError for a secret of the wrong length or a bad sequence number.
   */
  constructor(options: Tls13RecordProtectionOptions) {
    const suite = tls13CipherSuite(options.suite);
    if (suite === undefined) {
      throw new TlsError('ERR_TLS_UNSUPPORTED_SUITE', `0x${options.suite.toString(16)} is not a TLS 1.3 suite`, { context: { suite: options.suite } });
    }
    const seq = options.seq ?? 0n;
    if (typeof seq !== 'bigint' || seq < 0n || seq > MAX_SEQ) throw new InvalidArgumentError('"seq" expected a 64-bit unsigned bigint');
    const { key, iv } = trafficKeys(suite, options.secret);
    this.suite = suite;
    this.secret = Buffer.from(options.secret);
    this.#key = key;
    this.#iv = iv;
    this.#seq = seq;
    this.#native = options.native === false ? null : nativeAead(suite.aead, key);
  }

  /** Whether records are sealed and opened by the native AEAD addon. */
  get native(): boolean {
    return this.#native !== null;
  }

  /** Sequence number the next `seal` or `open` uses. */
  get sequence(): bigint {
    return this.#seq;
  }

  /** Bytes a record adds around its content: header, inner content type, tag. */
  get overhead(): number {
    return RECORD_HEADER_LENGTH + 1 + TAG_LENGTH;
  }

  /**
   * The protection for the next traffic secret after a KeyUpdate, at sequence 0.
   *
   * @returns a new object; this one should no longer be used.
   */
  rekey(): Tls13RecordProtection {
    return new Tls13RecordProtection({ suite: this.suite.id, secret: nextTrafficSecret(this.suite, this.secret), native: this.#native !== null });
  }

  /**
   * Encrypt one record and advance the sequence number.
   *
   * @param contentType - the inner content type (23 application data, 22 handshake, 21 alert).
   * @param plaintext - at most 16384 bytes.
   * @param padding - zero bytes to add after the content type (default 0).
   * @returns the whole record.
   * @throws TlsError `ERR_TLS_INVALID_STATE` for oversize content, `ERR_TLS_SEQUENCE_OVERFLOW`.
   */
  seal(contentType: number, plaintext: Uint8Array, padding = 0): Buffer {
    const parts = this.sealParts(contentType, plaintext, padding);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Encrypt one record as buffers for a vectored write.
   *
   * @param contentType - the inner content type.
   * @param plaintext - at most 16384 bytes.
   * @param padding - zero bytes after the content type.
   * @returns buffers whose concatenation is the record (see {@link Tls13RecordProtection.sealPieces}).
   * @throws TlsError as {@link Tls13RecordProtection.seal}.
   */
  sealParts(contentType: number, plaintext: Uint8Array, padding = 0): Buffer[] {
    return this.sealPieces(contentType, [plaintext], padding);
  }

  /**
   * Encrypt one record whose content is the concatenation of `pieces`, without joining them.
   *
   * @param contentType - the inner content type.
   * @param pieces - the content in order, at most 16384 bytes in all.
   * @param padding - zero bytes after the content type.
   * @returns buffers whose concatenation is the record: `[header, ciphertext, tag]` from
   *   node:crypto, the whole record in one buffer from the native AEAD.
   * @throws TlsError as {@link Tls13RecordProtection.seal}.
   */
  sealPieces(contentType: number, pieces: readonly Uint8Array[], padding = 0): Buffer[] {
    let length = 0;
    for (const p of pieces) length += p.length;
    if (length + padding > MAX_PLAINTEXT) {
      throw new TlsError('ERR_TLS_INVALID_STATE', `record content of ${length + padding} bytes exceeds ${MAX_PLAINTEXT}`,
        { context: { length, padding } });
    }
    const seq = this.#takeSeq();
    const innerLength = length + 1 + padding;
    const native = this.#native;
    const head = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + (native === null ? 0 : innerLength + TAG_LENGTH));
    head[0] = ContentType.application_data;
    head.writeUInt16BE(ProtocolVersion.TLS12, 1);
    head.writeUInt16BE(innerLength + TAG_LENGTH, 3);
    const trailer = Buffer.alloc(1 + padding);
    trailer[0] = contentType;
    const aad = head.subarray(0, RECORD_HEADER_LENGTH);
    if (native !== null) {
      // The header (the additional data) and the sealed body are adjacent parts of one buffer.
      native.seal(this.#nonceFor(seq), aad, [...pieces, trailer], head.subarray(RECORD_HEADER_LENGTH));
      return [head];
    }
    const cipher = aeadCipher(this.suite.aead, this.#key, this.#nonceFor(seq));
    cipher.setAAD(aad, { plaintextLength: innerLength });
    const out: Buffer[] = [];
    for (const p of pieces) if (p.length > 0) out.push(cipher.update(p));
    out.push(cipher.update(trailer));
    cipher.final();
    return [head, Buffer.concat(out, innerLength), cipher.getAuthTag()];
  }

  /**
   * Seal the concatenation of `chunks` as records of at most 16384 bytes, filled across chunk
   * boundaries.
   *
   * @param contentType - the inner content type.
   * @param chunks - the content in order, any sizes; no records for no bytes.
   * @returns buffers whose concatenation is the records.
   * @throws TlsError `ERR_TLS_SEQUENCE_OVERFLOW`.
   */
  sealRecords(contentType: number, chunks: readonly Uint8Array[]): Buffer[] {
    return sealEachRecord(chunks, (pieces) => this.sealPieces(contentType, pieces));
  }

  /**
   * Check and decrypt a record given as header fields and body; strip the padding.
   *
   * @param outerType - header content type (must be application_data).
   * @param version - header version.
   * @param body - ciphertext and tag.
   * @param inPlace - the caller owns `body`'s memory (a fresh socket read): with the native AEAD
   *   it is decrypted where it lies and the content is a view of it, with no copy.
   * @returns the inner content type and content.
   * @throws TlsError `ERR_TLS_UNEXPECTED_MESSAGE` for an outer type other than application_data
   *   or an all-zero inner plaintext, `ERR_TLS_RECORD_OVERFLOW`, `ERR_TLS_BAD_RECORD_MAC`.
   */
  openFragment(outerType: number, version: number, body: Uint8Array, inPlace = false): OpenedRecord13 {
    if (outerType !== ContentType.application_data) {
      throw new TlsError('ERR_TLS_UNEXPECTED_MESSAGE', `protected record with outer type ${outerType}`, { context: { contentType: outerType } });
    }
    if (body.length > MAX_CIPHERTEXT13) {
      throw new TlsError('ERR_TLS_RECORD_OVERFLOW', 'record body exceeds 2^14 + 256 bytes', { context: { length: body.length } });
    }
    const ctLength = body.length - TAG_LENGTH;
    if (ctLength < 1) throw new TlsError('ERR_TLS_BAD_RECORD_MAC', 'record too short for its tag', { context: { length: body.length } });
    const seq = this.#seq;
    if (seq > MAX_SEQ) throw new TlsError('ERR_TLS_SEQUENCE_OVERFLOW', 'read sequence number exhausted');
    const aad = this.#aad;
    aad[0] = outerType;
    aad.writeUInt16BE(version, 1);
    aad.writeUInt16BE(body.length, 3);
    let inner: Buffer;
    const native = this.#native;
    if (native !== null) {
      // Else its own buffer per record: a shared slab would let one kept record pin the others' memory.
      const out = inPlace ? bufferView(body) : Buffer.allocUnsafe(body.length);
      if ((inPlace ? native.openInPlace(this.#nonceFor(seq), aad, out) : native.open(this.#nonceFor(seq), aad, body, out)) < 0) {
        throw new TlsError('ERR_TLS_BAD_RECORD_MAC', 'record failed authentication', { context: { seq: seq.toString() } });
      }
      inner = out.subarray(0, ctLength);
    } else {
      const decipher = aeadDecipher(this.suite.aead, this.#key, this.#nonceFor(seq));
      decipher.setAuthTag(body.subarray(ctLength));
      decipher.setAAD(aad, { plaintextLength: ctLength });
      inner = decipher.update(body.subarray(0, ctLength));
      try {
        decipher.final();
      } catch (cause) {
        throw new TlsError('ERR_TLS_BAD_RECORD_MAC', 'record failed authentication', { cause, context: { seq: seq.toString() } });
      }
    }
    this.#seq = seq + 1n;
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    if (end < 0) throw new TlsError('ERR_TLS_UNEXPECTED_MESSAGE', 'protected record without a content type');
    if (end > MAX_PLAINTEXT) {
      throw new TlsError('ERR_TLS_RECORD_OVERFLOW', 'record content exceeds 2^14 bytes', { context: { length: end } });
    }
    return { contentType: inner[end]!, plaintext: inner.subarray(0, end) };
  }

  /**
   * Check and decrypt one whole record (header included).
   *
   * @param record - the record bytes.
   * @returns the inner content type and content.
   * @throws TlsError `ERR_TLS_DECODE` when the header length disagrees, else as `openFragment`.
   */
  open(record: Uint8Array): OpenedRecord13 {
    const { contentType, version, body } = splitWholeRecord(record);
    return this.openFragment(contentType, version, body);
  }

  /**
   * The first `n` keystream bytes of the next record this object seals: its ciphertext is
   * `(content || type || padding) XOR keystream`. Byte `content.length` of the keystream is the one
   * that covers the inner content type. Does not advance the sequence.
   *
   * @param n - bytes, 0..16385.
   * @returns n keystream bytes.
   * @throws InvalidArgumentError when n is out of range.
   */
  keystream(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0 || n > MAX_PLAINTEXT + 1) throw new InvalidArgumentError(`"n" expected 0..${MAX_PLAINTEXT + 1}, got ${n}`);
    return aeadKeystream(this.suite.aead, this.#key, this.#nonceFor(this.#seq), n);
  }

  #takeSeq(): bigint {
    const seq = this.#seq;
    if (seq > MAX_SEQ) throw new TlsError('ERR_TLS_SEQUENCE_OVERFLOW', 'write sequence number exhausted');
    this.#seq = seq + 1n;
    return seq;
  }

  #nonceFor(seq: bigint): Buffer {
    return xorSequenceNonce(this.#iv, seq, this.#nonce);
  }
}

/** Options of {@link createTls13SessionFromSecrets}. */
export interface Tls13SessionSecrets {
  /** IANA TLS 1.3 suite number. */
  suite: number;
  /** The client's current application traffic secret. */
  clientSecret: Uint8Array;
  /** The server's current application traffic secret. */
  serverSecret: Uint8Array;
  /** Which end to continue as; the station is `'server'`. */
  role: 'server' | 'client';
  /** Sequence number of the next record read. */
  readSeq: bigint;
  /** Sequence number of the next record written. */
  writeSeq: bigint;
}

/** Both directions of a TLS 1.3 session continued from its secrets. */
export interface Tls13SessionFromSecrets {
  /** The suite. */
  readonly suite: Tls13SuiteInfo;
  /** Opens records the peer sends. */
  readonly read: Tls13RecordProtection;
  /** Seals records to the peer. */
  readonly write: Tls13RecordProtection;
}

/**
 * Continue a TLS 1.3 session from its application traffic secrets, without a handshake: what the
 * station does with a TLS 1.3 tag. Unlike TLS 1.2 the sequence numbers are not fixed (the server
 * may have sent tickets or data), so the caller passes both.
 *
 * @param secrets - suite, both traffic secrets, role and sequence numbers.
 * @returns a read and a write {@link Tls13RecordProtection}.
 * @throws TlsError `ERR_TLS_UNSUPPORTED_SUITE`; InvalidArgumentError for wrong secret lengths.
 * @example
 * ```ts
 * const s = createTls13SessionFromSecrets({ suite: 0x1301, clientSecret, serverSecret, role: 'server', readSeq: 0n, writeSeq: 2n })
 * const { plaintext } = s.read.open(taggedRecord)
 * ```
 */
export function createTls13SessionFromSecrets(secrets: Tls13SessionSecrets): Tls13SessionFromSecrets {
  if (secrets.role !== 'server' && secrets.role !== 'client') throw new InvalidArgumentError('"role" expected "server" or "client"');
  const [mine, theirs] = secrets.role === 'server' ? [secrets.serverSecret, secrets.clientSecret] : [secrets.clientSecret, secrets.serverSecret];
  const read = new Tls13RecordProtection({ suite: secrets.suite, secret: theirs, seq: secrets.readSeq });
  const write = new Tls13RecordProtection({ suite: secrets.suite, secret: mine, seq: secrets.writeSeq });
  return { suite: read.suite, read, write };
}
