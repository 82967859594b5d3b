/**
 * The TLS probe of a candidate decoy: which cipher suite it picks for the Chrome 62 ClientHello a
 * TapDance client sends, and whether it accepts a hello offering only AES-128-GCM suites.
 *
 * Why both: a TapDance flow needs the keystream of an AEAD suite the station can take over (this
 * project's station runs AES-128-GCM and AES-256-GCM), and it is the server that picks from the
 * Chrome 62 list. A server preferring CBC answers that hello with a suite the client cannot use,
 * and our TLS client stops with `ERR_TLS_UNSUPPORTED_SUITE`; its `context.suite` says which one.
 * The AES-128-GCM-only hello confirms support of the suite the public station always handled.
 *
 * Both handshakes check the certificate against the system roots (or the given `ca`) for the
 * candidate's name. Version: our client speaks TLS 1.2 only, so a completed handshake is TLS 1.2.
 *
 * @module
 */
import { cipherSuite, type AeadKind } from '../tls/cipher-suites.js';
import { CHROME_62, type ClientHelloProfile } from '../tls/profiles.js';
import { isProbeFailure, openProbeConnection, type ProbeFailure, type ProbeTarget, type ProbeTrust } from './connect.js';

/** The AES-128-GCM suites: ECDHE-ECDSA, ECDHE-RSA, RSA key transport. */
export const AES_128_GCM_SUITES: readonly number[] = [0xc02b, 0xc02f, 0x009c];

/** Chrome 62 with its suite list cut to the AES-128-GCM suites (GREASE kept first). */
export const AES_128_GCM_ONLY: ClientHelloProfile = Object.freeze({
  ...CHROME_62,
  name: 'chrome62-aes128gcm',
  cipherSuites: [{ grease: 'cipher' as const }, ...AES_128_GCM_SUITES],
});

/** Names of the Chrome 62 suites our client does not run (for reports). */
const OTHER_SUITE_NAMES: ReadonlyMap<number, string> = new Map([
  [0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  [0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'],
  [0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA'],
  [0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA'],
  [0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'],
]);

/** The outcome of one handshake. */
export interface HandshakeOutcome {
  /** The handshake completed (certificate valid, suite usable). */
  ok: boolean;
  /** The suite the server chose, when known (also for a refused CBC choice). */
  suite: number | null;
  /** Its IANA name, when known. */
  suiteName: string | null;
  /** Its AEAD, or null for a non-AEAD suite or none. */
  aead: AeadKind | null;
  /** `TLS 1.2` after a completed handshake, else null. */
  version: string | null;
  /** The ALPN protocol chosen, or null. */
  alpn: string | null;
  /** Handshake time in ms (TCP excluded), or null when it did not complete. */
  handshakeMs: number | null;
  /** Why it failed, or null. */
  failure: ProbeFailure | null;
}

/** What the TLS probe found. */
export interface TlsProbeResult {
  /** The Chrome 62 hello. */
  chrome62: HandshakeOutcome;
  /** The AES-128-GCM-only hello, or null when not tried (TCP or certificate failure first). */
  aes128Gcm: HandshakeOutcome | null;
  /** The leaf certificate of the completed handshake, or null. */
  certificate: { subject: string; issuer: string; validTo: string } | null;
}

/** Options of {@link probeTls}. */
export interface TlsProbeOptions extends ProbeTrust {
  /** Deadline of each handshake (TCP + TLS), ms. Default 10000. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The name of a suite number.
 *
 * @param id - IANA number
 * @returns its name, or `0x…` when unknown
 */
export function suiteName(id: number): string {
  return cipherSuite(id)?.name ?? OTHER_SUITE_NAMES.get(id) ?? `0x${id.toString(16).padStart(4, '0')}`;
}

/** Failures after which a second handshake would learn nothing new. */
function endsProbe(f: ProbeFailure): boolean {
  return !f.code.startsWith('ERR_TLS_') || f.code.startsWith('ERR_TLS_CERT_') || f.code === 'ERR_TLS_BAD_CERTIFICATE'
    || f.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || f.code === 'ERR_TLS_TRANSPORT_CLOSED';
}

async function handshake(target: ProbeTarget, profile: ClientHelloProfile, options: TlsProbeOptions):
  Promise<{ outcome: HandshakeOutcome; certificate: TlsProbeResult['certificate'] }> {
  const conn = await openProbeConnection(target, {
    profile, ca: options.ca, timeoutMs: options.timeoutMs ?? 10_000, signal: options.signal,
  });
  if (isProbeFailure(conn)) {
    const chosen = typeof conn.context?.['suite'] === 'number' && conn.code === 'ERR_TLS_UNSUPPORTED_SUITE'
      ? conn.context['suite'] : null;
    return {
      outcome: {
        ok: false, suite: chosen, suiteName: chosen === null ? null : suiteName(chosen), aead: null,
        version: null, alpn: null, handshakeMs: null, failure: conn,
      },
      certificate: null,
    };
  }
  const { tls } = conn;
  const p = tls.negotiatedParameters;
  const cert = p.peerCertificate;
  // Polite close: close_notify, then the socket goes when the server answers or after 2 s.
  tls.on('error', () => {});
  tls.resume();
  tls.end();
  setTimeout(() => tls.destroy(), 2000).unref();
  return {
    outcome: {
      ok: true, suite: p.suite.id, suiteName: p.suite.name, aead: p.suite.aead, version: 'TLS 1.2',
      alpn: p.alpnProtocol, handshakeMs: Math.round(conn.tlsMs), failure: null,
    },
    certificate: { subject: cert.subject.replace(/\n/g, ', '), issuer: cert.issuer.replace(/\n/g, ', '), validTo: cert.validTo },
  };
}

/**
 * Run the Chrome 62 handshake and, unless TCP or the certificate already failed, the
 * AES-128-GCM-only handshake.
 *
 * @param target - the candidate's name, address and port
 * @param options - trust anchors, deadline
 * @returns both outcomes; never throws for anything the server does
 * @example
 * ```ts
 * const r = await probeTls({ serverName: 'example.com', address: '192.0.2.1', port: 443 }, {})
 * if (r.chrome62.aead === 'aes-128-gcm' && r.aes128Gcm?.ok) console.log('usable suite')
 * ```
 */
export async function probeTls(target: ProbeTarget, options: TlsProbeOptions = {}): Promise<TlsProbeResult> {
  const first = await handshake(target, CHROME_62, options);
  const failure = first.outcome.failure;
  if (failure !== null && endsProbe(failure)) return { chrome62: first.outcome, aes128Gcm: null, certificate: null };
  const second = await handshake(target, AES_128_GCM_ONLY, options);
  return { chrome62: first.outcome, aes128Gcm: second.outcome, certificate: first.certificate ?? second.certificate };
}
