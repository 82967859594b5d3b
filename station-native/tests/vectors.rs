//! The tag chain and TLS secret check against the public vectors (see tests/data/vectors.txt).

mod common;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use common::{arr32, vectors};
use sha2::{Digest, Sha256};
use tapdance_station_native::tag::testkit::{TestRng, random_payload, tagged_record};
use tapdance_station_native::tag::tls12::{Suite, VerifyError, client_keys, find_xproto, open_record};
use tapdance_station_native::tag::{StationKey, TagChecker, TagLayout, TagMiss, elligator};

fn station_key() -> StationKey {
    StationKey::from_secret(arr32(&vectors()["legacy_station_secret"]))
}

#[test]
fn station_full_chain_legacy_layout_opens_through_the_parameterised_extractor() {
    let v = vectors();
    let checker = TagChecker::new(vec![station_key()], TagLayout::LEGACY);
    let hit = checker.check_record(&v["legacy_record"]).expect("the legacy vector carries a tag");
    assert_eq!(hit.key_index, 0);
    assert_eq!(hit.key_material.to_vec(), v["legacy_k"]);
    assert_eq!(&hit.payload[..hit.payload_len], &v["legacy_payload"][..]);
}

#[test]
fn the_station_public_key_matches_the_vector() {
    assert_eq!(station_key().public().to_vec(), vectors()["legacy_station_public"]);
}

#[test]
fn synthetic_current_layout_tag_opens_to_the_published_payload() {
    let v = vectors();
    let checker = TagChecker::new(vec![station_key()], TagLayout::CURRENT);
    let hit = checker.check_record(&v["synth_record"]).expect("tag");
    assert_eq!(hit.key_material.to_vec(), v["synth_k"]);
    let p = TagChecker::payload_of(&hit).expect("132-byte payload");
    assert_eq!(p.flags, 0x01);
    assert_eq!(p.suite, 0xc02f);
    assert_eq!(p.master_secret.to_vec(), v["tls_master_secret"]);
    assert_eq!(p.server_random.to_vec(), v["tls_server_random"]);
    assert_eq!(p.client_random.to_vec(), v["tls_client_random"]);
    assert_eq!(p.conn_id, core::array::from_fn::<u8, 16, _>(|i| i as u8));
    assert_eq!(Sha256::digest(&v["synth_record"]).to_vec(), v["synth_record_sha256"]);
}

#[test]
fn synthetic_tag_bytes_and_representative_decode_to_the_client_key() {
    let v = vectors();
    let mut rep = arr32(&v["synth_tag"][..32]);
    rep[31] &= 0x3f;
    assert_eq!(elligator::decode(&rep).to_vec(), v["synth_client_u"]);
}

#[test]
fn synthetic_record_decrypts_at_sequence_one_and_its_xproto_opens_with_the_tag_key() {
    let v = vectors();
    let checker = TagChecker::new(vec![station_key()], TagLayout::CURRENT);
    let hit = checker.check_record(&v["synth_record"]).unwrap();
    let p = TagChecker::payload_of(&hit).unwrap();
    let suite = Suite::from_id(p.suite).unwrap();
    let keys = client_keys(suite, &p.master_secret, &p.client_random, &p.server_random);
    let mut scratch = vec![0u8; 16384];
    let n = open_record(suite, &keys, 1, &v["synth_record"], &mut scratch).expect("decrypts at seq 1");
    assert!(scratch[..n].starts_with(b"GET / HTTP/1.1\r\nHost: www.example.cn\r\n"));
    let mut xp = [0u8; 256];
    let m = find_xproto(&scratch[..n], &mut xp).expect("X-Proto header");
    assert_eq!(open_record(suite, &keys, 2, &v["synth_record"], &mut scratch), Err(VerifyError::BadRecordMac));
    assert_eq!(&xp[..12], &v["synth_xproto_iv"][..]);
    let cipher = Aes128Gcm::new_from_slice(&hit.key_material[..16]).unwrap();
    let mut body = xp[12..m - 16].to_vec();
    let tag: [u8; 16] = xp[m - 16..m].try_into().unwrap();
    let iv: [u8; 12] = xp[..12].try_into().unwrap();
    cipher.decrypt_inout_detached(&Nonce::from(iv), &[], (&mut body[..]).into(), &Tag::from(tag)).expect("X-Proto opens");
    assert_eq!(body, v["synth_xproto_c2s"]);
}

#[test]
fn tls12_key_block_matches_the_vector_and_the_record_opens_at_seq_one() {
    let v = vectors();
    let suite = Suite::from_id(0xc02f).unwrap();
    let keys = client_keys(suite, &v["tls_master_secret"][..].try_into().unwrap(), &arr32(&v["tls_client_random"]), &arr32(&v["tls_server_random"]));
    assert_eq!(keys.key[..16].to_vec(), v["tls_expected_client_write_key"]);
    assert_eq!(keys.iv.to_vec(), v["tls_expected_client_write_iv"]);
    let mut scratch = vec![0u8; 4096];
    let n = open_record(suite, &keys, 1, &v["tls_record"], &mut scratch).unwrap();
    assert!(scratch[..n].starts_with(&v["tls_plaintext_prefix"]));
}

#[test]
fn tag_payload_aes_gcm_vector_matches_the_crate_used_for_tags() {
    let v = vectors();
    let cipher = Aes128Gcm::new_from_slice(&v["gcm_key"]).unwrap();
    let iv: [u8; 12] = v["gcm_iv"][..].try_into().unwrap();
    let mut buf = v["gcm_plaintext"].clone();
    let tag = cipher.encrypt_inout_detached(&Nonce::from(iv), &[], (&mut buf[..]).into()).unwrap();
    buf.extend_from_slice(&tag);
    assert_eq!(buf, v["gcm_ciphertext"]);
}

#[test]
fn a_flipped_stego_bit_or_a_foreign_key_finds_no_tag() {
    let v = vectors();
    let mut rec = v["synth_record"].clone();
    let checker = TagChecker::new(vec![station_key()], TagLayout::CURRENT);
    let n = rec.len();
    rec[n - 100] ^= 0x01;
    assert_eq!(checker.check_record(&rec).err(), Some(TagMiss::NoTag));
    let other = TagChecker::new(vec![StationKey::from_secret([7u8; 32])], TagLayout::CURRENT);
    assert_eq!(other.check_record(&v["synth_record"]).err(), Some(TagMiss::NoTag));
    assert_eq!(checker.check_record(&rec[..200]).err(), Some(TagMiss::TooShort));
    assert_eq!(checker.check_record(&[]).err(), Some(TagMiss::TooShort));
}

#[test]
fn many_client_built_tags_open_with_the_right_one_of_several_keys() {
    let mut rng = TestRng::new(42);
    let keys: Vec<StationKey> = (0..3u8).map(|i| StationKey::from_secret([i + 1; 32])).collect();
    let checker = TagChecker::new(keys.clone(), TagLayout::CURRENT);
    for i in 0..60 {
        let which = i % 3;
        let suite = if i % 4 == 0 { 0xc030 } else { 0xc02f };
        let p = random_payload(&mut rng, suite);
        let (rec, k) = tagged_record(&mut rng, &keys[which].public(), &p, Some(b"x-proto bytes"));
        let hit = checker.check_record(&rec).expect("tag opens");
        assert_eq!(hit.key_index, which);
        assert_eq!(hit.key_material, k);
        assert_eq!(TagChecker::payload_of(&hit), Some(p));
        let s = Suite::from_id(suite).unwrap();
        let ck = client_keys(s, &p.master_secret, &p.client_random, &p.server_random);
        let mut scratch = vec![0u8; 4096];
        assert!(open_record(s, &ck, 1, &rec, &mut scratch).is_ok());
    }
}

#[test]
fn random_records_never_look_tagged() {
    let mut rng = TestRng::new(7);
    let checker = TagChecker::new(vec![station_key()], TagLayout::CURRENT);
    for len in [0usize, 5, 100, 260, 261, 300, 757, 1400] {
        for _ in 0..20 {
            let mut rec = vec![0u8; len];
            rng.fill(&mut rec);
            assert!(checker.check_record(&rec).is_err());
        }
    }
}
