/**
 * Builds the ClientHello message from a declarative profile (`profiles.ts`): fills GREASE slots
 * BoringSSL's way, writes each extension's body (key shares included), permutes the extensions
 * when the profile says so, sizes the padding extension, and reports what was offered so the
 * handshake can check the server's choices against it. {@link buildRetryClientHello} makes the
 * second ClientHello after a HelloRetryRequest from the first.
 *
 * Pure apart from the random source (injectable for reproducible tests) and the key shares and
 * ECH GREASE key, which always come from node:crypto.
 *
 * @module
 */
import { generateKeyPairSync, randomBytes as nodeRandomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { Writer } from './codec.js';
import { TlsError } from './errors.js';
import { emitClientHello, frameHandshake, type ClientHello, type Extension } from './handshake-messages.js';
import { generateClientKeyShare, type ClientKeyShare } from './key-share.js';
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
  /** Signature schemes offered (GREASE removed). */
  signatureSchemes: readonly number[];
  /** ALPN protocols offered. */
  alpnProtocols: readonly string[];
  /** Whether TLS 1.3 was offered (supported_versions lists 0x0304): arms the downgrade check. */
  offersTls13: boolean;
  /** Certificate compression algorithms offered (RFC 8879). */
  certificateCompression: readonly number[];
  /** ALPS protocols offered, and the codepoint used (null when none). */
  alps: { readonly codepoint: number; readonly protocols: readonly string[] } | null;
  /** Whether a GREASE ECH extension was sent (retry configs from the server are then ignored). */
  echGrease: boolean;
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
  /** The key shares sent (GREASE excluded), with their private halves. */
  keyShares: readonly ClientKeyShare[];
  /** Index of the padding extension in the unpadded extension list, or -1 (for the retry hello). */
  paddingAt: number;
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

const SLOTS: readonly GreaseSlot[] = ['cipher', 'group', 'extension1', 'extension2', 'version', 'keyShare', 'sigalg'];

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

/** A uniform integer in [0, n) from the random source (32 bits; the bias is below 2^-24 for our n). */
function randomBelow(random: (n: number) => Uint8Array, n: number): number {
  const b = random(4);
  return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % n;
}

/** Fisher–Yates over the positions not marked fixed. */
function permute<T>(items: T[], fixed: readonly boolean[], random: (n: number) => Uint8Array): void {
  const slots = items.map((_, i) => i).filter((i) => !fixed[i]);
  for (let k = slots.length - 1; k > 0; k--) {
    const j = randomBelow(random, k + 1);
    const a = slots[k]!;
    const b = slots[j]!;
    [items[a], items[b]] = [items[b]!, items[a]!];
  }
}

/** Insert the padding extension at `paddingAt` when BoringSSL's rule asks for one. */
function finish(hello: ClientHello, paddingAt: number): Buffer {
  if (paddingAt >= 0) {
    // The unpadded length counts the 4-byte handshake header and the extensions length field.
    const pad = boringPadding(4 + emitClientHello(hello).length);
    if (pad !== null) hello.extensions.splice(paddingAt, 0, { type: ExtensionType.padding, data: new Uint8Array(pad) });
  }
  return frameHandshake(HandshakeType.client_hello, emitClientHello(hello));
}

/**
 * Build a ClientHello from a profile.
 *
 * @param options - profile, server name, ALPN override, random source.
 * @returns the message bytes, the parsed hello, what it offered and the key shares.
 * @throws TlsError `ERR_TLS_UNSUPPORTED_PROFILE` for a malformed profile entry.
 * @example
 * ```ts
 * const { message, offered } = buildClientHello({ profile: CHROMIUM_156, serverName: 'example.com' })
 * ```
 */
export function buildClientHello(options: BuildClientHelloOptions): BuiltClientHello {
  const { profile } = options;
  const random = options.randomBytes ?? nodeRandomBytes;
  const grease = drawGrease(random);
  const resolve = (v: NumberOrGrease): number => (typeof v === 'number' ? v : grease.get(v.grease)!);
  const sni = options.serverName !== undefined && options.serverName !== '' && isIP(options.serverName) === 0
    ? options.serverName.replace(/\.$/, '') : undefined;

  const c: ExtensionContext = {
    sni, alpn: options.alpnProtocols ?? profileAlpn(profile), resolve, random,
    offered: { groups: [], signatureSchemes: [], alpnProtocols: [], offersTls13: false, certificateCompression: [], alps: null, echGrease: false },
    keyShares: [],
  };
  const entries: (Extension | 'padding')[] = [];
  const fixed: boolean[] = [];
  for (const spec of profile.extensions) {
    const ext = extensionBody(spec, c);
    if (ext === null) continue;
    entries.push(ext);
    fixed.push(ext === 'padding' || spec.type === 'grease');
  }
  if (profile.permuteExtensions === true) permute(entries, fixed, random);
  const paddingAt = entries.indexOf('padding');
  const hello: ClientHello = {
    version: profile.clientVersion,
    random: random(32),
    sessionId: profile.sessionId === 'random32' ? random(32) : new Uint8Array(0),
    cipherSuites: profile.cipherSuites.map(resolve),
    compressionMethods: [...profile.compressionMethods],
    extensions: entries.filter((e): e is Extension => e !== 'padding'),
  };
  const message = finish(hello, paddingAt);
  return {
    hello,
    message,
    recordVersion: profile.recordVersion,
    offered: {
      ...c.offered,
      cipherSuites: new Set(hello.cipherSuites),
      extensions: new Set(hello.extensions.map((e) => e.type)),
      groups: c.offered.groups.filter((g) => !isGrease(g)),
      signatureSchemes: c.offered.signatureSchemes.filter((s) => !isGrease(s)),
    },
    keyShares: c.keyShares,
    paddingAt,
  };
}

/**
 * The second ClientHello after a HelloRetryRequest (RFC 8446 §4.1.2): the first one with the
 * key_share replaced by one share for the group the server asked for (no GREASE share, as
 * BoringSSL does), the server's cookie echoed right after it, and the padding recomputed.
 * Everything else, the ECH GREASE extension included, is copied unchanged.
 *
 * @param first - the first ClientHello.
 * @param retry - the group from the HelloRetryRequest and its cookie, if any.
 * @returns the new hello.
 * @throws TlsError `ERR_TLS_ILLEGAL_PARAMETER` when the first hello sent no key_share.
 */
export function buildRetryClientHello(first: BuiltClientHello, retry: { group: number; cookie?: Uint8Array | undefined }): BuiltClientHello {
  const share = generateClientKeyShare(retry.group);
  const extensions = first.hello.extensions.filter((e) => e.type !== ExtensionType.padding);
  const at = extensions.findIndex((e) => e.type === ExtensionType.key_share);
  if (at < 0) throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', 'HelloRetryRequest to a hello without key_share');
  extensions[at] = keyShareExtension([{ group: share.group, keyExchange: share.keyExchange }]);
  let paddingAt = first.paddingAt;
  if (retry.cookie !== undefined) {
    const cookie = retry.cookie;
    extensions.splice(at + 1, 0, ext(ExtensionType.cookie, (w) => w.vec(2, (w) => w.bytes(cookie))));
    if (paddingAt > at) paddingAt++;
  }
  const hello: ClientHello = { ...first.hello, cipherSuites: [...first.hello.cipherSuites], extensions };
  const message = finish(hello, paddingAt);
  return {
    ...first, hello, message, keyShares: [share], paddingAt,
    offered: { ...first.offered, extensions: new Set(hello.extensions.map((e) => e.type)) },
  };
}

interface ExtensionContext {
  sni: string | undefined;
  alpn: readonly string[];
  resolve: (v: NumberOrGrease) => number;
  random: (n: number) => Uint8Array;
  offered: {
    groups: number[]; signatureSchemes: number[]; alpnProtocols: string[]; offersTls13: boolean;
    certificateCompression: number[]; alps: { codepoint: number; protocols: string[] } | null; echGrease: boolean;
  };
  keyShares: ClientKeyShare[];
}

function profileAlpn(profile: ClientHelloProfile): readonly string[] {
  const spec = profile.extensions.find((e) => e.type === 'alpn');
  return spec?.type === 'alpn' ? spec.protocols : [];
}

function ext(type: number, body: (w: Writer) => void): Extension {
  const w = new Writer();
  body(w);
  return { type, data: w.finish() };
}

const empty = (type: number): Extension => ({ type, data: new Uint8Array(0) });

function keyShareExtension(shares: readonly { group: number; keyExchange: Uint8Array }[]): Extension {
  return ext(ExtensionType.key_share, (w) => w.vec(2, (w) => {
    for (const s of shares) w.u16(s.group).vec(2, (w) => w.bytes(s.keyExchange));
  }));
}

/** A fresh X25519 public key: ECH GREASE must carry a real one, not 32 random bytes (bit 255). */
function x25519PublicKey(): Buffer {
  const { publicKey } = generateKeyPairSync('x25519');
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
}

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
    case 'signature_algorithms': {
      const schemes = spec.schemes.map(c.resolve);
      c.offered.signatureSchemes.push(...schemes);
      return ext(ExtensionType.signature_algorithms, (w) => u16List(w, 2, schemes));
    }
    case 'status_request':
      return ext(ExtensionType.status_request, (w) => w.u8(1).u16(0).u16(0));
    case 'signed_certificate_timestamp':
      return empty(ExtensionType.signed_certificate_timestamp);
    case 'alpn': {
      const protocols = c.alpn;
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
    case 'key_share': {
      const shares = spec.groups.map((g) => {
        if (typeof g !== 'number') return { group: c.resolve(g), keyExchange: Uint8Array.of(0) };
        let share: ClientKeyShare;
        try {
          share = generateClientKeyShare(g);
        } catch (cause) {
          throw new TlsError('ERR_TLS_UNSUPPORTED_PROFILE', `no key share for group ${g}`, { cause });
        }
        c.keyShares.push(share);
        return share;
      });
      return keyShareExtension(shares);
    }
    case 'psk_key_exchange_modes':
      return ext(ExtensionType.psk_key_exchange_modes, (w) => w.vec(1, (w) => { for (const m of spec.modes) w.u8(m); }));
    case 'compress_certificate':
      c.offered.certificateCompression.push(...spec.algorithms);
      return ext(ExtensionType.compress_certificate, (w) => u16List(w, 1, spec.algorithms));
    case 'application_settings': {
      const protocols = spec.protocols.filter((p) => c.alpn.includes(p));
      if (protocols.length === 0) return null;
      c.offered.alps = { codepoint: spec.codepoint, protocols };
      return ext(spec.codepoint, (w) => w.vec(2, (w) => {
        for (const p of protocols) w.vec(1, (w) => w.bytes(Buffer.from(p, 'utf8')));
      }));
    }
    case 'ech_grease': {
      const lengths = spec.payloadLengths;
      if (lengths.length === 0) throw new TlsError('ERR_TLS_UNSUPPORTED_PROFILE', 'ech_grease needs payload lengths');
      const payloadLength = lengths[randomBelow(c.random, lengths.length)]!;
      c.offered.echGrease = true;
      // ECHClientHello: outer(0), HKDF-SHA256(1), AES-128-GCM(1), config_id, enc, payload.
      return ext(ExtensionType.encrypted_client_hello, (w) => w.u8(0).u16(1).u16(1).u8(c.random(1)[0]!)
        .vec(2, (w) => w.bytes(x25519PublicKey()))
        .vec(2, (w) => w.bytes(c.random(payloadLength))));
    }
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
