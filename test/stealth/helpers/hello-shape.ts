/**
 * The parts of a ClientHello record a censor can fingerprint, with what must differ between two
 * hellos of the same browser taken out: GREASE values become `GREASE`, random values (random,
 * session id, key shares, the ECH GREASE key, config id and payload) become their lengths, and
 * the extensions are listed by type (their order is compared separately, since Chromium permutes
 * it per hello). Two hellos with equal shapes are the same fingerprint "modulo GREASE values and
 * the permutation".
 *
 * @module
 */
import { Reader } from '../../../src/tls/codec.js';
import { isGrease } from '../../../src/tls/client-hello.js';
import { parseClientHello, type ClientHello } from '../../../src/tls/handshake-messages.js';
import { ExtensionType } from '../../../src/tls/wire.js';

const hex4 = (v: number): string => (isGrease(v) ? 'GREASE' : `0x${v.toString(16).padStart(4, '0')}`);

function list16(data: Uint8Array, lengthBytes: 1 | 2): string[] {
  const r = new Reader(data, 'list');
  const body = lengthBytes === 1 ? r.vec8() : r.vec16();
  r.end();
  const out: string[] = [];
  for (let i = 0; i < body.length; i += 2) out.push(hex4((body[i]! << 8) | body[i + 1]!));
  return out;
}

/** What an extension's body says once random values are reduced to their lengths. */
function extensionShape(type: number, data: Uint8Array): unknown {
  switch (type) {
    case ExtensionType.supported_groups:
    case ExtensionType.signature_algorithms:
      return list16(data, 2);
    case ExtensionType.supported_versions:
      return list16(data, 1);
    case ExtensionType.key_share: {
      const r = new Reader(new Reader(data, 'key_share').vec16(), 'shares');
      const out: string[] = [];
      while (r.remaining > 0) out.push(`${hex4(r.u16())}:${r.vec16().length} bytes`);
      return out;
    }
    case ExtensionType.encrypted_client_hello: {
      const r = new Reader(data, 'ech');
      const shape = { type: r.u8(), kdf: r.u16(), aead: r.u16(), configId: (r.u8(), '1 byte'), enc: `${r.vec16().length} bytes` };
      r.vec16();
      r.end();
      return shape; // the payload length varies per hello: see `echPayloadLength`
    }
    default:
      return isGrease(type) ? `${data.length} bytes` : Buffer.from(data).toString('hex');
  }
}

/** A hello's fingerprintable shape. */
export interface HelloShape {
  recordVersion: string;
  version: string;
  sessionId: string;
  randomLength: number;
  cipherSuites: string[];
  compression: number[];
  /** Extensions sorted by type, each with its shape. */
  extensions: [string, unknown][];
  /** Where GREASE extensions stand: index from the start or from the end. */
  greasePositions: string[];
}

/** Parse a ClientHello record (header included). */
export function parseHelloRecord(record: Uint8Array): ClientHello {
  return parseClientHello(record.subarray(5 + 4));
}

/**
 * The fingerprintable shape of a ClientHello record.
 *
 * @param record - the record, header included.
 * @returns the shape.
 */
export function helloShape(record: Uint8Array): HelloShape {
  const h = parseHelloRecord(record);
  const n = h.extensions.length;
  return {
    recordVersion: hex4((record[1]! << 8) | record[2]!),
    version: hex4(h.version),
    sessionId: `${h.sessionId.length} bytes`,
    randomLength: h.random.length,
    cipherSuites: h.cipherSuites.map(hex4),
    compression: h.compressionMethods,
    extensions: h.extensions.map((e): [string, unknown] => [hex4(e.type), extensionShape(e.type, e.data)])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
    greasePositions: h.extensions.flatMap((e, i) => (isGrease(e.type) ? [i < n / 2 ? `first+${i}` : `last-${n - 1 - i}`] : [])),
  };
}

/** The extension types in wire order, GREASE as `GREASE`. */
export function extensionOrder(record: Uint8Array): string[] {
  return parseHelloRecord(record).extensions.map((e) => hex4(e.type));
}

/** Length of the ECH GREASE payload (the only length that varies between Chromium hellos). */
export function echPayloadLength(record: Uint8Array): number {
  const data = parseHelloRecord(record).extensions.find((e) => e.type === ExtensionType.encrypted_client_hello)!.data;
  const r = new Reader(data, 'ech');
  r.u8(); r.u16(); r.u16(); r.u8(); r.vec16();
  return r.vec16().length;
}
