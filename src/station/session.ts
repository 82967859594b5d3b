/**
 * One TapDance session at the station: a covert TCP connection and the chain of client flows
 * that carry it, keyed by the 16-byte connection id from the tags.
 *
 * Byte order across flows: the client sends EXPECT_RECONNECT, half-closes, drains our data until
 * our FIN, then opens the next flow. Upstream, a new flow's data is held back until every older
 * flow has delivered its last byte (its FIN), so the covert side sees one ordered stream;
 * downstream, data written to an old flow before its FIN reaches the client before anything on
 * the new one, because the client drains the old flow first.
 *
 * Buffering is bounded: while no flow can take downstream data, at most `bufferBytes` are held and
 * the covert socket is paused; upstream, the client's flow is paused while the covert socket's
 * write buffer is full.
 *
 * Flow endings (SPEC.md "Session"):
 * - client FIN after EXPECT_RECONNECT, or a flow lost without close_notify → the flow ends; the
 *   session waits `reconnectWindowMs` for the next flow;
 * - client close_notify → the client closed the session;
 * - our own flow lifetime runs out → we FIN the flow (the client redials), before the decoy's
 *   timeout could turn into a reset.
 *
 * @module
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameDecoder, encodeDataFrameHeader, encodeProtobufFrame, type Frame } from '../protocol/framing.js';
import {
  decodeClientToStation, encodeStationToClient, C2S_Transition, S2C_Transition, ErrorReasonS2C,
  type ClientConf, type ClientToStation,
} from '../protocol/messages.js';
import type { FlowTls } from './flow-tls.js';
import { readCovert } from './covert.js';
import { StationStats } from './stats.js';

/** Station → client data frames carry at most this much (what the public station wrote). */
export const DOWNSTREAM_CHUNK = 16382;
/** Largest protobuf a client may send (its messages are < 1 KiB). */
const MAX_CLIENT_PROTOBUF = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** Header of a full downstream data frame, shared by all of them (it is only ever read). */
const FULL_FRAME_HEADER = Buffer.from(encodeDataFrameHeader(DOWNSTREAM_CHUNK).buffer);

/** Settings and services a session needs. */
export interface SessionEnv {
  log: Logger;
  stats: StationStats;
  /** Bytes of downstream data held while no flow can take them. */
  bufferBytes: number;
  /** End the session when no flow arrives for this long. */
  reconnectWindowMs: number;
  /** FIN a flow after this long. */
  flowLifetimeMs: number;
  /** Sent in every StationToClient.station_id when set. */
  stationId?: string | undefined;
  /** The ClientConf offered to clients with an older generation. */
  clientConf: () => { generation: number; conf: ClientConf } | undefined;
  /** Random padding length for station messages (1..199 like the public station). */
  paddingLength?: () => number;
}

interface ActiveFlow {
  readonly tls: FlowTls;
  readonly decoder: FrameDecoder;
  /** The client announced this flow's end (EXPECT_RECONNECT). */
  expectReconnect: boolean;
  /** We stopped sending downstream data on it (client FIN, lifetime, session end). */
  closingDown: boolean;
  /** The client's side of it has ended (FIN or close). */
  upstreamDone: boolean;
  /** Upstream held back until older flows finished. */
  gated: boolean;
  readonly lifetime: NodeJS.Timeout;
}

/** How a session ended (label of the `sessionEnds` counter). */
export type SessionEnd = 'covert_closed' | 'client_closed' | 'client_error' | 'client_protocol' | 'client_timeout' | 'covert_error' | 'shutdown';

/** One session. Created by the session table once its covert connection is up. */
export class StationSession {
  readonly label: string;
  readonly decoy: string;
  readonly #env: SessionEnv;
  readonly #covert: Socket;
  readonly #flows: ActiveFlow[] = [];
  readonly #pendingDown: Buffer[] = [];
  #pendingDownBytes = 0;
  /**
   * Covert bytes read but not framed yet: the tail of the last read, shorter than a frame, held
   * until the next read or the end of this turn of the event loop, so that frames (and the TLS
   * records they fill) stay full across reads.
   */
  readonly #carry: Buffer[] = [];
  #carryBytes = 0;
  #carryFlush: NodeJS.Immediate | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #covertEnded = false;
  #ended = false;
  readonly #onEnd: (s: StationSession, how: SessionEnd) => void;

  /**
   * @param label - log label of the session
   * @param decoy - decoy address whose load slot the session holds
   * @param covert - the connected covert socket
   * @param env - settings and services
   * @param onEnd - called once when the session ends
   */
  constructor(label: string, decoy: string, covert: Socket, env: SessionEnv, onEnd: (s: StationSession, how: SessionEnd) => void) {
    this.label = label;
    this.decoy = decoy;
    this.#covert = covert;
    this.#env = env;
    this.#onEnd = onEnd;
    readCovert(covert, (chunk, transient) => this.#fromCovert(chunk, transient));
    covert.on('end', () => this.#covertEnd());
    covert.on('error', (err) => {
      env.log.info({ session: label, err: (err as NodeJS.ErrnoException).code ?? err.message }, 'covert stream failed');
      StationStats.bump(env.stats.covertErrors, (err as NodeJS.ErrnoException).code ?? 'stream');
      this.#fail(ErrorReasonS2C.COVERT_STREAM, 'covert_error');
    });
  }

  /** Whether the session has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Attach a new flow and send it the first message.
   *
   * @param tls - the taken-over flow
   * @param transition - SESSION_INIT / SESSION_COVERT_INIT for the first flow, CONFIRM_RECONNECT after
   * @param request - the ClientToStation from the tag's X-Proto (for its ClientConf generation)
   */
  attachFlow(tls: FlowTls, transition: S2C_Transition, request: ClientToStation | undefined): void {
    if (this.#ended) {
      tls.destroy();
      return;
    }
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    // Unframed covert bytes go to the new flow, after its first message.
    this.#carryToPending();
    const flow: ActiveFlow = {
      tls,
      decoder: new FrameDecoder({ maxProtobufLength: MAX_CLIENT_PROTOBUF }),
      expectReconnect: false,
      closingDown: false,
      upstreamDone: false,
      gated: this.#flows.some((f) => !f.upstreamDone),
      lifetime: setTimeout(() => this.#lifetimeOver(flow), this.#env.flowLifetimeMs),
    };
    // Older flows still draining no longer take downstream data.
    for (const f of this.#flows) f.closingDown = true;
    this.#flows.push(flow);
    this.#env.stats.flowsActive++;
    this.#env.stats.flowsTotal++;
    if (transition === S2C_Transition.S2C_CONFIRM_RECONNECT) this.#env.stats.reconnects++;
    if (flow.gated) tls.pause();
    tls.on('data', (chunk: Buffer) => this.#fromClient(flow, chunk));
    tls.on('end', () => this.#flowUpstreamEnded(flow));
    tls.on('error', (err) => {
      this.#env.log.debug({ session: this.label, err: (err as { code?: string }).code ?? err.message }, 'flow failed');
      this.#flowGone(flow);
    });
    tls.on('close', () => this.#flowGone(flow));

    this.#send(flow, this.#message(transition, request?.decoyListGeneration));
    if (this.#pendingDownBytes > 0) {
      const pending = Buffer.concat(this.#pendingDown);
      this.#pendingDown.length = 0;
      this.#pendingDownBytes = 0;
      this.#writeData(flow, pending);
    }
    // The covert side may have been paused for an older flow's back-pressure or the buffer limit;
    // that flow's 'drain' will not come, so this flow takes over (unless it is already full).
    if (flow.tls.writableNeedDrain) flow.tls.once('drain', () => this.#resumeCovert());
    else this.#resumeCovert();
    if (this.#covertEnded) this.#closeTowardsClient(flow);
  }

  /** End the session now (station shutdown). */
  shutdown(): void {
    this.#end('shutdown');
  }

  // ---- client → covert ---------------------------------------------------------------------------

  #fromClient(flow: ActiveFlow, chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = flow.decoder.push(chunk);
    } catch (err) {
      this.#env.log.info({ session: this.label, err: (err as { code?: string }).code }, 'client sent a bad frame');
      this.#fail(ErrorReasonS2C.CLIENT_PROTOCOL, 'client_protocol');
      return;
    }
    for (const frame of frames) {
      if (this.#ended) return;
      if (frame.type === 'data') this.#toCovert(flow, frame.data);
      else this.#handleMessage(flow, frame.message);
    }
  }

  #toCovert(flow: ActiveFlow, data: Uint8Array): void {
    if (this.#covert.writableEnded || this.#covert.destroyed) return; // client already said SESSION_CLOSE
    this.#env.stats.bytesUp += data.length;
    if (!this.#covert.write(data) && !flow.tls.isPaused()) {
      flow.tls.pause();
      this.#covert.once('drain', () => {
        if (!flow.gated) flow.tls.resume();
      });
    }
  }

  #handleMessage(flow: ActiveFlow, bytes: Uint8Array): void {
    let msg: ClientToStation;
    try {
      msg = decodeClientToStation(bytes);
    } catch {
      this.#fail(ErrorReasonS2C.CLIENT_PROTOCOL, 'client_protocol');
      return;
    }
    this.#env.stats.failedDecoysReported += msg.failedDecoys.length;
    switch (msg.stateTransition ?? C2S_Transition.C2S_NO_CHANGE) {
      case C2S_Transition.C2S_NO_CHANGE: {
        const conf = this.#env.clientConf();
        if (conf !== undefined && msg.decoyListGeneration !== undefined && msg.decoyListGeneration < conf.generation) {
          this.#send(flow, this.#message(S2C_Transition.S2C_NO_CHANGE, msg.decoyListGeneration));
        }
        return;
      }
      case C2S_Transition.C2S_EXPECT_RECONNECT:
        flow.expectReconnect = true;
        return;
      case C2S_Transition.C2S_SESSION_CLOSE:
        // The client has finished writing: pass the half-close on and keep relaying downstream.
        this.#covert.end();
        return;
      case C2S_Transition.C2S_ERROR:
        this.#end('client_error');
        return;
      default:
        this.#env.log.info({ session: this.label, transition: msg.stateTransition }, 'unexpected client transition');
        this.#fail(ErrorReasonS2C.CLIENT_PROTOCOL, 'client_protocol');
    }
  }

  // ---- covert → client ---------------------------------------------------------------------------

  #activeFlow(): ActiveFlow | undefined {
    const last = this.#flows[this.#flows.length - 1];
    return last !== undefined && !last.closingDown ? last : undefined;
  }

  /** Covert bytes; `transient` ones (covert.ts's shared read buffer) are copied where kept. */
  #fromCovert(chunk: Buffer, transient: boolean): void {
    this.#env.stats.bytesDown += chunk.length;
    const flow = this.#activeFlow();
    if (flow !== undefined) {
      this.#writeData(flow, chunk, false, transient);
      return;
    }
    this.#carryToPending();
    this.#pendingDown.push(transient ? Buffer.from(chunk) : chunk);
    this.#pendingDownBytes += chunk.length;
    if (this.#pendingDownBytes >= this.#env.bufferBytes) this.#covert.pause();
  }

  /**
   * Frame `data` after the carried bytes as full data frames; a shorter tail waits in the carry
   * (until the next read or {@link #flushCarry}) unless `flush`. Each frame goes to FlowTls as its
   * header and views of the data, which it seals without a copy.
   *
   * `transient` data is valid only during this call. FlowTls seals what it is given at once when
   * nothing waits in it (its writes are then synchronous); otherwise the data is copied first, as
   * is any tail left in the carry.
   */
  #writeData(flow: ActiveFlow, data: Buffer, flush = false, transient = false): void {
    if (transient && flow.tls.writableLength > 0) {
      data = Buffer.from(data);
      transient = false;
    }
    const carry = this.#carry;
    if (data.length > 0) {
      carry.push(data);
      this.#carryBytes += data.length;
    }
    const tls = flow.tls;
    tls.cork();
    while (this.#carryBytes >= DOWNSTREAM_CHUNK || (flush && this.#carryBytes > 0)) {
      const n = Math.min(DOWNSTREAM_CHUNK, this.#carryBytes);
      tls.write(n === DOWNSTREAM_CHUNK ? FULL_FRAME_HEADER : Buffer.from(encodeDataFrameHeader(n).buffer));
      for (let left = n; left > 0;) {
        const first = carry[0]!;
        if (first.length <= left) {
          tls.write(first);
          carry.shift();
          left -= first.length;
        } else {
          tls.write(first.subarray(0, left));
          carry[0] = first.subarray(left);
          left = 0;
        }
      }
      this.#carryBytes -= n;
    }
    tls.uncork();
    if (transient) {
      for (let i = 0; i < carry.length; i++) if (carry[i]!.buffer === data.buffer) carry[i] = Buffer.from(carry[i]!);
    }
    if (this.#carryBytes > 0) {
      this.#carryFlush ??= setImmediate(() => {
        this.#carryFlush = undefined;
        this.#flushCarry();
      });
    }
    if (tls.writableNeedDrain && !this.#covert.isPaused()) {
      this.#covert.pause();
      flow.tls.once('drain', () => this.#resumeCovert());
    }
  }

  /** Send the carried bytes now (on the active flow, else keep them for the next one). */
  #flushCarry(): void {
    if (this.#carryBytes === 0 || this.#ended) return;
    const flow = this.#activeFlow();
    if (flow !== undefined) this.#writeData(flow, EMPTY, true);
    else this.#carryToPending();
  }

  /** Move the carried bytes to the end of the data held for the next flow. */
  #carryToPending(): void {
    if (this.#carryBytes === 0) return;
    for (const c of this.#carry) this.#pendingDown.push(c);
    this.#pendingDownBytes += this.#carryBytes;
    this.#carry.length = 0;
    this.#carryBytes = 0;
  }

  #resumeCovert(): void {
    if (!this.#ended && this.#pendingDownBytes < this.#env.bufferBytes) this.#covert.resume();
  }

  #covertEnd(): void {
    this.#covertEnded = true;
    const flow = this.#activeFlow();
    if (flow !== undefined) this.#closeTowardsClient(flow);
    // Otherwise the next flow gets the buffered data and SESSION_CLOSE when it attaches.
  }

  /** Everything downstream has been queued: say SESSION_CLOSE and close the flow cleanly. */
  #closeTowardsClient(flow: ActiveFlow): void {
    this.#send(flow, this.#message(S2C_Transition.S2C_SESSION_CLOSE));
    flow.closingDown = true;
    flow.tls.end();
    this.#end('covert_closed');
  }

  // ---- flow endings ------------------------------------------------------------------------------

  #flowUpstreamEnded(flow: ActiveFlow): void {
    if (flow.upstreamDone) return;
    flow.upstreamDone = true;
    const deliberate = flow.tls.closeNotifyReceived && !flow.expectReconnect;
    if (!flow.closingDown || !flow.tls.writableEnded) {
      flow.closingDown = true;
      // Bare FIN after our queued data: the client is draining until it sees it.
      if (!flow.tls.writableEnded) flow.tls.closeWriteRaw();
    }
    this.#releaseGate();
    if (deliberate) {
      this.#end('client_closed');
      return;
    }
    this.#awaitReconnect();
  }

  #flowGone(flow: ActiveFlow): void {
    const i = this.#flows.indexOf(flow);
    if (i < 0) return;
    this.#flows.splice(i, 1);
    clearTimeout(flow.lifetime);
    this.#env.stats.flowsActive--;
    if (!flow.upstreamDone) {
      flow.upstreamDone = true;
      this.#releaseGate();
    }
    if (!flow.tls.destroyed) flow.tls.destroy();
    this.#awaitReconnect();
  }

  #lifetimeOver(flow: ActiveFlow): void {
    if (flow.closingDown) return;
    this.#env.log.debug({ session: this.label }, 'flow lifetime over; closing it before the decoy does');
    flow.closingDown = true;
    flow.tls.closeWriteRaw();
    this.#awaitReconnect();
  }

  /** Let the oldest gated flow read once no older flow is still delivering upstream data. */
  #releaseGate(): void {
    for (const f of this.#flows) {
      if (f.gated) {
        f.gated = false;
        f.tls.resume();
      }
      if (!f.upstreamDone) return;
    }
  }

  #awaitReconnect(): void {
    if (this.#ended || this.#activeFlow() !== undefined || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#env.log.info({ session: this.label }, 'no new flow within the reconnect window');
      this.#end('client_timeout');
    }, this.#env.reconnectWindowMs);
  }

  // ---- messages and endings ----------------------------------------------------------------------

  #message(transition: S2C_Transition, clientGeneration?: number, errReason?: ErrorReasonS2C): Uint8Array {
    const conf = this.#env.clientConf();
    const stale = conf !== undefined && clientGeneration !== undefined && clientGeneration < conf.generation;
    const pad = this.#env.paddingLength?.() ?? 1 + Math.floor(Math.random() * 199);
    return encodeStationToClient({
      protocolVersion: 1,
      stateTransition: transition,
      ...(stale ? { configInfo: conf.conf } : {}),
      ...(errReason === undefined ? {} : { errReason }),
      ...(this.#env.stationId === undefined ? {} : { stationId: this.#env.stationId }),
      padding: new Uint8Array(pad),
    });
  }

  #send(flow: ActiveFlow, message: Uint8Array): void {
    if (flow.tls.writableEnded || flow.tls.destroyed) return;
    // Data read before the message goes before it.
    if (this.#carryBytes > 0 && flow === this.#activeFlow()) this.#writeData(flow, EMPTY, true);
    flow.tls.write(encodeProtobufFrame(message));
  }

  /** Tell the client why (on the active flow, if any) and end. */
  #fail(reason: ErrorReasonS2C, how: SessionEnd): void {
    if (this.#ended) return;
    const flow = this.#activeFlow() ?? this.#flows[this.#flows.length - 1];
    StationStats.bump(this.#env.stats.errorsSent, ErrorReasonS2C[reason] ?? String(reason));
    if (flow !== undefined) this.#send(flow, this.#message(S2C_Transition.S2C_ERROR, undefined, reason));
    this.#end(how);
  }

  #end(how: SessionEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#reconnectTimer);
    for (const f of this.#flows) {
      clearTimeout(f.lifetime);
      f.closingDown = true;
      if (!f.tls.writableEnded) f.tls.end();
    }
    if (how === 'covert_closed') this.#covert.end();
    else this.#covert.destroy();
    this.#pendingDown.length = 0;
    this.#pendingDownBytes = 0;
    this.#carry.length = 0;
    this.#carryBytes = 0;
    clearImmediate(this.#carryFlush);
    this.#onEnd(this, how);
  }
}
