/**
 * The managed client: the whole life of a PT v1 client process under tor, minus the transport
 * itself (an injected {@link PtDialer}).
 *
 * Order of lines, each written synchronously: environment problems as `ENV-ERROR` or
 * `VERSION-ERROR` (before anything else, the only place tor accepts them), then `VERSION 1`,
 * `STATUS TYPE=version …`, `PROXY DONE` or `PROXY-ERROR` when `TOR_PT_PROXY` is set, one
 * `CMETHOD tapdance socks5 127.0.0.1:PORT` (or `CMETHOD-ERROR`), and `CMETHODS DONE`. Transports
 * we do not have are skipped silently, as the spec asks (lyrebird and goptlib's examples send
 * `CMETHOD-ERROR … no such method` instead; tor accepts both).
 *
 * Exit codes: 0 after a requested shutdown, 1 after an error line or when no transport could be
 * started (as obfs4proxy, which exits non-zero then too).
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { createConnector } from './connector.js';
import type { Connector, PtDialer } from './dialer.js';
import { chooseProtocolVersion, parseClientEnv, type ClientEnv, type PtEnvironment } from './env.js';
import { PtError } from './errors.js';
import { fdLineSink, PtIpc, type LineSink, type PtLogger } from './ipc.js';
import { formatAddress, type LogSeverity } from './line.js';
import { parseProxyUri, type ProxyUri } from './proxy-uri.js';
import { PtSocksServer, type SocksServerOptions } from './socks-server.js';
import { PtState } from './state.js';
import { watchTermination, type StopReason } from './termination.js';

/** The one transport this PT provides. */
export const TRANSPORT_NAME = 'tapdance';

/** What a dialer factory gets to build the transport's dialer. */
export interface DialerContext {
  /** Outgoing TCP connections (through `TOR_PT_PROXY`, from the bind addresses). */
  connector: Connector;
  /** The state directory. */
  state: PtState;
  /** Logs into tor's log. */
  log: PtLogger;
  /** The parsed environment. */
  env: ClientEnv;
  /** The parsed `TOR_PT_PROXY`, if set. */
  proxy: ProxyUri | undefined;
}

/** Options of {@link runManagedClient}. */
export interface ManagedClientOptions {
  /** The parent's environment (normally `process.env`). */
  env: PtEnvironment;
  /** Builds the transport's dialer once the environment is known. */
  createDialer(context: DialerContext): PtDialer;
  /** Reported in `STATUS TYPE=version`. */
  implementation: { name: string; version: string };
  /** Where protocol lines go. Default: fd 1, synchronously. */
  sink?: LineSink;
  /** Least severe level sent as LOG lines. Default `notice`. */
  logLevel?: LogSeverity;
  /** Signal source. Default `process`. */
  signals?: EventEmitter;
  /** stdin (read only when `TOR_PT_EXIT_ON_STDIN_CLOSE=1`). Default `process.stdin`. */
  stdin?: Readable;
  /** SOCKS server bounds. */
  socks?: Omit<SocksServerOptions, 'dialer' | 'log' | 'host' | 'port'>;
}

/** A running (or finished) managed client. */
export interface ManagedClient {
  /** Resolves with the process exit code once the client has stopped. */
  readonly exited: Promise<number>;
  /** Port of the SOCKS listener, when one was started. */
  readonly socksPort: number | undefined;
  /**
   * Stop: `drain` lets open connections finish, `now` closes them.
   *
   * @param mode - how to stop
   */
  stop(mode: 'drain' | 'now'): void;
}

/**
 * Run the managed-proxy protocol for a client transport.
 *
 * @param options - environment, dialer factory and I/O
 * @returns the running client; environment errors are reported to the parent and give an
 *   already-finished client with exit code 1 (this function does not throw for them)
 * @example
 * ```ts
 * const client = await runManagedClient({
 *   env: process.env,
 *   implementation: { name: 'tapdance-pt', version: '0.1.0' },
 *   createDialer: ({ connector, state, log }) => createTapDanceDialer({ dial, connector, state, log }),
 * })
 * process.exit(await client.exited)
 * ```
 */
export async function runManagedClient(options: ManagedClientOptions): Promise<ManagedClient> {
  let server: PtSocksServer | undefined;
  let socksPort: number | undefined;
  let finish!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (finish = resolve));
  let unwatch: (() => void) | undefined;
  let done = false;
  const end = (code: number): void => {
    if (done) return;
    done = true;
    unwatch?.();
    finish(code);
  };
  const stop = (mode: 'drain' | 'now'): void => {
    if (server === undefined) return end(0);
    if (mode === 'drain') void server.close().then(() => end(0));
    else {
      server.destroy();
      end(0);
    }
  };
  const finished = (code: number): ManagedClient => {
    end(code);
    return { exited, socksPort: undefined, stop: () => {} };
  };

  const ipc = new PtIpc(options.sink ?? fdLineSink(1), {
    logLevel: options.logLevel ?? 'notice',
    // Parent gone: nobody can use our listener any more.
    onBroken: () => stop('now'),
  });

  let env: ClientEnv;
  let state: PtState;
  try {
    chooseProtocolVersion(options.env);
    env = parseClientEnv(options.env);
    state = PtState.open(env.stateLocation);
  } catch (err) {
    if (!(err instanceof PtError)) throw err;
    if (err.code === 'ERR_PT_VERSION') ipc.versionError();
    else ipc.envError(err.code === 'ERR_PT_STATE' ? `cannot create TOR_PT_STATE_LOCATION: ${String(err.context.errno ?? err.message)}` : err.message);
    return finished(1);
  }

  ipc.version();
  ipc.statusVersion(options.implementation.name, options.implementation.version);

  let proxy: ProxyUri | undefined;
  if (env.proxy !== undefined) {
    try {
      proxy = parseProxyUri(env.proxy);
    } catch (err) {
      if (!(err instanceof PtError)) throw err;
      ipc.proxyError(err.message);
      return finished(1);
    }
    ipc.proxyDone();
  }

  if (env.transports.includes(TRANSPORT_NAME)) {
    const connector = createConnector({ proxy, bindAddressV4: env.bindAddressV4, bindAddressV6: env.bindAddressV6 });
    try {
      const dialer = options.createDialer({ connector, state, log: ipc, env, proxy });
      const candidate = new PtSocksServer({ ...options.socks, dialer, log: ipc, host: '127.0.0.1', port: 0 });
      const { address, port } = await candidate.listen();
      server = candidate;
      socksPort = port;
      ipc.cmethod(TRANSPORT_NAME, formatAddress(address, port));
    } catch (err) {
      ipc.cmethodError(TRANSPORT_NAME, `cannot start: ${(err as Error).message ?? String(err)}`);
    }
  }
  ipc.cmethodsDone();

  if (server === undefined || ipc.broken) {
    server?.destroy();
    return finished(1);
  }
  unwatch = watchTermination({
    exitOnStdinClose: env.exitOnStdinClose,
    ...(options.signals === undefined ? {} : { signals: options.signals }),
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    onDrain: () => {
      stop('drain');
      // After the listener is closed, so whoever reads this finds it closed.
      ipc.log('notice', 'draining: no new connections, waiting for open ones');
    },
    onStop: (reason: StopReason) => {
      ipc.log('info', `stopping (${reason})`);
      stop('now');
    },
  });
  return { exited, socksPort, stop };
}
