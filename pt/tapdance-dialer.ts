/**
 * The {@link PtDialer} of the shipped `tapdance-pt`: turns one SOCKS request (bridge address and
 * bridge-line arguments) into a call of the TapDance client's dial function.
 *
 * This is the seam between the transport plumbing and the client library. The library's dial
 * is injected as a {@link TapDanceDial}; this module gathers what it needs: the covert address,
 * the station key, ClientConf bytes (from the bridge line's file and from the state directory),
 * decoy hints, a {@link Connector} for its TCP connections to decoys (so `TOR_PT_PROXY` and the
 * bind addresses apply), and a callback that persists ClientConf updates from stations.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type { PtArgs } from './args.js';
import { parseBridgeArgs, type DecoyHint } from './bridge-args.js';
import type { Connector, PtDialer, PtTarget } from './dialer.js';
import { PtError } from './errors.js';
import type { PtLogger } from './ipc.js';
import { MAX_CLIENT_CONF_BYTES, type PtState } from './state.js';

/** Everything the TapDance client needs for one session, as the transport hands it over. */
export interface TapDanceDialRequest {
  /** Covert destination the station should connect to (`covert_address`). */
  covert: PtTarget;
  /** Station public key from the bridge line (32 bytes), if given. */
  stationPublicKey: Uint8Array | undefined;
  /** ClientConf bytes from the bridge line's `clientconf=` file, if given. */
  bridgeClientConf: Uint8Array | undefined;
  /** ClientConf bytes saved from an earlier station update, if any. Use the higher generation. */
  savedClientConf: Uint8Array | undefined;
  /** Decoys named on the bridge line (take precedence over ClientConf decoys). */
  decoys: DecoyHint[];
  /** Opens the TCP connections to decoys (honours `TOR_PT_PROXY` and bind addresses). */
  connector: Connector;
  /** Persist a ClientConf update received from a station. */
  saveClientConf(bytes: Uint8Array): void;
  /** Aborted when tor gives up or the dial times out. */
  signal: AbortSignal;
  /** Logs into tor's log (no addresses, please). */
  log: PtLogger;
}

/** The client library's entry point as the transport uses it. */
export type TapDanceDial = (request: TapDanceDialRequest) => Promise<Duplex>;

/** Options of {@link createTapDanceDialer}. */
export interface TapDanceDialerOptions {
  /** The client's dial; undefined while no client is wired in (every dial then fails). */
  dial: TapDanceDial | undefined;
  /** TCP connections to decoys. */
  connector: Connector;
  /** State directory. */
  state: PtState;
  /** Logger. */
  log: PtLogger;
}

/**
 * Build the TapDance dialer.
 *
 * @param options - the client's dial and its surroundings
 * @returns a dialer for the SOCKS server
 * @example
 * ```ts
 * const dialer = createTapDanceDialer({ dial: (req) => clientDial(req), connector, state, log: ipc })
 * new PtSocksServer({ dialer })
 * ```
 */
export function createTapDanceDialer(options: TapDanceDialerOptions): PtDialer {
  const { dial, connector, state, log } = options;
  return {
    async dial(target: PtTarget, args: PtArgs, signal: AbortSignal): Promise<Duplex> {
      const bridge = parseBridgeArgs(args, target);
      const bridgeClientConf = bridge.clientConfPath === undefined ? undefined : await readClientConfFile(bridge.clientConfPath);
      const savedClientConf = state.readClientConf();
      const haveConf = bridgeClientConf !== undefined || savedClientConf !== undefined;
      if (bridge.stationPublicKey === undefined && !haveConf) {
        throw new PtError('ERR_PT_BRIDGE_ARGS', 'the bridge line needs pubkey= or clientconf=', { context: { key: 'pubkey' } });
      }
      if (bridge.decoys.length === 0 && !haveConf) {
        throw new PtError('ERR_PT_BRIDGE_ARGS', 'the bridge line needs decoy= or clientconf=', { context: { key: 'decoy' } });
      }
      if (dial === undefined) {
        throw new PtError('ERR_PT_TRANSPORT_UNAVAILABLE', 'this build of tapdance-pt has no TapDance client wired in');
      }
      return dial({
        covert: bridge.covert,
        stationPublicKey: bridge.stationPublicKey,
        bridgeClientConf,
        savedClientConf,
        decoys: bridge.decoys,
        connector,
        saveClientConf: (bytes) => {
          try {
            state.writeClientConf(bytes);
          } catch (err) {
            log.log('warning', `could not save the ClientConf update: ${(err as Error).message}`);
          }
        },
        signal,
        log,
      });
    },
  };
}

async function readClientConfFile(path: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const errno = (cause as { code?: unknown }).code;
    throw new PtError('ERR_PT_BRIDGE_ARGS', `cannot read the clientconf file${typeof errno === 'string' ? ` (${errno})` : ''}`, {
      cause,
      context: { key: 'clientconf' },
    });
  }
  if (bytes.length > MAX_CLIENT_CONF_BYTES) {
    throw new PtError('ERR_PT_BRIDGE_ARGS', 'the clientconf file is too large', { context: { key: 'clientconf', length: bytes.length } });
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
