//! Live key rotation: workers built on a shared key ring check new flows with replaced keys,
//! without a restart and without disturbing a flow that is already waiting for its takeover.

use std::sync::Arc;

use tapdance_station_native::counters::Counters;
use tapdance_station_native::pipeline::{Config, TakenRegistry, TaggedFlow, Worker};
use tapdance_station_native::tag::StationKey;
use tapdance_station_native::tag::ring::KeyRing;
use tapdance_station_native::tag::testkit::TestRng;
use tapdance_station_native::testkit::{ConvSpec, Endpoint, conversation};
use tapdance_station_native::wire::LinkType;

fn old_key() -> StationKey {
    StationKey::from_secret([0x11; 32])
}

fn new_key() -> StationKey {
    StationKey::from_secret([0x22; 32])
}

/// Runs one tagged conversation for `public` through `w` and returns what it reported.
fn run(w: &mut Worker, rng: &mut TestRng, port: u16, public: [u8; 32], start_ns: u64) -> Vec<TaggedFlow> {
    let conv = conversation(rng, Endpoint::v4([10, 0, 0, 1], port), Endpoint::v4([10, 0, 0, 2], 443), &ConvSpec { station_public: Some(public), download: 0, vlan: None, start_ns });
    let mut out = vec![];
    for (t, f) in &conv.frames {
        w.process(*t, LinkType::Ethernet, f, &mut |x| out.push(x));
    }
    out
}

#[test]
fn replaced_keys_serve_new_flows_and_dropped_keys_stop_matching() {
    let ring = Arc::new(KeyRing::new(vec![old_key()]));
    let counters: Vec<Arc<Counters>> = (0..2).map(|_| Arc::new(Counters::default())).collect();
    let mut workers: Vec<Worker> = counters.iter().map(|c| Worker::with_key_ring(Config::default(), Arc::clone(&ring), Arc::clone(c), Arc::new(TakenRegistry::default()))).collect();
    let mut rng = TestRng::new(21);

    assert_eq!(run(&mut workers[0], &mut rng, 4000, new_key().public(), 1_000_000_000).len(), 0, "the new key is unknown before the reload");
    assert_eq!(run(&mut workers[0], &mut rng, 4001, old_key().public(), 2_000_000_000).len(), 1);

    assert_eq!(ring.replace(vec![old_key(), new_key()]), 1);
    let hits = run(&mut workers[0], &mut rng, 4002, new_key().public(), 3_000_000_000);
    assert_eq!(hits.len(), 1, "a flow tagged for the new key is reported after the reload");
    assert_eq!(hits[0].key_index, 1);
    assert_eq!(run(&mut workers[0], &mut rng, 4003, old_key().public(), 4_000_000_000).len(), 1, "the old key still works while listed");

    // An idle worker switches on its timer tick, before it sees any traffic.
    workers[1].tick(5_000_000_000, &mut |_| {});
    let s1 = counters[1].snapshot();
    assert_eq!((s1.keys, s1.key_updates, s1.tag_checks), (2, 1, 0));

    ring.replace(vec![new_key()]);
    assert_eq!(run(&mut workers[0], &mut rng, 4004, old_key().public(), 6_000_000_000).len(), 0, "a dropped key no longer matches");
    let hits = run(&mut workers[0], &mut rng, 4005, new_key().public(), 7_000_000_000);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].key_index, 0);
    let s0 = counters[0].snapshot();
    assert_eq!((s0.keys, s0.key_updates), (1, 2));
}

#[test]
fn a_flow_waiting_for_its_ack_is_reported_after_a_key_change() {
    let ring = Arc::new(KeyRing::new(vec![old_key()]));
    let c = Arc::new(Counters::default());
    let mut w = Worker::with_key_ring(Config::default(), Arc::clone(&ring), Arc::clone(&c), Arc::new(TakenRegistry::default()));
    let mut rng = TestRng::new(22);
    let conv = conversation(&mut rng, Endpoint::v4([10, 0, 0, 1], 5000), Endpoint::v4([10, 0, 0, 2], 443), &ConvSpec { station_public: Some(old_key().public()), download: 0, vlan: None, start_ns: 1_000_000_000 });
    let mut out = vec![];
    let n = conv.frames.len();
    // Everything but the decoy's ACK of the tagged record: the flow is verified and waiting.
    for (t, f) in &conv.frames[..n - 1] {
        w.process(*t, LinkType::Ethernet, f, &mut |x| out.push(x));
    }
    assert!(out.is_empty());
    ring.replace(vec![new_key()]);
    let (t, f) = &conv.frames[n - 1];
    w.process(*t, LinkType::Ethernet, f, &mut |x| out.push(x));
    assert_eq!(out.len(), 1, "the verified flow is still taken over");
    assert!(out[0].ack_seen);
}
