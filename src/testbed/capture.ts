/**
 * Packet capture with `tcpdump -w` on an interface inside a testbed namespace, into a classic
 * pcap file. `startCapture` resolves once tcpdump reports it is listening (so nothing sent
 * afterwards is missed); `stop()` flushes, waits for tcpdump to exit and parses the file.
 *
 * Immediate mode is on: without it, frames wait in the TPACKET_V3 ring until a block times
 * out (about a second) and a stop in between loses them.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TestbedError } from './errors.js';
import { parsePcap, type PcapFile } from './pcap.js';

/** Options of a capture. */
export interface CaptureOptions {
  /** Interface to capture on (inside the namespace). */
  iface: string;
  /** Output file (classic pcap). */
  path: string;
  /** tcpdump filter expression, e.g. `tcp port 443`. Default: everything. */
  filter?: string;
  /** Bytes kept per frame. Default 262144 (whole frames, also GSO super-frames). */
  snaplen?: number;
  /** Leave promiscuous mode off (`-p`). Default false (tcpdump's default: on). */
  noPromiscuous?: boolean;
  /** How long to wait for tcpdump to listen, ms. Default 10000. */
  startTimeoutMs?: number;
}

/** A running capture. */
export interface Capture {
  /** The pcap file being written. */
  readonly path: string;
  /** tcpdump's pid. */
  readonly pid: number;
  /**
   * Stop (SIGINT, so tcpdump flushes), wait for it to exit, and parse the file. Idempotent.
   *
   * @returns the parsed capture.
   * @throws {@link TestbedError} `ERR_TESTBED_PCAP` when the file is unreadable.
   */
  stop(): Promise<PcapFile>;
}

/**
 * Start tcpdump through `spawnIn` (which runs a program inside the right namespace).
 *
 * @param spawnIn - starts `cmd args` in the namespace, with piped stderr.
 * @param o - capture options.
 * @returns the running capture, once tcpdump listens.
 * @throws {@link TestbedError} `ERR_TESTBED_CHILD` when tcpdump exits or does not listen in time.
 */
export async function startCapture(spawnIn: (cmd: string, args: string[]) => ChildProcess, o: CaptureOptions): Promise<Capture> {
  const args = ['-Z', 'root', '-i', o.iface, '--immediate-mode', '-U', '-n', '-s', String(o.snaplen ?? 262144), '-w', o.path,
    ...(o.noPromiscuous ? ['-p'] : []), ...(o.filter ? o.filter.split(/\s+/) : [])];
  const child = spawnIn('tcpdump', args);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new TestbedError('ERR_TESTBED_CHILD', `testbed: tcpdump on ${o.iface} ${why}: ${stderr.trim().split('\n').pop() ?? ''}`,
        { context: { iface: o.iface, stderr: stderr.slice(-2000) } }));
    };
    const timer = setTimeout(() => fail('did not start listening'), o.startTimeoutMs ?? 10_000);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/listening on /.test(stderr)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => fail(`exited (code ${code})`));
    child.once('error', (err) => fail(`could not start (${err.message})`));
  });
  let stopping: Promise<PcapFile> | undefined;
  return {
    path: o.path,
    pid: child.pid ?? -1,
    stop(): Promise<PcapFile> {
      stopping ??= (async () => {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
        let buf: Buffer;
        try {
          buf = readFileSync(o.path);
        } catch (err) {
          throw new TestbedError('ERR_TESTBED_PCAP', `pcap: cannot read ${o.path}`, { cause: err });
        }
        return parsePcap(buf);
      })();
      return stopping;
    },
  };
}
