/**
 * One TapDance flow: a TCP + TLS connection to a decoy whose first application-data record is the
 * tagged request, answered by the station that took the connection over.
 *
 * Steps (SPEC.md "Establishing a flow"): connect to the decoy with Nagle off; TLS handshake with
 * the decoy; seal the tag (master secret, randoms, suite, connection id) for the station's key;
 * build the incomplete request over the next record's keystream and write it as exactly one
 * record in one TCP segment; wait for the station's first framed StationToClient. When no station
 * answers, the client completes the request so that the decoy answers it like any browser's
 * (the give-up path) and reports `ERR_STATION_NO_RESPONSE`.
 *
 * TLS 1.3 (SPEC.md §15): after the handshake, an HTTP/2 decoy first gets Chrome's preface record;
 * then the flow waits until the decoy's post-handshake records have arrived (tickets, and for
 * HTTP/2 the ACK of our SETTINGS: {@link settleBeforeTag}), so that the tag can tell the station
 * how many server records the client has seen. The decoy's data so far is discarded; the request
 * is the HTTP/1.1 one or the HTTP/2 HEADERS frame (`h2-request.ts`). An HTTP/2 decoy over TLS 1.2
 * gets the same preface and wait and a variant-0x12 tag (SPEC.md §18).
 *
 * A flow knows nothing of sessions, upload budgets or reconnects; `session.ts` does.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { connectTls, type ConnectTlsOptions, type TlsConnection } from '../tls/connection.js';
import { TlsError } from '../tls/errors.js';
import type { TlsSecrets } from '../tls/client-core.js';
import {
  sealTag, encodeTagPayload, encodeTls12Keys, encodeTls13Secrets, fitTag13, DEFAULT_TAG_FLAGS, TAG_VARIANT_TLS12_KEYS,
  TAG_VARIANT_TLS13, type TagKey,
} from '../crypto/tag.js';
import { encodeXProto } from '../protocol/xproto.js';
import { buildTaggedRequest, earlyDataRoom } from '../protocol/tagged-request.js';
import { buildH2TaggedRequest, CHROME_H2_PREFACE, H2FrameReader, isSettingsAck } from '../protocol/h2-request.js';
import { ContentType, ProtocolVersion } from '../tls/wire.js';
import { giveUpCompletion, systemRandomInt } from '../protocol/padding.js';
import { FrameDecoder, type Frame } from '../protocol/framing.js';
import { decodeStationToClient, encodeClientToStation, C2S_Transition, S2C_Transition, ErrorReasonS2C, type StationToClient } from '../protocol/messages.js';
import { GCM_IV_LENGTH, GCM_TAG_LENGTH } from '../crypto/aead.js';
import { ClientError } from './errors.js';
import { connectTcp } from './tcp.js';

/** Where a flow goes: the decoy's TLS name and address. */
export interface DecoyTarget {
  /** Name for SNI, Host and certificate checks. */
  serverName: string;
  /** IP address to connect to. */
  address: string;
  /** TCP port (443 for every public decoy). */
  port: number;
}

/** Opens the TCP connection to a decoy (e.g. through TOR_PT_PROXY). Must resolve connected. */
export type TcpConnector = (address: string, port: number, signal: AbortSignal) => Promise<Duplex>;

/** What the tag's X-Proto asks of the station. */
export interface FlowRequest {
  /** SESSION_INIT (station's default proxy) or SESSION_COVERT_INIT (with `covertAddress`). */
  transition: C2S_Transition.C2S_SESSION_INIT | C2S_Transition.C2S_SESSION_COVERT_INIT;
  /** `host:port` the station should connect to. */
  covertAddress?: string | undefined;
  /** Generation of the client's ClientConf (the station sends a newer one). */
  generation: number;
}

/** Options of {@link openFlow}. */
export interface FlowOptions {
  decoy: DecoyTarget;
  /** The station's X25519 public key (per-decoy key or the ClientConf default). */
  stationPublicKey: Uint8Array;
  /** The session's 16-byte connection id (the same on every flow of a session). */
  connectionId: Uint8Array;
  request: FlowRequest;
  /** The answer the station must give: SESSION_INIT / COVERT_INIT, or CONFIRM_RECONNECT on a redial. */
  expect: S2C_Transition;
  /** TLS options toward the decoy (profile, `ca`, `pinnedCertificate`, …); `serverName` comes from `decoy`. */
  tls?: Omit<ConnectTlsOptions, 'serverName' | 'handshakeTimeoutMs' | 'allowHalfOpen'> | undefined;
  /** TCP connector; default a direct `net.connect`. */
  connect?: TcpConnector | undefined;
  /** Deadline for TCP and TLS to the decoy, ms. Default random 11175–14231 like the public client. */
  decoyDeadlineMs?: number | undefined;
  /** How long to wait for the station after the tag. Default max(2 × handshake time, floor). */
  stationTimeoutMs?: number | undefined;
  /** Floor of that default, ms (default 2000; sessions use more for reconnects). */
  stationTimeoutFloorMs?: number | undefined;
  /** Representative bits randomised in the tag (default 0xc0). */
  topBitsMask?: number | undefined;
  /** Tag flags (default 0x01: type-length framing). */
  flags?: number | undefined;
  /** Largest protobuf frame accepted from the station. */
  maxProtobufLength?: number | undefined;
  /**
   * TLS 1.2 with HTTP/1.1: send the tagged request with our Finished (False Start, as Chrome
   * does), one round trip earlier; the station takes over once the decoy's Finished has passed
   * (SPEC.md §5.1). Default true; false for stations that only know the public rule.
   */
  falseStart?: boolean | undefined;
  /**
   * The first covert bytes, if any are waiting: called once while the tag is built with the most
   * bytes that fit; what it returns travels inside X-Proto (SPEC.md §6.1) and the station writes it
   * to the covert connection before answering. Only for SESSION_INIT / SESSION_COVERT_INIT.
   */
  earlyData?: ((max: number) => Uint8Array | undefined) | undefined;
  signal?: AbortSignal | undefined;
}

/** Milliseconds each step took. */
export interface FlowTimings {
  tcpMs: number;
  tlsMs: number;
  /** From writing the tag until the station's first message. */
  stationMs: number;
}

/** An established flow, paused, with whatever arrived after the station's first message. */
export interface TapDanceFlow {
  tls: TlsConnection;
  /** The station's first message (already checked against `expect`). */
  init: StationToClient;
  /** The decoder holding any partial frame that followed the first message. */
  decoder: FrameDecoder;
  /** Whole frames that arrived right behind the first message. */
  pending: Frame[];
  /** Key of the tag (also the X-Proto key). */
  tagKey: TagKey;
  /** Covert bytes that went inside the tag (`earlyData`); the station has written them. */
  earlyBytes: number;
  /** The tag left with our TLS 1.2 Finished (False Start). */
  falseStart: boolean;
  timings: FlowTimings;
}

const DECOY_DEADLINE_RANGE = [11_175, 14_231] as const;
const GIVE_UP_CLOSE_RANGE = [11_175, 14_231] as const;
const STATION_TIMEOUT_FLOOR_MS = 2_000;

function abortError(signal: AbortSignal, deadline: AbortSignal): ClientError {
  if (deadline.aborted && !signal.aborted) return new ClientError('ERR_DIAL_TIMEOUT', 'the decoy did not complete TCP and TLS in time');
  return dialAborted(signal);
}

/** The caller's signal fired: its own timeout (`dial({ timeout })`) or an explicit abort. */
export function dialAborted(signal: AbortSignal): ClientError {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === 'TimeoutError'
    ? new ClientError('ERR_DIAL_TIMEOUT', 'the dial did not finish within its timeout', { cause: signal.reason })
    : new ClientError('ERR_DIAL_ABORTED', 'the dial was aborted', { cause: signal.reason });
}

/**
 * Open one flow: connect, handshake, tag, and wait for the station.
 *
 * @param options - see {@link FlowOptions}
 * @returns the flow, its transport paused, once the station's expected first message arrived
 * @throws {@link ClientError} `ERR_DECOY_CONNECT` (TCP/TLS), `ERR_DIAL_TIMEOUT`, `ERR_DIAL_ABORTED`,
 *   `ERR_STATION_NO_RESPONSE` (after completing the request for the decoy), `ERR_STATION_REFUSED`
 *   (S2C_ERROR), `ERR_STATION_PROTOCOL` (anything else unexpected)
 */
export async function openFlow(options: FlowOptions): Promise<TapDanceFlow> {
  const outer = options.signal ?? new AbortController().signal;
  if (outer.aborted) throw dialAborted(outer);
  const deadlineMs = options.decoyDeadlineMs ?? systemRandomInt(DECOY_DEADLINE_RANGE[0], DECOY_DEADLINE_RANGE[1]);
  const deadline = AbortSignal.timeout(deadlineMs);
  const signal = AbortSignal.any([outer, deadline]);
  const { decoy } = options;

  const t0 = performance.now();
  let transport: Duplex;
  try {
    transport = await (options.connect ?? connectTcp)(decoy.address, decoy.port, signal);
  } catch (err) {
    if (signal.aborted) throw abortError(outer, deadline);
    throw new ClientError('ERR_DECOY_CONNECT', `TCP to decoy ${decoy.serverName} failed: ${(err as Error).message}`,
      { cause: err, context: { decoy: decoy.serverName } });
  }
  const t1 = performance.now();
  const onAbort = (): void => { transport.destroy(); };
  signal.addEventListener('abort', onAbort, { once: true });
  let tls: TlsConnection;
  // TLS 1.2 False Start: the tagged request built from the handshake's secrets, sent with our Finished.
  let falseStart: { request: Uint8Array; key: TagKey; earlyBytes: number; sentAt: number } | undefined;
  try {
    tls = await connectTls(transport, {
      ...options.tls, serverName: decoy.serverName, handshakeTimeoutMs: 0, allowHalfOpen: true,
      // TLS 1.2 with HTTP/2: the preface leaves with our Finished (False Start), which marks the
      // flow for the station (SPEC.md §5, §18). TLS 1.3 sends it after the Finished, as Chrome does.
      sendWithFinished: ({ version, alpn, secrets, keystream }) => {
        if (version !== ProtocolVersion.TLS12) return undefined;
        if (alpn === 'h2') return CHROME_H2_PREFACE;
        if (options.falseStart === false) return undefined;
        falseStart = { ...tagTls12(secrets(), keystream, options), sentAt: performance.now() };
        return falseStart.request;
      },
    });
  } catch (err) {
    if (signal.aborted) throw abortError(outer, deadline);
    throw new ClientError('ERR_DECOY_CONNECT', `TLS to decoy ${decoy.serverName} failed: ${(err as Error).message}`,
      { cause: err, context: { decoy: decoy.serverName, tls: (err as TlsError).code } });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  const t2 = performance.now();
  if (outer.aborted) {
    tls.destroy();
    throw dialAborted(outer);
  }

  let tagged: Tagged;
  try {
    tagged = falseStart !== undefined ? { ...falseStart, completion: undefined }
      : tls.protocolVersion === ProtocolVersion.TLS13 ? await tagTls13(tls, options, t2 - t1, outer)
        : tls.alpnProtocol === 'h2' ? await tagTls12H2(tls, options, t2 - t1, outer)
          : tagTls12(tls.secrets(), (n) => tls.nextRecordKeystream(n), options);
  } catch (err) {
    tls.destroy();
    if (err instanceof ClientError) throw err;
    throw new ClientError('ERR_DECOY_CONNECT', `preparing the tagged request failed: ${(err as Error).message}`, { cause: err, context: { decoy: decoy.serverName } });
  }
  const { request, completion, key, earlyBytes } = tagged;
  if (falseStart === undefined) {
    try {
      await tls.writeRecord(request);
    } catch (err) {
      tls.destroy();
      throw new ClientError('ERR_DECOY_CONNECT', 'writing the tagged request failed', { cause: err });
    }
  }
  const t3 = falseStart?.sentAt ?? performance.now();
  const waitMs = options.stationTimeoutMs ?? Math.max(2 * (t2 - t0), options.stationTimeoutFloorMs ?? STATION_TIMEOUT_FLOOR_MS);
  const decoder = new FrameDecoder(options.maxProtobufLength === undefined ? {} : { maxProtobufLength: options.maxProtobufLength });
  const { init, pending } = await awaitStation(tls, decoder, options.expect, waitMs, outer, completion);
  return {
    tls, init, decoder, pending, tagKey: key, earlyBytes, falseStart: falseStart !== undefined,
    timings: { tcpMs: t1 - t0, tlsMs: t2 - t1, stationMs: performance.now() - t3 },
  };
}

/** A tagged request ready to send, the bytes that complete it for the decoy (HTTP/2), its key. */
interface Tagged {
  request: Uint8Array;
  completion: Uint8Array | undefined;
  key: TagKey;
  /** Covert bytes carried in X-Proto. */
  earlyBytes: number;
}

/** The X-Proto value of a first or later flow, with as many early covert bytes as fit. */
function xProtoFor(options: FlowOptions, key: TagKey): { xProto: string; earlyBytes: number } {
  const message = {
    decoyListGeneration: options.request.generation,
    stateTransition: options.request.transition,
    ...(options.request.covertAddress === undefined ? {} : { covertAddress: options.request.covertAddress }),
  };
  // Length of the X-Proto value without early data: base64 of nonce, message and GCM tag.
  const plainLength = Math.ceil((GCM_IV_LENGTH + encodeClientToStation(message).length + GCM_TAG_LENGTH) / 3) * 4;
  const room = earlyDataRoom(options.decoy.serverName, plainLength);
  const early = room > 0 ? options.earlyData?.(room)?.subarray(0, room) : undefined;
  if (early === undefined || early.length === 0) return { xProto: encodeXProto(key.aesKey, message), earlyBytes: 0 };
  return { xProto: encodeXProto(key.aesKey, { ...message, earlyData: early }), earlyBytes: early.length };
}

/**
 * TLS 1.2: the public tag (master secret, randoms) and the HTTP/1.1 request as record 1, from the
 * session's secrets and that record's keystream (after the handshake, or inside it for False Start).
 */
function tagTls12(secrets: TlsSecrets, keystream: (n: number) => Uint8Array, options: FlowOptions): Tagged {
  const { tag, key } = sealTag(options.stationPublicKey, encodeTagPayload({
    flags: options.flags ?? DEFAULT_TAG_FLAGS,
    cipherSuite: secrets.suite,
    masterSecret: secrets.masterSecret,
    serverRandom: secrets.serverRandom,
    clientRandom: secrets.clientRandom,
    connectionId: options.connectionId,
  }), options.topBitsMask === undefined ? {} : { topBitsMask: options.topBitsMask });
  const { xProto, earlyBytes } = xProtoFor(options, key);
  const request = buildTaggedRequest({ host: options.decoy.serverName, xProto, tag, keystream });
  return { request, completion: undefined, key, earlyBytes };
}

/**
 * TLS 1.2 with an HTTP/2 decoy: the decoy's SETTINGS follow its Finished, so the station cannot
 * write at sequence 1. Chrome's preface record (sequence 1, sent with our Finished), wait for the
 * decoy's SETTINGS ACK, then a variant-0x12 tag (key block, both sequence numbers) in the HEADERS
 * frame (record 2).
 */
async function tagTls12H2(tls: TlsConnection, options: FlowOptions, handshakeMs: number, signal: AbortSignal): Promise<Tagged> {
  if (tls.sentWithFinished === null) await tls.writeRecord(CHROME_H2_PREFACE);
  await settleBeforeTag(tls, { h2: true, tickets: false, handshakeMs, signal });
  const { suite, keyBlock } = tls.secrets();
  const { tag, key } = sealTag(options.stationPublicKey, encodeTagPayload({
    flags: options.flags ?? DEFAULT_TAG_FLAGS,
    variant: TAG_VARIANT_TLS12_KEYS,
    cipherSuite: suite,
    ...encodeTls12Keys({
      suite, clientKey: keyBlock.clientWriteKey, serverKey: keyBlock.serverWriteKey, clientIv: keyBlock.clientWriteIv,
      serverIv: keyBlock.serverWriteIv, clientSequence: Number(tls.writeSequence), serverSequence: Number(tls.readSequence),
    }),
    connectionId: options.connectionId,
  }), options.topBitsMask === undefined ? {} : { topBitsMask: options.topBitsMask });
  const { xProto, earlyBytes } = xProtoFor(options, key);
  const { headers, completion } = buildH2TaggedRequest({
    host: options.decoy.serverName, xProto, tag, keystream: (n) => tls.nextRecordKeystream(n),
  });
  return { request: headers, completion, key, earlyBytes };
}

/**
 * TLS 1.3: [Chrome's HTTP/2 preface record], wait for the decoy's post-handshake records, then
 * the variant-0x13 tag with the current secrets and sequence numbers, fitted to the record's
 * encrypted content type, in the HTTP/1.1 request or the HTTP/2 HEADERS frame.
 */
async function tagTls13(tls: TlsConnection, options: FlowOptions, handshakeMs: number, signal: AbortSignal): Promise<Tagged> {
  const h2 = tls.alpnProtocol === 'h2';
  if (h2 && tls.sentWithFinished === null) await tls.writeRecord(CHROME_H2_PREFACE);
  await settleBeforeTag(tls, { h2, tickets: true, handshakeMs, signal });
  const s = tls.tls13Secrets();
  const payload = encodeTagPayload({
    flags: options.flags ?? DEFAULT_TAG_FLAGS,
    variant: TAG_VARIANT_TLS13,
    cipherSuite: s.suite,
    ...encodeTls13Secrets({
      suite: s.suite, clientSecret: s.clientSecret, serverSecret: s.serverSecret,
      clientSequence: Number(s.clientSequence), serverSequence: Number(s.serverSequence),
    }),
    connectionId: options.connectionId,
  });
  const sealed = sealTag(options.stationPublicKey, payload, options.topBitsMask === undefined ? {} : { topBitsMask: options.topBitsMask });
  const { xProto, earlyBytes } = xProtoFor(options, sealed.key);
  const common = {
    host: options.decoy.serverName, xProto, innerContentType: ContentType.application_data,
    tag: (lastSixBits: number) => fitTag13(sealed.tag, sealed.key, payload, lastSixBits).tag,
    keystream: (n: number) => tls.nextRecordKeystream(n),
  };
  if (!h2) return { request: buildTaggedRequest(common), completion: undefined, key: sealed.key, earlyBytes };
  const { headers, completion } = buildH2TaggedRequest(common);
  return { request: headers, completion, key: sealed.key, earlyBytes };
}

/** Options of {@link settleBeforeTag}. */
export interface SettleOptions {
  /** The decoy speaks HTTP/2: wait for the ACK of our SETTINGS. */
  h2: boolean;
  /** Wait for a NewSessionTicket (TLS 1.3; TLS 1.2 tickets come before the server's Finished). */
  tickets: boolean;
  /** How long the TLS handshake took: about one round trip for TLS 1.3. */
  handshakeMs: number;
  signal: AbortSignal;
}

/**
 * Before a TLS 1.3 tag: wait until the decoy's post-handshake records have arrived, reading and
 * discarding its application data. The tag tells the station how many server records the client
 * has received; a record still in flight when the tag leaves would shift the station's sequence
 * numbers and break the session. Servers send their tickets either with their Finished (Go,
 * BoringSSL) or one round trip after ours (OpenSSL), and an HTTP/2 decoy acknowledges our SETTINGS
 * one round trip after our preface. So: wait for a ticket (and the SETTINGS ACK), then until no
 * record has arrived for a quiet spell of half a handshake time (10..100 ms); give up waiting for a
 * ticket after two handshake times plus 50 ms (100..3000 ms: some servers send none).
 *
 * @throws {@link ClientError} `ERR_DECOY_CONNECT` when an HTTP/2 decoy never acknowledges our
 *   SETTINGS or sends something else than HTTP/2 frames; `ERR_DIAL_ABORTED`/`ERR_DIAL_TIMEOUT`
 */
export function settleBeforeTag(tls: TlsConnection, o: SettleOptions): Promise<void> {
  const deadlineMs = Math.min(Math.max(2 * o.handshakeMs + 50, 100), 3000);
  const quietMs = Math.min(Math.max(o.handshakeMs / 2, 10), 100);
  const frames = new H2FrameReader();
  let acked = !o.h2;
  let ticket = !o.tickets || tls.ticketsReceived > 0;
  return new Promise((resolve, reject) => {
    let quietTimer: NodeJS.Timeout | undefined;
    const finish = (err?: ClientError): void => {
      clearTimeout(quietTimer);
      clearTimeout(deadline);
      tls.off('data', onData);
      tls.off('session-ticket', onTicket);
      tls.off('error', onError);
      tls.off('end', onEnd);
      o.signal.removeEventListener('abort', onAbort);
      tls.pause();
      if (err === undefined) resolve();
      else reject(err);
    };
    const arm = (): void => {
      clearTimeout(quietTimer);
      if (acked && ticket) quietTimer = setTimeout(() => finish(), quietMs);
    };
    const onData = (chunk: Buffer): void => {
      if (o.h2) {
        try {
          if (frames.push(chunk).some(isSettingsAck)) acked = true;
        } catch (cause) {
          finish(new ClientError('ERR_DECOY_CONNECT', 'the HTTP/2 decoy sent an oversized frame', { cause }));
          return;
        }
      }
      arm();
    };
    const onTicket = (): void => {
      ticket = true;
      arm();
    };
    const onError = (cause: Error): void => finish(new ClientError('ERR_DECOY_CONNECT', 'the decoy connection failed before the tag', { cause }));
    const onEnd = (): void => finish(new ClientError('ERR_DECOY_CONNECT', 'the decoy closed the connection before the tag'));
    const onAbort = (): void => finish(dialAborted(o.signal));
    const deadline = setTimeout(() => {
      if (!acked) finish(new ClientError('ERR_DECOY_CONNECT', 'the HTTP/2 decoy did not acknowledge our SETTINGS'));
      else {
        ticket = true; // no tickets from this server: wait only for quiet
        arm();
      }
    }, deadlineMs);
    tls.on('data', onData);
    tls.on('session-ticket', onTicket);
    tls.once('error', onError);
    tls.once('end', onEnd);
    o.signal.addEventListener('abort', onAbort, { once: true });
    arm();
  });
}

/** Read until the first frame; it must be the expected StationToClient. */
function awaitStation(tls: TlsConnection, decoder: FrameDecoder, expect: S2C_Transition, waitMs: number,
  signal: AbortSignal, completion: Uint8Array | undefined): Promise<{ init: StationToClient; pending: Frame[] }> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: ClientError | null, value?: { init: StationToClient; pending: Frame[] }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      tls.off('data', onData);
      tls.off('end', onEnd);
      tls.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (err === null) {
        tls.pause();
        resolve(value!);
      } else {
        reject(err);
      }
    };
    const fail = (err: ClientError): void => {
      tls.destroy();
      finish(err);
    };
    const onData = (chunk: Buffer): void => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        fail(new ClientError('ERR_STATION_PROTOCOL', 'the station sent an invalid frame', { cause: err }));
        return;
      }
      const first = frames[0];
      if (first === undefined) return;
      if (first.type !== 'protobuf') {
        fail(new ClientError('ERR_STATION_PROTOCOL', 'the station sent data before its first message'));
        return;
      }
      let init: StationToClient;
      try {
        init = decodeStationToClient(first.message);
      } catch (err) {
        fail(new ClientError('ERR_STATION_PROTOCOL', 'the station\'s first message does not decode', { cause: err }));
        return;
      }
      if (init.stateTransition === S2C_Transition.S2C_ERROR) {
        const reason = init.errReason ?? ErrorReasonS2C.NO_ERROR;
        fail(new ClientError('ERR_STATION_REFUSED', `the station refused the session: ${ErrorReasonS2C[reason] ?? reason}`,
          { context: { reason: ErrorReasonS2C[reason] ?? reason } }));
        return;
      }
      if (init.stateTransition !== expect) {
        fail(new ClientError('ERR_STATION_PROTOCOL',
          `the station answered ${S2C_Transition[init.stateTransition ?? 0] ?? init.stateTransition}, expected ${S2C_Transition[expect]}`,
          { context: { got: init.stateTransition, expected: expect } }));
        return;
      }
      finish(null, { init, pending: frames.slice(1) });
    };
    const onEnd = (): void => fail(new ClientError('ERR_STATION_NO_RESPONSE', 'the decoy closed the connection; no station answered'));
    const onError = (err: Error): void => fail(new ClientError('ERR_STATION_NO_RESPONSE', 'the connection failed before a station answered', { cause: err }));
    const onAbort = (): void => fail(dialAborted(signal));
    const timer = setTimeout(() => {
      giveUp(tls, completion);
      finish(new ClientError('ERR_STATION_NO_RESPONSE', `no station answered within ${Math.round(waitMs)} ms`, { context: { waitMs: Math.round(waitMs) } }));
    }, waitMs);
    tls.on('data', onData);
    tls.once('end', onEnd);
    tls.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    tls.resume(); // settleBeforeTag leaves the stream paused
  });
}

/**
 * Complete the request so that the decoy answers it normally, read its answer, and close a while
 * later, as a browser that lost interest would: the flow must not look abandoned mid-request.
 * HTTP/2 requests bring their own completion (the CONTINUATION frame).
 */
function giveUp(tls: TlsConnection, completion: Uint8Array | undefined): void {
  tls.on('error', () => {});
  tls.on('data', () => {});
  tls.write(completion ?? giveUpCompletion());
  setTimeout(() => tls.destroy(), systemRandomInt(GIVE_UP_CLOSE_RANGE[0], GIVE_UP_CLOSE_RANGE[1])).unref();
}
