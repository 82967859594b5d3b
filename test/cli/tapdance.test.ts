import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, COMMANDS } from '../../src/cli/main.js';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { x25519PublicKey } from '../../src/crypto/x25519.js';
import { syntheticVector as sv, publicVectors } from '../crypto/helpers.js';

/** Run the CLI in-process and collect its output. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

t.test('keygen writes privkey (secret + public, 0600) and pubkey and prints the public key', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'td-cli-')), 'keys');
  const r = await run('keygen', '--out', dir);
  t.equal(r.code, 0);
  const priv = readFileSync(join(dir, 'privkey'));
  const pub = readFileSync(join(dir, 'pubkey'));
  t.equal(priv.length, 64);
  t.equal(pub.length, 32);
  t.equal(statSync(join(dir, 'privkey')).mode & 0o777, 0o600);
  t.equal(bytesToHex(priv.subarray(32)), bytesToHex(pub));
  t.equal(bytesToHex(x25519PublicKey(priv.subarray(0, 32))), bytesToHex(pub), 'the public key belongs to the secret');
  t.equal(r.out, `${bytesToHex(pub)}\n`);
  t.match(r.err, /wrote .*privkey/);
});

t.test('tag decode prints the payload and the X-Proto ClientToStation of the synthetic record', async (t) => {
  const r = await run('tag', 'decode', '--station-secret', sv.station_secret_key, '--record', sv.record);
  t.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out) as Record<string, any>;
  t.same(json, {
    keyIndex: 0,
    payload: {
      flags: 1,
      flagNames: ['USE_TIL'],
      cipherSuite: '0xc02f',
      masterSecret: sv.master_secret,
      serverRandom: sv.server_random,
      clientRandom: sv.client_random,
      connectionId: '000102030405060708090a0b0c0d0e0f',
    },
    recordDecrypted: true,
    clientToStation: {
      decoyListGeneration: 1165,
      stateTransition: 'C2S_SESSION_COVERT_INIT',
      covertAddress: 'example.com:443',
    },
  });
});

t.test('tag decode accepts key files, several keys and pasted hex with spaces', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'td-cli-'));
  const keyFile = join(dir, 'privkey');
  const secret = hexToBytes(sv.station_secret_key);
  writeFileSync(keyFile, Buffer.concat([secret, x25519PublicKey(secret)]));
  const spaced = sv.record.replace(/(.{64})/g, '$1\n  ');
  const r = await run('tag', 'decode', '--station-secret', 'aa'.repeat(32), '--key-file', keyFile, '--record', spaced);
  t.equal(r.code, 0, r.err);
  t.equal(JSON.parse(r.out).keyIndex, 1, 'the key file is the second key');
});

t.test('tag decode says "no tag" with exit status 1 for an untagged record or a wrong key', async (t) => {
  const other = await run('tag', 'decode', '--station-secret', 'aa'.repeat(32), '--record', sv.record);
  t.same(other, { code: 1, out: 'no tag\n', err: '' });
  const untagged = await run('tag', 'decode', '--station-secret', sv.station_secret_key, '--record', '1703030004deadbeef');
  t.same(untagged, { code: 1, out: 'no tag\n', err: '' });
});

t.test('tag decode --legacy reads the pre-2018 vector', async (t) => {
  const v = publicVectors.station_full_chain_legacy_layout;
  const r = await run('tag', 'decode', '--legacy', '--station-secret', v.station_secret_key, '--record', v.record);
  t.equal(r.code, 0);
  t.equal(JSON.parse(r.out).rawPayload, `0088${v.expected_payload}`);
});

t.test('bad hex and missing options are usage errors (status 2) with a clear message', async (t) => {
  const badRecord = await run('tag', 'decode', '--station-secret', sv.station_secret_key, '--record', '17030xyz');
  t.equal(badRecord.code, 2);
  t.match(badRecord.err, /--record.*not hex: unexpected character at position 5/);
  const odd = await run('tag', 'decode', '--station-secret', 'abc', '--record', sv.record);
  t.equal(odd.code, 2);
  t.match(odd.err, /--station-secret #1.*odd number of digits/);
  const short = await run('tag', 'decode', '--station-secret', 'abcd', '--record', sv.record);
  t.match(short.err, /must be 32 bytes \(64 hex digits\), got 2 bytes/);
  t.match((await run('tag', 'decode', '--record', sv.record)).err, /at least one --station-secret or --key-file/);
  t.match((await run('tag', 'decode', '--station-secret', sv.station_secret_key)).err, /--record is required/);
  t.match((await run('tag', 'decode', '--key-file', '/nonexistent/privkey', '--record', '00')).err, /--key-file .*ENOENT/);
  const unknown = await run('tag', 'decode', '--bogus');
  t.equal(unknown.code, 2);
  t.match(unknown.err, /Unknown option '--bogus'/);
  t.match(unknown.err, /tapdance tag decode --help/);
});

t.test('help lists every command; unknown commands point at the right group', async (t) => {
  const top = await run('--help');
  t.equal(top.code, 0);
  for (const c of COMMANDS) t.match(top.out, c.path.join(' '));
  t.equal((await run()).code, 2, 'no command is a usage error');
  const sub = await run('tag', 'decode', '--help');
  t.equal(sub.code, 0);
  t.match(sub.out, /Exit status: 0 tag found, 1 no tag, 2 bad arguments/);
  const group = await run('tag');
  t.equal(group.code, 2);
  t.match(group.err, /try 'tapdance tag decode'/);
  t.match((await run('frobnicate')).err, /unknown command 'frobnicate'/);
});

t.test('the executable runs as a process and sets its exit status', async (t) => {
  const entry = fileURLToPath(new URL('../../src/cli/tapdance.ts', import.meta.url));
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const ok = spawnSync(process.execPath, [...loader, entry, 'tag', 'decode', '--station-secret', sv.station_secret_key, '--record', sv.record], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.equal(JSON.parse(ok.stdout).payload.cipherSuite, '0xc02f');
  const none = spawnSync(process.execPath, [...loader, entry, 'tag', 'decode', '--station-secret', 'aa'.repeat(32), '--record', sv.record], { encoding: 'utf8' });
  t.equal(none.status, 1);
  t.equal(none.stdout, 'no tag\n');
  t.ok(readFileSync(entry, 'utf8').startsWith('#!/usr/bin/env node\n'), 'shebang');
});
