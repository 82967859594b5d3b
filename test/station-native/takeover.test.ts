/**
 * The whole data plane in network namespaces: a real TLS 1.2 handshake between our client and
 * nginx, the tagged first record, a router port mirror to the station's tap, the native
 * station's TCP_REPAIR takeover, a TLS conversation both ways on the hijacked connection (no
 * reset seen by the client), and the spoofed RST that removes the decoy's socket at the end.
 * Needs root (network namespaces), as CI has.
 */
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { Testbed } from '../../src/testbed/index.js';
import { nativeAvailable, replayCapture, stationPublicKey } from '../../src/station/native.js';

type Line = Record<string, unknown> & { event: string };

/** Collects a child's JSON lines; `waitFor` resolves when a line matches (bounded). */
function lines(child: ChildProcess) {
  const seen: Line[] = [];
  const waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let l: Line;
    try {
      l = JSON.parse(text) as Line;
    } catch {
      return;
    }
    seen.push(l);
    for (const w of [...waiters]) if (w.pred(l)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    seen,
    stderr: () => stderr,
    waitFor(pred: (l: Line) => boolean, ms: number, what: string): Promise<Line> {
      const hit = seen.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; seen ${JSON.stringify(seen)} stderr ${stderr}`)), ms);
        waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

if (process.getuid?.() !== 0 || !nativeAvailable()) {
  t.fail('needs root and the native addon (npm run build:native)');
} else {
  t.test('a takeover after a real TLS handshake with nginx carries data both ways and ends with a decoy RST', async (t) => {
    const tb = await Testbed.up({ station: 'kernel' });
    t.teardown(() => tb.down());
    const decoy = await tb.startDecoy({ protocols: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    const secret = Buffer.alloc(32, 0x5c);
    const pub = stationPublicKey(secret);

    const stationChild = tb.spawnNode('station', new URL('./fixtures/station-main.ts', import.meta.url), [secret.toString('hex'), tb.interfaces.stationTap, '2']);
    const station = lines(stationChild);
    const stationCounters = (): Promise<Line> => station.waitFor((l) => l.event === 'counters', 10_000, 'counters');
    t.teardown(() => void stationChild.kill('SIGKILL'));
    await station.waitFor((l) => l.event === 'ready', 20_000, 'station ready');

    // Record the mirror as the station sees it, for the replay check at the end.
    const capture = await tb.capture('station', { iface: tb.interfaces.stationTap, filter: 'tcp' });
    const plain = lines(tb.spawnNode('client', new URL('./fixtures/client-main.ts', import.meta.url), [
      decoy.address, String(decoy.port), decoy.servername, decoy.caPath, 'none', '0',
    ]));
    const plainDone = await plain.waitFor((l) => l.event === 'done' || l.event === 'error', 20_000, 'untagged client');
    t.match(plainDone.status, /^HTTP\/1\.1 200/, 'an untagged flow is left alone and nginx answers it');

    const clientChild = tb.spawnNode('client', new URL('./fixtures/client-main.ts', import.meta.url), [
      decoy.address, String(decoy.port), decoy.servername, decoy.caPath, pub.toString('hex'), '3',
    ]);
    const client = lines(clientChild);
    t.teardown(() => void clientChild.kill('SIGKILL'));

    const tls = await client.waitFor((l) => l.event === 'tls', 20_000, 'client TLS handshake');
    t.equal(tls.suite, 0xc02f, 'nginx negotiated ECDHE-RSA-AES128-GCM-SHA256');
    const takeover = await station.waitFor((l) => l.event === 'takeover' || l.event === 'error', 20_000, 'takeover');
    t.equal(takeover.event, 'takeover', JSON.stringify(takeover));
    const flow = takeover.flow as Record<string, unknown>;
    t.equal(flow.clientPort, tls.localPort, 'the hijacked flow is the client connection');
    t.equal(flow.serverAddress, decoy.address);
    t.ok(takeover.ackSeen, 'the decoy ACK of the tagged segment was seen before the takeover');
    t.equal(flow.serverAck, flow.taggedEnd);
    t.equal(flow.clientAck, flow.serverNextSeq, 'the client had acknowledged all of the decoy data');
    const request = await station.waitFor((l) => l.event === 'request', 5_000, 'tagged request');
    t.equal(request.startsWith, 'GET / HTTP/1.1', 'the station decrypted the tagged record at seq 1');

    const done = await client.waitFor((l) => l.event === 'done' || l.event === 'error', 30_000, 'client done');
    t.equal(done.event, 'done', JSON.stringify(client.seen));
    const received = client.seen.filter((l) => l.event === 'received').map((l) => l.text);
    t.same(received, ['HELLO FROM STATION #0', 'ECHO HELLO FROM CLIENT #1', 'ECHO HELLO FROM CLIENT #2', 'ECHO HELLO FROM CLIENT #3']);
    t.notOk(client.seen.some((l) => l.event === 'error'), 'the client saw no reset or TLS error');
    // The station logs each message before echoing it, but its stdout and the client's are two
    // pipes: the client's 'done' can reach us before the station's last line does.
    await station.waitFor((l) => l.event === 'message' && l.text === 'HELLO FROM CLIENT #3', 5_000, 'the station\'s last message line');
    const messages = station.seen.filter((l) => l.event === 'message').map((l) => l.text);
    t.same(messages, ['HELLO FROM CLIENT #1', 'HELLO FROM CLIENT #2', 'HELLO FROM CLIENT #3']);

    const rst = await station.waitFor((l) => l.event === 'rst' || (l.event === 'error' && String(l.message).includes('ERR_STATION')), 10_000, 'decoy RST');
    t.equal(rst.event, 'rst', JSON.stringify(rst));
    t.ok(Number(rst.sent) >= 1);
    // The decoy's socket for the hijacked flow is gone (reset), not lingering until its timeout.
    let lingering = true;
    for (let i = 0; i < 20 && lingering; i++) {
      const socks = await tb.tcpSockets('decoy');
      lingering = socks.some((s) => s.peer.port === tls.localPort && s.state !== 'TIME-WAIT');
      if (lingering) await new Promise((r) => setTimeout(r, 100));
    }
    t.notOk(lingering, 'the decoy no longer holds the flow');
    // The same traffic, recorded from the tap, replays to exactly the tagged flow and its state.
    await capture.stop();
    const replayed = replayCapture(capture.path, [secret]);
    t.equal(replayed.tagged.length, 1, 'exactly the tagged flow');
    const rf = replayed.tagged[0]!.flow;
    t.equal(rf.clientPort, flow.clientPort);
    for (const k of ['taggedEnd', 'serverNextSeq', 'serverAck', 'clientIsn', 'serverIsn', 'clientMss', 'clientWscale', 'serverWscale'] as const) {
      t.equal(rf[k], flow[k], `replayed ${k} matches the live takeover`);
    }
    t.equal(replayed.counters.tag_checks, 2, 'both flows were checked once');
    stationChild.stdin!.end();
    const counters = (await stationCounters()).counters as Record<string, number>;
    t.equal(counters.takeovers, 1);
    t.equal(counters.tags_found, 1);
    t.equal(counters.tag_checks, 2, 'the untagged flow was checked once too');
    t.ok(counters.rsts_sent >= 1);
    t.equal(counters.takeover_failed_socket, 0);
  });
}
