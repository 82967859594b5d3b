import t from 'tap';
import { PtError } from '../../pt/errors.js';
import { kSocksReply, Socks5Reply, socks4Reply, socks5Reply, socksReplyForError } from '../../pt/socks-replies.js';

const errno = (code: string): Error => Object.assign(new Error(code), { code });

t.test("maps socket errors as lyrebird's ErrorToReplyCode does", async (t) => {
  const table: Array<[string, number]> = [
    ['EADDRNOTAVAIL', Socks5Reply.addressTypeNotSupported],
    ['ETIMEDOUT', Socks5Reply.ttlExpired],
    ['ENETUNREACH', Socks5Reply.networkUnreachable],
    ['EHOSTUNREACH', Socks5Reply.hostUnreachable],
    ['ECONNREFUSED', Socks5Reply.connectionRefused],
    ['ECONNRESET', Socks5Reply.connectionRefused],
    ['EPERM', Socks5Reply.generalFailure],
  ];
  for (const [code, reply] of table) t.equal(socksReplyForError(errno(code)), reply, code);
});

t.test('maps our own codes, follows causes, and honours an explicit reply mark', async (t) => {
  t.equal(socksReplyForError(new PtError('ERR_PT_DIAL_TIMEOUT', 'slow')), Socks5Reply.ttlExpired);
  t.equal(socksReplyForError(new PtError('ERR_PT_BRIDGE_ARGS', 'typo')), Socks5Reply.notAllowed);
  t.equal(socksReplyForError(new PtError('ERR_PT_CONNECT', 'x', { cause: errno('EHOSTUNREACH') })), Socks5Reply.hostUnreachable);
  const wrapped = new Error('outer', { cause: new Error('middle', { cause: errno('ENETUNREACH') }) });
  t.equal(socksReplyForError(wrapped), Socks5Reply.networkUnreachable);
  const marked = Object.assign(new Error('station said no'), { [kSocksReply]: Socks5Reply.connectionRefused, code: 'ETIMEDOUT' });
  t.equal(socksReplyForError(marked), Socks5Reply.connectionRefused, 'mark wins over code');
  t.equal(socksReplyForError(Object.assign(new Error('bad mark'), { [kSocksReply]: 0 })), Socks5Reply.generalFailure, 'success is never a failure reply');
  t.equal(socksReplyForError('a string'), Socks5Reply.generalFailure);
  t.equal(socksReplyForError(null), Socks5Reply.generalFailure);
  t.equal(kSocksReply, Symbol.for('tapdance.pt.socksReply'), 'other layers can mark errors without importing pt');
});

t.test('builds replies with zero bound address', async (t) => {
  t.equal(Buffer.from(socks5Reply(Socks5Reply.hostUnreachable)).toString('hex'), '05040001000000000000');
  t.equal(Buffer.from(socks4Reply(true)).toString('hex'), '005a000000000000');
  t.equal(Buffer.from(socks4Reply(false)).toString('hex'), '005b000000000000');
});
