/**
 * tapdance: refraction networking for Node.js (client side).
 *
 * `import { dial } from 'tapdance'` is the entry point applications use; the station lives under
 * `tapdance/station` and the Tor pluggable transport under `tapdance/pt`.
 *
 * @module
 */
export { dial, createConnection } from './client/dial.js';
export type { DialOptions } from './client/dial.js';
export { TapDanceSocket } from './client/socket.js';
export { TapDanceAgent, TapDanceHttpAgent, tapdanceConnector } from './client/agent.js';
export type { AgentDialOptions, UndiciConnectOptions } from './client/agent.js';
export { ClientError } from './client/errors.js';
export type { ClientErrorCode } from './client/errors.js';
export type { TcpConnector, DecoyTarget } from './client/flow.js';
export { TapDanceError, InvalidArgumentError } from './errors.js';
export type { TapDanceErrorOptions } from './errors.js';
export { readClientConf, writeClientConf } from './protocol/client-conf.js';
// ClientHello profiles for `dial({ tls: { profile } })`: Chrome 62 (TLS 1.2, what public stations
// read; the default) and current Chromium (TLS 1.3, X25519MLKEM768; needs a station of this project).
export { CHROME_62, CHROMIUM_156, DEFAULT_PROFILE } from './tls/profiles.js';
export type { ClientHelloProfile } from './tls/profiles.js';
export { decodeClientConf, encodeClientConf } from './protocol/messages.js';
export type { ClientConf } from './protocol/messages.js';
