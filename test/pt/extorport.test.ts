import t from 'tap';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirectConnector } from '../../pt/connector.js';
import {
  connectExtOrPort,
  encodeExtOrCommand,
  EXT_OR_COOKIE_HEADER,
  ExtOrCommand,
  extOrClientHash,
  extOrServerHash,
  parseExtOrCookie,
  readExtOrCookie,
} from '../../pt/extorport.js';
import { startBridgeRelay } from './tor-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tdpt-extor-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const zeros = new Uint8Array(32);

// goptlib pt_test.go TestComputeServerHash / TestComputeClientHash.
t.test('computes the SAFE_COOKIE hashes of goptlib', async (t) => {
  t.equal(hex(extOrServerHash(zeros, zeros, zeros)), '9e221919982a84f75faf60ef926949796268c97833e06960ff265369a90fd6d8');
  t.equal(hex(extOrClientHash(zeros, zeros, zeros)), '0f368b1bee24aabc54a9114ce06c070f3ed99d0d368f599ccc6dfdc8bf457a62');
});

// goptlib TestExtOrSendCommand / Transport / Done.
t.test('encodes commands as goptlib does', async (t) => {
  t.equal(hex(encodeExtOrCommand(0x1234, 'hello')), '12340005' + Buffer.from('hello').toString('hex'));
  t.equal(hex(encodeExtOrCommand(ExtOrCommand.transport, 'alpha')), '00020005' + Buffer.from('alpha').toString('hex'));
  t.equal(hex(encodeExtOrCommand(ExtOrCommand.done)), '00000000');
  t.throws(() => encodeExtOrCommand(1, new Uint8Array(65536)), { code: 'ERR_PT_EXTOR_PROTOCOL' });
});

t.test('accepts only 64-byte cookie files with the header', async (t) => {
  const cookie = Buffer.alloc(32, 7);
  t.same([...parseExtOrCookie(Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), cookie]))], [...cookie]);
  t.throws(() => parseExtOrCookie(Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), cookie.subarray(1)])), { code: 'ERR_PT_EXTOR_COOKIE' });
  t.throws(() => parseExtOrCookie(Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), cookie, Buffer.of(0)])), { code: 'ERR_PT_EXTOR_COOKIE' });
  t.throws(() => parseExtOrCookie(Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER.toUpperCase()), cookie])), { code: 'ERR_PT_EXTOR_COOKIE' });
  await t.rejects(readExtOrCookie(join(dir, 'absent')), { code: 'ERR_PT_EXTOR_COOKIE' });
});

// A scripted ExtORPort server: SAFE_COOKIE, then records commands and answers with `answer`.
async function mockExtOrPort(cookie: Uint8Array, answer: Uint8Array[]): Promise<{ port: number; commands: Array<[number, string]>; close(): void }> {
  const commands: Array<[number, string]> = [];
  const server = createServer(async (s: Socket) => {
    let buf = Buffer.alloc(0);
    const need = async (n: number): Promise<Buffer> => {
      while (buf.length < n) buf = Buffer.concat([buf, ((await once(s, 'data')) as [Buffer])[0]]);
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    };
    s.write(Buffer.of(0x03, 0x01, 0x00));
    const [, ...clientNonce] = await need(33);
    const serverNonce = Buffer.alloc(32, 9);
    s.write(Buffer.concat([extOrServerHash(cookie, Uint8Array.from(clientNonce), serverNonce), serverNonce]));
    const ok = hex(await need(32)) === hex(extOrClientHash(cookie, Uint8Array.from(clientNonce), serverNonce));
    s.write(Buffer.of(ok ? 1 : 0));
    if (!ok) return void s.end();
    for (;;) {
      const head = await need(4);
      const body = (await need(head.readUInt16BE(2))).toString();
      commands.push([head.readUInt16BE(0), body]);
      if (head.readUInt16BE(0) === ExtOrCommand.done) break;
    }
    for (const a of answer) s.write(a);
    s.write('after');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, commands, close: () => server.close() };
}

t.test('authenticates, reports address and transport, ignores unknown commands, and keeps what follows OKAY', async (t) => {
  const cookie = Buffer.alloc(32, 5);
  const cookiePath = join(dir, 'mock-cookie');
  writeFileSync(cookiePath, Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), cookie]));
  const mock = await mockExtOrPort(cookie, [encodeExtOrCommand(ExtOrCommand.control, 'x'), encodeExtOrCommand(ExtOrCommand.okay)]);
  t.teardown(mock.close);
  const socket = await connectExtOrPort({
    target: { host: '127.0.0.1', port: mock.port },
    cookiePath,
    transport: 'tapdance',
    userAddr: '[2001:db8::7]:51234',
    connector: createDirectConnector(),
  });
  t.same(mock.commands, [[ExtOrCommand.userAddr, '[2001:db8::7]:51234'], [ExtOrCommand.transport, 'tapdance'], [ExtOrCommand.done, '']]);
  const [data] = (await once(socket, 'data')) as [Buffer];
  t.equal(data.toString(), 'after');
  socket.destroy();
});

t.test('fails with DENIED on DENY and with AUTH on a wrong cookie', async (t) => {
  const cookie = Buffer.alloc(32, 5);
  const cookiePath = join(dir, 'deny-cookie');
  writeFileSync(cookiePath, Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), cookie]));
  const deny = await mockExtOrPort(cookie, [encodeExtOrCommand(ExtOrCommand.deny)]);
  t.teardown(deny.close);
  const target = { host: '127.0.0.1', port: deny.port };
  const connector = createDirectConnector();
  await t.rejects(connectExtOrPort({ target, cookiePath, transport: 'tapdance', connector }), { code: 'ERR_PT_EXTOR_DENIED' });
  const wrongPath = join(dir, 'wrong-cookie');
  writeFileSync(wrongPath, Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), Buffer.alloc(32, 6)]));
  await t.rejects(connectExtOrPort({ target, cookiePath: wrongPath, transport: 'tapdance', connector }), { code: 'ERR_PT_EXTOR_AUTH' });
  await t.rejects(connectExtOrPort({ target, cookiePath, transport: 'tap-dance', connector }), { code: 'ERR_PT_EXTOR_PROTOCOL' });
});

t.test('times out a silent ExtORPort', async (t) => {
  const cookiePath = join(dir, 'silent-cookie');
  writeFileSync(cookiePath, Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), Buffer.alloc(32)]));
  const silent = createServer(() => {});
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => void silent.close());
  const target = { host: '127.0.0.1', port: (silent.address() as AddressInfo).port };
  await t.rejects(connectExtOrPort({ target, cookiePath, transport: 'tapdance', connector: createDirectConnector(), timeoutMs: 200 }), {
    code: 'ERR_PT_EXTOR_PROTOCOL',
  });
});

t.test("tor's own ExtORPort accepts our SAFE_COOKIE handshake and transport report", async (t) => {
  // On host loopback (this process must reach it); the harness keeps tor off every other network.
  const bridge = await startBridgeRelay({ dir, extOrPort: true });
  t.teardown(() => bridge.stop());
  const [host, port] = [bridge.extOrPort!.slice(0, bridge.extOrPort!.lastIndexOf(':')), Number(bridge.extOrPort!.split(':').pop())];
  const socket = await connectExtOrPort({
    target: { host, port },
    cookiePath: bridge.extOrPortCookie!,
    transport: 'tapdance',
    userAddr: '198.51.100.7:51234',
    connector: createDirectConnector(),
  });
  t.ok(socket.writable, 'OKAY received, the connection now carries the OR protocol');
  socket.destroy();
  const wrongPath = join(dir, 'not-tors-cookie');
  writeFileSync(wrongPath, Buffer.concat([Buffer.from(EXT_OR_COOKIE_HEADER), Buffer.alloc(32, 1)]));
  await t.rejects(connectExtOrPort({ target: { host, port }, cookiePath: wrongPath, transport: 'tapdance', connector: createDirectConnector() }), {
    code: 'ERR_PT_EXTOR_AUTH',
  });
});
