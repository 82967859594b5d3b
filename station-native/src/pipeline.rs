//! The per-packet path of one worker: parse → flow table → tag check → TLS check → report.
//!
//! A [`Worker`] is single-threaded and owns its flow table, tag checker and scratch buffers; the
//! capture layer feeds it frames with their capture time. For each flow to a TLS port it tracks
//! the handshake, checks the first client application-data record exactly once, and for a
//! verified tag waits (bounded) for the decoy's ACK of that segment so the decoy's final
//! sequence number, window and timestamp are known. Then it hands a [`TaggedFlow`] to the
//! caller's sink: the replay prints it, the live station queues it for the takeover thread.
//! Untagged flows are forgotten right after their check.
//!
//! Allocation happens only for verified tags (the record copy), which are rare by design.

use std::collections::HashMap;
use std::sync::Arc;

use crate::counters::Counters;
use crate::flow::{Flow, FlowId, FlowKey, FlowState, FlowTable, SynInfo};
use crate::tag::tls12::{self, Suite, VerifyError};
use crate::tag::tls13;
use crate::tag::ring::KeyRing;
use crate::tag::{PAYLOAD_LEN, StationKey, TagChecker, TagLayout, TagMiss, TagPayload};
use crate::wire::tcp::{ACK, FIN, RST, SYN};
use crate::wire::{self, LinkType, Skip, tls};

/// Length of one wheel tick.
pub const TICK_NS: u64 = 10_000_000;

/// Worker configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// TCP ports of the decoys' TLS servers.
    pub tls_ports: Vec<u16>,
    /// Flow table capacity of this worker.
    pub flow_capacity: usize,
    /// How long a flow may stay in its handshake before it is evicted.
    pub handshake_timeout_ms: u64,
    /// How long to wait for the decoy's ACK of the tagged segment before taking over anyway; 0
    /// takes over as soon as the tag verifies (half a round trip sooner, the decoy's window and
    /// timestamp taken from its last segment before the tag).
    pub ack_wait_ms: u64,
    /// Idle time after which a taken-over flow is forgotten.
    pub taken_idle_timeout_ms: u64,
    /// Tag layout.
    pub layout: TagLayout,
    /// Send the spoofed ACK of a False Start decoy's Finished (SPEC.md §5.1) from the worker;
    /// false only counts it as due (replay, tests: no packet leaves).
    pub decoy_acks: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tls_ports: vec![443],
            flow_capacity: 65536,
            handshake_timeout_ms: 10_000,
            ack_wait_ms: 200,
            taken_idle_timeout_ms: 300_000,
            layout: TagLayout::CURRENT,
            decoy_acks: false,
        }
    }
}

/// A flow whose tag and TLS secrets verified: everything the takeover and JavaScript need.
#[derive(Clone, Debug)]
pub struct TaggedFlow {
    /// Handle for later calls (decoy RST).
    pub id: FlowId,
    /// TCP state when reported.
    pub flow: Flow,
    /// Index of the station key that opened the tag.
    pub key_index: usize,
    /// SHA-256 of the X25519 shared secret.
    pub key_material: [u8; 32],
    /// The decoded payload.
    pub payload: TagPayload,
    /// The payload bytes as sent.
    pub payload_bytes: [u8; PAYLOAD_LEN],
    /// The whole tagged record (header included).
    pub record: Vec<u8>,
    /// The base64-decoded X-Proto header value (`iv12 || ciphertext`), empty when absent.
    pub xproto: Vec<u8>,
    /// True when the decoy's ACK of the tagged segment was seen before reporting.
    pub ack_seen: bool,
    /// Capture time at which the flow was reported (ns).
    pub reported_ns: u64,
}

/// Where the client's and the decoy's latest sequence state of a taken-over flow is published
/// for the spoofed decoy RST (written by the worker, read by whoever sends the RST).
#[derive(Default)]
pub struct TakenRegistry {
    inner: std::sync::Mutex<HashMap<u64, Flow>>,
}

impl TakenRegistry {
    /// The latest state of a taken-over flow.
    pub fn get(&self, id: FlowId) -> Option<Flow> {
        self.inner.lock().ok()?.get(&id.0).copied()
    }

    fn put(&self, id: FlowId, f: &Flow) {
        if let Ok(mut m) = self.inner.lock() {
            m.insert(id.0, *f);
        }
    }

    fn forget(&self, id: FlowId) {
        if let Ok(mut m) = self.inner.lock() {
            m.remove(&id.0);
        }
    }
}

/// One worker's state.
pub struct Worker {
    cfg: Config,
    ports: Box<[u64; 1024]>,
    table: FlowTable,
    checker: TagChecker,
    ring: Arc<KeyRing>,
    /// Generation of `ring` that `checker` was built from.
    ring_generation: u64,
    counters: Arc<Counters>,
    registry: Arc<TakenRegistry>,
    pending: HashMap<u32, Box<TaggedFlow>>,
    scratch: Box<[u8]>,
    xproto: Box<[u8; 2048]>,
}

fn ticks(ns: u64) -> u32 {
    (ns / TICK_NS) as u32
}

fn ms_ticks(ms: u64) -> u32 {
    (ms * 1_000_000 / TICK_NS).max(1) as u32
}

impl Worker {
    /// A worker for `keys` with its own flow table.
    pub fn new(cfg: Config, keys: Vec<StationKey>, counters: Arc<Counters>, registry: Arc<TakenRegistry>) -> Worker {
        Worker::with_key_ring(cfg, Arc::new(KeyRing::new(keys)), counters, registry)
    }

    /// A worker whose keys follow `ring`: after [`KeyRing::replace`] it checks new flows with the
    /// new keys from its next tick or tag check on.
    pub fn with_key_ring(cfg: Config, ring: Arc<KeyRing>, counters: Arc<Counters>, registry: Arc<TakenRegistry>) -> Worker {
        let (ring_generation, keys) = ring.snapshot();
        Counters::set(&counters.keys, keys.len() as u64);
        let mut ports = Box::new([0u64; 1024]);
        for p in &cfg.tls_ports {
            ports[usize::from(*p) / 64] |= 1 << (p % 64);
        }
        Worker {
            table: FlowTable::new(cfg.flow_capacity),
            checker: TagChecker::new(keys.to_vec(), cfg.layout),
            ring,
            ring_generation,
            cfg,
            ports,
            counters,
            registry,
            pending: HashMap::new(),
            scratch: vec![0u8; tls::MAX_BODY].into_boxed_slice(),
            xproto: Box::new([0u8; 2048]),
        }
    }

    /// The worker's counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Bytes held by the flow table.
    pub fn table_memory(&self) -> usize {
        self.table.memory_bytes()
    }

    /// Flow table capacity.
    pub fn table_capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Rebuilds the tag checker when the key ring moved on (rare: an operator's reload).
    #[inline]
    fn follow_key_ring(&mut self) {
        if self.ring.generation() == self.ring_generation {
            return;
        }
        let (generation, keys) = self.ring.snapshot();
        self.checker = TagChecker::new(keys.to_vec(), self.cfg.layout);
        self.ring_generation = generation;
        Counters::set(&self.counters.keys, keys.len() as u64);
        Counters::add(&self.counters.key_updates, 1);
    }

    fn is_tls_port(&self, p: u16) -> bool {
        self.ports[usize::from(p) / 64] & (1 << (p % 64)) != 0
    }

    /// Processes one captured frame taken at `now_ns`.
    pub fn process(&mut self, now_ns: u64, link: LinkType, frame: &[u8], sink: &mut dyn FnMut(TaggedFlow)) {
        let c = Arc::clone(&self.counters);
        Counters::add(&c.packets, 1);
        Counters::add(&c.bytes, frame.len() as u64);
        self.tick(now_ns, sink);
        let p = match wire::parse_frame(link, frame) {
            Ok(p) => p,
            Err(Skip::Truncated) => return Counters::add(&c.truncated, 1),
            Err(Skip::NotIp) => return Counters::add(&c.not_ip, 1),
            Err(Skip::Fragment) => return Counters::add(&c.fragments, 1),
            Err(Skip::NotTcp) => return Counters::add(&c.not_tcp, 1),
        };
        if p.ip_options {
            Counters::add(&c.ip_options, 1);
        }
        let t = &p.tcp;
        let (sp, dp) = (t.src_port(), t.dst_port());
        if self.is_tls_port(dp) {
            let key = FlowKey { client: p.src, server: p.dst, client_port: sp, server_port: dp };
            self.client_segment(now_ns, key, p.v6, t);
            // Without an ACK wait, a flow whose tag just verified is taken over at once, from the
            // decoy state seen so far (its last segment before the tag).
            if self.cfg.ack_wait_ms == 0 {
                if let Some(i) = self.table.lookup(&key) {
                    let f = self.table.get(i);
                    if f.state == FlowState::Tagged && !f.await_finished {
                        self.report(now_ns, i, false, sink);
                    }
                }
            }
        } else if self.is_tls_port(sp) {
            let key = FlowKey { client: p.dst, server: p.src, client_port: dp, server_port: sp };
            self.server_segment(now_ns, key, t, sink);
        } else {
            Counters::add(&c.other_ports, 1);
        }
        Counters::set(&c.flows_tracked, self.table.len() as u64);
    }

    fn remove(&mut self, i: u32, closed: bool) {
        if closed {
            Counters::add(&self.counters.flows_closed, 1);
        }
        if self.table.get(i).state == FlowState::TakenOver {
            self.registry.forget(self.table.id(i));
        }
        self.pending.remove(&i);
        self.table.remove(i);
    }

    fn client_segment(&mut self, now: u64, key: FlowKey, v6: bool, t: &wire::tcp::Packet<&[u8]>) {
        let c = Arc::clone(&self.counters);
        let flags = t.flags();
        let opts = t.options();
        let now_t = ticks(now);
        if flags & SYN != 0 && flags & ACK == 0 {
            Counters::add(&c.syns, 1);
            let i = match self.table.lookup(&key) {
                Some(i) if self.table.get(i).state != FlowState::Handshake => return,
                Some(i) => i,
                None => match self.table.insert(key, now_t + ms_ticks(self.cfg.handshake_timeout_ms)) {
                    Ok(i) => {
                        Counters::add(&c.flows_created, 1);
                        i
                    }
                    Err(_) => return Counters::add(&c.table_full, 1),
                },
            };
            let f = self.table.get_mut(i);
            f.v6 = v6;
            f.client_syn = SynInfo::from_syn(&opts, t.seq());
            f.client = Default::default();
            f.client.update(t.seq(), 1, None, t.window(), opts.timestamps, now);
            return;
        }
        let Some(i) = self.table.lookup(&key) else { return };
        let payload = t.payload();
        let seg_len = payload.len() as u32 + u32::from(flags & FIN != 0);
        let ack = (flags & ACK != 0).then(|| t.ack());
        let state = self.table.get(i).state;
        {
            let f = self.table.get_mut(i);
            f.client.update(t.seq(), seg_len, ack, t.window(), opts.timestamps, now);
            if flags & (RST | FIN) != 0 {
                f.client.closed = true;
            }
        }
        match state {
            FlowState::Handshake => {
                if flags & RST != 0 {
                    return self.remove(i, true);
                }
                if !payload.is_empty() {
                    match tls::first_app_data(payload) {
                        tls::Scan::AppData(rec) if self.passes_over(i, payload, rec) => {}
                        tls::Scan::AppData(rec) => {
                            let end = t.seq().wrapping_add(payload.len() as u32);
                            let with_ccs = ccs_before(payload, rec);
                            return self.check(now, i, rec, end, with_ccs);
                        }
                        tls::Scan::AppDataSplit => {
                            Counters::add(&c.records_split, 1);
                            return self.remove(i, false);
                        }
                        tls::Scan::Bogus => {
                            Counters::add(&c.tls_bogus, 1);
                            return self.remove(i, false);
                        }
                        tls::Scan::NotYet => {}
                    }
                }
                if flags & FIN != 0 {
                    self.remove(i, true);
                }
            }
            FlowState::Tagged => {}
            FlowState::TakenOver => {
                let id = self.table.id(i);
                let f = *self.table.get(i);
                self.registry.put(id, &f);
                self.table.touch(i, now_t + ms_ticks(self.cfg.taken_idle_timeout_ms));
                // SPEC.md §5.1: once the client has the decoy's Finished (its ACK covers it), tell
                // the decoy, whose own view of the client's ACKs stops short of the station's bytes.
                // Not before: a Finished lost on its way to the client must stay the decoy's to resend.
                if f.await_finished && !f.decoy_acked {
                    if let Some(a) = ack {
                        if !crate::flow::seq_after(f.server.next_seq, a) {
                            self.table.get_mut(i).decoy_acked = true;
                            self.ack_decoy(&f);
                        }
                    }
                }
            }
        }
    }

    /// The spoofed ACK of a False Start decoy's Finished: once per flow, so the raw socket and
    /// the packet buffer are allowed here.
    fn ack_decoy(&self, f: &Flow) {
        Counters::add(&self.counters.decoy_acks_due, 1);
        if self.cfg.decoy_acks && crate::takeover::rst::send_decoy_ack(f).is_ok() {
            Counters::add(&self.counters.decoy_acks_sent, 1);
        }
    }

    fn server_segment(&mut self, now: u64, key: FlowKey, t: &wire::tcp::Packet<&[u8]>, sink: &mut dyn FnMut(TaggedFlow)) {
        let Some(i) = self.table.lookup(&key) else { return };
        let flags = t.flags();
        let opts = t.options();
        let payload_len = t.payload().len() as u32;
        let ack = (flags & ACK != 0).then(|| t.ack());
        let state = self.table.get(i).state;
        let mut decoy_answered = false;
        {
            let f = self.table.get_mut(i);
            if flags & SYN != 0 {
                f.server_syn = SynInfo::from_syn(&opts, t.seq());
                f.server = Default::default();
                f.server.update(t.seq(), 1, ack, t.window(), opts.timestamps, now);
                return;
            }
            let seg_len = payload_len + u32::from(flags & FIN != 0);
            f.server.update(t.seq(), seg_len, ack, t.window(), opts.timestamps, now);
            if flags & (RST | FIN) != 0 {
                f.server.closed = true;
            }
            // Only until the handshake's end: a few segments per flow.
            if !f.server_finished && state != FlowState::TakenOver && payload_len > 0 {
                match tls::decoy_finished(t.payload()) {
                    tls::DecoyFinished::No => {}
                    tls::DecoyFinished::Waiting => f.server_finished = true,
                    tls::DecoyFinished::Answered => {
                        f.server_finished = true;
                        decoy_answered = true;
                    }
                }
            }
        }
        match state {
            FlowState::Handshake => {
                if flags & (RST | FIN) != 0 {
                    self.remove(i, true);
                }
            }
            FlowState::Tagged if self.table.get(i).await_finished => {
                // A False Start tag: the decoy's state is final once its Finished has passed, unless
                // it answered the request in the same breath (its records would clash with ours).
                if decoy_answered {
                    Counters::add(&self.counters.takeover_decoy_answered, 1);
                    self.remove(i, false);
                } else if self.table.get(i).server_finished {
                    self.report(now, i, true, sink);
                }
            }
            FlowState::Tagged => {
                let f = self.table.get(i);
                if let Some(a) = ack {
                    if !crate::flow::seq_after(f.tagged_end, a) {
                        self.report(now, i, true, sink);
                    }
                }
            }
            FlowState::TakenOver => {
                let id = self.table.id(i);
                let f = *self.table.get(i);
                self.registry.put(id, &f);
            }
        }
    }

    /// SPEC.md §5: a short application-data record in the same segment as the client's
    /// ChangeCipherSpec is a TLS 1.3 Finished (right after the dummy ChangeCipherSpec) or data sent
    /// with a TLS 1.2 Finished (False Start, e.g. Chrome's HTTP/2 preface). Such a flow is marked,
    /// and its short application-data records are passed over, so that the record checked is the
    /// first one that can carry a tag. Other flows keep the public station's rule: their first
    /// application-data record is it.
    fn passes_over(&mut self, i: u32, payload: &[u8], rec: &[u8]) -> bool {
        let ccs = ccs_before(payload, rec);
        let short = rec.len() < 5 + self.cfg.layout.end_offset;
        let f = self.table.get_mut(i);
        if ccs && short {
            f.tls13 = true;
        }
        f.tls13 && short
    }

    /// Checks the first application-data record of flow `i` (exactly once per flow); `with_ccs`:
    /// the record came in the segment of the client's ChangeCipherSpec.
    fn check(&mut self, now: u64, i: u32, record: &[u8], seg_end: u32, with_ccs: bool) {
        self.follow_key_ring();
        let c = Arc::clone(&self.counters);
        Counters::add(&c.tag_checks, 1);
        let hit = match self.checker.check_record(record) {
            Ok(h) => h,
            Err(TagMiss::TooShort) => {
                Counters::add(&c.tag_too_short, 1);
                return self.remove(i, false);
            }
            Err(TagMiss::NoTag) => return self.remove(i, false),
        };
        Counters::add(&c.tags_found, 1);
        let Some(payload) = TagChecker::payload_of(&hit) else {
            Counters::add(&c.verify_malformed, 1);
            return self.remove(i, false);
        };
        let mut payload_bytes = [0u8; PAYLOAD_LEN];
        payload_bytes.copy_from_slice(&hit.payload[..PAYLOAD_LEN]);
        let opened = match payload.variant {
            0x00 => match Suite::from_id(payload.suite) {
                Some(suite) => {
                    let keys = tls12::client_keys(suite, &payload.master_secret, &payload.client_random, &payload.server_random);
                    tls12::open_record(suite, &keys, 1, record, &mut self.scratch)
                }
                None => Err(VerifyError::UnsupportedSuite),
            },
            tls12::VARIANT_TLS12_KEYS => match Suite::from_id(payload.suite) {
                Some(suite) => {
                    let (keys, seq) = tls12::packed_client_keys(suite, &payload_bytes);
                    tls12::open_record(suite, &keys, seq, record, &mut self.scratch)
                }
                None => Err(VerifyError::UnsupportedSuite),
            },
            tls13::VARIANT_TLS13 => {
                tls13::client_keys13(&payload_bytes).and_then(|keys| tls13::open_record13(&keys, record, &mut self.scratch))
            }
            _ => Err(VerifyError::Malformed),
        };
        let n = match opened {
            Ok(n) => n,
            Err(VerifyError::BadRecordMac) => {
                Counters::add(&c.verify_bad_mac, 1);
                return self.remove(i, false);
            }
            Err(VerifyError::UnsupportedSuite) => {
                Counters::add(&c.verify_unsupported_suite, 1);
                return self.remove(i, false);
            }
            Err(VerifyError::Malformed) => {
                Counters::add(&c.verify_malformed, 1);
                return self.remove(i, false);
            }
        };
        let xp_len = tls12::find_xproto(&self.scratch[..n], &mut self.xproto[..]).unwrap_or(0);
        Counters::add(&c.tagged_flows, 1);
        let id = self.table.id(i);
        let f = self.table.get_mut(i);
        f.state = FlowState::Tagged;
        f.tagged_end = seg_end;
        // SPEC.md §5.1: a TLS 1.2 tag sent with the client's Finished (False Start) comes before the
        // decoy's Finished, whose bytes the takeover must start after.
        f.await_finished = with_ccs && payload.variant != tls13::VARIANT_TLS13 && !f.server_finished;
        let wait_ms = if f.await_finished { self.cfg.ack_wait_ms.max(FINISHED_WAIT_MS) } else { self.cfg.ack_wait_ms };
        let flow = *f;
        self.table.touch(i, ticks(now) + ms_ticks(wait_ms));
        self.pending.insert(
            i,
            Box::new(TaggedFlow {
                id,
                flow,
                key_index: hit.key_index,
                key_material: hit.key_material,
                payload,
                payload_bytes,
                record: record.to_vec(),
                xproto: self.xproto[..xp_len].to_vec(),
                ack_seen: false,
                reported_ns: now,
            }),
        );
    }

    fn report(&mut self, now: u64, i: u32, ack_seen: bool, sink: &mut dyn FnMut(TaggedFlow)) {
        let Some(mut t) = self.pending.remove(&i) else { return };
        if !ack_seen && self.cfg.ack_wait_ms > 0 {
            Counters::add(&self.counters.takeover_ack_timeout, 1);
        }
        let f = self.table.get_mut(i);
        f.state = FlowState::TakenOver;
        t.flow = *f;
        t.ack_seen = ack_seen;
        t.reported_ns = now;
        self.registry.put(t.id, &t.flow);
        self.table.touch(i, ticks(now) + ms_ticks(self.cfg.taken_idle_timeout_ms));
        sink(*t);
    }

    /// Advances timers to `now_ns`: evicts idle flows and reports tagged flows whose ACK wait
    /// expired. Call it when no packet arrived for a while.
    pub fn tick(&mut self, now_ns: u64, sink: &mut dyn FnMut(TaggedFlow)) {
        self.follow_key_ring();
        let now_t = ticks(now_ns);
        let mut due: Vec<u32> = Vec::new();
        let mut evicted = 0u64;
        let taken_idle = ms_ticks(self.cfg.taken_idle_timeout_ms);
        let registry = Arc::clone(&self.registry);
        let table = &mut self.table;
        let mut forget: Vec<u32> = Vec::new();
        table.advance(now_t, |i, f| match f.state {
            FlowState::Tagged => {
                due.push(i);
                Some(now_t + taken_idle)
            }
            FlowState::TakenOver => {
                forget.push(i);
                evicted += 1;
                None
            }
            FlowState::Handshake => {
                evicted += 1;
                None
            }
        });
        for i in forget {
            // The slot is free now but its generation is unchanged until reuse.
            registry.forget(self.table.id(i));
            self.pending.remove(&i);
        }
        if evicted > 0 {
            Counters::add(&self.counters.flows_evicted, evicted);
            Counters::set(&self.counters.flows_tracked, self.table.len() as u64);
        }
        for i in due {
            if self.table.get(i).await_finished {
                // Taking over without the decoy's Finished would write over it: drop the flow.
                Counters::add(&self.counters.takeover_no_finished, 1);
                self.remove(i, false);
                continue;
            }
            self.report(now_ns, i, false, sink);
        }
    }

    /// Reports every flow still waiting for its ACK (end of a replay).
    pub fn flush(&mut self, now_ns: u64, sink: &mut dyn FnMut(TaggedFlow)) {
        let waiting: Vec<u32> = self.pending.keys().copied().collect();
        for i in waiting {
            self.report(now_ns, i, false, sink);
        }
    }
}

/// How long a False Start tag waits for the decoy's Finished (it normally follows within the
/// decoy's processing time of the client's Finished).
const FINISHED_WAIT_MS: u64 = 3_000;

/// Whether a ChangeCipherSpec record precedes `rec` in `payload` (whose records before `rec` are
/// whole: `first_app_data` walked them).
fn ccs_before(payload: &[u8], rec: &[u8]) -> bool {
    let at = rec.as_ptr() as usize - payload.as_ptr() as usize;
    let mut off = 0;
    while off + 5 <= at {
        if payload[off] == tls::CHANGE_CIPHER_SPEC {
            return true;
        }
        off += 5 + usize::from(u16::from_be_bytes([payload[off + 3], payload[off + 4]]));
    }
    false
}
