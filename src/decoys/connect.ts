/**
 * Opening a probe connection to a candidate decoy: TCP (Nagle off, like a TapDance client) and a
 * TLS 1.2 handshake with our own client, bounded by a deadline. Shared by the suite, robots.txt
 * and incomplete-request probes.
 *
 * Failures come back as a {@link ProbeFailure} (a code and a message), never as a thrown error:
 * for the builder a refused connection is a finding about the host, not a fault.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectTls, type TlsConnection } from '../tls/connection.js';
import { connectTcp } from '../client/tcp.js';
import type { CertificateInput } from '../tls/certificate-verifier.js';
import type { ClientHelloProfile } from '../tls/profiles.js';

/** Where a probe goes. */
export interface ProbeTarget {
  /** SNI, Host header and certificate name (a host name, or the address for address-only decoys). */
  serverName: string;
  /** IP address to connect to. */
  address: string;
  /** TCP port. */
  port: number;
}

/** How probes check certificates. */
export interface ProbeTrust {
  /** Trust anchors replacing the system roots (e.g. a test CA). */
  ca?: CertificateInput | readonly CertificateInput[] | undefined;
}

/** A failed step, as reported per host. */
export interface ProbeFailure {
  /** `ERR_TLS_…` code, a Node errno (`ECONNREFUSED`, `ETIMEDOUT`…), or `ERR_DECOY_…`. */
  code: string;
  /** Human-readable detail. */
  message: string;
  /** Safe context of the underlying error (e.g. `suite`, `alert`). */
  context?: Readonly<Record<string, unknown>> | undefined;
}

/** Options of {@link openProbeConnection}. */
export interface OpenOptions extends ProbeTrust {
  /** ClientHello profile (default Chrome 62). */
  profile?: ClientHelloProfile | undefined;
  /** ALPN list replacing the profile's. */
  alpnProtocols?: readonly string[] | undefined;
  /** Deadline for TCP and TLS together, ms. */
  timeoutMs: number;
  /** Abort the attempt. */
  signal?: AbortSignal | undefined;
}

/** An open probe connection. */
export interface ProbeConnection {
  socket: Socket;
  tls: TlsConnection;
  /** Time to the TCP connection, ms. */
  tcpMs: number;
  /** Time of the TLS handshake, ms. */
  tlsMs: number;
}

/**
 * Turn anything thrown by a probe step into a {@link ProbeFailure}.
 *
 * @param err - the error
 * @returns code, message and safe context
 */
export function toProbeFailure(err: unknown): ProbeFailure {
  const e = err as { code?: unknown; message?: unknown; context?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : 'ERR_UNKNOWN';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const context = e?.context !== null && typeof e?.context === 'object' ? e.context as Record<string, unknown> : undefined;
  return context === undefined ? { code, message } : { code, message, context };
}

async function tcpConnect(target: ProbeTarget, signal: AbortSignal): Promise<Socket> {
  try {
    return await connectTcp(target.address, target.port, signal);
  } catch (err) {
    if (!signal.aborted) throw err;
    throw Object.assign(new Error(`TCP connect to ${target.address}:${target.port} timed out`), { code: 'ETIMEDOUT' });
  }
}

/**
 * Connect and handshake.
 *
 * @param target - where to go
 * @param options - profile, ALPN, trust, deadline
 * @returns the connection, or a failure (TCP errno, `ETIMEDOUT`, or a `TlsError` code)
 */
export async function openProbeConnection(target: ProbeTarget, options: OpenOptions): Promise<ProbeConnection | ProbeFailure> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
  const t0 = performance.now();
  let socket: Socket;
  try {
    socket = await tcpConnect(target, signal);
  } catch (err) {
    return toProbeFailure(err);
  }
  const t1 = performance.now();
  const remaining = Math.max(1, options.timeoutMs - (t1 - t0));
  try {
    const tls = await connectTls(socket, {
      serverName: target.serverName,
      ca: options.ca,
      profile: options.profile,
      alpnProtocols: options.alpnProtocols,
      handshakeTimeoutMs: remaining,
      allowHalfOpen: true,
    });
    return { socket, tls, tcpMs: t1 - t0, tlsMs: performance.now() - t1 };
  } catch (err) {
    socket.destroy();
    return toProbeFailure(err);
  }
}

/**
 * Whether a value returned by {@link openProbeConnection} is a failure.
 *
 * @param v - the value
 * @returns true for a {@link ProbeFailure}
 */
export function isProbeFailure(v: ProbeConnection | ProbeFailure): v is ProbeFailure {
  return (v as ProbeFailure).code !== undefined && (v as ProbeConnection).tls === undefined;
}
