/**
 * A scripted TLS 1.2 server for the TLS tests, built on our own record layer and handshake codec.
 * It speaks a correct ECDHE (or RSA) handshake by default and lets a test bend any step: the
 * ServerHello fields and extensions, the key-exchange value, the signature, the order and bytes
 * of each flight, the Finished, and what happens after the handshake. node:tls cannot produce
 * these faults.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { startRawServer } from './fixtures.js';
import { X509Certificate, constants, createPrivateKey, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import { cipherSuite, type CipherSuiteInfo } from '../../../src/tls/cipher-suites.js';
import {
  HandshakeDeframer, emitCertificate, emitEcdheParams, emitServerHello, frameHandshake, parseClientHello,
  parseClientKeyExchange, type ClientHello, type Extension,
} from '../../../src/tls/handshake-messages.js';
import { generateEcdhe, type EcdheKeyPair } from '../../../src/tls/key-exchange.js';
import { RecordDeframer, frameRecord } from '../../../src/tls/record-deframer.js';
import { RecordProtection } from '../../../src/tls/record-layer.js';
import { signWithScheme } from '../../../src/tls/signatures.js';
import { deriveKeyBlock, deriveMasterSecret, finishedVerifyData, transcriptHash } from '../../../src/tls/tls12-keys.js';
import { ContentType, ExtensionType, HandshakeType, NamedGroup, SignatureScheme } from '../../../src/tls/wire.js';

/** The server's view of a finished handshake, for traffic hooks. */
export interface ServerSession {
  socket: Socket;
  read: RecordProtection;
  write: RecordProtection;
  /** Seal and send one record. */
  send(type: number, data: Uint8Array): void;
}

/** How the fake server behaves. Every hook is optional; the default is a correct handshake. */
export interface FakeServerScript {
  /** PEM private key and certificate. */
  key: string;
  cert: string;
  /** Suite to choose (default 0xc02f, or 0xc02b for an EC key). */
  suite?: number;
  /** Group for ECDHE (default X25519). */
  group?: number;
  /** Signature scheme (default PSS-SHA256 for RSA, ECDSA-SHA256 for EC). */
  scheme?: number;
  /** ServerHello.version (default 0x0303). */
  version?: number;
  /** ServerHello.random (default random). */
  serverRandom?: Buffer;
  /** ServerHello.compression_method (default 0). */
  compression?: number;
  /** ServerHello extensions (default: renegotiation_info and extended_master_secret when offered). */
  extensions?: (hello: ClientHello) => Extension[];
  /** Replace our ECDHE public value (the signature still covers what is sent). */
  serverPublicKey?: Buffer;
  /** Sign the ServerKeyExchange with this key instead. */
  signingKey?: KeyObject;
  /** Edit the first flight's handshake messages (ServerHello, Certificate, [SKE], ServerHelloDone). */
  editFlight?: (messages: Buffer[]) => Buffer[];
  /** Edit the first flight's bytes (records). */
  editFlightBytes?: (bytes: Buffer) => Buffer;
  /** Edit the server Finished verify_data. */
  editFinished?: (verifyData: Buffer) => Buffer;
  /** Edit the second flight's bytes (ChangeCipherSpec + Finished records). */
  editSecondFlightBytes?: (bytes: Buffer, session: ServerSession) => Buffer;
  /** Answer the ClientHello yourself (skips everything else). */
  respond?: (hello: ClientHello, socket: Socket) => void;
  /** After the handshake (default: echo application data). */
  onTraffic?: (session: ServerSession) => void;
  /** Close the socket this long after sending the first flight if the client has not answered. */
  closeAfterMs?: number;
}

/** What the fake server observed. */
export interface FakeServerEvents {
  clientHellos: ClientHello[];
  /** Whether each client Finished verified. */
  clientFinishedOk: boolean[];
  /** Application data received. */
  received: Buffer[];
  /** Alerts received (level, description). */
  alerts: [number, number][];
}

/** A running fake server. */
export interface FakeServer {
  port: number;
  events: FakeServerEvents;
  close(): Promise<void>;
}

/** Start a fake server on 127.0.0.1. */
export async function startFakeServer(script: FakeServerScript): Promise<FakeServer> {
  const events: FakeServerEvents = { clientHellos: [], clientFinishedOk: [], received: [], alerts: [] };
  const raw = await startRawServer((socket) => serve(socket, script, events));
  return { port: raw.port, events, close: raw.close };
}

function serve(socket: Socket, script: FakeServerScript, events: FakeServerEvents): void {
  const key = createPrivateKey(script.key);
  const leaf = new X509Certificate(script.cert);
  const ec = key.asymmetricKeyType === 'ec';
  const suite: CipherSuiteInfo = cipherSuite(script.suite ?? (ec ? 0xc02b : 0xc02f)) ?? fakeSuite(script.suite!);
  const records = new RecordDeframer();
  const messages = new HandshakeDeframer();
  const transcript: Uint8Array[] = [];
  let hello: ClientHello | undefined;
  let serverRandom = script.serverRandom ?? randomBytes(32);
  let ecdhe: EcdheKeyPair | undefined;
  let ems = false;
  let masterSecret: Buffer | undefined;
  let read: RecordProtection | undefined;
  let session: ServerSession | undefined;
  let closeTimer: NodeJS.Timeout | undefined;

  const sendFirstFlight = (): void => {
    const h = hello!;
    const exts = script.extensions?.(h) ?? defaultExtensions(h);
    ems = exts.some((e) => e.type === ExtensionType.extended_master_secret);
    const sh = emitServerHello({
      version: script.version ?? 0x0303, random: serverRandom, sessionId: randomBytes(32),
      cipherSuite: suite.id, compressionMethod: script.compression ?? 0, extensions: exts,
    });
    let flight = [frameHandshake(HandshakeType.server_hello, sh), frameHandshake(HandshakeType.certificate, emitCertificate([leaf.raw]))];
    if (suite.keyExchange !== 'RSA') {
      const group = script.group ?? NamedGroup.x25519;
      // A script announcing a group we cannot run supplies its own public value.
      if (script.serverPublicKey === undefined) ecdhe = generateEcdhe(group);
      const params = emitEcdheParams(group, script.serverPublicKey ?? ecdhe!.publicKey);
      const scheme = script.scheme ?? (ec ? SignatureScheme.ecdsa_secp256r1_sha256 : SignatureScheme.rsa_pss_rsae_sha256);
      const signature = signWithScheme(script.signingKey ?? key, scheme, Buffer.concat([h.random, serverRandom, params]));
      const ske = Buffer.concat([params, Buffer.from([scheme >> 8, scheme & 0xff, signature.length >> 8, signature.length & 0xff]), signature]);
      flight.push(frameHandshake(HandshakeType.server_key_exchange, ske));
    }
    flight.push(frameHandshake(HandshakeType.server_hello_done, Buffer.alloc(0)));
    flight = script.editFlight?.(flight) ?? flight;
    transcript.push(...flight);
    const bytes = frameRecord(ContentType.handshake, 0x0303, Buffer.concat(flight));
    socket.write(script.editFlightBytes?.(bytes) ?? bytes);
    if (script.closeAfterMs !== undefined) closeTimer = setTimeout(() => socket.destroy(), script.closeAfterMs);
  };

  const onClientKeyExchange = (body: Uint8Array): void => {
    clearTimeout(closeTimer);
    let pms: Buffer;
    if (ecdhe !== undefined) {
      pms = ecdhe.deriveSecret(parseClientKeyExchange('ecdhe', body));
    } else {
      pms = rsaPkcs1Decrypt(key, parseClientKeyExchange('rsa', body));
    }
    masterSecret = ems
      ? deriveMasterSecret(suite.prfHash, pms, { sessionHash: transcriptHash(suite.prfHash, transcript) })
      : deriveMasterSecret(suite.prfHash, pms, { clientRandom: Buffer.from(hello!.random), serverRandom });
  };

  const keys = (): ReturnType<typeof deriveKeyBlock> => deriveKeyBlock(suite.id, masterSecret!, hello!.random, serverRandom);

  const onClientFinished = (verifyData: Uint8Array): void => {
    const expected = finishedVerifyData(suite.prfHash, masterSecret!, 'client', transcriptHash(suite.prfHash, transcript.slice(0, -1)));
    events.clientFinishedOk.push(expected.equals(Buffer.from(verifyData)));
    const kb = keys();
    const write = new RecordProtection({ suite: suite.id, key: kb.serverWriteKey, iv: kb.serverWriteIv });
    session = {
      socket, read: read!, write,
      send: (type, data) => socket.write(write.seal(type, data)),
    };
    const fin = finishedVerifyData(suite.prfHash, masterSecret!, 'server', transcriptHash(suite.prfHash, transcript));
    const finMsg = frameHandshake(HandshakeType.finished, script.editFinished?.(fin) ?? fin);
    const bytes = Buffer.concat([frameRecord(ContentType.change_cipher_spec, 0x0303, Buffer.from([1])), write.seal(ContentType.handshake, finMsg)]);
    socket.write(script.editSecondFlightBytes?.(bytes, session) ?? bytes);
    script.onTraffic?.(session);
  };

  socket.on('data', (chunk: Buffer) => {
    try {
      records.push(chunk);
      for (let rec = records.next(); rec !== null; rec = records.next()) {
        const plaintext = read !== undefined ? read.openFragment(rec.contentType, rec.version, rec.body).plaintext : rec.body;
        if (rec.contentType === ContentType.alert) {
          events.alerts.push([plaintext[0]!, plaintext[1]!]);
        } else if (rec.contentType === ContentType.change_cipher_spec) {
          const kb = keys();
          read = new RecordProtection({ suite: suite.id, key: kb.clientWriteKey, iv: kb.clientWriteIv });
        } else if (rec.contentType === ContentType.application_data) {
          events.received.push(Buffer.from(plaintext));
          if (script.onTraffic === undefined) session?.send(ContentType.application_data, plaintext);
        } else if (rec.contentType === ContentType.handshake) {
          messages.push(plaintext);
          for (let m = messages.next(); m !== null; m = messages.next()) {
            transcript.push(m.raw);
            if (m.type === HandshakeType.client_hello) {
              hello = parseClientHello(m.body);
              events.clientHellos.push(hello);
              if (script.serverRandom === undefined) serverRandom = randomBytes(32);
              if (script.respond !== undefined) script.respond(hello, socket);
              else sendFirstFlight();
            } else if (m.type === HandshakeType.client_key_exchange) {
              onClientKeyExchange(m.body);
            } else if (m.type === HandshakeType.finished) {
              onClientFinished(m.body);
            }
          }
        }
      }
    } catch {
      socket.destroy();
    }
  });
}

/**
 * PKCS#1 v1.5 decryption done by hand: node 20 refuses RSA_PKCS1_PADDING in privateDecrypt
 * (Marvin attack). Test code only; it is not constant-time.
 */
function rsaPkcs1Decrypt(key: KeyObject, ciphertext: Uint8Array): Buffer {
  const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, ciphertext);
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) throw new Error('bad PKCS#1 v1.5 padding');
  return em.subarray(sep + 1);
}

function defaultExtensions(h: ClientHello): Extension[] {
  const out: Extension[] = [];
  const offered = new Set(h.extensions.map((e) => e.type));
  if (offered.has(ExtensionType.renegotiation_info)) out.push({ type: ExtensionType.renegotiation_info, data: Buffer.from([0]) });
  if (offered.has(ExtensionType.extended_master_secret)) out.push({ type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
  return out;
}

/** A stand-in for suites we do not implement, so a script can announce them in a ServerHello. */
function fakeSuite(id: number): CipherSuiteInfo {
  return { id, name: `fake-${id.toString(16)}`, keyExchange: 'ECDHE_RSA', aead: 'aes-128-gcm', keyLength: 16, fixedIvLength: 4, explicitNonceLength: 8, prfHash: 'sha256' };
}
