import t from 'tap';
import { execFileSync } from 'node:child_process';
import { Testbed, TCP, tcpSegments, contentBytes, contentSha256 } from '../../src/testbed/index.js';
import { waitReady } from '../../src/testbed/node-child.js';

const probe = new URL('./fixtures/probe.ts', import.meta.url);
const tb = await Testbed.up({ decoys: 2 });
t.teardown(() => tb.down());
const BLOB = 8 << 20;
const decoy = await tb.startDecoy({ protocols: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
  files: { 'index.html': 'decoy ok\n', 'blob.bin': contentBytes(BLOB, 'blob') } });
const decoy1 = await tb.startDecoy({ index: 1, keyKind: 'ecdsa' });
const covert = await tb.startCovert();

async function run(where: string, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await tb.runNode(where, probe, args);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`probe printed no JSON (code ${r.code}): ${r.stderr}`);
  }
}

t.test('every namespace carries the testbed prefix and exists while it is up', async (t) => {
  const names = [tb.names.client, tb.names.router, tb.names.station, tb.names.covert, ...tb.names.decoys];
  t.equal(names.length, 6);
  for (const n of names) t.match(n, new RegExp(`^${tb.id}-[a-z0-9]+$`));
  const stdout = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const n of names) t.ok(stdout.split('\n').some((l) => l.startsWith(`${n} `) || l === n), `${n} listed`);
});

t.test('the client reaches each decoy over TCP', async (t) => {
  for (const [i, addr] of tb.addresses.decoys.entries()) {
    const r = await run('client', 'connect', addr, '443', '1');
    t.same(r.error, undefined, `decoy ${i}`);
    t.equal((r.connectMs as number[]).length, 1);
  }
});

t.test('a TLS handshake with nginx in the decoy namespace works from the client namespace', async (t) => {
  const r = await run('client', 'tls', decoy.address, '443', decoy.servername, decoy.caPath);
  t.equal(r.protocol, 'TLSv1.2');
  t.equal(r.cipher, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
  t.equal(r.peerCN, 'decoy0.test');
  t.equal(r.status, 200);
  t.equal(r.body, 'decoy ok\n');
  const r1 = await run('client', 'tls', decoy1.address, '443', decoy1.servername, decoy1.caPath);
  t.equal(r1.protocol, 'TLSv1.3', 'second decoy keeps the default protocols');
  t.equal(r1.peerCN, 'decoy1.test');
  t.match(decoy.nginx.accessLog(), /"GET \/ HTTP\/1\.1" 200/);
});

t.test('the station tap sees both directions of a client-decoy TCP connection', async (t) => {
  const cap = await tb.capture('station', { iface: tb.interfaces.stationTap, filter: 'tcp port 80' });
  const r = await run('client', 'connect', decoy.address, '80', '1');
  t.same(r.error, undefined);
  const pcap = await cap.stop();
  const segs = tcpSegments(pcap);
  const c2d = segs.filter((s) => s.srcIp === tb.addresses.client && s.dstIp === decoy.address && s.dstPort === 80);
  const d2c = segs.filter((s) => s.srcIp === decoy.address && s.dstIp === tb.addresses.client && s.srcPort === 80);
  t.ok(c2d.some((s) => s.flags === TCP.SYN), 'client SYN mirrored');
  t.ok(d2c.some((s) => s.flags === (TCP.SYN | TCP.ACK)), 'decoy SYN-ACK mirrored');
  t.ok(c2d.length >= 2 && d2c.length >= 1, 'later segments mirrored too');
  const syn = c2d.find((s) => s.flags === TCP.SYN);
  const synack = d2c.find((s) => s.flags === (TCP.SYN | TCP.ACK));
  t.equal(synack?.ack, ((syn?.seq ?? 0) + 1) >>> 0, 'SYN-ACK acknowledges the SYN');
  // Mirrored before routing: the client's frames carry the router client port's MAC.
  t.equal(syn?.dstMac, tb.routerClientMac);
  // Each packet is mirrored exactly once (ingress only): no duplicate SYN.
  t.equal(c2d.filter((s) => s.flags === TCP.SYN).length, 1);
});

t.test('the station injects through its uplink with the decoy as source, unmirrored', async (t) => {
  // SNAT in the station stands in for a raw socket: the datagram leaves s-inj carrying the
  // decoy's address, and the router must forward it to the client (rp_filter off on r-inj).
  await tb.exec('station', 'nft', ['-f', '-'], { input: [
    'table ip td_spoof {',
    '  chain post {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip daddr ${tb.addresses.client} udp dport 9999 snat to ${decoy.address}`,
    '  }',
    '}',
  ].join('\n') + '\n' });
  t.teardown(() => tb.exec('station', 'nft', ['delete', 'table', 'ip', 'td_spoof']));
  const tapCap = await tb.capture('station', { iface: tb.interfaces.stationTap, filter: 'udp' });
  const injCap = await tb.capture('router', { iface: tb.interfaces.routerInject, filter: 'udp' });
  const recv = tb.spawnNode('client', probe, ['udp-recv', '9999']);
  const got = new Promise<Record<string, unknown>>((resolve) => {
    void waitReady(recv, 'udp receiver', 30_000, resolve).then(async () => {
      await tb.runNode('station', probe, ['udp-send', tb.addresses.client, '9999', 'from the station']);
    });
  });
  const msg = await got;
  t.same(msg, { from: decoy.address, data: 'from the station' }, 'client saw the decoy as sender');
  const inj = await injCap.stop();
  t.ok(inj.records.some((r) => Buffer.from(r.data).includes('from the station')), 'it crossed the router on r-inj');
  const tap = await tapCap.stop();
  t.notOk(tap.records.some((r) => Buffer.from(r.data).includes('from the station')), 'and was not mirrored back to the tap');
});

t.test('decoy options reach nginx: HTTP/2, a small receive window, a short header timeout', async (t) => {
  const alt = await tb.startDecoy({ index: 1, port: 8443, httpPort: 0, http2: true, rcvbuf: 4096, clientHeaderTimeout: 1 });
  await t.rejects(tb.startDecoy({ index: 1, port: 8443 }), { code: 'ERR_TESTBED_STATE' }, 'one server per decoy port');
  const h2 = await run('client', 'tls', alt.address, '8443', alt.servername, alt.caPath, 'h2');
  t.equal(h2.alpn, 'h2');
  const cap = await tb.capture('station', { iface: tb.interfaces.stationTap, filter: 'tcp port 8443 or tcp port 443' });
  await run('client', 'connect', alt.address, '8443', '1');
  await run('client', 'connect', alt.address, '443', '1');
  const synacks = tcpSegments(await cap.stop()).filter((s) => s.flags === (TCP.SYN | TCP.ACK));
  const small = synacks.find((s) => s.srcPort === 8443);
  const normal = synacks.find((s) => s.srcPort === 443);
  t.ok(small !== undefined && normal !== undefined);
  t.ok((small?.window ?? 1e9) < (normal?.window ?? 0) / 4, `window ${small?.window} with rcvbuf 4096 vs ${normal?.window}`);
  // With nginx's default (60 s) this would outlast the 20 s limit and reject.
  const idle = (await tb.runNode('client', probe, ['idle', alt.address, '8443'], { timeoutMs: 20_000 })).stdout;
  t.same(JSON.parse(idle), { closed: true }, 'an idle connection is closed by the 1 s header timeout');
});

t.test('the kernel-path set-up gave the tap the router client port MAC', async (t) => {
  const [tap] = await tb.linkStats('station', tb.interfaces.stationTap);
  t.equal(tap?.mac, tb.routerClientMac);
  t.ok(tap?.flags.includes('NOARP'));
  t.ok(tap?.up);
});

t.test('covert HTTP server and CONNECT proxy work from the station namespace', async (t) => {
  const got = await run('station', 'get', covert.url(`/bytes/${1 << 20}?seed=s1`));
  t.equal(got.status, 200);
  t.equal(got.bytes, 1 << 20);
  t.equal(got.sha256, contentSha256(1 << 20, 's1'));
  t.equal(got.header, got.sha256, 'server reports the same SHA-256');
  const up = await run('station', 'upload', covert.url('/upload'), String(300_000), 'u');
  t.same(up, { bytes: 300_000, sha256: contentSha256(300_000, 'u') });
  const via = await run('station', 'via-proxy', covert.address, String(covert.proxyPort), covert.address,
    String(covert.httpPort), '/bytes/5000?seed=p');
  t.equal(via.connectStatus, 200);
  t.equal(via.status, 200);
  t.equal(via.sha256, contentSha256(5000, 'p'));
  const stats = await covert.stats();
  t.ok(stats.tunnels >= 1, 'proxy counted the tunnel');
  const refused = await run('station', 'via-proxy', covert.address, String(covert.proxyPort), covert.address, '9', '/');
  t.equal(refused.connectStatus, 502, 'connection refused upstream gives 502');
});

t.test('covert services are not reachable from the client namespace', async (t) => {
  const http = await run('client', 'connect', covert.address, String(covert.httpPort), '1');
  t.ok(typeof http.error === 'string', `client cannot connect: ${String(http.error)}`);
  const proxy = await run('client', 'connect', covert.address, String(covert.proxyPort), '1');
  t.ok(typeof proxy.error === 'string');
  const fromDecoy = await run('decoy', 'connect', covert.address, String(covert.httpPort), '1');
  t.ok(typeof fromDecoy.error === 'string', 'nor from a decoy');
});

t.test('delay set at run time shows up in the TCP handshake time, and goes away', async (t) => {
  await tb.setImpairment({ delayMs: 40 });
  t.same(tb.impairment, { delayMs: 40, lossPercent: 0, rateKbit: 0 });
  const slow = await run('client', 'connect', decoy.address, '80', '3');
  const ms = slow.connectMs as number[];
  // A handshake crosses the router twice: at least 2 × 40 ms (a lower bound, not a speed test).
  t.ok(Math.min(...ms) >= 80, `handshake ${Math.min(...ms).toFixed(1)} ms >= 80 ms`);
  // Bulk data (GSO super-packets through the tun) and TLS still pass through the delay line intact.
  const got = await run('client', 'get', `http://${decoy.address}/blob.bin`);
  t.equal(got.bytes, BLOB);
  t.equal(got.sha256, contentSha256(BLOB, 'blob'), '8 MiB through the delay line arrive intact');
  await tb.setImpairment({ delayMs: 100 });
  const slower = await run('client', 'connect', decoy.address, '80', '1');
  t.ok(Math.min(...(slower.connectMs as number[])) >= 200, 'changed delay applies');
  const tls = await run('client', 'tls', decoy.address, '443', decoy.servername, decoy.caPath);
  t.equal(tls.status, 200, 'TLS through the delay line');
  await tb.setImpairment({});
  const rules = await tb.exec('router', 'ip', ['rule', 'show']);
  t.notMatch(rules.stdout, /lookup 201/, 'delay rules removed');
  const links = await tb.exec('router', 'ip', ['link', 'show']);
  t.notMatch(links.stdout, /tdl0/, 'tun gone with the delay line');
});

t.test('loss and rate install kernel rules that can be removed again', async (t) => {
  await tb.setImpairment({ lossPercent: 100 });
  const lost = await run('client', 'connect', decoy.address, '80', '1');
  t.equal(lost.error, 'ETIMEDOUT', 'with 100 % loss nothing gets through');
  await tb.setImpairment({ rateKbit: 50_000 });
  const q = await tb.exec('router', 'tc', ['qdisc', 'show', 'dev', tb.interfaces.routerClient]);
  t.match(q.stdout, /tbf .*rate 50Mbit/);
  t.match(q.stdout, /clsact/, 'mirror hook kept');
  const ok = await run('client', 'connect', decoy.address, '80', '1');
  t.same(ok.error, undefined, 'loss removed');
  const cap = await tb.capture('station', { iface: tb.interfaces.stationTap, filter: 'tcp port 80' });
  await run('client', 'connect', decoy.address, '80', '1');
  t.ok(tcpSegments(await cap.stop()).length >= 3, 'mirror still works under a rate limit');
  await tb.setImpairment({});
  const q2 = await tb.exec('router', 'tc', ['qdisc', 'show', 'dev', tb.interfaces.routerClient]);
  t.notMatch(q2.stdout, /tbf/);
  const nft = await tb.exec('router', 'nft', ['list', 'ruleset']);
  t.notMatch(nft.stdout, /td_impair/);
});

t.test('namespace facts: interface counters, sockets and nstat counters', async (t) => {
  const before = await tb.nstat('client');
  t.type(before.TcpActiveOpens, 'number');
  await run('client', 'connect', decoy.address, '80', '2');
  const after = await tb.nstat('client');
  t.ok((after.TcpActiveOpens ?? 0) >= (before.TcpActiveOpens ?? 0) + 2, 'TcpActiveOpens grew by the connects');
  const [c0] = await tb.linkStats('client', tb.interfaces.client);
  t.ok((c0?.tx.packets ?? 0) > 0);
  const listen = await tb.tcpSockets('decoy', ['sport', '=', ':443']);
  t.ok(listen.some((s) => s.state === 'LISTEN' && s.local.port === 443));
});
