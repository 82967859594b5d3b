import t from 'tap';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { parseSsTcpInfo, readTcpInfo, ssArguments } from '../../src/decoys/tcp-info.js';

// Captured from `ss -Htin` (iproute2 6.1, kernel 6.18) for a probe connection to nginx (rcvbuf=16384).
const CAPTURED = `ESTAB 0      0          127.0.0.1:45678 127.0.0.13:34945
\t cubic wscale:0,10 rto:201 rtt:0.06/0.03 ato:40 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_sent:845 bytes_acked:846 segs_out:5 segs_in:4 data_segs_out:2 send 43.7Gbps lastsnd:4 lastrcv:8 lastack:4 pacing_rate 87.4Gbps delivery_rate 16.4Gbps delivered:3 app_limited busy:4ms unacked:2 rcv_space:14600 rcv_ssthresh:64076 minrtt:0.03 snd_wnd:15484
`;

t.test('reads snd_wnd, unacked, wscale and mss from ss output', async (t) => {
  t.same(parseSsTcpInfo(CAPTURED), { sndWnd: 15484, unacked: 2, wscale: { snd: 0, rcv: 10 }, mss: 32768 });
});

t.test('reports a null window when ss is too old to print snd_wnd, and null for no connection', async (t) => {
  const old = CAPTURED.replace(/ snd_wnd:\d+/, '').replace(/ unacked:\d+/, '');
  t.same(parseSsTcpInfo(old), { sndWnd: null, unacked: 0, wscale: { snd: 0, rcv: 10 }, mss: 32768 });
  t.equal(parseSsTcpInfo(''), null);
  t.equal(parseSsTcpInfo('\n  \n'), null);
});

t.test('does not mistake rcv_space or advmss for the fields it reads', async (t) => {
  t.same(parseSsTcpInfo('ESTAB 0 0 a:1 b:2\n\t advmss:1448 rcv_space:29200 rcvmss:536'),
    { sndWnd: null, unacked: 0, wscale: null, mss: null });
});

t.test('selects one connection by both addresses and ports, IPv6 in brackets', async (t) => {
  t.same(ssArguments({ address: '127.0.0.1', port: 5 }, { address: '127.0.0.2', port: 443 }),
    ['-Htin', 'state', 'established', 'src', '127.0.0.1', 'sport', '=', ':5', 'dst', '127.0.0.2', 'dport', '=', ':443']);
  t.same(ssArguments({ address: '::1', port: 5 }, { address: '2001:db8::1', port: 443 }).filter((a) => a.startsWith('[')),
    ['[::1]', '[2001:db8::1]']);
});

t.test('reads the live state of this process\'s own loopback connections, IPv4 and IPv6', async (t) => {
  for (const host of ['127.0.0.1', '::1']) {
    const server = createServer((s) => s.resume());
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const port = (server.address() as AddressInfo).port;
    const socket: Socket = connect({ host, port });
    await new Promise((resolve) => socket.once('connect', resolve));
    const info = await readTcpInfo(socket);
    t.ok(info !== null, `${host}: ss lists the socket`);
    t.ok(Number.isInteger(info!.sndWnd) && info!.sndWnd! > 0, `${host}: the peer window is known (${info!.sndWnd})`);
    t.equal(info!.unacked, 0);
    socket.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
    t.equal(await readTcpInfo(socket), null, `${host}: a closed socket has no state`);
    await new Promise((resolve) => server.close(resolve));
  }
});
