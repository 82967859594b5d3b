/**
 * The station's sessions by connection id, and what happens to each taken-over flow: rebuild the
 * TLS session from the tag's secrets, read X-Proto, then either continue an existing session
 * (CONFIRM_RECONNECT) or start one (admission, per-decoy limit, covert connect behind the
 * allowlist, SESSION_INIT / SESSION_COVERT_INIT), or refuse it with S2C_ERROR and the reason.
 *
 * Input is a {@link Takeover}: a connected socket that continues the decoy's side of the client's
 * TCP connection, plus what the data plane learned from the tag. Where the socket comes from
 * (native TCP_REPAIR, or a test double) does not matter here.
 *
 * @module
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { bytesToHex } from '../crypto/bytes.js';
import type { TagKey, TagPayload } from '../crypto/tag.js';
import { readXProto } from '../protocol/tag-reader.js';
import { encodeProtobufFrame } from '../protocol/framing.js';
import { encodeStationToClient, C2S_Transition, S2C_Transition, ErrorReasonS2C, type ClientConf, type ClientToStation } from '../protocol/messages.js';
import { FlowTls } from './flow-tls.js';
import { StationSession, type SessionEnd, type SessionEnv } from './session.js';
import { connectCovert, type CovertPolicy } from './covert.js';
import type { DecoyLoad } from './decoy-load.js';
import { StationStats } from './stats.js';
import { SessionLabeler, redactClientAddress } from './log.js';
import { StationError } from './errors.js';

/** A flow the data plane took over. */
export interface Takeover {
  /** Socket continuing the decoy's side of the connection (first unread byte follows the tag). */
  socket: Socket;
  /** The decoded 132-byte tag payload. */
  payload: TagPayload;
  /** The tag's key (its AES key decrypts X-Proto). */
  tagKey: TagKey;
  /** The tagged TLS record, header included. */
  taggedRecord: Uint8Array;
  /** The decoy's address (the flow's server side). */
  decoyAddress: string;
  /** The client's address: used only for a truncated log prefix, never stored. */
  clientAddress: string;
}

/** Settings of the session table. */
export interface SessionTableOptions {
  log: Logger;
  stats: StationStats;
  covert: CovertPolicy;
  load: DecoyLoad;
  maxSessions: number;
  bufferBytes: number;
  reconnectWindowMs: number;
  flowLifetimeMs: number;
  clientAddressPrefixBits: number;
  stationId?: string | undefined;
  clientConf?: (() => { generation: number; conf: ClientConf } | undefined) | undefined;
}

/** Pending sessions hold their id while the covert connection is being made. */
type Entry = { kind: 'live'; session: StationSession } | { kind: 'starting' };

/**
 * Sessions by connection id.
 *
 * @example
 * ```ts
 * const table = new SessionTable({ log, stats, covert, load, ... })
 * native.start((t) => void table.accept(toTakeover(t)))
 * ```
 */
export class SessionTable {
  readonly #o: SessionTableOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #labeler = new SessionLabeler();
  #closed = false;

  constructor(options: SessionTableOptions) {
    this.#o = options;
  }

  /** Sessions live or starting. */
  get size(): number {
    return this.#entries.size;
  }

  /** Replace settings that may change at run time (SIGHUP): covert policy, limits, ClientConf. */
  update(options: Partial<Pick<SessionTableOptions, 'covert' | 'maxSessions' | 'bufferBytes' | 'reconnectWindowMs' | 'flowLifetimeMs' | 'clientConf' | 'stationId' | 'clientAddressPrefixBits'>>): void {
    Object.assign(this.#o, options);
  }

  /**
   * Turn a takeover into a flow of a new or existing session. Never throws: every failure is
   * counted, logged without the client's address, and answered or closed.
   */
  async accept(t: Takeover): Promise<void> {
    const o = this.#o;
    const logCtx = { client: redactClientAddress(t.clientAddress, o.clientAddressPrefixBits), decoy: t.decoyAddress };
    let flow: FlowTls;
    try {
      flow = new FlowTls(t.socket, {
        suite: t.payload.cipherSuite,
        masterSecret: t.payload.masterSecret,
        clientRandom: t.payload.clientRandom,
        serverRandom: t.payload.serverRandom,
      }, t.taggedRecord);
    } catch (err) {
      StationStats.bump(o.stats.takeoverFailures, (err as { code?: string }).code ?? 'tls');
      o.log.warn({ ...logCtx, err: (err as { code?: string }).code }, 'taken-over flow does not continue with the tag\'s secrets');
      t.socket.destroy();
      return;
    }
    flow.on('error', () => {}); // errors are handled by the session once attached; before that, by closing
    const request: ClientToStation | undefined = readXProto(flow.request, t.tagKey.aesKey)?.message;
    const id = bytesToHex(t.payload.connectionId);
    const label = this.#labeler.label(t.payload.connectionId);
    const transition = request?.stateTransition ?? C2S_Transition.C2S_SESSION_INIT;

    if (this.#closed) {
      this.#refuse(flow, ErrorReasonS2C.STATION_INTERNAL);
      return;
    }
    const existing = this.#entries.get(id);
    const early = request?.earlyData;
    if (existing?.kind === 'live' && !existing.session.ended) {
      if (early !== undefined && early.length > 0) {
        // Early data belongs to a session's first bytes (SPEC.md §6.1); on a reconnect it would
        // land out of order.
        this.#refuse(flow, ErrorReasonS2C.CLIENT_PROTOCOL);
        return;
      }
      o.log.debug({ session: label, ...logCtx }, 'flow continues a session');
      existing.session.attachFlow(flow, S2C_Transition.S2C_CONFIRM_RECONNECT, request);
      return;
    }
    if (existing?.kind === 'starting') {
      this.#refuse(flow, ErrorReasonS2C.CLIENT_PROTOCOL);
      return;
    }
    if (transition !== C2S_Transition.C2S_SESSION_INIT && transition !== C2S_Transition.C2S_SESSION_COVERT_INIT) {
      o.log.info({ session: label, transition }, 'new session with a transition other than SESSION_INIT');
      this.#refuse(flow, ErrorReasonS2C.CLIENT_PROTOCOL);
      return;
    }
    if (this.#entries.size >= o.maxSessions) {
      o.log.warn({ sessions: this.#entries.size }, 'session limit reached');
      this.#refuse(flow, ErrorReasonS2C.STATION_INTERNAL);
      return;
    }
    this.#entries.set(id, { kind: 'starting' });
    let acquired = false;
    try {
      acquired = await o.load.acquire(t.decoyAddress);
    } catch (err) {
      o.log.error({ err: (err as Error).message }, 'decoy load store failed');
    }
    if (!acquired) {
      this.#entries.delete(id);
      o.log.info({ session: label, decoy: t.decoyAddress }, 'decoy at its client limit');
      this.#refuse(flow, ErrorReasonS2C.DECOY_OVERLOAD);
      return;
    }
    const covertAddress = transition === C2S_Transition.C2S_SESSION_COVERT_INIT ? request?.covertAddress ?? '' : undefined;
    let covert: Socket;
    try {
      covert = (await connectCovert(covertAddress, o.covert)).socket;
    } catch (err) {
      this.#entries.delete(id);
      await o.load.release(t.decoyAddress).catch(() => {});
      const code = err instanceof StationError ? err.code : 'ERR_COVERT_CONNECT';
      StationStats.bump(o.stats.covertErrors, code);
      o.log.info({ session: label, err: code }, 'covert connection refused or failed');
      this.#refuse(flow, ErrorReasonS2C.COVERT_STREAM);
      return;
    }
    if (flow.destroyed || this.#closed) {
      this.#entries.delete(id);
      covert.destroy();
      await o.load.release(t.decoyAddress).catch(() => {});
      return;
    }
    if (early !== undefined && early.length > 0) {
      covert.write(early);
      o.stats.bytesUp += early.length;
    }
    const session = new StationSession(label, t.decoyAddress, covert, this.#env(), (s, how) => this.#ended(id, s, how));
    this.#entries.set(id, { kind: 'live', session });
    o.stats.sessionsActive++;
    o.stats.sessionsTotal++;
    o.log.info({ session: label, ...logCtx, covert: covertAddress === undefined ? 'default-proxy' : 'client' }, 'session started');
    session.attachFlow(flow, transition === C2S_Transition.C2S_SESSION_COVERT_INIT
      ? S2C_Transition.S2C_SESSION_COVERT_INIT : S2C_Transition.S2C_SESSION_INIT, request);
  }

  /** End every session (station shutdown). */
  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) if (e.kind === 'live') e.session.shutdown();
  }

  #env(): SessionEnv {
    const o = this.#o;
    return {
      log: o.log,
      stats: o.stats,
      bufferBytes: o.bufferBytes,
      reconnectWindowMs: o.reconnectWindowMs,
      flowLifetimeMs: o.flowLifetimeMs,
      stationId: o.stationId,
      clientConf: () => o.clientConf?.(),
    };
  }

  #ended(id: string, session: StationSession, how: SessionEnd): void {
    const e = this.#entries.get(id);
    if (e?.kind === 'live' && e.session === session) this.#entries.delete(id);
    this.#o.stats.sessionsActive--;
    StationStats.bump(this.#o.stats.sessionEnds, how);
    this.#o.log.info({ session: session.label, how }, 'session ended');
    void this.#o.load.release(session.decoy).catch(() => {});
  }

  /** Answer a flow that gets no session with S2C_ERROR and close it. */
  #refuse(flow: FlowTls, reason: ErrorReasonS2C): void {
    StationStats.bump(this.#o.stats.errorsSent, ErrorReasonS2C[reason] ?? String(reason));
    flow.on('data', () => {});
    flow.end(encodeProtobufFrame(encodeStationToClient({
      protocolVersion: 1,
      stateTransition: S2C_Transition.S2C_ERROR,
      errReason: reason,
      ...(this.#o.stationId === undefined ? {} : { stationId: this.#o.stationId }),
    })));
  }
}
