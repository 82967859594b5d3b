/**
 * Runs Debian's nginx as a decoy (or any test web server): one private prefix directory per
 * instance, optional network namespace, and only the settings a test asks for. Timeouts the caller
 * does not set keep nginx's compiled-in defaults, as on a real decoy.
 *
 * Used by the TLS tests, the namespace testbed, the demo and benchmarks.
 *
 * @module
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** One `listen` socket of the server. */
export interface NginxListen {
  /** Address to bind, e.g. `127.0.0.1` or `10.10.2.2`. */
  address: string;
  /** TCP port. */
  port: number;
  /** Serve TLS on this socket. Default true. */
  ssl?: boolean;
  /** Offer HTTP/2 (ALPN h2) on this TLS socket. Default false. */
  http2?: boolean;
  /** SO_RCVBUF of the listening socket, which bounds the TCP window the decoy advertises. */
  rcvbuf?: number;
}

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** Private directory for config, logs, pid and temp files; created if needed. */
  prefix: string;
  /** Sockets to listen on. */
  listen: NginxListen[];
  /** PEM certificate path (needed when any socket has `ssl`). */
  certPath?: string;
  /** PEM key path. */
  keyPath?: string;
  /** `ssl_protocols`, default `TLSv1.2 TLSv1.3` (nginx's own default set minus the old ones). */
  protocols?: string;
  /** `ssl_ciphers` (TLS 1.2 and below), default nginx's. */
  ciphers?: string;
  /** `ssl_ecdh_curve`, default nginx's (`auto`). */
  ecdhCurve?: string;
  /** `client_header_timeout` in seconds; unset keeps the default (60 s). */
  clientHeaderTimeout?: number;
  /** `keepalive_timeout` in seconds; unset keeps the default (75 s). */
  keepaliveTimeout?: number;
  /** Files served from the document root: path (relative, no `..`) to content. */
  files?: Record<string, string | Uint8Array>;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Extra directives inside `http { }`. */
  extraHttp?: string;
  /** How long to wait for the sockets to listen, ms. Default 10000. */
  startTimeoutMs?: number;
}

/** A running nginx instance. */
export interface NginxServer {
  /** Master process id. */
  readonly pid: number;
  /** The prefix directory. */
  readonly prefix: string;
  /** Path of the access log (one line per completed request). */
  readonly accessLogPath: string;
  /** Path of the error log. */
  readonly errorLogPath: string;
  /** Current access log content. */
  accessLog(): string;
  /** Current error log content. */
  errorLog(): string;
  /** Stop the master (SIGQUIT, then SIGKILL after 3 s) and wait for it to exit. Idempotent. */
  stop(): Promise<void>;
}

function inNetns(netns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return netns === undefined ? [cmd, args] : ['ip', ['netns', 'exec', netns, cmd, ...args]];
}

function renderConfig(o: NginxOptions, root: string): string {
  const listens = o.listen.map((l) => {
    const flags = [(l.ssl ?? true) ? 'ssl' : '', l.http2 ? 'http2' : '', l.rcvbuf ? `rcvbuf=${l.rcvbuf}` : '']
      .filter(Boolean).join(' ');
    return `    listen ${l.address}:${l.port} ${flags};`;
  }).join('\n');
  const tls = o.listen.some((l) => l.ssl ?? true)
    ? [`    ssl_certificate ${o.certPath};`, `    ssl_certificate_key ${o.keyPath};`,
      `    ssl_protocols ${o.protocols ?? 'TLSv1.2 TLSv1.3'};`,
      o.ciphers ? `    ssl_ciphers ${o.ciphers};` : '', o.ecdhCurve ? `    ssl_ecdh_curve ${o.ecdhCurve};` : '']
      .filter(Boolean).join('\n')
    : '';
  const timeouts = [
    o.clientHeaderTimeout === undefined ? '' : `  client_header_timeout ${o.clientHeaderTimeout}s;`,
    o.keepaliveTimeout === undefined ? '' : `  keepalive_timeout ${o.keepaliveTimeout}s;`,
  ].filter(Boolean).join('\n');
  const p = o.prefix;
  // Workers run as the invoking user: prefixes live in private temp directories (mode 0700) that
  // Debian's default worker user could not read.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
pid ${p}/nginx.pid;
error_log ${p}/error.log info;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${p}/access.log;
  client_body_temp_path ${p}/tmp/body;
  proxy_temp_path ${p}/tmp/proxy;
  fastcgi_temp_path ${p}/tmp/fastcgi;
  uwsgi_temp_path ${p}/tmp/uwsgi;
  scgi_temp_path ${p}/tmp/scgi;
${timeouts}
${o.extraHttp ?? ''}
  server {
${listens}
    server_name _;
${tls}
    root ${root};
    location / { try_files $uri $uri/index.html =404; }
  }
}
`;
}

async function listening(netns: string | undefined, ports: number[]): Promise<boolean> {
  const [cmd, args] = inNetns(netns, 'ss', ['-Hltn']);
  let out: string;
  try {
    out = execFileSync(cmd, args, { encoding: 'utf8' });
  } catch {
    return false;
  }
  return ports.every((port) => out.split('\n').some((line) => line.split(/\s+/)[3]?.endsWith(`:${port}`)));
}

/**
 * Start nginx with the given settings and wait until every socket listens.
 *
 * @throws Error with nginx's own message when the configuration test fails or startup times out.
 * @example
 * ```ts
 * const srv = await startNginx({ prefix: dir, listen: [{ address: '127.0.0.1', port: 8443 }],
 *   certPath: leaf.certPath, keyPath: leaf.keyPath, files: { 'index.html': 'decoy ok\n' } })
 * await srv.stop()
 * ```
 */
export async function startNginx(o: NginxOptions): Promise<NginxServer> {
  const p = o.prefix;
  const root = join(p, 'www');
  for (const d of ['tmp', 'www']) mkdirSync(join(p, d), { recursive: true });
  for (const [rel, content] of Object.entries(o.files ?? { 'index.html': 'decoy ok\n' })) {
    if (rel.split('/').includes('..')) throw new Error(`nginx: file path "${rel}" leaves the document root`);
    const full = join(root, rel);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, content);
  }
  const conf = join(p, 'nginx.conf');
  writeFileSync(conf, renderConfig(o, root));
  const base = ['-p', p, '-c', conf, '-e', join(p, 'error.log')];
  const [tcmd, targs] = inNetns(o.netns, 'nginx', ['-t', '-q', ...base]);
  try {
    execFileSync(tcmd, targs, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`nginx: configuration rejected: ${stderr.trim()}`);
  }
  const [cmd, args] = inNetns(o.netns, 'nginx', [...base, '-g', 'daemon off;']);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => { dead = true; });

  const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
  const ports = o.listen.map((l) => l.port);
  while (!(await listening(o.netns, ports))) {
    if (dead) throw new Error(`nginx: exited during start-up: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx: not listening on ${ports.join(',')} after ${o.startTimeoutMs ?? 10_000} ms`);
    }
    await sleep(50);
  }
  const accessLogPath = join(p, 'access.log');
  const errorLogPath = join(p, 'error.log');
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    prefix: p,
    accessLogPath,
    errorLogPath,
    accessLog: () => read(accessLogPath),
    errorLog: () => read(errorLogPath),
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (dead) return;
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
