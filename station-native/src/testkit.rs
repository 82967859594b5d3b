//! Synthetic traffic for tests, benchmarks and fuzz seeds (feature `testkit`): Ethernet/IPv4/IPv6
//! TCP frames with options, whole TLS-looking conversations (tagged or not), and a realistic mix
//! written as a pcap. Never used by the station's own packet path.

use crate::capture::pcap::PcapWriter;
use crate::tag::testkit::{TestRng, random_payload, tagged_record};
use crate::wire::tcp::{ACK, FIN, PSH, SYN};

/// One endpoint.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    /// IPv4 (4 bytes used) or IPv6 address.
    pub ip: [u8; 16],
    /// True for IPv6.
    pub v6: bool,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// An IPv4 endpoint.
    pub fn v4(a: [u8; 4], port: u16) -> Endpoint {
        let mut ip = [0u8; 16];
        ip[..4].copy_from_slice(&a);
        Endpoint { ip, v6: false, port }
    }

    /// An IPv6 endpoint.
    pub fn v6(ip: [u8; 16], port: u16) -> Endpoint {
        Endpoint { ip, v6: true, port }
    }
}

/// TCP header fields of a frame to build.
#[derive(Clone, Debug, Default)]
pub struct Seg {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: u8,
    /// Raw window.
    pub window: u16,
    /// Raw option bytes (padded to 4 by the builder).
    pub options: Vec<u8>,
    /// 802.1Q VLAN id to tag the frame with.
    pub vlan: Option<u16>,
}

fn csum_add(mut s: u32, b: &[u8]) -> u32 {
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    s
}

fn csum_fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Builds one Ethernet frame carrying a TCP segment from `src` to `dst`.
pub fn frame(src: &Endpoint, dst: &Endpoint, seg: &Seg, payload: &[u8]) -> Vec<u8> {
    let mut opts = seg.options.clone();
    while opts.len() % 4 != 0 {
        opts.push(1);
    }
    let mut tcp = Vec::with_capacity(20 + opts.len() + payload.len());
    tcp.extend_from_slice(&src.port.to_be_bytes());
    tcp.extend_from_slice(&dst.port.to_be_bytes());
    tcp.extend_from_slice(&seg.seq.to_be_bytes());
    tcp.extend_from_slice(&seg.ack.to_be_bytes());
    tcp.push((((20 + opts.len()) / 4) as u8) << 4);
    tcp.push(seg.flags);
    tcp.extend_from_slice(&seg.window.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&opts);
    tcp.extend_from_slice(payload);
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    if let Some(v) = seg.vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    if src.v6 {
        f.extend_from_slice(&[0x86, 0xdd]);
        let mut s = csum_add(0, &src.ip);
        s = csum_add(s, &dst.ip);
        s = csum_add(s, &(tcp.len() as u32).to_be_bytes());
        s += 6;
        let c = csum_fold(csum_add(s, &tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        f.extend_from_slice(&[6, 64]);
        f.extend_from_slice(&src.ip);
        f.extend_from_slice(&dst.ip);
    } else {
        f.extend_from_slice(&[0x08, 0x00]);
        let mut s = csum_add(0, &src.ip[..4]);
        s = csum_add(s, &dst.ip[..4]);
        s += 6 + tcp.len() as u32;
        let c = csum_fold(csum_add(s, &tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src.ip[..4]);
        ip.extend_from_slice(&dst.ip[..4]);
        let c = csum_fold(csum_add(0, &ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
    }
    f.extend_from_slice(&tcp);
    f
}

/// SYN options as Linux sends them: MSS, SACK-permitted, timestamps, window scale.
pub fn syn_options(mss: u16, tsval: u32, tsecr: u32, wscale: u8) -> Vec<u8> {
    let mut o = vec![2, 4];
    o.extend_from_slice(&mss.to_be_bytes());
    o.extend_from_slice(&[4, 2, 8, 10]);
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o.extend_from_slice(&[1, 3, 3, wscale]);
    o
}

/// Timestamp option (with two NOPs).
pub fn ts_option(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o
}

/// What a generated conversation looked like on the wire.
#[derive(Clone, Debug)]
pub struct Conversation {
    /// Client endpoint.
    pub client: Endpoint,
    /// Server endpoint.
    pub server: Endpoint,
    /// (time, frame) in order.
    pub frames: Vec<(u64, Vec<u8>)>,
    /// Sequence number after the tagged (or first app-data) segment.
    pub first_app_end: u32,
    /// The server's snd_nxt after its ACK of that segment.
    pub server_next: u32,
    /// The server's last TSval before the report point.
    pub server_tsval: u32,
    /// The connection id carried in the tag (tagged conversations).
    pub conn_id: Option<[u8; 16]>,
}

/// Options of [`conversation`].
#[derive(Clone, Debug)]
pub struct ConvSpec {
    /// Station public key; `None` makes an untagged flow with a random first record.
    pub station_public: Option<[u8; 32]>,
    /// Bytes the server sends after the client's first record (in MSS-sized segments).
    pub download: usize,
    /// VLAN id for every frame.
    pub vlan: Option<u16>,
    /// Start time (ns).
    pub start_ns: u64,
}

/// A TLS 1.2-shaped conversation: handshake, client Finished, the first application-data record
/// (tagged when `station_public` is set), the server's ACK, a download and a close.
pub fn conversation(rng: &mut TestRng, client: Endpoint, server: Endpoint, spec: &ConvSpec) -> Conversation {
    let mut t = spec.start_ns;
    let mut frames = Vec::new();
    let mut push = |t: &mut u64, f: Vec<u8>| {
        *t += 50_000;
        frames.push((*t, f));
    };
    let cisn = rng.next_u64() as u32;
    let sisn = rng.next_u64() as u32;
    let (mut cts, mut sts) = (rng.next_u64() as u32 >> 1, rng.next_u64() as u32 >> 1);
    let seg = |seq, ack, flags, window, options: Vec<u8>| Seg { seq, ack, flags, window, options, vlan: spec.vlan };
    push(&mut t, frame(&client, &server, &seg(cisn, 0, SYN, 64240, syn_options(1460, cts, 0, 7)), &[]));
    push(&mut t, frame(&server, &client, &seg(sisn, cisn.wrapping_add(1), SYN | ACK, 65160, syn_options(1460, sts, cts, 7)), &[]));
    let (mut cseq, mut sseq) = (cisn.wrapping_add(1), sisn.wrapping_add(1));
    cts += 1;
    push(&mut t, frame(&client, &server, &seg(cseq, sseq, ACK, 502, ts_option(cts, sts)), &[]));
    // ClientHello, server flight, client key exchange + CCS + Finished, server CCS + Finished.
    let mut hello = vec![0x16, 3, 1, 0, 200];
    hello.extend(std::iter::repeat_n(0x42, 200));
    push(&mut t, frame(&client, &server, &seg(cseq, sseq, PSH | ACK, 502, ts_option(cts, sts)), &hello));
    cseq = cseq.wrapping_add(hello.len() as u32);
    let mut flight = vec![0x16, 3, 3, 4, 0];
    flight.extend(std::iter::repeat_n(0x33, 1024));
    sts += 1;
    push(&mut t, frame(&server, &client, &seg(sseq, cseq, PSH | ACK, 509, ts_option(sts, cts)), &flight));
    sseq = sseq.wrapping_add(flight.len() as u32);
    let mut fin = vec![0x16, 3, 3, 0, 70];
    fin.extend(std::iter::repeat_n(0x11, 70));
    fin.extend_from_slice(&[0x14, 3, 3, 0, 1, 1, 0x16, 3, 3, 0, 40]);
    fin.extend(std::iter::repeat_n(0x22, 40));
    cts += 1;
    push(&mut t, frame(&client, &server, &seg(cseq, sseq, PSH | ACK, 502, ts_option(cts, sts)), &fin));
    cseq = cseq.wrapping_add(fin.len() as u32);
    let mut sfin = vec![0x14, 3, 3, 0, 1, 1, 0x16, 3, 3, 0, 40];
    sfin.extend(std::iter::repeat_n(0x44, 40));
    sts += 1;
    push(&mut t, frame(&server, &client, &seg(sseq, cseq, PSH | ACK, 509, ts_option(sts, cts)), &sfin));
    sseq = sseq.wrapping_add(sfin.len() as u32);
    // The first application-data record.
    let (record, conn_id) = match spec.station_public {
        Some(pk) => {
            let p = random_payload(rng, 0xc02f);
            (tagged_record(rng, &pk, &p, Some(b"xproto-bytes")).0, Some(p.conn_id))
        }
        None => {
            let len = 600 + (rng.next_u64() % 300) as usize;
            let mut r = vec![0x17, 3, 3, (len >> 8) as u8, len as u8];
            let mut body = vec![0u8; len];
            rng.fill(&mut body);
            r.extend_from_slice(&body);
            (r, None)
        }
    };
    cts += 1;
    push(&mut t, frame(&client, &server, &seg(cseq, sseq, PSH | ACK, 502, ts_option(cts, sts)), &record));
    cseq = cseq.wrapping_add(record.len() as u32);
    let first_app_end = cseq;
    sts += 1;
    push(&mut t, frame(&server, &client, &seg(sseq, cseq, ACK, 509, ts_option(sts, cts)), &[]));
    let (server_next, server_tsval) = (sseq, sts);
    // Download (for untagged flows; a decoy never answers a tagged incomplete request).
    let mut left = if spec.station_public.is_some() { 0 } else { spec.download };
    while left > 0 {
        let n = left.min(1448);
        let body = vec![0x5a; n];
        sts += 1;
        push(&mut t, frame(&server, &client, &seg(sseq, cseq, ACK, 509, ts_option(sts, cts)), &body));
        sseq = sseq.wrapping_add(n as u32);
        left -= n;
        if left % (1448 * 2) == 0 {
            cts += 1;
            push(&mut t, frame(&client, &server, &seg(cseq, sseq, ACK, 502, ts_option(cts, sts)), &[]));
        }
    }
    if spec.station_public.is_none() {
        push(&mut t, frame(&client, &server, &seg(cseq, sseq, FIN | ACK, 502, ts_option(cts, sts)), &[]));
        push(&mut t, frame(&server, &client, &seg(sseq, cseq.wrapping_add(1), FIN | ACK, 509, ts_option(sts, cts)), &[]));
    }
    Conversation { client, server, frames, first_app_end, server_next, server_tsval, conn_id }
}

/// A mix of traffic: mostly untagged TLS downloads (IPv4, some IPv6 and VLAN), some port-80
/// traffic, and `tagged` tagged flows; frames of all flows interleaved. Returns the pcap bytes
/// and the tagged conversations.
pub fn realistic_mix(seed: u64, flows: usize, tagged: usize, station_public: [u8; 32]) -> (Vec<u8>, Vec<Conversation>) {
    let mut rng = TestRng::new(seed);
    let mut convs = Vec::new();
    let mut tagged_convs = Vec::new();
    for i in 0..flows {
        let is_tagged = i * tagged.max(1) / flows.max(1) != (i + 1) * tagged.max(1) / flows.max(1) && tagged > 0;
        let c_ip = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let (client, server) = if i % 10 == 7 {
            let mut a = [0u8; 16];
            a[0] = 0x20;
            a[1] = 0x01;
            a[14] = (i >> 8) as u8;
            a[15] = i as u8;
            let mut b = [0u8; 16];
            b[0] = 0x20;
            b[1] = 0x01;
            b[15] = 1;
            (Endpoint::v6(a, 40000 + (i % 20000) as u16), Endpoint::v6(b, 443))
        } else {
            let port = if i % 10 == 3 { 80 } else { 443 };
            (Endpoint::v4(c_ip, 40000 + (i % 20000) as u16), Endpoint::v4([192, 0, 2, (i % 200) as u8 + 1], port))
        };
        let spec = ConvSpec {
            station_public: is_tagged.then_some(station_public),
            download: 20_000 + (rng.next_u64() % 60_000) as usize,
            vlan: (i % 10 == 5).then_some(100),
            start_ns: 1_700_000_000_000_000_000 + (i as u64) * 1_000_000,
        };
        let c = conversation(&mut rng, client, server, &spec);
        if is_tagged && server.port == 443 {
            tagged_convs.push(c.clone());
        }
        convs.push(c);
    }
    let mut all: Vec<(u64, Vec<u8>)> = convs.into_iter().flat_map(|c| c.frames).collect();
    all.sort_by_key(|f| f.0);
    let mut w = PcapWriter::new(1);
    for (t, f) in &all {
        w.push(*t, f);
    }
    (w.into_bytes(), tagged_convs)
}
