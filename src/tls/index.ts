/**
 * The TLS layer of tapdance: a TLS 1.2 and 1.3 client on node:crypto with declarative
 * ClientHello profiles (Chrome 62, Chromium 156), AEAD record layers that expose the next record's
 * keystream, and the station-side sessions built from a tag's secrets.
 *
 * Layering: `wire`/`codec` (numbers and byte readers) → `record-deframer`, `handshake-messages`,
 * `alert` (sans-IO parsers) → `tls12-keys`, `record-layer`, `key-exchange`, `signatures`,
 * `certificate-verifier` (crypto) → `client-hello` + `profiles` → `client-core` (sans-IO state
 * machine) → `connection` (the only module that touches a stream).
 *
 * @module
 */
export { TlsError, TLS_ERROR_ALERTS } from './errors.js';
export type { TlsErrorCode } from './errors.js';
export { connectTls, TlsConnection } from './connection.js';
export type { ConnectTlsOptions } from './connection.js';
export { ClientCore } from './client-core.js';
export type { ClientCoreOptions, ClientState, NegotiatedParameters, ReceiveResult, Tls13Secrets, TlsSecrets } from './client-core.js';
export { RecordProtection, createSessionFromSecrets, AEAD_TAG_LENGTH } from './record-layer.js';
export type { OpenedRecord, RecordProtectionOptions, SessionFromSecrets, SessionSecrets } from './record-layer.js';
export { Tls13RecordProtection, createTls13SessionFromSecrets } from './record-layer13.js';
export type { OpenedRecord13, Tls13RecordProtectionOptions, Tls13SessionFromSecrets, Tls13SessionSecrets } from './record-layer13.js';
export { hkdfExpandLabel, trafficKeys, nextTrafficSecret } from './tls13-keys.js';
export { RecordDeframer } from './record-deframer.js';
export type { RawRecord } from './record-deframer.js';
export { prf12, deriveKeyBlock, deriveMasterSecret, finishedVerifyData, transcriptHash } from './tls12-keys.js';
export type { KeyBlock } from './tls12-keys.js';
export { CIPHER_SUITES, cipherSuite, TLS13_CIPHER_SUITES, tls13CipherSuite } from './cipher-suites.js';
export type { AeadKind, CipherSuiteInfo, KeyExchangeKind, PrfHash, Tls13SuiteInfo } from './cipher-suites.js';
export { CHROME_62, CHROMIUM_156, DEFAULT_PROFILE } from './profiles.js';
export type { ClientHelloProfile, ExtensionSpec, Grease, GreaseSlot, NumberOrGrease } from './profiles.js';
export { buildClientHello, buildRetryClientHello, isGrease, GREASE_VALUES } from './client-hello.js';
export type { BuiltClientHello, OfferedParameters } from './client-hello.js';
export { TrustStore, systemTrustStore, verifyCertificateChain } from './certificate-verifier.js';
export type { CertificateInput, CertificateVerifyOptions, VerifiedCertificate } from './certificate-verifier.js';
export { ContentType, HandshakeType, AlertDescription, NamedGroup, SignatureScheme, ProtocolVersion, MAX_PLAINTEXT } from './wire.js';
