/**
 * The client against a misbehaving path: garbage, unknown transitions and oversized frames from
 * the "station", a decoy that never answers, a flow reset mid-transfer, and a station restart.
 * Each ends with a typed error (or continues without losing a byte) within the given bounds.
 */
import t from 'tap';
import { createServer, type Server, type AddressInfo, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { dial } from '../../src/client/dial.js';
import { ClientError } from '../../src/client/errors.js';
import { FlowTls } from '../../src/station/flow-tls.js';
import { encodeProtobufFrame, encodeDataFrame } from '../../src/protocol/framing.js';
import { encodeStationToClient, S2C_Transition, ClientConfSchema, ipv4ToFixed32 } from '../../src/protocol/messages.js';
import type { Takeover } from '../../src/station/session-table.js';
import { startLoopbackPath, type LoopbackPath } from '../helpers/loopback-station.js';

let path: LoopbackPath;
t.before(async () => { path = await startLoopbackPath(); });
t.teardown(() => path.close());

/** Take the next flow over in the test and answer with `bytes`. */
function fakeStation(answer: (flow: FlowTls) => void): void {
  path.intercept = (tk: Takeover) => {
    path.intercept = null;
    const flow = new FlowTls(tk.socket, {
      suite: tk.payload.cipherSuite, masterSecret: tk.payload.masterSecret,
      clientRandom: tk.payload.clientRandom, serverRandom: tk.payload.serverRandom,
    }, tk.taggedRecord);
    flow.on('error', () => {});
    flow.resume();
    answer(flow);
    return true;
  };
}

const echo = (): string => `127.0.0.1:${path.echoPort}`;
const init = (transition: number): Uint8Array => encodeProtobufFrame(encodeStationToClient({ protocolVersion: 1, stateTransition: transition }));

async function dialError(options: Parameters<typeof dial>[0]): Promise<ClientError> {
  const err = await dial(options).then((s) => { s.destroy(); return new Error('dial succeeded'); }, (e: unknown) => e);
  if (!(err instanceof ClientError)) throw err;
  return err;
}

t.test('a first message that is not a StationToClient ends the dial with ERR_STATION_PROTOCOL', async (t) => {
  fakeStation((f) => f.write(encodeProtobufFrame(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))));
  const err = await dialError({ ...path.dialOptions, target: echo(), attempts: 1 });
  t.equal(err.code, 'ERR_STATION_PROTOCOL');
});

t.test('data before the first message is a protocol error', async (t) => {
  fakeStation((f) => f.write(encodeDataFrame(Buffer.from('hello'))));
  t.equal((await dialError({ ...path.dialOptions, target: echo(), attempts: 1 })).code, 'ERR_STATION_PROTOCOL');
});

t.test('an unknown or unexpected transition is a protocol error', async (t) => {
  fakeStation((f) => f.write(init(77)));
  t.equal((await dialError({ ...path.dialOptions, target: echo(), attempts: 1 })).code, 'ERR_STATION_PROTOCOL');
  fakeStation((f) => f.write(init(S2C_Transition.S2C_CONFIRM_RECONNECT)));
  t.equal((await dialError({ ...path.dialOptions, target: echo(), attempts: 1 })).code, 'ERR_STATION_PROTOCOL');
});

t.test('an oversized frame is refused as soon as its header arrives', async (t) => {
  const huge = Buffer.from([0, 0, 0x7f, 0xff, 0xff, 0xff]); // extended protobuf of 2 GiB
  fakeStation((f) => f.write(huge));
  const err = await dialError({ ...path.dialOptions, target: echo(), attempts: 1 });
  t.equal(err.code, 'ERR_STATION_PROTOCOL');
  t.match((err.cause as { code?: string }).code, 'ERR_PROTO_FRAME_TOO_LARGE');
});

t.test('garbage and bad transitions on an established session destroy the socket with a typed error', async (t) => {
  let flow: FlowTls | undefined;
  fakeStation((f) => { flow = f; f.write(init(S2C_Transition.S2C_SESSION_COVERT_INIT)); });
  const socket = await dial({ ...path.dialOptions, target: echo() });
  const failed = once(socket, 'error');
  flow!.write(Buffer.concat([encodeDataFrame(Buffer.from('ok')), init(S2C_Transition.S2C_SESSION_INIT)]));
  const [err] = await failed as [ClientError];
  t.equal(err.code, 'ERR_STATION_PROTOCOL');
  t.ok(socket.destroyed);
});

t.test('a station error message ends the session with its reason', async (t) => {
  let flow: FlowTls | undefined;
  fakeStation((f) => { flow = f; f.write(init(S2C_Transition.S2C_SESSION_COVERT_INIT)); });
  const socket = await dial({ ...path.dialOptions, target: echo() });
  const failed = once(socket, 'error');
  flow!.write(encodeProtobufFrame(encodeStationToClient({ stateTransition: S2C_Transition.S2C_ERROR, errReason: 4 })));
  const [err] = await failed as [ClientError];
  t.equal(err.code, 'ERR_STATION_REFUSED');
  t.equal(err.context.reason, 'STATION_INTERNAL');
});

t.test('a decoy that never answers ends the dial within its timeout', async (t) => {
  const silent: Server = createServer(() => {}); // accepts, never speaks TLS
  const held = new Set<Socket>();
  silent.on('connection', (s) => held.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const s of held) s.destroy(); silent.close(); });
  const conf = create(ClientConfSchema, path.clientConf);
  conf.decoyList!.tlsDecoys[0]!.ipv4addr = ipv4ToFixed32('127.0.0.1');
  const err = await dialError({ ...path.dialOptions, clientConf: conf, decoyPort: (silent.address() as AddressInfo).port,
    target: echo(), timeout: 1500 });
  t.equal(err.code, 'ERR_DIAL_TIMEOUT', 'the dial timeout, not the 11–14 s decoy deadline, ended it');
});

t.test('a flow reset mid-transfer ends the session with ERR_SESSION_LOST, never silently', async (t) => {
  let taken: Socket | undefined;
  path.intercept = (tk) => { taken = tk.socket; return false; }; // observe, let the station serve it
  const socket = await dial({ ...path.dialOptions, target: echo() });
  path.intercept = null;
  socket.on('data', () => {});
  const failed = once(socket, 'error');
  socket.write(randomBytes(8192));
  await new Promise((r) => setTimeout(r, 50));
  taken!.resetAndDestroy();
  const [err] = await failed as [ClientError];
  t.equal(err.code, 'ERR_SESSION_LOST');
});

t.test('after a station restart the next flow is refused with ERR_SESSION_LOST', async (t) => {
  const socket = await dial({ ...path.dialOptions, target: echo() });
  const failed = once(socket, 'error');
  path.restartStation(); // ends the flow with close_notify + FIN; the client redials a station that forgot it
  const [err] = await failed as [ClientError];
  t.equal(err.code, 'ERR_SESSION_LOST');
  t.match(err.message, /did not continue the session/);
});
