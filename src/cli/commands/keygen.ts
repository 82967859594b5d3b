/**
 * `tapdance keygen [--out DIR]`: make a station key pair and write `privkey` (secret key then
 * public key, mode 0600) and `pubkey` into DIR, the files of the public station's `genkey`.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { bytesToHex } from '../../crypto/bytes.js';
import { writeStationKeyFiles } from '../../crypto/key-files.js';
import { generateStationKeyPair } from '../../crypto/keys.js';
import { UsageError, type Command } from '../command.js';

/** The `keygen` command. */
export const keygenCommand: Command = {
  path: ['keygen'],
  summary: 'write a new station key pair (privkey, pubkey)',
  help: `Usage: tapdance keygen [--out DIR]

Make a new X25519 station key pair and write two files into DIR (default: the current
directory), replacing any existing ones:
  privkey   64 bytes: the 32-byte secret key, then the 32-byte public key (mode 0600)
  pubkey    32 bytes: the public key, for the ClientConf of clients
Prints the public key in hex.

Options:
  -o, --out DIR   directory to write to (created if missing)
  -h, --help      show this help
`,
  async run(args, io) {
    let values: { out?: string };
    try {
      ({ values } = parseArgs({ args, options: { out: { type: 'string', short: 'o' } }, strict: true, allowPositionals: false }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const dir = resolve(values.out ?? '.');
    const pair = generateStationKeyPair();
    const { privateKeyPath, publicKeyPath } = await writeStationKeyFiles(dir, pair);
    io.err(`wrote ${privateKeyPath} and ${publicKeyPath}\n`);
    io.out(`${bytesToHex(pair.publicKey)}\n`);
    return 0;
  },
};
