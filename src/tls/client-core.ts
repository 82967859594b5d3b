/**
 * The TLS client (1.2 and 1.3) as a sans-IO state machine: bytes from the server go in through
 * `receive`, bytes for the server and application data come out. No sockets, no timers.
 *
 * States are named for what they wait for. TLS 1.2 (RFC 5246 §7.3 full handshake, RFC 5077
 * tickets, RFC 6066 OCSP status):
 *
 * ```
 * Start → ExpectServerHello → ExpectCertificate → [ExpectCertificateStatus]
 *       → ExpectServerKeyExchange (ECDHE only) → ExpectServerHelloDone
 *       → (client flight: [Certificate] ClientKeyExchange ChangeCipherSpec Finished)
 *       → [ExpectNewSessionTicket] → ExpectChangeCipherSpec → ExpectFinished → Traffic → Closed
 * ```
 *
 * TLS 1.3 (RFC 8446 §2, when the profile offers it and the server picks it; helpers in
 * `client-tls13.ts`):
 *
 * ```
 * Start → ExpectServerHello [→ HelloRetryRequest → second ClientHello → ExpectServerHello]
 *       → ExpectEncryptedExtensions → [CertificateRequest] ExpectCertificate (or compressed)
 *       → ExpectCertificateVerify → ExpectFinished
 *       → (client flight: ChangeCipherSpec, [ALPS EncryptedExtensions] [Certificate] Finished)
 *       → Traffic (NewSessionTicket counted and dropped, KeyUpdate honoured) → Closed
 * ```
 *
 * Any error moves to `Failed` and is thrown as a `TlsError`; `alertFor(err)` then gives the alert
 * record to send before the transport is closed. The server must pick a version, suite, group,
 * signature scheme, ALPN protocol and extensions from what the ClientHello offered; a version
 * below TLS 1.2 is `ERR_TLS_PROTOCOL_VERSION`; renegotiation is refused. Resumption is left out
 * on purpose: every TapDance flow needs a full handshake whose fresh secrets the tag carries, so
 * tickets are offered for the fingerprint, accepted and dropped.
 *
 * @module
 */
import { timingSafeEqual, type KeyObject, type X509Certificate } from 'node:crypto';
import { encodeAlert, parseAlert } from './alert.js';
import { verifyCertificateChain, type CertificateVerifyOptions, type TrustStore } from './certificate-verifier.js';
import { cipherSuite, type CipherSuiteInfo, type Tls13SuiteInfo } from './cipher-suites.js';
import { buildClientHello, buildRetryClientHello, isGrease, type BuiltClientHello } from './client-hello.js';
import {
  checkCertificateVerify, checkEncryptedExtensions, checkServerHello13, clientAlpsMessage, emptyClientCertificate,
  readAlpnSelection, readServerCertificate, selectedVersion,
} from './client-tls13.js';
import { Reader } from './codec.js';
import { TlsError, decodeError } from './errors.js';
import {
  HandshakeDeframer, emitCertificate, emitClientKeyExchange, frameHandshake, handshakeName, parseCertificate,
  parseCertificateRequest, parseCertificateStatus, parseEcdheServerKeyExchange, parseEmpty, parseFinished,
  parseNewSessionTicket, parseServerHello, type HandshakeMessage, type ServerHello,
} from './handshake-messages.js';
import {
  HELLO_RETRY_REQUEST_RANDOM, keyUpdateMessage, messageHash, parseCertificateRequest13, parseEncryptedExtensions,
  parseKeyUpdate, parseNewSessionTicket13,
} from './handshake-messages13.js';
import { SUPPORTED_GROUPS, generateEcdhe, rsaPremasterSecret, type EcdheKeyPair } from './key-exchange.js';
import { DEFAULT_PROFILE, type ClientHelloProfile } from './profiles.js';
import { RecordDeframer, frameRecord, type RawRecord } from './record-deframer.js';
import { RecordProtection } from './record-layer.js';
import { Tls13RecordProtection } from './record-layer13.js';
import { verifySignature } from './signatures.js';
import { deriveKeyBlock, deriveMasterSecret, finishedVerifyData, transcriptHash, type KeyBlock } from './tls12-keys.js';
import { applicationSecrets, finishedVerifyData13, handshakeSecrets, transcriptHash13 } from './tls13-keys.js';
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
  | 'ExpectEncryptedExtensions'
  | 'ExpectCertificateVerify'
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
  /**
   * Application data to send in the same write as our Finished, chosen once the ServerHello (and
   * in TLS 1.3 EncryptedExtensions) told the version and ALPN protocol: TLS 1.2 False Start as
   * Chrome does it (sent before the server's Finished is checked, so only for public bytes such as
   * the HTTP/2 preface, or a TapDance tagged request, whose secrets are for the station only), or
   * in TLS 1.3 the first record under the application key. At most one record (16384 bytes);
   * `undefined` sends nothing. `secrets` (TLS 1.2) and `keystream` describe the record to be sent.
   */
  sendWithFinished?: ((negotiated: FirstRecordContext) => Uint8Array | undefined) | undefined;
}

/** What `sendWithFinished` is told about the record it may fill. */
export interface FirstRecordContext {
  /** Negotiated version (0x0303 or 0x0304). */
  version: number;
  /** Negotiated ALPN protocol. */
  alpn: string | null;
  /** TLS 1.2: the session secrets (throws for TLS 1.3). */
  secrets: () => TlsSecrets;
  /** The first `n` keystream bytes of the record that will carry the returned data. */
  keystream: (n: number) => Buffer;
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
  /** TLS 1.3 NewSessionTicket messages processed in this call (after the handshake). */
  tickets: number;
}

/** What the handshake settled. */
export interface NegotiatedParameters {
  /** 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3). */
  version: number;
  /** The cipher suite. */
  suite: CipherSuiteInfo | Tls13SuiteInfo;
  /** The ALPN protocol, or null. */
  alpnProtocol: string | null;
  /** The server's leaf certificate. */
  peerCertificate: X509Certificate;
  /** Whether the extended master secret (RFC 7627) was used (always false in TLS 1.3). */
  extendedMasterSecret: boolean;
  /** The (EC)DHE or hybrid group, or null for RSA key transport. */
  group: number | null;
  /** The scheme of the ServerKeyExchange or CertificateVerify signature; null for RSA key transport. */
  signatureScheme: number | null;
  /** TLS 1.3: whether the server answered the first ClientHello with a HelloRetryRequest. */
  helloRetried: boolean;
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

/**
 * What a TapDance tag carries for a TLS 1.3 session: the current application traffic secrets of
 * both directions and both sequence numbers, so that the station can continue the session.
 */
export interface Tls13Secrets {
  /** IANA suite number (0x1301, 0x1302, 0x1303). */
  suite: number;
  /** The client's current application traffic secret (32 or 48 bytes). */
  clientSecret: Buffer;
  /** The server's current application traffic secret. */
  serverSecret: Buffer;
  /** Sequence number of the next record the client sends (0 before any application record). */
  clientSequence: bigint;
  /** Records received under the server's current secret (tickets, data): the station's next seq. */
  serverSequence: bigint;
}

/** TLS 1.3 handshake state. */
interface Handshake13 {
  suite: Tls13SuiteInfo;
  clientHandshakeSecret: Buffer;
  serverHandshakeSecret: Buffer;
  handshakeSecret: Buffer;
  alpn: string | null;
  alps: boolean;
  certificateRequest: Uint8Array | null;
  scheme?: number;
  group: number;
}

/** Mutable handshake context carried from state to state; dropped once in Traffic. */
interface HandshakeContext {
  hello: BuiltClientHello;
  transcript: Uint8Array[];
  /** TLS 1.3: the suite a HelloRetryRequest fixed, which the ServerHello must repeat. */
  retrySuite?: number;
  /** TLS 1.3: the dummy ChangeCipherSpec (middlebox compatibility) has been sent. */
  ccsSent: boolean;
  tls13?: Handshake13;
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
  #read: RecordProtection | Tls13RecordProtection | undefined;
  #write: RecordProtection | Tls13RecordProtection | undefined;
  /** 0 before the ServerHello, then 0x0303 or 0x0304. */
  #version = 0;
  /** A key change happened in the middle of a record: no more handshake bytes may follow it. */
  #keyChanged = false;
  #sentWithFinished: Buffer | null = null;
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
      certificateRequested: false, ccsSent: false,
    };
    this.#state = 'ExpectServerHello';
    return frameRecord(ContentType.handshake, hello.recordVersion, hello.message);
  }

  /**
   * Feed bytes from the server.
   *
   * @param chunk - any number of bytes.
   * @param owned - the caller gives up the chunk's memory (a fresh socket read nobody else
   *   holds): records are then decrypted in place and plaintext may be views of the chunk.
   * @returns application data, bytes to send, and events.
   * @throws TlsError for every failure; the core is then `Failed` and only `alertFor` is useful.
   */
  receive(chunk: Uint8Array, owned = false): ReceiveResult {
    const out: ReceiveResult = { plaintext: [], output: [], handshakeComplete: false, closeNotify: false, tickets: 0 };
    if (this.#state === 'Closed') return out; // data after close_notify is ignored (RFC 5246 §7.2.1)
    if (this.#state === 'Failed') throw new TlsError('ERR_TLS_INVALID_STATE', 'connection already failed');
    try {
      if (this.#state === 'Start') throw unexpected('data before the ClientHello', this.#state);
      this.#records.push(chunk, owned);
      for (let rec = this.#records.next(this.#transientBodies()); rec !== null; rec = this.#records.next(this.#transientBodies())) {
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

  /**
   * Once node:crypto decrypts records, each body is done with before the next is taken, so a
   * record that spans reads is joined in a reused buffer. The native AEAD decrypts a fresh join
   * in place instead, which saves the copy out of the reused one.
   */
  #transientBodies(): boolean {
    return this.#read !== undefined && !this.#read.native;
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
   * order with one vectored write (one for all records with the record addon, else three per
   * record: header, ciphertext, tag).
   *
   * @param data - any length; empty writes send nothing (browsers never send empty records).
   * @returns the parts of the records.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished or after close.
   */
  sealApplicationDataParts(data: Uint8Array): Buffer[] {
    return this.#writable().sealRecords(ContentType.application_data, [data]);
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

  /** Sequence number of the next record we send (TLS 1.2: 1 right after the handshake; TLS 1.3: 0). */
  get writeSequence(): bigint | undefined {
    return this.#write?.sequence;
  }

  /** Sequence number of the next record we read under the current keys. */
  get readSequence(): bigint | undefined {
    return this.#read?.sequence;
  }

  /** The negotiated protocol version (0x0303 or 0x0304), or 0 before the ServerHello. */
  get version(): number {
    return this.#version;
  }

  /**
   * The TLS 1.2 session secrets.
   *
   * @returns copies of the master secret, randoms, suite and key block.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished or on a TLS 1.3 session.
   */
  secrets(): TlsSecrets {
    if (this.#version === ProtocolVersion.TLS13) throw new TlsError('ERR_TLS_INVALID_STATE', 'a TLS 1.3 session has no master secret: use tls13Secrets()');
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
   * The TLS 1.3 session state a tag carries: current application traffic secrets and sequence
   * numbers (read them right before sealing the tag; they move with every record).
   *
   * @returns copies of the secrets and the sequence numbers.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished or on a TLS 1.2 session.
   */
  tls13Secrets(): Tls13Secrets {
    const read = this.#read;
    const write = this.#write;
    if (this.#state !== 'Traffic' && this.#state !== 'Closed' || !(read instanceof Tls13RecordProtection) || !(write instanceof Tls13RecordProtection)) {
      throw new TlsError('ERR_TLS_INVALID_STATE', 'no TLS 1.3 application secrets in this state', { context: { state: this.#state } });
    }
    return {
      suite: write.suite.id, clientSecret: Buffer.from(write.secret), serverSecret: Buffer.from(read.secret),
      clientSequence: write.sequence, serverSequence: read.sequence,
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

  #writable(): RecordProtection | Tls13RecordProtection {
    if (this.#state !== 'Traffic' || this.#write === undefined || this.#writeClosed) {
      throw new TlsError('ERR_TLS_INVALID_STATE', `cannot send application data in state ${this.#state}`,
        { context: { state: this.#state, writeClosed: this.#writeClosed } });
    }
    return this.#write;
  }

  // ---- records ------------------------------------------------------------------------------

  #onRecord(rec: RawRecord, out: ReceiveResult): void {
    if (this.#versionLocked && rec.version !== ProtocolVersion.TLS12) {
      throw new TlsError('ERR_TLS_PROTOCOL_VERSION', 'record version changed after ServerHello', { context: { version: rec.version } });
    }
    if (this.#version === ProtocolVersion.TLS13) {
      this.#onRecord13(rec, out);
      return;
    }
    if (this.#messages.hasPartial && rec.contentType !== ContentType.handshake) {
      throw unexpected('record interleaved with a fragmented handshake message', this.#state);
    }
    let plaintext: Uint8Array;
    if (this.#read !== undefined) {
      plaintext = this.#read.openFragment(rec.contentType, rec.version, rec.body, rec.owned).plaintext;
    } else {
      if (rec.body.length > MAX_PLAINTEXT) {
        throw new TlsError('ERR_TLS_RECORD_OVERFLOW', 'plaintext record exceeds 2^14 bytes', { context: { length: rec.body.length } });
      }
      plaintext = rec.body;
    }
    if (rec.contentType === ContentType.change_cipher_spec) this.#onChangeCipherSpec(plaintext);
    else this.#dispatch(rec.contentType, plaintext, out);
  }

  /** Alerts, handshake bytes and application data, once unprotected (both versions). */
  #dispatch(type: number, plaintext: Uint8Array, out: ReceiveResult): void {
    switch (type) {
      case ContentType.alert:
        this.#onAlert(plaintext, out);
        return;
      case ContentType.handshake:
        this.#onHandshakeRecord(plaintext, out);
        return;
      case ContentType.application_data:
        if (this.#state !== 'Traffic') throw unexpected('application data', this.#state);
        this.#warnings = 0;
        if (plaintext.length > 0) out.plaintext.push(plaintext as Buffer);
        return;
      default:
        throw unexpected(`record type ${type}`, this.#state);
    }
  }

  #onHandshakeRecord(plaintext: Uint8Array, out: ReceiveResult): void {
    if (plaintext.length === 0) throw decodeError('empty handshake record');
    this.#messages.push(plaintext);
    this.#keyChanged = false;
    for (let m = this.#messages.next(); m !== null; m = this.#messages.next()) {
      // RFC 8446 §5.1: a message that changes keys must end its record.
      if (this.#keyChanged) throw unexpected('handshake data after a key change in the same record', this.#state);
      this.#onHandshake(m, out);
    }
    if (this.#keyChanged && this.#messages.hasPartial) throw unexpected('handshake data after a key change in the same record', this.#state);
  }

  /** TLS 1.3 records: protected ones carry their type inside; a dummy ChangeCipherSpec is dropped. */
  #onRecord13(rec: RawRecord, out: ReceiveResult): void {
    if (rec.contentType === ContentType.change_cipher_spec) {
      // RFC 8446 §5: one plaintext 0x01 may arrive until the server's Finished; it is dropped.
      if (this.#state === 'Traffic' || rec.body.length !== 1 || rec.body[0] !== 1) throw unexpected('ChangeCipherSpec', this.#state);
      return;
    }
    let type: number = rec.contentType;
    let plaintext: Uint8Array = rec.body;
    if (rec.contentType === ContentType.application_data) {
      if (this.#read === undefined) throw unexpected('protected record before the key change', this.#state);
      ({ contentType: type, plaintext } = this.#read.openFragment(rec.contentType, rec.version, rec.body, rec.owned));
    } else if (rec.contentType === ContentType.handshake && this.#read !== undefined || rec.contentType !== ContentType.alert && rec.contentType !== ContentType.handshake) {
      throw unexpected(`plaintext record of type ${rec.contentType}`, this.#state);
    }
    if (this.#messages.hasPartial && type !== ContentType.handshake) {
      throw unexpected('record interleaved with a fragmented handshake message', this.#state);
    }
    this.#dispatch(type, plaintext, out);
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
    // TLS 1.3 ignores the level: every alert but close_notify and user_canceled is fatal (§6).
    const fatal = this.#version === ProtocolVersion.TLS13 ? alert.description !== AlertDescription.user_canceled : alert.level === AlertLevel.fatal;
    if (fatal) {
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
    if (this.#version === ProtocolVersion.TLS13 && this.#state === 'Traffic') {
      this.#onPostHandshake13(m, out);
      return;
    }
    const hs = this.#hs;
    if (hs === undefined || this.#state === 'Traffic') throw unexpected(`handshake message ${handshakeName(m.type)}`, this.#state);
    if (hs.tls13 !== undefined) {
      this.#onHandshake13(hs, hs.tls13, m, out);
      return;
    }
    switch (this.#state) {
      case 'ExpectServerHello': {
        this.#expect(m, HandshakeType.server_hello);
        const sh = parseServerHello(m.body);
        const version = selectedVersion(sh);
        if (version !== null || hs.retrySuite !== undefined) {
          this.#onServerHello13(hs, sh, m, version, out);
          return;
        }
        this.#onServerHello(hs, sh);
        hs.transcript.push(m.raw);
        return;
      }
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
        // Checked, then dropped on purpose: every TapDance flow needs a full handshake whose fresh
        // secrets the tag carries, so tickets are offered for the fingerprint and never redeemed.
        parseNewSessionTicket(m.body);
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
    this.#version = ProtocolVersion.TLS12;
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
      case ExtensionType.alpn:
        hs.alpn = readAlpnSelection(r, offered);
        break;
      case ExtensionType.ec_point_formats:
        if (!r.vec8().includes(EC_POINT_FORMAT_UNCOMPRESSED)) {
          throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'server does not support uncompressed points');
        }
        break;
      case ExtensionType.server_name:
      case ExtensionType.signed_certificate_timestamp:
        r.rest(); // an empty acknowledgement, or SCTs we do not check
        break;
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
    const flight = [
      frameRecord(ContentType.handshake, ProtocolVersion.TLS12, Buffer.concat(plain)),
      frameRecord(ContentType.change_cipher_spec, ProtocolVersion.TLS12, Buffer.from([1])),
      this.#write.seal(ContentType.handshake, finished),
    ];
    this.#appendFirstRecord(flight, ProtocolVersion.TLS12, hs.alpn);
    return Buffer.concat(flight);
  }

  /** The `sendWithFinished` record, sealed under our application key, appended to our flight. */
  #appendFirstRecord(flight: Buffer[], version: number, alpn: string | null): void {
    const write = this.#write!;
    const data = this.#options.sendWithFinished?.({ version, alpn, secrets: () => this.secrets(), keystream: (n) => write.keystream(n) });
    if (data === undefined || data.length === 0) return;
    if (data.length > MAX_PLAINTEXT) throw new TlsError('ERR_TLS_INVALID_STATE', 'sendWithFinished returned more than one record');
    flight.push(this.#write!.seal(ContentType.application_data, data));
    this.#sentWithFinished = Buffer.from(data);
  }

  /** What `sendWithFinished` had us send with our Finished, or null. */
  get sentWithFinished(): Buffer | null {
    return this.#sentWithFinished;
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
      helloRetried: false,
    };
    this.#hs = undefined; // drop the transcript and ephemeral key
    this.#state = 'Traffic';
  }

  // ---- TLS 1.3 ------------------------------------------------------------------------------

  /** A ServerHello or HelloRetryRequest that selected TLS 1.3 (or follows a retry). */
  #onServerHello13(hs: HandshakeContext, sh: ServerHello, m: HandshakeMessage, version: number | null, out: ReceiveResult): void {
    const offered = hs.hello.offered;
    if (!offered.extensions.has(ExtensionType.supported_versions)) {
      throw new TlsError('ERR_TLS_UNSUPPORTED_EXTENSION', 'server sent supported_versions, which we did not offer',
        { context: { extension: ExtensionType.supported_versions } });
    }
    if (version !== ProtocolVersion.TLS13 || !offered.offersTls13) {
      throw new TlsError(version === null ? 'ERR_TLS_PROTOCOL_VERSION' : 'ERR_TLS_ILLEGAL_PARAMETER',
        `server selected version 0x${(version ?? sh.version).toString(16)} through supported_versions`, { context: { version } });
    }
    const retry = Buffer.from(sh.random).equals(HELLO_RETRY_REQUEST_RANDOM);
    if (retry && hs.retrySuite !== undefined) throw unexpected('second HelloRetryRequest', this.#state);
    const shared = hs.hello.keyShares.map((k) => k.group);
    const r = checkServerHello13(sh, offered, hs.hello.hello.sessionId, retry, shared);
    if (retry) {
      // RFC 8446 §4.4.1: ClientHello1 becomes a message_hash in the transcript.
      const second = buildRetryClientHello(hs.hello, { group: r.group, cookie: r.cookie });
      hs.transcript = [messageHash(r.suite.hash, hs.hello.message), m.raw, second.message];
      hs.hello = second;
      hs.retrySuite = r.suite.id;
      this.#versionLocked = true;
      this.#version = ProtocolVersion.TLS13; // records now follow TLS 1.3 rules (a dummy CCS may come)
      // The dummy ChangeCipherSpec goes right before the second ClientHello (RFC 8446 §D.4).
      out.output.push(Buffer.concat([this.#compatibilityCcs(hs), frameRecord(ContentType.handshake, ProtocolVersion.TLS12, second.message)]));
      return;
    }
    if (hs.retrySuite !== undefined && r.suite.id !== hs.retrySuite) {
      throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'ServerHello suite differs from the HelloRetryRequest', { context: { suite: r.suite.id } });
    }
    const share = hs.hello.keyShares.find((k) => k.group === r.group)!;
    const sharedSecret = share.deriveSecret(r.keyExchange!);
    hs.transcript.push(m.raw);
    const secrets = handshakeSecrets(r.suite.hash, sharedSecret, transcriptHash13(r.suite.hash, hs.transcript));
    sharedSecret.fill(0);
    hs.tls13 = {
      suite: r.suite, clientHandshakeSecret: secrets.client, serverHandshakeSecret: secrets.server,
      handshakeSecret: secrets.handshakeSecret, alpn: null, alps: false, certificateRequest: null, group: r.group,
    };
    hs.serverHello = sh;
    this.#version = ProtocolVersion.TLS13;
    this.#versionLocked = true;
    this.#read = new Tls13RecordProtection({ suite: r.suite.id, secret: secrets.server });
    // Our alerts are protected from now on; our Finished uses the same keys.
    this.#write = new Tls13RecordProtection({ suite: r.suite.id, secret: secrets.client });
    this.#keyChanged = true;
    this.#state = 'ExpectEncryptedExtensions';
  }

  #onHandshake13(hs: HandshakeContext, h: Handshake13, m: HandshakeMessage, out: ReceiveResult): void {
    const offered = hs.hello.offered;
    switch (this.#state) {
      case 'ExpectEncryptedExtensions': {
        this.#expect(m, HandshakeType.encrypted_extensions);
        const ee = checkEncryptedExtensions(parseEncryptedExtensions(m.body), offered);
        h.alpn = ee.alpn;
        h.alps = ee.alps;
        hs.transcript.push(m.raw);
        this.#state = 'ExpectCertificate';
        return;
      }
      case 'ExpectCertificate':
        if (m.type === HandshakeType.certificate_request && h.certificateRequest === null) {
          h.certificateRequest = parseCertificateRequest13(m.body).context;
          hs.transcript.push(m.raw);
          return;
        }
        this.#onCertificate13(hs, m);
        return;
      case 'ExpectCertificateVerify':
        this.#expect(m, HandshakeType.certificate_verify);
        h.scheme = checkCertificateVerify(m.body, hs.serverKey!, offered, transcriptHash13(h.suite.hash, hs.transcript));
        hs.transcript.push(m.raw);
        this.#state = 'ExpectFinished';
        return;
      case 'ExpectFinished': {
        this.#expect(m, HandshakeType.finished);
        const expected = finishedVerifyData13(h.suite.hash, h.serverHandshakeSecret, transcriptHash13(h.suite.hash, hs.transcript));
        if (m.body.length !== expected.length || !timingSafeEqual(expected, m.body)) {
          throw new TlsError('ERR_TLS_BAD_FINISHED', 'server Finished does not match the handshake');
        }
        hs.transcript.push(m.raw);
        out.output.push(this.#clientFlight13(hs, h));
        out.handshakeComplete = true;
        return;
      }
      default:
        throw unexpected(`handshake message ${handshakeName(m.type)}`, this.#state);
    }
  }

  /** Certificate or, when we offered compression, CompressedCertificate (hashed as received). */
  #onCertificate13(hs: HandshakeContext, m: HandshakeMessage): void {
    const offered = hs.hello.offered;
    if (m.type !== HandshakeType.compressed_certificate) this.#expect(m, HandshakeType.certificate);
    else if (offered.certificateCompression.length === 0) throw unexpected('CompressedCertificate', this.#state);
    const cert = readServerCertificate(m.type, m.body, offered);
    const { leaf } = verifyCertificateChain(cert.entries.map((e) => e.der), this.#options, this.#options.trustStore);
    hs.certificate = leaf;
    hs.serverKey = leaf.publicKey;
    hs.transcript.push(m.raw);
    this.#state = 'ExpectCertificateVerify';
  }

  /** [ChangeCipherSpec] then, protected: [ALPS EncryptedExtensions] [Certificate] Finished; switch to application keys. */
  #clientFlight13(hs: HandshakeContext, h: Handshake13): Buffer {
    const app = applicationSecrets(h.suite.hash, h.handshakeSecret, transcriptHash13(h.suite.hash, hs.transcript));
    const messages: Buffer[] = [];
    if (h.alps) messages.push(clientAlpsMessage(hs.hello.offered.alps!.codepoint));
    if (h.certificateRequest !== null) messages.push(emptyClientCertificate(h.certificateRequest));
    hs.transcript.push(...messages);
    const verifyData = finishedVerifyData13(h.suite.hash, h.clientHandshakeSecret, transcriptHash13(h.suite.hash, hs.transcript));
    messages.push(frameHandshake(HandshakeType.finished, verifyData));
    // One buffer, so the dummy ChangeCipherSpec and the Finished leave in one TCP segment, as a
    // browser's do (the station recognises a TLS 1.3 flow by that pair, SPEC.md §5).
    const records: Buffer[] = [];
    if (!hs.ccsSent && hs.hello.hello.sessionId.length > 0) records.push(this.#compatibilityCcs(hs));
    records.push(this.#write!.seal(ContentType.handshake, Buffer.concat(messages)));
    this.#write = new Tls13RecordProtection({ suite: h.suite.id, secret: app.client });
    this.#read = new Tls13RecordProtection({ suite: h.suite.id, secret: app.server });
    this.#keyChanged = true;
    this.#appendFirstRecord(records, ProtocolVersion.TLS13, h.alpn);
    this.#negotiated = {
      version: ProtocolVersion.TLS13, suite: h.suite, alpnProtocol: h.alpn, peerCertificate: hs.certificate!,
      extendedMasterSecret: false, group: h.group, signatureScheme: h.scheme ?? null, helloRetried: hs.retrySuite !== undefined,
    };
    this.#hs = undefined; // drop the transcript and handshake secrets
    this.#state = 'Traffic';
    return Buffer.concat(records);
  }

  #compatibilityCcs(hs: HandshakeContext): Buffer {
    hs.ccsSent = true;
    return frameRecord(ContentType.change_cipher_spec, ProtocolVersion.TLS12, Buffer.from([1]));
  }

  /** Post-handshake messages: NewSessionTicket (counted, dropped) and KeyUpdate. */
  #onPostHandshake13(m: HandshakeMessage, out: ReceiveResult): void {
    switch (m.type) {
      case HandshakeType.new_session_ticket:
        parseNewSessionTicket13(m.body);
        out.tickets++;
        return;
      case HandshakeType.key_update: {
        const requested = parseKeyUpdate(m.body);
        this.#read = (this.#read as Tls13RecordProtection).rekey();
        this.#keyChanged = true;
        if (requested && !this.#writeClosed) {
          // Answer under the old keys, then switch (RFC 8446 §4.6.3).
          const w = this.#write as Tls13RecordProtection;
          out.output.push(w.seal(ContentType.handshake, keyUpdateMessage(false)));
          this.#write = w.rekey();
        }
        return;
      }
      default:
        throw unexpected(`post-handshake message ${handshakeName(m.type)}`, this.#state);
    }
  }
}
