//! TLS 1.3 flows through the worker: the client's short protected records (its Finished, right
//! after its ChangeCipherSpec, and Chrome's HTTP/2 preface) are passed over, the tagged record that
//! follows is checked once, verified with the secrets and sequence number of the variant-0x13
//! payload, and reported. A TLS 1.2 flow's short first record is still its one check.

use std::sync::Arc;

use tapdance_station_native::counters::Counters;
use tapdance_station_native::pipeline::{Config, TakenRegistry, TaggedFlow, Worker};
use tapdance_station_native::tag::StationKey;
use tapdance_station_native::tag::testkit::{TestRng, random_payload13, tagged_record13};
use tapdance_station_native::testkit::{Endpoint, Seg, frame};
use tapdance_station_native::wire::LinkType;
use tapdance_station_native::wire::tcp::{ACK, PSH, SYN};

fn key() -> StationKey {
    StationKey::from_secret([0x13; 32])
}

/// Client segments of a TLS 1.3 connection after the handshake: `records` in order, one per segment.
fn run(records: &[Vec<u8>]) -> (Vec<TaggedFlow>, Arc<Counters>) {
    let c = Arc::new(Counters::default());
    let mut w = Worker::new(Config { ack_wait_ms: 0, ..Config::default() }, vec![key()], Arc::clone(&c), Arc::new(TakenRegistry::default()));
    let client = Endpoint::v4([10, 0, 0, 1], 40000);
    let server = Endpoint::v4([10, 0, 0, 2], 443);
    let mut out = vec![];
    let mut t = 1_000u64;
    let mut send = |w: &mut Worker, src: &Endpoint, dst: &Endpoint, seg: Seg, payload: &[u8]| {
        t += 1_000_000;
        w.process(t, LinkType::Ethernet, &frame(src, dst, &seg, payload), &mut |x| out.push(x));
    };
    send(&mut w, &client, &server, Seg { seq: 100, flags: SYN, window: 64240, ..Seg::default() }, &[]);
    send(&mut w, &server, &client, Seg { seq: 500, ack: 101, flags: SYN | ACK, window: 65160, ..Seg::default() }, &[]);
    let mut hello = vec![0x16, 3, 1, 0, 200];
    hello.extend(std::iter::repeat_n(0x42, 200));
    let mut cseq = 101u32;
    let mut sseq = 501u32;
    send(&mut w, &client, &server, Seg { seq: cseq, ack: sseq, flags: PSH | ACK, window: 502, ..Seg::default() }, &hello);
    cseq += hello.len() as u32;
    // ServerHello, the compatibility CCS and the encrypted flight: no client data to check yet.
    let mut flight = vec![0x16, 3, 3, 0, 90];
    flight.extend(std::iter::repeat_n(0x33, 90));
    flight.extend_from_slice(&[0x14, 3, 3, 0, 1, 1, 0x17, 3, 3, 4, 0]);
    flight.extend(std::iter::repeat_n(0x44, 1024));
    send(&mut w, &server, &client, Seg { seq: sseq, ack: cseq, flags: PSH | ACK, window: 509, ..Seg::default() }, &flight);
    sseq += flight.len() as u32;
    for r in records {
        send(&mut w, &client, &server, Seg { seq: cseq, ack: sseq, flags: PSH | ACK, window: 502, ..Seg::default() }, r);
        cseq += r.len() as u32;
        send(&mut w, &server, &client, Seg { seq: sseq, ack: cseq, flags: ACK, window: 509, ..Seg::default() }, &[]);
    }
    (out, c)
}

fn protected(len: usize, fill: u8) -> Vec<u8> {
    let mut r = vec![0x17, 3, 3, (len >> 8) as u8, len as u8];
    r.extend(std::iter::repeat_n(fill, len));
    r
}

#[test]
fn a_tls13_tag_after_the_finished_and_an_h2_preface_is_found_and_verified() {
    let mut rng = TestRng::new(1);
    let payload = random_payload13(&mut rng, 0x1301, 1, 4);
    let (tagged, _) = tagged_record13(&mut rng, &key().public(), &payload);
    // [CCS + Finished (53-byte body)], [the h2 preface record (87)], [the tagged record].
    let mut finished = vec![0x14, 3, 3, 0, 1, 1];
    finished.extend(protected(53, 0x55));
    let (out, c) = run(&[finished, protected(87, 0x66), tagged.clone()]);
    let s = c.snapshot();
    assert_eq!((s.tag_too_short, s.tag_checks, s.tags_found, s.tagged_flows), (0, 1, 1, 1), "{s:?}");
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].payload.variant, out[0].payload.suite), (0x13, 0x1301));
    // Everything but the fit bytes (108..116), which the client chose, is the payload it sealed.
    assert_eq!(out[0].payload_bytes[..108], payload[..108]);
    assert_eq!(out[0].payload_bytes[116..], payload[116..]);
    assert_eq!(out[0].record, tagged);
}

#[test]
fn a_tls13_tag_on_a_record_that_does_not_authenticate_is_not_reported() {
    let mut rng = TestRng::new(2);
    let payload = random_payload13(&mut rng, 0x1302, 0, 2);
    let (mut tagged, _) = tagged_record13(&mut rng, &key().public(), &payload);
    let n = tagged.len();
    tagged[n - 1] ^= 1; // the record's AEAD tag: the payload still opens, the record does not
    let (out, c) = run(&[tagged]);
    let s = c.snapshot();
    assert_eq!((s.tag_checks, s.tags_found, s.verify_bad_mac, s.tagged_flows), (1, 1, 1, 0));
    assert!(out.is_empty());
}

#[test]
fn an_untagged_tls13_flow_is_checked_once_on_its_first_long_record() {
    let mut finished = vec![0x14, 3, 3, 0, 1, 1];
    finished.extend(protected(53, 0x55));
    let (out, c) = run(&[finished, protected(700, 0x77), protected(900, 0x78)]);
    let s = c.snapshot();
    assert_eq!((s.tag_too_short, s.tag_checks, s.tags_found), (0, 1, 0));
    assert_eq!(s.flows_tracked, 0, "forgotten after its one check");
    assert!(out.is_empty());
}

#[test]
fn a_short_first_record_without_the_tls13_pattern_is_still_the_one_check() {
    // TLS 1.2: the client's CCS is followed by its encrypted Finished (type 0x16), so a short
    // request afterwards (a plain GET) is checked and the flow forgotten, as before.
    let mut fin = vec![0x16, 3, 3, 0, 70];
    fin.extend(std::iter::repeat_n(0x11, 70));
    fin.extend_from_slice(&[0x14, 3, 3, 0, 1, 1, 0x16, 3, 3, 0, 40]);
    fin.extend(std::iter::repeat_n(0x22, 40));
    let (out, c) = run(&[fin, protected(60, 0x77), protected(700, 0x78)]);
    let s = c.snapshot();
    assert_eq!((s.tag_too_short, s.tag_checks, s.tags_found, s.flows_tracked), (1, 1, 0, 0));
    assert!(out.is_empty());
}

#[test]
fn false_start_data_with_a_tls12_finished_marks_the_flow_and_a_later_0x12_tag_is_checked() {
    use tapdance_station_native::tag::testkit::{random_payload, seal_record, seal_tag};
    use tapdance_station_native::tag::tls12::{Suite, VARIANT_TLS12_KEYS, client_keys};
    let mut rng = TestRng::new(5);
    let p = random_payload(&mut rng, 0xc02f);
    let keys = client_keys(Suite::Aes128GcmSha256, &p.master_secret, &p.client_random, &p.server_random);
    // [CKE][CCS][Finished][the HTTP/2 preface at seq 1] in one segment, as Chrome sends it.
    let mut flight = vec![0x16, 3, 3, 0, 70];
    flight.extend(std::iter::repeat_n(0x11, 70));
    flight.extend_from_slice(&[0x14, 3, 3, 0, 1, 1, 0x16, 3, 3, 0, 40]);
    flight.extend(std::iter::repeat_n(0x22, 40));
    flight.extend(seal_record(Suite::Aes128GcmSha256, &keys, 1, &[0x50; 70]));
    // The tagged HEADERS record at seq 2, with a variant-0x12 payload.
    let mut payload = [0u8; 132];
    payload[0] = 1;
    payload[1] = VARIANT_TLS12_KEYS;
    payload[2..4].copy_from_slice(&0xc02fu16.to_be_bytes());
    payload[4..20].copy_from_slice(&keys.key[..16]);
    payload[68..72].copy_from_slice(&keys.iv);
    payload[92..96].copy_from_slice(&2u32.to_be_bytes());
    payload[96..100].copy_from_slice(&2u32.to_be_bytes());
    let (tag, _) = seal_tag(&mut rng, &key().public(), &payload);
    let prefix = [0x41u8; 300];
    let zeros = seal_record(Suite::Aes128GcmSha256, &keys, 2, &vec![0u8; prefix.len() + 240]);
    let ks = &zeros[13..13 + prefix.len() + 240];
    let mut content = prefix.to_vec();
    content.extend(tapdance_station_native::tag::stego::encode(&tag, &ks[prefix.len()..]));
    let tagged = seal_record(Suite::Aes128GcmSha256, &keys, 2, &content);
    let (out, c) = run(&[flight, tagged]);
    let s = c.snapshot();
    assert_eq!((s.tag_checks, s.tags_found, s.tagged_flows), (1, 1, 1), "{s:?}");
    assert_eq!(out[0].payload.variant, VARIANT_TLS12_KEYS);
}
