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
 * TLS 1.3 (`innerContentType`): the record's last encrypted byte is the content type, which the
 * client cannot choose, so the request carries 239 stego bytes and the tag is fitted (by the
 * caller's function) so that the encrypted content type carries its last 6 bits; the tag still
 * ends 16 bytes before the record's end (SPEC.md "TLS 1.3 tag"). {@link embedTag} does this for
 * any prefix, and `h2-request.ts` uses it too.
 *
 * @module
 */
import { abytes } from '../crypto/bytes.js';
import { stegoEncode, stegoEncodedLength } from '../crypto/stego.js';
import { TAG_LENGTH } from '../crypto/tag.js';
import { InvalidArgumentError } from '../errors.js';
import { systemRandomInt, xIgnorePaddingLength, type RandomInt } from './padding.js';

/** User-Agent of the public client. */
export const TAPDANCE_USER_AGENT = 'TapDance/1.2 (+https://refraction.network/info)';
/** Plaintext bytes that carry a 180-byte tag. */
export const TAG_STEGO_LENGTH = 240;

const FORBIDDEN = /[\x00-\x1f\x7f]/;
/** L bound that keeps the request within the public client's 882 bytes (SPEC.md §4.1). */
const MAX_SHARED_HEADERS_WITH_EARLY_DATA = 605;
/** Fewer early bytes than this are not worth a longer X-Proto. */
const MIN_EARLY_DATA = 16;

/**
 * The tag to embed: the sealed bytes, or for TLS 1.3 a function that returns a tag whose last byte
 * has the given low 6 bits (`fitTag13`).
 */
export type TagSource = Uint8Array | ((lastSixBits: number) => Uint8Array);

/** How {@link embedTag} hides a tag after a prefix. */
export interface EmbedTagOptions {
  /** The tag (180 bytes; any multiple of 3), or a fitting function for TLS 1.3. */
  tag: TagSource;
  /** Length of the tag a function returns (default 180). */
  tagLength?: number;
  /**
   * The first `n` keystream bytes of the record that will carry the request (from the TLS layer).
   * Called once: with n = content length (TLS 1.2), or content length + 1 (TLS 1.3).
   */
  keystream: (n: number) => Uint8Array;
  /**
   * TLS 1.3: the record's inner content type (23). The last stego position is then the encrypted
   * content type and the content gets one stego byte less.
   */
  innerContentType?: number;
}

/**
 * Append the stego bytes that make the record's ciphertext end with the tag (just before the AEAD
 * tag) to `prefix`.
 *
 * @param prefix - the plaintext before the stego bytes
 * @param options - tag, keystream, and for TLS 1.3 the inner content type
 * @returns prefix followed by `tagLength / 3 * 4` stego bytes (one less for TLS 1.3)
 * @throws {@link InvalidArgumentError} for a tag length that is not a multiple of 3, a short
 *   keystream, or a TLS 1.3 tag whose last bits do not fit the content type
 */
export function embedTag(prefix: Uint8Array, options: EmbedTagOptions): Uint8Array {
  const { keystream, innerContentType } = options;
  if (typeof keystream !== 'function') throw new InvalidArgumentError('"keystream" expected a function');
  const tagLength = typeof options.tag === 'function' ? options.tagLength ?? TAG_LENGTH : abytes(options.tag, 'tag').length;
  const stegoLength = stegoEncodedLength(tagLength);
  const tls13 = innerContentType !== undefined;
  const contentLength = prefix.length + stegoLength - (tls13 ? 1 : 0);
  const want = contentLength + (tls13 ? 1 : 0);
  const ks = abytes(keystream(want), 'keystream(n)');
  if (ks.length < want) throw new InvalidArgumentError(`keystream(${want}) returned ${ks.length} bytes`);
  let tag: Uint8Array;
  if (tls13) {
    // The station's last stego byte is the encrypted content type: its low 6 bits are fixed.
    const lastSixBits = (innerContentType ^ ks[contentLength]!) & 0x3f;
    tag = typeof options.tag === 'function' ? options.tag(lastSixBits) : options.tag;
    if ((tag[tag.length - 1]! & 0x3f) !== lastSixBits) {
      throw new InvalidArgumentError('the tag does not end in the bits of the encrypted content type (use fitTag13)');
    }
  } else {
    if (typeof options.tag === 'function') throw new InvalidArgumentError('a tag function is only for TLS 1.3 (innerContentType)');
    tag = options.tag;
  }
  if (tag.length !== tagLength) throw new InvalidArgumentError(`the tag has ${tag.length} bytes, expected ${tagLength}`);
  const out = new Uint8Array(contentLength);
  out.set(prefix, 0);
  out.set(stegoEncode(tag, ks.subarray(prefix.length, prefix.length + stegoLength)).subarray(0, contentLength - prefix.length), prefix.length);
  return out;
}

/** Options of {@link buildTaggedRequest}. */
export interface TaggedRequestOptions extends EmbedTagOptions {
  /** Decoy host name for the Host header. */
  host: string;
  /** X-Proto header value (from `encodeXProto`); the line is left out when absent or empty. */
  xProto?: string;
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
 * How many early covert bytes (SPEC.md §6.1) X-Proto can carry while the request keeps the public
 * client's lengths: the shared headers stay within L ≤ 605 bytes, so the request stays within 882
 * bytes and one segment, and the X-Ignore padding keeps its usual range.
 *
 * @param host - the decoy's host name
 * @param xProtoLength - length of the X-Proto value without early data
 * @param userAgent - default the public client's
 * @returns the most early bytes that fit (0 when too few fit to be worth it)
 */
export function earlyDataRoom(host: string, xProtoLength: number, userAgent: string = TAPDANCE_USER_AGENT): number {
  const sharedWithout = Buffer.byteLength(sharedHeaders(host, userAgent, ''), 'utf8');
  // Base64 of the ClientToStation grows by 4 characters per 3 bytes; the field adds a 2-byte key
  // and a length of up to 2 bytes.
  const base64Room = MAX_SHARED_HEADERS_WITH_EARLY_DATA - sharedWithout - '\nX-Proto: '.length;
  const bytes = Math.floor(base64Room / 4) * 3 - Math.ceil(xProtoLength / 4) * 3 - 4;
  return bytes >= MIN_EARLY_DATA ? bytes : 0;
}

/**
 * Build the plaintext of the tagged request.
 *
 * @param options - see {@link TaggedRequestOptions}
 * @returns the request bytes: prefix followed by `tag.length / 3 * 4` stego bytes (one less for
 *   TLS 1.3, see {@link embedTag})
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
  const { host } = options;
  const userAgent = options.userAgent ?? TAPDANCE_USER_AGENT;
  const xProto = options.xProto ?? '';
  for (const [name, value] of [['host', host], ['userAgent', userAgent], ['xProto', xProto]] as const) {
    if (typeof value !== 'string' || FORBIDDEN.test(value)) {
      throw new InvalidArgumentError(`"${name}" must be a string without control characters`);
    }
  }
  const shared = sharedHeaders(host, userAgent, xProto);
  const padding = options.paddingLength ?? xIgnorePaddingLength(Buffer.byteLength(shared, 'utf8'), options.randomInt ?? systemRandomInt);
  if (!Number.isInteger(padding) || padding < 0) {
    throw new InvalidArgumentError(`"paddingLength" expected a non-negative integer, got ${padding}`);
  }
  const head = `GET / HTTP/1.1\n${shared}\nX-Ignore: ${'#'.repeat(padding)}`.replaceAll('\n', '\r\n');
  return embedTag(Buffer.from(head, 'utf8'), options);
}
