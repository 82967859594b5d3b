/**
 * The TCP window a decoy advertises, read from the kernel for the probe's own connection.
 *
 * Method: Node cannot call getsockopt(TCP_INFO), so we ask iproute2's `ss -tin` about exactly our
 * socket (filtered by both addresses and ports). Its `snd_wnd` is `tcpi_snd_wnd` (Linux ≥ 6.2):
 * the receive window the peer advertised in its latest segment, already multiplied by its window
 * scale, i.e. how many bytes beyond the last acknowledged one the decoy is willing to take now.
 * That is what a TapDance client may upload before the decoy's window closes. Reading it after
 * the decoy has acknowledged our incomplete request gives the window a real flow starts with.
 *
 * Why not count the bytes the kernel accepts until a write stalls: that measures the decoy's
 * window plus our own send buffer, and shrinking SO_SNDBUF is not possible from Node either.
 *
 * Linux only; where `ss` is missing or too old to print `snd_wnd`, the reading is null and the
 * report says the window is unknown.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { isIPv6 } from 'node:net';
import type { Socket } from 'node:net';

/** What `ss -tin` says about one connection. */
export interface TcpInfo {
  /** The peer's advertised receive window in bytes (scaled), or null when `ss` does not print it. */
  sndWnd: number | null;
  /** Bytes sent and not yet acknowledged. */
  unacked: number;
  /** Send and receive window scale, when negotiated. */
  wscale: { snd: number; rcv: number } | null;
  /** MSS in use. */
  mss: number | null;
}

/** Reads the TCP state of a connected socket; null when it cannot. */
export type TcpInfoReader = (socket: Socket) => Promise<TcpInfo | null>;

function field(text: string, name: string): number | null {
  const m = new RegExp(`(?:^|\\s)${name}:(\\d+)`).exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * Parse the output of `ss -Htin` for a filter that matches one connection (sans-IO).
 *
 * @param text - ss output (one state line and one indented info line)
 * @returns the fields, or null when the output names no connection
 */
export function parseSsTcpInfo(text: string): TcpInfo | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return null;
  const info = lines.join(' ');
  const ws = /(?:^|\s)wscale:(\d+),(\d+)/.exec(info);
  return {
    sndWnd: field(info, 'snd_wnd'),
    unacked: field(info, 'unacked') ?? 0,
    wscale: ws ? { snd: Number(ws[1]), rcv: Number(ws[2]) } : null,
    mss: field(info, 'mss'),
  };
}

function ssAddress(address: string): string {
  return isIPv6(address) ? `[${address}]` : address;
}

/**
 * The `ss` arguments selecting exactly one TCP connection.
 *
 * @param local - local address and port
 * @param remote - remote address and port
 * @returns argv for `ss`
 */
export function ssArguments(local: { address: string; port: number }, remote: { address: string; port: number }): string[] {
  return ['-Htin', 'state', 'established',
    'src', ssAddress(local.address), 'sport', '=', `:${local.port}`,
    'dst', ssAddress(remote.address), 'dport', '=', `:${remote.port}`];
}

/**
 * Read the TCP state of `socket` with `ss` (the default {@link TcpInfoReader}).
 *
 * @param socket - a connected socket of this process
 * @returns the state, or null when `ss` fails, is missing, or does not list the socket
 */
export const readTcpInfo: TcpInfoReader = (socket) => {
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) {
    return Promise.resolve(null);
  }
  const args = ssArguments({ address: localAddress, port: localPort }, { address: remoteAddress, port: remotePort });
  return new Promise((resolve) => {
    execFile('ss', args, { timeout: 5000, encoding: 'utf8' }, (err, stdout) => {
      resolve(err ? null : parseSsTcpInfo(stdout));
    });
  });
};
