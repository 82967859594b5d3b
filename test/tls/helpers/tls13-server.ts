/**
 * A scripted TLS 1.3 server for the TLS tests, built on our own key schedule, record layer and
 * message codec. By default it runs a correct handshake with whatever the client offers (our
 * first TLS 1.3 suite and key share group, X25519MLKEM768 included), and a test can bend it:
 * force a group (a HelloRetryRequest when the client sent no share for it, with a cookie),
 * compress the certificate, negotiate ALPS, request a client certificate, send tickets or data
 * in the first flight or after the client's Finished, send a KeyUpdate, or corrupt any message.
 * node:tls cannot do ML-KEM, certificate compression, ALPS or these faults.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { startRawServer } from './fixtures.js';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { tls13CipherSuite, type Tls13SuiteInfo } from '../../../src/tls/cipher-suites.js';
import { compressCertificate } from '../../../src/tls/certificate-compression.js';
import { HandshakeDeframer, emitServerHello, frameHandshake, parseClientHello, type ClientHello, type Extension } from '../../../src/tls/handshake-messages.js';
import {
  HELLO_RETRY_REQUEST_RANDOM, certificateVerifyContent, emitCertificate13, emitCertificateRequest13, emitCompressedCertificate,
  emitEncryptedExtensions, emitNewSessionTicket13, keyUpdateMessage, messageHash,
} from '../../../src/tls/handshake-messages13.js';
import { answerKeyShare } from '../../../src/tls/key-share.js';
import { RecordDeframer, frameRecord } from '../../../src/tls/record-deframer.js';
import { Tls13RecordProtection } from '../../../src/tls/record-layer13.js';
import { signWithScheme } from '../../../src/tls/signatures.js';
import { applicationSecrets, finishedVerifyData13, handshakeSecrets, transcriptHash13 } from '../../../src/tls/tls13-keys.js';
import { Reader } from '../../../src/tls/codec.js';
import { ContentType, ExtensionType, HandshakeType, SignatureScheme } from '../../../src/tls/wire.js';

/** The server side of a finished TLS 1.3 handshake. */
export interface Session13 {
  socket: Socket;
  read: Tls13RecordProtection;
  write: Tls13RecordProtection;
  /** Seal and send one record. */
  send(type: number, data: Uint8Array): void;
}

/** How the server behaves; every field is optional except the credentials. */
export interface Tls13Script {
  key: string;
  cert: string;
  /** Suite (default: the first TLS 1.3 suite the client offers). */
  suite?: number;
  /** Group (default: the first key share the client sent); a group without a share gets an HRR. */
  group?: number;
  /** Cookie for the HelloRetryRequest. */
  cookie?: Buffer;
  /** ALPN answer: a protocol, `null` for none; default the client's first. */
  alpn?: string | null;
  /** Negotiate ALPS (with these settings bytes) when the client offers it and ALPN chose h2. */
  alps?: Buffer;
  /** Send CompressedCertificate with this algorithm (2 brotli, 1 zlib). */
  compressCertificate?: number;
  /** Send a CertificateRequest with this context. */
  certificateRequest?: Buffer;
  /** Extra EncryptedExtensions. */
  extraEncryptedExtensions?: Extension[];
  /** Extra ServerHello extensions. */
  extraServerHelloExtensions?: Extension[];
  /** CertificateVerify scheme (default PSS-SHA256 for RSA, ECDSA-P256-SHA256 for EC). */
  scheme?: number;
  /** NewSessionTicket messages sent right after the server Finished (Go and BoringSSL do this). */
  ticketsInFirstFlight?: number;
  /** NewSessionTicket messages sent after the client's Finished (OpenSSL does 2). Default 2. */
  tickets?: number;
  /** Application data sent right after the tickets that follow the client's Finished. */
  appDataAfterHandshake?: Buffer;
  /** Send a KeyUpdate after the handshake (true: request one back). */
  keyUpdate?: boolean;
  /** Edit the encrypted flight's messages (EE, [CR], Certificate, CertificateVerify, Finished). */
  editFlight?: (messages: Buffer[]) => Buffer[];
  /** Edit the ServerHello message (header included). */
  editServerHello?: (message: Buffer) => Buffer;
  /** Replace the whole answer to the first ClientHello. */
  respond?: (hello: ClientHello, socket: Socket) => void;
  /** After the handshake (default: echo application data). */
  onTraffic?: (session: Session13) => void;
}

/** What the server observed. */
export interface Tls13Events {
  clientHellos: ClientHello[];
  /** Raw ClientHello messages, header included. */
  clientHelloMessages: Buffer[];
  clientFinishedOk: boolean[];
  /** Client handshake messages after ServerHello (types). */
  clientMessages: number[];
  /** Application data received. */
  received: Buffer[];
  alerts: [number, number][];
  /** Change cipher spec records received. */
  ccs: number;
  /** Sequence number of each client application record, in order. */
  clientRecordSeqs: bigint[];
}

/** A running server. */
export interface Tls13Server {
  port: number;
  events: Tls13Events;
  close(): Promise<void>;
}

/** Start a scripted TLS 1.3 server on 127.0.0.1. */
export async function startTls13Server(script: Tls13Script): Promise<Tls13Server> {
  const events: Tls13Events = { clientHellos: [], clientHelloMessages: [], clientFinishedOk: [], clientMessages: [], received: [], alerts: [], ccs: 0, clientRecordSeqs: [] };
  const raw = await startRawServer((socket) => serve(socket, script, events));
  return { port: raw.port, events, close: raw.close };
}

function extensionOf(h: ClientHello, type: number): Uint8Array | undefined {
  return h.extensions.find((e) => e.type === type)?.data;
}

/** The client's key shares, by group. */
function keyShares(h: ClientHello): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const data = extensionOf(h, ExtensionType.key_share);
  if (data === undefined) return out;
  const list = new Reader(new Reader(data, 'key_share').vec16(), 'shares');
  while (list.remaining > 0) {
    const g = list.u16();
    out.set(g, list.vec16());
  }
  return out;
}

function alpnList(h: ClientHello): string[] {
  const data = extensionOf(h, ExtensionType.alpn);
  if (data === undefined) return [];
  const r = new Reader(new Reader(data, 'alpn').vec16(), 'alpn list');
  const out: string[] = [];
  while (r.remaining > 0) out.push(Buffer.from(r.vec8()).toString());
  return out;
}

function u16(v: number): Buffer {
  return Buffer.from([v >> 8, v & 0xff]);
}

function vec16(b: Uint8Array): Buffer {
  return Buffer.concat([u16(b.length), b]);
}

function serve(socket: Socket, script: Tls13Script, events: Tls13Events): void {
  const key = createPrivateKey(script.key);
  const leaf = new X509Certificate(script.cert);
  const records = new RecordDeframer();
  const messages = new HandshakeDeframer();
  let transcript: Uint8Array[] = [];
  let suite: Tls13SuiteInfo | undefined;
  let hs: ReturnType<typeof handshakeSecrets> | undefined;
  let read: Tls13RecordProtection | undefined;
  let session: Session13 | undefined;
  let retried = false;
  let expectedFinished: Buffer | undefined;
  let appClient: Buffer | undefined;
  let appServer: Buffer | undefined;

  const onClientHello = (h: ClientHello, raw: Uint8Array): void => {
    events.clientHellos.push(h);
    events.clientHelloMessages.push(Buffer.from(raw));
    if (!retried && script.respond !== undefined) {
      script.respond(h, socket);
      return;
    }
    suite ??= tls13CipherSuite(script.suite ?? h.cipherSuites.find((s) => tls13CipherSuite(s) !== undefined)!)!;
    const shares = keyShares(h);
    const group = script.group ?? [...shares.keys()].find((g) => (g & 0x0f0f) !== 0x0a0a)!;
    const clientShare = shares.get(group);
    if (clientShare === undefined) {
      // HelloRetryRequest: ClientHello1 becomes message_hash in the transcript.
      retried = true;
      const exts: Extension[] = [
        { type: ExtensionType.supported_versions, data: u16(0x0304) },
        { type: ExtensionType.key_share, data: u16(group) },
        ...(script.cookie === undefined ? [] : [{ type: ExtensionType.cookie, data: vec16(script.cookie) }]),
      ];
      const hrr = frameHandshake(HandshakeType.server_hello, emitServerHello({
        version: 0x0303, random: HELLO_RETRY_REQUEST_RANDOM, sessionId: h.sessionId, cipherSuite: suite.id, compressionMethod: 0, extensions: exts,
      }));
      transcript = [messageHash(suite.hash, raw), hrr];
      socket.write(Buffer.concat([frameRecord(ContentType.handshake, 0x0303, hrr), frameRecord(ContentType.change_cipher_spec, 0x0303, Buffer.from([1]))]));
      return;
    }
    transcript.push(raw);
    const answer = answerKeyShare(group, clientShare);
    let sh = frameHandshake(HandshakeType.server_hello, emitServerHello({
      version: 0x0303, random: randomBytes(32), sessionId: h.sessionId, cipherSuite: suite.id, compressionMethod: 0,
      extensions: [
        { type: ExtensionType.supported_versions, data: u16(0x0304) },
        { type: ExtensionType.key_share, data: Buffer.concat([u16(group), vec16(answer.keyExchange)]) },
        ...(script.extraServerHelloExtensions ?? []),
      ],
    }));
    sh = script.editServerHello?.(sh) ?? sh;
    transcript.push(sh);
    hs = handshakeSecrets(suite.hash, answer.secret, transcriptHash13(suite.hash, transcript));
    const write = new Tls13RecordProtection({ suite: suite.id, secret: hs.server });
    read = new Tls13RecordProtection({ suite: suite.id, secret: hs.client });

    const offered = alpnList(h);
    const alpn = script.alpn === undefined ? (offered[0] ?? null) : script.alpn;
    const ee: Extension[] = [...(script.extraEncryptedExtensions ?? [])];
    if (alpn !== null && offered.length > 0) ee.push({ type: ExtensionType.alpn, data: vec16(Buffer.concat([Buffer.from([alpn.length]), Buffer.from(alpn)])) });
    const alpsOffered = extensionOf(h, ExtensionType.application_settings);
    if (script.alps !== undefined && alpsOffered !== undefined && alpn === 'h2') ee.push({ type: ExtensionType.application_settings, data: script.alps });
    let flight: Buffer[] = [frameHandshake(HandshakeType.encrypted_extensions, emitEncryptedExtensions(ee))];
    if (script.certificateRequest !== undefined) {
      flight.push(frameHandshake(HandshakeType.certificate_request, emitCertificateRequest13({
        context: script.certificateRequest,
        extensions: [{ type: ExtensionType.signature_algorithms, data: vec16(u16(SignatureScheme.rsa_pss_rsae_sha256)) }],
      })));
    }
    const certBody = emitCertificate13({ context: Buffer.alloc(0), entries: [{ der: leaf.raw, extensions: [] }] });
    flight.push(script.compressCertificate === undefined
      ? frameHandshake(HandshakeType.certificate, certBody)
      : frameHandshake(HandshakeType.compressed_certificate, emitCompressedCertificate({
        algorithm: script.compressCertificate, uncompressedLength: certBody.length, data: compressCertificate(script.compressCertificate, certBody),
      })));
    const scheme = script.scheme ?? (key.asymmetricKeyType === 'ec' ? SignatureScheme.ecdsa_secp256r1_sha256 : SignatureScheme.rsa_pss_rsae_sha256);
    const signature = signWithScheme(key, scheme, certificateVerifyContent('server', transcriptHash13(suite.hash, [...transcript, ...flight])));
    flight.push(frameHandshake(HandshakeType.certificate_verify, Buffer.concat([u16(scheme), vec16(signature)])));
    flight.push(frameHandshake(HandshakeType.finished, finishedVerifyData13(suite.hash, hs.server, transcriptHash13(suite.hash, [...transcript, ...flight]))));
    flight = script.editFlight?.(flight) ?? flight;
    transcript.push(...flight);
    const app = applicationSecrets(suite.hash, hs.handshakeSecret, transcriptHash13(suite.hash, transcript));
    appClient = app.client;
    appServer = app.server;
    const out = [frameRecord(ContentType.handshake, 0x0303, sh)];
    if (!retried) out.push(frameRecord(ContentType.change_cipher_spec, 0x0303, Buffer.from([1])));
    out.push(write.seal(ContentType.handshake, Buffer.concat(flight)));
    const appWrite = new Tls13RecordProtection({ suite: suite.id, secret: appServer });
    for (let i = 0; i < (script.ticketsInFirstFlight ?? 0); i++) out.push(appWrite.seal(ContentType.handshake, ticket(i)));
    socket.write(Buffer.concat(out));
    const s: Session13 = {
      socket, read: undefined as unknown as Tls13RecordProtection, write: appWrite,
      send: (type, data) => socket.write(s.write.seal(type, data)),
    };
    session = s;
  };

  const onClientFinished = (body: Uint8Array): void => {
    events.clientFinishedOk.push(expectedFinished !== undefined && expectedFinished.equals(Buffer.from(body)));
    const s = session!;
    s.read = new Tls13RecordProtection({ suite: suite!.id, secret: appClient! });
    read = s.read;
    const out: Buffer[] = [];
    for (let i = 0; i < (script.tickets ?? 2); i++) out.push(s.write.seal(ContentType.handshake, ticket(100 + i)));
    if (script.appDataAfterHandshake !== undefined) out.push(s.write.seal(ContentType.application_data, script.appDataAfterHandshake));
    if (script.keyUpdate !== undefined) {
      out.push(s.write.seal(ContentType.handshake, keyUpdateMessage(script.keyUpdate)));
      s.write = s.write.rekey();
    }
    if (out.length > 0) socket.write(Buffer.concat(out));
    script.onTraffic?.(s);
  };

  socket.on('data', (chunk: Buffer) => {
    try {
      records.push(chunk);
      for (let rec = records.next(); rec !== null; rec = records.next()) {
        if (rec.contentType === ContentType.change_cipher_spec) {
          events.ccs++;
          continue;
        }
        let type = rec.contentType;
        let plaintext: Uint8Array = rec.body;
        if (rec.contentType === ContentType.application_data && read !== undefined) {
          const seq = read.sequence;
          ({ contentType: type, plaintext } = read.openFragment(rec.contentType, rec.version, rec.body));
          if (type === ContentType.application_data) events.clientRecordSeqs.push(seq);
        }
        if (type === ContentType.alert) {
          events.alerts.push([plaintext[0]!, plaintext[1]!]);
        } else if (type === ContentType.application_data) {
          events.received.push(Buffer.from(plaintext));
          if (script.onTraffic === undefined) session?.send(ContentType.application_data, plaintext);
        } else if (type === ContentType.handshake) {
          messages.push(plaintext);
          for (let m = messages.next(); m !== null; m = messages.next()) {
            if (m.type === HandshakeType.client_hello) {
              onClientHello(parseClientHello(m.body), m.raw);
              continue;
            }
            events.clientMessages.push(m.type);
            if (m.type === HandshakeType.finished) {
              expectedFinished = finishedVerifyData13(suite!.hash, hs!.client, transcriptHash13(suite!.hash, transcript));
              transcript.push(m.raw);
              onClientFinished(m.body);
            } else if (m.type === HandshakeType.key_update) {
              read = read!.rekey();
              if (session !== undefined) session.read = read;
            } else {
              transcript.push(m.raw);
            }
          }
        }
      }
    } catch {
      socket.destroy();
    }
  });
}

function ticket(n: number): Buffer {
  return frameHandshake(HandshakeType.new_session_ticket, emitNewSessionTicket13({
    lifetime: 7200, ageAdd: n, nonce: Buffer.from([n]), ticket: randomBytes(64), extensions: [],
  }));
}
