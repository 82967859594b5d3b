import t from 'tap';
import { InvalidArgumentError } from '../../src/errors.js';
import { encodeCString, formatAddress, formatLine, isTransportName, lines, safeText } from '../../pt/line.js';
import { PtIpc, type LineSink } from '../../pt/ipc.js';

t.test('formats every message of a managed client exactly', async (t) => {
  t.equal(lines.version(), 'VERSION 1\n');
  t.equal(lines.versionError(), 'VERSION-ERROR no-version\n');
  t.equal(lines.envError('no TOR_PT_STATE_LOCATION environment variable'), 'ENV-ERROR no TOR_PT_STATE_LOCATION environment variable\n');
  t.equal(lines.proxyDone(), 'PROXY DONE\n');
  t.equal(lines.proxyError('SOCKS 4 upstream proxies unsupported.'), 'PROXY-ERROR SOCKS 4 upstream proxies unsupported.\n');
  t.equal(lines.cmethod('trebuchet', 'socks5', '127.0.0.1:19999'), 'CMETHOD trebuchet socks5 127.0.0.1:19999\n');
  t.equal(lines.cmethodError('trebuchet', 'no rocks available'), 'CMETHOD-ERROR trebuchet no rocks available\n');
  t.equal(lines.cmethodsDone(), 'CMETHODS DONE\n');
  t.equal(lines.log('debug', 'Connected to bridge A'), 'LOG SEVERITY=debug MESSAGE="Connected to bridge A"\n');
  t.equal(lines.statusVersion('lyrebird', 'devel'), 'STATUS TYPE=version IMPLEMENTATION="lyrebird" VERSION="devel"\n');
  t.equal(
    lines.status('obfs4', { ADDRESS: '198.51.100.222:2222', CONNECT: 'Failed', ERRSTR: 'Connection refused' }),
    'STATUS TRANSPORT=obfs4 ADDRESS="198.51.100.222:2222" CONNECT="Failed" ERRSTR="Connection refused"\n',
  );
});

t.test('encodes CStrings as goptlib does: printable ASCII verbatim, the rest octal', async (t) => {
  t.equal(encodeCString(''), '""');
  t.equal(encodeCString('a "b" \\c'), '"a \\042b\\042 \\134c"');
  t.equal(encodeCString('line\nbreak\ttab\x7f'), '"line\\012break\\011tab\\177"');
  t.equal(encodeCString('é'), '"\\303\\251"');
  t.equal(encodeCString(' !#[]~'), '" !#[]~"');
});

t.test('keeps free text within the line grammar', async (t) => {
  t.equal(safeText('bad\nthing\r\0 é'), 'bad?thing?? ?');
  t.equal(lines.envError('a\nb'), 'ENV-ERROR a?b\n');
  t.equal(lines.proxyError('x\u{1F600}y'), 'PROXY-ERROR x?y\n');
});

t.test('refuses keywords, arguments and transport names outside the grammar', async (t) => {
  t.throws(() => formatLine('BAD KEY'), InvalidArgumentError);
  t.throws(() => formatLine(''), InvalidArgumentError);
  t.throws(() => formatLine('LOG', ['a\nb']), InvalidArgumentError);
  t.throws(() => formatLine('LOG', ['étude']), InvalidArgumentError);
  t.throws(() => formatLine('LOG', ['nul\0']), InvalidArgumentError);
  t.equal(formatLine('LOG', ['del\x7f']), 'LOG del\x7f\n');
  t.throws(() => lines.cmethod('9lives', 'socks5', '127.0.0.1:1'), InvalidArgumentError);
  t.ok(isTransportName('tap_dance2'));
  t.notOk(isTransportName('tap-dance'));
  t.notOk(isTransportName(''));
});

t.test('brackets IPv6 addresses', async (t) => {
  t.equal(formatAddress('127.0.0.1', 80), '127.0.0.1:80');
  t.equal(formatAddress('::1', 80), '[::1]:80');
});

t.test('writes LOG lines at or above the configured severity only', async (t) => {
  const written: string[] = [];
  const ipc = new PtIpc({ writeLine: (l) => written.push(l) }, { logLevel: 'info' });
  for (const sev of ['error', 'warning', 'notice', 'info', 'debug'] as const) ipc.log(sev, sev);
  t.same(written.map((l) => /SEVERITY=(\w+)/.exec(l)![1]), ['error', 'warning', 'notice', 'info']);
});

t.test('stops writing and reports once when the parent pipe breaks', async (t) => {
  let calls = 0;
  let broken = 0;
  const sink: LineSink = {
    writeLine() {
      calls++;
      throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
    },
  };
  const ipc = new PtIpc(sink, { onBroken: () => broken++ });
  ipc.version();
  ipc.log('error', 'x');
  ipc.cmethodsDone();
  t.equal(calls, 1);
  t.equal(broken, 1);
  t.ok(ipc.broken);
});
