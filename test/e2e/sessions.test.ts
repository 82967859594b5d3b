/**
 * Multi-flow sessions through the real station in the namespace testbed: large transfers both
 * ways at once (the covert server echoes the upload) across many flow switches, with and without
 * loss and delay on the router, checked by SHA-256.
 *
 * The decoy has a small receive window and a short incomplete-request timeout and the ClientConf
 * says the same; the client switches flows when either runs out. CI runs 50 MB each way on a
 * clean path and 4 MB each way with 1% loss and 40 ms delay each way (80 ms RTT). The full 50 MB
 * each way under that impairment takes many minutes (TCP through 1% loss at 80 ms RTT moves a few
 * Mbit/s); it runs when TAPDANCE_LONG=1.
 */
import t, { type Test } from 'tap';
import { StationPath } from '../../src/demo/station-path.js';

const WINDOW = 256 * 1024;
const path = await StationPath.up({
  decoys: [{ rcvbuf: WINDOW, clientHeaderTimeout: 5 }],
  tcpwin: WINDOW,
  timeoutMs: 20_000,
});
t.teardown(() => path.down());

async function echoBothWays(t: Test, size: number, tcpWindow: number, timeoutMs: number): Promise<void> {
  // decoyTimeoutMs stands in for the decoy's 5 s header timeout, below the ClientConf floor of 20 s.
  const r = await path.fetch({ path: '/echo', upload: size, tcpWindow, decoyTimeoutMs: 5_000 }, timeoutMs);
  t.equal(r.status, 200);
  t.equal(r.uploaded?.bytes, size);
  t.equal(r.bytes, size, 'every byte came back');
  t.equal(r.sha256, r.uploaded?.sha256, 'SHA-256 of what came back equals what was sent');
  t.ok((r.flows ?? 0) >= 21, `${r.flows} flows (at least 20 switches)`);
}

t.test('50 MB each way across at least 20 flow switches arrive intact and in order', (t) => echoBothWays(t, 50 << 20, WINDOW, 600_000));

t.test('with 1% loss and 40 ms delay on the router the stream stays complete and ordered', async (t) => {
  await path.tb.setImpairment({ delayMs: 40, lossPercent: 1 });
  t.teardown(() => path.tb.setImpairment({}));
  const long = process.env.TAPDANCE_LONG === '1';
  await echoBothWays(t, long ? 50 << 20 : 4 << 20, long ? WINDOW : 160 * 1024, 3_600_000);
});
