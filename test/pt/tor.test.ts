/**
 * Debian's tor as the parent of our transport: tor launches the PT from a torrc, talks the
 * managed-proxy protocol with it, sends the bridge line's arguments over SOCKS, and completes the
 * link handshake with a local bridge relay through it. The loopback fixture stands in for the
 * TapDance dialer (the TapDance run through the testbed station builds on tor-harness.ts).
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseEnv, PT_FIXTURE } from './pt-process.js';
import { startTorTestbed } from './tor-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tdpt-tor-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('tor completes the link handshake with a bridge through tapdance-pt', async (t) => {
  const key = 'ab'.repeat(32);
  // Over 255 bytes in all, so tor splits them across the SOCKS5 user name and password.
  const decoys = Array.from({ length: 6 }, (_, i) => `decoy=decoy-number-${i}.example.com@192.0.2.${10 + i}`);
  const bed = await startTorTestbed({
    dir,
    ptCommand: [...PT_FIXTURE, '--log-level', 'info'],
    env: baseEnv(),
    bridgeArgs: (b) => [`covert=127.0.0.1:${b.orPort}`, `pubkey=${key}`, ...decoys],
    // A second bridge the loopback fixture must refuse: its SOCKS reply reaches tor.
    extraBridges: () => ['tapdance 192.0.2.1:443 0123456789ABCDEF0123456789ABCDEF01234567 covert=192.0.2.1:443'],
  });
  t.teardown(() => bed.stop());
  const { client, bridge } = bed;
  t.ok(`covert=127.0.0.1:${bridge.orPort};pubkey=${key};${decoys.join(';')}`.length > 255, 'arguments need both SOCKS5 fields');

  // The managed-proxy handshake as tor saw it.
  await client.waitForLog(/Got a line from managed proxy '.*': \(VERSION 1\)/);
  await client.waitForLog(/Got a line from managed proxy '.*': \(STATUS TYPE=version IMPLEMENTATION="tapdance-pt" VERSION="[^"]+"\)/);
  await client.waitForLog(/Transport tapdance at 127\.0\.0\.1:[0-9]+ with SOCKS .*Attached to managed proxy/);
  await client.waitForLog(/Client managed proxy '.*' configuration completed!/);
  await client.waitForLog(/Successfully registered transport tapdance/);

  // tor's SOCKS request carried the bridge line's arguments to our dialer (its LOG line).
  await client.waitForLog(
    new RegExp(`\\[notice\\] Managed proxy ".*": loopback dial to port ${bridge.orPort} with args covert=127.0.0.1:${bridge.orPort};pubkey=${key};${decoys.join(';').replace(/\./g, '\\.')}$`),
  );
  await client.waitForLog(new RegExp(`Proxy Client: OR connection .* with 127\\.0\\.0\\.1:${bridge.orPort} .*RSA_ID=${bridge.fingerprint} successful`));

  // The link handshake with that bridge completed: identity checked, NETINFO exchanged.
  await client.waitForLog(new RegExp(`Got some good certificates on OR connection .*RSA_ID=${bridge.fingerprint}: Authenticated it with RSA and Ed25519`));
  await client.waitForLog(new RegExp(`Got good NETINFO cell on OR connection \\(open\\) with 127\\.0\\.0\\.1:${bridge.orPort} .*RSA_ID=${bridge.fingerprint}; OR connection is now open`));
  await client.waitForLog(/Bootstrapped 15% \(handshake_done\): Handshake with a relay done/);
  await client.waitForLog(/new bridge descriptor 'tdptbridge' \(fresh\)/);

  // The refused bridge: our "not allowed" reply is what tor reports.
  await client.waitForLog(/Proxy Client: unable to connect OR connection .* with 192\.0\.2\.1:443 .*\(.*not allowed.*\)/);
  t.notMatch(client.log(), /failed the configuration protocol|did not configure the specified outgoing proxy/);

  // When tor exits (closing the PT's stdin and sending SIGTERM), the transport exits with it.
  const ptPid = await client.transportPid();
  t.ok(existsSync(`/proc/${ptPid}`), 'transport running while tor runs');
  await client.stop();
  for (let i = 0; i < 100 && existsSync(`/proc/${ptPid}`); i++) await new Promise((r) => setTimeout(r, 100));
  t.notOk(existsSync(`/proc/${ptPid}`), 'transport gone after tor');
});
