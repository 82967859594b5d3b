import t from 'tap';
import { parseProxyUri } from '../../pt/proxy-uri.js';

t.test('parses the proxy URIs tor builds, including a default port and IPv6', async (t) => {
  const cases: Array<[string, object]> = [
    // pt-spec §3.2.2 examples.
    ['socks5://tor:test1234@198.51.100.1:8000', { scheme: 'socks5', host: '198.51.100.1', port: 8000, username: 'tor', password: 'test1234' }],
    ['socks4a://198.51.100.2:8001', { scheme: 'socks4a', host: '198.51.100.2', port: 8001 }],
    ['http://198.51.100.3:443', { scheme: 'http', host: '198.51.100.3', port: 443 }],
    // WHATWG URL would drop this port.
    ['http://host.example:80', { scheme: 'http', host: 'host.example', port: 80 }],
    ['socks5://[::1]:1080', { scheme: 'socks5', host: '::1', port: 1080 }],
    ['http://[2001:db8::1]:3128/', { scheme: 'http', host: '2001:db8::1', port: 3128 }],
    // tor passes credentials raw: `%`, `:` and `@` in the password stay as they are.
    ['http://us%20er:p:a@ss@127.0.0.1:8080', { scheme: 'http', host: '127.0.0.1', port: 8080, username: 'us%20er', password: 'p:a@ss' }],
    ['socks4a://someuser@127.0.0.1:1080', { scheme: 'socks4a', host: '127.0.0.1', port: 1080, username: 'someuser' }],
    // goptlib's good vectors that fit tor's grammar.
    ['http://user:password@localhost:8080', { scheme: 'http', host: 'localhost', port: 8080, username: 'user', password: 'password' }],
    ['socks4a://localhost:1080', { scheme: 'socks4a', host: 'localhost', port: 1080 }],
    ['SOCKS5://127.0.0.1:9050', { scheme: 'socks5', host: '127.0.0.1', port: 9050 }],
  ];
  for (const [input, expected] of cases) t.same(parseProxyUri(input), expected, input);
});

t.test('refuses malformed proxy URIs with PROXY-ERROR text', async (t) => {
  const bad = [
    // goptlib's bad vectors.
    'bogus',
    'http:',
    '://127.0.0.1',
    'http://127.0.0.1',
    'http://127.0.0.1:',
    'http://:8080',
    'socks5://:1080',
    'unknown://localhost/whatever',
    // goptlib accepts these; we follow lyrebird and refuse.
    'unknown://localhost:9999/whatever',
    'http://[::1]:8080/path',
    // Our own.
    'ftp://127.0.0.1:21',
    'http://127.0.0.1:0',
    'http://127.0.0.1:65536',
    'http://127.0.0.1:80?x=1',
    'http://127.0.0.1:80#f',
    'http://[::1:1080',
    'http://[not-v6]:1080',
    'http://::1:1080',
    'http://bad_host!:1080',
    'socks4a://u:p@127.0.0.1:1080',
    'socks5://user@127.0.0.1:1080',
    'socks5://:pass@127.0.0.1:1080',
    `socks5://${'u'.repeat(256)}:p@127.0.0.1:1080`,
  ];
  for (const input of bad) {
    t.throws(() => parseProxyUri(input), { name: 'PtError', code: 'ERR_PT_PROXY_URI' }, input);
  }
  t.throws(() => parseProxyUri('socks4a://u:p@127.0.0.1:1080'), { message: 'proxy URI specified SOCKS4a and a password' });
  t.throws(() => parseProxyUri('ftp://127.0.0.1:21'), { message: 'proxy URI has an unsupported scheme: ftp' });
});
