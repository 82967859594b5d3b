/**
 * Checks the server's certificate chain with node:crypto `X509Certificate`: builds a path from
 * the leaf through the certificates the server sent (in any order) to a trust anchor, checks
 * every signature, CA flag and validity period on it, the leaf's extended key usage, and the
 * host name or IP address.
 *
 * Trust anchors are the system roots (node:tls `rootCertificates`) unless the caller gives its
 * own `ca`. For test decoys, `pinnedCertificate` trusts exactly one leaf certificate (by its DER
 * bytes) and nothing else is checked. `dangerouslySkipVerification` accepts anything.
 *
 * Not done: revocation (OCSP, CRL), name constraints, policy, certificate transparency.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { TlsError } from './errors.js';

/** PEM text, DER bytes, or a parsed certificate. */
export type CertificateInput = string | Uint8Array | X509Certificate;

/** How to check the server's certificate. */
export interface CertificateVerifyOptions {
  /** Host name or IP address the certificate must be valid for. Required unless pinned or skipped. */
  serverName?: string | undefined;
  /** Trust anchors replacing the system roots (PEM text may hold several certificates). */
  ca?: CertificateInput | readonly CertificateInput[] | undefined;
  /** Trust exactly this leaf certificate (compared byte for byte); no other check is made. */
  pinnedCertificate?: CertificateInput | undefined;
  /** Accept any certificate. Only for tests and diagnostics: it removes all authentication. */
  dangerouslySkipVerification?: boolean | undefined;
  /** Clock for validity checks (default: now). */
  now?: Date | undefined;
}

const MAX_CHAIN_DEPTH = 8;
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';
const ANY_EKU_OID = '2.5.29.37.0';

/** Trust anchors indexed by subject name. */
export class TrustStore {
  readonly #bySubject = new Map<string, X509Certificate[]>();
  readonly #raw = new Set<string>();

  /** @param anchors - the trusted certificates. */
  constructor(anchors: Iterable<X509Certificate>) {
    for (const a of anchors) {
      const list = this.#bySubject.get(a.subject) ?? [];
      list.push(a);
      this.#bySubject.set(a.subject, list);
      this.#raw.add(a.raw.toString('base64'));
    }
  }

  /** Anchors whose subject is `name`. */
  bySubject(name: string): readonly X509Certificate[] {
    return this.#bySubject.get(name) ?? [];
  }

  /** Whether this exact certificate is an anchor. */
  has(cert: X509Certificate): boolean {
    return this.#raw.has(cert.raw.toString('base64'));
  }
}

let systemStore: TrustStore | undefined;

/** The system roots, parsed once on first use. */
export function systemTrustStore(): TrustStore {
  systemStore ??= new TrustStore(rootCertificates.map((pem) => new X509Certificate(pem)));
  return systemStore;
}

/**
 * Parse certificate inputs; PEM text may contain several certificates.
 *
 * @throws TlsError `ERR_TLS_INVALID_STATE` when an input is not a certificate.
 */
export function parseCertificates(input: CertificateInput | readonly CertificateInput[]): X509Certificate[] {
  const list: readonly CertificateInput[] = Array.isArray(input) ? input : [input as CertificateInput];
  const out: X509Certificate[] = [];
  for (const item of list) {
    try {
      if (item instanceof X509Certificate) out.push(item);
      else if (typeof item === 'string' || isPem(item)) {
        const pem = typeof item === 'string' ? item : Buffer.from(item).toString('latin1');
        const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        if (blocks.length === 0) throw new Error('no PEM certificate block');
        for (const b of blocks) out.push(new X509Certificate(b));
      } else out.push(new X509Certificate(Buffer.from(item)));
    } catch (cause) {
      throw new TlsError('ERR_TLS_INVALID_STATE', 'a configured certificate does not parse', { cause });
    }
  }
  return out;
}

function isPem(b: Uint8Array): boolean {
  return Buffer.from(b.subarray(0, 64)).toString('latin1').includes('-----BEGIN');
}

function isValidAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(cert.validTo).getTime();
}

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Find a path leaf → … → anchor. Depth-first over the server's certificates, so an unordered or
 * padded chain still works; each intermediate must be a CA and is used once. With `now`, only
 * certificates valid at that time are tried, so a cross-signed chain avoids an expired root.
 */
function buildPath(leaf: X509Certificate, pool: readonly X509Certificate[], store: TrustStore, now?: Date): X509Certificate[] | null {
  const usable = (c: X509Certificate): boolean => now === undefined || isValidAt(c, now);
  const walk = (path: X509Certificate[]): X509Certificate[] | null => {
    const cur = path[path.length - 1]!;
    for (const anchor of store.bySubject(cur.issuer)) {
      if (usable(anchor) && issuedBy(cur, anchor)) return [...path, anchor];
    }
    if (path.length >= MAX_CHAIN_DEPTH) return null;
    for (const cand of pool) {
      if (path.includes(cand) || !cand.ca || cand.subject !== cur.issuer || !usable(cand) || !issuedBy(cur, cand)) continue;
      const found = walk([...path, cand]);
      if (found !== null) return found;
    }
    return null;
  };
  if (store.has(leaf)) return [leaf];
  return walk([leaf]);
}

/** A verified server identity. */
export interface VerifiedCertificate {
  /** The leaf certificate. */
  leaf: X509Certificate;
  /** The path used, leaf first, anchor last (only the leaf when pinned or skipped). */
  path: X509Certificate[];
}

/**
 * Check the server's certificate chain.
 *
 * @param chain - DER certificates from the Certificate message, leaf first.
 * @param options - name, trust anchors, pin.
 * @param store - anchors to use when `options.ca` is not set (default: system roots).
 * @returns the leaf and the path.
 * @throws TlsError `ERR_TLS_BAD_CERTIFICATE` (empty or unparsable chain, wrong key usage),
 *   `ERR_TLS_CERT_UNTRUSTED` (no path to an anchor, pin mismatch), `ERR_TLS_CERT_EXPIRED`,
 *   `ERR_TLS_CERT_HOSTNAME`.
 */
export function verifyCertificateChain(chain: readonly Uint8Array[], options: CertificateVerifyOptions,
  store?: TrustStore): VerifiedCertificate {
  if (chain.length === 0) throw new TlsError('ERR_TLS_BAD_CERTIFICATE', 'the server sent no certificate');
  let certs: X509Certificate[];
  try {
    certs = chain.map((der) => new X509Certificate(Buffer.from(der)));
  } catch (cause) {
    throw new TlsError('ERR_TLS_BAD_CERTIFICATE', 'a server certificate does not parse', { cause });
  }
  const leaf = certs[0]!;
  if (options.dangerouslySkipVerification === true) return { leaf, path: [leaf] };
  if (options.pinnedCertificate !== undefined) {
    const pinned = parseCertificates(options.pinnedCertificate)[0]!;
    if (!leaf.raw.equals(pinned.raw)) {
      throw new TlsError('ERR_TLS_CERT_UNTRUSTED', 'the server certificate is not the pinned one',
        { context: { fingerprint256: leaf.fingerprint256 } });
    }
    return { leaf, path: [leaf] };
  }
  const anchors = options.ca !== undefined ? new TrustStore(parseCertificates(options.ca)) : (store ?? systemTrustStore());
  const now = options.now ?? new Date();
  // Prefer a path valid now; fall back to any path so that expiry is reported as such.
  const path = buildPath(leaf, certs.slice(1), anchors, now) ?? buildPath(leaf, certs.slice(1), anchors);
  if (path === null) {
    throw new TlsError('ERR_TLS_CERT_UNTRUSTED', 'the certificate chain does not lead to a trusted root',
      { context: { issuer: leaf.issuer.split('\n').join(', ') } });
  }
  for (const cert of path) {
    if (!isValidAt(cert, now)) {
      throw new TlsError('ERR_TLS_CERT_EXPIRED', 'a certificate on the path is expired or not yet valid',
        { context: { validFrom: cert.validFrom, validTo: cert.validTo } });
    }
  }
  const eku = leaf.keyUsage as string[] | undefined;
  if (eku !== undefined && !eku.includes(SERVER_AUTH_OID) && !eku.includes(ANY_EKU_OID)) {
    throw new TlsError('ERR_TLS_BAD_CERTIFICATE', 'the certificate is not for server authentication');
  }
  checkName(leaf, options.serverName);
  return { leaf, path };
}

function checkName(leaf: X509Certificate, name: string | undefined): void {
  if (name === undefined || name === '') {
    throw new TlsError('ERR_TLS_CERT_HOSTNAME', 'no server name to check the certificate against');
  }
  const host = name.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const ok = isIP(host) !== 0
    ? leaf.checkIP(host) !== undefined
    : leaf.checkHost(host, { subject: 'default', wildcards: true, partialWildcards: false }) !== undefined;
  if (!ok) throw new TlsError('ERR_TLS_CERT_HOSTNAME', `the certificate is not valid for ${host}`, { context: { host } });
}
