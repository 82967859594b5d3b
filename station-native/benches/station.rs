//! `cargo bench`: tag checks per second per core (tagged and untagged records), measured here
//! against a baseline of one bare X25519 in the same run. Prints ratios, asserts nothing.

use std::hint::black_box;
use std::time::Instant;

use curve25519_dalek::montgomery::MontgomeryPoint;
use tapdance_station_native::tag::testkit::{TestRng, random_payload, tagged_record};
use tapdance_station_native::tag::{StationKey, TagChecker, TagLayout};

fn rate<F: FnMut()>(min_secs: f64, mut f: F) -> f64 {
    let mut n = 0u64;
    let t = Instant::now();
    loop {
        for _ in 0..64 {
            f();
        }
        n += 64;
        let e = t.elapsed().as_secs_f64();
        if e >= min_secs {
            return n as f64 / e;
        }
    }
}

fn main() {
    let mut rng = TestRng::new(1);
    let key = StationKey::from_secret([9u8; 32]);
    let checker = TagChecker::new(vec![key.clone()], TagLayout::CURRENT);
    let p = random_payload(&mut rng, 0xc02f);
    let (tagged, _) = tagged_record(&mut rng, &key.public(), &p, None);
    let mut untagged = tagged.clone();
    let n = untagged.len();
    untagged[n - 40] ^= 1;
    let x = rate(1.0, || {
        black_box(MontgomeryPoint(black_box([9u8; 32])).mul_clamped(black_box([5u8; 32])));
    });
    let hit = rate(1.0, || {
        black_box(checker.check_record(black_box(&tagged)).is_ok());
    });
    let miss = rate(1.0, || {
        black_box(checker.check_record(black_box(&untagged)).is_ok());
    });
    println!("x25519 baseline        {:>10.0} /s", x);
    println!("tag check (tagged)     {:>10.0} /s  ({:.2}x of bare X25519)", hit, hit / x);
    println!("tag check (untagged)   {:>10.0} /s  ({:.2}x of bare X25519; target >= 30000/s/core)", miss, miss / x);
}
