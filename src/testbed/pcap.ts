/**
 * Minimal reader of classic pcap files (what `tcpdump -w` writes) and a decoder of Ethernet /
 * Linux-cooked → IPv4 → TCP frames, enough for tests to check what crossed a link: addresses,
 * ports, flags, sequence numbers and payload. Sans-IO: it takes bytes.
 *
 * Not supported: pcapng, IPv6, VLAN tags, IP fragments (a fragment decodes as undefined).
 * Checksums are not checked: frames captured on veth often carry partial checksums.
 *
 * @module
 */
import { TestbedError } from './errors.js';

/** Link types this module decodes. */
export const LINKTYPE_ETHERNET = 1;
/** Linux cooked capture v1 (`tcpdump -i any`). */
export const LINKTYPE_LINUX_SLL = 113;

/** One captured frame. */
export interface PcapRecord {
  /** Capture time, seconds since the epoch (fractional). */
  time: number;
  /** Bytes on the wire (may exceed `data.length` when truncated by the snap length). */
  origLen: number;
  /** The captured bytes. */
  data: Uint8Array;
}

/** A parsed capture file. */
export interface PcapFile {
  /** Link-layer type of every record. */
  linkType: number;
  /** Snap length. */
  snaplen: number;
  /** Records in file order. */
  records: PcapRecord[];
}

/** TCP flag bits. */
export const TCP = Object.freeze({ FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 });

/** A decoded IPv4/TCP segment. */
export interface TcpSegment {
  /** Destination MAC (Ethernet only), `aa:bb:…`. */
  dstMac?: string;
  /** Source MAC. */
  srcMac?: string;
  srcIp: string;
  dstIp: string;
  ttl: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Flag bits, see {@link TCP}. */
  flags: number;
  /** Raw window field (unscaled). */
  window: number;
  /** TCP options bytes. */
  options: Uint8Array;
  /** Payload bytes present in the capture. */
  payload: Uint8Array;
  /** Payload length from the IP header (≥ payload.length when truncated). */
  payloadLength: number;
}

function bad(message: string, context: Record<string, unknown> = {}): TestbedError {
  return new TestbedError('ERR_TESTBED_PCAP', `pcap: ${message}`, { context });
}

/**
 * Parse a classic pcap file (either byte order, micro- or nanosecond timestamps). A truncated
 * last record is dropped, as tcpdump leaves one when killed mid-write.
 *
 * @param buf - file contents.
 * @returns the header fields and records.
 * @throws {@link TestbedError} `ERR_TESTBED_PCAP` on a bad magic or a short header.
 */
export function parsePcap(buf: Uint8Array): PcapFile {
  if (buf.length < 24) throw bad('file shorter than its 24-byte header', { length: buf.length });
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) { le = true; nano = magic === 0xa1b23c4d; }
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) { le = false; nano = magic === 0x4d3cb2a1; }
  else if (magic === 0x0a0d0d0a) throw bad('pcapng is not supported; capture with tcpdump -w (classic pcap)');
  else throw bad(`unknown magic 0x${magic.toString(16)}`, { magic });
  const snaplen = dv.getUint32(16, le);
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const origLen = dv.getUint32(off + 12, le);
    if (off + 16 + incl > buf.length) break;
    records.push({ time: sec + frac / (nano ? 1e9 : 1e6), origLen, data: buf.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  return { linkType, snaplen, records };
}

function mac(b: Uint8Array, at: number): string {
  return Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Decode an IPv4/TCP frame.
 *
 * @param frame - captured bytes.
 * @param linkType - {@link LINKTYPE_ETHERNET} or {@link LINKTYPE_LINUX_SLL}.
 * @returns the segment, or undefined for anything else (ARP, UDP, fragments, short frames).
 */
export function decodeTcp(frame: Uint8Array, linkType: number): TcpSegment | undefined {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let ip: number;
  let macs: { dstMac?: string; srcMac?: string } = {};
  if (linkType === LINKTYPE_ETHERNET) {
    if (frame.length < 14 || dv.getUint16(12) !== 0x0800) return undefined;
    macs = { dstMac: mac(frame, 0), srcMac: mac(frame, 6) };
    ip = 14;
  } else if (linkType === LINKTYPE_LINUX_SLL) {
    if (frame.length < 16 || dv.getUint16(14) !== 0x0800) return undefined;
    ip = 16;
  } else {
    return undefined;
  }
  if (frame.length < ip + 20) return undefined;
  const vihl = frame[ip] as number;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20 || frame[ip + 9] !== 6) return undefined;
  const fragment = dv.getUint16(ip + 6) & 0x3fff; // MF flag or an offset
  if (fragment !== 0) return undefined;
  const totalLen = dv.getUint16(ip + 2);
  const tcp = ip + ihl;
  if (frame.length < tcp + 20 || totalLen < ihl + 20) return undefined;
  const doff = ((frame[tcp + 12] as number) >> 4) * 4;
  if (doff < 20 || frame.length < tcp + doff) return undefined;
  const ipb = (at: number): string => Array.from(frame.subarray(at, at + 4)).join('.');
  const payloadLength = Math.max(0, totalLen - ihl - doff);
  const end = Math.min(frame.length, tcp + doff + payloadLength);
  return {
    ...macs,
    srcIp: ipb(ip + 12), dstIp: ipb(ip + 16), ttl: frame[ip + 8] as number,
    srcPort: dv.getUint16(tcp), dstPort: dv.getUint16(tcp + 2),
    seq: dv.getUint32(tcp + 4), ack: dv.getUint32(tcp + 8),
    flags: (frame[tcp + 13] as number) & 0x3f, window: dv.getUint16(tcp + 14),
    options: frame.subarray(tcp + 20, tcp + doff),
    payload: frame.subarray(tcp + doff, end), payloadLength,
  };
}

/**
 * All IPv4/TCP segments of a capture, in order.
 *
 * @param file - a parsed capture.
 * @returns decoded segments with their capture time.
 */
export function tcpSegments(file: PcapFile): Array<TcpSegment & { time: number }> {
  const out: Array<TcpSegment & { time: number }> = [];
  for (const r of file.records) {
    const s = decodeTcp(r.data, file.linkType);
    if (s !== undefined) out.push({ ...s, time: r.time });
  }
  return out;
}
