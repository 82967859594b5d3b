/**
 * The tagged request: the incomplete HTTP request the client sends as its first TLS
 * application-data record, whose last 240 plaintext bytes are chosen so that the record's
 * ciphertext carries the 180-byte tag (SPEC.md "Tagged request"):
 *
 * ```
 * GET / HTTP/1.1\r\n
 * Host: <decoy host>\r\n
 * User-Agent: TapDance/1.2 (+https://refraction.network/info)\r\n
 * X-Proto: <base64>\r\n
 * X-Ignore: <'#' padding><240 stego bytes>          (no final CRLF: the request stays open)
 * ```
 *
 * The request must be encrypted as exactly one record, with the keystream the caller supplied;
 * the station reads the tag at a fixed distance from the record's end. The TLS layer owns that.
 *
 * @module
 */
import { abytes } from '../crypto/bytes.js';
import { stegoEncode, stegoEncodedLength } from '../crypto/stego.js';
import { InvalidArgumentError } from '../errors.js';
import { systemRandomInt, xIgnorePaddingLength, type RandomInt } from './padding.js';

/** User-Agent of the public client. */
export const TAPDANCE_USER_AGENT = 'TapDance/1.2 (+https://refraction.network/info)';
/** Plaintext bytes that carry a 180-byte tag. */
export const TAG_STEGO_LENGTH = 240;

const FORBIDDEN = /[\x00-\x1f\x7f]/;

/** Options of {@link buildTaggedRequest}. */
export interface TaggedRequestOptions {
  /** Decoy host name for the Host header. */
  host: string;
  /** X-Proto header value (from `encodeXProto`); the line is left out when absent or empty. */
  xProto?: string;
  /** The sealed tag (180 bytes; any multiple of 3 is accepted). */
  tag: Uint8Array;
  /**
   * The first `n` keystream bytes of the record that will carry the request (from the TLS layer).
   * Called once with n = request length.
   */
  keystream: (n: number) => Uint8Array;
  /** User-Agent value (default {@link TAPDANCE_USER_AGENT}). */
  userAgent?: string;
  /** Fixed X-Ignore padding length (default: drawn as the public client does). */
  paddingLength?: number;
  /** Random source for the padding length. */
  randomInt?: RandomInt;
}

/**
 * The shared headers as the public client measures them: `\n` line ends, before CRLF conversion.
 *
 * @param host - Host value
 * @param userAgent - User-Agent value
 * @param xProto - X-Proto value, or empty for none
 * @returns `Host: …\nUser-Agent: …[\nX-Proto: …]`
 */
export function sharedHeaders(host: string, userAgent: string, xProto: string): string {
  return `Host: ${host}\nUser-Agent: ${userAgent}` + (xProto ? `\nX-Proto: ${xProto}` : '');
}

/**
 * Build the plaintext of the tagged request.
 *
 * @param options - see {@link TaggedRequestOptions}
 * @returns the request bytes: prefix followed by `tag.length / 3 * 4` stego bytes
 * @throws {@link InvalidArgumentError} for header values with control characters, a tag length
 *   that is not a multiple of 3, a bad padding length or a short keystream
 * @example
 * ```ts
 * const plaintext = buildTaggedRequest({ host: 'decoy.example', xProto, tag,
 *   keystream: (n) => tls.nextRecordKeystream(n) })
 * await tls.writeRecord(plaintext)
 * ```
 */
export function buildTaggedRequest(options: TaggedRequestOptions): Uint8Array {
  const { host, tag, keystream } = options;
  const userAgent = options.userAgent ?? TAPDANCE_USER_AGENT;
  const xProto = options.xProto ?? '';
  for (const [name, value] of [['host', host], ['userAgent', userAgent], ['xProto', xProto]] as const) {
    if (typeof value !== 'string' || FORBIDDEN.test(value)) {
      throw new InvalidArgumentError(`"${name}" must be a string without control characters`);
    }
  }
  abytes(tag, 'tag');
  if (typeof keystream !== 'function') throw new InvalidArgumentError('"keystream" expected a function');
  const stegoLength = stegoEncodedLength(tag.length);
  const shared = sharedHeaders(host, userAgent, xProto);
  const padding = options.paddingLength ?? xIgnorePaddingLength(Buffer.byteLength(shared, 'utf8'), options.randomInt ?? systemRandomInt);
  if (!Number.isInteger(padding) || padding < 0) {
    throw new InvalidArgumentError(`"paddingLength" expected a non-negative integer, got ${padding}`);
  }
  const head = `GET / HTTP/1.1\n${shared}\nX-Ignore: ${'#'.repeat(padding)}`.replaceAll('\n', '\r\n');
  const prefix = Buffer.from(head, 'utf8');
  const total = prefix.length + stegoLength;
  const ks = abytes(keystream(total), 'keystream(n)');
  if (ks.length < total) throw new InvalidArgumentError(`keystream(${total}) returned ${ks.length} bytes`);
  const out = new Uint8Array(total);
  out.set(prefix, 0);
  out.set(stegoEncode(tag, ks.subarray(prefix.length, total)), prefix.length);
  return out;
}
