/**
 * `tapdance tag decode`: run the station-side tag check on one TLS record given in hex and print
 * what it carries (the 132-byte payload and the X-Proto ClientToStation) as JSON, or `no tag`
 * with exit status 1. An operator's and developer's tool: it prints the TLS master secret.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { bytesToHex, hexToBytes } from '../../crypto/bytes.js';
import { readStationKeyFile } from '../../crypto/key-files.js';
import { TAG_FLAG_PROXY_HEADER, TAG_FLAG_UPLOAD_ONLY, TAG_FLAG_USE_TIL, type TagPayload } from '../../crypto/tag.js';
import { ClientToStationSchema, messageToJson } from '../../protocol/messages.js';
import { LEGACY_TAG_LAYOUT, readTag, readTaggedRecord } from '../../protocol/tag-reader.js';
import { TapDanceError } from '../../errors.js';
import { UsageError, type Command } from '../command.js';

const FLAG_NAMES: [number, string][] = [
  [TAG_FLAG_UPLOAD_ONLY, 'UPLOAD_ONLY'],
  [TAG_FLAG_PROXY_HEADER, 'PROXY_HEADER'],
  [TAG_FLAG_USE_TIL, 'USE_TIL'],
];

/**
 * The JSON form of a tag payload: numbers for flags (plus their names), hex for byte fields.
 *
 * @param p - the decoded payload
 * @returns a JSON-ready object
 */
export function payloadToJson(p: TagPayload): Record<string, unknown> {
  return {
    flags: p.flags,
    flagNames: FLAG_NAMES.filter(([bit]) => p.flags & bit).map(([, name]) => name),
    cipherSuite: `0x${p.cipherSuite.toString(16).padStart(4, '0')}`,
    masterSecret: bytesToHex(p.masterSecret),
    serverRandom: bytesToHex(p.serverRandom),
    clientRandom: bytesToHex(p.clientRandom),
    connectionId: bytesToHex(p.connectionId),
  };
}

/** Parse a hex option, allowing whitespace (pasted dumps) and an optional 0x prefix. */
function hexOption(value: string, name: string): Uint8Array {
  const compact = value.replace(/\s+/g, '').replace(/^0x/i, '');
  try {
    return hexToBytes(compact, name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The `tag decode` command. */
export const tagDecodeCommand: Command = {
  path: ['tag', 'decode'],
  summary: 'decode the tag and X-Proto of a TLS record (station side)',
  help: `Usage: tapdance tag decode (--station-secret HEX | --key-file FILE)... --record HEX [--legacy]

Look for a TapDance tag in one TLS application-data record, as the station does: take the
stego bytes at the end of the record, open the tag with each station key, derive the TLS
keys from the tag's master secret, decrypt the record at sequence 1 and read X-Proto.

Prints JSON: { keyIndex, payload: { flags, flagNames, cipherSuite, masterSecret,
serverRandom, clientRandom, connectionId }, recordDecrypted, clientToStation }.
clientToStation is null when the record has no readable X-Proto header.

Options:
  --station-secret HEX   32-byte station secret key in hex (repeatable)
  --key-file FILE        station privkey file as written by 'tapdance keygen' (repeatable)
  --record HEX           the whole record (5-byte header included) in hex; spaces allowed
  --legacy               use the pre-2018 layout (186-byte tag, mask 0x7f); prints the raw
                         decrypted payload only
  -h, --help             show this help

Exit status: 0 tag found, 1 no tag, 2 bad arguments.
`,
  async run(args, io) {
    let values: { 'station-secret'?: string[]; 'key-file'?: string[]; record?: string; legacy?: boolean };
    try {
      ({ values } = parseArgs({
        args,
        options: {
          'station-secret': { type: 'string', multiple: true },
          'key-file': { type: 'string', multiple: true },
          record: { type: 'string' },
          legacy: { type: 'boolean' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const keys = (values['station-secret'] ?? []).map((h, i) => {
      const key = hexOption(h, `--station-secret #${i + 1}`);
      if (key.length !== 32) throw new UsageError(`--station-secret #${i + 1} must be 32 bytes (64 hex digits), got ${key.length} bytes`);
      return key;
    });
    for (const file of values['key-file'] ?? []) {
      try {
        keys.push((await readStationKeyFile(file)).secretKey);
      } catch (err) {
        const why = err instanceof TapDanceError ? err.message : ((err as NodeJS.ErrnoException).code ?? String(err));
        throw new UsageError(`--key-file ${file}: ${why}`);
      }
    }
    if (keys.length === 0) throw new UsageError('give at least one --station-secret or --key-file');
    if (values.record === undefined) throw new UsageError('--record is required');
    const record = hexOption(values.record, '--record');

    if (values.legacy === true) {
      const found = readTag(record, keys, { layout: LEGACY_TAG_LAYOUT });
      if (found === null) return noTag(io);
      io.out(`${JSON.stringify({ keyIndex: found.keyIndex, rawPayload: bytesToHex(found.rawPayload) }, null, 2)}\n`);
      return 0;
    }
    const found = readTaggedRecord(record, keys);
    if (found === null) return noTag(io);
    const result = {
      keyIndex: found.tag.keyIndex,
      payload: payloadToJson(found.tag.payload),
      recordDecrypted: found.plaintext !== null,
      clientToStation: found.xProto === null ? null : messageToJson(ClientToStationSchema, found.xProto.message),
    };
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  },
};

function noTag(io: { out: (s: string) => void }): number {
  io.out('no tag\n');
  return 1;
}
