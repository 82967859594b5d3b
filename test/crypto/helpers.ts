/** Shared fixtures of the crypto and protocol tests: the vector files, read once. */
import { readFileSync } from 'node:fs';

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}

/** test/vectors/tapdance.json: vectors from public TapDance code (sources in its `_about`). */
export const publicVectors = load<{
  tag_payload_aes_gcm: { key: string; iv: string; plaintext: string; ciphertext_with_gcm_tag: string };
  stego_encode: { tag: string; keystream: string; expected_plaintext_ascii: string };
  tls12_key_block_and_first_app_record: {
    cipher_suite: string;
    master_secret: string;
    client_random: string;
    server_random: string;
    record: string;
    expected_client_write_key: string;
    expected_client_write_iv: string;
  };
  station_full_chain_legacy_layout: {
    station_secret_key: string;
    station_public_key: string;
    record: string;
    expected_payload: string;
  };
}>('tapdance.json');

/** test/vectors/tapdance-synthetic.json: the 180-byte full-chain vector of the reference §7.2. */
export const syntheticVector = load<{
  station_secret_key: string;
  station_public_key: string;
  client_private_key: string;
  client_public_key: string;
  client_representative: string;
  top_bits_mask: string;
  shared_secret: string;
  tag_key_material: string;
  cipher_suite: string;
  master_secret: string;
  server_random: string;
  client_random: string;
  payload: string;
  tag: string;
  client_to_station: string;
  x_proto_iv: string;
  x_proto_base64: string;
  host: string;
  padding_length: number;
  request_prefix_length: number;
  request_length: number;
  record: string;
  record_sha256: string;
}>('tapdance-synthetic.json');
