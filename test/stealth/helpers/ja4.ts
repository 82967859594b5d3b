/**
 * JA4 TLS client fingerprints (FoxIO JA4, `ja4/technical_details/JA4.md`) of a parsed
 * ClientHello: `t13d1518h2_<sha256 of sorted suites, 12 hex>_<sha256 of sorted extensions
 * (SNI and ALPN left out) "_" signature algorithms in order, 12 hex>`, GREASE ignored everywhere.
 *
 * Test tooling: it reads what our parser produced, it does not parse bytes itself.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Reader } from '../../../src/tls/codec.js';
import { isGrease } from '../../../src/tls/client-hello.js';
import type { ClientHello } from '../../../src/tls/handshake-messages.js';
import { ExtensionType } from '../../../src/tls/wire.js';

const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const sha12 = (s: string): string => (s === '' ? '000000000000' : createHash('sha256').update(s).digest('hex').slice(0, 12));

function u16s(data: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < data.length; i += 2) out.push((data[i]! << 8) | data[i + 1]!);
  return out;
}

/** The three parts of a JA4 fingerprint, and the strings hashed in b and c (for diagnostics). */
export interface Ja4 {
  fingerprint: string;
  a: string;
  bInput: string;
  cInput: string;
}

/**
 * The JA4 fingerprint of a ClientHello sent over TCP.
 *
 * @param hello - the parsed hello.
 * @returns fingerprint and its inputs.
 */
export function ja4(hello: ClientHello): Ja4 {
  const ext = (type: number): Uint8Array | undefined => hello.extensions.find((e) => e.type === type)?.data;
  const versions = ext(ExtensionType.supported_versions);
  const highest = versions === undefined ? hello.version : Math.max(...u16s(versions.subarray(1)).filter((v) => !isGrease(v)));
  const version = ({ 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10' } as Record<number, string>)[highest] ?? '00';
  const suites = hello.cipherSuites.filter((s) => !isGrease(s));
  const types = hello.extensions.map((e) => e.type).filter((t) => !isGrease(t));
  let alpn = '00';
  const alpnData = ext(ExtensionType.alpn);
  if (alpnData !== undefined) {
    const first = Buffer.from(new Reader(new Reader(alpnData, 'alpn').vec16(), 'alpn list').vec8()).toString('latin1');
    alpn = first.length === 0 ? '00' : `${first[0]}${first[first.length - 1]}`;
  }
  const a = `t${version}${ext(ExtensionType.server_name) === undefined ? 'i' : 'd'}${String(Math.min(suites.length, 99)).padStart(2, '0')}`
    + `${String(Math.min(types.length, 99)).padStart(2, '0')}${alpn}`;
  const bInput = suites.map(hex4).sort().join(',');
  const sigalgData = ext(ExtensionType.signature_algorithms);
  const sigalgs = sigalgData === undefined ? [] : u16s(sigalgData.subarray(2)).filter((s) => !isGrease(s)).map(hex4);
  const sortedExt = types.filter((t) => t !== ExtensionType.server_name && t !== ExtensionType.alpn).map(hex4).sort().join(',');
  const cInput = sigalgs.length === 0 ? sortedExt : `${sortedExt}_${sigalgs.join(',')}`;
  return { fingerprint: `${a}_${sha12(bInput)}_${sha12(cInput)}`, a, bInput, cInput };
}
