/**
 * The crypto layer of tapdance: Elligator 2, X25519 keys, the TapDance tag, stego encoding and
 * AES-GCM. No I/O except `key-files.ts`; nothing here knows about TLS records or sockets.
 *
 * @module
 */
export * from './aead.js';
export * from './bytes.js';
export * from './elligator2.js';
export * from './errors.js';
export * from './key-files.js';
export * from './keys.js';
export * from './stego.js';
export * from './tag.js';
export * from './x25519.js';
