/**
 * `tapdance/pt`: the Tor pluggable transport (PT v1 managed client) as a library.
 *
 * The `tapdance-pt` bin is {@link runMain} with the TapDance dialer. The pieces are exported for
 * other transports, tools and tests: the managed-client runner with an injectable
 * {@link PtDialer}, the SOCKS server and its sans-IO handshake, PT argument coding, environment
 * and `TOR_PT_PROXY` parsing, the line protocol, and the connectors for outgoing TCP.
 *
 * @example
 * ```ts
 * import { runManagedClient } from 'tapdance/pt'
 * const client = await runManagedClient({
 *   env: process.env,
 *   implementation: { name: 'my-pt', version: '1.0.0' },
 *   createDialer: ({ connector }) => ({ dial: (target, args, signal) => connector.connect(target, signal) }),
 * })
 * process.exit(await client.exited)
 * ```
 *
 * @module
 */
export { PtError, SocksError } from './errors.js';
export type { PtErrorCode } from './errors.js';

export { runManagedClient, TRANSPORT_NAME } from './managed.js';
export type { DialerContext, ManagedClient, ManagedClientOptions } from './managed.js';
export { runMain, parseCli, packageVersion } from './cli.js';
export type { CliOptions } from './cli.js';
export type { Connector, PtDialer, PtTarget } from './dialer.js';

export { createTapDanceDialer } from './tapdance-dialer.js';
export type { TapDanceDial, TapDanceDialRequest, TapDanceDialerOptions } from './tapdance-dialer.js';
export { parseBridgeArgs, BRIDGE_KEYS } from './bridge-args.js';
export type { DecoyHint, TapDanceBridge } from './bridge-args.js';
export { PtState, MAX_CLIENT_CONF_BYTES } from './state.js';

export { PtSocksServer } from './socks-server.js';
export type { SocksServerOptions } from './socks-server.js';
export { SocksHandshake, MAX_HANDSHAKE_BYTES } from './socks-handshake.js';
export type { SocksHandshakeOptions, SocksHandshakeState, SocksRequest, SocksStep } from './socks-handshake.js';
export { Socks4Reply, Socks5Method, Socks5Reply, kSocksReply, socks4Reply, socks5Reply, socksReplyForError } from './socks-replies.js';
export type { Socks5ReplyCode } from './socks-replies.js';

export { argsFromSocks5Credentials, decodeArgsBytes, encodePtArgs, MAX_ARGS_BYTES, parsePtArgs, socks5CredentialsForArgs } from './args.js';
export type { EncodeArgsOptions, PtArgs } from './args.js';
export { chooseProtocolVersion, parseClientEnv, PT_PROTOCOL_VERSION } from './env.js';
export type { ClientEnv, PtEnvironment } from './env.js';
export { parseProxyUri } from './proxy-uri.js';
export type { ProxyScheme, ProxyUri } from './proxy-uri.js';

export { createConnector, createDirectConnector } from './connector.js';
export type { DirectConnectorOptions } from './connector.js';
export { createProxyConnector, parseConnectResponseHead } from './proxy-connector.js';
export type { ConnectResponseHead } from './proxy-connector.js';

export { encodeCString, formatAddress, formatLine, isTransportName, lines, LOG_SEVERITIES, safeText } from './line.js';
export type { LogSeverity } from './line.js';
export { fdLineSink, PtIpc } from './ipc.js';
export type { LineSink, PtIpcOptions, PtLogger } from './ipc.js';
export { watchTermination } from './termination.js';
export {
  connectExtOrPort,
  encodeExtOrCommand,
  EXT_OR_COOKIE_HEADER,
  ExtOrCommand,
  extOrClientHash,
  extOrServerHash,
  parseExtOrCookie,
  readExtOrCookie,
} from './extorport.js';
export type { ExtOrPortOptions } from './extorport.js';
export type { StopReason, TerminationOptions } from './termination.js';
