/**
 * Binary encoding and decoding of the signalling messages (schemas generated from
 * `signalling.proto` into `gen/signalling_pb.ts`), with typed errors, plus the address helpers the
 * decoy records need.
 *
 * Decoding tolerates unknown fields (kept, and re-emitted on encode) and unknown enum values
 * (proto2 closed enums: kept as unknown fields). Any decoding failure becomes a
 * {@link ProtocolError} `ERR_PROTO_DECODE`; nothing else escapes.
 *
 * Addresses: `TLSDecoySpec.ipv4addr` is a fixed32 holding the address as a big-endian integer
 * (1.2.3.4 → 0x01020304; on the wire the four bytes appear reversed, as fixed32 is little-endian).
 * `ipv6addr` is the 16 address bytes.
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { create, fromBinary, toBinary, toJson, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import {
  ClientConfSchema,
  ClientToStationSchema,
  StationToClientSchema,
  type ClientConf,
  type ClientToStation,
  type StationToClient,
} from './gen/signalling_pb.js';
import { ProtocolError } from './errors.js';
import { InvalidArgumentError } from '../errors.js';
import { abytes } from '../crypto/bytes.js';

export * from './gen/signalling_pb.js';

/**
 * Encode any generated message (or its init shape) to protobuf bytes.
 *
 * @param schema - the message schema, e.g. `ClientToStationSchema`
 * @param message - a message, or a plain object with its fields
 * @returns the binary encoding (fields in number order, as Go's encoder writes them)
 */
export function encodeMessage<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc> | MessageInitShape<Desc>,
): Uint8Array {
  return toBinary(schema, create(schema, message as MessageInitShape<Desc>));
}

/**
 * Decode protobuf bytes as the given message.
 *
 * @param schema - the message schema
 * @param bytes - the encoding
 * @returns the message
 * @throws {@link ProtocolError} `ERR_PROTO_DECODE` for any malformed input
 */
export function decodeMessage<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> {
  abytes(bytes, 'bytes');
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    throw new ProtocolError('ERR_PROTO_DECODE', `cannot decode ${schema.typeName}: ${(err as Error).message}`, {
      cause: err,
      context: { message: schema.typeName, length: bytes.length },
    });
  }
}

/**
 * Encode a ClientToStation.
 *
 * @param message - message or field object
 * @returns protobuf bytes
 * @example
 * ```ts
 * const bytes = encodeClientToStation({ decoyListGeneration: 1165,
 *   stateTransition: C2S_Transition.C2S_SESSION_COVERT_INIT, covertAddress: 'example.com:443' })
 * ```
 */
export function encodeClientToStation(message: ClientToStation | MessageInitShape<typeof ClientToStationSchema>): Uint8Array {
  return encodeMessage(ClientToStationSchema, message);
}

/**
 * Decode a ClientToStation.
 *
 * @param bytes - protobuf bytes
 * @returns the message
 * @throws {@link ProtocolError} `ERR_PROTO_DECODE`
 */
export function decodeClientToStation(bytes: Uint8Array): ClientToStation {
  return decodeMessage(ClientToStationSchema, bytes);
}

/**
 * Encode a StationToClient.
 *
 * @param message - message or field object
 * @returns protobuf bytes
 */
export function encodeStationToClient(message: StationToClient | MessageInitShape<typeof StationToClientSchema>): Uint8Array {
  return encodeMessage(StationToClientSchema, message);
}

/**
 * Decode a StationToClient.
 *
 * @param bytes - protobuf bytes
 * @returns the message
 * @throws {@link ProtocolError} `ERR_PROTO_DECODE`
 */
export function decodeStationToClient(bytes: Uint8Array): StationToClient {
  return decodeMessage(StationToClientSchema, bytes);
}

/**
 * Encode a ClientConf.
 *
 * @param message - message or field object
 * @returns protobuf bytes
 */
export function encodeClientConf(message: ClientConf | MessageInitShape<typeof ClientConfSchema>): Uint8Array {
  return encodeMessage(ClientConfSchema, message);
}

/**
 * Decode a ClientConf.
 *
 * @param bytes - protobuf bytes
 * @returns the message
 * @throws {@link ProtocolError} `ERR_PROTO_DECODE`
 */
export function decodeClientConf(bytes: Uint8Array): ClientConf {
  return decodeMessage(ClientConfSchema, bytes);
}

/**
 * The proto3-JSON form of a message (enum names, base64 bytes, camelCase keys), for logs and the
 * CLI. Fields that are not set are left out.
 *
 * @param schema - the message schema
 * @param message - the message
 * @returns a JSON-compatible value
 */
export function messageToJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): unknown {
  return toJson(schema, message);
}

/**
 * Dotted IPv4 text → the fixed32 value of `TLSDecoySpec.ipv4addr` (big-endian integer).
 *
 * @param address - e.g. `192.122.190.104`
 * @returns the unsigned 32-bit value, e.g. `0xc07abe68`
 * @throws {@link InvalidArgumentError} when `address` is not dotted-quad IPv4
 */
export function ipv4ToFixed32(address: string): number {
  if (!isIPv4(address)) throw new InvalidArgumentError(`"address" expected IPv4 text, got ${JSON.stringify(address)}`);
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/**
 * The fixed32 value of `TLSDecoySpec.ipv4addr` → dotted IPv4 text.
 *
 * @param value - unsigned 32-bit integer
 * @returns e.g. `192.122.190.104`
 * @throws {@link InvalidArgumentError} when `value` is not an integer in 0..2^32−1
 */
export function fixed32ToIpv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InvalidArgumentError(`"value" expected a uint32, got ${value}`);
  }
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/**
 * IPv6 text → the 16 bytes of `TLSDecoySpec.ipv6addr`.
 *
 * @param address - IPv6 text (`::`, embedded IPv4 allowed; no zone id)
 * @returns 16 bytes
 * @throws {@link InvalidArgumentError} when `address` is not IPv6 text
 */
export function ipv6ToBytes(address: string): Uint8Array {
  if (!isIPv6(address) || address.includes('%')) {
    throw new InvalidArgumentError(`"address" expected IPv6 text, got ${JSON.stringify(address)}`);
  }
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4ToFixed32(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/**
 * The 16 bytes of `TLSDecoySpec.ipv6addr` → canonical IPv6 text (RFC 5952).
 *
 * @param bytes - 16 bytes
 * @returns e.g. `2001:db8::1`
 * @throws {@link InvalidArgumentError} when `bytes` is not 16 bytes long
 */
export function bytesToIpv6(bytes: Uint8Array): string {
  abytes(bytes, 'bytes', 16);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // WHATWG URL host serialisation is RFC 5952 canonical form.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
