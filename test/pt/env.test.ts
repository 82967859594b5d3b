import t from 'tap';
import { chooseProtocolVersion, parseClientEnv, type PtEnvironment } from '../../pt/env.js';

const base = { TOR_PT_MANAGED_TRANSPORT_VER: '1', TOR_PT_STATE_LOCATION: '/var/lib/tor/pt_state/', TOR_PT_CLIENT_TRANSPORTS: 'tapdance' };
const code = (c: string) => ({ name: 'PtError', code: c });

// goptlib pt_test.go TestGetManagedTransportVer, plus the spec's example list.
t.test('chooses version 1 from any list that offers it', async (t) => {
  for (const offered of ['1', '1,1', '1,2', '2,1', '1,1a,2b,this_is_a_valid_ver']) {
    t.equal(chooseProtocolVersion({ TOR_PT_MANAGED_TRANSPORT_VER: offered }), '1', offered);
  }
});

t.test('answers a list without version 1 with VERSION-ERROR no-version', async (t) => {
  for (const offered of ['2', '1a', ' 1', '11', 'v1,2']) {
    t.throws(() => chooseProtocolVersion({ TOR_PT_MANAGED_TRANSPORT_VER: offered }), code('ERR_PT_VERSION'), offered);
  }
  t.throws(() => chooseProtocolVersion({ TOR_PT_MANAGED_TRANSPORT_VER: '2' }), { message: 'no-version' });
});

t.test('treats a missing or empty version variable as an environment error', async (t) => {
  t.throws(() => chooseProtocolVersion({}), { code: 'ERR_PT_ENV', message: 'no TOR_PT_MANAGED_TRANSPORT_VER environment variable' });
  t.throws(() => chooseProtocolVersion({ TOR_PT_MANAGED_TRANSPORT_VER: '' }), code('ERR_PT_ENV'));
});

t.test('parses a complete client environment', async (t) => {
  const env = parseClientEnv({
    ...base,
    TOR_PT_CLIENT_TRANSPORTS: 'obfs4,tapdance,,snowflake',
    TOR_PT_EXIT_ON_STDIN_CLOSE: '1',
    TOR_PT_PROXY: 'socks5://127.0.0.1:1080',
    TOR_PT_OUTBOUND_BIND_ADDRESS_V4: '203.0.113.4',
    TOR_PT_OUTBOUND_BIND_ADDRESS_V6: '[2001:db8::4]',
  });
  t.same(env, {
    stateLocation: '/var/lib/tor/pt_state/',
    transports: ['obfs4', 'tapdance', 'snowflake'],
    exitOnStdinClose: true,
    proxy: 'socks5://127.0.0.1:1080',
    bindAddressV4: '203.0.113.4',
    bindAddressV6: '2001:db8::4',
  });
});

t.test('keeps transport names unescaped as goptlib does', async (t) => {
  t.same(parseClientEnv({ ...base, TOR_PT_CLIENT_TRANSPORTS: 'alpha\\,beta' }).transports, ['alpha\\', 'beta']);
  t.same(parseClientEnv({ ...base, TOR_PT_CLIENT_TRANSPORTS: '*' }).transports, ['*']);
});

t.test('honours stdin close only for the exact value 1', async (t) => {
  for (const [value, expected] of [['1', true], ['0', false], ['yes', false], [' 1', false], ['', false], [undefined, false]] as const) {
    t.equal(parseClientEnv({ ...base, TOR_PT_EXIT_ON_STDIN_CLOSE: value }).exitOnStdinClose, expected, String(value));
  }
});

t.test('ignores loopback and empty outbound bind addresses, accepts a bare IPv6', async (t) => {
  const env = (v4?: string, v6?: string): PtEnvironment => ({ ...base, TOR_PT_OUTBOUND_BIND_ADDRESS_V4: v4, TOR_PT_OUTBOUND_BIND_ADDRESS_V6: v6 });
  t.same(pick(parseClientEnv(env('127.0.0.1', '[::1]'))), [undefined, undefined]);
  t.same(pick(parseClientEnv(env('127.3.2.1', '[0:0:0:0:0:0:0:1]'))), [undefined, undefined]);
  t.same(pick(parseClientEnv(env('', ''))), [undefined, undefined]);
  t.same(pick(parseClientEnv(env('198.51.100.7', '2001:db8::9'))), ['198.51.100.7', '2001:db8::9']);
  function pick(e: ReturnType<typeof parseClientEnv>): unknown[] {
    return [e.bindAddressV4, e.bindAddressV6];
  }
});

t.test('refuses malformed outbound bind addresses', async (t) => {
  t.throws(() => parseClientEnv({ ...base, TOR_PT_OUTBOUND_BIND_ADDRESS_V4: 'example.com' }), code('ERR_PT_ENV'));
  t.throws(() => parseClientEnv({ ...base, TOR_PT_OUTBOUND_BIND_ADDRESS_V4: '2001:db8::1' }), code('ERR_PT_ENV'));
  t.throws(() => parseClientEnv({ ...base, TOR_PT_OUTBOUND_BIND_ADDRESS_V6: '[203.0.113.4]' }), code('ERR_PT_ENV'));
});

t.test('names the missing or conflicting variable', async (t) => {
  const { TOR_PT_STATE_LOCATION: _s, ...noState } = base;
  const { TOR_PT_CLIENT_TRANSPORTS: _c, ...noClient } = base;
  t.throws(() => parseClientEnv(noState), { message: 'no TOR_PT_STATE_LOCATION environment variable' });
  t.throws(() => parseClientEnv({ ...base, TOR_PT_STATE_LOCATION: 'relative/dir' }), { message: /absolute/ });
  t.throws(() => parseClientEnv(noClient), { message: 'no TOR_PT_CLIENT_TRANSPORTS environment variable' });
  t.throws(() => parseClientEnv({ ...base, TOR_PT_SERVER_TRANSPORTS: 'tapdance' }), { message: /both set/ });
  t.throws(() => parseClientEnv({ ...noClient, TOR_PT_SERVER_TRANSPORTS: 'tapdance' }), { message: /server mode is not supported/ });
});

t.test('treats an empty TOR_PT_PROXY as unset', async (t) => {
  t.equal(parseClientEnv({ ...base, TOR_PT_PROXY: '' }).proxy, undefined);
});
