//! The Node-API surface (feature `node`), wrapped for TypeScript by src/station/native.ts.
//!
//! Errors carry a stable code as the message prefix (`ERR_…: text`), which the TypeScript adapter
//! turns into typed errors. Addresses are rendered as strings; sequence numbers as numbers.
#![allow(unsafe_code)]
#![allow(missing_docs)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::IntoRawFd;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::capture::afpacket::RingConfig;
use crate::capture::pcap::PcapFile;
use crate::counters::Snapshot;
use crate::flow::{Flow, FlowId};
use crate::pipeline::{Config, TaggedFlow};
use crate::station::{CaptureKind, Station, StationConfig, TakeoverEvent};
use crate::tag::{StationKey, TagChecker, TagLayout};
use crate::wire::is_v4;

fn js_err(code: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("{code}: {msg}"))
}

fn keys_from(keys: &[Buffer]) -> Result<Vec<StationKey>> {
    if keys.is_empty() {
        return Err(js_err("ERR_STATION_CONFIG", "at least one station key is required"));
    }
    keys.iter()
        .map(|k| {
            let s: [u8; 32] = k.as_ref().get(..32).and_then(|s| s.try_into().ok()).ok_or_else(|| js_err("ERR_STATION_CONFIG", "a station key is a 32-byte X25519 secret"))?;
            Ok(StationKey::from_secret(s))
        })
        .collect()
}

fn addr(a: &[u8; 16]) -> String {
    if is_v4(a) { Ipv4Addr::new(a[12], a[13], a[14], a[15]).to_string() } else { Ipv6Addr::from(*a).to_string() }
}

#[napi(object)]
pub struct FlowInfo {
    pub client_address: String,
    pub client_port: u32,
    pub server_address: String,
    pub server_port: u32,
    pub ipv6: bool,
    pub client_isn: u32,
    pub server_isn: u32,
    pub client_next_seq: u32,
    pub client_ack: u32,
    pub client_window: u32,
    pub client_tsval: u32,
    pub server_next_seq: u32,
    pub server_ack: u32,
    pub server_window: u32,
    pub server_tsval: u32,
    pub tagged_end: u32,
    pub client_mss: u32,
    pub server_mss: u32,
    pub client_wscale: Option<u32>,
    pub server_wscale: Option<u32>,
    pub sack_permitted: bool,
    pub timestamps: bool,
}

fn flow_info(f: &Flow) -> FlowInfo {
    FlowInfo {
        client_address: addr(&f.key.client),
        client_port: u32::from(f.key.client_port),
        server_address: addr(&f.key.server),
        server_port: u32::from(f.key.server_port),
        ipv6: f.v6,
        client_isn: f.client_syn.isn,
        server_isn: f.server_syn.isn,
        client_next_seq: f.client.next_seq,
        client_ack: f.client.ack,
        client_window: u32::from(f.client.window),
        client_tsval: f.client.tsval,
        server_next_seq: f.server.next_seq,
        server_ack: f.server.ack,
        server_window: u32::from(f.server.window),
        server_tsval: f.server.tsval,
        tagged_end: f.tagged_end,
        client_mss: u32::from(f.client_syn.mss),
        server_mss: u32::from(f.server_syn.mss),
        client_wscale: f.client_syn.wscale.map(u32::from),
        server_wscale: f.server_syn.wscale.map(u32::from),
        sack_permitted: f.client_syn.sack_permitted && f.server_syn.sack_permitted,
        timestamps: f.client_syn.timestamps && f.server_syn.timestamps,
    }
}

#[napi(object)]
pub struct TaggedFlowInfo {
    /// `"<worker>:<id>"`, for sendDecoyRst.
    pub flow_id: String,
    pub worker: u32,
    pub key_index: u32,
    pub key_material: Buffer,
    pub payload: Buffer,
    pub flags: u32,
    pub cipher_suite: u32,
    pub master_secret: Buffer,
    pub server_random: Buffer,
    pub client_random: Buffer,
    pub connection_id: Buffer,
    pub record: Buffer,
    pub x_proto: Option<Buffer>,
    pub ack_seen: bool,
    pub flow: FlowInfo,
    /// The repaired socket's descriptor (live takeover only).
    pub fd: Option<i32>,
    /// Why the takeover failed, when it did.
    pub error: Option<String>,
}

fn tagged_info(worker: usize, t: &TaggedFlow) -> TaggedFlowInfo {
    TaggedFlowInfo {
        flow_id: format!("{worker}:{}", t.id.0),
        worker: worker as u32,
        key_index: t.key_index as u32,
        key_material: t.key_material.to_vec().into(),
        payload: t.payload_bytes.to_vec().into(),
        flags: u32::from(t.payload.flags),
        cipher_suite: u32::from(t.payload.suite),
        master_secret: t.payload.master_secret.to_vec().into(),
        server_random: t.payload.server_random.to_vec().into(),
        client_random: t.payload.client_random.to_vec().into(),
        connection_id: t.payload.conn_id.to_vec().into(),
        record: t.record.clone().into(),
        x_proto: (!t.xproto.is_empty()).then(|| t.xproto.clone().into()),
        ack_seen: t.ack_seen,
        flow: flow_info(&t.flow),
        fd: None,
        error: None,
    }
}

fn counters_obj(s: &Snapshot) -> HashMap<String, f64> {
    s.fields().into_iter().map(|(k, v)| (k.to_string(), v as f64)).collect()
}

/// Options shared by the pipeline entry points.
#[napi(object)]
pub struct PipelineOptions {
    pub tls_ports: Option<Vec<u32>>,
    pub flow_capacity: Option<u32>,
    pub handshake_timeout_ms: Option<u32>,
    pub ack_wait_ms: Option<u32>,
    pub taken_idle_timeout_ms: Option<u32>,
    /// `"current"` (default) or `"legacy"`.
    pub layout: Option<String>,
    /// AND-mask for byte 31 of the representative (default 0x3f).
    pub representative_mask: Option<u32>,
    /// Replay passes over the file (benchmarks).
    pub passes: Option<u32>,
}

fn pipeline_config(o: Option<&PipelineOptions>) -> Result<Config> {
    let mut c = Config::default();
    let Some(o) = o else { return Ok(c) };
    if let Some(p) = &o.tls_ports {
        c.tls_ports = p.iter().map(|&p| u16::try_from(p).map_err(|_| js_err("ERR_STATION_CONFIG", "a TLS port is 1..65535"))).collect::<Result<_>>()?;
    }
    if let Some(v) = o.flow_capacity {
        c.flow_capacity = v as usize;
    }
    if let Some(v) = o.handshake_timeout_ms {
        c.handshake_timeout_ms = u64::from(v);
    }
    if let Some(v) = o.ack_wait_ms {
        c.ack_wait_ms = u64::from(v);
    }
    if let Some(v) = o.taken_idle_timeout_ms {
        c.taken_idle_timeout_ms = u64::from(v);
    }
    c.layout = match o.layout.as_deref() {
        None | Some("current") => TagLayout::CURRENT,
        Some("legacy") => TagLayout::LEGACY,
        Some(x) => return Err(js_err("ERR_STATION_CONFIG", format!("unknown tag layout {x:?}"))),
    };
    if let Some(m) = o.representative_mask {
        c.layout.representative_mask = (m & 0xff) as u8;
    }
    Ok(c)
}

#[napi(object)]
pub struct ReplayResultInfo {
    pub tagged: Vec<TaggedFlowInfo>,
    pub counters: HashMap<String, f64>,
    pub elapsed_ns: f64,
    pub table_memory: f64,
    pub table_capacity: f64,
}

/// Runs a pcap/pcapng file through the worker pipeline (no takeover).
#[napi]
pub fn replay_capture(path: String, keys: Vec<Buffer>, options: Option<PipelineOptions>) -> Result<ReplayResultInfo> {
    let keys = keys_from(&keys)?;
    let cfg = pipeline_config(options.as_ref())?;
    let passes = options.as_ref().and_then(|o| o.passes).unwrap_or(1) as usize;
    let mut f = PcapFile::open(&path).map_err(|e| js_err(e.code, e.message))?;
    let r = crate::replay::replay(&mut f, keys, cfg, passes).map_err(|e| js_err(e.code, e.message))?;
    Ok(ReplayResultInfo {
        tagged: r.tagged.iter().map(|t| tagged_info(0, t)).collect(),
        counters: counters_obj(&r.counters),
        elapsed_ns: r.elapsed.as_nanos() as f64,
        table_memory: r.table_memory as f64,
        table_capacity: r.table_capacity as f64,
    })
}

#[napi(object)]
pub struct TagCheckInfo {
    pub key_index: u32,
    pub key_material: Buffer,
    pub payload: Buffer,
}

/// Looks for a tag in one TLS record; `null` when there is none.
#[napi]
pub fn check_tag(record: Buffer, keys: Vec<Buffer>, options: Option<PipelineOptions>) -> Result<Option<TagCheckInfo>> {
    let cfg = pipeline_config(options.as_ref())?;
    let checker = TagChecker::new(keys_from(&keys)?, cfg.layout);
    Ok(checker.check_record(record.as_ref()).ok().map(|h| TagCheckInfo {
        key_index: h.key_index as u32,
        key_material: h.key_material.to_vec().into(),
        payload: h.payload[..h.payload_len].to_vec().into(),
    }))
}

/// Repeats `check_tag` `iterations` times on one record and returns the elapsed nanoseconds
/// (benchmarks: measures the Rust path without crossing into JavaScript per check).
#[napi]
pub fn bench_check_tag(record: Buffer, keys: Vec<Buffer>, iterations: u32) -> Result<f64> {
    let checker = TagChecker::new(keys_from(&keys)?, TagLayout::CURRENT);
    let t = std::time::Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(checker.check_record(std::hint::black_box(record.as_ref())).is_ok());
    }
    Ok(t.elapsed().as_nanos() as f64)
}

/// The X25519 public key of a station secret.
#[napi]
pub fn station_public_key(secret: Buffer) -> Result<Buffer> {
    let k = keys_from(&[secret])?;
    Ok(k[0].public().to_vec().into())
}

#[napi(object)]
pub struct SynthOptions {
    pub seed: Option<u32>,
    pub flows: u32,
    pub tagged: u32,
    pub station_public: Buffer,
}

#[napi(object)]
pub struct SynthFlowInfo {
    pub client_address: String,
    pub client_port: u32,
    pub connection_id: Buffer,
    pub tagged_end: u32,
    pub server_next_seq: u32,
}

/// Writes a synthetic capture (realistic mix of TLS flows, `tagged` of them tagged for
/// `stationPublic`) to `path`; for tests and benchmarks. Returns the tagged flows.
#[napi]
pub fn synthesize_capture(path: String, options: SynthOptions) -> Result<Vec<SynthFlowInfo>> {
    let pk: [u8; 32] = options.station_public.as_ref().try_into().map_err(|_| js_err("ERR_STATION_CONFIG", "stationPublic is 32 bytes"))?;
    let (pcap, convs) = crate::testkit::realistic_mix(u64::from(options.seed.unwrap_or(1)), options.flows as usize, options.tagged as usize, pk);
    std::fs::write(&path, pcap).map_err(|e| js_err("ERR_CAPTURE_FILE", format!("cannot write {path}: {e}")))?;
    Ok(convs
        .iter()
        .map(|c| {
            let mut a = [0u8; 16];
            let client_address = if c.client.v6 {
                a.copy_from_slice(&c.client.ip);
                Ipv6Addr::from(a).to_string()
            } else {
                Ipv4Addr::new(c.client.ip[0], c.client.ip[1], c.client.ip[2], c.client.ip[3]).to_string()
            };
            SynthFlowInfo { client_address, client_port: u32::from(c.client.port), connection_id: c.conn_id.unwrap_or([0; 16]).to_vec().into(), tagged_end: c.first_app_end, server_next_seq: c.server_next }
        })
        .collect())
}

#[napi(object)]
pub struct StationOptions {
    pub keys: Vec<Buffer>,
    pub interface: String,
    pub workers: Option<u32>,
    /// `"afpacket"` (default) or `"pfring"`.
    pub capture: Option<String>,
    pub fanout_group: Option<u32>,
    pub pfring_cluster: Option<u32>,
    /// Build TCP_REPAIR sockets (default true).
    pub takeover: Option<bool>,
    pub pipeline: Option<PipelineOptions>,
}

#[napi]
pub struct NativeStation {
    cfg: StationConfig,
    keys: Vec<StationKey>,
    station: Option<Station>,
}

#[napi]
impl NativeStation {
    #[napi(constructor)]
    pub fn new(options: StationOptions) -> Result<NativeStation> {
        let keys = keys_from(&options.keys)?;
        let capture = match options.capture.as_deref() {
            None | Some("afpacket") => CaptureKind::AfPacket,
            Some("pfring") => CaptureKind::PfRing,
            Some(x) => return Err(js_err("ERR_STATION_CONFIG", format!("unknown capture {x:?} (afpacket | pfring; pcap files go through replayCapture)"))),
        };
        let mut ring = RingConfig::default();
        if let Some(g) = options.fanout_group {
            ring.fanout_group = (g & 0xffff) as u16;
        }
        let cfg = StationConfig {
            interface: options.interface,
            workers: options.workers.unwrap_or(1).max(1) as usize,
            capture,
            pipeline: pipeline_config(options.pipeline.as_ref())?,
            ring,
            pfring_cluster: options.pfring_cluster.unwrap_or(99),
            takeover: options.takeover.unwrap_or(true),
        };
        Ok(NativeStation { cfg, keys, station: None })
    }

    /// Opens the captures and starts the workers; `onTakeover(event)` runs for every verified
    /// tagged flow (with `fd` when the takeover succeeded).
    #[napi]
    pub fn start(&mut self, on_takeover: ThreadsafeFunction<TaggedFlowInfo, (), TaggedFlowInfo, Status, false>) -> Result<()> {
        if self.station.is_some() {
            return Err(js_err("ERR_STATION_STATE", "already started"));
        }
        let cb = move |ev: TakeoverEvent| {
            let mut info = tagged_info(ev.worker, &ev.tagged);
            info.error = ev.error;
            let raw = ev.fd.map(|fd| fd.into_raw_fd());
            info.fd = raw;
            if on_takeover.call(info, ThreadsafeFunctionCallMode::Blocking) != Status::Ok {
                if let Some(fd) = raw {
                    // SAFETY: the event never reached JavaScript, so we still own the descriptor.
                    unsafe { libc::close(fd) };
                }
            }
        };
        let st = Station::start(self.cfg.clone(), self.keys.clone(), Box::new(cb)).map_err(|e| js_err(e.code, e.message))?;
        self.station = Some(st);
        Ok(())
    }

    /// Stops the workers (idempotent).
    #[napi]
    pub fn stop(&mut self) {
        if let Some(mut s) = self.station.take() {
            s.stop();
        }
    }

    /// Replaces the station keys: new flows are checked with them (each worker switches within a
    /// poll interval), flows already taken over are not affected. Before `start`, the keys the
    /// station will start with. Returns the key generation (0 before start).
    #[napi]
    pub fn set_keys(&mut self, keys: Vec<Buffer>) -> Result<f64> {
        let keys = keys_from(&keys)?;
        self.keys = keys.clone();
        Ok(self.station.as_ref().map_or(0, |s| s.set_keys(keys)) as f64)
    }

    /// Counters per worker.
    #[napi]
    pub fn counters(&self) -> Vec<HashMap<String, f64>> {
        self.station.as_ref().map(|s| s.counters().iter().map(counters_obj).collect()).unwrap_or_default()
    }

    /// Sends the spoofed RST(s) to the decoy of a taken-over flow; returns how many were sent.
    #[napi]
    pub fn send_decoy_rst(&self, flow_id: String) -> Result<u32> {
        let st = self.station.as_ref().ok_or_else(|| js_err("ERR_STATION_STATE", "not started"))?;
        let (w, id) = flow_id.split_once(':').ok_or_else(|| js_err("ERR_STATION_FLOW", "bad flow id"))?;
        let w: usize = w.parse().map_err(|_| js_err("ERR_STATION_FLOW", "bad flow id"))?;
        let id: u64 = id.parse().map_err(|_| js_err("ERR_STATION_FLOW", "bad flow id"))?;
        st.send_decoy_rst(w, FlowId(id)).map(|n| n as u32).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound { js_err("ERR_STATION_FLOW", "flow not tracked") } else { js_err("ERR_STATION_RST", e) }
        })
    }
}
