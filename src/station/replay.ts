/**
 * `tapdance-station replay FILE --key-file FILE [--key-file FILE…] [--port N…]`: runs a pcap or
 * pcapng capture through the station's data plane (the same flow tracking, tag check and TLS
 * secret check as the live station, without taking anything over) and prints one JSON line per
 * verified tagged flow and a final JSON line with the counters.
 *
 * This is an operator tool for the ISP's own analysis of its own traffic, so, unlike the
 * station's logs, it prints client addresses in full. Do not ship its output elsewhere.
 *
 * The bin wiring lives in the station CLI; this module only parses its own arguments, prints, and
 * returns an exit status (0 = ran, 1 = error, 2 = usage).
 *
 * @module
 */
import { readStationKeyFile } from '../crypto/key-files.js';
import { replayCapture, type TaggedFlowInfo } from './native.js';
import { TapDanceError } from '../errors.js';

/** Where replay writes (injectable for tests). */
export interface ReplayIo {
  /** One line of output (without the newline). */
  out(line: string): void;
  /** One line of diagnostics. */
  err(line: string): void;
}

const defaultIo: ReplayIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

const USAGE = `usage: tapdance-station replay FILE --key-file PRIVKEY [--key-file PRIVKEY…] [--port PORT…]

Runs a pcap/pcapng capture through the station data plane without taking anything over.
Prints one JSON line per tagged flow (addresses, ports, connection id, cipher suite) and a
final JSON line with the counters. Addresses are printed in full: operator use only.

  --key-file PRIVKEY  station key file (32-byte secret, optionally followed by the public key)
  --port PORT         decoy TLS port to track (default 443; repeatable)
  --help              this text`;

interface ReplayArgs {
  file: string;
  keyFiles: string[];
  ports: number[];
}

function parseArgs(argv: readonly string[]): ReplayArgs | string {
  const a: ReplayArgs = { file: '', keyFiles: [], ports: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string | undefined => argv[++i];
    if (arg === '--key-file') {
      const v = value();
      if (!v) return '--key-file needs a path';
      a.keyFiles.push(v);
    } else if (arg === '--port') {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1 || v > 65535) return '--port needs a number 1..65535';
      a.ports.push(v);
    } else if (arg.startsWith('-')) {
      return `unknown option ${arg}`;
    } else if (a.file === '') {
      a.file = arg;
    } else {
      return `unexpected argument ${arg}`;
    }
  }
  if (a.file === '') return 'missing capture FILE';
  if (a.keyFiles.length === 0) return 'missing --key-file';
  return a;
}

/** The JSON line of one tagged flow. */
export function flowLine(t: TaggedFlowInfo): Record<string, unknown> {
  return {
    type: 'tagged_flow',
    client: { address: t.flow.clientAddress, port: t.flow.clientPort },
    decoy: { address: t.flow.serverAddress, port: t.flow.serverPort },
    connectionId: t.connectionId.toString('hex'),
    cipherSuite: `0x${t.cipherSuite.toString(16).padStart(4, '0')}`,
    flags: t.flags,
    keyIndex: t.keyIndex,
    ackSeen: t.ackSeen,
    tcp: {
      clientNextSeq: t.flow.clientNextSeq,
      serverNextSeq: t.flow.serverNextSeq,
      taggedEnd: t.flow.taggedEnd,
      mss: t.flow.clientMss,
      clientWscale: t.flow.clientWscale ?? null,
      serverWscale: t.flow.serverWscale ?? null,
      sack: t.flow.sackPermitted,
      timestamps: t.flow.timestamps,
    },
  };
}

/**
 * Runs `tapdance-station replay` with the arguments after the subcommand.
 *
 * @param argv - arguments after `replay`
 * @param io - output sinks (default stdout/stderr)
 * @returns the exit status: 0 ran, 1 failed, 2 bad usage
 * @example
 * ```ts
 * process.exitCode = await runReplay(['mirror.pcap', '--key-file', '/etc/tapdance/privkey'])
 * ```
 */
export async function runReplay(argv: readonly string[], io: ReplayIo = defaultIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.err(`tapdance-station replay: ${args}`);
    io.err(USAGE);
    return 2;
  }
  try {
    const keys = await Promise.all(args.keyFiles.map(async (f) => (await readStationKeyFile(f)).secretKey));
    const r = replayCapture(args.file, keys, args.ports.length > 0 ? { tlsPorts: args.ports } : {});
    for (const t of r.tagged) io.out(JSON.stringify(flowLine(t)));
    io.out(JSON.stringify({ type: 'counters', ...r.counters }));
    return 0;
  } catch (err) {
    const code = err instanceof TapDanceError ? err.code : ((err as NodeJS.ErrnoException).code ?? 'ERR_REPLAY');
    io.err(`tapdance-station replay: ${code}: ${(err as Error).message}`);
    return 1;
  }
}
