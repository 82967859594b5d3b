import t from 'tap';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import {
  contentBytes, contentSha256, contentStream, createConnectProxy, createCovertHttpServer, decodeTcp, parseConnectTarget,
  parsePcap, tcpSegments, TCP, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, TestbedError,
} from '../../src/testbed/index.js';
import { DelayQueue, TUN_OPENER, tunOpenerArgv } from '../../src/testbed/delay-line.js';
import { parseLinkStats, parseNstat, parseSsTcp } from '../../src/testbed/facts.js';
import { checkImpairment, delayRouteLines, lossScript, rateLines } from '../../src/testbed/impair.js';
import { NetnsSet } from '../../src/testbed/netns.js';
import { topologyAddresses, topologyNames, topologyPlan } from '../../src/testbed/topology.js';

// --- pcap -------------------------------------------------------------------------------------

/** An Ethernet/IPv4/TCP frame with the given fields (checksums left zero, as on veth). */
function frame(o: { seq: number; ack: number; flags: number; payload?: Uint8Array; fragOff?: number; proto?: number }): Uint8Array {
  const payload = o.payload ?? new Uint8Array(0);
  const b = new Uint8Array(14 + 20 + 24 + payload.length);
  const dv = new DataView(b.buffer);
  b.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  dv.setUint16(12, 0x0800);
  b[14] = 0x45;
  dv.setUint16(16, 20 + 24 + payload.length);
  dv.setUint16(20, o.fragOff ?? 0x4000); // DF
  b[22] = 64;
  b[23] = o.proto ?? 6;
  b.set([10, 10, 1, 2], 26);
  b.set([10, 11, 0, 2], 30);
  dv.setUint16(34, 40000);
  dv.setUint16(36, 443);
  dv.setUint32(38, o.seq);
  dv.setUint32(42, o.ack);
  b[46] = 6 << 4; // data offset 24: 4 bytes of options
  b[47] = o.flags;
  dv.setUint16(48, 502);
  b.set([2, 4, 0x05, 0xb4], 54); // MSS 1460
  b.set(payload, 58);
  return b;
}

function pcapFile(frames: Uint8Array[], opts: { le?: boolean; nano?: boolean; snaplen?: number; linkType?: number } = {}): Uint8Array {
  const le = opts.le ?? true;
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(24);
  const hv = new DataView(head.buffer);
  hv.setUint32(0, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
  hv.setUint16(4, 2, le);
  hv.setUint16(6, 4, le);
  hv.setUint32(16, opts.snaplen ?? 65535, le);
  hv.setUint32(20, opts.linkType ?? LINKTYPE_ETHERNET, le);
  parts.push(head);
  frames.forEach((f, i) => {
    const incl = Math.min(f.length, opts.snaplen ?? 65535);
    const r = new Uint8Array(16);
    const rv = new DataView(r.buffer);
    rv.setUint32(0, 1_700_000_000 + i, le);
    rv.setUint32(4, opts.nano ? 500_000_000 : 500_000, le);
    rv.setUint32(8, incl, le);
    rv.setUint32(12, f.length, le);
    parts.push(r, f.subarray(0, incl));
  });
  return Buffer.concat(parts);
}

t.test('pcap: both byte orders and timestamp resolutions decode to the same segments', async (t) => {
  const frames = [frame({ seq: 0xfffffff0, ack: 0, flags: TCP.SYN }), frame({ seq: 1, ack: 2, flags: TCP.PSH | TCP.ACK, payload: Buffer.from('hello') })];
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      const f = parsePcap(pcapFile(frames, { le, nano }));
      t.equal(f.linkType, LINKTYPE_ETHERNET);
      t.equal(f.records.length, 2);
      t.equal(f.records[0]?.time, 1_700_000_000.5, `time le=${le} nano=${nano}`);
      const segs = tcpSegments(f);
      t.equal(segs.length, 2);
      t.equal(segs[0]?.seq, 0xfffffff0, 'sequence numbers are unsigned');
      t.equal(segs[0]?.flags, TCP.SYN);
      t.equal(segs[0]?.srcIp, '10.10.1.2');
      t.equal(segs[0]?.dstIp, '10.11.0.2');
      t.equal(segs[0]?.dstPort, 443);
      t.equal(segs[0]?.dstMac, '02:00:00:00:00:01');
      t.same([...(segs[0]?.options ?? [])], [2, 4, 5, 0xb4]);
      t.equal(Buffer.from(segs[1]?.payload ?? []).toString(), 'hello');
      t.equal(segs[1]?.payloadLength, 5);
    }
  }
});

t.test('pcap: a truncated last record is dropped and snap-length truncation is visible', async (t) => {
  const whole = pcapFile([frame({ seq: 1, ack: 0, flags: TCP.SYN }), frame({ seq: 2, ack: 0, flags: TCP.ACK })]);
  for (let cut = 24; cut < whole.length; cut += 7) {
    const f = parsePcap(whole.subarray(0, cut));
    t.ok(f.records.length <= 2, `cut at ${cut}`);
    for (const r of f.records) t.equal(r.data.length, r.origLen);
  }
  const snapped = parsePcap(pcapFile([frame({ seq: 1, ack: 0, flags: TCP.ACK, payload: new Uint8Array(100) })], { snaplen: 70 }));
  const seg = tcpSegments(snapped)[0];
  t.equal(seg?.payloadLength, 100);
  t.equal(seg?.payload.length, 70 - 58);
});

t.test('pcap: bad files are typed errors; non-TCP frames decode as undefined', async (t) => {
  t.throws(() => parsePcap(new Uint8Array(10)), { code: 'ERR_TESTBED_PCAP' });
  t.throws(() => parsePcap(Buffer.from('0a0d0d0a' + '00'.repeat(40), 'hex')), { code: 'ERR_TESTBED_PCAP', message: /pcapng/ });
  t.throws(() => parsePcap(new Uint8Array(24).fill(7)), TestbedError);
  t.equal(decodeTcp(frame({ seq: 1, ack: 1, flags: 0, proto: 17 }), LINKTYPE_ETHERNET), undefined, 'UDP');
  t.equal(decodeTcp(frame({ seq: 1, ack: 1, flags: 0, fragOff: 0x2000 }), LINKTYPE_ETHERNET), undefined, 'first fragment');
  t.equal(decodeTcp(frame({ seq: 1, ack: 1, flags: 0, fragOff: 0x0010 }), LINKTYPE_ETHERNET), undefined, 'later fragment');
  t.equal(decodeTcp(frame({ seq: 1, ack: 1, flags: 0 }), 228), undefined, 'unknown link type');
  const full = frame({ seq: 1, ack: 1, flags: TCP.ACK });
  for (let n = 0; n < full.length; n++) {
    const s = decodeTcp(full.subarray(0, n), LINKTYPE_ETHERNET);
    t.equal(s, undefined, `short frame of ${n} bytes`);
  }
  // Linux cooked capture: 16-byte header, protocol at offset 14.
  const sll = new Uint8Array(16 + full.length - 14);
  new DataView(sll.buffer).setUint16(14, 0x0800);
  sll.set(full.subarray(14), 16);
  t.equal(decodeTcp(sll, LINKTYPE_LINUX_SLL)?.dstPort, 443);
});

// --- facts ------------------------------------------------------------------------------------

t.test('ss output parses into sockets with their info fields', async (t) => {
  const text = 'LISTEN 0      511    127.0.0.1:5555    0.0.0.0:*    \n\t bbr cwnd:10\n' +
    'ESTAB  0      0      10.10.1.2:51952 10.11.0.2:443 \n\t ts sack bbr wscale:10,10 rto:204 rtt:0.025/0.013 mss:1448 ' +
    'cwnd:11 bytes_sent:5 bbr:(bw:23831265624bps,mrtt:0.011,pacing_gain:2.88672) send 115343360000bps app_limited\n' +
    'SYN-SENT 0 1 [::1]:40000 [::1]:443\n';
  const s = parseSsTcp(text);
  t.equal(s.length, 3);
  t.same(s[0]?.local, { address: '127.0.0.1', port: 5555 });
  t.same(s[0]?.peer, { address: '0.0.0.0', port: 0 });
  t.equal(s[0]?.fields.cwnd, 10);
  t.equal(s[1]?.state, 'ESTAB');
  t.equal(s[1]?.fields.rtt, 0.025);
  t.equal(s[1]?.fields.wscale, '10,10');
  t.equal(s[1]?.fields.bytes_sent, 5);
  t.equal(s[1]?.fields.bbr, undefined, 'parenthesised group skipped');
  t.ok(s[1]?.words.includes('sack') && s[1]?.words.includes('app_limited'));
  t.same(s[2]?.local, { address: '::1', port: 40000 });
  t.equal(s[2]?.sendQ, 1);
});

t.test('ip link and nstat JSON parse into counters', async (t) => {
  const links = parseLinkStats(JSON.stringify([{ ifname: 's-tap', flags: ['NOARP', 'UP'], mtu: 1500, address: 'AA:BB:CC:00:11:22',
    stats64: { rx: { bytes: 10, packets: 2, errors: 0, dropped: 1 }, tx: { bytes: 0, packets: 0, errors: 0, dropped: 0 } } }]));
  t.same(links[0], { name: 's-tap', mac: 'aa:bb:cc:00:11:22', mtu: 1500, flags: ['NOARP', 'UP'], up: true,
    rx: { bytes: 10, packets: 2, errors: 0, dropped: 1 }, tx: { bytes: 0, packets: 0, errors: 0, dropped: 0 } });
  t.same(parseNstat('{"kernel":{"TcpOutRsts":3,"IpInReceives":9}}'), { TcpOutRsts: 3, IpInReceives: 9 });
});

// --- delay line ---------------------------------------------------------------------------------

t.test('the delay queue holds packets for the delay, keeps order, and bounds its length', async (t) => {
  const q = new DelayQueue(20, 3);
  const p = (n: number): Uint8Array => Uint8Array.of(n);
  t.ok(q.push(p(1), 0));
  t.ok(q.push(p(2), 5));
  t.same(q.take(19), [], 'nothing before the delay');
  t.equal(q.nextDue(), 20);
  t.same(q.take(20).map((x) => x[0]), [1]);
  q.delayMs = 1;
  t.ok(q.push(p(3), 6), 'lower delay');
  t.equal(q.nextDue(), 25);
  t.same(q.take(24), [], 'a packet never overtakes the one ahead');
  t.same(q.take(25).map((x) => x[0]), [2, 3]);
  t.ok(q.push(p(4), 30) && q.push(p(5), 30) && q.push(p(6), 30));
  t.notOk(q.push(p(7), 30), 'full: tail drop');
  t.same(q.stats(), { in: 6, out: 3, dropped: 1, held: 3 });
  t.same(q.take(1e9).map((x) => x[0]), [4, 5, 6]);
  t.equal(q.nextDue(), undefined);
  t.throws(() => new DelayQueue(-1), RangeError);
  t.throws(() => new DelayQueue(1, 0), RangeError);
  const big = new DelayQueue(0, 1e6);
  for (let i = 0; i < 5000; i++) big.push(p(i & 0xff), i);
  let out = 0;
  for (let now = 0; now < 5000; now += 7) out += big.take(now).length;
  out += big.take(1e9).length;
  t.equal(out, 5000, 'compaction loses nothing');
});

t.test('the tun opener passes the descriptor to the command it execs', async (t) => {
  const argv = tunOpenerArgv('tdl0', ['/usr/bin/node', 'x.js']);
  t.same(argv.slice(0, 2), ['perl', '-e']);
  t.equal(argv[2], TUN_OPENER);
  t.same(argv.slice(3), ['tdl0', '/usr/bin/node', 'x.js']);
  t.match(TUN_OPENER, /--tun-fd=/);
  t.match(TUN_OPENER, /0x400454ca/, 'TUNSETIFF');
});

// --- plans ------------------------------------------------------------------------------------

t.test('every command of the topology plan targets one of the testbed namespaces', async (t) => {
  const names = topologyNames('td-abcdef', 3);
  const plan = topologyPlan(names, topologyAddresses(3)).flat();
  const own = new Set([names.client, names.router, names.station, names.covert, ...names.decoys]);
  for (const step of plan) t.ok(own.has(step.ns), `${step.kind} in ${step.ns}`);
  const lines = plan.flatMap((s) => (s.kind === 'sysctl' ? [] : s.lines));
  for (const l of lines.filter((x) => / netns /.test(x))) {
    t.ok([...own].some((n) => l.endsWith(`netns ${n}`)), `peer moved into an own namespace: ${l}`);
  }
  const mirrors = lines.filter((l) => l.includes('mirred egress mirror dev r-tap'));
  t.equal(mirrors.length, 4, 'client port and three decoy ports mirrored');
  t.ok(mirrors.every((l) => l.includes('ingress')), 'at ingress only: each packet copied once');
  t.same(topologyAddresses(3).decoys, ['10.11.0.2', '10.11.1.2', '10.11.2.2']);
  const station = plan.find((s) => s.kind === 'sysctl' && s.ns === names.station);
  t.equal(station?.kind === 'sysctl' ? station.settings['net/ipv4/ip_forward'] : undefined, '0', 'station never forwards');
});

t.test('a namespace set refuses names outside its prefix', async (t) => {
  const set = new NetnsSet('td-abcdef');
  t.throws(() => new NetnsSet('tdx'), RangeError);
  await t.rejects(set.create('td-abcdee-cli'), RangeError);
  await t.rejects(set.create('td-abcdef-../x'), RangeError);
  await t.rejects(set.ip('td-abcdef-cli', ['link']), { code: 'ERR_TESTBED_FOREIGN_NETNS' });
  await t.rejects(set.exec('other', 'true'), { code: 'ERR_TESTBED_FOREIGN_NETNS' });
  t.throws(() => set.spawn('other', 'true'), { code: 'ERR_TESTBED_FOREIGN_NETNS' });
  t.same(set.names, []);
});

t.test('impairments check their ranges and plan kernel and routing commands', async (t) => {
  t.same(checkImpairment({}), { delayMs: 0, lossPercent: 0, rateKbit: 0 });
  for (const bad of [{ delayMs: -1 }, { lossPercent: 100.5 }, { rateKbit: Number.NaN }, { delayMs: Infinity }]) {
    t.throws(() => checkImpairment(bad), RangeError, JSON.stringify(bad));
  }
  t.same(rateLines(['r-cli'], 0, false), [], 'nothing to remove');
  t.same(rateLines(['r-cli'], 0, true), ['qdisc del dev r-cli root']);
  t.match(rateLines(['r-cli', 'r-dec0'], 8000, false)[1] ?? '', /^qdisc replace dev r-dec0 root tbf rate 8000kbit burst 16384 /);
  t.match(rateLines(['r-cli'], 10_000_000, false)[0] ?? '', /burst 12500000 /, 'burst covers 10 ms at high rates');
  t.equal(lossScript(['r-cli'], 0, false), undefined);
  t.equal(lossScript(['r-cli'], 0, true), 'delete table ip td_impair\n');
  t.match(lossScript(['r-cli'], 2.5, false) ?? '', /oifname \{ "r-cli" \} numgen random mod 1000000 < 25000 counter drop/);
  t.match(lossScript(['r-cli'], 100, false) ?? '', /oifname \{ "r-cli" \} counter drop/);
  const on = delayRouteLines(['r-cli', 'r-inj'], 'tdl0', true);
  t.same(on, ['link set tdl0 up', 'route add default dev tdl0 table 201',
    'rule add iif r-cli lookup 201 priority 900', 'rule add iif r-inj lookup 201 priority 900']);
  t.same(delayRouteLines(['r-cli'], 'tdl0', false), ['rule del iif r-cli lookup 201 priority 900', 'route del default dev tdl0 table 201']);
});

// --- covert services on loopback ----------------------------------------------------------------

t.test('generated content is deterministic per seed and its hash matches', async (t) => {
  const a = contentBytes(100_000, 'x');
  t.equal(a.length, 100_000);
  t.same(contentBytes(100_000, 'x'), a);
  t.notSame(contentBytes(100, 'y'), a.subarray(0, 100));
  t.same(contentBytes(1000, 'x'), a.subarray(0, 1000), 'a prefix of a longer run');
  t.equal(contentSha256(100_000, 'x'), createHash('sha256').update(a).digest('hex'));
  const h = createHash('sha256');
  let n = 0;
  for await (const chunk of contentStream(200_001, 'x')) { h.update(chunk as Buffer); n += (chunk as Buffer).length; }
  t.equal(n, 200_001);
  t.equal(h.digest('hex'), contentSha256(200_001, 'x'));
  t.equal(contentBytes(0).length, 0);
  t.throws(() => contentStream(-1), RangeError);
  t.throws(() => contentSha256(2 ** 41), RangeError);
});

async function listen(server: import('node:http').Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function httpRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    s.once('end', () => resolve(out));
    s.once('error', reject);
  });
}

t.test('the covert HTTP server serves sized content, hashes uploads and rejects the rest', async (t) => {
  const srv = createCovertHttpServer();
  const port = await listen(srv);
  t.teardown(() => srv.close());
  const get = (path: string): Promise<{ status: number; body: Buffer; headers: import('node:http').IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port, path }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
      }).once('error', reject).end();
    });
  const r = await get('/bytes/70000?seed=q');
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], '70000');
  t.equal(r.headers['x-content-sha256'], contentSha256(70000, 'q'));
  t.same(r.body, contentBytes(70000, 'q'));
  t.same(JSON.parse((await get('/sha256/5?seed=q')).body.toString()), { bytes: 5, sha256: contentSha256(5, 'q') });
  t.equal((await get('/')).body.toString(), 'covert ok\n');
  t.equal((await get('/bytes/9999999999999')).status, 400, 'beyond 1 TiB');
  t.equal((await get('/bytes/-1')).status, 404);
  t.equal((await get('/nope')).status, 404);
  const up = await httpRaw(port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
  t.match(up, /^HTTP\/1\.1 200/);
  t.match(up, JSON.stringify({ bytes: 3, sha256: createHash('sha256').update('abc').digest('hex') }));
  const chunked = await httpRaw(port, 'PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
    '2\r\nab\r\n1\r\nc\r\n0\r\n\r\n');
  t.match(chunked, '"bytes":3', 'chunked upload, split over chunks');
});

t.test('the CONNECT proxy tunnels, and answers bad requests with the right status', async (t) => {
  const target = createCovertHttpServer();
  const tport = await listen(target);
  t.teardown(() => target.close());
  const { server, stats } = createConnectProxy({ allow: (_h, p) => p !== 25, connectTimeoutMs: 2000 });
  const pport = await listen(server);
  t.teardown(() => server.close());
  const tunnel = await httpRaw(pport, `CONNECT 127.0.0.1:${tport} HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes/10?seed=z HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n`);
  t.match(tunnel, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/, 'bytes after the CONNECT head are forwarded');
  t.ok(Buffer.from(tunnel, 'latin1').subarray(-10).equals(contentBytes(10, 'z')));
  t.match(await httpRaw(pport, 'CONNECT nohost HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/);
  t.match(await httpRaw(pport, 'CONNECT 127.0.0.1:70000 HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/);
  t.match(await httpRaw(pport, 'CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 403/);
  t.match(await httpRaw(pport, 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 502/);
  t.match(await httpRaw(pport, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 405/);
  t.equal(stats.tunnels, 1);
  t.equal(stats.refused, 5);
  t.same(parseConnectTarget('[::1]:443'), { host: '::1', port: 443 });
  t.same(parseConnectTarget('example.test:8080'), { host: 'example.test', port: 8080 });
  for (const bad of ['', ':80', 'h:0', 'h:65536', '[zz]:1', 'h', 'h:80x', 'a b:1']) t.equal(parseConnectTarget(bad), undefined, bad);
});
