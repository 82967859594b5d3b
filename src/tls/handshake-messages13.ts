/**
 * TLS 1.3 handshake messages (RFC 8446 §4.3–4.6, RFC 8879): parse and emit EncryptedExtensions,
 * the TLS 1.3 Certificate with per-entry extensions, CompressedCertificate, CertificateVerify,
 * NewSessionTicket, KeyUpdate, and the synthetic message_hash of a HelloRetryRequest; the
 * HelloRetryRequest marker and the CertificateVerify signed content.
 *
 * Both directions, so test servers speak with the same code. Parsers use `Reader`: malformed
 * bytes are `ERR_TLS_DECODE`. ClientHello and ServerHello share their TLS 1.2 form
 * (`handshake-messages.ts`).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Reader, Writer } from './codec.js';
import { decodeError } from './errors.js';
import { frameHandshake, parseExtensions, type Extension } from './handshake-messages.js';
import type { Tls13Hash } from './cipher-suites.js';
import { HandshakeType } from './wire.js';

/** ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3). */
export const HELLO_RETRY_REQUEST_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** Largest uncompressed certificate message we accept from a CompressedCertificate (2^24 − 1 is the wire limit). */
export const MAX_UNCOMPRESSED_CERTIFICATE = 0x20000;

function writeExtensionBlock(w: Writer, extensions: readonly Extension[]): void {
  w.vec(2, (w) => {
    for (const e of extensions) w.u16(e.type).vec(2, (w) => w.bytes(e.data));
  });
}

/** Emit an EncryptedExtensions body. */
export function emitEncryptedExtensions(extensions: readonly Extension[]): Buffer {
  const w = new Writer();
  writeExtensionBlock(w, extensions);
  return w.finish();
}

/** Parse an EncryptedExtensions body. */
export function parseEncryptedExtensions(body: Uint8Array): Extension[] {
  const r = new Reader(body, 'EncryptedExtensions');
  const out = parseExtensions(r, 'EncryptedExtensions');
  r.end();
  return out;
}

/** One entry of a TLS 1.3 Certificate message. */
export interface CertificateEntry13 {
  /** DER certificate. */
  der: Uint8Array;
  /** Per-entry extensions (OCSP status, SCTs). */
  extensions: Extension[];
}

/** A TLS 1.3 Certificate message. */
export interface Certificate13 {
  /** certificate_request_context (empty in a server's handshake Certificate). */
  context: Uint8Array;
  /** Entries, leaf first. */
  entries: CertificateEntry13[];
}

/** Emit a TLS 1.3 Certificate body. */
export function emitCertificate13(m: Certificate13): Buffer {
  return new Writer().vec(1, (w) => w.bytes(m.context)).vec(3, (w) => {
    for (const e of m.entries) {
      w.vec(3, (w) => w.bytes(e.der));
      writeExtensionBlock(w, e.extensions);
    }
  }).finish();
}

/** Parse a TLS 1.3 Certificate body. */
export function parseCertificate13(body: Uint8Array): Certificate13 {
  const r = new Reader(body, 'Certificate');
  const context = r.vec8();
  const list = new Reader(r.vec24(), 'Certificate list');
  r.end();
  const entries: CertificateEntry13[] = [];
  while (list.remaining > 0) {
    const der = list.vec24();
    if (der.length === 0) throw decodeError('Certificate (empty entry)');
    entries.push({ der, extensions: parseExtensions(list, 'Certificate entry extensions') });
  }
  return { context, entries };
}

/** A CompressedCertificate message (RFC 8879 §4). */
export interface CompressedCertificate {
  /** Compression algorithm (1 zlib, 2 brotli, 3 zstd). */
  algorithm: number;
  /** Length of the Certificate message body once decompressed. */
  uncompressedLength: number;
  /** The compressed Certificate body. */
  data: Uint8Array;
}

/** Emit a CompressedCertificate body. */
export function emitCompressedCertificate(m: CompressedCertificate): Buffer {
  return new Writer().u16(m.algorithm).u24(m.uncompressedLength).vec(3, (w) => w.bytes(m.data)).finish();
}

/** Parse a CompressedCertificate body. */
export function parseCompressedCertificate(body: Uint8Array): CompressedCertificate {
  const r = new Reader(body, 'CompressedCertificate');
  const algorithm = r.u16();
  const uncompressedLength = r.u24();
  const data = r.vec24();
  r.end();
  if (data.length === 0) throw decodeError('CompressedCertificate (empty data)');
  return { algorithm, uncompressedLength, data };
}

/** A CertificateVerify message. */
export interface CertificateVerify {
  /** Signature scheme. */
  scheme: number;
  /** The signature. */
  signature: Uint8Array;
}

/** Emit a CertificateVerify body. */
export function emitCertificateVerify(m: CertificateVerify): Buffer {
  return new Writer().u16(m.scheme).vec(2, (w) => w.bytes(m.signature)).finish();
}

/** Parse a CertificateVerify body. */
export function parseCertificateVerify(body: Uint8Array): CertificateVerify {
  const r = new Reader(body, 'CertificateVerify');
  const scheme = r.u16();
  const signature = r.vec16();
  r.end();
  return { scheme, signature };
}

/**
 * The content a CertificateVerify signs (RFC 8446 §4.4.3): 64 spaces, the context string, a zero
 * byte, and the transcript hash.
 *
 * @param side - whose CertificateVerify.
 * @param transcriptHash - hash of the messages up to the Certificate.
 * @returns the bytes to sign or verify.
 */
export function certificateVerifyContent(side: 'server' | 'client', transcriptHash: Uint8Array): Buffer {
  const label = side === 'server' ? 'TLS 1.3, server CertificateVerify' : 'TLS 1.3, client CertificateVerify';
  return Buffer.concat([Buffer.alloc(64, 0x20), Buffer.from(label, 'ascii'), Buffer.alloc(1), transcriptHash]);
}

/** A TLS 1.3 NewSessionTicket. */
export interface NewSessionTicket13 {
  lifetime: number;
  ageAdd: number;
  nonce: Uint8Array;
  ticket: Uint8Array;
  extensions: Extension[];
}

/** Emit a TLS 1.3 NewSessionTicket body. */
export function emitNewSessionTicket13(m: NewSessionTicket13): Buffer {
  const w = new Writer().u16(m.lifetime >>> 16).u16(m.lifetime & 0xffff).u16(m.ageAdd >>> 16).u16(m.ageAdd & 0xffff)
    .vec(1, (w) => w.bytes(m.nonce)).vec(2, (w) => w.bytes(m.ticket));
  writeExtensionBlock(w, m.extensions);
  return w.finish();
}

/** Parse a TLS 1.3 NewSessionTicket body (we never resume; the shape is still checked). */
export function parseNewSessionTicket13(body: Uint8Array): NewSessionTicket13 {
  const r = new Reader(body, 'NewSessionTicket');
  const lifetime = r.u16() * 0x10000 + r.u16();
  const ageAdd = r.u16() * 0x10000 + r.u16();
  const nonce = r.vec8();
  const ticket = r.vec16();
  if (ticket.length === 0) throw decodeError('NewSessionTicket (empty ticket)');
  const extensions = parseExtensions(r, 'NewSessionTicket extensions');
  r.end();
  return { lifetime, ageAdd, nonce, ticket, extensions };
}

/**
 * Parse a KeyUpdate body.
 *
 * @returns true when the peer requests that we update our keys too.
 * @throws TlsError `ERR_TLS_DECODE` unless the body is one byte, 0 or 1.
 */
export function parseKeyUpdate(body: Uint8Array): boolean {
  if (body.length !== 1 || body[0]! > 1) throw decodeError('KeyUpdate', { length: body.length });
  return body[0] === 1;
}

/** Emit a KeyUpdate message (header included). */
export function keyUpdateMessage(requestUpdate: boolean): Buffer {
  return frameHandshake(HandshakeType.key_update, Uint8Array.of(requestUpdate ? 1 : 0));
}

/**
 * The synthetic `message_hash` handshake message that stands for ClientHello1 in the transcript
 * after a HelloRetryRequest (RFC 8446 §4.4.1).
 *
 * @param hash - the negotiated suite's hash.
 * @param clientHello1 - the first ClientHello message, header included.
 * @returns the framed message.
 */
export function messageHash(hash: Tls13Hash, clientHello1: Uint8Array): Buffer {
  return frameHandshake(HandshakeType.message_hash, createHash(hash).update(clientHello1).digest());
}

/** A TLS 1.3 CertificateRequest: its context (echoed in our Certificate) and extensions. */
export interface CertificateRequest13 {
  context: Uint8Array;
  extensions: Extension[];
}

/** Emit a TLS 1.3 CertificateRequest body. */
export function emitCertificateRequest13(m: CertificateRequest13): Buffer {
  const w = new Writer().vec(1, (w) => w.bytes(m.context));
  writeExtensionBlock(w, m.extensions);
  return w.finish();
}

/** Parse a TLS 1.3 CertificateRequest body. */
export function parseCertificateRequest13(body: Uint8Array): CertificateRequest13 {
  const r = new Reader(body, 'CertificateRequest');
  const context = r.vec8();
  const extensions = parseExtensions(r, 'CertificateRequest extensions');
  r.end();
  return { context, extensions };
}
