/**
 * ClientHello profiles as data: which suites, extensions (in order), groups, signature schemes,
 * ALPN, GREASE positions, padding and session id a client sends, so its first flight looks like
 * a given browser.
 *
 * A profile is plain data (no functions) and `client-hello.ts` turns it into bytes. Entries a
 * TLS 1.3 profile needs (`supported_versions`, `key_share`, `psk_key_exchange_modes`,
 * `compress_certificate`) are representable now; building a `key_share` is not implemented yet
 * and fails with `ERR_TLS_UNSUPPORTED_PROFILE`.
 *
 * Shipped: {@link CHROME_62}, the shape of uTLS `HelloChrome_62` (which the public TapDance client
 * uses), capped at TLS 1.2.
 *
 * @module
 */
import { EC_POINT_FORMAT_UNCOMPRESSED, NamedGroup, ProtocolVersion, SignatureScheme } from './wire.js';

/**
 * Where a GREASE value (RFC 8701) goes. Each slot gets one random GREASE value per ClientHello,
 * as BoringSSL draws them; the two extension slots never get the same value.
 */
export type GreaseSlot = 'cipher' | 'group' | 'extension1' | 'extension2' | 'version' | 'keyShare';

/** A GREASE placeholder in a list of suites, groups or versions. */
export interface Grease {
  /** The slot whose value to use. */
  readonly grease: GreaseSlot;
}

/** A number, or a GREASE placeholder. */
export type NumberOrGrease = number | Grease;

/** One extension of a profile, in the order it is sent. */
export type ExtensionSpec =
  /** A GREASE extension; BoringSSL sends the first one empty and the second with one zero byte. */
  | { readonly type: 'grease'; readonly slot: 'extension1' | 'extension2'; readonly body: 'empty' | 'zero-byte' }
  /** SNI with the connection's server name; left out when connecting to an IP address. */
  | { readonly type: 'server_name' }
  /** RFC 7627, empty. */
  | { readonly type: 'extended_master_secret' }
  /** RFC 5746, empty renegotiated_connection. */
  | { readonly type: 'renegotiation_info' }
  /** RFC 5077, empty (no ticket to resume). */
  | { readonly type: 'session_ticket' }
  /** RFC 5246 §7.4.1.4.1. */
  | { readonly type: 'signature_algorithms'; readonly schemes: readonly number[] }
  /** RFC 6066 §8, OCSP with no responder ids or extensions. */
  | { readonly type: 'status_request' }
  /** RFC 6962, empty. */
  | { readonly type: 'signed_certificate_timestamp' }
  /** RFC 7301; the connection's `alpnProtocols` option overrides the list. */
  | { readonly type: 'alpn'; readonly protocols: readonly string[] }
  /** RFC 8422 §5.1.2. */
  | { readonly type: 'ec_point_formats'; readonly formats: readonly number[] }
  /** RFC 8422 §5.1.1 / RFC 8446 §4.2.7. */
  | { readonly type: 'supported_groups'; readonly groups: readonly NumberOrGrease[] }
  /** RFC 8446 §4.2.1 (TLS 1.3 profiles). */
  | { readonly type: 'supported_versions'; readonly versions: readonly NumberOrGrease[] }
  /** RFC 8446 §4.2.8 (TLS 1.3 profiles; not built yet). */
  | { readonly type: 'key_share'; readonly groups: readonly NumberOrGrease[] }
  /** RFC 8446 §4.2.9 (TLS 1.3 profiles). */
  | { readonly type: 'psk_key_exchange_modes'; readonly modes: readonly number[] }
  /** RFC 8879 (TLS 1.3 profiles). */
  | { readonly type: 'compress_certificate'; readonly algorithms: readonly number[] }
  /** RFC 7685 padding, sized the way BoringSSL does (hellos of 256..511 bytes grow to 512). */
  | { readonly type: 'padding'; readonly style: 'boringssl' }
  /** Any other extension as fixed bytes, e.g. Chrome's channel_id (0x7550), hex data. */
  | { readonly type: 'opaque'; readonly id: number; readonly data: string };

/** A declarative ClientHello. */
export interface ClientHelloProfile {
  /** Name for logs, e.g. `chrome62`. */
  readonly name: string;
  /** Version field of the record that carries the ClientHello (Chrome: 0x0301). */
  readonly recordVersion: number;
  /** ClientHello.client_version (0x0303 for TLS 1.2 and for 1.3-capable hellos). */
  readonly clientVersion: number;
  /** Session id: none, or 32 random bytes (Go and uTLS always send 32 random bytes). */
  readonly sessionId: 'empty' | 'random32';
  /** Cipher suites in order, with GREASE placeholders. */
  readonly cipherSuites: readonly NumberOrGrease[];
  /** Compression methods (always `[0]` in practice). */
  readonly compressionMethods: readonly number[];
  /** Extensions in order. */
  readonly extensions: readonly ExtensionSpec[];
}

/**
 * Chrome 62 as uTLS `HelloChrome_62` sends it (TLS 1.0–1.2, no TLS 1.3 extensions): GREASE first
 * in suites, extensions and groups; a second GREASE extension with one zero byte before the
 * BoringSSL padding; ALPN h2 and http/1.1; the fake channel_id extension; 32 random session id
 * bytes. Of its suites this client runs the six ECDHE AEAD ones and RSA-GCM; a server choosing a
 * CBC or 3DES suite ends the handshake with `ERR_TLS_UNSUPPORTED_SUITE` (the public client fails
 * the same way, as it cannot get a keystream from a CBC suite).
 */
export const CHROME_62: ClientHelloProfile = Object.freeze({
  name: 'chrome62',
  recordVersion: ProtocolVersion.TLS10,
  clientVersion: ProtocolVersion.TLS12,
  sessionId: 'random32',
  cipherSuites: [
    { grease: 'cipher' },
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
    0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a,
  ],
  compressionMethods: [0],
  extensions: [
    { type: 'grease', slot: 'extension1', body: 'empty' },
    { type: 'renegotiation_info' },
    { type: 'server_name' },
    { type: 'extended_master_secret' },
    { type: 'session_ticket' },
    {
      type: 'signature_algorithms',
      schemes: [
        SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pkcs1_sha256,
        SignatureScheme.ecdsa_secp384r1_sha384, SignatureScheme.rsa_pss_rsae_sha384, SignatureScheme.rsa_pkcs1_sha384,
        SignatureScheme.rsa_pss_rsae_sha512, SignatureScheme.rsa_pkcs1_sha512, SignatureScheme.rsa_pkcs1_sha1,
      ],
    },
    { type: 'status_request' },
    { type: 'signed_certificate_timestamp' },
    { type: 'alpn', protocols: ['h2', 'http/1.1'] },
    { type: 'opaque', id: 0x7550, data: '' },
    { type: 'ec_point_formats', formats: [EC_POINT_FORMAT_UNCOMPRESSED] },
    { type: 'supported_groups', groups: [{ grease: 'group' }, NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1] },
    { type: 'grease', slot: 'extension2', body: 'zero-byte' },
    { type: 'padding', style: 'boringssl' },
  ],
} satisfies ClientHelloProfile);

/** The profile used when none is given. */
export const DEFAULT_PROFILE: ClientHelloProfile = CHROME_62;
