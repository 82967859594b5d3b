/**
 * A whole TapDance path on loopback for tests: a TLS "decoy" (node:tls, certificate from the test
 * CA), the inline tap standing in for mirror + takeover, the station's session table, and covert
 * servers (echo). Everything listens on 127.0.0.1 with ephemeral ports.
 */
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { createServer, type Server, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { TestCa } from '../../src/testbed/pki.js';
import { generateStationKeyPair } from '../../src/crypto/keys.js';
import { create } from '@bufbuild/protobuf';
import { ipv4ToFixed32, ClientConfSchema, KeyType, type ClientConf } from '../../src/protocol/messages.js';
import { SessionTable, type SessionTableOptions, type Takeover } from '../../src/station/session-table.js';
import { CovertAllowlist } from '../../src/station/allowlist.js';
import { LocalDecoyLoad } from '../../src/station/decoy-load.js';
import { StationStats } from '../../src/station/stats.js';
import { startInlineTap, type InlineTap } from './inline-tap.js';
import type { DialOptions } from '../../src/client/dial.js';

export interface LoopbackPath {
  ca: TestCa;
  stationKey: { secretKey: Uint8Array; publicKey: Uint8Array };
  readonly table: SessionTable;
  stats: StationStats;
  /** Handle takeovers in the test instead of the station (return true to claim one). */
  intercept: ((t: Takeover) => boolean) | null;
  /** Drop every session and start an empty session table, as a station restart does. */
  restartStation(): void;
  tap: InlineTap;
  echoPort: number;
  decoyRequests: string[];
  clientConf: ClientConf;
  /** Dial options for this path (spread and add `target`). */
  dialOptions: DialOptions;
  close(): Promise<void>;
}

export async function startLoopbackPath(overrides: Partial<SessionTableOptions> = {}, extraPorts: number[] = []): Promise<LoopbackPath> {
  const dir = mkdtempSync(join(tmpdir(), 'td-loop-'));
  const ca = TestCa.create(join(dir, 'pki'));
  const leaf = ca.issue({ commonName: 'decoy.test', keyKind: 'ecdsa' });
  const decoyRequests: string[] = [];
  const decoy: TlsServer = createTlsServer({ cert: leaf.cert, key: leaf.key, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, (s) => {
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        decoyRequests.push(got);
        s.end('HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\ndecoy ok\n');
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => decoy.listen(0, '127.0.0.1', r));
  const conns = new Set<Socket>();
  const echo: Server = createServer({ allowHalfOpen: true }, (s) => {
    conns.add(s);
    s.on('close', () => conns.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoPort = (echo.address() as AddressInfo).port;

  const stationKey = generateStationKeyPair();
  const stats = new StationStats();
  const tableOptions: SessionTableOptions = {
    log: pino({ level: 'silent' }),
    stats,
    covert: { allowlist: CovertAllowlist.from([{ cidr: '127.0.0.1/32', ports: [echoPort, ...extraPorts].join(',') }]), resolveNames: false, connectTimeoutMs: 2000 },
    load: new LocalDecoyLoad({ perDecoy: 100, perDecoyOverrides: {} }),
    maxSessions: 100,
    bufferBytes: 1 << 20,
    reconnectWindowMs: 5000,
    flowLifetimeMs: 60_000,
    clientAddressPrefixBits: 0,
    ...overrides,
  };
  const state: { table: SessionTable; intercept: ((t: Takeover) => boolean) | null } = { table: new SessionTable(tableOptions), intercept: null };
  const tap = await startInlineTap({
    decoy: { address: '127.0.0.1', port: (decoy.address() as AddressInfo).port },
    stationKeys: [stationKey.secretKey],
    onTakeover: (t) => {
      if (state.intercept?.(t) === true) return;
      void state.table.accept(t);
    },
  });
  const clientConf: ClientConf = create(ClientConfSchema, {
    generation: 5,
    decoyList: { tlsDecoys: [{
      hostname: 'decoy.test', ipv4addr: ipv4ToFixed32('127.0.0.1'), timeout: 30000, tcpwin: 32768,
      pubkey: { key: stationKey.publicKey, type: KeyType.AES_GCM_128 },
    }] },
  });
  return {
    ca, stationKey, stats, tap, echoPort, decoyRequests, clientConf,
    get table() { return state.table; },
    set intercept(fn: ((t: Takeover) => boolean) | null) { state.intercept = fn; },
    restartStation() {
      state.table.close();
      state.table = new SessionTable(tableOptions);
    },
    dialOptions: { clientConf, decoyPort: tap.port, tls: { ca: ca.root.cert }, backoffMs: () => 10 },
    async close() {
      state.table.close();
      await tap.close();
      for (const c of conns) c.destroy();
      await new Promise((r) => echo.close(r));
      await new Promise((r) => decoy.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
