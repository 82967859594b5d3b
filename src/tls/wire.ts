/**
 * Numbers of the TLS wire format used by this client: content types, handshake types, alerts,
 * extension types, named groups, signature schemes and protocol versions (RFC 5246, 8446, 8422,
 * 7627, 7301, 5746, 8701, 8879, 9849 and the drafts Chrome ships), plus names for logging.
 *
 * Only constants live here; parsing is in `codec.ts` and `handshake-messages.ts`.
 *
 * @module
 */

/** Record content types (RFC 5246 §6.2.1). */
export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
} as const;
/** A record content type. */
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** Protocol version numbers as they appear on the wire. */
export const ProtocolVersion = {
  TLS10: 0x0301,
  TLS11: 0x0302,
  TLS12: 0x0303,
  TLS13: 0x0304,
} as const;

/** Handshake message types (RFC 5246 §7.4, RFC 6066 §8). */
export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
  certificate_status: 22,
  key_update: 24,
  compressed_certificate: 25,
  /** ALPS: the client's EncryptedExtensions carrying its application settings (BoringSSL). */
  client_encrypted_extensions: 203,
  /** The synthetic message that replaces ClientHello1 in the transcript after a HelloRetryRequest. */
  message_hash: 254,
} as const;
/** A handshake message type. */
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

/** Alert levels (RFC 5246 §7.2). */
export const AlertLevel = { warning: 1, fatal: 2 } as const;

/** Alert descriptions (RFC 5246 §7.2, RFC 8446 §6). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  no_renegotiation: 100,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  no_application_protocol: 120,
} as const;
/** An alert description number. */
export type AlertDescription = (typeof AlertDescription)[keyof typeof AlertDescription];

const alertNames = new Map<number, string>(Object.entries(AlertDescription).map(([k, v]) => [v, k]));

/**
 * The RFC name of an alert description, or `unknown(N)`.
 *
 * @param description - the alert description byte.
 * @returns e.g. `bad_record_mac`.
 */
export function alertName(description: number): string {
  return alertNames.get(description) ?? `unknown(${description})`;
}

/** Extension types (IANA "TLS ExtensionType Values"). */
export const ExtensionType = {
  server_name: 0,
  status_request: 5,
  supported_groups: 10,
  ec_point_formats: 11,
  signature_algorithms: 13,
  alpn: 16,
  signed_certificate_timestamp: 18,
  padding: 21,
  extended_master_secret: 23,
  compress_certificate: 27,
  record_size_limit: 28,
  session_ticket: 35,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  post_handshake_auth: 49,
  signature_algorithms_cert: 50,
  key_share: 51,
  /** ALPS, the codepoint Chrome uses since version 133 (the older one is 0x4469). */
  application_settings: 0x44cd,
  application_settings_old: 0x4469,
  channel_id: 0x7550,
  /** TLS Trust Anchor IDs (draft-ietf-tls-trust-anchor-ids), as Chrome sends it. */
  trust_anchors: 0xca34,
  encrypted_client_hello: 0xfe0d,
  renegotiation_info: 0xff01,
} as const;

/** Named groups for ECDHE (RFC 8422, RFC 7748). */
export const NamedGroup = {
  secp256r1: 23,
  secp384r1: 24,
  x25519: 29,
  /** Hybrid ML-KEM-768 + X25519 (draft-ietf-tls-ecdhe-mlkem). TLS 1.3 only. */
  x25519mlkem768: 0x11ec,
} as const;
/** A named group this client can run. */
export type NamedGroup = (typeof NamedGroup)[keyof typeof NamedGroup];

/** Signature schemes (RFC 8446 §4.2.3; the TLS 1.2 hash/signature pairs share these numbers). */
export const SignatureScheme = {
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  /** ML-DSA (draft-ietf-tls-mldsa): offered by Chrome, not verified here. */
  mldsa44: 0x0904,
  mldsa65: 0x0905,
  mldsa87: 0x0906,
} as const;

/** The EC point format "uncompressed" (RFC 8422 §5.1.2). */
export const EC_POINT_FORMAT_UNCOMPRESSED = 0;

/** Largest plaintext in one record (2^14, RFC 5246 §6.2.1). */
export const MAX_PLAINTEXT = 16384;

/** Largest ciphertext body of one TLS 1.2 record (2^14 + 2048, RFC 5246 §6.2.3). */
export const MAX_CIPHERTEXT = 16384 + 2048;

/** Size of the record header: type(1) version(2) length(2). */
export const RECORD_HEADER_LENGTH = 5;
