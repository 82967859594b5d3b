//! Arbitrary frames through every link type's parser and through a worker (flow table, TLS
//! scan, tag check): nothing may panic, and memory stays bounded by the fixed table.
#![no_main]

use std::sync::Arc;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use tapdance_station_native::counters::Counters;
use tapdance_station_native::pipeline::{Config, TakenRegistry, Worker};
use tapdance_station_native::tag::StationKey;
use tapdance_station_native::wire::{LinkType, parse_frame};

static WORKER: Mutex<Option<Worker>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    for link in [LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll, LinkType::LinuxSll2] {
        if let Ok(p) = parse_frame(link, data) {
            let _ = (p.tcp.options(), p.tcp.payload().len(), p.tcp.flags());
        }
    }
    let mut w = WORKER.lock().unwrap_or_else(|e| e.into_inner());
    let w = w.get_or_insert_with(|| {
        let cfg = Config { flow_capacity: 256, ..Config::default() };
        Worker::new(cfg, vec![StationKey::from_secret([0x42; 32])], Arc::new(Counters::default()), Arc::new(TakenRegistry::default()))
    });
    // The first 8 bytes pick the capture time so timers and eviction run too.
    let (ts, frame) = if data.len() >= 8 { (u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8])) % (1 << 40), &data[8..]) } else { (0, data) };
    w.process(ts, LinkType::Ethernet, frame, &mut |_| {});
});
