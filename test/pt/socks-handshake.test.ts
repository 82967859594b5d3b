import t from 'tap';
import { SocksHandshake, MAX_HANDSHAKE_BYTES, type SocksRequest } from '../../pt/socks-handshake.js';
import type { SocksError } from '../../pt/errors.js';
import { Socks5Reply } from '../../pt/socks-replies.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('hex');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

interface Outcome {
  sent: string;
  request: SocksRequest | null;
  error: SocksError | null;
  hs: SocksHandshake;
}

// Feeds `input` whole, byte by byte, and in uneven pieces; every split must give the same outcome.
function run(input: Uint8Array): Outcome {
  const outcomes = [input.length, 1, 3].map((size) => {
    const hs = new SocksHandshake();
    const sent: Uint8Array[] = [];
    let request: SocksRequest | null = null;
    let error: SocksError | null = null;
    for (let i = 0; i < input.length; i += size) {
      const step = hs.push(input.subarray(i, i + size));
      sent.push(...step.send);
      request ??= step.request;
      error ??= step.error;
    }
    return { sent: toHex(sent), request, error, hs };
  });
  const [whole, ...split] = outcomes;
  for (const o of split) {
    if (o.sent !== whole!.sent || JSON.stringify(o.request, replacer) !== JSON.stringify(whole!.request, replacer) || o.error?.message !== whole!.error?.message) {
      throw new Error(`split input changed the outcome: ${o.sent} vs ${whole!.sent}`);
    }
  }
  return whole!;
}

function replacer(_k: string, v: unknown): unknown {
  return v instanceof Map ? Object.fromEntries(v) : v;
}

const connectIPv4 = '05 01 00 01 7f000001 0050';
const failReply = (code: number): string => `05${code.toString(16).padStart(2, '0')}00010000000000 00`.replace(/\s/g, '');

// The greeting: lyrebird socks_test.go TestAuth* cases.
t.test('greeting state', async (t) => {
  t.test('closes on an invalid version without a reply', async (t) => {
    const o = run(hex('03 01 00'));
    t.equal(o.sent, '');
    t.equal(o.error?.code, 'ERR_PT_SOCKS');
    t.equal(o.hs.state, 'failed');
  });
  t.test('answers zero methods with 05 FF', async (t) => {
    const o = run(hex('05 00'));
    t.equal(o.sent, '05ff');
    t.ok(o.error);
  });
  t.test('chooses NoAuth when only NoAuth is offered', async (t) => {
    const o = run(hex('05 01 00'));
    t.equal(o.sent, '0500');
    t.equal(o.hs.state, 'socks5-request');
  });
  t.test('chooses username/password when only it is offered', async (t) => {
    t.equal(run(hex('05 01 02')).sent, '0502');
  });
  t.test('prefers username/password when both are offered, as tor needs for arguments', async (t) => {
    t.equal(run(hex('05 02 00 02')).sent, '0502');
    t.equal(run(hex('05 03 00 01 02')).sent, '0502');
  });
  t.test('refuses GSSAPI-only clients with 05 FF', async (t) => {
    const o = run(hex('05 01 01'));
    t.equal(o.sent, '05ff');
    t.equal(o.hs.state, 'failed');
  });
});

// RFC 1929 sub-negotiation: lyrebird TestRFC1929*.
t.test('socks5-auth state', async (t) => {
  t.test('accepts tor-style arguments in UNAME with a NUL password', async (t) => {
    const o = run(hex(`05 01 02 01 09 ${ascii('key=value')} 01 00 ${connectIPv4}`));
    t.equal(o.sent, '0502' + '0100');
    t.same(Object.fromEntries(o.request!.args), { key: ['value'] });
  });
  t.test('joins arguments split over UNAME and PASSWD', async (t) => {
    const args = 'k=' + 'x'.repeat(298);
    const o = run(hex(`05 02 00 02 01 ff ${ascii(args.slice(0, 255))} 2d ${ascii(args.slice(255))} ${connectIPv4}`));
    t.same(o.request!.args.get('k'), ['x'.repeat(298)]);
  });
  t.test('answers 01 01 to a bad sub-negotiation version', async (t) => {
    const o = run(hex(`05 01 02 05 01 61 01 00`));
    t.equal(o.sent, '0502' + '0101');
    t.equal(o.hs.state, 'failed');
  });
  t.test('answers 01 01 to an empty UNAME or PASSWD', async (t) => {
    t.equal(run(hex('05 01 02 01 00 01 00')).sent, '0502' + '0101');
    t.equal(run(hex(`05 01 02 01 03 ${ascii('k=v')} 00`)).sent, '0502' + '0101');
  });
  t.test('answers 01 01 to arguments that do not parse', async (t) => {
    const o = run(hex(`05 01 02 01 03 ${ascii('key')} 01 00`));
    t.equal(o.sent, '0502' + '0101');
    t.match(o.error!.message, /arguments/);
    t.equal(o.error!.context.state, 'socks5-auth');
  });
});

// The request: lyrebird TestRequest*.
t.test('socks5-request state', async (t) => {
  t.test('parses an IPv4 CONNECT', async (t) => {
    const o = run(hex(`05 01 00 05 01 00 01 c0000201 01bb`));
    t.same(o.request!.target, { host: '192.0.2.1', port: 443 });
    t.equal(o.request!.addressType, 'ipv4');
    t.equal(o.request!.version, 5);
    t.equal(o.request!.args.size, 0);
    t.equal(o.hs.state, 'request-ready');
  });
  t.test('parses an IPv6 CONNECT into the canonical text form', async (t) => {
    const o = run(hex(`05 01 00 05 01 00 04 20010db8000000000000000000000001 2382`));
    t.same(o.request!.target, { host: '2001:db8::1', port: 9090 });
    t.equal(o.request!.addressType, 'ipv6');
  });
  t.test('parses a host name CONNECT', async (t) => {
    const o = run(hex(`05 01 00 05 01 00 03 0b ${ascii('example.com')} 0050`));
    t.same(o.request!.target, { host: 'example.com', port: 80 });
    t.equal(o.request!.addressType, 'domain');
  });
  const cases: Array<[string, string, number]> = [
    ['a bad request version', '03 01 00 01 7f000001 0050', Socks5Reply.generalFailure],
    ['BIND', '05 02 00 01 7f000001 0050', Socks5Reply.commandNotSupported],
    ['UDP ASSOCIATE', '05 03 00 01 7f000001 0050', Socks5Reply.commandNotSupported],
    ['a nonzero reserved byte', '05 01 30 01 7f000001 0050', Socks5Reply.generalFailure],
    ['an unknown address type', '05 01 00 05 7f000001 0050', Socks5Reply.addressTypeNotSupported],
    ['an empty host name', '05 01 00 03 00 0050', Socks5Reply.generalFailure],
    ['a host name with control bytes', `05 01 00 03 03 61 0a 62 0050`, Socks5Reply.generalFailure],
  ];
  for (const [what, request, reply] of cases) {
    t.test(`answers ${what} with reply ${reply}`, async (t) => {
      const o = run(hex(`05 01 00 ${request}`));
      t.equal(o.sent, '0500' + failReply(reply));
      t.equal(o.hs.state, 'failed');
      t.equal(o.request, null);
    });
  }
});

t.test('socks4-request state', async (t) => {
  t.test('parses SOCKS4 with arguments in the USERID', async (t) => {
    const o = run(hex(`04 01 0050 c0000201 ${ascii('k=v;x=1')} 00`));
    t.same(o.request!.target, { host: '192.0.2.1', port: 80 });
    t.equal(o.request!.version, 4);
    t.same(Object.fromEntries(o.request!.args), { k: ['v'], x: ['1'] });
    t.equal(o.sent, '');
  });
  t.test('parses SOCKS4a with a host name', async (t) => {
    const o = run(hex(`04 01 01bb 00000001 00 ${ascii('bridge.example')} 00`));
    t.same(o.request!.target, { host: 'bridge.example', port: 443 });
    t.equal(o.request!.addressType, 'domain');
  });
  t.test('rejects BIND with 5B', async (t) => {
    const o = run(hex(`04 02 0050 c0000201 00`));
    t.equal(o.sent, '005b000000000000');
  });
  t.test('rejects a USERID longer than 510 bytes with 5B without waiting for its end', async (t) => {
    const o = run(Uint8Array.from([...hex('04 01 0050 c0000201'), ...Buffer.alloc(511, 0x61)]));
    t.equal(o.sent, '005b000000000000');
    t.match(o.error!.message, /USERID too long/);
  });
  t.test('rejects a SOCKS4a host name longer than 255 bytes with 5B', async (t) => {
    const o = run(Uint8Array.from([...hex('04 01 0050 00000001 00'), ...Buffer.alloc(256, 0x61)]));
    t.equal(o.sent, '005b000000000000');
  });
  t.test('rejects unparsable arguments and an empty SOCKS4a host with 5B', async (t) => {
    t.equal(run(hex(`04 01 0050 c0000201 ${ascii('novalue')} 00`)).sent, '005b000000000000');
    t.equal(run(hex(`04 01 0050 00000001 00 00`)).sent, '005b000000000000');
  });
  t.test('refuses SOCKS4 when it is disabled', async (t) => {
    const hs = new SocksHandshake({ allowSocks4: false });
    const step = hs.push(hex('04 01 0050 c0000201 00'));
    t.same(step.send, []);
    t.ok(step.error);
  });
});

t.test('request-ready and replied states', async (t) => {
  t.test('keeps bytes sent after the request as early data', async (t) => {
    const hs = new SocksHandshake();
    const step = hs.push(hex(`05 01 00 ${connectIPv4} 474554`));
    t.ok(step.request);
    hs.push(hex('20 2f'));
    t.equal(Buffer.from(hs.takeEarlyData()).toString(), 'GET /');
    t.equal(hs.takeEarlyData().length, 0);
  });
  t.test('builds the final reply in the client version, once', async (t) => {
    const v5 = new SocksHandshake();
    v5.push(hex(`05 01 00 ${connectIPv4}`));
    t.equal(Buffer.from(v5.reply(Socks5Reply.succeeded)).toString('hex'), '05000001000000000000');
    t.equal(v5.state, 'replied');
    t.throws(() => v5.reply(Socks5Reply.succeeded), { code: 'ERR_PT_SOCKS' });
    const v4 = new SocksHandshake();
    v4.push(hex(`04 01 0050 c0000201 00`));
    t.equal(Buffer.from(v4.reply(Socks5Reply.connectionRefused)).toString('hex'), '005b000000000000');
  });
  t.test('ignores input after failing', async (t) => {
    const hs = new SocksHandshake();
    hs.push(hex('05 01 01'));
    const step = hs.push(hex('05 01 00'));
    t.same(step, { send: [], request: null, error: null });
  });
});

t.test('never buffers more than the largest request before it completes', async (t) => {
  t.ok(MAX_HANDSHAKE_BYTES < 1024);
  const hs = new SocksHandshake();
  hs.push(hex('04 01 0050 00000001'));
  let failed = false;
  for (let i = 0; i < 2000 && !failed; i++) {
    failed = hs.push(Uint8Array.of(0x61)).error !== null;
    t.ok(hs.buffered <= MAX_HANDSHAKE_BYTES);
  }
  t.ok(failed);
});

t.test('never throws on arbitrary input and never buffers beyond the bound', async () => {
  const fc = (await import('fast-check')).default;
  const prefixes = [[], [5, 1, 0], [5, 1, 2], [5, 2, 0, 2, 1], [4, 1]];
  fc.assert(
    fc.property(fc.constantFrom(...prefixes), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (prefix, chunks) => {
      const hs = new SocksHandshake();
      for (const chunk of [Uint8Array.from(prefix), ...chunks]) {
        const step = hs.push(chunk);
        if (step.error !== null && hs.state !== 'failed') throw new Error('error without failed state');
        if (hs.state !== 'request-ready' && hs.buffered > MAX_HANDSHAKE_BYTES) throw new Error(`buffered ${hs.buffered}`);
      }
    }),
    { numRuns: 2000 },
  );
});
