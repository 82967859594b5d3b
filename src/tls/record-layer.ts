/**
 * TLS 1.2 record protection for AEAD suites (RFC 5246 §6.2.3.3, RFC 5288, RFC 7905) on
 * node:crypto, with explicit 64-bit sequence numbers and the keystream of the next record.
 *
 * A {@link RecordProtection} holds one direction's key, implicit IV and sequence number. `seal`
 * turns plaintext into a whole record (header included); `open` checks and decrypts one. For
 * AES-GCM the explicit nonce written on the wire is the sequence number, as Go's crypto/tls and
 * uTLS do, so the nonce of record n is `IV4 || n`. `keystream(n)` gives the bytes the *next*
 * sealed record will XOR its plaintext with: TapDance chooses ciphertext bits through it.
 *
 * {@link createSessionFromSecrets} is the station side: from the secrets carried in a tag it
 * builds both directions of the server, continuing the client's session at sequence 1.
 *
 * No framing here (see `record-deframer.ts`) and no I/O.
 *
 * @module
 */
import {
  createCipheriv, createDecipheriv,
  type CipherChaCha20Poly1305, type CipherGCM, type DecipherChaCha20Poly1305, type DecipherGCM,
} from 'node:crypto';
import { bufferView } from '../crypto/bytes.js';
import { InvalidArgumentError } from '../errors.js';
import { cipherSuite, type AeadKind, type CipherSuiteInfo } from './cipher-suites.js';
import { TlsError } from './errors.js';
import { nativeAead, type NativeAead } from './native-aead.js';
import { deriveKeyBlock, type KeyBlock } from './tls12-keys.js';
import { MAX_CIPHERTEXT, MAX_PLAINTEXT, ProtocolVersion, RECORD_HEADER_LENGTH } from './wire.js';

/** Length of the AEAD authentication tag of every supported suite. */
export const AEAD_TAG_LENGTH = 16;

const MAX_SEQ = 0xffff_ffff_ffff_ffffn;

/** Options of {@link RecordProtection}. */
export interface RecordProtectionOptions {
  /** IANA suite number (an AEAD suite of `cipher-suites.ts`). */
  suite: number;
  /** Write key of the direction this object protects. */
  key: Uint8Array;
  /** Implicit IV of that direction (4 bytes for GCM, 12 for ChaCha20). */
  iv: Uint8Array;
  /** Sequence number of the next record. Default 0n. */
  seq?: bigint;
  /** Use the native AEAD addon when it is built (default true); the bytes are the same. */
  native?: boolean;
}

/** A decrypted record. */
export interface OpenedRecord {
  /** The record's content type. */
  contentType: number;
  /** The decrypted fragment. */
  plaintext: Buffer;
}

/**
 * One direction of TLS 1.2 AEAD record protection. Each successful `seal` or `open` consumes
 * one sequence number; a failed `open` consumes none (the connection must die anyway).
 *
 * @example
 * ```ts
 * const w = new RecordProtection({ suite: 0xc02f, key: kb.clientWriteKey, iv: kb.clientWriteIv, seq: 1n })
 * const ks = w.keystream(100)          // the keystream of the record sealed next
 * const record = w.seal(23, plaintext) // 17 03 03 len | seq(8) | ciphertext | tag(16)
 * ```
 */
export class RecordProtection {
  /** The suite this object protects records with. */
  readonly suite: CipherSuiteInfo;
  // A raw key buffer: node's createCipheriv is measurably slower with a KeyObject.
  readonly #key: Buffer;
  readonly #iv: Buffer;
  readonly #nonceScratch = Buffer.alloc(12);
  readonly #aadScratch = Buffer.alloc(13);
  /** The native AEAD under #key when the addon is in use (src/tls/native-aead.ts). */
  readonly #native: NativeAead | null;
  #seq: bigint;

  /**
   * @param options - suite, key, IV and first sequence number.
   * @throws TlsError `ERR_TLS_UNSUPPORTED_SUITE` for a suite that is not an AEAD suite here.
   * @throws InvalidArgumentError for wrong key or IV lengths or a sequence number out of range.
   */
  constructor(options: RecordProtectionOptions) {
    const info = cipherSuite(options.suite);
    if (info === undefined) {
      throw new TlsError('ERR_TLS_UNSUPPORTED_SUITE', `cipher suite 0x${options.suite.toString(16)} has no record protection here`,
        { context: { suite: options.suite } });
    }
    if (!(options.key instanceof Uint8Array) || options.key.length !== info.keyLength) {
      throw new InvalidArgumentError(`"key" expected ${info.keyLength} bytes for ${info.name}`);
    }
    if (!(options.iv instanceof Uint8Array) || options.iv.length !== info.fixedIvLength) {
      throw new InvalidArgumentError(`"iv" expected ${info.fixedIvLength} bytes for ${info.name}`);
    }
    const seq = options.seq ?? 0n;
    if (typeof seq !== 'bigint' || seq < 0n || seq > MAX_SEQ) throw new InvalidArgumentError('"seq" expected a 64-bit unsigned bigint');
    this.suite = info;
    this.#key = Buffer.from(options.key);
    this.#iv = Buffer.from(options.iv);
    this.#seq = seq;
    this.#native = options.native === false ? null : nativeAead(info.aead, this.#key);
  }

  /** Whether records are sealed and opened by the native AEAD addon. */
  get native(): boolean {
    return this.#native !== null;
  }

  /** Sequence number the next `seal` or `open` will use. */
  get sequence(): bigint {
    return this.#seq;
  }

  /** Bytes a record adds around its plaintext: header, explicit nonce and tag. */
  get overhead(): number {
    return RECORD_HEADER_LENGTH + this.suite.explicitNonceLength + AEAD_TAG_LENGTH;
  }

  /**
   * Encrypt one record and advance the sequence number.
   *
   * @param contentType - the record's content type (23 for application data).
   * @param plaintext - at most 16384 bytes.
   * @param version - record version field, default TLS 1.2 (0x0303).
   * @returns the whole record: header, explicit nonce (GCM), ciphertext, tag.
   * @throws TlsError `ERR_TLS_INVALID_STATE` for plaintext over 16384 bytes,
   *   `ERR_TLS_SEQUENCE_OVERFLOW` when the sequence number is exhausted.
   */
  seal(contentType: number, plaintext: Uint8Array, version: number = ProtocolVersion.TLS12): Buffer {
    const parts = this.sealParts(contentType, plaintext, version);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Encrypt one record as three buffers (header with explicit nonce, ciphertext, tag), so a
   * stream can hand them to the socket with one vectored write and no copy.
   *
   * @param contentType - the record's content type.
   * @param plaintext - at most 16384 bytes.
   * @param version - record version field, default TLS 1.2.
   * @returns buffers whose concatenation is the record: `[header, ciphertext, tag]` from
   *   node:crypto, the whole record in one buffer from the native AEAD.
   * @throws TlsError as {@link RecordProtection.seal}.
   */
  sealParts(contentType: number, plaintext: Uint8Array, version: number = ProtocolVersion.TLS12): Buffer[] {
    return this.sealPieces(contentType, [plaintext], version);
  }

  /**
   * Encrypt one record whose plaintext is the concatenation of `pieces`, without joining them:
   * the parts are the header (with explicit nonce), one ciphertext per non-empty piece, and the
   * tag, ready for one vectored write.
   *
   * @param contentType - the record's content type.
   * @param pieces - the plaintext in order, at most 16384 bytes in all.
   * @param version - record version field, default TLS 1.2.
   * @returns buffers whose concatenation is the record: `[header, ...ciphertexts, tag]` from
   *   node:crypto, the whole record in one buffer from the native AEAD (which copies the pieces).
   * @throws TlsError as {@link RecordProtection.seal}.
   */
  sealPieces(contentType: number, pieces: readonly Uint8Array[], version: number = ProtocolVersion.TLS12): Buffer[] {
    let length = 0;
    for (const p of pieces) length += p.length;
    if (length > MAX_PLAINTEXT) {
      throw new TlsError('ERR_TLS_INVALID_STATE', `record plaintext of ${length} bytes exceeds ${MAX_PLAINTEXT}`,
        { context: { length } });
    }
    const seq = this.#takeSeq();
    const explicit = this.suite.explicitNonceLength;
    const native = this.#native;
    // With the native AEAD the record is one buffer: header, explicit nonce, sealed in place.
    const head = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + explicit + (native === null ? 0 : length + AEAD_TAG_LENGTH));
    head[0] = contentType;
    head.writeUInt16BE(version, 1);
    head.writeUInt16BE(explicit + length + AEAD_TAG_LENGTH, 3);
    if (explicit > 0) head.writeBigUInt64BE(seq, RECORD_HEADER_LENGTH);
    if (native !== null) {
      native.seal(this.#nonce(seq), this.#additionalData(seq, contentType, version, length), pieces, head.subarray(RECORD_HEADER_LENGTH + explicit));
      return [head];
    }
    const cipher = aeadCipher(this.suite.aead, this.#key, this.#nonce(seq));
    cipher.setAAD(this.#additionalData(seq, contentType, version, length), { plaintextLength: length });
    const parts = [head];
    for (const p of pieces) if (p.length > 0 || pieces.length === 1) parts.push(cipher.update(p));
    const rest = cipher.final(); // empty for GCM and ChaCha20-Poly1305, which are stream modes
    if (rest.length > 0) parts.push(rest);
    parts.push(cipher.getAuthTag());
    return parts;
  }

  /**
   * Seal the concatenation of `chunks` as records of at most 16384 bytes, filled across chunk
   * boundaries: with the native AEAD one call and one buffer for the whole batch (what a relay
   * writing many records wants), else the records' parts.
   *
   * @param contentType - the records' content type.
   * @param chunks - the plaintext in order, any sizes; no records for no bytes.
   * @param alloc - where the native batch goes: a buffer of at least the given length (a relay
   *   recycles its buffers so that records waiting in a socket's queue are not garbage the heap
   *   has to trace); default a new buffer.
   * @returns buffers whose concatenation is the records.
   * @throws TlsError `ERR_TLS_SEQUENCE_OVERFLOW` when the batch needs more sequence numbers than
   *   are left (nothing is sealed then).
   */
  sealRecords(contentType: number, chunks: readonly Uint8Array[], alloc: (length: number) => Buffer = Buffer.allocUnsafe): Buffer[] {
    let length = 0;
    for (const c of chunks) length += c.length;
    const records = Math.ceil(length / MAX_PLAINTEXT);
    if (records === 0) return [];
    if (this.#seq + BigInt(records - 1) > MAX_SEQ) throw new TlsError('ERR_TLS_SEQUENCE_OVERFLOW', 'write sequence number exhausted');
    const native = this.#native;
    if (native === null) return sealEachRecord(chunks, (pieces) => this.sealPieces(contentType, pieces));
    const explicit = this.suite.explicitNonceLength;
    const size = length + records * (RECORD_HEADER_LENGTH + explicit + AEAD_TAG_LENGTH);
    const out = alloc(size).subarray(0, size);
    native.sealTls12Records(this.#iv, explicit > 0, this.#seq, contentType, chunks, out);
    this.#seq += BigInt(records);
    return [out];
  }

  /**
   * Check and decrypt one whole record (header included) and advance the sequence number.
   *
   * @param record - the record bytes.
   * @returns its content type and plaintext.
   * @throws TlsError `ERR_TLS_DECODE` when the header length disagrees with the bytes,
   *   `ERR_TLS_BAD_RECORD_MAC` when authentication fails, `ERR_TLS_RECORD_OVERFLOW` for oversize.
   */
  open(record: Uint8Array): OpenedRecord {
    const { contentType, version, body } = splitWholeRecord(record);
    return this.openFragment(contentType, version, body);
  }

  /**
   * Check and decrypt a record given as header fields and body (what the deframer yields).
   *
   * @param contentType - header content type.
   * @param version - header version.
   * @param body - the record body (explicit nonce, ciphertext, tag).
   * @param inPlace - the caller owns `body`'s memory (a fresh socket read): with the native AEAD
   *   it is decrypted where it lies and the plaintext is a view of it, with no copy.
   * @returns its content type and plaintext.
   * @throws TlsError as {@link RecordProtection.open}.
   */
  openFragment(contentType: number, version: number, body: Uint8Array, inPlace = false): OpenedRecord {
    if (body.length > MAX_CIPHERTEXT) {
      throw new TlsError('ERR_TLS_RECORD_OVERFLOW', 'record body exceeds 2^14 + 2048 bytes', { context: { length: body.length } });
    }
    const explicit = this.suite.explicitNonceLength;
    const ctLength = body.length - explicit - AEAD_TAG_LENGTH;
    if (ctLength < 0) {
      throw new TlsError('ERR_TLS_BAD_RECORD_MAC', 'record too short for its nonce and tag', { context: { length: body.length } });
    }
    if (ctLength > MAX_PLAINTEXT) {
      throw new TlsError('ERR_TLS_RECORD_OVERFLOW', 'record plaintext exceeds 2^14 bytes', { context: { length: ctLength } });
    }
    const seq = this.#seq;
    if (seq > MAX_SEQ) throw new TlsError('ERR_TLS_SEQUENCE_OVERFLOW', 'read sequence number exhausted');
    let nonce: Buffer;
    if (explicit > 0) {
      nonce = this.#nonceScratch;
      this.#iv.copy(nonce, 0);
      nonce.set(body.subarray(0, explicit), 4);
    } else {
      nonce = this.#nonce(seq);
    }
    const native = this.#native;
    if (native !== null) {
      // Else its own buffer per record: a shared slab would let one kept record pin the others' memory.
      const aad = this.#additionalData(seq, contentType, version, ctLength);
      const sealed = body.subarray(explicit);
      const out = inPlace ? bufferView(sealed) : Buffer.allocUnsafe(ctLength + AEAD_TAG_LENGTH);
      if ((inPlace ? native.openInPlace(nonce, aad, out) : native.open(nonce, aad, sealed, out)) < 0) {
        throw new TlsError('ERR_TLS_BAD_RECORD_MAC', 'record failed authentication', { context: { seq: seq.toString() } });
      }
      this.#seq = seq + 1n;
      return { contentType, plaintext: out.subarray(0, ctLength) };
    }
    const decipher = aeadDecipher(this.suite.aead, this.#key, nonce);
    decipher.setAuthTag(body.subarray(body.length - AEAD_TAG_LENGTH));
    decipher.setAAD(this.#additionalData(seq, contentType, version, ctLength), { plaintextLength: ctLength });
    const head = decipher.update(body.subarray(explicit, explicit + ctLength));
    let tail: Buffer;
    try {
      tail = decipher.final();
    } catch (cause) {
      throw new TlsError('ERR_TLS_BAD_RECORD_MAC', 'record failed authentication', { cause, context: { seq: seq.toString() } });
    }
    this.#seq = seq + 1n;
    return { contentType, plaintext: tail.length === 0 ? head : Buffer.concat([head, tail]) };
  }

  /**
   * The first `n` keystream bytes of the *next* record this object seals: sealing plaintext `p`
   * as that record yields ciphertext `p XOR keystream(p.length)`. Does not advance the sequence.
   *
   * AES-GCM: AES-CTR under the write key from counter block `IV4 || seq8 || 00000002`.
   * ChaCha20-Poly1305: ChaCha20 with nonce `IV12 XOR (0^4 || seq8)` from block counter 1.
   *
   * @param n - number of bytes, 0..16384.
   * @returns n keystream bytes.
   * @throws InvalidArgumentError when n is out of range.
   */
  keystream(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0 || n > MAX_PLAINTEXT) throw new InvalidArgumentError(`"n" expected 0..${MAX_PLAINTEXT}, got ${n}`);
    return aeadKeystream(this.suite.aead, this.#key, this.#nonce(this.#seq), n);
  }

  /** The TLS 1.2 AEAD additional data (seq_num || type || version || length), in a scratch buffer. */
  #additionalData(seq: bigint, contentType: number, version: number, length: number): Buffer {
    const aad = this.#aadScratch;
    aad.writeBigUInt64BE(seq, 0);
    aad[8] = contentType;
    aad.writeUInt16BE(version, 9);
    aad.writeUInt16BE(length, 11);
    return aad;
  }

  #takeSeq(): bigint {
    const seq = this.#seq;
    if (seq > MAX_SEQ) throw new TlsError('ERR_TLS_SEQUENCE_OVERFLOW', 'write sequence number exhausted');
    this.#seq = seq + 1n;
    return seq;
  }

  /**
   * The AEAD nonce of the record with sequence number `seq` (our own records for GCM), in a
   * scratch buffer: node copies the IV when it creates the cipher, so one buffer serves all.
   */
  #nonce(seq: bigint): Buffer {
    const nonce = this.#nonceScratch;
    if (this.suite.explicitNonceLength > 0) {
      this.#iv.copy(nonce, 0);
      nonce.writeBigUInt64BE(seq, 4);
    } else {
      xorSequenceNonce(this.#iv, seq, nonce);
    }
    return nonce;
  }
}

/**
 * Cut the concatenation of `chunks` into records of at most 16384 bytes across chunk boundaries
 * (views, no copies) and seal each with `seal`, for the record layers' `sealRecords`.
 *
 * @param chunks - the plaintext in order.
 * @param seal - seals one record's pieces and returns its parts.
 * @returns the parts of all records, in order.
 */
export function sealEachRecord(chunks: readonly Uint8Array[], seal: (pieces: Uint8Array[]) => Buffer[]): Buffer[] {
  const parts: Buffer[] = [];
  let pieces: Uint8Array[] = [];
  let fill = 0;
  for (const chunk of chunks) {
    for (let off = 0; off < chunk.length;) {
      const n = Math.min(MAX_PLAINTEXT - fill, chunk.length - off);
      pieces.push(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n));
      fill += n;
      off += n;
      if (fill === MAX_PLAINTEXT) {
        for (const p of seal(pieces)) parts.push(p);
        pieces = [];
        fill = 0;
      }
    }
  }
  if (fill > 0) for (const p of seal(pieces)) parts.push(p);
  return parts;
}

/**
 * Header fields and body of one whole record (TLS 1.2 or 1.3), for the record layers' `open`.
 *
 * @param record - the record bytes, header included.
 * @returns content type, version and body (a view).
 * @throws TlsError `ERR_TLS_DECODE` when the record is shorter than its header or its length
 *   field disagrees with its size.
 */
export function splitWholeRecord(record: Uint8Array): { contentType: number; version: number; body: Uint8Array } {
  if (record.length < RECORD_HEADER_LENGTH) throw new TlsError('ERR_TLS_DECODE', 'record shorter than its header');
  const length = (record[3]! << 8) | record[4]!;
  if (record.length !== RECORD_HEADER_LENGTH + length) {
    throw new TlsError('ERR_TLS_DECODE', 'record length field disagrees with the record size',
      { context: { declared: length, actual: record.length - RECORD_HEADER_LENGTH } });
  }
  return { contentType: record[0]!, version: (record[1]! << 8) | record[2]!, body: record.subarray(RECORD_HEADER_LENGTH) };
}

/**
 * The nonce `IV XOR (0^4 || seq)` of a 12-byte-IV record (ChaCha20-Poly1305 in TLS 1.2, every TLS
 * 1.3 suite), written into `out` (a scratch buffer: node copies the nonce when it makes a cipher).
 *
 * @param iv - the 12-byte per-direction IV.
 * @param seq - the record's sequence number.
 * @param out - 12 bytes to fill.
 * @returns `out`.
 */
export function xorSequenceNonce(iv: Uint8Array, seq: bigint, out: Buffer): Buffer {
  out.fill(0, 0, 4);
  out.writeBigUInt64BE(seq, 4);
  for (let i = 0; i < 12; i++) out[i]! ^= iv[i]!;
  return out;
}

// Two functions so that each createCipheriv call matches one of node's typed overloads.
/** An AEAD encryptor with a 16-byte tag (TLS 1.2 and 1.3 record layers). */
export function aeadCipher(aead: AeadKind, key: Buffer, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  const options = { authTagLength: AEAD_TAG_LENGTH };
  return aead === 'chacha20-poly1305' ? createCipheriv(aead, key, nonce, options) : createCipheriv(aead, key, nonce, options);
}

/** An AEAD decryptor with a 16-byte tag. */
export function aeadDecipher(aead: AeadKind, key: Buffer, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  const options = { authTagLength: AEAD_TAG_LENGTH };
  return aead === 'chacha20-poly1305' ? createDecipheriv(aead, key, nonce, options) : createDecipheriv(aead, key, nonce, options);
}

/**
 * The first `n` bytes an AEAD XORs onto a plaintext sealed with `key` and the 12-byte `nonce`.
 * AES-GCM: AES-CTR from counter block `nonce || 00000002`; ChaCha20-Poly1305: ChaCha20 from
 * block counter 1 (block 0 makes the Poly1305 key).
 *
 * @param aead - the AEAD.
 * @param key - its key.
 * @param nonce - the record's nonce.
 * @param n - number of bytes.
 * @returns n keystream bytes.
 */
export function aeadKeystream(aead: AeadKind, key: Buffer, nonce: Buffer, n: number): Buffer {
  const zeros = Buffer.alloc(n);
  if (aead === 'chacha20-poly1305') {
    // node's "chacha20" IV is the 32-bit little-endian block counter followed by the nonce.
    return createCipheriv('chacha20', key, Buffer.concat([Buffer.from([1, 0, 0, 0]), nonce])).update(zeros);
  }
  const ctr = aead === 'aes-128-gcm' ? 'aes-128-ctr' : 'aes-256-ctr';
  return createCipheriv(ctr, key, Buffer.concat([nonce, Buffer.from([0, 0, 0, 2])])).update(zeros);
}

/** Options of {@link createSessionFromSecrets}. */
export interface SessionSecrets {
  /** IANA suite number negotiated by the client and the decoy. */
  suite: number;
  /** The 48-byte master secret. */
  masterSecret: Uint8Array;
  /** ClientHello.random. */
  clientRandom: Uint8Array;
  /** ServerHello.random. */
  serverRandom: Uint8Array;
  /** Which end to continue as. The station is `'server'`. */
  role: 'server' | 'client';
  /** Sequence number of the next record read. Default 1n (after the peer's Finished). */
  readSeq?: bigint;
  /** Sequence number of the next record written. Default 1n (after our Finished). */
  writeSeq?: bigint;
}

/** Both directions of a session continued from its secrets. */
export interface SessionFromSecrets {
  /** The suite. */
  readonly suite: CipherSuiteInfo;
  /** The derived key block. */
  readonly keyBlock: KeyBlock;
  /** Opens records the peer sends. */
  readonly read: RecordProtection;
  /** Seals records to the peer. */
  readonly write: RecordProtection;
}

/**
 * Continue a TLS 1.2 session from its secrets, without a handshake: what the station does with
 * the master secret and randoms it finds in a tag. Both directions start at sequence 1 by
 * default, because each side's Finished used sequence 0.
 *
 * @param secrets - suite, master secret, randoms, role and optional sequence numbers.
 * @returns the key block and a read and a write {@link RecordProtection}.
 * @throws TlsError `ERR_TLS_UNSUPPORTED_SUITE` for a suite without AEAD protection here.
 * @throws InvalidArgumentError for wrong secret lengths.
 * @example
 * ```ts
 * const s = createSessionFromSecrets({ suite: 0xc02f, masterSecret, clientRandom, serverRandom, role: 'server' })
 * const { plaintext } = s.read.open(taggedRecord)            // the client's request at seq 1
 * socket.write(s.write.seal(23, Buffer.from('hello client'))) // our first record, seq 1
 * ```
 */
export function createSessionFromSecrets(secrets: SessionSecrets): SessionFromSecrets {
  if (secrets.role !== 'server' && secrets.role !== 'client') throw new InvalidArgumentError('"role" expected "server" or "client"');
  const keyBlock = deriveKeyBlock(secrets.suite, secrets.masterSecret, secrets.clientRandom, secrets.serverRandom);
  const client = { key: keyBlock.clientWriteKey, iv: keyBlock.clientWriteIv };
  const server = { key: keyBlock.serverWriteKey, iv: keyBlock.serverWriteIv };
  const [mine, theirs] = secrets.role === 'server' ? [server, client] : [client, server];
  const read = new RecordProtection({ suite: secrets.suite, ...theirs, seq: secrets.readSeq ?? 1n });
  const write = new RecordProtection({ suite: secrets.suite, ...mine, seq: secrets.writeSeq ?? 1n });
  return { suite: read.suite, keyBlock, read, write };
}
