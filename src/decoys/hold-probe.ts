/**
 * The incomplete-request probe: open TLS to a candidate as a TapDance client would (Chrome 62
 * hello, ALPN included), send the start of a request that never ends, and measure
 *
 * - the TCP window the decoy advertises once it has acknowledged that request
 *   (`tcp-info.ts` explains the method), and
 * - how long the decoy holds the incomplete request before it closes, resets or answers, up to a
 *   cap (120 s by default); a decoy still waiting at the cap is reported with the cap and
 *   `capped: true`.
 *
 * The request is `GET / HTTP/1.1`, `Host`, the TapDance User-Agent (which links operators to the
 * project's info page), and an unterminated `X-Ignore: ` header padded with `#` to the size of a
 * real tagged request, so the window is read after as many bytes as a real flow has sent. The hold
 * is timed from the moment the request was handed to the kernel.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { TAPDANCE_USER_AGENT, TAG_STEGO_LENGTH } from '../protocol/tagged-request.js';
import { xIgnorePaddingLength } from '../protocol/padding.js';
import { isProbeFailure, openProbeConnection, type ProbeFailure, type ProbeTarget, type ProbeTrust } from './connect.js';
import { readTcpInfo, type TcpInfo, type TcpInfoReader } from './tcp-info.js';

/** How the hold ended. */
export type HoldEnding =
  /** The decoy closed the connection (FIN or close_notify). */
  | 'close'
  /** The connection was reset. */
  | 'reset'
  /** The decoy answered the incomplete request (e.g. 408, or an HTTP/2 GOAWAY). */
  | 'response'
  /** Still open at the cap. */
  | 'cap'
  /** Stopped early: the window was already too small to keep the decoy. */
  | 'window'
  /** The caller aborted. */
  | 'aborted';

/** What the probe measured. */
export interface HoldProbeResult {
  /** Why no measurement was possible (TCP, TLS or write failure), or null. */
  failure: ProbeFailure | null;
  /** The decoy's advertised window after the handshake, bytes (null when unknown). */
  windowAfterHandshake: number | null;
  /** The decoy's advertised window after it acknowledged the incomplete request, bytes. */
  window: number | null;
  /** Window scale the decoy announced, when any. */
  windowScale: number | null;
  /** How long the decoy held the request, ms (the cap when `capped`); null when not measured. */
  holdMs: number | null;
  /** The decoy was still waiting at the cap. */
  capped: boolean;
  /** How the hold ended (null when no measurement). */
  ending: HoldEnding | null;
  /** The first line the decoy sent, if it answered (printable ASCII, ≤ 80 chars). */
  response: string | null;
  /** The ALPN protocol the decoy chose. */
  alpn: string | null;
}

/** Options of {@link probeHold}. */
export interface HoldProbeOptions extends ProbeTrust {
  /** Longest hold to wait for, ms. Default 120000. */
  maxHoldMs?: number | undefined;
  /** Deadline for TCP and TLS, ms. Default 10000. */
  connectTimeoutMs?: number | undefined;
  /** Stop as soon as the window is known to be below this many bytes. */
  stopBelowWindow?: number | undefined;
  /** Reads the socket's TCP state (default: `ss`). */
  readTcpInfo?: TcpInfoReader | undefined;
  signal?: AbortSignal | undefined;
}

const ACK_POLL_MS = 50;
const ACK_POLL_LIMIT = 40;

/**
 * The incomplete request a probe sends: like a tagged request in shape and size, without a tag.
 *
 * @param host - the Host header value
 * @returns ASCII bytes, ending inside the X-Ignore header
 */
export function incompleteRequest(host: string): Buffer {
  const shared = `Host: ${host}\nUser-Agent: ${TAPDANCE_USER_AGENT}`;
  const pad = xIgnorePaddingLength(shared.length) + TAG_STEGO_LENGTH;
  return Buffer.from(`GET / HTTP/1.1\r\n${shared.replace('\n', '\r\n')}\r\nX-Ignore: ${'#'.repeat(pad)}`, 'latin1');
}

function empty(failure: ProbeFailure | null): HoldProbeResult {
  return {
    failure, windowAfterHandshake: null, window: null, windowScale: null, holdMs: null, capped: false, ending: null,
    response: null, alpn: null,
  };
}

/** Poll until the decoy has acknowledged everything we sent, then return its window. */
async function windowAfterAck(read: () => Promise<TcpInfo | null>, ended: () => boolean): Promise<TcpInfo | null> {
  let info: TcpInfo | null = null;
  for (let i = 0; i < ACK_POLL_LIMIT && !ended(); i++) {
    info = await read();
    if (info === null || info.unacked === 0) return info;
    await sleep(ACK_POLL_MS);
  }
  return info;
}

/**
 * Measure a candidate's window and incomplete-request timeout on one connection.
 *
 * @param target - the candidate's name, address and port
 * @param options - cap, trust, early stop, TCP-state reader
 * @returns the measurements; never throws for anything the server does
 * @example
 * ```ts
 * const r = await probeHold({ serverName: 'example.com', address: '192.0.2.1', port: 443 }, { maxHoldMs: 120_000 })
 * console.log(r.window, r.holdMs, r.capped)
 * ```
 */
export async function probeHold(target: ProbeTarget, options: HoldProbeOptions = {}): Promise<HoldProbeResult> {
  const cap = options.maxHoldMs ?? 120_000;
  const read = options.readTcpInfo ?? readTcpInfo;
  const conn = await openProbeConnection(target, { ca: options.ca, timeoutMs: options.connectTimeoutMs ?? 10_000, signal: options.signal });
  if (isProbeFailure(conn)) return empty(conn);
  const { socket, tls } = conn;
  const result = empty(null);
  result.alpn = tls.alpnProtocol;

  let settle!: (ending: HoldEnding) => void;
  const ended = new Promise<HoldEnding>((resolve) => { settle = resolve; });
  let endedAt: number | null = null;
  let ending: HoldEnding | null = null;
  const finish = (how: HoldEnding): void => {
    if (ending !== null) return;
    ending = how;
    endedAt = performance.now();
    settle(how);
  };
  tls.on('data', (chunk: Buffer) => {
    if (result.response === null) result.response = chunk.toString('latin1').split(/\r?\n/)[0]!.replace(/[^\x20-\x7e]/g, '.').slice(0, 80);
    finish('response');
  });
  tls.on('end', () => finish('close'));
  tls.on('error', () => finish('reset'));
  socket.on('end', () => finish('close'));
  socket.on('error', () => finish('reset'));
  socket.on('close', () => finish('close'));
  const onAbort = (): void => finish('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const initial = await read(socket);
    result.windowAfterHandshake = initial?.sndWnd ?? null;
    result.windowScale = initial?.wscale?.snd ?? null;
    const written = new Promise<void>((resolve) => tls.write(incompleteRequest(target.serverName), () => resolve()));
    await written;
    const start = performance.now();
    const after = await windowAfterAck(() => read(socket), () => ending !== null);
    result.window = after?.sndWnd ?? null;
    if (options.stopBelowWindow !== undefined && result.window !== null && result.window < options.stopBelowWindow && ending === null) {
      finish('window');
    }
    const capTimer = setTimeout(() => finish('cap'), Math.max(0, cap - (performance.now() - start)));
    const how = await ended;
    clearTimeout(capTimer);
    result.ending = how;
    if (how !== 'window' && how !== 'aborted') {
      result.capped = how === 'cap';
      // A decoy that hung up while the request was still being written held it for 0 ms.
      result.holdMs = result.capped ? cap : Math.max(0, Math.round((endedAt ?? performance.now()) - start));
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    tls.destroy();
  }
  return result;
}
