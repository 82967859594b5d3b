//! The worker pipeline end to end on synthetic captures: exactly the tagged flows come out, with
//! the TCP state a takeover needs; bad input is counted and bounded.

use std::sync::Arc;

use tapdance_station_native::capture::pcap::{PcapFile, PcapWriter};
use tapdance_station_native::counters::Counters;
use tapdance_station_native::pipeline::{Config, TakenRegistry, TaggedFlow, Worker};
use tapdance_station_native::replay::replay;
use tapdance_station_native::tag::testkit::{TestRng, random_payload, tagged_record};
use tapdance_station_native::tag::StationKey;
use tapdance_station_native::testkit::{ConvSpec, Endpoint, Seg, conversation, frame, realistic_mix, syn_options};
use tapdance_station_native::wire::LinkType;
use tapdance_station_native::wire::tcp::{ACK, PSH, SYN};

fn key() -> StationKey {
    StationKey::from_secret([0x42; 32])
}

fn worker(capacity: usize) -> (Worker, Arc<Counters>) {
    let c = Arc::new(Counters::default());
    let cfg = Config { flow_capacity: capacity, ..Config::default() };
    (Worker::new(cfg, vec![StationKey::from_secret([1; 32]), key()], Arc::clone(&c), Arc::new(TakenRegistry::default())), c)
}

#[test]
fn a_realistic_mix_yields_exactly_its_tagged_flows_with_their_tcp_state() {
    let (pcap, convs) = realistic_mix(11, 300, 7, key().public());
    let mut file = PcapFile::from_bytes(pcap).unwrap();
    let r = replay(&mut file, vec![StationKey::from_secret([1; 32]), key()], Config::default(), 1).unwrap();
    assert!(!convs.is_empty());
    assert_eq!(r.tagged.len(), convs.len(), "{:?}", r.counters);
    for conv in &convs {
        let t: &TaggedFlow = r.tagged.iter().find(|t| Some(t.payload.conn_id) == conv.conn_id).expect("reported");
        assert_eq!(t.key_index, 1);
        assert!(t.ack_seen);
        assert_eq!(t.flow.key.client_port, conv.client.port);
        assert_eq!(t.flow.key.server_port, 443);
        assert_eq!(t.flow.v6, conv.client.v6);
        assert_eq!(t.flow.client.next_seq, conv.first_app_end);
        assert_eq!(t.flow.tagged_end, conv.first_app_end);
        assert_eq!(t.flow.server.next_seq, conv.server_next);
        assert_eq!(t.flow.server.ack, conv.first_app_end);
        assert_eq!(t.flow.client.ack, conv.server_next, "the client acknowledged the decoy's data");
        assert_eq!(t.flow.server.tsval, conv.server_tsval);
        assert_eq!((t.flow.client_syn.mss, t.flow.client_syn.wscale, t.flow.client_syn.sack_permitted, t.flow.client_syn.timestamps), (1460, Some(7), true, true));
        assert_eq!((t.flow.server_syn.mss, t.flow.server_syn.wscale), (1460, Some(7)));
        assert_eq!(t.flow.server.window, 509);
        assert_eq!(t.xproto, b"xproto-bytes");
    }
    let c = r.counters;
    assert_eq!(c.tags_found, convs.len() as u64);
    assert_eq!(c.tagged_flows, convs.len() as u64);
    // every :443 flow was checked exactly once (port-80 flows are never tracked)
    let tls_flows = (0..300).filter(|i| i % 10 != 3).count() as u64;
    assert_eq!(c.syns, tls_flows);
    assert_eq!(c.tag_checks, tls_flows);
    assert!(c.other_ports > 0);
}

#[test]
fn a_flow_is_checked_exactly_once_even_when_more_records_follow() {
    let (mut w, c) = worker(64);
    let mut rng = TestRng::new(3);
    let conv = conversation(&mut rng, Endpoint::v4([10, 0, 0, 1], 5555), Endpoint::v4([10, 0, 0, 2], 443), &ConvSpec { station_public: None, download: 5000, vlan: None, start_ns: 1 });
    let mut out = vec![];
    for (t, f) in &conv.frames {
        w.process(*t, LinkType::Ethernet, f, &mut |x| out.push(x));
    }
    // replay the first app-data frame again: the flow is gone, nothing is checked twice
    let app = conv.frames.iter().find(|(_, f)| f.len() > 600 && f[66] == 0x17).unwrap();
    w.process(app.0 + 1, LinkType::Ethernet, &app.1, &mut |x| out.push(x));
    assert_eq!(c.snapshot().tag_checks, 1);
    assert!(out.is_empty());
}

#[test]
fn the_ack_wait_is_bounded_when_the_decoy_ack_never_comes() {
    let (mut w, c) = worker(64);
    let mut rng = TestRng::new(4);
    let conv = conversation(&mut rng, Endpoint::v4([10, 0, 0, 1], 5555), Endpoint::v4([10, 0, 0, 2], 443), &ConvSpec { station_public: Some(key().public()), download: 0, vlan: None, start_ns: 1_000_000_000 });
    let mut out = vec![];
    let n = conv.frames.len();
    for (t, f) in &conv.frames[..n - 1] {
        w.process(*t, LinkType::Ethernet, f, &mut |x| out.push(x));
    }
    assert!(out.is_empty());
    let last = conv.frames[n - 2].0;
    w.tick(last + 100_000_000, &mut |x| out.push(x));
    assert!(out.is_empty(), "still waiting inside the bound");
    w.tick(last + 300_000_000, &mut |x| out.push(x));
    assert_eq!(out.len(), 1);
    assert!(!out[0].ack_seen);
    assert_eq!(c.snapshot().takeover_ack_timeout, 1);
}

#[test]
fn a_syn_flood_fills_the_table_then_everything_is_counted_and_evicted() {
    let (mut w, c) = worker(1024);
    let server = Endpoint::v4([192, 0, 2, 1], 443);
    let mut out = vec![];
    for i in 0..5000u32 {
        let client = Endpoint::v4([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 1000 + (i % 50000) as u16);
        let f = frame(&client, &server, &Seg { seq: i, flags: SYN, window: 1000, options: syn_options(1460, 1, 0, 7), ..Seg::default() }, &[]);
        w.process(1_000_000_000 + u64::from(i), LinkType::Ethernet, &f, &mut |x| out.push(x));
    }
    let s = c.snapshot();
    assert_eq!(s.syns, 5000);
    assert_eq!(s.flows_created, 1024);
    assert_eq!(s.table_full, 5000 - 1024);
    assert_eq!(s.flows_tracked, 1024);
    let mem = w.table_memory();
    // after the handshake timeout every half-open flow is evicted and new flows fit again
    w.tick(1_000_000_000 + 11_000_000_000, &mut |x| out.push(x));
    let s = c.snapshot();
    assert_eq!(s.flows_evicted, 1024);
    assert_eq!(s.flows_tracked, 0);
    assert_eq!(w.table_memory(), mem);
    let f = frame(&Endpoint::v4([10, 9, 9, 9], 999), &server, &Seg { seq: 1, flags: SYN, window: 1000, ..Seg::default() }, &[]);
    w.process(12_000_000_000, LinkType::Ethernet, &f, &mut |x| out.push(x));
    assert_eq!(c.snapshot().flows_created, 1025);
}

#[test]
fn truncated_frames_fragments_ip_options_and_bogus_tls_are_counted_without_a_crash() {
    let (mut w, c) = worker(64);
    let client = Endpoint::v4([10, 0, 0, 1], 5555);
    let server = Endpoint::v4([10, 0, 0, 2], 443);
    let syn = frame(&client, &server, &Seg { seq: 1, flags: SYN, window: 1000, options: syn_options(1460, 1, 0, 7), ..Seg::default() }, &[]);
    let mut out = vec![];
    for cut in 0..syn.len() {
        w.process(1, LinkType::Ethernet, &syn[..cut], &mut |x| out.push(x));
    }
    let s = c.snapshot();
    assert_eq!(s.packets, syn.len() as u64);
    assert_eq!(s.truncated + s.not_ip, syn.len() as u64, "{s:?}");
    // a fragment
    let mut frag = syn.clone();
    frag[14 + 6] = 0x20; // MF
    w.process(2, LinkType::Ethernet, &frag, &mut |x| out.push(x));
    assert_eq!(c.snapshot().fragments, 1);
    // IPv4 options: insert 4 bytes of NOP options after the 20-byte header
    let mut opt = syn[..34].to_vec();
    opt[14] = 0x46;
    let tot = u16::from_be_bytes([opt[16], opt[17]]) + 4;
    opt[16..18].copy_from_slice(&tot.to_be_bytes());
    opt.extend_from_slice(&[1, 1, 1, 0]);
    opt.extend_from_slice(&syn[34..]);
    w.process(3, LinkType::Ethernet, &opt, &mut |x| out.push(x));
    let s = c.snapshot();
    assert_eq!((s.ip_options, s.syns, s.flows_created), (1, 1, 1));
    // bogus TLS: a record claiming 60000 bytes
    let data = frame(&client, &server, &Seg { seq: 2, ack: 1, flags: PSH | ACK, window: 1000, ..Seg::default() }, &[0x17, 3, 3, 0xea, 0x60, 1, 2, 3]);
    w.process(4, LinkType::Ethernet, &data, &mut |x| out.push(x));
    assert_eq!(c.snapshot().tls_bogus, 1);
    assert_eq!(c.snapshot().flows_tracked, 0);
    assert!(out.is_empty());
}

#[test]
fn a_record_whose_tag_opens_but_whose_tls_secrets_are_wrong_is_not_reported() {
    let (mut w, c) = worker(64);
    let mut rng = TestRng::new(9);
    let client = Endpoint::v4([10, 0, 0, 1], 5555);
    let server = Endpoint::v4([10, 0, 0, 2], 443);
    let p = random_payload(&mut rng, 0xc02f);
    let (mut rec, _) = tagged_record(&mut rng, &key().public(), &p, None);
    let n = rec.len();
    rec[n - 1] ^= 0x80; // the record's GCM tag (outside the stego bytes)
    let syn = frame(&client, &server, &Seg { seq: 1, flags: SYN, window: 1000, ..Seg::default() }, &[]);
    let data = frame(&client, &server, &Seg { seq: 2, ack: 1, flags: PSH | ACK, window: 1000, ..Seg::default() }, &rec);
    let mut out = vec![];
    w.process(1, LinkType::Ethernet, &syn, &mut |x| out.push(x));
    w.process(2, LinkType::Ethernet, &data, &mut |x| out.push(x));
    let s = c.snapshot();
    assert_eq!((s.tag_checks, s.tags_found, s.verify_bad_mac, s.tagged_flows), (1, 1, 1, 0));
    assert!(out.is_empty());
}

#[test]
fn pcap_files_cut_anywhere_end_in_an_error_not_a_panic() {
    let (pcap, _) = realistic_mix(5, 5, 1, key().public());
    for cut in [0usize, 3, 23, 24, 30, 100, pcap.len() / 2, pcap.len() - 1] {
        match PcapFile::from_bytes(pcap[..cut].to_vec()) {
            Err(e) => assert_eq!(e.code, "ERR_CAPTURE_FILE"),
            Ok(mut f) => {
                let r = f.for_each(&mut |_, _, _| {});
                assert!(cut == 24 || r.is_err(), "cut {cut}");
            }
        }
    }
    let mut w = PcapWriter::new(1);
    w.push(5, &[1, 2, 3]);
    let mut f = PcapFile::from_bytes(w.into_bytes()).unwrap();
    let mut seen = vec![];
    f.for_each(&mut |t, l, b| seen.push((t, l, b.to_vec()))).unwrap();
    assert_eq!(seen, vec![(0, LinkType::Ethernet, vec![1, 2, 3])]);
}

/// A TLS 1.2 False Start handshake (SPEC.md §5.1): the tagged record leaves in the segment of the
/// client's ChangeCipherSpec and Finished, before the decoy's Finished. Returns the frames up to
/// and including the client's flight, the decoy's ticket + ChangeCipherSpec + Finished segment, and
/// the decoy's sequence number after it.
fn false_start_frames(rng: &mut TestRng) -> (Vec<Vec<u8>>, Vec<u8>, u32, u32) {
    false_start_frames_with(rng, &[])
}

/// As [`false_start_frames`], with `after` appended to the decoy's Finished segment.
fn false_start_frames_with(rng: &mut TestRng, after: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>, u32, u32) {
    use tapdance_station_native::testkit::ts_option;
    let client = Endpoint::v4([10, 0, 0, 1], 5555);
    let server = Endpoint::v4([10, 0, 0, 2], 443);
    let seg = |seq, ack, flags, options: Vec<u8>| Seg { seq, ack, flags, window: 509, options, vlan: None };
    let (cisn, sisn) = (1000u32, 9000u32);
    let mut frames = vec![
        frame(&client, &server, &seg(cisn, 0, SYN, syn_options(1460, 1, 0, 7)), &[]),
        frame(&server, &client, &seg(sisn, cisn + 1, SYN | ACK, syn_options(1460, 1, 1, 7)), &[]),
    ];
    let (mut cseq, mut sseq) = (cisn + 1, sisn + 1);
    let mut hello = vec![0x16, 3, 1, 0, 200];
    hello.extend(std::iter::repeat_n(0x42, 200));
    frames.push(frame(&client, &server, &seg(cseq, sseq, PSH | ACK, ts_option(2, 1)), &hello));
    cseq += hello.len() as u32;
    let mut flight = vec![0x16, 3, 3, 4, 0];
    flight.extend(std::iter::repeat_n(0x33, 1024));
    frames.push(frame(&server, &client, &seg(sseq, cseq, PSH | ACK, ts_option(2, 2)), &flight));
    sseq += flight.len() as u32;
    // Client key exchange, ChangeCipherSpec, Finished and the tagged record in one segment.
    let mut out = vec![0x16, 3, 3, 0, 37];
    out.extend(std::iter::repeat_n(0x11, 37));
    out.extend_from_slice(&[0x14, 3, 3, 0, 1, 1, 0x16, 3, 3, 0, 40]);
    out.extend(std::iter::repeat_n(0x22, 40));
    let payload = random_payload(rng, 0xc02f);
    out.extend_from_slice(&tagged_record(rng, &key().public(), &payload, Some(b"xproto-bytes")).0);
    frames.push(frame(&client, &server, &seg(cseq, sseq, PSH | ACK, ts_option(3, 2)), &out));
    let client_end = cseq + out.len() as u32;
    let mut fin = vec![0x16, 3, 3, 0, 4, 4, 0, 0, 0, 0x14, 3, 3, 0, 1, 1, 0x16, 3, 3, 0, 40];
    fin.extend(std::iter::repeat_n(0x44, 40));
    fin.extend_from_slice(after);
    let decoy_fin = frame(&server, &client, &seg(sseq, client_end, PSH | ACK, ts_option(7, 3)), &fin);
    (frames, decoy_fin, sseq + fin.len() as u32, client_end)
}

#[test]
fn a_false_start_tag_is_taken_over_after_the_decoys_finished() {
    let c = Arc::new(Counters::default());
    let cfg = Config { ack_wait_ms: 0, ..Config::default() };
    let mut w = Worker::new(cfg, vec![key()], Arc::clone(&c), Arc::new(TakenRegistry::default()));
    let (frames, decoy_fin, server_next, client_end) = false_start_frames(&mut TestRng::new(21));
    let mut out = vec![];
    for (i, f) in frames.iter().enumerate() {
        w.process(1_000_000 * (i as u64 + 1), LinkType::Ethernet, f, &mut |x| out.push(x));
    }
    assert_eq!(c.snapshot().tagged_flows, 1);
    assert!(out.is_empty(), "no takeover before the decoy's Finished, even without an ACK wait");
    w.tick(500_000_000, &mut |x| out.push(x));
    assert!(out.is_empty(), "still waiting for the Finished");
    w.process(600_000_000, LinkType::Ethernet, &decoy_fin, &mut |x| out.push(x));
    assert_eq!(out.len(), 1);
    let t = &out[0];
    assert_eq!(t.flow.server.next_seq, server_next, "the takeover starts after the decoy's Finished");
    assert_eq!(t.flow.tagged_end, client_end);
    assert_eq!(t.flow.server.tsval, 7);
    assert!(t.flow.await_finished, "marked, so that the decoy's Finished gets its ACK");
    assert_eq!(t.flow.server.ack, client_end, "the decoy's rcv_nxt, the sequence number of that ACK");
    assert_eq!(c.snapshot().takeover_no_finished, 0);

    // The decoy's ACK is due only once the client's own ACK covers the decoy's Finished.
    use tapdance_station_native::testkit::ts_option;
    let client = Endpoint::v4([10, 0, 0, 1], 5555);
    let server = Endpoint::v4([10, 0, 0, 2], 443);
    let client_ack = |ack: u32| frame(&client, &server, &Seg { seq: client_end, ack, flags: ACK, window: 509, options: ts_option(9, 7), vlan: None }, &[]);
    w.process(700_000_000, LinkType::Ethernet, &client_ack(server_next - 40), &mut |x| out.push(x));
    assert_eq!(c.snapshot().decoy_acks_due, 0, "the Finished may still be lost on its way to the client");
    w.process(710_000_000, LinkType::Ethernet, &client_ack(server_next + 150), &mut |x| out.push(x));
    w.process(720_000_000, LinkType::Ethernet, &client_ack(server_next + 300), &mut |x| out.push(x));
    let s = c.snapshot();
    assert_eq!((s.decoy_acks_due, s.decoy_acks_sent), (1, 0), "once per flow; tests send nothing");
}

#[test]
fn a_false_start_tag_without_the_decoys_finished_is_dropped() {
    let (mut w, c) = worker(64);
    let (frames, _, _, _) = false_start_frames(&mut TestRng::new(22));
    let mut out = vec![];
    for (i, f) in frames.iter().enumerate() {
        w.process(1_000_000 * (i as u64 + 1), LinkType::Ethernet, f, &mut |x| out.push(x));
    }
    w.tick(1_000_000_000, &mut |x| out.push(x));
    assert!(out.is_empty(), "waits longer than an ACK wait");
    w.tick(4_000_000_000, &mut |x| out.push(x));
    assert!(out.is_empty(), "never taken over over the decoy's own records");
    let s = c.snapshot();
    assert_eq!((s.tagged_flows, s.takeover_no_finished, s.takeover_ack_timeout), (1, 1, 0));
}

#[test]
fn a_false_start_tag_is_dropped_when_the_decoy_answers_with_its_finished() {
    let c = Arc::new(Counters::default());
    let cfg = Config { ack_wait_ms: 0, ..Config::default() };
    let mut w = Worker::new(cfg, vec![key()], Arc::clone(&c), Arc::new(TakenRegistry::default()));
    // A strict HTTP parser's 400 right behind the Finished, in the same segment.
    let (frames, decoy_fin, _, _) = false_start_frames_with(&mut TestRng::new(23), &[0x17, 3, 3, 0, 3, 1, 2, 3]);
    let mut out = vec![];
    for (i, f) in frames.iter().enumerate() {
        w.process(1_000_000 * (i as u64 + 1), LinkType::Ethernet, f, &mut |x| out.push(x));
    }
    w.process(600_000_000, LinkType::Ethernet, &decoy_fin, &mut |x| out.push(x));
    w.tick(5_000_000_000, &mut |x| out.push(x));
    assert!(out.is_empty(), "its records would clash with the station's");
    let s = c.snapshot();
    assert_eq!((s.tagged_flows, s.takeover_decoy_answered, s.takeover_no_finished), (1, 1, 0));
}
