/**
 * A client TapDance session: one covert byte stream carried over a chain of flows to the same
 * decoy, switching flows before the decoy's TCP window or incomplete-request timeout runs out.
 *
 * Per flow (SPEC.md "Client session"): the upload budget is `tcpwin − rand[1,1045]`, of which
 * framed data may use all but 6 + 1024 bytes (room for the transition message); the read
 * deadline is `0.9 · timeout − rand[50,9500]` ms after the tag. When either is about to run out:
 * send C2S_EXPECT_RECONNECT, half-close (TCP FIN, no close_notify), keep reading until the
 * station's FIN, then redial the same decoy with the same connection id and expect
 * S2C_CONFIRM_RECONNECT. A station FIN we did not ask for (the station ended the flow) leads to
 * the same redial. A flow that breaks without a FIN (reset) may have lost bytes in either
 * direction, so the session ends with `ERR_SESSION_LOST` rather than continue with a hole.
 *
 * The engine is I/O-driven by {@link TapDanceSocket}; it knows nothing of the Duplex API.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { encodeDataFrame, encodeProtobufFrame, MAX_DATA_CHUNK, type Frame } from '../protocol/framing.js';
import {
  decodeStationToClient, encodeClientToStation, C2S_Transition, S2C_Transition, ErrorReasonS2C,
  type ClientConf, type StationToClient,
} from '../protocol/messages.js';
import { splitFailedDecoys, systemRandomInt, transitionPadding, type RandomInt } from '../protocol/padding.js';
import { openFlow, dialAborted, type FlowOptions, type TapDanceFlow, type FlowTimings } from './flow.js';
import { connectBackoffMs, type Decoy, type DecoyChooser } from './decoys.js';
import { ClientError } from './errors.js';
import type { TlsConnection } from '../tls/connection.js';

/** Room kept in every flow's budget for the largest header and the transition message. */
const WRITER_RESERVE = 6 + 1024;
const UPLOAD_MARGIN = [1, 1045] as const;
const READ_DEADLINE_MARGIN = [50, 9500] as const;
const FIN_WAIT = [22_350, 28_462] as const;
/** Least time a reconnecting flow waits for the station's CONFIRM_RECONNECT. */
const RECONNECT_STATION_TIMEOUT_FLOOR_MS = 10_000;

/** Settings of a {@link ClientSession}. */
export interface ClientSessionOptions {
  chooser: DecoyChooser;
  /** `host:port` for the station to connect to; omitted → the station's default proxy. */
  covertAddress?: string | undefined;
  /** Current ClientConf generation, sent in X-Proto and transitions. */
  generation: () => number;
  /** Called with a newer ClientConf from the station (persist it); errors are ignored. */
  onClientConf?: ((conf: ClientConf) => Promise<void> | void) | undefined;
  /** Per-flow options passed to {@link openFlow}. */
  flow?: Pick<FlowOptions, 'tls' | 'connect' | 'decoyDeadlineMs' | 'stationTimeoutMs' | 'topBitsMask' | 'flags' | 'maxProtobufLength' | 'falseStart'> | undefined;
  /** Send the first queued covert bytes inside the tag (SPEC.md §6.1). Default true. */
  earlyData?: boolean | undefined;
  /** Attempts for the first flow (default 20) and for each redial (default 5). */
  attempts?: number | undefined;
  reconnectAttempts?: number | undefined;
  /** Override the decoy's window or timeout (tests). */
  tcpWindow?: number | undefined;
  decoyTimeoutMs?: number | undefined;
  /** Back-off function (default min(25·2^i, 15000) ms). */
  backoffMs?: ((attempt: number) => number) | undefined;
  signal?: AbortSignal | undefined;
  randomInt?: RandomInt | undefined;
}

/** How the engine reaches its socket. */
export interface SessionSink {
  /** Covert bytes for the application; false asks the engine to pause reading. */
  data(chunk: Uint8Array): boolean;
  /** The covert stream ended (S2C_SESSION_CLOSE). */
  end(): void;
  /** The session failed. */
  error(err: ClientError): void;
  /** A flow switch started (for tests and diagnostics). */
  flowSwitched?(info: { flows: number; reason: string }): void;
  /** A flow (the first or a later one) is ready to carry data. */
  flowAttached?(): void;
}

interface WriteItem {
  data: Uint8Array;
  offset: number;
  callback: (err?: Error | null) => void;
}

type State = 'idle' | 'open' | 'switching' | 'closed';

/** Statistics of a session, for diagnostics and the first reconnect's SessionStats. */
export interface SessionInfo {
  decoy: Decoy | null;
  flows: number;
  failedDecoys: string[];
  firstFlow: FlowTimings | null;
  /** Covert bytes that went inside the first flow's tag (SPEC.md §6.1). */
  earlyBytes: number;
  /** Whether the first flow's tag left with the TLS 1.2 Finished (SPEC.md §5.1). */
  falseStart: boolean;
}

/** The session engine. */
export class ClientSession {
  readonly #o: ClientSessionOptions;
  readonly #sink: SessionSink;
  readonly #random: RandomInt;
  #connectionId: Uint8Array;
  #state: State = 'idle';
  #decoy: Decoy | null = null;
  #flow: TapDanceFlow | null = null;
  #flows = 0;
  #uploadLimit = 0;
  #written = 0;
  #readTimer: NodeJS.Timeout | undefined;
  #finTimer: NodeJS.Timeout | undefined;
  #queue: WriteItem[] = [];
  #writeEnded = false;
  #endCallback: ((err?: Error | null) => void) | undefined;
  #readPaused = false;
  #failedDecoys: string[] = [];
  #failedCount = 0;
  #statsSent = false;
  #firstTimings: FlowTimings | null = null;
  #earlyBytes = 0;
  #falseStart = false;
  /** Whole initial dial, failed attempts included (SessionStats.total_time_to_connect). */
  #connectMs = 0;
  #waitingDrain = false;

  constructor(options: ClientSessionOptions, sink: SessionSink) {
    this.#o = options;
    this.#sink = sink;
    this.#random = options.randomInt ?? systemRandomInt;
    this.#connectionId = new Uint8Array(randomBytes(16));
  }

  /** Diagnostics. */
  get info(): SessionInfo {
    return {
      decoy: this.#decoy, flows: this.#flows, failedDecoys: [...this.#failedDecoys], firstFlow: this.#firstTimings,
      earlyBytes: this.#earlyBytes, falseStart: this.#falseStart,
    };
  }

  /** The current flow's TLS connection (for setNoDelay and friends), if any. */
  get currentTls(): TlsConnection | null {
    return this.#flow?.tls ?? null;
  }

  /**
   * Establish the first flow, trying up to `attempts` decoys with back-off.
   * @throws {@link ClientError} the last attempt's error, or `ERR_DIAL_ABORTED`
   */
  async connect(): Promise<void> {
    const attempts = this.#o.attempts ?? 20;
    const tried = new Set<string>();
    const started = performance.now();
    let last: ClientError | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await this.#backoff(i);
      // A new connection id per initial attempt: a station that half-saw a failed attempt must not
      // mistake the next one for its reconnect.
      this.#connectionId = new Uint8Array(randomBytes(16));
      const decoy = this.#o.chooser.pick(tried);
      try {
        const flow = await this.#open(decoy, this.#initExpectation());
        this.#decoy = decoy;
        this.#firstTimings = flow.timings;
        this.#earlyBytes = flow.earlyBytes;
        this.#falseStart = flow.falseStart;
        this.#connectMs = performance.now() - started;
        this.#attach(flow);
        return;
      } catch (err) {
        const e = err as ClientError;
        last = e;
        if (!retryable(e)) throw e;
        tried.add(decoy.label);
        this.#failedDecoys.push(decoy.label);
        this.#failedCount++;
      }
    }
    throw last ?? new ClientError('ERR_NO_DECOYS', 'no decoy attempts were made');
  }

  /** Queue covert data; `callback` runs once it has been written to a flow. */
  write(data: Uint8Array, callback: (err?: Error | null) => void): void {
    if (this.#state === 'closed') {
      callback(new ClientError('ERR_SESSION_LOST', 'the session has ended'));
      return;
    }
    if (data.length === 0) {
      callback();
      return;
    }
    this.#queue.push({ data, offset: 0, callback });
    this.#pump();
  }

  /** The application finished writing: flush, then tell the station (C2S_SESSION_CLOSE). */
  end(callback: (err?: Error | null) => void): void {
    this.#writeEnded = true;
    this.#endCallback = callback;
    this.#pump();
  }

  /** The application wants more data. */
  resume(): void {
    this.#readPaused = false;
    this.#flow?.tls.resume();
  }

  /** Close everything now. A clean close (`err` absent) ends the current flow with close_notify. */
  destroy(err?: Error | null): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#readTimer);
    clearTimeout(this.#finTimer);
    const flow = this.#flow;
    this.#flow = null;
    if (flow !== null) {
      if (err == null && !flow.tls.writableEnded) flow.tls.end();
      setTimeout(() => flow.tls.destroy(), 2000).unref();
    }
    // Queued writes are dropped without their callbacks: the owning stream is being destroyed and
    // fails its own buffered writes; calling back into it now would corrupt its write state.
    this.#queue.length = 0;
  }

  // ---- flows -------------------------------------------------------------------------------------

  #initExpectation(): S2C_Transition {
    return this.#o.covertAddress === undefined ? S2C_Transition.S2C_SESSION_INIT : S2C_Transition.S2C_SESSION_COVERT_INIT;
  }

  #open(decoy: Decoy, expect: S2C_Transition): Promise<TapDanceFlow> {
    const covert = this.#o.covertAddress;
    const reconnect = expect === S2C_Transition.S2C_CONFIRM_RECONNECT;
    return openFlow({
      ...(!reconnect && this.#o.earlyData !== false ? { earlyData: (max: number) => this.#peekQueue(max) } : {}),
      // A reconnect's answer may come late through loss (TCP back-off); giving up on it early
      // would lose what the station already sent on it (see #redial).
      ...(reconnect ? { stationTimeoutFloorMs: RECONNECT_STATION_TIMEOUT_FLOOR_MS } : {}),
      ...this.#o.flow,
      decoy: decoy.target,
      stationPublicKey: decoy.stationKey,
      connectionId: this.#connectionId,
      request: {
        transition: covert === undefined ? C2S_Transition.C2S_SESSION_INIT : C2S_Transition.C2S_SESSION_COVERT_INIT,
        covertAddress: covert,
        generation: this.#o.generation(),
      },
      expect,
      signal: this.#o.signal,
    });
  }

  async #backoff(attempt: number): Promise<void> {
    const ms = (this.#o.backoffMs ?? connectBackoffMs)(attempt);
    try {
      await sleep(ms, undefined, this.#o.signal ? { signal: this.#o.signal } : undefined);
    } catch {
      throw dialAborted(this.#o.signal!);
    }
  }

  #attach(flow: TapDanceFlow): void {
    this.#flow = flow;
    // A 'drain' awaited on the previous flow will never come; writing resumes on this one.
    this.#waitingDrain = false;
    this.#flows++;
    this.#state = 'open';
    const decoy = this.#decoy!;
    const window = this.#o.tcpWindow ?? decoy.tcpWindow;
    this.#uploadLimit = window - this.#random(UPLOAD_MARGIN[0], UPLOAD_MARGIN[1]);
    this.#written = 0;
    const earlyDone = this.#consumeEarly(flow.earlyBytes);
    const timeout = this.#o.decoyTimeoutMs ?? decoy.timeoutMs;
    // The public client's margin (50–9500 ms) assumes timeouts of tens of seconds; for shorter
    // ones it is capped at 30% of the timeout so that a flow always lives a while.
    const margin = this.#random(READ_DEADLINE_MARGIN[0], Math.max(READ_DEADLINE_MARGIN[0], Math.min(READ_DEADLINE_MARGIN[1], Math.floor(0.3 * timeout))));
    const deadline = 0.9 * timeout - margin;
    this.#readTimer = setTimeout(() => this.#switchFlow('read deadline'), deadline);
    const tls = flow.tls;
    tls.on('data', (chunk: Buffer) => this.#onFlowData(flow, chunk));
    tls.on('end', () => this.#onFlowEnd(flow));
    tls.on('error', (err) => this.#onFlowBroken(flow, err));
    tls.on('close', () => this.#onFlowBroken(flow, null));
    this.#sink.flowAttached?.();
    this.#handleStationMessage(flow.init);
    this.#handleFrames(flow, flow.pending);
    if (this.#state === 'open') {
      if (!this.#readPaused) tls.resume();
      this.#pump();
    }
    // Last: a write callback can synchronously write (and pump) again, which must find the flow
    // fully attached.
    for (const callback of earlyDone) callback();
  }

  #onFlowData(flow: TapDanceFlow, chunk: Buffer): void {
    if (flow !== this.#flow) return;
    // Most records are one whole data frame: straight to the application.
    const whole = flow.decoder.wholeDataFrame(chunk);
    if (whole !== null) {
      if (this.#state !== 'closed') this.#deliver(flow, whole);
      return;
    }
    let frames: Frame[];
    try {
      frames = flow.decoder.push(chunk);
    } catch (err) {
      this.#fail(new ClientError('ERR_STATION_PROTOCOL', 'the station sent an invalid frame', { cause: err }));
      return;
    }
    this.#handleFrames(flow, frames);
  }

  /** Covert data to the application; pause the flow while the application is full. */
  #deliver(flow: TapDanceFlow, data: Uint8Array): void {
    if (!this.#sink.data(data) && !this.#readPaused) {
      this.#readPaused = true;
      flow.tls.pause();
    }
  }

  #handleFrames(flow: TapDanceFlow, frames: readonly Frame[]): void {
    for (const frame of frames) {
      if (this.#state === 'closed' || flow !== this.#flow) return;
      if (frame.type === 'data') {
        this.#deliver(flow, frame.data);
        continue;
      }
      let msg: StationToClient;
      try {
        msg = decodeStationToClient(frame.message);
      } catch (err) {
        this.#fail(new ClientError('ERR_STATION_PROTOCOL', 'a station message does not decode', { cause: err }));
        return;
      }
      const t = msg.stateTransition ?? S2C_Transition.S2C_NO_CHANGE;
      if (t !== S2C_Transition.S2C_NO_CHANGE) {
        if (t === S2C_Transition.S2C_SESSION_CLOSE) {
          this.#handleStationMessage(msg);
          this.#closeFromStation();
          return;
        }
        if (t === S2C_Transition.S2C_ERROR) {
          const reason = ErrorReasonS2C[msg.errReason ?? 0] ?? String(msg.errReason);
          this.#fail(new ClientError('ERR_STATION_REFUSED', `message from station: ${reason}`, { context: { reason } }));
          return;
        }
        this.#fail(new ClientError('ERR_STATION_PROTOCOL', `unexpected transition ${S2C_Transition[t] ?? t} on an established flow`,
          { context: { transition: t } }));
        return;
      }
      this.#handleStationMessage(msg);
    }
  }

  /** Apply what any station message may carry: a newer ClientConf. */
  #handleStationMessage(msg: StationToClient): void {
    const conf = msg.configInfo;
    if (conf === undefined || conf.generation < this.#o.generation()) return;
    this.#o.chooser.setConf(conf);
    try {
      void Promise.resolve(this.#o.onClientConf?.(conf)).catch(() => {});
    } catch {
      // persistence failures must not break the session
    }
  }

  #closeFromStation(): void {
    const flow = this.#flow;
    this.#state = 'closed';
    clearTimeout(this.#readTimer);
    this.#flow = null;
    flow?.tls.end();
    for (const item of this.#queue.splice(0)) item.callback(new ClientError('ERR_SESSION_CLOSED', 'the station closed the session'));
    this.#endCallback?.();
    this.#endCallback = undefined;
    this.#sink.end();
  }

  // ---- writing -----------------------------------------------------------------------------------

  /** Up to `max` bytes from the head of the write queue, left in place (a failed attempt resends them). */
  #peekQueue(max: number): Uint8Array | undefined {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (const item of this.#queue) {
      if (n >= max) break;
      const part = item.data.subarray(item.offset, item.offset + (max - n));
      parts.push(part);
      n += part.length;
    }
    return n === 0 ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  /**
   * The station has the first `n` queued bytes (they went inside the tag): drop them.
   * @returns the callbacks of the writes that are now complete, for the caller to run
   */
  #consumeEarly(n: number): ((err?: Error | null) => void)[] {
    this.#written += n;
    const done: ((err?: Error | null) => void)[] = [];
    while (n > 0 && this.#queue.length > 0) {
      const item = this.#queue[0]!;
      const take = Math.min(n, item.data.length - item.offset);
      item.offset += take;
      n -= take;
      if (item.offset === item.data.length) {
        this.#queue.shift();
        done.push(item.callback);
      }
    }
    return done;
  }

  #pump(): void {
    const flow = this.#flow;
    if (this.#state !== 'open' || flow === null || this.#waitingDrain) return;
    while (this.#queue.length > 0) {
      const canSend = this.#uploadLimit - this.#written - WRITER_RESERVE;
      if (canSend <= 0) {
        this.#switchFlow('upload budget');
        return;
      }
      const item = this.#queue[0]!;
      const n = Math.min(canSend, MAX_DATA_CHUNK, item.data.length - item.offset);
      const ok = flow.tls.write(encodeDataFrame(item.data.subarray(item.offset, item.offset + n)));
      this.#written += n + 2;
      item.offset += n;
      if (item.offset === item.data.length) {
        this.#queue.shift();
        item.callback();
      }
      if (!ok) {
        this.#waitingDrain = true;
        flow.tls.once('drain', () => {
          if (flow !== this.#flow) return;
          this.#waitingDrain = false;
          this.#pump();
        });
        return;
      }
    }
    if (this.#writeEnded && this.#endCallback !== undefined) {
      this.#sendMessage(flow, C2S_Transition.C2S_SESSION_CLOSE, false);
      const cb = this.#endCallback;
      this.#endCallback = undefined;
      cb();
    }
  }

  #sendMessage(flow: TapDanceFlow, transition: C2S_Transition, withExtras: boolean): void {
    const { send, later, size } = withExtras ? splitFailedDecoys(this.#failedDecoys) : { send: [], later: this.#failedDecoys, size: 0 };
    this.#failedDecoys = later;
    const first = this.#firstTimings;
    const stats = withExtras && !this.#statsSent && first !== null
      ? {
          failedDecoysAmount: this.#failedCount,
          totalTimeToConnect: Math.round(this.#connectMs),
          rttToStation: Math.round(first.stationMs),
          tlsToDecoy: Math.round(first.tlsMs),
          tcpToDecoy: Math.round(first.tcpMs),
        }
      : undefined;
    if (stats !== undefined) this.#statsSent = true;
    flow.tls.write(encodeProtobufFrame(encodeClientToStation({
      decoyListGeneration: this.#o.generation(),
      stateTransition: transition,
      uploadSync: 0n,
      failedDecoys: send,
      ...(stats === undefined ? {} : { stats }),
      padding: withExtras ? transitionPadding(size, this.#random) : new Uint8Array(0),
    })));
  }

  // ---- switching flows ---------------------------------------------------------------------------

  #switchFlow(reason: string): void {
    const flow = this.#flow;
    if (this.#state !== 'open' || flow === null) return;
    this.#state = 'switching';
    clearTimeout(this.#readTimer);
    this.#sendMessage(flow, C2S_Transition.C2S_EXPECT_RECONNECT, true);
    void flow.tls.closeWriteRaw().catch(() => {});
    this.#finTimer = setTimeout(() => {
      this.#fail(new ClientError('ERR_SESSION_LOST', 'timed out waiting for the station\'s FIN after EXPECT_RECONNECT', { context: { reason } }));
    }, this.#random(FIN_WAIT[0], FIN_WAIT[1]));
    this.#sink.flowSwitched?.({ flows: this.#flows, reason });
  }

  #onFlowEnd(flow: TapDanceFlow): void {
    if (flow !== this.#flow || this.#state === 'closed') return;
    try {
      flow.decoder.end();
    } catch (err) {
      this.#fail(new ClientError('ERR_STATION_PROTOCOL', 'the flow ended inside a frame', { cause: err }));
      return;
    }
    clearTimeout(this.#finTimer);
    clearTimeout(this.#readTimer);
    if (this.#state === 'open') {
      // The station ended the flow (its lifetime ran out): half-close ours and redial.
      this.#state = 'switching';
      void flow.tls.closeWriteRaw().catch(() => {});
      this.#sink.flowSwitched?.({ flows: this.#flows, reason: 'station FIN' });
    }
    void this.#redial();
  }

  #onFlowBroken(flow: TapDanceFlow, err: Error | null): void {
    if (flow !== this.#flow || this.#state === 'closed') return;
    if (err === null && flow.tls.readableEnded) return; // closed after a clean end: #onFlowEnd handles it
    this.#fail(new ClientError('ERR_SESSION_LOST', 'a flow broke without a clean end; bytes may have been lost',
      err === null ? {} : { cause: err }));
  }

  async #redial(): Promise<void> {
    const old = this.#flow;
    this.#flow = null;
    old?.tls.destroy();
    let decoy = this.#decoy!;
    if (!this.#o.chooser.has(decoy)) decoy = this.#o.chooser.pick();
    const attempts = this.#o.reconnectAttempts ?? 5;
    let last: ClientError | undefined;
    for (let i = 0; i < attempts; i++) {
      if (this.#state === 'closed') return;
      let flow: TapDanceFlow;
      try {
        if (i > 0) await this.#backoff(i);
        flow = await this.#open(decoy, S2C_Transition.S2C_CONFIRM_RECONNECT);
      } catch (err) {
        last = err as ClientError;
        if (last.code === 'ERR_STATION_PROTOCOL' || last.code === 'ERR_STATION_REFUSED' || last.code === 'ERR_DIAL_ABORTED') break;
        // The tag went out and no answer came: the station may still have attached that flow and
        // sent session bytes on it, which another flow would skip. End the session with an error
        // rather than continue past a possible hole.
        if (last.code === 'ERR_STATION_NO_RESPONSE') break;
        this.#failedDecoys.push(decoy.label);
        this.#failedCount++;
        continue;
      }
      if ((this.#state as State) === 'closed') {
        flow.tls.destroy();
        return;
      }
      this.#decoy = decoy;
      this.#attach(flow);
      return;
    }
    const lostSession = last?.code === 'ERR_STATION_PROTOCOL';
    this.#fail(new ClientError('ERR_SESSION_LOST', lostSession
      ? 'the station did not continue the session (restarted or forgot it)'
      : `could not re-establish a flow: ${last?.message ?? 'no attempt'}`, { cause: last }));
  }

  #fail(err: ClientError): void {
    if (process.env.TD_DEBUG) console.error("SESSION FAIL", err, (err as any).cause);
    if (this.#state === 'closed') return;
    this.#sink.error(err); // the sink destroys its stream, which calls destroy() here
    this.destroy(err);
  }
}

function retryable(err: ClientError): boolean {
  if (!(err instanceof ClientError)) return false;
  switch (err.code) {
    case 'ERR_DECOY_CONNECT':
    case 'ERR_DIAL_TIMEOUT':
    case 'ERR_STATION_NO_RESPONSE':
      return true;
    case 'ERR_STATION_REFUSED':
      return err.context.reason === 'DECOY_OVERLOAD';
    default:
      return false;
  }
}
