/**
 * A small sans-IO HTTP/1.1 response parser for the probes' one GET (robots.txt): status line,
 * headers, and a body framed by Content-Length, chunked transfer coding, or the end of the
 * connection (RFC 9112 §6). Bytes go in with `push`, EOF with `end`; no sockets here.
 *
 * It keeps at most `maxBody` body bytes and then reports the response complete with `truncated`
 * set (RFC 9309 lets a robots.txt reader stop after 500 KiB). Not supported: 1xx interim
 * responses other than skipping them, trailers (skipped), multiple responses.
 *
 * @module
 */
import { DecoyError } from './errors.js';

/** A parsed response. */
export interface HttpResponse {
  /** Status code, e.g. 200. */
  status: number;
  /** Header fields with lowercased names (repeated fields joined with `, `). */
  headers: Map<string, string>;
  /** The body (at most `maxBody` bytes). */
  body: Buffer;
  /** The body was longer than `maxBody` and was cut. */
  truncated: boolean;
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done';

const MAX_HEAD = 16 * 1024;

function httpError(message: string): DecoyError {
  return new DecoyError('ERR_DECOY_HTTP', `malformed HTTP response: ${message}`);
}

/**
 * Incremental parser of one HTTP/1.1 response.
 *
 * @example
 * ```ts
 * const p = new HttpResponseParser({ maxBody: 512 * 1024 })
 * socket.on('data', (c) => { if (p.push(c)) done(p.response()) })
 * socket.on('end', () => { p.end(); done(p.response()) })
 * ```
 */
export class HttpResponseParser {
  #state: State = 'head';
  #buffer: Buffer = Buffer.alloc(0);
  #status = 0;
  #headers = new Map<string, string>();
  #body: Buffer[] = [];
  #bodyLength = 0;
  #remaining = 0;
  #truncated = false;
  readonly #maxBody: number;

  /** @param options - `maxBody`: body bytes to keep (default 512 KiB). */
  constructor(options: { maxBody?: number } = {}) {
    this.#maxBody = options.maxBody ?? 512 * 1024;
  }

  /** Whether a whole response has been read. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /**
   * Feed bytes from the server.
   *
   * @param chunk - the next bytes
   * @returns true once the response is complete (later bytes are ignored)
   * @throws {@link DecoyError} `ERR_DECOY_HTTP` for a malformed response
   */
  push(chunk: Uint8Array): boolean {
    if (this.#state === 'done') return true;
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    while (this.#step()) { /* each step consumes input or changes state */ }
    return this.done;
  }

  /**
   * The server closed the connection.
   *
   * @throws {@link DecoyError} `ERR_DECOY_HTTP` when the response is incomplete (except a body
   *   delimited by the close itself)
   */
  end(): void {
    if (this.#state === 'close') {
      this.#state = 'done';
      return;
    }
    if (this.#state !== 'done') throw httpError(`connection closed while reading ${this.#state === 'head' ? 'the header' : 'the body'}`);
  }

  /**
   * The response.
   *
   * @returns status, headers and body
   * @throws {@link DecoyError} `ERR_DECOY_HTTP` before the response is complete
   */
  response(): HttpResponse {
    if (this.#state !== 'done') throw httpError('response is not complete');
    return { status: this.#status, headers: this.#headers, body: Buffer.concat(this.#body), truncated: this.#truncated };
  }

  #step(): boolean {
    switch (this.#state) {
      case 'head': return this.#head();
      case 'length': return this.#take(this.#remaining, 'done');
      case 'chunk-size': return this.#chunkSize();
      case 'chunk-data': return this.#take(this.#remaining, 'chunk-crlf');
      case 'chunk-crlf': return this.#crlf();
      case 'trailers': return this.#trailers();
      case 'close': return this.#take(Infinity, 'close');
      case 'done': return false;
    }
  }

  #line(): string | null {
    const at = this.#buffer.indexOf('\r\n');
    if (at < 0) {
      if (this.#buffer.length > MAX_HEAD) throw httpError('line too long');
      return null;
    }
    const line = this.#buffer.subarray(0, at).toString('latin1');
    this.#buffer = this.#buffer.subarray(at + 2);
    return line;
  }

  #head(): boolean {
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.#buffer.length > MAX_HEAD) throw httpError('header larger than 16 KiB');
      return false;
    }
    const lines = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
    this.#buffer = this.#buffer.subarray(end + 4);
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!m) throw httpError(`bad status line ${JSON.stringify(lines[0]!.slice(0, 40))}`);
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0 || /\s/.test(line.slice(0, colon))) throw httpError(`bad header line ${JSON.stringify(line.slice(0, 40))}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)!}, ${value}` : value);
    }
    // 1xx interim responses are followed by the real one.
    if (status >= 100 && status < 200) return true;
    this.#status = status;
    this.#headers = headers;
    this.#frame(status, headers);
    return true;
  }

  #frame(status: number, headers: Map<string, string>): void {
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (status === 204 || status === 304) {
      this.#state = 'done';
    } else if (te !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(te)) throw httpError(`unsupported transfer-encoding "${te}"`);
      this.#state = 'chunk-size';
    } else if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) throw httpError(`bad content-length "${cl}"`);
      this.#remaining = Number(cl);
      this.#state = this.#remaining === 0 ? 'done' : 'length';
    } else {
      this.#state = 'close';
    }
  }

  /** Move up to `n` buffered bytes into the body; switch to `next` when `n` are consumed. */
  #take(n: number, next: State): boolean {
    if (this.#buffer.length === 0) return false;
    const k = Math.min(n, this.#buffer.length);
    this.#keep(this.#buffer.subarray(0, k));
    this.#buffer = this.#buffer.subarray(k);
    if (this.#truncated) {
      this.#state = 'done';
      return false;
    }
    if (n !== Infinity) {
      this.#remaining -= k;
      if (this.#remaining === 0) this.#state = next;
    }
    return this.#state !== 'done' && this.#buffer.length > 0;
  }

  #keep(bytes: Buffer): void {
    const room = this.#maxBody - this.#bodyLength;
    if (bytes.length > room) {
      this.#truncated = true;
      bytes = bytes.subarray(0, room);
    }
    this.#body.push(Buffer.from(bytes));
    this.#bodyLength += bytes.length;
  }

  #chunkSize(): boolean {
    const line = this.#line();
    if (line === null) return false;
    const m = /^([0-9A-Fa-f]{1,12})\s*(;.*)?$/.exec(line);
    if (!m) throw httpError(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
    this.#remaining = parseInt(m[1]!, 16);
    this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data';
    return true;
  }

  #crlf(): boolean {
    if (this.#buffer.length < 2) return false;
    if (this.#buffer[0] !== 0x0d || this.#buffer[1] !== 0x0a) throw httpError('chunk not followed by CRLF');
    this.#buffer = this.#buffer.subarray(2);
    this.#state = 'chunk-size';
    return true;
  }

  #trailers(): boolean {
    const line = this.#line();
    if (line === null) return false;
    if (line === '') this.#state = 'done';
    return this.#state !== 'done';
  }
}
