/**
 * The shipped transport's dial: adapts a {@link TapDanceDialRequest} (bridge line, saved state,
 * connector) to the client library's `dial()`.
 *
 * ClientConf choice: the bridge line's `clientconf=` file and the copy saved from an earlier
 * station update are compared by generation and the newer one wins; `decoy=` hints replace its
 * decoy list; `pubkey=` becomes the default station key. With only `pubkey=` and `decoy=`, a
 * ClientConf of generation 0 is built from them (any station update then replaces it).
 *
 * Decoy certificates are checked against the system roots. `TAPDANCE_DECOY_CA_FILE` (a PEM file
 * in the environment tor gives the transport) replaces them, for private decoys and test beds.
 *
 * @module
 */
import { create } from '@bufbuild/protobuf';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { dial } from '../src/client/dial.js';
import {
  ClientConfSchema, DecoyListSchema, KeyType, PubKeySchema, TLSDecoySpecSchema, decodeClientConf, encodeClientConf,
  ipv4ToFixed32, ipv6ToBytes, type ClientConf,
} from '../src/protocol/messages.js';
import { PtError } from './errors.js';
import type { TapDanceDialRequest } from './tapdance-dialer.js';

function newer(a: ClientConf | undefined, b: ClientConf | undefined): ClientConf | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.generation > a.generation ? b : a;
}

function decodeOrUndefined(bytes: Uint8Array | undefined, what: string, req: TapDanceDialRequest): ClientConf | undefined {
  if (bytes === undefined) return undefined;
  try {
    return decodeClientConf(bytes);
  } catch {
    req.log.log('warning', `ignoring the ${what} ClientConf: it does not decode`);
    return undefined;
  }
}

/** Build the ClientConf for one dial from the request. */
export function clientConfFor(req: TapDanceDialRequest): ClientConf {
  const base = newer(decodeOrUndefined(req.bridgeClientConf, 'bridge line', req), decodeOrUndefined(req.savedClientConf, 'saved', req));
  const conf = base === undefined ? create(ClientConfSchema, { generation: 0 }) : create(ClientConfSchema, base);
  if (req.stationPublicKey !== undefined) conf.defaultPubkey = create(PubKeySchema, { key: req.stationPublicKey, type: KeyType.AES_GCM_128 });
  if (req.decoys.length > 0) {
    conf.decoyList = create(DecoyListSchema, {
      tlsDecoys: req.decoys.map((d) => create(TLSDecoySpecSchema, {
        hostname: d.hostname,
        ...(isIP(d.address) === 4 ? { ipv4addr: ipv4ToFixed32(d.address) } : { ipv6addr: ipv6ToBytes(d.address) }),
      })),
    });
  }
  return conf;
}

/**
 * Dial a TapDance session for the transport.
 *
 * @param req - what the transport gathered for this SOCKS request
 * @returns the covert stream
 * @throws {@link PtError} `ERR_PT_BRIDGE_ARGS` for decoy hints on different ports; client errors
 *   (`ClientError`) for everything the session itself reports
 */
export async function tapDanceDial(req: TapDanceDialRequest): Promise<Duplex> {
  const ports = new Set(req.decoys.map((d) => d.port));
  if (ports.size > 1) throw new PtError('ERR_PT_BRIDGE_ARGS', 'all decoy= hints must use the same port', { context: { key: 'decoy' } });
  const { host, port } = req.covert;
  const caFile = process.env.TAPDANCE_DECOY_CA_FILE;
  let ca: string | undefined;
  if (caFile !== undefined && caFile !== '') {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (cause) {
      throw new PtError('ERR_PT_BRIDGE_ARGS', 'cannot read TAPDANCE_DECOY_CA_FILE', { cause });
    }
  }
  const socket = await dial({
    ...(ca === undefined ? {} : { tls: { ca } }),
    target: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`,
    clientConf: clientConfFor(req),
    connect: (address, p, signal) => req.connector.connect({ host: address, port: p }, signal),
    signal: req.signal,
    ...(ports.size === 1 ? { decoyPort: [...ports][0]! } : {}),
    onClientConf: (conf) => req.saveClientConf(encodeClientConf(conf)),
  });
  req.log.log('info', `TapDance session up through decoy ${socket.session.decoy?.target.serverName ?? '?'}`);
  return socket;
}
