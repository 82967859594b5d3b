/**
 * Issue 6's end-to-end check: Debian's tor, in the testbed's client namespace, launches
 * `tapdance-pt`, which reaches a local tor bridge relay (the covert destination, in the covert
 * namespace) through a real nginx decoy and the station on the router's port mirror. tor's log
 * must show the link handshake with that bridge completing.
 */
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StationPath } from '../../src/demo/station-path.js';
import { startBridgeRelay, startTorClient } from '../pt/tor-harness.js';
import { PT_MAIN } from '../pt/pt-process.js';

t.test('tor reaches its bridge through tapdance-pt, a decoy and the station', async (t) => {
  // Start the station after the bridge: the allowlist must include the bridge's ORPort.
  const path = await StationPath.up({ startStation: false });
  t.teardown(() => path.down());
  const dir = join(path.tb.workDir, 'tor');
  mkdirSync(dir, { recursive: true });
  const bridge = await startBridgeRelay({ dir, netns: path.tb.netns('covert'), address: path.covert.address });
  t.teardown(() => bridge.stop());
  const config = JSON.parse(readFileSync(path.stationConfigPath, 'utf8')) as { covert: { allow: unknown[] } };
  config.covert.allow.push({ cidr: `${path.covert.address}/32`, ports: String(bridge.orPort) });
  writeFileSync(path.stationConfigPath, JSON.stringify(config));
  await path.startStation();

  const client = await startTorClient({
    dir,
    netns: path.tb.netns('client'),
    ptCommand: [...PT_MAIN, '--log-level', 'info'],
    bridges: [`tapdance ${path.covert.address}:${bridge.orPort} ${bridge.fingerprint} clientconf=${path.clientConfPath}`],
    env: { TAPDANCE_DECOY_CA_FILE: path.caPath },
  });
  t.teardown(() => client.stop());
  await client.waitForLog(/Successfully registered transport tapdance/, 60_000);
  await client.waitForLog(/TapDance session up through decoy decoy0\.test/, 60_000);
  await client.waitForLog(new RegExp(`Got some good certificates on OR connection .*RSA_ID=${bridge.fingerprint}`), 60_000);
  await client.waitForLog(/Bootstrapped 15% \(handshake_done\): Handshake with a relay done/, 60_000);
  t.pass('tor completed the link handshake with the bridge through TapDance');
  const session = path.stationLog.find((l) => l.msg === 'session started');
  t.ok(session, 'the station served the session');
  t.equal(session?.covert, 'client', 'to the covert address from the bridge line');
  t.notOk(path.stationOutput.includes(path.tb.addresses.client), 'no client address in station logs');
});
