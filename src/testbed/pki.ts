/**
 * Test certificates made with the system `openssl` binary: a private CA and leaf certificates
 * (RSA or ECDSA, valid or expired, any names) for decoys in tests, the testbed and benchmarks.
 *
 * Node's crypto can verify X.509 but not issue it, so this module shells out to `openssl`. It is
 * test tooling: keys are unencrypted and live under the directory the caller gives.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Key type of a generated certificate. */
export type KeyKind = 'rsa' | 'ecdsa';

/** Files and PEM text of one generated certificate. */
export interface CertFiles {
  /** Path of the PEM certificate. */
  certPath: string;
  /** Path of the PEM private key (unencrypted). */
  keyPath: string;
  /** PEM certificate text. */
  cert: string;
  /** PEM private key text. */
  key: string;
}

/** Options of {@link issueCert}. */
export interface IssueOptions {
  /** Subject common name; also the first DNS subjectAltName. */
  commonName: string;
  /** More DNS names for subjectAltName. */
  dnsNames?: string[];
  /** IP addresses for subjectAltName. */
  ipAddresses?: string[];
  /** Key type. Default `rsa` (2048 bits); `ecdsa` is P-256. */
  keyKind?: KeyKind;
  /** Make a certificate whose validity ended yesterday. */
  expired?: boolean;
  /** Self-sign instead of signing with the CA. */
  selfSigned?: boolean;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(path: string, kind: KeyKind, cwd: string): void {
  if (kind === 'rsa') openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path], cwd);
  else openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], cwd);
}

function load(certPath: string, keyPath: string): CertFiles {
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

/**
 * A private certificate authority in a directory, able to issue leaf certificates.
 *
 * @example
 * ```ts
 * const ca = TestCa.create('/tmp/pki')
 * const leaf = ca.issue({ commonName: 'decoy.test', keyKind: 'ecdsa' })
 * ```
 */
export class TestCa {
  readonly dir: string;
  readonly root: CertFiles;
  #serial = 1;

  private constructor(dir: string, root: CertFiles) {
    this.dir = dir;
    this.root = root;
  }

  /** Create a new CA (RSA 2048, 3 days) under `dir`, which is created if needed. */
  static create(dir: string, commonName = 'tapdance test CA'): TestCa {
    mkdirSync(dir, { recursive: true });
    newKey('ca.key', 'rsa', dir);
    openssl(['req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.pem', '-days', '3', '-subj', `/CN=${commonName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    return new TestCa(dir, load(join(dir, 'ca.pem'), join(dir, 'ca.key')));
  }

  /** Issue a leaf certificate (or a self-signed one) with the given names. */
  issue(options: IssueOptions): CertFiles {
    const n = this.#serial++;
    const base = `leaf${n}-${options.commonName.replace(/[^a-zA-Z0-9.-]/g, '_')}`;
    const keyPath = `${base}.key`;
    const certPath = `${base}.pem`;
    newKey(keyPath, options.keyKind ?? 'rsa', this.dir);
    const san = [options.commonName, ...(options.dnsNames ?? [])].map((d) => `DNS:${d}`)
      .concat((options.ipAddresses ?? []).map((ip) => `IP:${ip}`)).join(',');
    const ext = `${base}.ext`;
    writeFileSync(join(this.dir, ext),
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n` +
      `extendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
    // An expired certificate is backdated with `openssl ca -startdate/-enddate` (`x509 -days`
    // cannot start in the past on OpenSSL 3.0).
    if (options.expired) {
      this.#signExpired(keyPath, certPath, ext, options.commonName, options.selfSigned === true);
    } else if (options.selfSigned) {
      openssl(['req', '-x509', '-new', '-key', keyPath, '-out', certPath, '-days', '3', '-subj',
        `/CN=${options.commonName}`, '-extensions', 'v3', '-config', this.#extConfig(ext)], this.dir);
    } else {
      const csr = `${base}.csr`;
      openssl(['req', '-new', '-key', keyPath, '-out', csr, '-subj', `/CN=${options.commonName}`], this.dir);
      openssl(['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(1000 + n),
        '-out', certPath, '-days', '3', '-extfile', ext], this.dir);
    }
    return load(join(this.dir, certPath), join(this.dir, keyPath));
  }

  /** Write an openssl config whose `[v3]` section holds the extension lines of `ext`. */
  #extConfig(ext: string): string {
    const cfg = `${ext}.cnf`;
    writeFileSync(join(this.dir, cfg), `[req]\ndistinguished_name=dn\n[dn]\n[v3]\n${readFileSync(join(this.dir, ext), 'utf8')}`);
    return cfg;
  }

  #signExpired(keyPath: string, certPath: string, ext: string, cn: string, selfSigned: boolean): void {
    // `openssl ca` accepts explicit -startdate/-enddate, which is the portable way to backdate.
    const dbDir = `ca-db-${this.#serial}`;
    mkdirSync(join(this.dir, dbDir), { recursive: true });
    writeFileSync(join(this.dir, dbDir, 'index.txt'), '');
    writeFileSync(join(this.dir, dbDir, 'serial'), `${(0x2000 + this.#serial).toString(16)}\n`);
    const caCert = selfSigned ? certPath + '.tmp-self.pem' : 'ca.pem';
    const caKey = selfSigned ? keyPath : 'ca.key';
    if (selfSigned) {
      openssl(['req', '-x509', '-new', '-key', keyPath, '-out', caCert, '-days', '1', '-subj', `/CN=${cn}`], this.dir);
    }
    const cnf = `${dbDir}/ca.cnf`;
    writeFileSync(join(this.dir, cnf),
      `[ca]\ndefault_ca=c\n[c]\ndatabase=${dbDir}/index.txt\nserial=${dbDir}/serial\nnew_certs_dir=${dbDir}\n` +
      `default_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\ncommonName=supplied\n` +
      `[req]\ndistinguished_name=dn\n[dn]\n[v3]\n${readFileSync(join(this.dir, ext), 'utf8')}`);
    const csr = `${certPath}.csr`;
    openssl(['req', '-new', '-key', keyPath, '-out', csr, '-subj', `/CN=${cn}`], this.dir);
    const day = (offset: number): string => {
      const d = new Date(Date.now() + offset * 86400_000);
      const p = (x: number): string => String(x).padStart(2, '0');
      return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}000000Z`;
    };
    openssl(['ca', '-batch', '-config', cnf, '-cert', caCert, '-keyfile', caKey, '-in', csr, '-out', certPath,
      '-startdate', day(-3), '-enddate', day(-1), '-extensions', 'v3', '-notext'], this.dir);
  }
}
