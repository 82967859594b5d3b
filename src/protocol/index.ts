/**
 * The protocol layer of tapdance: signalling messages, type-length framing, X-Proto, the tagged
 * request, padding rules, ClientConf files, and the station-side tag reader. Sans-IO except
 * for the ClientConf file functions.
 *
 * @module
 */
export * from './client-conf.js';
export * from './errors.js';
export * from './framing.js';
export * from './messages.js';
export * from './padding.js';
export * from './tag-reader.js';
export * from './tagged-request.js';
export * from './xproto.js';
