/**
 * Builds the ClientHello message from a declarative profile (`profiles.ts`): fills GREASE slots
 * BoringSSL's way, writes each extension's body, sizes the padding extension, and reports what
 * was offered so the handshake can check the server's choices against it.
 *
 * Pure apart from the random source, which can be injected for reproducible tests.
 *
 * @module
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { Writer } from './codec.js';
import { TlsError } from './errors.js';
import { emitClientHello, frameHandshake, type ClientHello, type Extension } from './handshake-messages.js';
import type { ClientHelloProfile, ExtensionSpec, GreaseSlot, NumberOrGrease } from './profiles.js';
import { ExtensionType, HandshakeType, ProtocolVersion } from './wire.js';

/** Inputs of {@link buildClientHello}. */
export interface BuildClientHelloOptions {
  /** The profile to follow. */
  profile: ClientHelloProfile;
  /** Host name for SNI; an IP address or undefined leaves SNI out (RFC 6066 §3). */
  serverName?: string | undefined;
  /** Replaces the profile's ALPN list; an empty array drops the extension. */
  alpnProtocols?: readonly string[] | undefined;
  /** Random source (default node:crypto randomBytes). */
  randomBytes?: ((n: number) => Uint8Array) | undefined;
}

/** What a ClientHello offered, for checking the ServerHello. */
export interface OfferedParameters {
  /** Suites offered (GREASE included). */
  cipherSuites: ReadonlySet<number>;
  /** Extension types offered. */
  extensions: ReadonlySet<number>;
  /** Named groups offered, in order (GREASE removed). */
  groups: readonly number[];
  /** Signature schemes offered. */
  signatureSchemes: readonly number[];
  /** ALPN protocols offered. */
  alpnProtocols: readonly string[];
  /** Whether TLS 1.3 was offered (supported_versions lists 0x0304): arms the downgrade check. */
  offersTls13: boolean;
}

/** A built ClientHello. */
export interface BuiltClientHello {
  /** The parsed form. */
  hello: ClientHello;
  /** The handshake message (header included), as sent and hashed. */
  message: Buffer;
  /** Version field for the record carrying it. */
  recordVersion: number;
  /** What was offered. */
  offered: OfferedParameters;
}

/** The 16 GREASE values 0x0a0a, 0x1a1a, …, 0xfafa (RFC 8701 §2). */
export const GREASE_VALUES: readonly number[] = Array.from({ length: 16 }, (_, i) => (i << 12) | 0x0a00 | (i << 4) | 0x0a);

/**
 * True for a GREASE value.
 *
 * @param v - a 16-bit number.
 * @returns whether it is one of {@link GREASE_VALUES}.
 */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 12) === ((v >> 4) & 0x0f);
}

const SLOTS: readonly GreaseSlot[] = ['cipher', 'group', 'extension1', 'extension2', 'version', 'keyShare'];

/** Draw one GREASE value per slot; the extension slots must differ (duplicate extension types). */
function drawGrease(random: (n: number) => Uint8Array): Map<GreaseSlot, number> {
  const seed = random(SLOTS.length);
  const values = new Map<GreaseSlot, number>();
  SLOTS.forEach((slot, i) => values.set(slot, GREASE_VALUES[seed[i]! & 0x0f]!));
  if (values.get('extension1') === values.get('extension2')) values.set('extension2', values.get('extension2')! ^ 0x1010);
  return values;
}

function u16List(w: Writer, width: 1 | 2, list: readonly number[]): void {
  w.vec(width, (w) => { for (const v of list) w.u16(v); });
}

/** BoringSSL's padding rule: a hello of 256..511 bytes is padded to 512 (RFC 7685 use case). */
function boringPadding(unpaddedLength: number): number | null {
  if (unpaddedLength <= 0xff || unpaddedLength >= 0x200) return null;
  const pad = 0x200 - unpaddedLength;
  return pad >= 5 ? pad - 4 : 1;
}

/**
 * Build a ClientHello from a profile.
 *
 * @param options - profile, server name, ALPN override, random source.
 * @returns the message bytes, the parsed hello and what it offered.
 * @throws TlsError `ERR_TLS_UNSUPPORTED_PROFILE` for entries that cannot be built yet
 *   (`key_share`) or a malformed profile.
 * @example
 * ```ts
 * const { message, offered } = buildClientHello({ profile: CHROME_62, serverName: 'example.com' })
 * ```
 */
export function buildClientHello(options: BuildClientHelloOptions): BuiltClientHello {
  const { profile } = options;
  const random = options.randomBytes ?? nodeRandomBytes;
  const grease = drawGrease(random);
  const resolve = (v: NumberOrGrease): number => (typeof v === 'number' ? v : grease.get(v.grease)!);
  const sni = options.serverName !== undefined && options.serverName !== '' && isIP(options.serverName) === 0
    ? options.serverName.replace(/\.$/, '') : undefined;

  const extensions: Extension[] = [];
  const offered = {
    groups: [] as number[], signatureSchemes: [] as number[], alpnProtocols: [] as string[], offersTls13: false,
  };
  let paddingAt = -1;
  for (const spec of profile.extensions) {
    const ext = extensionBody(spec, { sni, alpn: options.alpnProtocols, resolve, offered });
    if (ext === 'padding') paddingAt = extensions.length;
    else if (ext !== null) extensions.push(ext);
  }

  const hello: ClientHello = {
    version: profile.clientVersion,
    random: random(32),
    sessionId: profile.sessionId === 'random32' ? random(32) : new Uint8Array(0),
    cipherSuites: profile.cipherSuites.map(resolve),
    compressionMethods: [...profile.compressionMethods],
    extensions,
  };
  if (paddingAt >= 0) {
    // The unpadded length counts the 4-byte handshake header and the extensions length field.
    const unpadded = 4 + emitClientHello(hello).length;
    const pad = boringPadding(unpadded);
    if (pad !== null) extensions.splice(paddingAt, 0, { type: ExtensionType.padding, data: new Uint8Array(pad) });
  }
  const message = frameHandshake(HandshakeType.client_hello, emitClientHello(hello));
  return {
    hello,
    message,
    recordVersion: profile.recordVersion,
    offered: {
      cipherSuites: new Set(hello.cipherSuites),
      extensions: new Set(extensions.map((e) => e.type)),
      groups: offered.groups.filter((g) => !isGrease(g)),
      signatureSchemes: offered.signatureSchemes,
      alpnProtocols: offered.alpnProtocols,
      offersTls13: offered.offersTls13,
    },
  };
}

interface ExtensionContext {
  sni: string | undefined;
  alpn: readonly string[] | undefined;
  resolve: (v: NumberOrGrease) => number;
  offered: { groups: number[]; signatureSchemes: number[]; alpnProtocols: string[]; offersTls13: boolean };
}

function ext(type: number, body: (w: Writer) => void): Extension {
  const w = new Writer();
  body(w);
  return { type, data: w.finish() };
}

const empty = (type: number): Extension => ({ type, data: new Uint8Array(0) });

/** The wire form of one profile entry, `'padding'` for the padding slot, or null to leave out. */
function extensionBody(spec: ExtensionSpec, c: ExtensionContext): Extension | 'padding' | null {
  switch (spec.type) {
    case 'grease':
      return { type: c.resolve({ grease: spec.slot }), data: new Uint8Array(spec.body === 'zero-byte' ? 1 : 0) };
    case 'server_name': {
      const host = c.sni;
      if (host === undefined) return null;
      return ext(ExtensionType.server_name, (w) => w.vec(2, (w) => w.u8(0).vec(2, (w) => w.bytes(Buffer.from(host, 'ascii')))));
    }
    case 'extended_master_secret':
      return empty(ExtensionType.extended_master_secret);
    case 'renegotiation_info':
      return ext(ExtensionType.renegotiation_info, (w) => w.u8(0));
    case 'session_ticket':
      return empty(ExtensionType.session_ticket);
    case 'signature_algorithms':
      c.offered.signatureSchemes.push(...spec.schemes);
      return ext(ExtensionType.signature_algorithms, (w) => u16List(w, 2, spec.schemes));
    case 'status_request':
      return ext(ExtensionType.status_request, (w) => w.u8(1).u16(0).u16(0));
    case 'signed_certificate_timestamp':
      return empty(ExtensionType.signed_certificate_timestamp);
    case 'alpn': {
      const protocols = c.alpn ?? spec.protocols;
      if (protocols.length === 0) return null;
      c.offered.alpnProtocols.push(...protocols);
      return ext(ExtensionType.alpn, (w) => w.vec(2, (w) => {
        for (const p of protocols) w.vec(1, (w) => w.bytes(Buffer.from(p, 'utf8')));
      }));
    }
    case 'ec_point_formats':
      return ext(ExtensionType.ec_point_formats, (w) => w.vec(1, (w) => { for (const f of spec.formats) w.u8(f); }));
    case 'supported_groups': {
      const groups = spec.groups.map(c.resolve);
      c.offered.groups.push(...groups);
      return ext(ExtensionType.supported_groups, (w) => u16List(w, 2, groups));
    }
    case 'supported_versions': {
      const versions = spec.versions.map(c.resolve);
      c.offered.offersTls13 = versions.includes(ProtocolVersion.TLS13);
      return ext(ExtensionType.supported_versions, (w) => u16List(w, 1, versions));
    }
    case 'key_share':
      throw new TlsError('ERR_TLS_UNSUPPORTED_PROFILE', 'key_share (TLS 1.3) is not built yet');
    case 'psk_key_exchange_modes':
      return ext(ExtensionType.psk_key_exchange_modes, (w) => w.vec(1, (w) => { for (const m of spec.modes) w.u8(m); }));
    case 'compress_certificate':
      return ext(ExtensionType.compress_certificate, (w) => u16List(w, 1, spec.algorithms));
    case 'padding':
      return 'padding';
    case 'opaque':
      if (!/^([0-9a-f]{2})*$/i.test(spec.data)) throw new TlsError('ERR_TLS_UNSUPPORTED_PROFILE', `opaque extension ${spec.id} data is not hex`);
      return { type: spec.id, data: Buffer.from(spec.data, 'hex') };
    default:
      return assertNever(spec);
  }
}

function assertNever(x: never): never {
  throw new TlsError('ERR_TLS_UNSUPPORTED_PROFILE', `unknown profile extension ${JSON.stringify(x)}`);
}
