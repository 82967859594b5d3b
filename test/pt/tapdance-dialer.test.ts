import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import { parsePtArgs } from '../../pt/args.js';
import { parseBridgeArgs } from '../../pt/bridge-args.js';
import { createDirectConnector } from '../../pt/connector.js';
import { PtState } from '../../pt/state.js';
import { createTapDanceDialer, type TapDanceDialRequest } from '../../pt/tapdance-dialer.js';

const bridge = { host: '127.0.0.1', port: 9001 };
const key = '515868be7f45ab6f310afed4b229b7a479fc9fde553dea4ccdb369ab1899e70c';
const dir = mkdtempSync(join(tmpdir(), 'tdpt-dialer-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('parses every bridge argument', async (t) => {
  const b = parseBridgeArgs(
    parsePtArgs(`pubkey=${key};clientconf=/etc/tapdance/ClientConf;covert=[2001:db8::1]:443;decoy=a.example@192.0.2.1;decoy=b.example@[2001:db8::2]:8443;decoy=c.example@198.51.100.3:444`),
    bridge,
  );
  t.equal(Buffer.from(b.stationPublicKey!).toString('hex'), key);
  t.equal(b.clientConfPath, '/etc/tapdance/ClientConf');
  t.same(b.covert, { host: '2001:db8::1', port: 443 });
  t.same(b.decoys, [
    { hostname: 'a.example', address: '192.0.2.1', port: 443 },
    { hostname: 'b.example', address: '2001:db8::2', port: 8443 },
    { hostname: 'c.example', address: '198.51.100.3', port: 444 },
  ]);
});

t.test('uses the bridge address as covert destination by default', async (t) => {
  const b = parseBridgeArgs(parsePtArgs(`pubkey=${key}`), bridge);
  t.same(b.covert, bridge);
  t.not(b.covert, bridge, 'a copy');
  t.same(b.decoys, []);
  t.equal(b.clientConfPath, undefined);
  t.same(parseBridgeArgs(parsePtArgs('covert=covert.example:80'), bridge).covert, { host: 'covert.example', port: 80 });
});

t.test('refuses malformed or unknown bridge arguments, naming the key', async (t) => {
  const bad: Array<[string, string]> = [
    ['pubky=00', 'pubky'],
    [`pubkey=${key.slice(2)}`, 'pubkey'],
    [`pubkey=${key.replace('5', 'g')}`, 'pubkey'],
    [`pubkey=${key};pubkey=${key}`, 'pubkey'],
    ['clientconf=ClientConf', 'clientconf'],
    ['covert=example.com', 'covert'],
    ['covert=example.com:0', 'covert'],
    ['covert=[nope]:80', 'covert'],
    ['covert=2001:db8::1:80', 'covert'],
    ['decoy=192.0.2.1', 'decoy'],
    ['decoy=@192.0.2.1', 'decoy'],
    ['decoy=a.example@decoy.example', 'decoy'],
    ['decoy=bad_name@192.0.2.1', 'decoy'],
    ['decoy=a.example@2001:db8::1', 'decoy'],
  ];
  for (const [args, key] of bad) {
    t.throws(() => parseBridgeArgs(parsePtArgs(args), bridge), { name: 'PtError', code: 'ERR_PT_BRIDGE_ARGS', context: { key } }, args);
  }
});

t.test('keeps saved ClientConf updates in a private subdirectory, replacing them atomically', async (t) => {
  const state = PtState.open(join(dir, 'pt_state'));
  t.equal(state.dir, join(dir, 'pt_state', 'tapdance'));
  t.equal(statSync(state.dir).mode & 0o777, 0o700);
  t.equal(state.readClientConf(), undefined);
  state.writeClientConf(Uint8Array.of(1, 2, 3));
  state.writeClientConf(Uint8Array.of(4, 5));
  t.same([...state.readClientConf()!], [4, 5]);
  t.equal(statSync(state.clientConfPath).mode & 0o777, 0o600);
  t.same(readdirSync(state.dir), ['ClientConf'], 'no temporary files left');
  t.throws(() => state.writeClientConf(new Uint8Array(9 * 1024 * 1024)), { code: 'ERR_PT_STATE' });
});

t.test('hands the client everything it needs and persists its ClientConf updates', async (t) => {
  const state = PtState.open(join(dir, 'hand-over'));
  state.writeClientConf(Uint8Array.of(9, 9));
  const confPath = join(dir, 'bridge-ClientConf');
  writeFileSync(confPath, Uint8Array.of(7, 7, 7));
  const connector = createDirectConnector();
  const logged: string[] = [];
  const log = { log: (_s: string, m: string) => void logged.push(m) };
  let request: TapDanceDialRequest | undefined;
  const stream = new PassThrough();
  const dialer = createTapDanceDialer({
    dial: async (req) => {
      request = req;
      req.saveClientConf(Uint8Array.of(1, 1, 6, 5));
      return stream as Duplex;
    },
    connector,
    state,
    log,
  });
  const signal = new AbortController().signal;
  const got = await dialer.dial(bridge, parsePtArgs(`pubkey=${key};clientconf=${confPath};decoy=a.example@192.0.2.1`), signal);
  t.equal(got, stream);
  t.same(request!.covert, bridge);
  t.equal(Buffer.from(request!.stationPublicKey!).toString('hex'), key);
  t.same([...request!.bridgeClientConf!], [7, 7, 7]);
  t.same([...request!.savedClientConf!], [9, 9]);
  t.same(request!.decoys, [{ hostname: 'a.example', address: '192.0.2.1', port: 443 }]);
  t.equal(request!.connector, connector);
  t.equal(request!.signal, signal);
  t.same([...state.readClientConf()!], [1, 1, 6, 5], 'update persisted');
});

t.test('refuses insufficient bridge lines and reports a missing client', async (t) => {
  const state = PtState.open(join(dir, 'insufficient'));
  const log = { log: () => {} };
  const dialer = createTapDanceDialer({ dial: undefined, connector: createDirectConnector(), state, log });
  const signal = new AbortController().signal;
  await t.rejects(dialer.dial(bridge, parsePtArgs('decoy=a.example@192.0.2.1'), signal), { code: 'ERR_PT_BRIDGE_ARGS', context: { key: 'pubkey' } });
  await t.rejects(dialer.dial(bridge, parsePtArgs(`pubkey=${key}`), signal), { code: 'ERR_PT_BRIDGE_ARGS', context: { key: 'decoy' } });
  await t.rejects(dialer.dial(bridge, parsePtArgs(`clientconf=${join(dir, 'missing')}`), signal), {
    code: 'ERR_PT_BRIDGE_ARGS',
    message: 'cannot read the clientconf file (ENOENT)',
  });
  await t.rejects(dialer.dial(bridge, parsePtArgs(`pubkey=${key};decoy=a.example@192.0.2.1`), signal), { code: 'ERR_PT_TRANSPORT_UNAVAILABLE' });
  // A saved ClientConf alone is enough.
  state.writeClientConf(Uint8Array.of(1));
  await t.rejects(dialer.dial(bridge, new Map(), signal), { code: 'ERR_PT_TRANSPORT_UNAVAILABLE' });
});
