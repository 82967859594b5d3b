/**
 * Covert connections: from a client's `covert_address` to a connected TCP socket, or a typed
 * refusal. Every address is checked against the allowlist after name resolution and the socket
 * connects to exactly the address that was checked, so a name that resolves somewhere else later
 * (DNS rebinding) gains nothing. Sessions without a covert address go to the operator's default
 * forward proxy, which is configuration and not subject to the allowlist.
 *
 * @module
 */
import { connect, isIP, type Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { CovertAllowlist } from './allowlist.js';
import type { HostPort } from './config.js';
import { StationError } from './errors.js';

/** How covert connections are made. */
export interface CovertPolicy {
  allowlist: CovertAllowlist;
  /** Target of sessions that name no covert address. */
  defaultProxy?: HostPort | undefined;
  /** Resolve names; when false only literal addresses are accepted. */
  resolveNames: boolean;
  connectTimeoutMs: number;
  /** Name resolution (injectable for tests). */
  resolve?: ((host: string) => Promise<string[]>) | undefined;
}

/**
 * Split `host:port` / `[v6]:port` as a client sends it.
 * @returns null when the text is not of that form.
 */
export function parseCovertAddress(text: string): HostPort | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  if (text.startsWith('[') && isIP(m[1] as string) !== 6) return null;
  return { host: m[1] as string, port };
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

/**
 * The one buffer every covert socket reads into. A relay that allocated a buffer per read made
 * garbage as fast as it relayed, and V8 traced the heap again every few tens of MiB; each read
 * is now sealed towards the client, or copied, before the next one lands here (see
 * {@link readCovert}).
 */
const COVERT_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** Where each covert socket's reads go, set by {@link readCovert}. */
const readSinks = new WeakMap<Socket, { sink: ((chunk: Buffer) => void) | undefined }>();

function connectTo(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const reads: { sink: ((chunk: Buffer) => void) | undefined } = { sink: undefined };
    const socket = connect({
      host: address, port, allowHalfOpen: true, noDelay: true,
      onread: {
        buffer: COVERT_READ_BUFFER,
        // Back-pressure is the sink's pause(); true only means "no implicit pause".
        callback: (n: number, buf: Uint8Array): boolean => {
          reads.sink?.(buf.subarray(0, n) as Buffer);
          return true;
        },
      },
    });
    readSinks.set(socket, reads);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new StationError('ERR_COVERT_CONNECT', `covert connect to port ${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      // Nothing is read before readCovert names where the bytes go.
      socket.pause();
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new StationError('ERR_COVERT_CONNECT', `covert connect failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
        { cause: err }));
    });
  });
}

/**
 * Send a covert socket's bytes to `sink` from now on (and start reading).
 *
 * A socket from {@link connectCovert} reads into one buffer shared by all covert sockets: its
 * chunks are `transient`, valid only during the call, so the sink copies whatever it keeps.
 * Another socket (tests) delivers its own chunks, which the sink may keep.
 *
 * @param socket - the covert socket
 * @param sink - called for each read
 */
export function readCovert(socket: Socket, sink: (chunk: Buffer, transient: boolean) => void): void {
  const reads = readSinks.get(socket);
  if (reads === undefined) {
    socket.on('data', (chunk: Buffer) => sink(chunk, false));
    return;
  }
  reads.sink = (chunk) => sink(chunk, true);
  socket.resume();
}

/**
 * Connect to the covert destination a client asked for.
 *
 * @param covertAddress - the client's `host:port`, or undefined for the default proxy
 * @param policy - allowlist and connection settings
 * @returns the connected socket (allowHalfOpen, Nagle off) and the address it reached
 * @throws {@link StationError} `ERR_COVERT_DENIED` when no resolved address is allowed or the text
 *   is malformed, `ERR_COVERT_CONNECT` when the connection fails
 */
export async function connectCovert(covertAddress: string | undefined, policy: CovertPolicy): Promise<{ socket: Socket; target: HostPort }> {
  if (covertAddress === undefined || covertAddress === '') {
    if (policy.defaultProxy === undefined) {
      throw new StationError('ERR_COVERT_DENIED', 'the session names no covert address and no default proxy is configured');
    }
    const { host, port } = policy.defaultProxy;
    return { socket: await connectTo(host, port, policy.connectTimeoutMs), target: policy.defaultProxy };
  }
  const parsed = parseCovertAddress(covertAddress);
  if (parsed === null) throw new StationError('ERR_COVERT_DENIED', 'malformed covert address', { context: { length: covertAddress.length } });
  let candidates: string[];
  if (isIP(parsed.host) !== 0) candidates = [parsed.host];
  else if (!policy.resolveNames) throw new StationError('ERR_COVERT_DENIED', 'covert host names are not resolved by this station');
  else {
    try {
      candidates = await (policy.resolve ?? defaultResolve)(parsed.host);
    } catch (err) {
      throw new StationError('ERR_COVERT_CONNECT', `cannot resolve the covert host: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
  }
  const allowed = candidates.filter((a) => policy.allowlist.allows(a, parsed.port));
  if (allowed.length === 0) {
    throw new StationError('ERR_COVERT_DENIED', 'covert destination is outside the allowlist', { context: { port: parsed.port } });
  }
  let last: unknown;
  for (const address of allowed) {
    try {
      return { socket: await connectTo(address, parsed.port, policy.connectTimeoutMs), target: { host: address, port: parsed.port } };
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
