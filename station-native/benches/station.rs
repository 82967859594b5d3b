//! `cargo bench`: tag checks per second per core (tagged and untagged records) against a baseline
//! of one bare X25519 Montgomery ladder measured in the same run, and replay of a synthetic
//! realistic mix through one worker (Gbps, Mpps per core). Prints ratios, asserts nothing.

use std::hint::black_box;
use std::time::Instant;

use curve25519_dalek::montgomery::MontgomeryPoint;
use tapdance_station_native::tag::testkit::{TestRng, random_payload, tagged_record};
use tapdance_station_native::capture::pcap::PcapFile;
use tapdance_station_native::pipeline::Config;
use tapdance_station_native::replay::replay;
use tapdance_station_native::tag::{StationKey, TagChecker, TagLayout};
use tapdance_station_native::testkit::realistic_mix;

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
    let (pcap, _) = realistic_mix(1, 4000, 40, key.public());
    let mut file = PcapFile::from_bytes(pcap).expect("synthetic pcap");
    let r = replay(&mut file, vec![key], Config::default(), 5).expect("replay");
    let secs = r.elapsed.as_secs_f64();
    let gbps = r.counters.bytes as f64 * 8.0 / secs / 1e9;
    println!("replay (one worker)    {:>10.2} Gbps  {:.2} Mpps  ({:.2}x the 5 Gbps/core target)", gbps, r.counters.packets as f64 / secs / 1e6, gbps / 5.0);
    println!("flow table             {:>10.1} bytes per tracked flow (budget 256)", r.table_memory as f64 / r.table_capacity as f64);
}
