/**
 * TLS 1.2 handshake messages (RFC 5246 §7.4, RFC 8422 §5, RFC 6066 §8, RFC 5077 §3.3): parse
 * and emit each message body, and reassemble messages from handshake records.
 *
 * Both directions are here, client and server messages alike, so that every message round-trips
 * (`parse(emit(x))` equals `x`) and test servers can speak the protocol with the same code.
 * Parsers use `Reader`, so malformed bytes give `TlsError` `ERR_TLS_DECODE` and nothing else.
 * Semantic checks (is this suite one we offered?) belong to the state machine, not here.
 *
 * @module
 */
import { Reader, Writer } from './codec.js';
import { TlsError, decodeError } from './errors.js';
import { HandshakeType } from './wire.js';

/** Largest handshake message we accept (a long certificate chain fits easily). */
export const MAX_HANDSHAKE_MESSAGE = 0x20000;

/** One extension: type and opaque data. */
export interface Extension {
  /** Extension type number. */
  type: number;
  /** Extension data (without its type and length). */
  data: Uint8Array;
}

/** A handshake message as framed: type, body and the whole encoding for the transcript. */
export interface HandshakeMessage {
  /** Handshake type. */
  type: number;
  /** Message body (after the 4-byte header). */
  body: Uint8Array;
  /** Header and body, as hashed into the transcript. */
  raw: Uint8Array;
}

/** ClientHello (RFC 5246 §7.4.1.2). */
export interface ClientHello {
  version: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuites: number[];
  compressionMethods: number[];
  extensions: Extension[];
}

/** ServerHello (RFC 5246 §7.4.1.3). `extensions` is null when the server sent no block. */
export interface ServerHello {
  version: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[] | null;
}

/** ServerKeyExchange for ECDHE with a named curve (RFC 8422 §5.4). */
export interface EcdheServerKeyExchange {
  /** Named group. */
  group: number;
  /** The server's ephemeral public value. */
  publicKey: Uint8Array;
  /** Signature scheme (hash and signature algorithm pair). */
  scheme: number;
  /** The signature. */
  signature: Uint8Array;
  /** The signed params (curve type, group, public key) as on the wire. */
  params: Uint8Array;
}

/** CertificateRequest (RFC 5246 §7.4.4); the authority names are not kept. */
export interface CertificateRequest {
  certificateTypes: number[];
  signatureSchemes: number[];
}

/** Frame a handshake body with its 4-byte header. */
export function frameHandshake(type: number, body: Uint8Array): Buffer {
  if (body.length > 0xffffff) throw new RangeError('handshake body too long');
  const out = Buffer.allocUnsafe(4 + body.length);
  out[0] = type;
  out.writeUIntBE(body.length, 1, 3);
  out.set(body, 4);
  return out;
}

function readU16List(bytes: Uint8Array, what: string): number[] {
  if (bytes.length % 2 !== 0) throw decodeError(what);
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) out.push((bytes[i]! << 8) | bytes[i + 1]!);
  return out;
}

/**
 * Parse an extensions block (the vector after the fixed hello fields).
 *
 * @throws TlsError `ERR_TLS_DECODE` when malformed or when a type repeats.
 */
export function parseExtensions(r: Reader, what: string): Extension[] {
  const block = new Reader(r.vec16(), what);
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (block.remaining > 0) {
    const type = block.u16();
    if (seen.has(type)) throw decodeError(`${what} (repeated extension ${type})`, { extension: type });
    seen.add(type);
    out.push({ type, data: block.vec16() });
  }
  return out;
}

function writeExtensions(w: Writer, extensions: readonly Extension[]): void {
  w.vec(2, (w) => {
    for (const e of extensions) w.u16(e.type).vec(2, (w) => w.bytes(e.data));
  });
}

/** Emit a ClientHello body. */
export function emitClientHello(m: ClientHello): Buffer {
  const w = new Writer().u16(m.version).bytes(m.random).vec(1, (w) => w.bytes(m.sessionId));
  w.vec(2, (w) => { for (const s of m.cipherSuites) w.u16(s); });
  w.vec(1, (w) => { for (const c of m.compressionMethods) w.u8(c); });
  writeExtensions(w, m.extensions);
  return w.finish();
}

/** Parse a ClientHello body. */
export function parseClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body, 'ClientHello');
  const version = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8();
  if (sessionId.length > 32) throw decodeError('ClientHello session id');
  const cipherSuites = readU16List(r.vec16(), 'ClientHello cipher suites');
  const compressionMethods = [...r.vec8()];
  const extensions = r.remaining === 0 ? [] : parseExtensions(r, 'ClientHello extensions');
  r.end();
  return { version, random, sessionId, cipherSuites, compressionMethods, extensions };
}

/** Emit a ServerHello body. */
export function emitServerHello(m: ServerHello): Buffer {
  const w = new Writer().u16(m.version).bytes(m.random).vec(1, (w) => w.bytes(m.sessionId))
    .u16(m.cipherSuite).u8(m.compressionMethod);
  if (m.extensions !== null) writeExtensions(w, m.extensions);
  return w.finish();
}

/** Parse a ServerHello body. */
export function parseServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body, 'ServerHello');
  const version = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8();
  if (sessionId.length > 32) throw decodeError('ServerHello session id');
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions = r.remaining === 0 ? null : parseExtensions(r, 'ServerHello extensions');
  r.end();
  return { version, random, sessionId, cipherSuite, compressionMethod, extensions };
}

/** Emit a Certificate body from DER certificates, leaf first. */
export function emitCertificate(chain: readonly Uint8Array[]): Buffer {
  return new Writer().vec(3, (w) => { for (const c of chain) w.vec(3, (w) => w.bytes(c)); }).finish();
}

/** Parse a Certificate body into DER certificates, leaf first. */
export function parseCertificate(body: Uint8Array): Uint8Array[] {
  const r = new Reader(body, 'Certificate');
  const list = new Reader(r.vec24(), 'Certificate list');
  r.end();
  const out: Uint8Array[] = [];
  while (list.remaining > 0) {
    const der = list.vec24();
    if (der.length === 0) throw decodeError('Certificate (empty entry)');
    out.push(der);
  }
  return out;
}

/** Parse a CertificateStatus body (OCSP only); returns the OCSP response, which we do not check. */
export function parseCertificateStatus(body: Uint8Array): Uint8Array {
  const r = new Reader(body, 'CertificateStatus');
  if (r.u8() !== 1) throw decodeError('CertificateStatus (status type is not ocsp)');
  const response = r.vec24();
  r.end();
  return response;
}

/** Emit the signed params of an ECDHE ServerKeyExchange: named_curve(3), group, public key. */
export function emitEcdheParams(group: number, publicKey: Uint8Array): Buffer {
  return new Writer().u8(3).u16(group).vec(1, (w) => w.bytes(publicKey)).finish();
}

/** Emit an ECDHE ServerKeyExchange body. */
export function emitEcdheServerKeyExchange(m: Omit<EcdheServerKeyExchange, 'params'>): Buffer {
  return Buffer.concat([emitEcdheParams(m.group, m.publicKey),
    new Writer().u16(m.scheme).vec(2, (w) => w.bytes(m.signature)).finish()]);
}

/** Parse an ECDHE ServerKeyExchange body. */
export function parseEcdheServerKeyExchange(body: Uint8Array): EcdheServerKeyExchange {
  const r = new Reader(body, 'ServerKeyExchange');
  const curveType = r.u8();
  if (curveType !== 3) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'ServerKeyExchange curve type is not named_curve', { context: { curveType } });
  }
  const group = r.u16();
  const publicKey = r.vec8();
  if (publicKey.length === 0) throw decodeError('ServerKeyExchange (empty public key)');
  const params = body.subarray(0, 4 + publicKey.length);
  const scheme = r.u16();
  const signature = r.vec16();
  r.end();
  return { group, publicKey, scheme, signature, params };
}

/** Emit a CertificateRequest body (no authority names). */
export function emitCertificateRequest(m: CertificateRequest): Buffer {
  return new Writer().vec(1, (w) => { for (const c of m.certificateTypes) w.u8(c); })
    .vec(2, (w) => { for (const s of m.signatureSchemes) w.u16(s); })
    .vec(2, () => {}).finish();
}

/** Parse a CertificateRequest body. */
export function parseCertificateRequest(body: Uint8Array): CertificateRequest {
  const r = new Reader(body, 'CertificateRequest');
  const certificateTypes = [...r.vec8()];
  const signatureSchemes = readU16List(r.vec16(), 'CertificateRequest signature algorithms');
  const names = new Reader(r.vec16(), 'CertificateRequest authorities');
  while (names.remaining > 0) names.vec16();
  r.end();
  return { certificateTypes, signatureSchemes };
}

/** Parse a NewSessionTicket body (RFC 5077); we never use the ticket, only check the shape. */
export function parseNewSessionTicket(body: Uint8Array): { lifetime: number; ticket: Uint8Array } {
  const r = new Reader(body, 'NewSessionTicket');
  const lifetime = (r.u16() * 0x10000) + r.u16();
  const ticket = r.vec16();
  r.end();
  return { lifetime, ticket };
}

/** Require an empty body (ServerHelloDone, HelloRequest). */
export function parseEmpty(body: Uint8Array, what: string): void {
  if (body.length !== 0) throw decodeError(what, { length: body.length });
}

/** Emit a ClientKeyExchange body: ECDHE point (1-byte length) or RSA-encrypted secret (2-byte). */
export function emitClientKeyExchange(kind: 'ecdhe' | 'rsa', value: Uint8Array): Buffer {
  return new Writer().vec(kind === 'ecdhe' ? 1 : 2, (w) => w.bytes(value)).finish();
}

/** Parse a ClientKeyExchange body. */
export function parseClientKeyExchange(kind: 'ecdhe' | 'rsa', body: Uint8Array): Uint8Array {
  const r = new Reader(body, 'ClientKeyExchange');
  const value = kind === 'ecdhe' ? r.vec8() : r.vec16();
  r.end();
  return value;
}

/** Parse a Finished body: exactly 12 bytes of verify_data in TLS 1.2. */
export function parseFinished(body: Uint8Array): Uint8Array {
  if (body.length !== 12) throw decodeError('Finished', { length: body.length });
  return body;
}

/**
 * Reassembles handshake messages from the bodies of handshake records: a message may span
 * records and a record may hold several messages (RFC 5246 §6.2.1).
 *
 * @example
 * ```ts
 * const hs = new HandshakeDeframer()
 * hs.push(recordPlaintext)
 * for (let m = hs.next(); m !== null; m = hs.next()) handle(m)
 * ```
 */
export class HandshakeDeframer {
  #buf: Uint8Array = new Uint8Array(0);

  /** True when a partial message is buffered (records of other types must not interleave). */
  get hasPartial(): boolean {
    return this.#buf.length > 0;
  }

  /** Add the plaintext of one handshake record. */
  push(fragment: Uint8Array): void {
    this.#buf = this.#buf.length === 0 ? fragment : Buffer.concat([this.#buf, fragment]);
  }

  /**
   * Take the next whole message, if buffered.
   *
   * @returns the message, or null when more records are needed.
   * @throws TlsError `ERR_TLS_RECORD_OVERFLOW` for a message over {@link MAX_HANDSHAKE_MESSAGE}.
   */
  next(): HandshakeMessage | null {
    const b = this.#buf;
    if (b.length < 4) return null;
    const length = (b[1]! << 16) | (b[2]! << 8) | b[3]!;
    if (length > MAX_HANDSHAKE_MESSAGE) {
      throw new TlsError('ERR_TLS_RECORD_OVERFLOW', `handshake message of ${length} bytes is too large`,
        { context: { type: b[0], length } });
    }
    if (b.length < 4 + length) return null;
    const raw = b.subarray(0, 4 + length);
    this.#buf = b.subarray(4 + length);
    return { type: raw[0]!, body: raw.subarray(4), raw };
  }
}

/** Names of handshake types, for errors and logs. */
export function handshakeName(type: number): string {
  for (const [k, v] of Object.entries(HandshakeType)) if (v === type) return k;
  return `unknown(${type})`;
}
