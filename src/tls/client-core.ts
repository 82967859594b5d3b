/**
 * The TLS 1.2 client as a sans-IO state machine: bytes from the server go in through `receive`,
 * bytes for the server and application data come out. No sockets, no timers.
 *
 * States are named for what they wait for (RFC 5246 §7.3 full handshake, RFC 5077 tickets,
 * RFC 6066 OCSP status):
 *
 * ```
 * Start → ExpectServerHello → ExpectCertificate → [ExpectCertificateStatus]
 *       → ExpectServerKeyExchange (ECDHE only) → ExpectServerHelloDone
 *       → (client flight: [Certificate] ClientKeyExchange ChangeCipherSpec Finished)
 *       → [ExpectNewSessionTicket] → ExpectChangeCipherSpec → ExpectFinished → Traffic → Closed
 * ```
 *
 * Any error moves to `Failed` and is thrown as a `TlsError`; `alertFor(err)` then gives the alert
 * record to send before the transport is closed. The server must pick a suite, group, signature
 * scheme, ALPN protocol and extensions from what the ClientHello offered; a version below TLS 1.2
 * is `ERR_TLS_PROTOCOL_VERSION`; renegotiation is refused. Resumption is not implemented: the
 * session_ticket extension is offered (for the fingerprint) and a ticket is accepted and dropped.
 *
 * @module
 */
import { timingSafeEqual, type KeyObject, type X509Certificate } from 'node:crypto';
import { encodeAlert, parseAlert } from './alert.js';
import { verifyCertificateChain, type CertificateVerifyOptions, type TrustStore } from './certificate-verifier.js';
import { cipherSuite, type CipherSuiteInfo } from './cipher-suites.js';
import { buildClientHello, isGrease, type BuiltClientHello } from './client-hello.js';
import { Reader } from './codec.js';
import { TlsError, decodeError } from './errors.js';
import {
  HandshakeDeframer, emitCertificate, emitClientKeyExchange, frameHandshake, handshakeName, parseCertificate,
  parseCertificateRequest, parseCertificateStatus, parseEcdheServerKeyExchange, parseEmpty, parseFinished,
  parseNewSessionTicket, parseServerHello, type HandshakeMessage, type ServerHello,
} from './handshake-messages.js';
import { SUPPORTED_GROUPS, generateEcdhe, rsaPremasterSecret, type EcdheKeyPair } from './key-exchange.js';
import { DEFAULT_PROFILE, type ClientHelloProfile } from './profiles.js';
import { RecordDeframer, frameRecord, type RawRecord } from './record-deframer.js';
import { RecordProtection } from './record-layer.js';
import { verifySignature } from './signatures.js';
import { deriveKeyBlock, deriveMasterSecret, finishedVerifyData, transcriptHash, type KeyBlock } from './tls12-keys.js';
import {
  AlertDescription, AlertLevel, ContentType, EC_POINT_FORMAT_UNCOMPRESSED, ExtensionType, HandshakeType, MAX_PLAINTEXT,
  ProtocolVersion, alertName,
} from './wire.js';

/** The states of {@link ClientCore}. */
export type ClientState =
  | 'Start'
  | 'ExpectServerHello'
  | 'ExpectCertificate'
  | 'ExpectCertificateStatus'
  | 'ExpectServerKeyExchange'
  | 'ExpectServerHelloDone'
  | 'ExpectNewSessionTicket'
  | 'ExpectChangeCipherSpec'
  | 'ExpectFinished'
  | 'Traffic'
  | 'Closed'
  | 'Failed';

/** Options of {@link ClientCore}. */
export interface ClientCoreOptions extends CertificateVerifyOptions {
  /** ClientHello profile (default {@link DEFAULT_PROFILE}, Chrome 62). */
  profile?: ClientHelloProfile | undefined;
  /** Replaces the profile's ALPN list; `[]` sends no ALPN. */
  alpnProtocols?: readonly string[] | undefined;
  /** Trust store to use instead of the system roots when `ca` is not given (tests, caches). */
  trustStore?: TrustStore | undefined;
  /** Random source for the ClientHello (default node:crypto). */
  randomBytes?: ((n: number) => Uint8Array) | undefined;
}

/** What one call of {@link ClientCore.receive} produced. */
export interface ReceiveResult {
  /** Application data, in order. */
  plaintext: Buffer[];
  /** Bytes to send to the server now. */
  output: Buffer[];
  /** The handshake finished in this call. */
  handshakeComplete: boolean;
  /** The server sent close_notify in this call. */
  closeNotify: boolean;
}

/** What the handshake settled. */
export interface NegotiatedParameters {
  /** Always TLS 1.2 for now. */
  version: number;
  /** The cipher suite. */
  suite: CipherSuiteInfo;
  /** The ALPN protocol, or null. */
  alpnProtocol: string | null;
  /** The server's leaf certificate. */
  peerCertificate: X509Certificate;
  /** Whether the extended master secret (RFC 7627) was used. */
  extendedMasterSecret: boolean;
  /** The ECDHE group, or null for RSA key transport. */
  group: number | null;
  /** The scheme of the ServerKeyExchange signature, or null for RSA key transport. */
  signatureScheme: number | null;
}

/** The session secrets TapDance puts in the tag, and the derived key block. */
export interface TlsSecrets {
  /** IANA suite number. */
  suite: number;
  /** The 48-byte master secret. */
  masterSecret: Buffer;
  /** ClientHello.random. */
  clientRandom: Buffer;
  /** ServerHello.random. */
  serverRandom: Buffer;
  /** Keys and IVs of both directions. */
  keyBlock: KeyBlock;
  /** Whether the master secret is the RFC 7627 extended one. */
  extendedMasterSecret: boolean;
}

/** Mutable handshake context carried from state to state; dropped once in Traffic. */
interface HandshakeContext {
  hello: BuiltClientHello;
  transcript: Uint8Array[];
  serverHello?: ServerHello;
  suite?: CipherSuiteInfo;
  ems: boolean;
  alpn: string | null;
  ticketPromised: boolean;
  statusPromised: boolean;
  certificate?: X509Certificate;
  serverKey?: KeyObject;
  ecdhe?: { pair: EcdheKeyPair; serverPublic: Uint8Array; scheme: number };
  certificateRequested: boolean;
  masterSecret?: Buffer;
}

const DOWNGRADE_TLS12 = Buffer.from('444f574e47524401', 'hex'); // "DOWNGRD\x01", RFC 8446 §4.1.3
const DOWNGRADE_TLS11 = Buffer.from('444f574e47524400', 'hex');
const MAX_WARNING_ALERTS = 16;

function unexpected(what: string, state: ClientState): TlsError {
  return new TlsError('ERR_TLS_UNEXPECTED_MESSAGE', `unexpected ${what} in state ${state}`, { context: { state } });
}

/**
 * A TLS 1.2 client connection without I/O.
 *
 * @example
 * ```ts
 * const core = new ClientCore({ serverName: 'example.com' })
 * socket.write(core.start())
 * socket.on('data', (chunk) => {
 *   const r = core.receive(chunk)          // throws TlsError on any failure
 *   for (const b of r.output) socket.write(b)
 *   for (const p of r.plaintext) app(p)
 * })
 * ```
 */
export class ClientCore {
  readonly #options: ClientCoreOptions;
  readonly #records = new RecordDeframer();
  readonly #messages = new HandshakeDeframer();
  #state: ClientState = 'Start';
  #hs: HandshakeContext | undefined;
  #read: RecordProtection | undefined;
  #write: RecordProtection | undefined;
  #negotiated: NegotiatedParameters | undefined;
  #secrets: TlsSecrets | undefined;
  #versionLocked = false;
  #warnings = 0;
  #writeClosed = false;

  /** @param options - profile, server name and certificate checks. */
  constructor(options: ClientCoreOptions = {}) {
    this.#options = options;
  }

  /** The current state. */
  get state(): ClientState {
    return this.#state;
  }

  /** What the handshake settled, once in Traffic. */
  get negotiated(): NegotiatedParameters | undefined {
    return this.#negotiated;
  }

  /**
   * Begin the handshake.
   *
   * @returns the ClientHello record to send.
   * @throws TlsError `ERR_TLS_INVALID_STATE` if called twice, `ERR_TLS_UNSUPPORTED_PROFILE`.
   */
  start(): Buffer {
    if (this.#state !== 'Start') throw new TlsError('ERR_TLS_INVALID_STATE', 'handshake already started');
    const hello = buildClientHello({
      profile: this.#options.profile ?? DEFAULT_PROFILE,
      serverName: this.#options.serverName,
      alpnProtocols: this.#options.alpnProtocols,
      randomBytes: this.#options.randomBytes,
    });
    this.#hs = {
      hello, transcript: [hello.message], ems: false, alpn: null, ticketPromised: false, statusPromised: false,
      certificateRequested: false,
    };
    this.#state = 'ExpectServerHello';
    return frameRecord(ContentType.handshake, hello.recordVersion, hello.message);
  }

  /**
   * Feed bytes from the server.
   *
   * @param chunk - any number of bytes.
   * @returns application data, bytes to send, and events.
   * @throws TlsError for every failure; the core is then `Failed` and only `alertFor` is useful.
   */
  receive(chunk: Uint8Array): ReceiveResult {
    const out: ReceiveResult = { plaintext: [], output: [], handshakeComplete: false, closeNotify: false };
    if (this.#state === 'Closed') return out; // data after close_notify is ignored (RFC 5246 §7.2.1)
    if (this.#state === 'Failed') throw new TlsError('ERR_TLS_INVALID_STATE', 'connection already failed');
    try {
      if (this.#state === 'Start') throw unexpected('data before the ClientHello', this.#state);
      this.#records.push(chunk);
      for (let rec = this.#records.next(); rec !== null; rec = this.#records.next()) {
        this.#onRecord(rec, out);
        if ((this.#state as ClientState) === 'Closed') break; // narrowed above, changed by #onRecord
      }
    } catch (err) {
      this.#state = 'Failed';
      if (err instanceof TlsError) throw err;
      throw new TlsError('ERR_TLS_INTERNAL', 'unexpected failure while processing server data', { cause: err });
    }
    return out;
  }

  /** Bytes received that do not form a whole record yet (a truncation check at EOF). */
  get bufferedBytes(): number {
    return this.#records.buffered;
  }

  /**
   * Seal application data as records of at most 16384 bytes.
   *
   * @param data - any length.
   * @returns the records, concatenated.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished or after close.
   */
  sealApplicationData(data: Uint8Array): Buffer {
    return Buffer.concat(this.sealApplicationDataParts(data));
  }

  /**
   * Seal application data as records of at most 16384 bytes, returned as buffers to write in
   * order with one vectored write (three per record: header, ciphertext, tag).
   *
   * @param data - any length.
   * @returns the parts of the records.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished or after close.
   */
  sealApplicationDataParts(data: Uint8Array): Buffer[] {
    const w = this.#writable();
    const parts: Buffer[] = [];
    // Empty writes send nothing: browsers never send empty records, so neither do we.
    for (let off = 0; off < data.length; off += MAX_PLAINTEXT) {
      parts.push(...w.sealParts(ContentType.application_data, data.subarray(off, off + MAX_PLAINTEXT)));
    }
    return parts;
  }

  /**
   * Seal exactly one application-data record.
   *
   * @param plaintext - at most 16384 bytes.
   * @returns the record.
   * @throws TlsError `ERR_TLS_INVALID_STATE` when not in Traffic or the plaintext is too long.
   */
  sealRecord(plaintext: Uint8Array): Buffer {
    return this.#writable().seal(ContentType.application_data, plaintext);
  }

  /**
   * The keystream of the next application-data record (see `RecordProtection.keystream`).
   *
   * @param n - bytes, 0..16384.
   * @returns n bytes.
   * @throws TlsError `ERR_TLS_INVALID_STATE` when not in Traffic.
   */
  keystream(n: number): Buffer {
    return this.#writable().keystream(n);
  }

  /** Sequence number of the next record we send (1 right after the handshake). */
  get writeSequence(): bigint | undefined {
    return this.#write?.sequence;
  }

  /**
   * The session secrets.
   *
   * @returns copies of the master secret, randoms, suite and key block.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished.
   */
  secrets(): TlsSecrets {
    if (this.#secrets === undefined) throw new TlsError('ERR_TLS_INVALID_STATE', 'no secrets before the handshake finished');
    const s = this.#secrets;
    const kb = s.keyBlock;
    return {
      ...s,
      masterSecret: Buffer.from(s.masterSecret),
      clientRandom: Buffer.from(s.clientRandom),
      serverRandom: Buffer.from(s.serverRandom),
      keyBlock: {
        clientWriteKey: Buffer.from(kb.clientWriteKey), serverWriteKey: Buffer.from(kb.serverWriteKey),
        clientWriteIv: Buffer.from(kb.clientWriteIv), serverWriteIv: Buffer.from(kb.serverWriteIv),
      },
    };
  }

  /**
   * The close_notify alert record; no record can be sealed afterwards.
   *
   * @returns the record (encrypted once keys are in use).
   */
  closeNotify(): Buffer {
    const record = this.#alertRecord(AlertLevel.warning, AlertDescription.close_notify);
    this.#writeClosed = true;
    return record;
  }

  /**
   * The alert record to send for an error, or null when none should be sent (the peer's own
   * alert, API misuse, transport failures).
   *
   * @param err - the error that ends the connection.
   * @returns the record or null.
   */
  alertFor(err: TlsError): Buffer | null {
    const description = err.alertToSend;
    if (description === null || this.#writeClosed) return null;
    // RFC 5246 §7.2.2: no_renegotiation and user_canceled are warnings; everything else is fatal.
    const level = description === AlertDescription.no_renegotiation || description === AlertDescription.user_canceled
      ? AlertLevel.warning : AlertLevel.fatal;
    try {
      const record = this.#alertRecord(level, description);
      this.#writeClosed = true;
      return record;
    } catch {
      return null;
    }
  }

  #alertRecord(level: number, description: number): Buffer {
    const body = encodeAlert(level, description);
    if (this.#write !== undefined) return this.#write.seal(ContentType.alert, body);
    return frameRecord(ContentType.alert, ProtocolVersion.TLS12, body);
  }

  #writable(): RecordProtection {
    if (this.#state !== 'Traffic' || this.#write === undefined || this.#writeClosed) {
      throw new TlsError('ERR_TLS_INVALID_STATE', `cannot send application data in state ${this.#state}`,
        { context: { state: this.#state, writeClosed: this.#writeClosed } });
    }
    return this.#write;
  }

  // ---- records ------------------------------------------------------------------------------

  #onRecord(rec: RawRecord, out: ReceiveResult): void {
    if (this.#messages.hasPartial && rec.contentType !== ContentType.handshake) {
      throw unexpected('record interleaved with a fragmented handshake message', this.#state);
    }
    if (this.#versionLocked && rec.version !== ProtocolVersion.TLS12) {
      throw new TlsError('ERR_TLS_PROTOCOL_VERSION', 'record version changed after ServerHello', { context: { version: rec.version } });
    }
    let plaintext: Uint8Array;
    if (this.#read !== undefined) {
      plaintext = this.#read.openFragment(rec.contentType, rec.version, rec.body).plaintext;
    } else {
      if (rec.body.length > MAX_PLAINTEXT) {
        throw new TlsError('ERR_TLS_RECORD_OVERFLOW', 'plaintext record exceeds 2^14 bytes', { context: { length: rec.body.length } });
      }
      plaintext = rec.body;
    }
    switch (rec.contentType) {
      case ContentType.alert:
        this.#onAlert(plaintext, out);
        return;
      case ContentType.change_cipher_spec:
        this.#onChangeCipherSpec(plaintext);
        return;
      case ContentType.handshake:
        if (plaintext.length === 0) throw decodeError('empty handshake record');
        this.#messages.push(plaintext);
        for (let m = this.#messages.next(); m !== null; m = this.#messages.next()) this.#onHandshake(m, out);
        return;
      case ContentType.application_data:
        if (this.#state !== 'Traffic') throw unexpected('application data', this.#state);
        this.#warnings = 0;
        if (plaintext.length > 0) out.plaintext.push(plaintext as Buffer);
        return;
      default:
        throw unexpected(`record type ${rec.contentType}`, this.#state);
    }
  }

  #onAlert(body: Uint8Array, out: ReceiveResult): void {
    const alert = parseAlert(body);
    if (alert.description === AlertDescription.close_notify) {
      if (this.#state !== 'Traffic') {
        throw new TlsError('ERR_TLS_ALERT_RECEIVED', 'server closed the connection during the handshake',
          { context: { alert: 'close_notify', state: this.#state } });
      }
      this.#state = 'Closed';
      out.closeNotify = true;
      return;
    }
    if (alert.level === AlertLevel.fatal) {
      throw new TlsError('ERR_TLS_ALERT_RECEIVED', `server sent fatal alert ${alertName(alert.description)}`,
        { context: { alert: alertName(alert.description), state: this.#state } });
    }
    // Warnings (e.g. unrecognized_name) are ignored, but not without limit.
    if (++this.#warnings > MAX_WARNING_ALERTS) throw unexpected('flood of warning alerts', this.#state);
  }

  #onChangeCipherSpec(body: Uint8Array): void {
    if (this.#state !== 'ExpectChangeCipherSpec') throw unexpected('ChangeCipherSpec', this.#state);
    if (body.length !== 1 || body[0] !== 1) throw decodeError('ChangeCipherSpec');
    const hs = this.#hs!;
    const kb = this.#secrets!.keyBlock;
    this.#read = new RecordProtection({ suite: hs.suite!.id, key: kb.serverWriteKey, iv: kb.serverWriteIv, seq: 0n });
    this.#state = 'ExpectFinished';
  }

  // ---- handshake messages ------------------------------------------------------------------

  #onHandshake(m: HandshakeMessage, out: ReceiveResult): void {
    if (m.type === HandshakeType.hello_request) {
      // Not hashed (RFC 5246 §7.4.1.1). Ignored during a handshake, refused afterwards.
      parseEmpty(m.body, 'HelloRequest');
      if (this.#state === 'Traffic') {
        throw new TlsError('ERR_TLS_RENEGOTIATION_REFUSED', 'server asked to renegotiate');
      }
      return;
    }
    const hs = this.#hs;
    if (hs === undefined || this.#state === 'Traffic') throw unexpected(`handshake message ${handshakeName(m.type)}`, this.#state);
    switch (this.#state) {
      case 'ExpectServerHello':
        this.#expect(m, HandshakeType.server_hello);
        this.#onServerHello(hs, parseServerHello(m.body));
        hs.transcript.push(m.raw);
        return;
      case 'ExpectCertificate':
        this.#expect(m, HandshakeType.certificate);
        this.#onCertificate(hs, parseCertificate(m.body));
        hs.transcript.push(m.raw);
        return;
      case 'ExpectCertificateStatus':
        // Optional even when promised (RFC 6066 §8): anything else goes to the next state.
        this.#state = hs.suite!.keyExchange === 'RSA' ? 'ExpectServerHelloDone' : 'ExpectServerKeyExchange';
        if (m.type !== HandshakeType.certificate_status) {
          this.#onHandshake(m, out);
          return;
        }
        parseCertificateStatus(m.body); // stapled OCSP is not checked
        hs.transcript.push(m.raw);
        return;
      case 'ExpectServerKeyExchange':
        this.#expect(m, HandshakeType.server_key_exchange);
        this.#onServerKeyExchange(hs, m.body);
        hs.transcript.push(m.raw);
        this.#state = 'ExpectServerHelloDone';
        return;
      case 'ExpectServerHelloDone':
        if (m.type === HandshakeType.certificate_request && !hs.certificateRequested) {
          parseCertificateRequest(m.body);
          hs.certificateRequested = true;
          hs.transcript.push(m.raw);
          return;
        }
        this.#expect(m, HandshakeType.server_hello_done);
        parseEmpty(m.body, 'ServerHelloDone');
        hs.transcript.push(m.raw);
        out.output.push(this.#clientFlight(hs));
        this.#state = hs.ticketPromised ? 'ExpectNewSessionTicket' : 'ExpectChangeCipherSpec';
        return;
      case 'ExpectNewSessionTicket':
        this.#expect(m, HandshakeType.new_session_ticket);
        parseNewSessionTicket(m.body); // resumption is not implemented; the ticket is dropped
        hs.transcript.push(m.raw);
        this.#state = 'ExpectChangeCipherSpec';
        return;
      case 'ExpectFinished':
        this.#expect(m, HandshakeType.finished);
        this.#onServerFinished(hs, parseFinished(m.body));
        out.handshakeComplete = true;
        return;
      default:
        throw unexpected(`handshake message ${handshakeName(m.type)}`, this.#state);
    }
  }

  #expect(m: HandshakeMessage, type: number): void {
    if (m.type !== type) {
      throw new TlsError('ERR_TLS_UNEXPECTED_MESSAGE', `expected ${handshakeName(type)}, got ${handshakeName(m.type)}`,
        { context: { state: this.#state, got: m.type } });
    }
  }

  #onServerHello(hs: HandshakeContext, sh: ServerHello): void {
    const offered = hs.hello.offered;
    if (sh.version !== ProtocolVersion.TLS12) {
      throw new TlsError('ERR_TLS_PROTOCOL_VERSION', `server chose version 0x${sh.version.toString(16)}, not TLS 1.2`,
        { context: { version: sh.version } });
    }
    const tail = Buffer.from(sh.random.subarray(24));
    if (offered.offersTls13 && (tail.equals(DOWNGRADE_TLS12) || tail.equals(DOWNGRADE_TLS11))) {
      throw new TlsError('ERR_TLS_DOWNGRADE', 'server random carries the TLS 1.3 downgrade sentinel');
    }
    if (!offered.cipherSuites.has(sh.cipherSuite) || isGrease(sh.cipherSuite)) {
      throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server chose a cipher suite we did not offer', { context: { suite: sh.cipherSuite } });
    }
    const suite = cipherSuite(sh.cipherSuite);
    if (suite === undefined) {
      throw new TlsError('ERR_TLS_UNSUPPORTED_SUITE', `server chose suite 0x${sh.cipherSuite.toString(16)}, which has no keystream here`,
        { context: { suite: sh.cipherSuite } });
    }
    if (sh.compressionMethod !== 0) {
      throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server chose compression', { context: { compression: sh.compressionMethod } });
    }
    for (const e of sh.extensions ?? []) this.#onServerExtension(hs, e.type, e.data);
    hs.serverHello = sh;
    hs.suite = suite;
    this.#versionLocked = true;
    this.#state = 'ExpectCertificate';
  }

  #onServerExtension(hs: HandshakeContext, type: number, data: Uint8Array): void {
    const offered = hs.hello.offered;
    if (!offered.extensions.has(type) || isGrease(type)) {
      throw new TlsError('ERR_TLS_UNSUPPORTED_EXTENSION', `server sent extension ${type} we did not offer`, { context: { extension: type } });
    }
    const r = new Reader(data, `ServerHello extension ${type}`);
    switch (type) {
      case ExtensionType.renegotiation_info:
        // RFC 5746 §3.4: on an initial handshake the renegotiated_connection must be empty.
        if (r.vec8().length !== 0) throw new TlsError('ERR_TLS_HANDSHAKE_FAILURE', 'non-empty renegotiation_info');
        break;
      case ExtensionType.extended_master_secret:
        hs.ems = true;
        break;
      case ExtensionType.session_ticket:
        hs.ticketPromised = true;
        break;
      case ExtensionType.status_request:
        hs.statusPromised = true;
        break;
      case ExtensionType.alpn: {
        const list = new Reader(r.vec16(), 'ALPN list');
        const proto = Buffer.from(list.vec8()).toString('utf8');
        list.end();
        if (!offered.alpnProtocols.includes(proto)) {
          throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server chose an ALPN protocol we did not offer', { context: { alpn: proto } });
        }
        hs.alpn = proto;
        break;
      }
      case ExtensionType.ec_point_formats:
        if (!r.vec8().includes(EC_POINT_FORMAT_UNCOMPRESSED)) {
          throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server does not support uncompressed points');
        }
        break;
      case ExtensionType.server_name:
      case ExtensionType.signed_certificate_timestamp:
        r.rest(); // an empty acknowledgement, or SCTs we do not check
        break;
      case ExtensionType.supported_versions:
        throw new TlsError('ERR_TLS_PROTOCOL_VERSION', 'server selected TLS 1.3, which is not implemented yet');
      default:
        // Offered only for the fingerprint (e.g. channel_id): we cannot honour it.
        throw new TlsError('ERR_TLS_UNSUPPORTED_EXTENSION', `server accepted extension ${type}, which this client cannot use`,
          { context: { extension: type } });
    }
    r.end();
  }

  #onCertificate(hs: HandshakeContext, chain: Uint8Array[]): void {
    const { leaf } = verifyCertificateChain(chain, this.#options, this.#options.trustStore);
    const key = leaf.publicKey;
    const want = hs.suite!.keyExchange === 'ECDHE_ECDSA' ? 'ec' : 'rsa';
    if (key.asymmetricKeyType !== want) {
      throw new TlsError('ERR_TLS_BAD_CERTIFICATE', `suite ${hs.suite!.name} needs an ${want} certificate`,
        { context: { keyType: key.asymmetricKeyType } });
    }
    hs.certificate = leaf;
    hs.serverKey = key;
    if (hs.statusPromised) this.#state = 'ExpectCertificateStatus';
    else this.#state = hs.suite!.keyExchange === 'RSA' ? 'ExpectServerHelloDone' : 'ExpectServerKeyExchange';
  }

  #onServerKeyExchange(hs: HandshakeContext, body: Uint8Array): void {
    const ske = parseEcdheServerKeyExchange(body);
    if (!hs.hello.offered.groups.includes(ske.group) || !SUPPORTED_GROUPS.has(ske.group)) {
      throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server chose a group we did not offer', { context: { group: ske.group } });
    }
    if (!hs.hello.offered.signatureSchemes.includes(ske.scheme)) {
      throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server used a signature scheme we did not offer', { context: { scheme: ske.scheme } });
    }
    const signed = Buffer.concat([hs.hello.hello.random, hs.serverHello!.random, ske.params]);
    if (!verifySignature(hs.serverKey!, ske.scheme, signed, ske.signature)) {
      throw new TlsError('ERR_TLS_BAD_SIGNATURE', 'ServerKeyExchange signature does not verify', { context: { scheme: ske.scheme } });
    }
    hs.ecdhe = { pair: generateEcdhe(ske.group), serverPublic: ske.publicKey, scheme: ske.scheme };
  }

  /** Build [Certificate] ClientKeyExchange ChangeCipherSpec Finished and switch keys. */
  #clientFlight(hs: HandshakeContext): Buffer {
    const suite = hs.suite!;
    const sh = hs.serverHello!;
    const plain: Buffer[] = [];
    if (hs.certificateRequested) plain.push(frameHandshake(HandshakeType.certificate, emitCertificate([])));
    let preMasterSecret: Buffer;
    if (hs.ecdhe !== undefined) {
      preMasterSecret = hs.ecdhe.pair.deriveSecret(hs.ecdhe.serverPublic);
      plain.push(frameHandshake(HandshakeType.client_key_exchange, emitClientKeyExchange('ecdhe', hs.ecdhe.pair.publicKey)));
    } else {
      const rsa = rsaPremasterSecret(hs.serverKey!, hs.hello.hello.version);
      preMasterSecret = rsa.preMasterSecret;
      plain.push(frameHandshake(HandshakeType.client_key_exchange, emitClientKeyExchange('rsa', rsa.encrypted)));
    }
    hs.transcript.push(...plain);
    const clientRandom = Buffer.from(hs.hello.hello.random);
    const serverRandom = Buffer.from(sh.random);
    const masterSecret = hs.ems
      ? deriveMasterSecret(suite.prfHash, preMasterSecret, { sessionHash: transcriptHash(suite.prfHash, hs.transcript) })
      : deriveMasterSecret(suite.prfHash, preMasterSecret, { clientRandom, serverRandom });
    preMasterSecret.fill(0);
    const keyBlock = deriveKeyBlock(suite.id, masterSecret, clientRandom, serverRandom);
    hs.masterSecret = masterSecret;
    this.#secrets = { suite: suite.id, masterSecret, clientRandom, serverRandom, keyBlock, extendedMasterSecret: hs.ems };

    const verifyData = finishedVerifyData(suite.prfHash, masterSecret, 'client', transcriptHash(suite.prfHash, hs.transcript));
    const finished = frameHandshake(HandshakeType.finished, verifyData);
    hs.transcript.push(finished);
    this.#write = new RecordProtection({ suite: suite.id, key: keyBlock.clientWriteKey, iv: keyBlock.clientWriteIv, seq: 0n });
    return Buffer.concat([
      frameRecord(ContentType.handshake, ProtocolVersion.TLS12, Buffer.concat(plain)),
      frameRecord(ContentType.change_cipher_spec, ProtocolVersion.TLS12, Buffer.from([1])),
      this.#write.seal(ContentType.handshake, finished),
    ]);
  }

  #onServerFinished(hs: HandshakeContext, verifyData: Uint8Array): void {
    const suite = hs.suite!;
    const expected = finishedVerifyData(suite.prfHash, hs.masterSecret!, 'server', transcriptHash(suite.prfHash, hs.transcript));
    if (!timingSafeEqual(expected, verifyData)) {
      throw new TlsError('ERR_TLS_BAD_FINISHED', 'server Finished does not match the handshake');
    }
    this.#negotiated = {
      version: ProtocolVersion.TLS12,
      suite,
      alpnProtocol: hs.alpn,
      peerCertificate: hs.certificate!,
      extendedMasterSecret: hs.ems,
      group: hs.ecdhe?.pair.group ?? null,
      signatureScheme: hs.ecdhe?.scheme ?? null,
    };
    this.#hs = undefined; // drop the transcript and ephemeral key
    this.#state = 'Traffic';
  }
}
