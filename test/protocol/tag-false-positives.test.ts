import t from 'tap';
import { randomBytes, randomInt } from 'node:crypto';
import { generateStationKeyPair } from '../../src/crypto/keys.js';
import { readTag, readTaggedRecord } from '../../src/protocol/tag-reader.js';
import { gcmKeystream, sealGcmRecord } from './tls-helpers.js';

const PATHS = ['/', '/index.html', '/api/v1/items?page=3', '/static/app.js', '/images/logo.png'];
const HOSTS = ['www.example.com', 'cdn.example.net', 'decoy.example.org', 'news.example'];

/** An HTTP/1.1 request of realistic shape: GET or POST, a few headers, sometimes a body. */
function httpLikePlaintext(): Uint8Array {
  const lines = [
    `${randomInt(4) === 0 ? 'POST' : 'GET'} ${PATHS[randomInt(PATHS.length)]} HTTP/1.1`,
    `Host: ${HOSTS[randomInt(HOSTS.length)]}`,
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'Accept-Language: en-US,en;q=0.5',
    `Cookie: session=${randomBytes(randomInt(8, 64)).toString('base64')}`,
    `X-Ignore: ${'#'.repeat(randomInt(0, 600))}`,
  ];
  const head = lines.slice(0, randomInt(2, lines.length + 1)).join('\r\n') + '\r\n\r\n';
  const body = randomInt(3) === 0 ? randomBytes(randomInt(0, 2000)).toString('latin1') : '';
  return new Uint8Array(Buffer.from(head + body, 'latin1'));
}

/** Random bytes framed as one application-data record whose body is long enough to hold a tag. */
function randomRecord(): Uint8Array {
  const body = randomBytes(randomInt(256, 1500));
  const rec = new Uint8Array(5 + body.length);
  rec.set([0x17, 0x03, 0x03, body.length >> 8, body.length & 0xff]);
  rec.set(body, 5);
  return rec;
}

t.test('100,000 untagged records (random and real AES-GCM) give no tag and never throw', async (t) => {
  const station = [generateStationKeyPair().secretKey];
  let positives = 0;
  let thrown = 0;
  let checked = 0;
  for (let i = 0; i < 100_000; i++) {
    let record: Uint8Array;
    if (i % 2 === 0) {
      record = randomRecord();
    } else {
      const keys = { key: randomBytes(i % 10 === 1 ? 32 : 16), iv: randomBytes(4) };
      const plain = httpLikePlaintext();
      // Half of the realistic records end in printable stego-like bytes chosen against the keystream.
      if (i % 4 === 1 && plain.length > 240) {
        const ks = gcmKeystream(keys, 1n, plain.length);
        for (let j = plain.length - 240; j < plain.length; j++) plain[j] = ((ks[j]! ^ randomInt(256)) & 0x3f) + 0x40;
      }
      record = sealGcmRecord(keys, 1n, plain);
    }
    try {
      checked++;
      if (readTag(record, station) !== null) positives++;
    } catch {
      thrown++;
    }
  }
  t.equal(checked, 100_000);
  t.equal(positives, 0, 'no false positives');
  t.equal(thrown, 0, 'never throws');
});

t.test('truncated, extended and bit-flipped records of every small size never throw', async (t) => {
  const station = [generateStationKeyPair().secretKey];
  let thrown = 0;
  for (let len = 0; len < 300; len++) {
    for (const fill of [0x00, 0xff, 0x17]) {
      const rec = new Uint8Array(len).fill(fill);
      if (len >= 5) rec.set([0x17, 0x03, 0x03, (len - 5) >> 8, (len - 5) & 0xff]);
      try {
        if (readTaggedRecord(rec, station) !== null) t.fail(`tag found in a ${len}-byte constant record`);
      } catch {
        thrown++;
      }
    }
  }
  t.equal(thrown, 0);
});
