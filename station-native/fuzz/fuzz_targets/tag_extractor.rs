//! Arbitrary bytes as TLS records through the stego extractor, Elligator decode, the tag check
//! (both layouts), the record scan and the TLS secret check: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapdance_station_native::tag::tls12::{Suite, client_keys, find_xproto, open_record};
use tapdance_station_native::tag::{StationKey, TagChecker, TagLayout, elligator, stego};
use tapdance_station_native::wire::tls::first_app_data;

fuzz_target!(|data: &[u8]| {
    let key = StationKey::from_secret([0x42; 32]);
    for layout in [TagLayout::CURRENT, TagLayout::LEGACY] {
        let _ = TagChecker::new(vec![key.clone()], layout).check_record(data);
    }
    let _ = first_app_data(data);
    if data.len() >= 32 {
        let mut r = [0u8; 32];
        r.copy_from_slice(&data[..32]);
        let _ = elligator::decode(&r);
        let _ = elligator::decode_edwards_y(&r);
    }
    let mut out = [0u8; 256];
    let _ = stego::extract(&data[..data.len() / 4 * 4], &mut out);
    let mut scratch = vec![0u8; 20_000];
    let keys = client_keys(Suite::Aes128GcmSha256, &[7; 48], &[1; 32], &[2; 32]);
    let _ = open_record(Suite::Aes128GcmSha256, &keys, 1, data, &mut scratch);
    let mut xp = [0u8; 2048];
    let _ = find_xproto(data, &mut xp);
});
