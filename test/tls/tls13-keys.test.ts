import t from 'tap';
import { createHash } from 'node:crypto';
import {
  applicationSecrets, deriveSecret, finishedVerifyData13, handshakeSecrets, hkdfExpandLabel, hkdfExtract, nextTrafficSecret,
  trafficKeys, transcriptHash13,
} from '../../src/tls/tls13-keys.js';
import { tls13CipherSuite } from '../../src/tls/cipher-suites.js';
import { InvalidArgumentError } from '../../src/errors.js';

// RFC 8448 §3 "Simple 1-RTT Handshake" (https://www.rfc-editor.org/rfc/rfc8448#section-3).
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const CH = h(`010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b
  0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43
  d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206
  020202002d00020101001c00024001`);
const SH = h(`020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c98288761120
  95fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304`);
const ECDHE = h('8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d');

t.test('the key schedule reproduces RFC 8448 §3', async (t) => {
  const helloHash = transcriptHash13('sha256', [CH, SH]);
  t.equal(helloHash.toString('hex'), '860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8');
  const zeros = Buffer.alloc(32);
  const early = hkdfExtract('sha256', zeros, zeros);
  t.equal(early.toString('hex'), '33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a', 'early secret');
  t.equal(deriveSecret('sha256', early, 'derived', createHash('sha256').digest()).toString('hex'),
    '6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba', 'derived');
  const hs = handshakeSecrets('sha256', ECDHE, helloHash);
  t.equal(hs.handshakeSecret.toString('hex'), '1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac', 'handshake secret');
  t.equal(hs.client.toString('hex'), 'b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21', 'c hs traffic');
  t.equal(hs.server.toString('hex'), 'b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38', 's hs traffic');
  const suite = tls13CipherSuite(0x1301)!;
  t.equal(trafficKeys(suite, hs.server).key.toString('hex'), '3fce516009c21727d0f2e4e86ee403bc', 'server handshake key');
  const app = applicationSecrets('sha256', hs.handshakeSecret, h('9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13'));
  t.equal(app.client.toString('hex'), '9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5', 'c ap traffic');
  t.equal(app.server.toString('hex'), 'a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643', 's ap traffic');
});

t.test('HKDF-Expand-Label encodes its label structure', async (t) => {
  // The label is length(2) || vec8("tls13 " + label) || vec8(context): a different context or
  // length changes the output, and the output length is honoured beyond one hash block.
  const secret = Buffer.alloc(32, 7);
  const a = hkdfExpandLabel('sha256', secret, 'key', Buffer.alloc(0), 16);
  t.equal(a.length, 16);
  t.not(a.toString('hex'), hkdfExpandLabel('sha256', secret, 'key', Buffer.from([1]), 16).toString('hex'));
  t.not(a.toString('hex'), hkdfExpandLabel('sha256', secret, 'key', Buffer.alloc(0), 32).subarray(0, 16).toString('hex'));
  t.equal(hkdfExpandLabel('sha384', Buffer.alloc(48, 1), 'x', Buffer.alloc(0), 100).length, 100);
});

t.test('KeyUpdate and Finished derive from the traffic secret', async (t) => {
  const suite = tls13CipherSuite(0x1302)!;
  const secret = Buffer.alloc(48, 3);
  const next = nextTrafficSecret(suite, secret);
  t.equal(next.length, 48);
  t.same(next, hkdfExpandLabel('sha384', secret, 'traffic upd', Buffer.alloc(0), 48));
  const fin = finishedVerifyData13('sha384', secret, Buffer.alloc(48));
  t.equal(fin.length, 48);
  t.throws(() => trafficKeys(suite, Buffer.alloc(32)), InvalidArgumentError, 'a SHA-256-sized secret for a SHA-384 suite');
});
