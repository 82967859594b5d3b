import t, { type Test } from 'tap';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageVersion } from '../../pt/cli.js';
import { startUpstreamProxy } from './fixtures/upstream-proxies.js';
import { probe, roundTrip, startEchoServer, torStyleConnect } from './helpers.js';
import { PT_FIXTURE, PT_MAIN, runToExit, spawnPt, type PtProcess } from './pt-process.js';

const dir = mkdtempSync(join(tmpdir(), 'tdpt-proc-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const good = { TOR_PT_MANAGED_TRANSPORT_VER: '1', TOR_PT_STATE_LOCATION: join(dir, 'pt_state'), TOR_PT_CLIENT_TRANSPORTS: 'tapdance' };
const version = `STATUS TYPE=version IMPLEMENTATION="tapdance-pt" VERSION="${packageVersion()}"`;
const CMETHOD = /^CMETHOD tapdance socks5 127\.0\.0\.1:([0-9]+)$/;

// Every stdout line must be a protocol line this PT may send: nothing else reaches stdout.
function assertOnlyProtocolLines(t: Test, p: { lines: string[]; partial: string | (() => string) }): void {
  const allowed = /^(VERSION 1|VERSION-ERROR no-version|ENV-ERROR .+|PROXY DONE|PROXY-ERROR .+|CMETHOD tapdance socks5 127\.0\.0\.1:\d+|CMETHOD-ERROR tapdance .+|CMETHODS DONE|STATUS TYPE=version .+|LOG SEVERITY=(error|warning|notice|info|debug) MESSAGE=".*")$/;
  const stray = p.lines.filter((l) => !allowed.test(l));
  t.same(stray, [], 'no stray stdout lines');
  t.equal(typeof p.partial === 'function' ? p.partial() : p.partial, '', 'no unterminated stdout bytes');
}

async function started(t: Test, command: readonly string[], env: Record<string, string | undefined>): Promise<{ p: PtProcess; port: number }> {
  const p = spawnPt(command, env);
  t.teardown(() => {
    p.child.kill('SIGKILL');
  });
  const line = await p.waitLine(/^CMETHODS DONE$/);
  t.ok(line);
  const port = Number(CMETHOD.exec(p.lines.find((l) => CMETHOD.test(l)) ?? '')?.[1]);
  return { p, port };
}

t.test('reports VERSION, STATUS, CMETHOD and CMETHODS DONE in that order, then stops on SIGTERM', async (t) => {
  const { p, port } = await started(t, PT_MAIN, good);
  t.same(p.lines.slice(0, 2), ['VERSION 1', version]);
  t.match(p.lines[2], CMETHOD);
  t.equal(p.lines[3], 'CMETHODS DONE');
  t.ok(port > 0);
  t.ok(statSync(join(dir, 'pt_state', 'tapdance')).isDirectory(), 'state directory created');
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
  assertOnlyProtocolLines(t, p);
});

t.test('says PROXY DONE after VERSION and before CMETHODS when TOR_PT_PROXY is usable', async (t) => {
  for (const proxy of ['socks5://tor:test1234@127.0.0.1:1080', 'socks4a://127.0.0.1:1080', 'http://[::1]:80']) {
    const { p } = await started(t, PT_MAIN, { ...good, TOR_PT_PROXY: proxy });
    t.same(p.lines.map((l) => l.replace(/:\d+$/, ':PORT')), ['VERSION 1', version, 'PROXY DONE', 'CMETHOD tapdance socks5 127.0.0.1:PORT', 'CMETHODS DONE'], proxy);
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

t.test('reports each bad environment with the one right line and exit code 1', async (t) => {
  const { TOR_PT_STATE_LOCATION: _s, ...noState } = good;
  const { TOR_PT_MANAGED_TRANSPORT_VER: _v, ...noVersion } = good;
  const cases: Array<[string, Record<string, string | undefined>, string[]]> = [
    ['no version variable', noVersion, ['ENV-ERROR no TOR_PT_MANAGED_TRANSPORT_VER environment variable']],
    ['no version 1', { ...good, TOR_PT_MANAGED_TRANSPORT_VER: '2,3' }, ['VERSION-ERROR no-version']],
    ['no state location', noState, ['ENV-ERROR no TOR_PT_STATE_LOCATION environment variable']],
    ['a relative state location', { ...good, TOR_PT_STATE_LOCATION: 'pt_state' }, ['ENV-ERROR TOR_PT_STATE_LOCATION is not an absolute path']],
    ['an uncreatable state location', { ...good, TOR_PT_STATE_LOCATION: '/dev/null/pt_state' }, ['ENV-ERROR cannot create TOR_PT_STATE_LOCATION: ENOTDIR']],
    ['server mode', { ...good, TOR_PT_CLIENT_TRANSPORTS: undefined, TOR_PT_SERVER_TRANSPORTS: 'tapdance' }, ['ENV-ERROR server mode is not supported, only TOR_PT_CLIENT_TRANSPORTS']],
    ['client and server both', { ...good, TOR_PT_SERVER_TRANSPORTS: 'tapdance' }, ['ENV-ERROR TOR_PT_CLIENT_TRANSPORTS and TOR_PT_SERVER_TRANSPORTS are both set']],
    ['a bad bind address', { ...good, TOR_PT_OUTBOUND_BIND_ADDRESS_V6: '[nope]' }, ['ENV-ERROR TOR_PT_OUTBOUND_BIND_ADDRESS_V6 is not an IPv6 address']],
    ['an unsupported proxy scheme', { ...good, TOR_PT_PROXY: 'ftp://127.0.0.1:21' }, ['VERSION 1', version, 'PROXY-ERROR proxy URI has an unsupported scheme: ftp']],
    ['a SOCKS4a proxy with a password', { ...good, TOR_PT_PROXY: 'socks4a://u:p@127.0.0.1:1080' }, ['VERSION 1', version, 'PROXY-ERROR proxy URI specified SOCKS4a and a password']],
    ['a proxy without port', { ...good, TOR_PT_PROXY: 'http://127.0.0.1' }, ['VERSION 1', version, 'PROXY-ERROR proxy URI has no port']],
    ['no transport of ours', { ...good, TOR_PT_CLIENT_TRANSPORTS: 'obfs4,meek_lite' }, ['VERSION 1', version, 'CMETHODS DONE']],
  ];
  for (const [what, env, expected] of cases) {
    const r = await runToExit(PT_MAIN, env);
    t.same(r.lines, expected, what);
    t.equal(r.code, 1, `${what}: exit code`);
    assertOnlyProtocolLines(t, r);
  }
});

t.test('refuses an unknown flag with ENV-ERROR under tor', async (t) => {
  const r = await runToExit([...PT_MAIN, '--log-level', 'loud'], good);
  t.same(r.lines, ['ENV-ERROR tapdance-pt: --log-level expects one of error, warning, notice, info, debug']);
  t.equal(r.code, 2);
});

t.test('exits on stdin close when TOR_PT_EXIT_ON_STDIN_CLOSE=1', async (t) => {
  const { p } = await started(t, PT_MAIN, { ...good, TOR_PT_EXIT_ON_STDIN_CLOSE: '1' });
  p.child.stdin!.end();
  t.same(await p.exited, { code: 0, signal: null });
  assertOnlyProtocolLines(t, p);
});

t.test('keeps serving after stdin closes unless asked, for any other value', async (t) => {
  const echo = await startEchoServer();
  t.teardown(echo.close);
  for (const value of [undefined, '0', 'true']) {
    const { p, port } = await started(t, PT_FIXTURE, { ...good, TOR_PT_EXIT_ON_STDIN_CLOSE: value });
    p.child.stdin!.end();
    // A full SOCKS round trip after the close proves the process is still up and serving.
    await once(p.child.stdin!, 'finish');
    const socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, '');
    t.equal((await roundTrip(socket, Buffer.from('alive'))).toString(), 'alive', String(value));
    t.equal(p.child.exitCode, null);
    p.child.kill('SIGTERM');
    t.same(await p.exited, { code: 0, signal: null });
  }
});

t.test('drains on SIGINT: refuses new clients, finishes open relays, then exits 0', async (t) => {
  const echo = await startEchoServer();
  t.teardown(echo.close);
  const { p, port } = await started(t, PT_FIXTURE, good);
  const socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, 'k=v');
  p.child.kill('SIGINT');
  await p.waitLine(/^LOG SEVERITY=notice MESSAGE="draining/);
  // The listener is closed: a new connection is refused.
  const refused = connect({ port, host: '127.0.0.1' });
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED');
  t.equal(p.child.exitCode, null, 'still running while a relay is open');
  t.equal((await roundTrip(socket, Buffer.from('finish me'))).toString(), 'finish me');
  t.same(await p.exited, { code: 0, signal: null });
});

t.test('a second SIGINT ends at once, open relays or not', async (t) => {
  const echo = await startEchoServer();
  t.teardown(echo.close);
  const { p, port } = await started(t, PT_FIXTURE, good);
  const socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, '');
  const closed = once(socket, 'close');
  p.child.kill('SIGINT');
  await p.waitLine(/draining/);
  p.child.kill('SIGINT');
  t.same(await p.exited, { code: 0, signal: null });
  await closed;
});

t.test('relays through the fixture with bridge arguments, and through TOR_PT_PROXY when set', async (t) => {
  const echo = await startEchoServer();
  const upstream = await startUpstreamProxy('socks', { credentials: { username: 'tor', password: 'test1234' } });
  t.teardown(async () => {
    await upstream.close();
    await echo.close();
  });
  const direct = await started(t, PT_FIXTURE, good);
  const s1 = await torStyleConnect(direct.port, { host: '127.0.0.1', port: echo.port }, 'covert=127.0.0.1:9;x=a\\;b');
  t.equal((await roundTrip(s1, Buffer.from('one'))).toString(), 'one');
  await direct.p.waitLine(new RegExp(`^LOG SEVERITY=notice MESSAGE="loopback dial to port ${echo.port} with args covert=127.0.0.1:9;x=a\\\\134;b"$`));

  const proxied = await started(t, PT_FIXTURE, { ...good, TOR_PT_PROXY: `socks5://tor:test1234@127.0.0.1:${upstream.port}` });
  t.equal(proxied.p.lines[2], 'PROXY DONE');
  const s2 = await torStyleConnect(proxied.port, { host: '127.0.0.1', port: echo.port }, '');
  t.equal((await roundTrip(s2, Buffer.from('two'))).toString(), 'two');
  t.same(upstream.records, [{ protocol: 'socks5', username: 'tor', password: 'test1234', target: `127.0.0.1:${echo.port}` }]);
  for (const x of [direct, proxied]) {
    x.p.child.kill('SIGTERM');
    await x.p.exited;
    assertOnlyProtocolLines(t, x.p);
  }
});

t.test('the shipped bin checks bridge lines and hands well-formed requests to the TapDance client', async (t) => {
  const { p, port } = await started(t, [...PT_MAIN, '--log-level=info', '--dial-timeout=1'], good);
  const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
  const creds = (args: string): string => {
    const b = Buffer.from(args);
    return `01 ${b.length.toString(16).padStart(2, '0')} ${b.toString('hex')} 01 00`;
  };
  const request = '05 01 00 01 7f000001 2329';
  // A decoy on a closed loopback port: the client keeps retrying until the 1 s dial timeout.
  const wellFormed = `pubkey=${'ab'.repeat(32)};decoy=decoy.example@127.0.0.1:1`;
  const timedOut = await probe(port, [hex(`05 01 02 ${creds(wellFormed)} ${request}`)]);
  t.equal(timedOut.received, '0502' + '0100' + '05060001000000000000', 'TTL expired: the dial ran out of time');
  await p.waitLine(/^LOG SEVERITY=warning MESSAGE="transport dial failed: ERR_PT_DIAL_TIMEOUT /);

  const typo = await probe(port, [hex(`05 01 02 ${creds('pubky=00')} ${request}`)]);
  t.equal(typo.received, '0502' + '0100' + '05020001000000000000', 'not allowed');
  await p.waitLine(/^LOG SEVERITY=warning MESSAGE="transport dial failed: ERR_PT_BRIDGE_ARGS unknown bridge argument \\042pubky\\042/);

  const bad = await probe(port, [hex('05 01 02 01 03 6b6579 01 00')]);
  t.equal(bad.received, '0502' + '0101');
  await p.waitLine(/^LOG SEVERITY=info MESSAGE="SOCKS handshake failed: transport arguments/);
  p.child.kill('SIGTERM');
  await p.exited;
  assertOnlyProtocolLines(t, p);
});
