/**
 * The checks and message builders of the client's TLS 1.3 handshake (RFC 8446 §4), as pure
 * functions the state machine in `client-core.ts` calls: read a ServerHello or
 * HelloRetryRequest against what the ClientHello offered, read EncryptedExtensions, turn a
 * Certificate or CompressedCertificate into a chain, check the CertificateVerify, and build the
 * client's encrypted flight (ALPS EncryptedExtensions, empty Certificate, Finished).
 *
 * Every check throws a `TlsError` whose code names the alert to send. No state, no I/O.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { Reader } from './codec.js';
import { TlsError } from './errors.js';
import { tls13CipherSuite, type Tls13SuiteInfo } from './cipher-suites.js';
import { decompressCertificate } from './certificate-compression.js';
import { isGrease, type OfferedParameters } from './client-hello.js';
import { frameHandshake, type Extension, type ServerHello } from './handshake-messages.js';
import {
  certificateVerifyContent, emitCertificate13, emitEncryptedExtensions, parseCertificate13, parseCertificateVerify,
  parseCompressedCertificate, type Certificate13,
} from './handshake-messages13.js';
import { verifySignature13 } from './signatures.js';
import { ExtensionType, HandshakeType, ProtocolVersion } from './wire.js';

/** What a TLS 1.3 ServerHello (or HelloRetryRequest) settled. */
export interface ServerHello13 {
  /** The suite. */
  suite: Tls13SuiteInfo;
  /** The group of the server's key share (ServerHello) or the group asked for (HRR). */
  group: number;
  /** The server's key_exchange (ServerHello only). */
  keyExchange: Uint8Array | null;
  /** The cookie to echo (HRR only). */
  cookie: Uint8Array | undefined;
}

/** The selected version from a ServerHello's supported_versions, or null when absent. */
export function selectedVersion(sh: ServerHello): number | null {
  const ext = sh.extensions?.find((e) => e.type === ExtensionType.supported_versions);
  if (ext === undefined) return null;
  const r = new Reader(ext.data, 'ServerHello supported_versions');
  const v = r.u16();
  r.end();
  return v;
}

/**
 * Check a TLS 1.3 ServerHello or HelloRetryRequest against the offer.
 *
 * @param sh - the parsed message.
 * @param offered - what the ClientHello offered.
 * @param sessionId - the legacy_session_id we sent (must be echoed).
 * @param retry - true for a HelloRetryRequest.
 * @param sharedGroups - groups we sent key shares for.
 * @returns the suite, group, and key share or cookie.
 * @throws TlsError `ERR_TLS_ILLEGAL_PARAMETER`, `ERR_TLS_UNSUPPORTED_EXTENSION`, `ERR_TLS_DECODE`.
 */
export function checkServerHello13(sh: ServerHello, offered: OfferedParameters, sessionId: Uint8Array, retry: boolean,
  sharedGroups: readonly number[]): ServerHello13 {
  if (sh.version !== ProtocolVersion.TLS12) {
    throw new TlsError('ERR_TLS_PROTOCOL_VERSION', 'TLS 1.3 ServerHello with a legacy version other than 0x0303', { context: { version: sh.version } });
  }
  if (!Buffer.from(sh.sessionId).equals(Buffer.from(sessionId))) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'ServerHello does not echo our session id');
  }
  const suite = tls13CipherSuite(sh.cipherSuite);
  if (suite === undefined || !offered.cipherSuites.has(sh.cipherSuite)) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server chose a suite we did not offer for TLS 1.3', { context: { suite: sh.cipherSuite } });
  }
  if (sh.compressionMethod !== 0) throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'TLS 1.3 ServerHello with compression');
  let group: number | null = null;
  let keyExchange: Uint8Array | null = null;
  let cookie: Uint8Array | undefined;
  for (const e of sh.extensions ?? []) {
    const r = new Reader(e.data, `ServerHello extension ${e.type}`);
    switch (e.type) {
      case ExtensionType.supported_versions:
        r.u16();
        break;
      case ExtensionType.key_share:
        group = r.u16();
        if (!retry) {
          keyExchange = r.vec16();
          if (keyExchange.length === 0) throw new TlsError('ERR_TLS_DECODE', 'empty server key share');
        }
        break;
      case ExtensionType.cookie:
        if (!retry) throw new TlsError('ERR_TLS_UNSUPPORTED_EXTENSION', 'cookie in a ServerHello');
        cookie = r.vec16();
        if (cookie.length === 0) throw new TlsError('ERR_TLS_DECODE', 'empty cookie');
        break;
      default:
        // We offered no PSK, so pre_shared_key is as unexpected as anything else here.
        throw new TlsError('ERR_TLS_UNSUPPORTED_EXTENSION', `extension ${e.type} in a TLS 1.3 ${retry ? 'HelloRetryRequest' : 'ServerHello'}`,
          { context: { extension: e.type } });
    }
    r.end();
  }
  if (group === null) {
    if (retry && cookie !== undefined) throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'HelloRetryRequest with only a cookie is not supported');
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'TLS 1.3 ServerHello without key_share');
  }
  if (isGrease(group) || !offered.groups.includes(group)) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server chose a group we did not offer', { context: { group } });
  }
  // A retry must ask for a group we have no share for; a ServerHello must use one we sent.
  if (retry === sharedGroups.includes(group)) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', retry ? 'HelloRetryRequest for a group we already sent' : 'server key share for a group we sent no share for',
      { context: { group } });
  }
  return { suite, group, keyExchange, cookie };
}

/**
 * The protocol a server's ALPN extension selected (one name, RFC 7301 §3.1), checked against the offer.
 *
 * @param r - reader over the extension data.
 * @param offered - what we offered.
 * @returns the protocol name.
 * @throws TlsError `ERR_TLS_ILLEGAL_PARAMETER` for a protocol we did not offer, `ERR_TLS_DECODE`.
 */
export function readAlpnSelection(r: Reader, offered: OfferedParameters): string {
  const list = new Reader(r.vec16(), 'ALPN list');
  const proto = Buffer.from(list.vec8()).toString('utf8');
  list.end();
  if (!offered.alpnProtocols.includes(proto)) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server chose an ALPN protocol we did not offer', { context: { alpn: proto } });
  }
  return proto;
}

/** What EncryptedExtensions settled. */
export interface EncryptedExtensionsResult {
  /** The ALPN protocol, or null. */
  alpn: string | null;
  /** Whether the server negotiated ALPS, which obliges us to send our settings. */
  alps: boolean;
}

/** Extensions a server may not put in EncryptedExtensions (RFC 8446 §4.2 table). */
const NOT_IN_EE: ReadonlySet<number> = new Set([
  ExtensionType.key_share, ExtensionType.supported_versions, ExtensionType.pre_shared_key, ExtensionType.cookie,
  ExtensionType.psk_key_exchange_modes, ExtensionType.signature_algorithms, ExtensionType.status_request,
  ExtensionType.signed_certificate_timestamp, ExtensionType.padding, ExtensionType.extended_master_secret,
  ExtensionType.renegotiation_info, ExtensionType.session_ticket, ExtensionType.ec_point_formats,
  ExtensionType.compress_certificate,
]);

/**
 * Check EncryptedExtensions against the offer.
 *
 * @param extensions - the server's extensions.
 * @param offered - what the ClientHello offered.
 * @returns the ALPN protocol and whether ALPS was negotiated.
 * @throws TlsError `ERR_TLS_UNSUPPORTED_EXTENSION` (not offered), `ERR_TLS_ILLEGAL_PARAMETER`
 *   (not allowed in EncryptedExtensions, a protocol we did not offer), `ERR_TLS_DECODE`.
 */
export function checkEncryptedExtensions(extensions: readonly Extension[], offered: OfferedParameters): EncryptedExtensionsResult {
  let alpn: string | null = null;
  let alps = false;
  for (const e of extensions) {
    if (NOT_IN_EE.has(e.type)) {
      throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', `extension ${e.type} is not allowed in EncryptedExtensions`, { context: { extension: e.type } });
    }
    // supported_groups is the server's preference list, allowed whether or not it matters to us.
    if (e.type !== ExtensionType.supported_groups && (!offered.extensions.has(e.type) || isGrease(e.type))) {
      throw new TlsError('ERR_TLS_UNSUPPORTED_EXTENSION', `server sent extension ${e.type} we did not offer`, { context: { extension: e.type } });
    }
    const r = new Reader(e.data, `EncryptedExtensions ${e.type}`);
    switch (e.type) {
      case ExtensionType.alpn:
        alpn = readAlpnSelection(r, offered);
        break;
      case ExtensionType.server_name:
        break; // an empty acknowledgement
      default:
        // supported_groups, ECH retry configs (we only GREASEd: ignored, RFC 9849 §6.2), trust
        // anchors, and ALPS, which is checked against the ALPN result below.
        if (offered.alps !== null && e.type === offered.alps.codepoint) alps = true;
        r.rest();
    }
    r.end();
  }
  if (alps && (alpn === null || !offered.alps!.protocols.includes(alpn))) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server negotiated ALPS without a matching ALPN protocol');
  }
  return { alpn, alps };
}

/**
 * The server's certificate chain from a Certificate or CompressedCertificate message.
 *
 * @param type - handshake type of the message.
 * @param body - its body.
 * @param offered - what we offered (compression algorithms).
 * @returns the parsed Certificate message.
 * @throws TlsError `ERR_TLS_UNEXPECTED_MESSAGE` for compression we did not offer,
 *   `ERR_TLS_BAD_CERTIFICATE` for bad compressed data, `ERR_TLS_DECODE`, and
 *   `ERR_TLS_ILLEGAL_PARAMETER` for a non-empty request context.
 */
export function readServerCertificate(type: number, body: Uint8Array, offered: OfferedParameters): Certificate13 {
  let certBody = body;
  if (type === HandshakeType.compressed_certificate) {
    const c = parseCompressedCertificate(body);
    if (!offered.certificateCompression.includes(c.algorithm)) {
      throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', `certificate compressed with algorithm ${c.algorithm}, which we did not offer`,
        { context: { algorithm: c.algorithm } });
    }
    certBody = decompressCertificate(c.algorithm, c.data, c.uncompressedLength);
  }
  const cert = parseCertificate13(certBody);
  if (cert.context.length !== 0) throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server Certificate with a request context');
  return cert;
}

/**
 * Check the server's CertificateVerify.
 *
 * @param body - the CertificateVerify body.
 * @param key - the leaf certificate's public key.
 * @param offered - what we offered (signature schemes).
 * @param transcriptHash - hash of ClientHello..Certificate.
 * @returns the scheme used.
 * @throws TlsError `ERR_TLS_ILLEGAL_PARAMETER` (scheme not offered), `ERR_TLS_BAD_SIGNATURE`.
 */
export function checkCertificateVerify(body: Uint8Array, key: KeyObject, offered: OfferedParameters, transcriptHash: Uint8Array): number {
  const cv = parseCertificateVerify(body);
  if (!offered.signatureSchemes.includes(cv.scheme)) {
    throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server used a signature scheme we did not offer', { context: { scheme: cv.scheme } });
  }
  if (!verifySignature13(key, cv.scheme, certificateVerifyContent('server', transcriptHash), cv.signature)) {
    throw new TlsError('ERR_TLS_BAD_SIGNATURE', 'CertificateVerify signature does not verify', { context: { scheme: cv.scheme } });
  }
  return cv.scheme;
}

/**
 * HTTP/2 SETTINGS as Chrome sends them in ALPS (and in its first SETTINGS frame): header table
 * 65536, push off, initial window 6 MiB, max header list 256 KiB.
 */
export const CHROME_H2_SETTINGS: readonly (readonly [number, number])[] = [[1, 65536], [2, 0], [4, 6291456], [6, 262144]];

/** The client's ALPS EncryptedExtensions message (type 203) with our h2 settings. */
export function clientAlpsMessage(codepoint: number): Buffer {
  const settings = Buffer.alloc(6 * CHROME_H2_SETTINGS.length);
  CHROME_H2_SETTINGS.forEach(([id, value], i) => {
    settings.writeUInt16BE(id, 6 * i);
    settings.writeUInt32BE(value, 6 * i + 2);
  });
  return frameHandshake(HandshakeType.client_encrypted_extensions, emitEncryptedExtensions([{ type: codepoint, data: settings }]));
}

/** An empty client Certificate (we never authenticate), echoing the request context. */
export function emptyClientCertificate(context: Uint8Array): Buffer {
  return frameHandshake(HandshakeType.certificate, emitCertificate13({ context, entries: [] }));
}
