/**
 * ClientHello profiles as data: which suites, extensions (in order), groups, signature schemes,
 * ALPN, GREASE positions, padding and session id a client sends, so its first flight looks like
 * a given browser.
 *
 * A profile is plain data (no functions) and `client-hello.ts` turns it into bytes.
 *
 * Shipped: {@link CHROME_62}, the shape of uTLS `HelloChrome_62` (which the public TapDance client
 * uses), capped at TLS 1.2; and {@link CHROMIUM_156}, the ClientHello of Debian's Chromium 156
 * (TLS 1.3 with X25519MLKEM768, ECH GREASE, ALPS, certificate compression, permuted extensions),
 * checked against the real browser's hello by `test/stealth`.
 *
 * @module
 */
import { EC_POINT_FORMAT_UNCOMPRESSED, NamedGroup, ProtocolVersion, SignatureScheme } from './wire.js';

/**
 * Where a GREASE value (RFC 8701) goes. Each slot gets one random GREASE value per ClientHello,
 * as BoringSSL draws them; the two extension slots never get the same value.
 */
export type GreaseSlot = 'cipher' | 'group' | 'extension1' | 'extension2' | 'version' | 'keyShare' | 'sigalg';

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
  /** RFC 5246 §7.4.1.4.1 / RFC 8446 §4.2.3 (Chrome puts a GREASE scheme first). */
  | { readonly type: 'signature_algorithms'; readonly schemes: readonly NumberOrGrease[] }
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
  /**
   * RFC 8446 §4.2.8: one share per group, in order; a GREASE group gets a one-byte share (0x00) as
   * BoringSSL sends it. Only groups of `key-share.ts` (X25519, P-256, P-384, X25519MLKEM768).
   */
  | { readonly type: 'key_share'; readonly groups: readonly NumberOrGrease[] }
  /** RFC 8446 §4.2.9 (TLS 1.3 profiles). */
  | { readonly type: 'psk_key_exchange_modes'; readonly modes: readonly number[] }
  /** RFC 8879 (TLS 1.3 profiles). */
  | { readonly type: 'compress_certificate'; readonly algorithms: readonly number[] }
  /**
   * ALPS (application-layer protocol settings, draft-vvv-tls-alps) as Chrome offers it for the
   * listed protocols that are also in the ALPN list; `codepoint` 0x44cd (new) or 0x4469 (old).
   */
  | { readonly type: 'application_settings'; readonly codepoint: number; readonly protocols: readonly string[] }
  /**
   * A GREASE encrypted_client_hello (RFC 9849 §6.2): outer type, HKDF-SHA256, AES-128-GCM, a
   * random config id, a fresh X25519 public key as `enc`, and a random payload of one of
   * `payloadLengths` (BoringSSL: 144, 176, 208 or 240 bytes).
   */
  | { readonly type: 'ech_grease'; readonly payloadLengths: readonly number[] }
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
  /**
   * Shuffle the extensions for every hello as Chrome does since version 110 (BoringSSL
   * `SSL_set_permute_extensions`): GREASE extensions keep their places, padding stays last, all
   * others take a uniformly random order.
   */
  readonly permuteExtensions?: boolean;
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

/**
 * Body of Chromium 156's trust_anchors extension (0xca34, draft-ietf-tls-trust-anchor-ids): the
 * Chrome Root Store's trust anchor ids, the same in every hello of this version.
 */
const CHROMIUM_156_TRUST_ANCHORS = [
  '00b80582df1302010582df1302060582df13020d0582df13020e0582df13020f0582df1302120582df1302130582df13',
  '021408839a648c9b2d010708839a648c9b2d010808839a648c9b2d010908839a648c9b2d010a08839a648c9b2d010b08',
  '839a648c9b2d010c08839a648c9b2d010d08839a648c9b2d011208839a648c9b2d011304d679090104d679090404d679',
  '090504d679090604d679090704d679090804d679090a04d679090b04d679090c04d679090d04d679090f',
].join('');

/**
 * Chromium 156 as Debian 12 ships it (`chromium 156.0.8078.108-1~deb12u1`), from its captured
 * ClientHello: TLS 1.3 and 1.2 suites behind a GREASE suite; GREASE first and last among the
 * extensions and in supported_groups, key_share, supported_versions and signature_algorithms;
 * key shares for X25519MLKEM768 and X25519; ML-DSA schemes offered first (we cannot verify
 * them: a server choosing one fails with `ERR_TLS_BAD_SIGNATURE`); ALPS for h2 on the new
 * codepoint; brotli certificate compression; a GREASE ECH extension; Chrome's trust anchor id
 * list; no padding (the hello is about 1.9 KB); all other extensions permuted per hello.
 */
export const CHROMIUM_156: ClientHelloProfile = Object.freeze({
  name: 'chromium156',
  recordVersion: ProtocolVersion.TLS10,
  clientVersion: ProtocolVersion.TLS12,
  sessionId: 'random32',
  cipherSuites: [
    { grease: 'cipher' },
    0x1301, 0x1302, 0x1303,
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
  ],
  compressionMethods: [0],
  permuteExtensions: true,
  extensions: [
    { type: 'grease', slot: 'extension1', body: 'empty' },
    { type: 'server_name' },
    { type: 'extended_master_secret' },
    { type: 'renegotiation_info' },
    { type: 'supported_groups', groups: [{ grease: 'group' }, NamedGroup.x25519mlkem768, NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1] },
    { type: 'ec_point_formats', formats: [EC_POINT_FORMAT_UNCOMPRESSED] },
    { type: 'session_ticket' },
    { type: 'alpn', protocols: ['h2', 'http/1.1'] },
    { type: 'status_request' },
    {
      type: 'signature_algorithms',
      schemes: [
        { grease: 'sigalg' }, SignatureScheme.mldsa44, SignatureScheme.mldsa65, SignatureScheme.mldsa87,
        SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pkcs1_sha256,
        SignatureScheme.ecdsa_secp384r1_sha384, SignatureScheme.rsa_pss_rsae_sha384, SignatureScheme.rsa_pkcs1_sha384,
        SignatureScheme.rsa_pss_rsae_sha512, SignatureScheme.rsa_pkcs1_sha512,
      ],
    },
    { type: 'signed_certificate_timestamp' },
    { type: 'key_share', groups: [{ grease: 'group' }, NamedGroup.x25519mlkem768, NamedGroup.x25519] },
    { type: 'psk_key_exchange_modes', modes: [1] },
    { type: 'supported_versions', versions: [{ grease: 'version' }, ProtocolVersion.TLS13, ProtocolVersion.TLS12] },
    { type: 'compress_certificate', algorithms: [2] },
    { type: 'application_settings', codepoint: 0x44cd, protocols: ['h2'] },
    { type: 'ech_grease', payloadLengths: [144, 176, 208, 240] },
    { type: 'opaque', id: 0xca34, data: CHROMIUM_156_TRUST_ANCHORS },
    { type: 'grease', slot: 'extension2', body: 'zero-byte' },
    { type: 'padding', style: 'boringssl' },
  ],
} satisfies ClientHelloProfile);

/** The profile used when none is given. */
export const DEFAULT_PROFILE: ClientHelloProfile = CHROME_62;
