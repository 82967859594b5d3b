/**
 * Fetch `https://<decoy>/robots.txt` with our TLS client (HTTP/1.1, ALPN `http/1.1` only) and
 * decide the opt-out with `robots.ts`.
 *
 * Redirects are followed up to five times (RFC 9309 §2.3.1.2) while they stay on the decoy's own
 * https origin (scheme, name and port); a redirect elsewhere, or a sixth one, counts as
 * "unavailable" like a 4xx. A TLS or TCP failure, a timeout or a malformed answer counts as
 * "unreachable", which RFC 9309 treats as a complete disallow.
 *
 * @module
 */
import { isIPv6 } from 'node:net';
import { isProbeFailure, openProbeConnection, toProbeFailure, type ProbeFailure, type ProbeTarget, type ProbeTrust } from './connect.js';
import { HttpResponseParser, type HttpResponse } from './http-response.js';
import { robotsVerdictForFetch, type RobotsVerdict } from './robots.js';

/** User-Agent of the robots.txt request; `TapDance` is the product token robots.txt groups name. */
export const ROBOTS_USER_AGENT = 'TapDance/1.2 (decoy list builder; +https://refraction.network/info)';
/** Redirects followed at most (RFC 9309 §2.3.1.2). */
export const MAX_ROBOTS_REDIRECTS = 5;
/** Body bytes read at most (RFC 9309 §2.5 asks for at least 500 KiB). */
export const MAX_ROBOTS_BYTES = 512 * 1024;

/** What the robots.txt probe found. */
export interface RobotsProbeResult {
  /** Final HTTP status, or null when no answer was read. */
  status: number | null;
  /** Redirects followed. */
  redirects: number;
  /** Body length read. */
  bytes: number;
  /** The opt-out decision. */
  verdict: RobotsVerdict;
  /** Why no answer was read, or null. */
  failure: ProbeFailure | null;
}

/** Options of {@link fetchRobots}. */
export interface RobotsFetchOptions extends ProbeTrust {
  /** Deadline of each request (TCP, TLS, answer), ms. Default 15000. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The Host header for a target: the name (IPv6 in brackets) and the port unless 443.
 *
 * @param target - the target
 * @returns the header value
 */
export function hostHeader(target: ProbeTarget): string {
  const name = isIPv6(target.serverName) ? `[${target.serverName}]` : target.serverName;
  return target.port === 443 ? name : `${name}:${target.port}`;
}

async function getOnce(target: ProbeTarget, path: string, options: RobotsFetchOptions): Promise<HttpResponse | ProbeFailure> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const conn = await openProbeConnection(target, { ca: options.ca, alpnProtocols: ['http/1.1'], timeoutMs, signal: options.signal });
  if (isProbeFailure(conn)) return conn;
  const { tls } = conn;
  const parser = new HttpResponseParser({ maxBody: MAX_ROBOTS_BYTES });
  try {
    return await new Promise<HttpResponse | ProbeFailure>((resolve) => {
      const timer = setTimeout(() => resolve({ code: 'ETIMEDOUT', message: `no complete answer within ${timeoutMs} ms` }), timeoutMs);
      const done = (v: HttpResponse | ProbeFailure): void => {
        clearTimeout(timer);
        resolve(v);
      };
      tls.on('data', (chunk: Buffer) => {
        try {
          if (parser.push(chunk)) done(parser.response());
        } catch (err) {
          done(toProbeFailure(err));
        }
      });
      tls.on('end', () => {
        try {
          parser.end();
          done(parser.response());
        } catch (err) {
          done(toProbeFailure(err));
        }
      });
      tls.on('error', (err) => done(toProbeFailure(err)));
      tls.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader(target)}\r\nUser-Agent: ${ROBOTS_USER_AGENT}\r\n`
        + 'Accept: text/plain, */*\r\nConnection: close\r\n\r\n');
    });
  } finally {
    tls.destroy();
  }
}

/** The path of a redirect that stays on the target's https origin, else null. */
function sameOriginPath(target: ProbeTarget, location: string, from: string): string | null {
  let url: URL;
  try {
    url = new URL(location, `https://${hostHeader(target)}${from}`);
  } catch {
    return null;
  }
  const origin = new URL(`https://${hostHeader(target)}/`);
  return url.protocol === 'https:' && url.host === origin.host ? `${url.pathname}${url.search}` : null;
}

/**
 * Fetch robots.txt and decide whether the decoy opted out.
 *
 * @param target - the candidate's name, address and port
 * @param options - trust anchors, deadline
 * @returns status, verdict and any failure; never throws for anything the server does
 * @example
 * ```ts
 * const r = await fetchRobots({ serverName: 'example.com', address: '192.0.2.1', port: 443 })
 * if (r.verdict.optedOut) console.log('opted out by', r.verdict.rule ?? r.verdict.source)
 * ```
 */
export async function fetchRobots(target: ProbeTarget, options: RobotsFetchOptions = {}): Promise<RobotsProbeResult> {
  let path = '/robots.txt';
  for (let redirects = 0; ; redirects++) {
    const answer = await getOnce(target, path, options);
    if ('code' in answer) {
      return { status: null, redirects, bytes: 0, verdict: robotsVerdictForFetch(null), failure: answer };
    }
    const location = answer.headers.get('location');
    const next = answer.status >= 300 && answer.status < 400 && location !== undefined ? sameOriginPath(target, location, path) : null;
    if (next === null || redirects === MAX_ROBOTS_REDIRECTS) {
      const body = answer.body.toString('utf8');
      return { status: answer.status, redirects, bytes: answer.body.length, verdict: robotsVerdictForFetch(answer.status, body), failure: null };
    }
    path = next;
  }
}
