/**
 * Writing protocol lines to the parent (tor) and logging through `LOG` lines.
 *
 * stdout carries nothing but protocol lines, each written whole and synchronously with
 * `fs.writeSync(1, …)`: Node's `process.stdout` is asynchronous on POSIX pipes, so a line written
 * just before `process.exit()` could be lost (goptlib likewise writes and syncs each line). Nothing
 * here touches `process.stdout`, which would also switch fd 1 to non-blocking mode.
 *
 * Logs go to tor as `LOG SEVERITY=… MESSAGE=…` lines (tor logs them at that severity and
 * emits them as control-port `PT_LOG` events); stderr stays quiet, since old tors never read it and
 * a full pipe would block us (trac #26360).
 *
 * @module
 */
import { writeSync } from 'node:fs';
import { LOG_SEVERITIES, lines, type LogSeverity } from './line.js';

/** Where lines go. */
export interface LineSink {
  /**
   * Write one complete line (with its LF).
   *
   * @throws when the parent is gone (e.g. EPIPE)
   */
  writeLine(line: string): void;
}

/** Something that takes log messages at tor's severities. */
export interface PtLogger {
  /**
   * Log a message. Never throws.
   *
   * @param severity - tor severity
   * @param message - text; never a client address
   */
  log(severity: LogSeverity, message: string): void;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * A sink writing each line whole to a file descriptor, synchronously, retrying short writes and
 * EAGAIN (a non-blocking pipe that is momentarily full) for up to `stallMs`.
 *
 * @param fd - file descriptor, default 1 (stdout)
 * @param stallMs - how long a full pipe may block a write before it fails, default 10000
 * @returns the sink
 */
export function fdLineSink(fd = 1, stallMs = 10_000): LineSink {
  return {
    writeLine(line: string): void {
      const bytes = Buffer.from(line, 'latin1');
      let offset = 0;
      let stalled = 0;
      while (offset < bytes.length) {
        try {
          offset += writeSync(fd, bytes, offset, bytes.length - offset);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || stalled >= stallMs) throw err;
          Atomics.wait(sleepCell, 0, 0, 1);
          stalled += 1;
        }
      }
    },
  };
}

/** Options of {@link PtIpc}. */
export interface PtIpcOptions {
  /** Least severe level sent as LOG lines. Default `notice`. */
  logLevel?: LogSeverity;
  /** Called once when a write fails: the parent is gone, so the caller should shut down. */
  onBroken?: (err: unknown) => void;
}

/**
 * The managed proxy's side of the line protocol: one method per message, and a {@link PtLogger}.
 *
 * @example
 * ```ts
 * const ipc = new PtIpc(fdLineSink(), { logLevel: 'info' })
 * ipc.version()
 * ipc.cmethod('tapdance', '127.0.0.1:40000')
 * ipc.cmethodsDone()
 * ipc.log('notice', 'ready')
 * ```
 */
export class PtIpc implements PtLogger {
  readonly #sink: LineSink;
  readonly #threshold: number;
  readonly #onBroken: ((err: unknown) => void) | undefined;
  #broken = false;

  /**
   * @param sink - where lines go
   * @param options - log level and failure callback
   */
  constructor(sink: LineSink, options: PtIpcOptions = {}) {
    this.#sink = sink;
    this.#threshold = LOG_SEVERITIES.indexOf(options.logLevel ?? 'notice');
    this.#onBroken = options.onBroken;
  }

  /** Whether a write has failed (the parent is gone). */
  get broken(): boolean {
    return this.#broken;
  }

  #write(line: string): void {
    if (this.#broken) return;
    try {
      this.#sink.writeLine(line);
    } catch (err) {
      this.#broken = true;
      this.#onBroken?.(err);
    }
  }

  /** Write `VERSION 1`. */
  version(): void {
    this.#write(lines.version());
  }

  /** Write `VERSION-ERROR no-version`. */
  versionError(): void {
    this.#write(lines.versionError());
  }

  /**
   * Write `ENV-ERROR`.
   *
   * @param message - what is wrong with the environment
   */
  envError(message: string): void {
    this.#write(lines.envError(message));
  }

  /** Write `PROXY DONE`. */
  proxyDone(): void {
    this.#write(lines.proxyDone());
  }

  /**
   * Write `PROXY-ERROR`.
   *
   * @param message - why the proxy cannot be used
   */
  proxyError(message: string): void {
    this.#write(lines.proxyError(message));
  }

  /**
   * Write `CMETHOD <name> socks5 <address>`.
   *
   * @param name - transport name
   * @param address - `host:port` of the SOCKS listener
   */
  cmethod(name: string, address: string): void {
    this.#write(lines.cmethod(name, 'socks5', address));
  }

  /**
   * Write `CMETHOD-ERROR`.
   *
   * @param name - transport name
   * @param message - why it failed
   */
  cmethodError(name: string, message: string): void {
    this.#write(lines.cmethodError(name, message));
  }

  /** Write `CMETHODS DONE`. */
  cmethodsDone(): void {
    this.#write(lines.cmethodsDone());
  }

  /**
   * Write `STATUS TYPE=version …`.
   *
   * @param implementation - e.g. `tapdance-pt`
   * @param version - e.g. `0.1.0`
   */
  statusVersion(implementation: string, version: string): void {
    this.#write(lines.statusVersion(implementation, version));
  }

  /**
   * Write `STATUS TRANSPORT=<name> …`.
   *
   * @param transport - transport name
   * @param fields - keys and values
   */
  status(transport: string, fields: Readonly<Record<string, string>>): void {
    this.#write(lines.status(transport, fields));
  }

  /**
   * Write a `LOG` line when `severity` is at or above the configured level.
   *
   * @param severity - tor severity
   * @param message - text; never a client address
   */
  log(severity: LogSeverity, message: string): void {
    if (LOG_SEVERITIES.indexOf(severity) > this.#threshold) return;
    this.#write(lines.log(severity, message));
  }
}
