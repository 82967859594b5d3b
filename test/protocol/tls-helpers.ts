/**
 * TLS 1.2 AES-GCM records sealed with node:crypto directly (RFC 5246 §6.2.3.3, RFC 5288), so the
 * protocol tests do not rely on the code under test (or the TLS layer) to produce their input.
 */
import { createCipheriv } from 'node:crypto';

/** Client write key and 4-byte implicit IV of one session. */
export interface GcmWriteKeys {
  key: Uint8Array;
  iv: Uint8Array;
}

function nonce(keys: GcmWriteKeys, seq: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.set(keys.iv, 0);
  n.writeBigUInt64BE(seq, 4);
  return n;
}

function algo(key: Uint8Array): 'aes-128-gcm' | 'aes-256-gcm' {
  return key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm';
}

/** The first n keystream bytes of the record with sequence number seq: AES-CTR from block 2. */
export function gcmKeystream(keys: GcmWriteKeys, seq: bigint, n: number): Uint8Array {
  const counter = Buffer.concat([nonce(keys, seq), Buffer.from([0, 0, 0, 2])]);
  const ctr = keys.key.length === 16 ? 'aes-128-ctr' : 'aes-256-ctr';
  return new Uint8Array(createCipheriv(ctr, keys.key, counter).update(Buffer.alloc(n)));
}

/** One application-data record: header, explicit nonce = seq, ciphertext, tag. */
export function sealGcmRecord(keys: GcmWriteKeys, seq: bigint, plaintext: Uint8Array): Uint8Array {
  const aad = Buffer.alloc(13);
  aad.writeBigUInt64BE(seq, 0);
  aad[8] = 23;
  aad.writeUInt16BE(0x0303, 9);
  aad.writeUInt16BE(plaintext.length, 11);
  const c = createCipheriv(algo(keys.key), keys.key, nonce(keys, seq), { authTagLength: 16 });
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  const header = Buffer.alloc(13);
  header[0] = 23;
  header.writeUInt16BE(0x0303, 1);
  header.writeUInt16BE(8 + body.length, 3);
  header.writeBigUInt64BE(seq, 5);
  return new Uint8Array(Buffer.concat([header, body]));
}
