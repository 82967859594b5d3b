/**
 * TLS certificate compression (RFC 8879): turn a CompressedCertificate back into the Certificate
 * message body, with node:zlib's brotli (the algorithm Chrome offers) and zlib; and the reverse
 * for test servers.
 *
 * Decompression is bounded: the output may not exceed the declared length, which may not exceed
 * {@link MAX_UNCOMPRESSED_CERTIFICATE}, so a small message cannot make us inflate megabytes. A
 * message that does not decompress to exactly its declared length is `ERR_TLS_BAD_CERTIFICATE`.
 *
 * @module
 */
import { brotliCompressSync, brotliDecompressSync, deflateSync, inflateSync } from 'node:zlib';
import { TlsError } from './errors.js';
import { MAX_UNCOMPRESSED_CERTIFICATE } from './handshake-messages13.js';

/** Compression algorithms (RFC 8879 §7.3). */
export const CertificateCompressionAlgorithm = { zlib: 1, brotli: 2, zstd: 3 } as const;

/** Algorithms this module can decompress. */
export const SUPPORTED_CERTIFICATE_COMPRESSION: ReadonlySet<number> = new Set([
  CertificateCompressionAlgorithm.zlib, CertificateCompressionAlgorithm.brotli,
]);

/**
 * Decompress a CompressedCertificate's data.
 *
 * @param algorithm - the algorithm the server used.
 * @param data - compressed bytes.
 * @param uncompressedLength - the declared length of the result.
 * @returns the Certificate message body.
 * @throws TlsError `ERR_TLS_BAD_CERTIFICATE` for an unsupported algorithm, an oversize
 *   declaration, corrupt data or a length mismatch.
 */
export function decompressCertificate(algorithm: number, data: Uint8Array, uncompressedLength: number): Buffer {
  if (!SUPPORTED_CERTIFICATE_COMPRESSION.has(algorithm)) {
    throw new TlsError('ERR_TLS_BAD_CERTIFICATE', `certificate compressed with algorithm ${algorithm}`, { context: { algorithm } });
  }
  if (uncompressedLength === 0 || uncompressedLength > MAX_UNCOMPRESSED_CERTIFICATE) {
    throw new TlsError('ERR_TLS_BAD_CERTIFICATE', 'compressed certificate declares an unusable length', { context: { uncompressedLength } });
  }
  let out: Buffer;
  try {
    // One byte more than declared lets a too-long result show itself instead of being cut off.
    const options = { maxOutputLength: uncompressedLength + 1 };
    out = algorithm === CertificateCompressionAlgorithm.brotli ? brotliDecompressSync(data, options) : inflateSync(data, options);
  } catch (cause) {
    throw new TlsError('ERR_TLS_BAD_CERTIFICATE', 'compressed certificate does not decompress', { cause, context: { algorithm } });
  }
  if (out.length !== uncompressedLength) {
    throw new TlsError('ERR_TLS_BAD_CERTIFICATE', 'compressed certificate has the wrong length',
      { context: { declared: uncompressedLength, actual: out.length } });
  }
  return out;
}

/**
 * Compress a Certificate message body (test servers).
 *
 * @param algorithm - zlib (1) or brotli (2).
 * @param body - the Certificate body.
 * @returns the compressed bytes.
 */
export function compressCertificate(algorithm: number, body: Uint8Array): Buffer {
  return algorithm === CertificateCompressionAlgorithm.brotli ? brotliCompressSync(body) : deflateSync(body);
}
